package p4evpn

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/asic/memswitch"
	"github.com/p4evpn/p4evpn/bgp"
	"github.com/p4evpn/p4evpn/config"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// nopSpeaker takes the routes a PE originates and drops them: the tests
// below look at what reaches the switch.
type nopSpeaker struct{}

func (nopSpeaker) Announce(context.Context, route.Path) error { return nil }
func (nopSpeaker) Withdraw(context.Context, route.NLRI) error { return nil }

// TestFeedBGPBatches feeds the daemon's BGP loop an already queued burst
// of speaker events and checks the switch Writes and the outcome: queued
// path changes are one Write (at most maxBatch a Write), and session
// events keep their place in the order.
func TestFeedBGPBatches(t *testing.T) {
	pe2 := netip.MustParseAddr("192.0.2.2")
	const evi = 10
	rt := []route.RouteTarget{route.AutoRouteTarget(65000, evi)}
	host := func(i int) route.MAC { return route.MAC{2, 2, 0, byte(i >> 8), byte(i), 1} }
	macRoute := func(i int) route.MACIP {
		return route.MACIP{RD: route.AutoRD(pe2, evi), MAC: host(i), Label1: 3001}
	}
	add := func(i int) bgp.Event {
		return bgp.Event{Kind: bgp.PathAdd, Peer: pe2, Path: route.Path{NLRI: macRoute(i), Attrs: route.Attributes{NextHop: pe2, RouteTargets: rt}}}
	}
	withdraw := func(i int) bgp.Event {
		return bgp.Event{Kind: bgp.PathWithdraw, Peer: pe2, Path: route.Path{NLRI: macRoute(i)}}
	}
	adds := func(from, to int) []bgp.Event {
		var out []bgp.Event
		for i := from; i < to; i++ {
			out = append(out, add(i))
		}
		return out
	}
	withdrawals := func(from, to int) []bgp.Event {
		var out []bgp.Event
		for i := from; i < to; i++ {
			out = append(out, withdraw(i))
		}
		return out
	}
	peerDown := bgp.Event{Kind: bgp.PeerDown, Peer: pe2, Reason: "test"}
	tests := []struct {
		desc       string
		installed  []bgp.Event // handed over first, one event at a time
		burst      []bgp.Event // queued, then fed in one go
		wantWrites int
		wantHosts  int // hosts 0..wantHosts-1 in the FDB, no others
	}{
		{desc: "withdrawals of 300 hosts", installed: adds(0, 300), burst: withdrawals(0, 300), wantWrites: 1},
		{desc: "withdrawals of 2500 hosts go maxBatch at a time", installed: adds(0, 2500), burst: withdrawals(0, 2500), wantWrites: 3},
		{desc: "adds and withdrawals in order", installed: adds(0, 10),
			burst:      append(append(withdrawals(0, 10), adds(0, 5)...), append(withdrawals(3, 5), add(3))...),
			wantWrites: 1, wantHosts: 4},
		// A PeerDown after queued adds removes them: it is not handled
		// before the burst ahead of it. The adds after it stand.
		{desc: "PeerDown after queued adds", burst: append(append(adds(0, 20), peerDown), adds(0, 3)...),
			wantWrites: 3, wantHosts: 3},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ctx := context.Background()
			sw := memswitch.New()
			pe, err := evpn.New(evpn.Config{
				RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65000, Labels: evpn.LabelRange{First: 1000, Last: 1999},
				Core:    evpn.Core{Port: 100, SourceMAC: route.MustMAC("02:ff:00:00:00:aa"), NextHopMAC: route.MustMAC("02:ff:00:00:00:01")},
				Speaker: nopSpeaker{}, Switch: sw,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = pe.Close() })
			if err := pe.AddEVI(ctx, evpn.EVIConfig{ID: evi, BD: evi, ACs: []evpn.ACConfig{{ID: 1, Port: 1, VLAN: evi}}}); err != nil {
				t.Fatal(err)
			}
			d := &Daemon{cfg: &config.Config{}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), pe: pe, kick: make(chan struct{}, 1)}
			feed := func(evs []bgp.Event) {
				ch := make(chan bgp.Event, len(evs))
				for _, ev := range evs {
					ch <- ev
				}
				close(ch)
				d.feedBGP(ctx, ch)
			}
			for _, ev := range tc.installed {
				feed([]bgp.Event{ev})
			}
			before, _ := sw.Stats()
			feed(tc.burst)
			if after, _ := sw.Stats(); after-before != tc.wantWrites {
				t.Errorf("the burst of %d events cost %d switch Writes, want %d", len(tc.burst), after-before, tc.wantWrites)
			}
			fdb := sw.Entities(asic.KindFDBEntry)
			if len(fdb) != tc.wantHosts {
				t.Errorf("FDB holds %d entries after the burst, want %d", len(fdb), tc.wantHosts)
			}
			for i := range tc.wantHosts {
				if _, ok := sw.Get(asic.FDBEntry{BD: evi, MAC: host(i)}.Key()); !ok {
					t.Errorf("host %s missing from the FDB after the burst", host(i))
				}
			}
		})
	}
}
