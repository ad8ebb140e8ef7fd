package evpn

import (
	"net/netip"
	"testing"
	"time"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

func TestElectDF(t *testing.T) {
	a, b, c := pe1Addr, pe2Addr, pe3Addr
	tests := []struct {
		desc  string
		alg   route.DFAlgorithm
		cands []dfCandidate
		vlan  uint16
		want  netip.Addr
	}{
		{desc: "RFC 7432 §8.5 modulo: V mod N = 0 picks the lowest address", alg: route.DFModulo, cands: []dfCandidate{{addr: a}, {addr: b}, {addr: c}}, vlan: 9, want: a},
		{desc: "RFC 7432 §8.5 modulo: V mod N = 1", alg: route.DFModulo, cands: []dfCandidate{{addr: a}, {addr: b}, {addr: c}}, vlan: 10, want: b},
		{desc: "RFC 7432 §8.5 modulo: V mod N = 2", alg: route.DFModulo, cands: []dfCandidate{{addr: a}, {addr: b}, {addr: c}}, vlan: 11, want: c},
		{desc: "RFC 9785 §4.1 highest preference wins", alg: route.DFPreference, cands: []dfCandidate{{addr: a, pref: 100}, {addr: b, pref: 200}}, want: b},
		{desc: "RFC 9785 §4.1 equal preference: Don't Preempt wins", alg: route.DFPreference, cands: []dfCandidate{{addr: a, pref: 100}, {addr: b, pref: 100, dp: true}}, want: b},
		{desc: "RFC 9785 §4.1 equal preference and bit: lowest address", alg: route.DFPreference, cands: []dfCandidate{{addr: a, pref: 100}, {addr: b, pref: 100}}, want: a},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := electDF(tc.alg, tc.cands, tc.vlan, esi1); got != tc.want {
				t.Errorf("DF = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestHRW_RFC8584_3_2 checks the properties HRW exists for: every VLAN's DF
// is the candidate of highest weight, VLANs spread over the PEs, and losing
// a PE moves only the VLANs it was DF for (minimal disruption).
func TestHRW_RFC8584_3_2(t *testing.T) {
	all := []dfCandidate{{addr: pe1Addr}, {addr: pe2Addr}, {addr: pe3Addr}}
	without3 := all[:2]
	perPE := make(map[netip.Addr]int)
	for v := uint16(1); v <= 300; v++ {
		df := electDF(route.DFHRW, all, v, esi1)
		for _, c := range all {
			if hrwWeight(v, esi1, c.addr) > hrwWeight(v, esi1, df) {
				t.Fatalf("VLAN %d: DF %v has a lower weight than %v", v, df, c.addr)
			}
		}
		perPE[df]++
		if df != pe3Addr {
			if got := electDF(route.DFHRW, without3, v, esi1); got != df {
				t.Errorf("VLAN %d: DF moved from %v to %v when an unrelated PE left", v, df, got)
			}
		}
	}
	for _, c := range all {
		if perPE[c.addr] < 50 {
			t.Errorf("PE %v is DF for %d of 300 VLANs; HRW should spread them (%v)", c.addr, perPE[c.addr], perPE)
		}
	}
	if w := hrwWeight(1, esi1, pe1Addr); w >= 1<<31 {
		t.Errorf("weight %d is not below 2^31", w)
	}
}

// TestElectionTimer_RFC7432_8_5: a PE stays non-DF until the election
// timer expires, then programs the DF filter per VLAN.
func TestElectionTimer_RFC7432_8_5(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.must(h.pe.AddSegment(h.ctx, SegmentConfig{ESI: esi1}))
	for _, v := range []uint32{10, 11} {
		h.must(h.pe.AddEVI(h.ctx, EVIConfig{ID: v, BD: asic.BridgeDomainID(v), ACs: []ACConfig{{ID: asic.ACID(v), Port: 1, VLAN: uint16(v), ESI: esi1}}}))
	}
	h.path(esPathFor(pe2Addr, esi1, nil))
	df := func(bd asic.BridgeDomainID) bool {
		segs := h.sw.Entities(asic.KindSegment)
		e, ok := h.sw.Get(asic.DFState{Segment: segs[0].(asic.Segment).ID, BD: bd}.Key())
		if !ok {
			t.Fatalf("no DF state for bd %d", bd)
		}
		return e.(asic.DFState).DF
	}
	h.clock.Advance(2 * time.Second)
	if df(10) || df(11) {
		t.Fatal("DF before the election timer expired")
	}
	h.clock.Advance(time.Second)
	// Candidates [PE1, PE2]: VLAN 10 mod 2 = 0 → PE1, VLAN 11 → PE2.
	if !df(10) || df(11) {
		t.Errorf("DF bd10=%v bd11=%v, want true/false", df(10), df(11))
	}
	segs := h.pe.Segments()
	if len(segs[0].DF) != 2 || segs[0].DF[1].DF != pe2Addr {
		t.Errorf("segment state %+v, want PE2 DF for EVI 11", segs[0])
	}
	// PE2's ES route is withdrawn: PE1 takes VLAN 11 at once.
	h.must(h.pe.HandleWithdraw(h.ctx, esPathFor(pe2Addr, esi1, nil).NLRI))
	if !df(11) {
		t.Error("PE1 not DF for VLAN 11 after PE2 left")
	}
	// A per-segment election timer overrides the PE's.
	h3 := newHarness(t, pe1Addr, nil)
	h3.must(h3.pe.AddSegment(h3.ctx, SegmentConfig{ESI: esi1, ElectionTimer: 10 * time.Second}))
	h3.must(h3.pe.AddEVI(h3.ctx, EVIConfig{ID: 10, BD: 10, ACs: []ACConfig{{ID: 1, Port: 1, ESI: esi1}}}))
	h3.clock.Advance(9 * time.Second)
	if h3.dfFor(10) {
		t.Error("DF before the segment's 10 s election timer")
	}
	h3.clock.Advance(time.Second)
	if !h3.dfFor(10) {
		t.Error("not DF after the segment's election timer (sole candidate)")
	}
	// A candidate advertising another algorithm: everyone falls back to modulo.
	h2 := newHarness(t, pe1Addr, nil)
	h2.must(h2.pe.AddSegment(h2.ctx, SegmentConfig{ESI: esi1, DF: DFConfig{Algorithm: route.DFPreference, Preference: 10}}))
	h2.must(h2.pe.AddEVI(h2.ctx, EVIConfig{ID: 11, BD: 11, ACs: []ACConfig{{ID: 1, Port: 1, ESI: esi1}}}))
	h2.path(esPathFor(pe2Addr, esi1, &route.DFElection{Algorithm: route.DFHRW}))
	h2.clock.Advance(3 * time.Second)
	if got := h2.pe.Segments()[0].DF[0].DF; got != pe2Addr {
		t.Errorf("RFC 8584 §2.2.1 mismatch: DF %v, want %v (modulo, VLAN 11)", got, pe2Addr)
	}
}
