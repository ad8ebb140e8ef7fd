package evpn

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/asic/memswitch"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// TestAdoptAdvertisesBeforeBGP restarts PE1 over a switch holding two MACs
// it learned, mac1 on AC 1 (segment esi1) and mac2 on AC 2 (single-homed).
// Configuring the EVI alone, before any route arrives (the daemon starts
// its BGP sessions only then), advertises both again, with sequence 0 and
// mac1's ESI, and writes nothing to the switch. Then the routes arrive and
// the first Reconcile settles each adopted MAC.
func TestAdoptAdvertisesBeforeBGP(t *testing.T) {
	pe3Seg := route.MustESI("00:22:22:22:22:22:22:22:22:22")
	common := []route.Path{
		perESPathFor(pe2Addr, esi1, 5001, false), perEVIPathFor(pe2Addr, esi1, 3001), esPathFor(pe2Addr, esi1, nil),
		imetPathFor(pe2Addr, 3002), imetPathFor(pe3Addr, 4002),
		perESPathFor(pe3Addr, pe3Seg, 6001, false), perEVIPathFor(pe3Addr, pe3Seg, 4001),
	}
	type want struct {
		// advertised: the MACs PE1 advertises after Reconcile.
		advertised []route.MAC
		// fdb: mac2's FDB entry after Reconcile ("" for none).
		fdb2 string
		// writes: the updates Reconcile writes.
		writes int
		moves  uint64
	}
	tests := []struct {
		desc string
		// routes arrive after the EVI is configured.
		routes []route.Path
		// meanwhile runs between configuring and Reconcile.
		meanwhile func(t *testing.T, sw *memswitch.Switch)
		want      want
	}{
		{desc: "nothing moved", want: want{advertised: []route.MAC{mac1, mac2}, fdb2: "ac 2"}},
		{
			desc:   "mac2 moved to PE3, which advertises sequence 1",
			routes: []route.Path{macPath(pe3Addr, mac2, route.ESI{}, 4001, 1, false)},
			want:   want{advertised: []route.MAC{mac1}, fdb2: "pe 192.0.2.3 label 4001", writes: 1, moves: 1},
		},
		{
			// PE3 learned mac2 after the helpers had dropped PE1's
			// routes; PE1's address is the lower, so without the
			// adoption rule its sequence 0 would win the tie.
			desc:   "mac2 moved to PE3, which advertises sequence 0",
			routes: []route.Path{macPath(pe3Addr, mac2, route.ESI{}, 4001, 0, false)},
			want:   want{advertised: []route.MAC{mac1}, fdb2: "pe 192.0.2.3 label 4001", writes: 1, moves: 1},
		},
		{
			desc:   "mac2 moved behind PE3's segment",
			routes: []route.Path{macPath(pe3Addr, mac2, pe3Seg, 4001, 1, false)},
			// The aliasing group of PE3's segment is new.
			want: want{advertised: []route.MAC{mac1}, fdb2: "group", writes: 2, moves: 1},
		},
		{
			desc: "mac2 went idle in the switch before Reconcile",
			meanwhile: func(t *testing.T, sw *memswitch.Switch) {
				if err := sw.Write(context.Background(), []asic.Update{asic.Delete(asic.FDBEntry{BD: 10, MAC: mac2})}); err != nil {
					t.Fatal(err)
				}
				sw.TakeLog()
			},
			want: want{advertised: []route.MAC{mac1}},
		},
		{
			// The multihoming peer advertises mac1 on the shared segment:
			// the switch's entry may forward the peer's MAC on PE1's own
			// link, so PE1 leaves it to the peer's route: mac1's entry
			// stays; the segment's aliasing group, which the remote MAC
			// binds, is new.
			desc:   "PE2 advertises mac1 on the shared segment",
			routes: []route.Path{macPath(pe2Addr, mac1, esi1, 3001, 0, false)},
			want:   want{advertised: []route.MAC{mac2}, fdb2: "ac 2", writes: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			sw := memswitch.New()
			newPE := func(h *harness) *PE {
				pe, err := New(Config{RouterID: pe1Addr, ASN: testASN, Labels: LabelRange{First: 1000, Last: 1999},
					Core: Core{Port: corePort}, Speaker: h.sp, Switch: sw, Clock: h.clock})
				if err != nil {
					t.Fatal(err)
				}
				return pe
			}
			first := &harness{t: t, sw: sw, sp: newSpeaker(), clock: newFakeClock(), ctx: context.Background()}
			first.pe = newPE(first)
			first.multiHomed(SegmentConfig{})
			for _, p := range common {
				first.path(p)
			}
			first.clock.Advance(3 * time.Second)
			first.learn(mac1, 1)
			first.learn(mac2, 2)
			_ = first.pe.Close()
			sw.TakeLog()

			h := &harness{t: t, sw: sw, sp: newSpeaker(), clock: newFakeClock(), ctx: context.Background()}
			h.pe = newPE(h)
			defer h.pe.Close()
			h.must(h.pe.Adopt(h.ctx))
			sw.TakeLog() // New's identical core port write
			events, err := h.pe.Subscribe(h.ctx, 64)
			if err != nil {
				t.Fatal(err)
			}
			h.multiHomed(SegmentConfig{})
			var early []string
			for _, p := range h.sp.routes(route.TypeMACIP) {
				early = append(early, p.NLRI.String())
				if p.Attrs.MACMobility != nil {
					t.Errorf("adopted %s advertised with %+v, want no MAC Mobility (sequence 0)", p.NLRI, *p.Attrs.MACMobility)
				}
			}
			wantEarly := []string{
				route.MACIP{RD: route.AutoRD(pe1Addr, 10), MAC: mac2, Label1: 1001}.String(),
				route.MACIP{RD: route.AutoRD(pe1Addr, 10), ESI: esi1, MAC: mac1, Label1: 1001}.String(),
			}
			if diff := cmp.Diff(wantEarly, early); diff != "" {
				t.Errorf("MAC routes before any BGP route arrived (-want +got):\n%s", diff)
			}
			if log := sw.TakeLog(); len(log) != 0 {
				t.Errorf("configuring the restarted PE wrote %v, want nothing before Reconcile", log)
			}
			for _, p := range append(append([]route.Path(nil), common...), tc.routes...) {
				h.path(p)
			}
			h.clock.Advance(3 * time.Second)
			if tc.meanwhile != nil {
				tc.meanwhile(t, sw)
			}
			n, err := h.pe.Reconcile(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			var adv []route.MAC
			for _, p := range h.sp.routes(route.TypeMACIP) {
				adv = append(adv, p.NLRI.(route.MACIP).MAC)
			}
			slices.SortFunc(adv, func(a, b route.MAC) int { return bytes.Compare(a[:], b[:]) })
			fdb2 := ""
			if f, ok := h.fdb(mac2); ok {
				switch f.Dest.Kind {
				case asic.ToAC:
					fdb2 = "ac 2"
				case asic.ToAliasingGroup:
					fdb2 = "group"
				default:
					fdb2 = forwardingOf(t, sw, f)
				}
			}
			if f, ok := h.fdb(mac1); !ok || f.Dest != (asic.Destination{Kind: asic.ToAC, AC: 1}) {
				t.Errorf("mac1's FDB entry = %+v, %v; want AC 1", f, ok)
			}
			c := h.pe.Counters()
			gotWant := want{advertised: adv, fdb2: fdb2, writes: n, moves: c.MACMoves}
			if diff := cmp.Diff(tc.want, gotWant, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("after Reconcile (-want +got):\n%s", diff)
			}
			for drained := false; !drained; {
				select {
				case ev := <-events:
					if ev.Kind == EventMACRemoved && ev.MAC == mac1 {
						t.Errorf("mac1, which stayed, was removed: %+v", ev)
					}
				default:
					drained = true
				}
			}
		})
	}
}

// forwardingOf names a remote FDB destination as forwarding does.
func forwardingOf(t *testing.T, sw *memswitch.Switch, f asic.FDBEntry) string {
	t.Helper()
	for _, e := range sw.Entities(asic.KindRemotePE) {
		if r := e.(asic.RemotePE); r.ID == f.Dest.PE {
			return fmt.Sprintf("pe %s label %d", r.Address, f.Dest.Label)
		}
	}
	return "unknown pe"
}

// TestAdoptSwitchAgeing: when the switch ages the MACs, the entries the
// previous run wrote for its own learned MACs carry the idle timeout, and
// only those are adopted. mac3's entry, without one, forwarded a MAC that
// the multihoming peer PE2 advertises on the shared segment over PE1's own
// link: it is left to PE2's route, which installs the same entry, so the
// first Reconcile writes nothing.
func TestAdoptSwitchAgeing(t *testing.T) {
	mac3 := route.MustMAC("02:00:00:00:00:03")
	routes := []route.Path{
		perESPathFor(pe2Addr, esi1, 5001, false), perEVIPathFor(pe2Addr, esi1, 3001), esPathFor(pe2Addr, esi1, nil),
		imetPathFor(pe2Addr, 3002), macPath(pe2Addr, mac3, esi1, 3001, 0, false),
	}
	sw := memswitch.New()
	run := func(adopt bool) *harness {
		h := &harness{t: t, sw: sw, sp: newSpeaker(), clock: newFakeClock(), ctx: context.Background()}
		pe, err := New(Config{RouterID: pe1Addr, ASN: testASN, Labels: LabelRange{First: 1000, Last: 1999},
			Core: Core{Port: corePort}, Speaker: h.sp, Switch: sw, Clock: h.clock, SwitchAgeing: true, MACAgeing: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		h.pe = pe
		if adopt {
			h.must(pe.Adopt(h.ctx))
		}
		h.multiHomed(SegmentConfig{})
		return h
	}
	first := run(false)
	for _, p := range routes {
		first.path(p)
	}
	first.clock.Advance(3 * time.Second)
	first.learn(mac1, 2)
	_ = first.pe.Close()
	for _, m := range []route.MAC{mac1, mac3} {
		if f, ok := first.fdb(m); !ok || (f.IdleTimeout != 0) != (m == mac1) {
			t.Fatalf("the first run's entry for %s = %+v, %v; want one, with an idle timeout only for the learned MAC", m, f, ok)
		}
	}
	sw.TakeLog()

	h := run(true)
	defer h.pe.Close()
	var adv []string
	for _, p := range h.sp.routes(route.TypeMACIP) {
		adv = append(adv, p.NLRI.(route.MACIP).MAC.String())
	}
	if diff := cmp.Diff([]string{mac1.String()}, adv); diff != "" {
		t.Errorf("MAC routes before any BGP route arrived (-want +got):\n%s", diff)
	}
	for _, p := range routes {
		h.path(p)
	}
	h.clock.Advance(3 * time.Second)
	if n, err := h.pe.Reconcile(h.ctx); err != nil || n != 0 {
		t.Errorf("Reconcile after the restart: %d updates (%v), err %v; want 0", n, sw.TakeLog(), err)
	}
	tbl, err := h.pe.MACTable(10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[route.MAC]MACSource{}
	for _, m := range tbl {
		got[m.MAC] = m.Source
	}
	if diff := cmp.Diff(map[route.MAC]MACSource{mac1: SourceLocal, mac3: SourceRemote}, got); diff != "" {
		t.Errorf("MAC table after the restart (-want +got):\n%s", diff)
	}
}
