package p4evpn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	p4evpn "github.com/p4evpn/p4evpn"
	"github.com/p4evpn/p4evpn/asic/memswitch"
	"github.com/p4evpn/p4evpn/config"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// The telemetry fabric: a route reflector and three PEs on hosts .140 and
// .41-.43 of the test process's network (apart from the other tests'
// speakers at .1, .2 and .100) with real BGP and memswitch
// switches. PE1 and PE2 share the all-active segment es1, where PE1 has a
// static MAC; PE3 is single-homed and reaches the MAC through aliasing.
const telemetryESI = "00:11:22:33:44:55:66:77:88:14"

// telemetryPEAddr is PE n's address; telemetryRR the reflector's.
func telemetryPEAddr(n int) string { return loopback(40 + n) }
func telemetryRR() string          { return loopback(140) }

var aliasedMAC = route.MustMAC("02:00:00:00:14:01")

func telemetryPE(t testing.TB, n int) *config.Config {
	t.Helper()
	segment, ac2, static := "", "", ""
	if n <= 2 {
		segment = fmt.Sprintf("ethernet-segments:\n  - {name: es1, esi: %q, redundancy: all-active}\n", telemetryESI)
		ac2 = "      - {id: 2, port: 2, vlan: 100, ethernet-segment: es1}\n"
	}
	if n == 1 {
		static = fmt.Sprintf("    static-macs:\n      - {mac: %q, ac: 2}\n", aliasedMAC)
	}
	return parse(t, fmt.Sprintf(`
name: pe%[1]d
router-id: %[8]s
asn: %[2]d
bgp:
  neighbors:
    - {address: %[3]s, port: %[4]d, local-address: %[8]s, hold-time: 3s, keepalive: 1s, connect-retry: 1s}
target:
  device-id: 1
ports:
  - {id: 1, kind: access}
  - {id: 2, kind: access}
  - {id: 10, kind: core}
core:
  port: 10
  source-mac: 02:00:00:00:1%[1]d:0a
  next-hop-mac: 02:00:00:00:ff:0a
labels: {first: %[1]d00000, last: %[1]d00999}
timers:
  election-timer: 200ms
  telemetry-interval: 1m # no GoBGP call before every speaker started (see startFabric)
%[5]sevis:
  - id: 100
    attachment-circuits:
      - {id: 1, port: 1, vlan: 100}
%[6]s%[7]sgnmi:
  listen: 127.0.0.1:0
  plaintext: true
`, n, asn, telemetryRR(), bgpPort, segment, ac2, static, telemetryPEAddr(n)))
}

func telemetryRRConfig(t testing.TB) *config.Config {
	t.Helper()
	return parse(t, fmt.Sprintf(`
name: rr
mode: route-reflector
router-id: %[1]s
asn: %[2]d
bgp:
  listen: %[1]s:%[3]d
  neighbors:
    - {address: %[4]s, route-reflector-client: true, passive: true, hold-time: 3s, keepalive: 1s}
    - {address: %[5]s, route-reflector-client: true, passive: true, hold-time: 3s, keepalive: 1s}
    - {address: %[6]s, route-reflector-client: true, passive: true, hold-time: 3s, keepalive: 1s}
`, telemetryRR(), asn, bgpPort, telemetryPEAddr(1), telemetryPEAddr(2), telemetryPEAddr(3)))
}

// getJSONState reads path from d's gNMI server as one JSON value.
func getJSONState(t testing.TB, ctx context.Context, c gpb.GNMIClient, path string) (map[string]any, bool) {
	t.Helper()
	get, err := c.Get(ctx, &gpb.GetRequest{Path: []*gpb.Path{gpath(t, path)}, Type: gpb.GetRequest_STATE, Encoding: gpb.Encoding_JSON})
	if err != nil || len(get.GetNotification()) == 0 || len(get.GetNotification()[0].GetUpdate()) == 0 {
		return nil, false
	}
	var v map[string]any
	if err := json.Unmarshal(get.GetNotification()[0].GetUpdate()[0].GetVal().GetJsonVal(), &v); err != nil {
		t.Fatalf("Get %s: %v", path, err)
	}
	return v, true
}

// TestTelemetry reads evpnd's gNMI telemetry on a fabric with a multihomed
// segment: a remote MAC behind the segment is published with a next-hop
// group of both segment PEs and their labels, MAC ages count up, and BGP
// prefix counters follow route updates with no made-up installed count.
func TestTelemetry(t *testing.T) {
	var pe [4]*p4evpn.Daemon
	for n := 1; n <= 3; n++ {
		sw := memswitch.New()
		t.Cleanup(func() { sw.Close() })
		pe[n] = start(t, telemetryPE(t, n), p4evpn.WithSwitch(sw))
	}
	// The RR starts last (see startFabric).
	rr := start(t, telemetryRRConfig(t))
	waitFor(t, "the RR's sessions to the three PEs", established(rr, 3))
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c := gnmiClient(t, pe[3].GNMIAddr().String())
	fdb := "/network-instances/network-instance[name=evi100]/fdb"

	t.Run("aliasing: a next-hop group of both segment PEs", func(t *testing.T) {
		want := map[string]uint32{}
		for n := 1; n <= 2; n++ {
			want[telemetryPEAddr(n)] = pe[n].PE().EVIs()[0].UnicastLabel
		}
		var got map[string]uint32
		waitFor(t, "PE3's L2RIB to publish the aliased MAC through a next-hop group", func() bool {
			rib, ok := getJSONState(t, ctx, c, fdb+"/l2rib/mac-table")
			if !ok {
				return false
			}
			got = aliasedHops(rib, aliasedMAC)
			return len(got) == 2
		})
		for peer, label := range want {
			if got[peer] != label {
				t.Errorf("next-hop group: %s has label %d, want %d (all: %v)", peer, got[peer], label, got)
			}
		}
	})

	t.Run("MAC age counts up", func(t *testing.T) {
		age := fmt.Sprintf("%s/mac-table/entries/entry[mac-address=%s][vlan=100]/state", fdb, aliasedMAC)
		waitFor(t, "the aliased MAC's age on PE3 to reach 2 s", func() bool {
			st, ok := getJSONState(t, ctx, c, age)
			if !ok {
				return false
			}
			a, _ := st["age"].(float64)
			return a >= 2
		})
	})

	t.Run("BGP prefix counters follow route updates", func(t *testing.T) {
		prefixes := fmt.Sprintf("/network-instances/network-instance[name=%s]/protocols/protocol[identifier=BGP][name=%s]/bgp/neighbors/"+
			"neighbor[neighbor-address=%s]/afi-safis/afi-safi[afi-safi-name=L2VPN_EVPN]/state/prefixes",
			p4evpn.DefaultInstance, p4evpn.BGPProtocol, telemetryRR())
		var last map[string]any
		waitFor(t, "PE3's published received count to match its speaker's", func() bool {
			nbs, err := pe[3].Speaker().Neighbors(ctx)
			if err != nil || len(nbs) != 1 || nbs[0].Accepted == 0 {
				return false
			}
			st, ok := getJSONState(t, ctx, c, prefixes)
			last = st
			return ok && st["received"] == float64(nbs[0].Accepted) && st["received-pre-policy"] == float64(nbs[0].Received)
		})
		if _, ok := last["installed"]; ok {
			t.Errorf("prefixes %v publish installed, which the PE does not count per neighbor", last)
		}
	})

	t.Run("mass withdrawal: PE2's link to the segment fails", func(t *testing.T) {
		// PE2 withdraws its per-ES A-D route; PE3 rewrites the aliasing
		// group in place (no MAC event) and its L2RIB follows: PE1 alone.
		if err := pe[2].PE().SetSegmentUp(ctx, route.MustESI(telemetryESI), false); err != nil {
			t.Fatal(err)
		}
		var got map[string]uint32
		waitFor(t, "PE3's L2RIB to forward the aliased MAC to PE1 alone", func() bool {
			rib, ok := getJSONState(t, ctx, c, fdb+"/l2rib/mac-table")
			if !ok {
				return false
			}
			got = bgpHops(rib, aliasedMAC)
			return len(got) == 1
		})
		if want := pe[1].PE().EVIs()[0].UnicastLabel; got[telemetryPEAddr(1)] != want {
			t.Errorf("after the withdrawal the next hops are %v, want %s with label %d", got, telemetryPEAddr(1), want)
		}
	})
}

// aliasedHops returns, for mac's BGP producer in an L2RIB mac-table (Get
// JSON), the peer and label of each next hop of its next-hop group (nil
// without a group).
func aliasedHops(rib map[string]any, mac route.MAC) map[string]uint32 {
	prod, hops, groups := l2ribTables(rib, mac)
	ids, _ := prod["next-hop-group"].([]any)
	if len(ids) != 1 {
		return nil
	}
	out := map[string]uint32{}
	for _, h := range jsonEntries(groups[ids[0].(float64)], "next-hops", "next-hop") {
		idx, _ := h["index"].(float64)
		peer, _ := hops[idx]["peer-ip"].(string)
		label, _ := hops[idx]["label"].(float64)
		out[peer] = uint32(label)
	}
	return out
}

// bgpHops is aliasedHops, or the producer's one next hop when it has no
// group.
func bgpHops(rib map[string]any, mac route.MAC) map[string]uint32 {
	if out := aliasedHops(rib, mac); out != nil {
		return out
	}
	prod, hops, _ := l2ribTables(rib, mac)
	idx, ok := prod["next-hop"].(float64)
	if !ok {
		return nil
	}
	peer, _ := hops[idx]["peer-ip"].(string)
	label, _ := hops[idx]["label"].(float64)
	return map[string]uint32{peer: uint32(label)}
}

// l2ribTables returns mac's BGP producer state, the next-hop states by
// index and the next-hop groups by id of an L2RIB mac-table (Get JSON).
func l2ribTables(rib map[string]any, mac route.MAC) (prod map[string]any, hops, groups map[float64]map[string]any) {
	for _, e := range jsonEntries(rib, "entries", "entry") {
		if e["mac-address"] != mac.String() {
			continue
		}
		for _, p := range jsonEntries(e, "producers", "producer") {
			if p["producer"] == "BGP" {
				prod = jsonState(p)
			}
		}
	}
	hops, groups = map[float64]map[string]any{}, map[float64]map[string]any{}
	for _, h := range jsonEntries(rib, "next-hops", "next-hop") {
		idx, _ := h["index"].(float64)
		hops[idx] = jsonState(h)
	}
	for _, g := range jsonEntries(rib, "next-hop-groups", "next-hop-group") {
		id, _ := g["id"].(float64)
		groups[id] = g
	}
	return prod, hops, groups
}

// jsonEntries returns the entries of list name in container of the JSON object v.
func jsonEntries(v any, container, name string) []map[string]any {
	m, _ := v.(map[string]any)
	c, _ := m[container].(map[string]any)
	arr, _ := c[name].([]any)
	var out []map[string]any
	for _, e := range arr {
		if em, ok := e.(map[string]any); ok {
			out = append(out, em)
		}
	}
	return out
}

func jsonState(m map[string]any) map[string]any {
	s, _ := m["state"].(map[string]any)
	return s
}
