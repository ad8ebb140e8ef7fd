package evpn

import (
	"testing"
	"time"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// TestMACMobility_RFC7432_15 drives one MAC through a script of events on
// PE1 (192.0.2.1) and checks where it ends up and what PE1 advertises.
func TestMACMobility_RFC7432_15(t *testing.T) {
	type step struct {
		learn  asic.ACID   // local learn on this AC
		remote *route.Path // remote route
	}
	p := func(rp route.Path) *route.Path { return &rp }
	tests := []struct {
		desc       string
		steps      []step
		wantDest   asic.DestinationKind
		wantPeer   string // remote owner, when wantDest is remote
		wantAdv    bool   // PE1 advertises the MAC
		wantSeq    uint32 // sequence PE1 advertises
		wantMoves  uint64
		wantSticky uint64
		wantPinned bool
		static     bool
	}{
		{
			desc:     "§15.1 remote→local: local sequence is remote's + 1",
			steps:    []step{{remote: p(macPath(pe2Addr, mac1, route.ESI{}, 3001, 4, false))}, {learn: 1}},
			wantDest: asic.ToAC, wantAdv: true, wantSeq: 5, wantMoves: 1,
		},
		{
			desc:     "§15.1 local→remote: higher sequence wins, local route withdrawn",
			steps:    []step{{learn: 1}, {remote: p(macPath(pe2Addr, mac1, route.ESI{}, 3001, 1, false))}},
			wantDest: asic.ToRemotePE, wantPeer: "192.0.2.2", wantMoves: 1,
		},
		{
			desc:     "§15.1 local vs remote, equal sequence: lower PE address (PE1) keeps it",
			steps:    []step{{learn: 1}, {remote: p(macPath(pe2Addr, mac1, route.ESI{}, 3001, 0, false))}},
			wantDest: asic.ToAC, wantAdv: true, wantSeq: 0,
		},
		{
			desc: "§15.1 remote→remote: the higher sequence wins",
			steps: []step{
				{remote: p(macPath(pe2Addr, mac1, route.ESI{}, 3001, 1, false))},
				{remote: p(macPath(pe3Addr, mac1, route.ESI{}, 4001, 2, false))},
			},
			wantDest: asic.ToRemotePE, wantPeer: "192.0.2.3", wantMoves: 1,
		},
		{
			desc: "§15.1 remote→remote, equal sequence: lower PE address wins",
			steps: []step{
				{remote: p(macPath(pe3Addr, mac1, route.ESI{}, 4001, 2, false))},
				{remote: p(macPath(pe2Addr, mac1, route.ESI{}, 3001, 2, false))},
			},
			wantDest: asic.ToRemotePE, wantPeer: "192.0.2.2", wantMoves: 1,
		},
		{
			desc: "§15.1 remote→remote, lower sequence ignored",
			steps: []step{
				{remote: p(macPath(pe3Addr, mac1, route.ESI{}, 4001, 3, false))},
				{remote: p(macPath(pe2Addr, mac1, route.ESI{}, 3001, 2, false))},
			},
			wantDest: asic.ToRemotePE, wantPeer: "192.0.2.3",
		},
		{
			desc:     "§15.2 a sticky remote MAC never moves to a local AC",
			steps:    []step{{remote: p(macPath(pe2Addr, mac1, route.ESI{}, 3001, 0, true))}, {learn: 1}},
			wantDest: asic.ToRemotePE, wantPeer: "192.0.2.2", wantSticky: 1, wantPinned: true,
		},
		{
			desc:     "§15.2 a sticky remote route beats a higher-sequence local MAC",
			steps:    []step{{learn: 1}, {remote: p(macPath(pe2Addr, mac1, route.ESI{}, 3001, 0, true))}},
			wantDest: asic.ToRemotePE, wantPeer: "192.0.2.2", wantMoves: 1, wantPinned: true,
		},
		{
			desc:     "§15.2 a static MAC never moves, is advertised sticky",
			static:   true,
			steps:    []step{{remote: p(macPath(pe2Addr, mac1, route.ESI{}, 3001, 9, false))}, {learn: 2}},
			wantDest: asic.ToAC, wantAdv: true, wantSeq: 0, wantSticky: 1, wantPinned: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := newHarness(t, pe1Addr, nil)
			cfg := EVIConfig{ID: 10, BD: 10, ACs: []ACConfig{{ID: 1, Port: 1}, {ID: 2, Port: 2}}}
			if tc.static {
				cfg.StaticMACs = []StaticMAC{{MAC: mac1, AC: 1}}
			}
			h.must(h.pe.AddEVI(h.ctx, cfg))
			for _, s := range tc.steps {
				if s.remote != nil {
					h.path(*s.remote)
				} else {
					h.learn(mac1, s.learn)
				}
			}
			f, ok := h.fdb(mac1)
			if !ok || f.Dest.Kind != tc.wantDest {
				t.Fatalf("FDB %+v, want destination kind %v", f, tc.wantDest)
			}
			if f.Pinned != tc.wantPinned {
				t.Errorf("Pinned %v, want %v", f.Pinned, tc.wantPinned)
			}
			if tc.wantPeer != "" {
				r, _ := h.sw.Get(asic.RemotePE{ID: f.Dest.PE}.Key())
				if got := r.(asic.RemotePE).Address.String(); got != tc.wantPeer {
					t.Errorf("forwarded to %s, want %s", got, tc.wantPeer)
				}
			}
			adv, ok := h.sp.macRoute(mac1)
			if ok != tc.wantAdv {
				t.Fatalf("PE1 advertises the MAC: %v, want %v", ok, tc.wantAdv)
			}
			if ok {
				var seq uint32
				if m := adv.Attrs.MACMobility; m != nil {
					seq = m.Sequence
					if m.Sticky != tc.static {
						t.Errorf("sticky %v, want %v", m.Sticky, tc.static)
					}
				}
				if seq != tc.wantSeq {
					t.Errorf("advertised sequence %d, want %d", seq, tc.wantSeq)
				}
			}
			c := h.pe.Counters()
			if c.MACMoves != tc.wantMoves || c.StickyConflicts != tc.wantSticky {
				t.Errorf("moves %d, sticky conflicts %d; want %d, %d", c.MACMoves, c.StickyConflicts, tc.wantMoves, tc.wantSticky)
			}
		})
	}
}

// TestMobilityOnSegment_RFC7432_14_1: PE2 on the same all-active segment
// learned the MAC: PE1 forwards on its own link to the segment, and its own
// learn of it is not a move.
func TestMobilityOnSegment_RFC7432_14_1(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.multiHomed(SegmentConfig{})
	h.path(perESPathFor(pe2Addr, esi1, 5001, false))
	h.path(perEVIPathFor(pe2Addr, esi1, 3001))
	h.path(macPath(pe2Addr, mac1, esi1, 3001, 3, false))
	if f, _ := h.fdb(mac1); f.Dest != (asic.Destination{Kind: asic.ToAC, AC: 1}) {
		t.Fatalf("FDB %+v, want the local AC on the shared segment", f)
	}
	h.learn(mac1, 1)
	if c := h.pe.Counters(); c.MACMoves != 0 {
		t.Errorf("MACMoves %d, want 0 within one segment", c.MACMoves)
	}
	adv, ok := h.sp.macRoute(mac1)
	if !ok || adv.Attrs.MACMobility == nil || adv.Attrs.MACMobility.Sequence != 3 || adv.NLRI.(route.MACIP).ESI != esi1 {
		t.Errorf("RT-2 %+v, want ESI %s with the segment's sequence 3", adv, esi1)
	}
	// The segment's link fails on PE1: the MAC now goes to PE2 through the group.
	h.must(h.pe.SetSegmentUp(h.ctx, esi1, false))
	if f, _ := h.fdb(mac1); f.Dest.Kind != asic.ToAliasingGroup {
		t.Errorf("FDB after segment down %+v, want the aliasing group", f)
	}
	if _, ok := h.sp.macRoute(mac1); ok {
		t.Error("PE1 still advertises a MAC of a segment that is down")
	}
}

func TestDuplicateDetection_RFC7432_15_1(t *testing.T) {
	tests := []struct {
		desc       string
		gap        time.Duration
		recovery   time.Duration
		wantFrozen bool
		wantAfter  bool // still frozen after recovery time + 1s
		eviDup     DuplicateDetection
	}{
		{desc: "the EVI's own threshold (6 moves) overrides the PE's 5", gap: 10 * time.Second, eviDup: DuplicateDetection{Moves: 6}},
		{desc: "5 moves in 180 s freeze the MAC", gap: 10 * time.Second, wantFrozen: true, wantAfter: true},
		{desc: "5 moves over more than 180 s do not", gap: 50 * time.Second},
		{desc: "recovery timer unfreezes", gap: 10 * time.Second, recovery: 600 * time.Second, wantFrozen: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := newHarness(t, pe1Addr, func(c *Config) {
				c.DuplicateDetection.Recovery = tc.recovery
				c.MACAgeing = time.Hour
			})
			h.must(h.pe.AddEVI(h.ctx, EVIConfig{ID: 10, BD: 10, DuplicateDetection: tc.eviDup, ACs: []ACConfig{{ID: 1, Port: 1}, {ID: 2, Port: 2}}}))
			ch, err := h.pe.Subscribe(h.ctx, 64)
			h.must(err)
			seq := uint32(0)
			for range 3 {
				h.learn(mac1, 1) // remote→local is a move (after the first round)
				h.clock.Advance(tc.gap)
				seq = h.pe.mustLocalSeq(t, mac1) + 1
				h.path(macPath(pe2Addr, mac1, route.ESI{}, 3001, seq, false)) // local→remote
				h.clock.Advance(tc.gap)
			}
			tbl, _ := h.pe.MACTable(10)
			if tbl[0].Frozen != tc.wantFrozen {
				t.Fatalf("frozen %v after 5 moves %v apart, want %v (table %+v)", tbl[0].Frozen, tc.gap, tc.wantFrozen, tbl)
			}
			if !tc.wantFrozen {
				return
			}
			if c := h.pe.Counters(); c.DuplicateMACs != 1 {
				t.Errorf("DuplicateMACs %d, want 1", c.DuplicateMACs)
			}
			found := false
			for len(ch) > 0 {
				if ev := <-ch; ev.Kind == EventMACDuplicate && ev.MAC == mac1 {
					found = true
				}
			}
			if !found {
				t.Error("no mac-duplicate event")
			}
			// Frozen: further learns are ignored, nothing is advertised.
			h.learn(mac1, 2)
			if _, ok := h.sp.macRoute(mac1); ok {
				t.Error("frozen MAC advertised")
			}
			if f, _ := h.fdb(mac1); !f.Pinned {
				t.Errorf("frozen MAC's FDB entry %+v not pinned", f)
			}
			h.clock.Advance(tc.recovery + time.Second)
			tbl, _ = h.pe.MACTable(10)
			if tbl[0].Frozen != tc.wantAfter {
				t.Errorf("frozen %v after the recovery time, want %v", tbl[0].Frozen, tc.wantAfter)
			}
		})
	}
}

// mustLocalSeq returns the sequence PE1 uses for a MAC.
func (pe *PE) mustLocalSeq(t *testing.T, mac route.MAC) uint32 {
	t.Helper()
	tbl, err := pe.MACTable(10)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tbl {
		if r.MAC == mac {
			return r.Sequence
		}
	}
	t.Fatalf("MAC %s not in the table", mac)
	return 0
}
