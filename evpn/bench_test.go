package evpn

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// countingSwitch accepts everything and keeps only counts, so that
// benchmarks measure evpn/ and not a switch model.
type countingSwitch struct {
	batches, updates atomic.Int64
}

func (s *countingSwitch) Write(_ context.Context, u []asic.Update) error {
	s.batches.Add(1)
	s.updates.Add(int64(len(u)))
	return nil
}
func (s *countingSwitch) Read(context.Context) ([]asic.Entity, error) { return nil, nil }
func (s *countingSwitch) Events(context.Context) (<-chan asic.Event, error) {
	return make(chan asic.Event), nil
}
func (s *countingSwitch) Counters(context.Context) (asic.Counters, error) {
	return asic.Counters{}, nil
}
func (s *countingSwitch) Close() error { return nil }

type nullSpeaker struct{}

func (nullSpeaker) Announce(context.Context, route.Path) error { return nil }
func (nullSpeaker) Withdraw(context.Context, route.NLRI) error { return nil }

func benchPE(b *testing.B, sw asic.Switch, evis int) *PE {
	b.Helper()
	pe, err := New(Config{
		RouterID: pe1Addr, ASN: testASN, Labels: LabelRange{First: 16, Last: route.MaxLabel},
		Core: Core{Port: corePort}, Speaker: nullSpeaker{}, Switch: sw, Clock: newFakeClock(),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 1; i <= evis; i++ {
		if err := pe.AddEVI(ctx, EVIConfig{ID: uint32(i), BD: asic.BridgeDomainID(i), ACs: []ACConfig{{ID: asic.ACID(i), Port: 1, VLAN: uint16(i)}}}); err != nil {
			b.Fatal(err)
		}
	}
	return pe
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkRemoteMACInstall installs single-homed remote MACs spread over
// EVIs from three remote PEs, one HandlePath each, and reports the install
// rate and the heap evpn/ holds per MAC. The 1M case is meant for
// -benchtime=1x.
func BenchmarkRemoteMACInstall(b *testing.B) {
	for _, sz := range []struct{ macs, evis, batch int }{
		{10_000, 10, 1}, {1_000_000, 1_000, 1}, {1_000_000, 1_000, 256},
	} {
		b.Run(fmt.Sprintf("%dMACs_%dEVIs_batch%d", sz.macs, sz.evis, sz.batch), func(b *testing.B) {
			ctx := context.Background()
			remotes := []netip.Addr{pe2Addr, pe3Addr, netip.MustParseAddr("192.0.2.4")}
			var rate, perMAC float64
			for b.Loop() {
				b.StopTimer()
				before := heapInUse()
				sw := &countingSwitch{}
				pe := benchPE(b, sw, sz.evis)
				batch := make([]route.Path, 0, sz.batch)
				b.StartTimer()
				start := time.Now()
				for i := 0; i < sz.macs; i++ {
					evi := uint32(i%sz.evis) + 1
					from := remotes[i%len(remotes)]
					m := route.MAC{2, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 1}
					batch = append(batch, route.Path{
						NLRI:  route.MACIP{RD: route.AutoRD(from, uint16(evi)), MAC: m, Label1: 5000 + evi},
						Attrs: route.Attributes{NextHop: from, RouteTargets: []route.RouteTarget{route.AutoRouteTarget(testASN, evi)}},
					})
					if len(batch) < sz.batch && i < sz.macs-1 {
						continue
					}
					var err error
					if sz.batch == 1 {
						err = pe.HandlePath(ctx, batch[0])
					} else {
						err = pe.HandlePaths(ctx, batch)
					}
					if err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
				elapsed := time.Since(start)
				b.StopTimer()
				rate = float64(sz.macs) / elapsed.Seconds()
				perMAC = float64(heapInUse()-before) / float64(sz.macs)
				if got := sw.updates.Load(); got < int64(sz.macs) {
					b.Fatalf("%d switch updates for %d MACs", got, sz.macs)
				}
				runtime.KeepAlive(pe)
				_ = pe.Close()
				b.StartTimer()
			}
			b.ReportMetric(rate, "MACs/s")
			b.ReportMetric(perMAC, "heap-B/MAC")
		})
	}
}

// BenchmarkMassWithdrawal: 100k MACs behind one all-active remote segment
// of PE2 and PE3; PE3's per-ES A-D route is withdrawn (or its session
// lost). It reports the switch updates issued, which must not grow with
// the MAC count (RFC 7432 §8.2).
func BenchmarkMassWithdrawal(b *testing.B) {
	const macs = 100_000
	esi2 := route.MustESI("00:22:22:22:22:22:22:22:22:22")
	// perES-AD-withdrawal and PeerDown: both PEs advertise every host (the
	// CE hashes over both links). PeerDown-soleAdvertiser: PE3 alone
	// advertised them, so its session loss withdraws their only routes and
	// each FDB entry must go (after the group update that fails traffic
	// over): that cost is per MAC by nature. RR-withdrawals-soleAdvertiser
	// is the same failure as seen through a route reflector: PE3's per-ES
	// A-D route and then each of its MAC routes withdrawn, in one
	// HandleUpdates burst. switch-writes counts the Write calls.
	for _, mode := range []string{"perES-AD-withdrawal", "PeerDown", "PeerDown-soleAdvertiser", "RR-withdrawals-soleAdvertiser"} {
		b.Run(mode+"_100kMACs", func(b *testing.B) {
			ctx := context.Background()
			var ops, writes int64
			for b.Loop() {
				b.StopTimer()
				sw := &countingSwitch{}
				pe := benchPE(b, sw, 10)
				rt := func(evi uint32) []route.RouteTarget { return []route.RouteTarget{route.AutoRouteTarget(testASN, evi)} }
				for _, from := range []netip.Addr{pe2Addr, pe3Addr} {
					must(b, pe.HandlePath(ctx, route.Path{
						NLRI:  route.EthernetAD{RD: route.AutoRD(from, 0), ESI: esi2, EthernetTag: route.MaxEthernetTag},
						Attrs: route.Attributes{NextHop: from, RouteTargets: rt(1), ESILabel: &route.ESILabel{Label: 9}},
					}))
					for evi := uint32(1); evi <= 10; evi++ {
						must(b, pe.HandlePath(ctx, route.Path{
							NLRI:  route.EthernetAD{RD: route.AutoRD(from, uint16(evi)), ESI: esi2, Label: 5000 + evi},
							Attrs: route.Attributes{NextHop: from, RouteTargets: rt(evi)},
						}))
					}
				}
				for i := 0; i < macs; i++ {
					evi := uint32(i%10) + 1
					m := route.MAC{2, 0, byte(i >> 16), byte(i >> 8), byte(i), 2}
					advertisers := []netip.Addr{pe2Addr, pe3Addr}
					if strings.HasSuffix(mode, "soleAdvertiser") {
						advertisers = advertisers[1:]
					}
					for _, from := range advertisers {
						must(b, pe.HandlePath(ctx, route.Path{
							NLRI:  route.MACIP{RD: route.AutoRD(from, uint16(evi)), ESI: esi2, MAC: m, Label1: 5000 + evi},
							Attrs: route.Attributes{NextHop: from, RouteTargets: rt(evi)},
						}))
					}
				}
				perES := route.EthernetAD{RD: route.AutoRD(pe3Addr, 0), ESI: esi2, EthernetTag: route.MaxEthernetTag}
				var burst []Update
				if mode == "RR-withdrawals-soleAdvertiser" {
					burst = append(burst, Update{Withdrawn: perES})
					for i := 0; i < macs; i++ {
						evi := uint32(i%10) + 1
						m := route.MAC{2, 0, byte(i >> 16), byte(i >> 8), byte(i), 2}
						burst = append(burst, Update{Withdrawn: route.MACIP{RD: route.AutoRD(pe3Addr, uint16(evi)), ESI: esi2, MAC: m}})
					}
				}
				before, beforeWrites := sw.updates.Load(), sw.batches.Load()
				b.StartTimer()
				switch mode {
				case "perES-AD-withdrawal":
					must(b, pe.HandleWithdraw(ctx, perES))
				case "RR-withdrawals-soleAdvertiser":
					must(b, pe.HandleUpdates(ctx, burst))
				default:
					must(b, pe.PeerDown(ctx, pe3Addr))
				}
				b.StopTimer()
				ops = sw.updates.Load() - before
				writes = sw.batches.Load() - beforeWrites
				_ = pe.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(ops), "switch-updates")
			b.ReportMetric(float64(writes), "switch-writes")
		})
	}
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
