package evpn

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/asic/memswitch"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// fabric wires PEs together with an in-process route exchange: what one PE
// announces is queued and, on settle, delivered to every other PE, as a
// full mesh or a route reflector would.
type fabric struct {
	t     *testing.T
	clock *fakeClock
	pes   map[netip.Addr]*harness
	order []netip.Addr
	mu    sync.Mutex
	queue []delivery
	down  map[netip.Addr]bool
}

type delivery struct {
	from     netip.Addr
	announce bool
	p        route.Path
}

func newFabric(t *testing.T, addrs ...netip.Addr) *fabric {
	f := &fabric{t: t, clock: newFakeClock(), pes: make(map[netip.Addr]*harness), down: make(map[netip.Addr]bool)}
	for _, a := range addrs {
		h := &harness{t: t, sw: memswitch.New(), sp: newSpeaker(), clock: f.clock, ctx: context.Background()}
		from := a
		h.sp.deliver = func(announce bool, p route.Path) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.queue = append(f.queue, delivery{from: from, announce: announce, p: p})
		}
		pe, err := New(Config{
			RouterID: a, ASN: testASN, Labels: LabelRange{First: 1000 * uint32(a.As4()[3]), Last: 1000*uint32(a.As4()[3]) + 999},
			Core:    Core{Port: corePort, NextHopMAC: route.MustMAC("02:ff:00:00:00:01")},
			Speaker: h.sp, Switch: h.sw, Clock: f.clock,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if c := pe.Counters(); c.SwitchWriteErrors != 0 {
				t.Errorf("%v wrote %d batches the switch refused", a, c.SwitchWriteErrors)
			}
			_ = pe.Close()
		})
		h.pe = pe
		f.pes[a] = h
		f.order = append(f.order, a)
	}
	return f
}

// settle delivers queued routes until none are left.
func (f *fabric) settle() {
	f.t.Helper()
	for {
		f.mu.Lock()
		if len(f.queue) == 0 {
			f.mu.Unlock()
			return
		}
		d := f.queue[0]
		f.queue = f.queue[1:]
		f.mu.Unlock()
		if f.down[d.from] {
			continue
		}
		for _, a := range f.order {
			if a == d.from || f.down[a] {
				continue
			}
			h := f.pes[a]
			var err error
			if d.announce {
				err = h.pe.HandlePath(h.ctx, d.p)
			} else {
				err = h.pe.HandleWithdraw(h.ctx, d.p.NLRI)
			}
			if err != nil {
				f.t.Fatalf("deliver %s from %v to %v: %v", d.p.NLRI, d.from, a, err)
			}
		}
	}
}

func (f *fabric) advance(d time.Duration) {
	f.clock.Advance(d)
	f.settle()
}

// group resolves the aliasing group an FDB entry on h points at to the
// members' addresses.
func (h *harness) group(t *testing.T, mac route.MAC, bd asic.BridgeDomainID) []netip.Addr {
	t.Helper()
	e, ok := h.sw.Get(asic.FDBEntry{BD: bd, MAC: mac}.Key())
	if !ok || e.(asic.FDBEntry).Dest.Kind != asic.ToAliasingGroup {
		t.Fatalf("FDB %v for %s, want an aliasing group", e, mac)
	}
	g, _ := h.sw.Get(asic.AliasingGroup{ID: e.(asic.FDBEntry).Dest.Group}.Key())
	var out []netip.Addr
	for _, id := range g.(asic.AliasingGroup).Members {
		r, _ := h.sw.Get(asic.RemotePE{ID: id}.Key())
		out = append(out, r.(asic.RemotePE).Address)
	}
	return out
}

func (h *harness) dfFor(bd asic.BridgeDomainID) bool {
	h.t.Helper()
	segs := h.sw.Entities(asic.KindSegment)
	e, ok := h.sw.Get(asic.DFState{Segment: segs[0].(asic.Segment).ID, BD: bd}.Key())
	if !ok {
		h.t.Fatalf("no DF state for bd %d", bd)
	}
	return e.(asic.DFState).DF
}

// TestThreePEMultihoming: PE1 and PE2 share all-active segment esi1 for
// EVIs 10 and 11; PE3 is remote. It checks DF carving, aliasing, split
// horizon labels, MAC sync, mass withdrawal and recovery.
func TestThreePEMultihoming(t *testing.T) {
	f := newFabric(t, pe1Addr, pe2Addr, pe3Addr)
	ctx := context.Background()
	for _, a := range []netip.Addr{pe1Addr, pe2Addr} {
		h := f.pes[a]
		h.must(h.pe.AddSegment(ctx, SegmentConfig{ESI: esi1}))
		for _, v := range []uint32{10, 11} {
			h.must(h.pe.AddEVI(ctx, EVIConfig{ID: v, BD: asic.BridgeDomainID(v), ACs: []ACConfig{{ID: asic.ACID(v), Port: 1, VLAN: uint16(v), ESI: esi1}}}))
		}
	}
	pe3 := f.pes[pe3Addr]
	for _, v := range []uint32{10, 11} {
		pe3.must(pe3.pe.AddEVI(ctx, EVIConfig{ID: v, BD: asic.BridgeDomainID(v), ACs: []ACConfig{{ID: asic.ACID(v), Port: 1, VLAN: uint16(v)}}}))
	}
	f.settle()
	f.advance(3 * time.Second)
	pe1, pe2 := f.pes[pe1Addr], f.pes[pe2Addr]

	t.Run("RFC 7432 §8.5 DF per VLAN", func(t *testing.T) {
		got := []bool{pe1.dfFor(10), pe1.dfFor(11), pe2.dfFor(10), pe2.dfFor(11)}
		if want := []bool{true, false, false, true}; !slices.Equal(got, want) {
			t.Errorf("DF pe1(10,11) pe2(10,11) = %v, want %v", got, want)
		}
	})
	t.Run("RFC 7432 §8.3.1 split horizon labels", func(t *testing.T) {
		for _, x := range []struct{ h, peer *harness }{{pe1, pe2}, {pe2, pe1}} {
			sp := x.h.sw.Entities(asic.KindSegmentPeer)
			want := x.peer.pe.Segments()[0].ESILabel
			if len(sp) != 1 || sp[0].(asic.SegmentPeer).ESILabel != want {
				t.Errorf("%v segment peers %v, want the peer's ESI label %d", x.h.pe.cfg.RouterID, sp, want)
			}
		}
	})
	t.Run("RFC 7432 §11 flood lists", func(t *testing.T) {
		fl, _ := pe3.sw.Get(asic.FloodGroup{BD: 10}.Key())
		if n := len(fl.(asic.FloodGroup).Members); n != 3 {
			t.Errorf("PE3 flood list %v, want its AC and two PEs", fl)
		}
	})

	// The CE hashes its flows over both links: both PEs learn its hosts.
	const hosts = 100
	for i := range hosts {
		pe1.must(pe1.pe.HandleSwitchEvent(ctx, asic.Event{Kind: asic.EventLearn, BD: 10, MAC: route.MAC{2, 0, 0, 0, 9, byte(i)}, AC: 10}))
	}
	f.settle()
	t.Run("RFC 7432 §14.1 PE2 forwards PE1's hosts on its own link", func(t *testing.T) {
		e, _ := pe2.sw.Get(asic.FDBEntry{BD: 10, MAC: route.MAC{2, 0, 0, 0, 9, 5}}.Key())
		if e == nil || e.(asic.FDBEntry).Dest != (asic.Destination{Kind: asic.ToAC, AC: 10}) {
			t.Errorf("PE2 FDB %+v, want its own AC on the shared segment", e)
		}
	})
	for i := range hosts {
		pe2.must(pe2.pe.HandleSwitchEvent(ctx, asic.Event{Kind: asic.EventLearn, BD: 10, MAC: route.MAC{2, 0, 0, 0, 9, byte(i)}, AC: 10}))
	}
	f.settle()
	if c := pe2.pe.Counters(); c.MACMoves != 0 {
		t.Errorf("PE2 counted %d moves for hosts on the shared segment, want 0", c.MACMoves)
	}
	host := route.MAC{2, 0, 0, 0, 9, 0}
	t.Run("RFC 7432 §8.4 aliasing at PE3, sync at PE2", func(t *testing.T) {
		if diff := cmp.Diff([]netip.Addr{pe1Addr, pe2Addr}, pe3.group(t, host, 10), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("PE3 group (-want +got):\n%s", diff)
		}
		e, _ := pe2.sw.Get(asic.FDBEntry{BD: 10, MAC: host}.Key())
		if e.(asic.FDBEntry).Dest != (asic.Destination{Kind: asic.ToAC, AC: 10}) {
			t.Errorf("PE2 FDB %+v, want its own AC on the shared segment", e)
		}
	})
	t.Run("RFC 7432 §8.2 mass withdrawal: PE1's segment fails", func(t *testing.T) {
		pe3.sw.TakeLog()
		pe1.must(pe1.pe.SetSegmentUp(ctx, esi1, false))
		f.settle()
		log := pe3.sw.TakeLog()
		if len(log) == 0 || log[0].Entity.Key().Kind != asic.KindAliasingGroup {
			t.Fatalf("PE3's first update %v, want the aliasing group", log)
		}
		// Per-ES A-D, per-EVI A-D ×2 and 100 RT-2 withdrawals: PE2
		// still advertises the hosts and the FDB keeps pointing at the
		// group, so only the group and PE1's service labels change.
		t.Logf("PE3 updates for the mass withdrawal of %d MACs: %v", hosts, log)
		if len(log) > 3 {
			t.Errorf("PE3 wrote %d updates for the mass withdrawal of %d MACs, want at most 3: %v", len(log), hosts, log)
		}
		if got := pe3.group(t, route.MAC{2, 0, 0, 0, 9, 1}, 10); len(got) != 1 || got[0] != pe2Addr {
			t.Errorf("PE3 group after failure %v, want [%v]", got, pe2Addr)
		}
		if !pe2.dfFor(10) || !pe2.dfFor(11) {
			t.Error("PE2 not DF for both VLANs after PE1's segment failed")
		}
	})
	t.Run("recovery after the election timer (revertive)", func(t *testing.T) {
		pe1.must(pe1.pe.SetSegmentUp(ctx, esi1, true))
		f.settle()
		f.advance(3 * time.Second)
		got := []bool{pe1.dfFor(10), pe1.dfFor(11), pe2.dfFor(10), pe2.dfFor(11)}
		if want := []bool{true, false, false, true}; !slices.Equal(got, want) {
			t.Errorf("DF after recovery %v, want %v", got, want)
		}
	})
	t.Run("PeerDown of PE2 at PE3", func(t *testing.T) {
		pe1.must(pe1.pe.HandleSwitchEvent(ctx, asic.Event{Kind: asic.EventLearn, BD: 10, MAC: host, AC: 10}))
		f.settle()
		pe3.sw.TakeLog()
		pe3.must(pe3.pe.PeerDown(ctx, pe2Addr))
		log := pe3.sw.TakeLog()
		if len(log) == 0 || log[0].Entity.Key().Kind != asic.KindAliasingGroup {
			t.Fatalf("first update %v, want the aliasing group", log)
		}
		if got := pe3.group(t, host, 10); len(got) != 1 || got[0] != pe1Addr {
			t.Errorf("group after PE2 down %v, want [%v]", got, pe1Addr)
		}
	})
	for _, a := range f.order {
		if n, err := f.pes[a].pe.Reconcile(ctx); err != nil || n != 0 {
			t.Errorf("%v: Reconcile after the scenario wrote %d updates (%v), want 0: incremental and snapshot state differ", a, n, err)
		}
	}
}

// TestNonRevertive_RFC9785_4_2: PE1 (preference 200) is DF; it fails and
// PE2 (100) takes over; when PE1 returns it does not preempt PE2.
func TestNonRevertive_RFC9785_4_2(t *testing.T) {
	f := newFabric(t, pe1Addr, pe2Addr)
	ctx := context.Background()
	for a, pref := range map[netip.Addr]uint16{pe1Addr: 200, pe2Addr: 100} {
		h := f.pes[a]
		h.must(h.pe.AddSegment(ctx, SegmentConfig{ESI: esi1, DF: DFConfig{Algorithm: route.DFPreference, Preference: pref, NonRevertive: true}}))
		h.must(h.pe.AddEVI(ctx, EVIConfig{ID: 10, BD: 10, ACs: []ACConfig{{ID: 1, Port: 1, ESI: esi1}}}))
	}
	f.settle()
	f.advance(3 * time.Second)
	pe1, pe2 := f.pes[pe1Addr], f.pes[pe2Addr]
	if !pe1.dfFor(10) || pe2.dfFor(10) {
		t.Fatalf("DF pe1=%v pe2=%v, want PE1 (higher preference)", pe1.dfFor(10), pe2.dfFor(10))
	}
	pe1.must(pe1.pe.SetSegmentUp(ctx, esi1, false))
	f.settle()
	f.advance(3 * time.Second)
	if !pe2.dfFor(10) {
		t.Fatal("PE2 not DF after PE1 failed")
	}
	if s := pe2.pe.Segments()[0]; !s.DontPreempt {
		t.Errorf("PE2 as non-revertive DF advertises %+v, want the Don't Preempt bit", s)
	}
	pe1.must(pe1.pe.SetSegmentUp(ctx, esi1, true))
	f.settle()
	f.advance(3 * time.Second)
	f.advance(3 * time.Second)
	if pe1.dfFor(10) || !pe2.dfFor(10) {
		t.Errorf("after PE1 returned: DF pe1=%v pe2=%v, want PE2 kept (non-revertive)", pe1.dfFor(10), pe2.dfFor(10))
	}
	if s := pe1.pe.Segments()[0]; s.Preference != 100 || s.DontPreempt {
		t.Errorf("returning PE1 advertises preference %d DP %v, want 100 without the bit", s.Preference, s.DontPreempt)
	}
}
