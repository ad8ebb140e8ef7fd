package evpn

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

func TestHandleUpdatesErrors(t *testing.T) {
	noPMSI := imetPathFor(pe2Addr, 1)
	noPMSI.Attrs.PMSI = nil
	good := macPath(pe2Addr, mac1, route.ESI{}, 3001, 0, false)
	tests := []struct {
		desc    string
		bad     Update
		wantErr []string
	}{
		{desc: "neither path nor withdrawal", bad: Update{}, wantErr: []string{"update 1", "empty update", "exactly one"}},
		{desc: "both path and withdrawal", bad: Update{Path: good, Withdrawn: good.NLRI},
			wantErr: []string{"update 1", "announce " + good.NLRI.String() + " and withdraw", "exactly one"}},
		{desc: "path refused", bad: Update{Path: noPMSI}, wantErr: []string{"update 1", noPMSI.NLRI.String(), "PMSI"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := newHarness(t, pe1Addr, nil)
			h.singleHomed()
			h.path(macPath(pe3Addr, mac2, route.ESI{}, 4001, 0, false))
			before, _ := h.sw.Stats()
			err := h.pe.HandleUpdates(h.ctx, []Update{
				{Path: good}, tc.bad, {Withdrawn: route.MACIP{RD: rd(pe3Addr, 10), MAC: mac2}},
			})
			if err == nil {
				t.Fatalf("HandleUpdates: nil error, want one naming %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("HandleUpdates error %q does not contain %q", err, w)
				}
			}
			// The bad update loses nothing around it.
			if _, ok := h.fdb(mac1); !ok {
				t.Errorf("%s not installed despite the bad update after it", mac1)
			}
			if f, ok := h.fdb(mac2); ok {
				t.Errorf("%s still installed (%+v) despite its withdrawal after the bad update", mac2, f)
			}
			if after, _ := h.sw.Stats(); after-before != 1 {
				t.Errorf("HandleUpdates wrote %d switch batches, want 1", after-before)
			}
		})
	}
}

// TestPEFailureBurst_RFC7432_8_2_14_1 is a remote PE's failure as a route
// reflector relays it: the per-ES A-D withdrawal, then one MAC route
// withdrawal per host. PE3 alone advertised the hosts behind segment esi2
// of PE2 and PE3, so aliasing keeps them on the group (now PE2 only) until
// their MAC routes go, and then each FDB entry goes (RFC 7432 §14.1). The
// whole burst is one switch Write whatever the number of hosts.
func TestPEFailureBurst_RFC7432_8_2_14_1(t *testing.T) {
	esi2 := route.MustESI("00:22:22:22:22:22:22:22:22:22")
	host := func(i int) route.MAC { return route.MAC{2, 2, 0, byte(i >> 8), byte(i), 1} }
	for _, hosts := range []int{1, 10, 200, 2000} {
		t.Run(fmt.Sprintf("%dhosts", hosts), func(t *testing.T) {
			h := newHarness(t, pe1Addr, nil)
			h.singleHomed()
			var setup []route.Path
			for _, from := range []netip.Addr{pe2Addr, pe3Addr} {
				setup = append(setup, perESPathFor(from, esi2, 5002, false), perEVIPathFor(from, esi2, 3001), imetPathFor(from, 3002))
			}
			for i := range hosts {
				setup = append(setup, macPath(pe3Addr, host(i), esi2, 3001, 0, false))
			}
			h.must(h.pe.HandlePaths(h.ctx, setup))
			if f, ok := h.fdb(host(0)); !ok || f.Dest.Kind != asic.ToAliasingGroup {
				t.Fatalf("before the failure %s is %+v (present %v), want on the aliasing group", host(0), f, ok)
			}

			burst := []Update{
				{Withdrawn: route.EthernetAD{RD: rd(pe3Addr, 0), ESI: esi2, EthernetTag: route.MaxEthernetTag}},
				{Withdrawn: route.EthernetAD{RD: rd(pe3Addr, 10), ESI: esi2}},
				{Withdrawn: route.InclusiveMulticast{RD: rd(pe3Addr, 10), OriginatorIP: pe3Addr}},
			}
			for i := range hosts {
				burst = append(burst, Update{Withdrawn: route.MACIP{RD: rd(pe3Addr, 10), MAC: host(i)}})
			}
			batches, updates := h.sw.Stats()
			h.must(h.pe.HandleUpdates(h.ctx, burst))
			b2, u2 := h.sw.Stats()
			if b2-batches != 1 {
				t.Errorf("the failure of PE3 cost %d switch Writes for %d hosts, want 1", b2-batches, hosts)
			}
			// One delete per host plus a constant for the group, flood list,
			// service label and tunnel.
			if n := u2 - updates; n < hosts || n > hosts+8 {
				t.Errorf("the Write carried %d updates for %d hosts, want %d plus a handful", n, hosts, hosts)
			}
			var left []string
			for _, e := range h.sw.Entities(asic.KindFDBEntry) {
				left = append(left, e.(asic.FDBEntry).MAC.String())
			}
			if len(left) != 0 {
				t.Errorf("FDB after the burst holds %d entries (%v...), want none", len(left), left[0])
			}
		})
	}
}

// TestHandleUpdatesEqualsOneByOne is a property test: a random sequence of
// announcements and withdrawals (replacements included), cut into random
// bursts for HandleUpdates, leaves the same forwarding state, MAC tables
// and originated routes as the same sequence handled one call at a time,
// and each burst costs at most one switch Write.
func TestHandleUpdatesEqualsOneByOne(t *testing.T) {
	pool := propertyPool()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 13))
	for round := range 20 {
		seq := make([]Update, 400)
		for i := range seq {
			p := pool[rng.IntN(len(pool))]
			if rng.IntN(10) < 6 {
				seq[i] = Update{Path: p}
			} else {
				seq[i] = Update{Withdrawn: p.NLRI}
			}
		}
		single, batched := newPropertyPE(t), newPropertyPE(t)
		for _, u := range seq {
			if u.Withdrawn != nil {
				single.must(single.pe.HandleWithdraw(single.ctx, u.Withdrawn))
			} else {
				single.path(u.Path)
			}
		}
		before, _ := batched.sw.Stats()
		bursts := 0
		for rest := seq; len(rest) > 0; bursts++ {
			n := min(len(rest), 1+rng.IntN(80))
			batched.must(batched.pe.HandleUpdates(batched.ctx, rest[:n]))
			rest = rest[n:]
		}
		if after, _ := batched.sw.Stats(); after-before > bursts {
			t.Errorf("round %d: %d bursts cost %d switch Writes, want at most one each", round, bursts, after-before)
		}
		want, got := settleForwarding(t, single), settleForwarding(t, batched)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round %d (seed %d): forwarding differs (-one by one +bursts):\n%s", round, seed, diff)
		}
		for _, evi := range []uint32{10, 11} {
			w, err := single.pe.MACTable(evi)
			single.must(err)
			g, err := batched.pe.MACTable(evi)
			batched.must(err)
			if diff := cmp.Diff(w, g, equateAddrs); diff != "" {
				t.Fatalf("round %d (seed %d): EVI %d MAC table differs (-one by one +bursts):\n%s", round, seed, evi, diff)
			}
		}
		for _, typ := range []route.Type{route.TypeEthernetAD, route.TypeMACIP, route.TypeInclusiveMulticast, route.TypeEthernetSegment} {
			if diff := cmp.Diff(single.sp.routes(typ), batched.sp.routes(typ), equateAddrs); diff != "" {
				t.Fatalf("round %d (seed %d): originated routes of type %v differ (-one by one +bursts):\n%s", round, seed, typ, diff)
			}
		}
	}
}

// equateAddrs compares netip values by value (their fields are unexported).
var equateAddrs = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})
