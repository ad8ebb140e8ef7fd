package evpn

import (
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

// TestRestart: the daemon restarts while the switch keeps forwarding. The
// new PE adopts the switch's ids and labels, hears the same routes in
// another order, and once they are in, Reconcile writes nothing: no entry
// is rewritten under traffic (DESIGN: "Restart"). The MAC learned before
// the restart is adopted and advertised again; one that moved away while
// the PE was down is not.
func TestRestart(t *testing.T) {
	sw := memswitch.New()
	routes := []route.Path{
		perESPathFor(pe2Addr, esi1, 5001, false), perEVIPathFor(pe2Addr, esi1, 3001), esPathFor(pe2Addr, esi1, nil),
		perESPathFor(pe3Addr, route.MustESI("00:22:22:22:22:22:22:22:22:22"), 6001, false),
		perESPathFor(pe2Addr, route.MustESI("00:22:22:22:22:22:22:22:22:22"), 5002, false),
		perEVIPathFor(pe3Addr, route.MustESI("00:22:22:22:22:22:22:22:22:22"), 4001),
		perEVIPathFor(pe2Addr, route.MustESI("00:22:22:22:22:22:22:22:22:22"), 3001),
		imetPathFor(pe2Addr, 3002), imetPathFor(pe3Addr, 4002),
		macPath(pe3Addr, route.MustMAC("02:00:00:00:00:03"), route.MustESI("00:22:22:22:22:22:22:22:22:22"), 4001, 0, false),
		macPath(pe3Addr, route.MustMAC("02:00:00:00:00:04"), route.ESI{}, 4001, 0, false),
	}
	var b0, u0 int
	start := func(order []route.Path, adopt bool) *harness {
		h := &harness{t: t, sw: sw, sp: newSpeaker(), clock: newFakeClock(), ctx: context.Background()}
		pe, err := New(Config{RouterID: pe1Addr, ASN: testASN, Labels: LabelRange{First: 1000, Last: 1999},
			Core: Core{Port: corePort}, Speaker: h.sp, Switch: sw, Clock: h.clock})
		if err != nil {
			t.Fatal(err)
		}
		h.pe = pe
		if adopt {
			h.must(pe.Adopt(h.ctx))
			sw.TakeLog() // New's identical core port write
			b0, u0 = sw.Stats()
		}
		h.multiHomed(SegmentConfig{})
		for _, p := range order {
			h.path(p)
		}
		h.clock.Advance(3 * time.Second)
		return h
	}
	first := start(routes, false)
	first.learn(mac1, 1)
	first.learn(mac2, 2)
	before := forwarding(t, sw)
	sw.TakeLog()
	_ = first.pe.Close()

	reversed := slices.Clone(routes)
	slices.Reverse(reversed)
	// mac2 moved to PE3 while PE1 was down: PE3 advertises it with seq 1.
	reversed = append(reversed, macPath(pe3Addr, mac2, route.ESI{}, 4001, 1, false))
	second := start(reversed, true)
	defer second.pe.Close()
	if b1, u1 := sw.Stats(); b1 != b0 || u1 != u0 {
		t.Errorf("the restarted PE wrote %d batches / %d updates before Reconcile, want none", b1-b0, u1-u0)
	}
	n, err := second.pe.Reconcile(second.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if log := sw.TakeLog(); n != 1 || len(log) != 1 || log[0].Entity.Key() != (asic.FDBEntry{BD: 10, MAC: mac2}).Key() {
		t.Errorf("Reconcile after restart wrote %v, want only the moved MAC's entry", log)
	}
	if n, err := second.pe.Reconcile(second.ctx); err != nil || n != 0 {
		t.Errorf("second Reconcile: %d updates, %v; want 0", n, err)
	}
	after := forwarding(t, sw)
	want := slices.DeleteFunc(slices.Clone(before), func(s string) bool { return s == "fdb bd 10 02:00:00:00:00:02 -> ac 2 pinned false" })
	want = append(want, "fdb bd 10 02:00:00:00:00:02 -> pe 192.0.2.3 label 4001 pinned false")
	slices.Sort(want)
	if diff := cmp.Diff(want, after); diff != "" {
		t.Errorf("forwarding after restart (-before +after):\n%s", diff)
	}
	if _, ok := second.sp.macRoute(mac1); !ok {
		t.Error("adopted local MAC not advertised again")
	}
	if _, ok := second.sp.macRoute(mac2); ok {
		t.Error("a MAC that moved away while the PE was down was advertised")
	}
	tbl, _ := second.pe.MACTable(10)
	if tbl[0].MAC != mac1 || tbl[0].Source != SourceLocal || tbl[0].AC != 1 {
		t.Errorf("MAC table %+v, want %s local on AC 1 first", tbl, mac1)
	}
	if err := second.pe.Adopt(second.ctx); err == nil {
		t.Error("Adopt after configuration succeeded")
	}
	second.learn(route.MustMAC("02:00:00:00:00:09"), 2)
	if _, ok := second.fdb(route.MustMAC("02:00:00:00:00:09")); !ok {
		t.Error("after Reconcile the PE still holds its writes back")
	}
}

// TestRestartElectsDFOnTheWholeTable: a restarted PE whose peers' routes
// come late (FRR holds its first update to a new session a second or more)
// must not elect a DF on the partial candidate list when its election
// timer runs out: alone on the segment it would make itself DF for a VLAN
// its peer serves, and both would send BUM to the host. It elects at the
// first Reconcile, with every ES route in: the DF state the switch holds
// stays, and Reconcile writes nothing.
func TestRestartElectsDFOnTheWholeTable(t *testing.T) {
	sw := memswitch.New()
	// PE2 is more preferred (RFC 9785), so it is DF for the segment's VLAN.
	routes := []route.Path{
		perESPathFor(pe2Addr, esi1, 5001, false), perEVIPathFor(pe2Addr, esi1, 3001),
		esPathFor(pe2Addr, esi1, &route.DFElection{Algorithm: route.DFPreference, Preference: 200}),
		imetPathFor(pe2Addr, 3002),
	}
	seg := SegmentConfig{DF: DFConfig{Algorithm: route.DFPreference, Preference: 100}}
	dfState := func() []string {
		var out []string
		for _, e := range sw.Entities(asic.KindDFState) {
			d := e.(asic.DFState)
			out = append(out, fmt.Sprintf("bd %d df %v", d.BD, d.DF))
		}
		return out
	}
	start := func(adopt bool) *harness {
		h := &harness{t: t, sw: sw, sp: newSpeaker(), clock: newFakeClock(), ctx: context.Background()}
		pe, err := New(Config{RouterID: pe1Addr, ASN: testASN, Labels: LabelRange{First: 1000, Last: 1999},
			Core: Core{Port: corePort}, Speaker: h.sp, Switch: sw, Clock: h.clock})
		if err != nil {
			t.Fatal(err)
		}
		h.pe = pe
		if adopt {
			h.must(pe.Adopt(h.ctx))
			sw.TakeLog() // New's identical core port write
		}
		h.multiHomed(seg)
		if adopt {
			// The election timer runs out before the reflector's table.
			h.clock.Advance(3 * time.Second)
		}
		for _, p := range routes {
			h.path(p)
		}
		if !adopt {
			h.clock.Advance(3 * time.Second)
		}
		// A restarted PE reconciles at End-of-RIB, right after the table.
		return h
	}
	first := start(false)
	before := dfState()
	if diff := cmp.Diff([]string{"bd 10 df false"}, before); diff != "" {
		t.Fatalf("first run's DF state (-want +got):\n%s", diff)
	}
	_ = first.pe.Close()
	sw.TakeLog()

	second := start(true)
	defer second.pe.Close()
	n, err := second.pe.Reconcile(second.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if log := sw.TakeLog(); n != 0 || len(log) != 0 {
		t.Errorf("Reconcile after restart wrote %d updates %v, want none (the DF state unchanged)", n, log)
	}
	if diff := cmp.Diff(before, dfState()); diff != "" {
		t.Errorf("DF state after restart (-before +after):\n%s", diff)
	}
	second.clock.Advance(3 * time.Second)
	if log := sw.TakeLog(); len(log) != 0 {
		t.Errorf("after Reconcile the PE wrote %v, want nothing (no election left to run)", log)
	}
	segs := second.pe.Segments()
	if len(segs) != 1 || len(segs[0].DF) != 1 || segs[0].DF[0].DF != pe2Addr {
		t.Errorf("segments after Reconcile %+v, want PE2 elected DF", segs)
	}
}
