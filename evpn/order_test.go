package evpn

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// TestOrderIndependence is a property test: the forwarding state PE1 ends
// with depends on the set of routes it received, not on their order
// (RFC 7432 leaves arrival order to BGP).
func TestOrderIndependence(t *testing.T) {
	pe4Addr := netip.MustParseAddr("192.0.2.4")
	esi2 := route.MustESI("00:22:22:22:22:22:22:22:22:22")
	var routes []route.Path
	routes = append(routes,
		perESPathFor(pe2Addr, esi2, 5002, false), perESPathFor(pe3Addr, esi2, 6002, false),
		perEVIPathFor(pe2Addr, esi2, 3001), perEVIPathFor(pe3Addr, esi2, 0), // label lost by an RR
		perESPathFor(pe2Addr, esi1, 5001, false), perEVIPathFor(pe2Addr, esi1, 3001),
		esPathFor(pe2Addr, esi1, nil),
		imetPathFor(pe2Addr, 3002), imetPathFor(pe3Addr, 4002), imetPathFor(pe4Addr, 7002),
	)
	for i := range 20 {
		m := route.MAC{2, 2, 0, 0, 0, byte(i)}
		if i%3 != 0 {
			routes = append(routes, macPath(pe2Addr, m, esi2, 3001, 0, false))
		}
		if i%2 == 0 {
			routes = append(routes, macPath(pe3Addr, m, esi2, 4001, 0, false))
		}
	}
	for i := range 10 {
		routes = append(routes, macPath(pe4Addr, route.MAC{2, 4, 0, 0, 0, byte(i)}, route.ESI{}, 7001, 0, false))
	}
	routes = append(routes,
		macPath(pe3Addr, mac1, route.ESI{}, 4001, 1, false),
		macPath(pe4Addr, mac1, route.ESI{}, 7001, 2, false),
		macPath(pe2Addr, mac2, esi1, 3001, 0, false),
	)

	run := func(order []route.Path) []string {
		h := newHarness(t, pe1Addr, nil)
		h.multiHomed(SegmentConfig{})
		for _, p := range order {
			h.path(p)
		}
		h.clock.Advance(3 * time.Second)
		// The incremental updates and the snapshot agree: nothing to repair.
		if n, err := h.pe.Reconcile(h.ctx); err != nil || n != 0 {
			t.Fatalf("Reconcile after incremental programming: %d updates, %v; want 0", n, err)
		}
		return forwarding(t, h.sw)
	}
	want := run(routes)
	if len(want) != 34 {
		t.Fatalf("reference state has %d entries, want 34: %v", len(want), want)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range 30 {
		order := append([]route.Path(nil), routes...)
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		if diff := cmp.Diff(want, run(order)); diff != "" {
			t.Fatalf("shuffle %d (seed %d): forwarding differs (-in order +shuffled):\n%s", i, seed, diff)
		}
	}
}

// TestStateIsAFunctionOfTheRouteSet is a property test over random
// announce/withdraw sequences (replacements included): the forwarding state
// a PE ends with equals that of a fresh PE given only the routes still
// present. It exercises every removal path: bindings released, groups split
// and rewritten, labels falling back and recovering, tunnels deleted.
func TestStateIsAFunctionOfTheRouteSet(t *testing.T) {
	pool := propertyPool()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	for round := range 20 {
		h := newPropertyPE(t)
		present := make(map[string]route.Path)
		for range 400 {
			p := pool[rng.IntN(len(pool))]
			k := routeKey(p.NLRI)
			if rng.IntN(10) < 7 {
				h.path(p)
				present[k] = p
			} else {
				h.must(h.pe.HandleWithdraw(h.ctx, p.NLRI))
				delete(present, k)
			}
		}
		got := settleForwarding(t, h)
		fresh := newPropertyPE(t)
		keys := make([]string, 0, len(present))
		for k := range present {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fresh.path(present[k])
		}
		if diff := cmp.Diff(settleForwarding(t, fresh), got); diff != "" {
			t.Fatalf("round %d (seed %d): state after the sequence differs from a fresh PE with the same %d routes (-fresh +sequence):\n%s", round, seed, len(present), diff)
		}
	}
}

// propertyPool is the routes the property tests draw from: three remote
// PEs on two segments and two EVIs, with replacements of the same keys
// (labels, sequence numbers, single-active, DF election capability).
func propertyPool() []route.Path {
	pe4Addr := netip.MustParseAddr("192.0.2.4")
	esi2 := route.MustESI("00:22:22:22:22:22:22:22:22:22")
	var pool []route.Path
	for _, from := range []netip.Addr{pe2Addr, pe3Addr, pe4Addr} {
		pool = append(pool,
			perESPathFor(from, esi2, 5002, false), perESPathFor(from, esi2, 5002, true),
			perEVIPathFor(from, esi2, 3001), perEVIPathFor(from, esi2, 0),
			inEVI(perEVIPathFor(from, esi2, 3011), 11),
			imetPathFor(from, 3002), inEVI(imetPathFor(from, 3012), 11),
			esPathFor(from, esi1, nil), esPathFor(from, esi1, &route.DFElection{Algorithm: route.DFHRW}),
			perESPathFor(from, esi1, 5001, false),
		)
		for i := range 6 {
			m := route.MAC{2, 2, 0, 0, 0, byte(i)}
			pool = append(pool,
				macPath(from, m, esi2, 3001, 0, false), macPath(from, m, esi2, 3005, 2, false),
				inEVI(macPath(from, m, esi2, 3011, 0, false), 11),
				macPath(from, route.MAC{2, 4, 0, 0, 0, byte(i)}, route.ESI{}, 7001, uint32(i%3), false),
				macPath(from, mac2, esi1, 3001, uint32(i), false),
			)
		}
	}
	return pool
}

// newPropertyPE is PE1 of the property tests: multihomed on esi1 in EVI 10,
// single-homed in EVI 11.
func newPropertyPE(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, pe1Addr, func(c *Config) { c.DuplicateDetection.Moves = 1 << 30 })
	h.multiHomed(SegmentConfig{})
	h.must(h.pe.AddEVI(h.ctx, EVIConfig{ID: 11, BD: 11, ACs: []ACConfig{{ID: 3, Port: 3, VLAN: 11}}}))
	return h
}

// settleForwarding lets DF election timers fire, checks that the switch
// holds the PE's desired state, and returns the forwarding state.
func settleForwarding(t *testing.T, h *harness) []string {
	t.Helper()
	h.clock.Advance(3 * time.Second)
	if n, err := h.pe.Reconcile(h.ctx); err != nil || n != 0 {
		t.Fatalf("Reconcile: %d updates, %v; want 0", n, err)
	}
	return forwarding(t, h.sw)
}
