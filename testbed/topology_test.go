package testbed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const minimalPE = `
      router-id: 127.0.50.1
      ports: [{id: 1, kind: access}, {id: 10, kind: core}]
      core: {port: 10}
      evis: [{id: 100, attachment-circuits: [{id: 1, port: 1, vlan: 100}]}]`

func minimalTopology(extra string) string {
	return `name: t
asn: 65000
timers: {hold-time: 3s, keepalive: 1s, connect-retry: 1s}
route-reflectors: [{name: rr, address: 127.0.50.100}]
pes:
  - name: pe1
    config:` + minimalPE + `
  - name: pe2
    config:
      router-id: 127.0.50.2
      ports: [{id: 1, kind: access}, {id: 10, kind: core}]
      core: {port: 10}
      evis: [{id: 100, attachment-circuits: [{id: 1, port: 1, vlan: 100}]}]
hosts:
  - {name: a, mac: "02:00:00:00:00:0a", ip: 10.0.0.1/24, vlan: 100, links: [{pe: pe1, port: 1}]}
` + extra
}

func TestParseTopologyRefuses(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		yaml    string
		wantErr string
	}{
		{desc: "unknown key", yaml: minimalTopology("colour: blue\n"), wantErr: "colour"},
		{desc: "host on a missing PE", yaml: minimalTopology(`  - {name: b, mac: "02:00:00:00:00:0b", ip: 10.0.0.2/24, links: [{pe: pe9, port: 1}]}` + "\n"), wantErr: `hosts[1].links[0].pe: "pe9": no such PE`},
		{desc: "host on a core port", yaml: minimalTopology(`  - {name: b, mac: "02:00:00:00:00:0b", ip: 10.0.0.2/24, links: [{pe: pe2, port: 10}]}` + "\n"), wantErr: "pe2 has no access port 10"},
		{desc: "bad MAC", yaml: minimalTopology(`  - {name: b, mac: "02:00", ip: 10.0.0.2/24, links: [{pe: pe2, port: 1}]}` + "\n"), wantErr: `hosts[1].mac: "02:00"`},
		{desc: "IPv6 host", yaml: minimalTopology(`  - {name: b, mac: "02:00:00:00:00:0b", ip: "2001:db8::1/64", links: [{pe: pe2, port: 1}]}` + "\n"), wantErr: "want an IPv4 ADDRESS/PREFIX"},
		{desc: "duplicate name", yaml: minimalTopology(`  - {name: pe1, mac: "02:00:00:00:00:0b", ip: 10.0.0.2/24, links: [{pe: pe2, port: 1}]}` + "\n"), wantErr: "already names"},
		{desc: "multihomed on one PE", yaml: strings.Replace(minimalTopology(""), "links: [{pe: pe1, port: 1}]", "links: [{pe: pe1, port: 1}, {pe: pe1, port: 1}]", 1), wantErr: "two different PEs"},
		{desc: "RR kind", yaml: strings.Replace(minimalTopology(""), "{name: rr,", "{name: rr, kind: bird,", 1), wantErr: `route-reflectors[0].kind: "bird"`},
		{desc: "PE config error names the PE", yaml: strings.Replace(minimalTopology(""), "core: {port: 10}", "core: {port: 1}", 1), wantErr: "pes[0] pe1: config: core.port: 1"},
		{desc: "same router id twice", yaml: strings.Replace(minimalTopology(""), "127.0.50.2", "127.0.50.1", 1), wantErr: "router-id 127.0.50.1 already used by pe1"},
		{desc: "empty", yaml: "", wantErr: "empty document"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := ParseTopology([]byte(tc.yaml), ".")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseTopology: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestPEConfigFillsTheFabric checks what the testbed derives: BGP to the
// reflector, the core MACs and one transport label per remote PE.
func TestPEConfigFillsTheFabric(t *testing.T) {
	topo, err := ParseTopology([]byte(minimalTopology("")), ".")
	if err != nil {
		t.Fatal(err)
	}
	c, err := topo.PEConfig(0)
	if err != nil {
		t.Fatal(err)
	}
	type derived struct {
		Listen, Neighbor, LocalAddress, Source, NextHop string
		Labels                                          map[string]uint32
	}
	got := derived{Listen: c.BGP.Listen, Neighbor: c.BGP.Neighbors[0].Address, LocalAddress: c.BGP.Neighbors[0].LocalAddress,
		Source: c.Core.SourceMAC, NextHop: c.Core.NextHopMAC, Labels: c.Core.TransportLabels}
	want := derived{Listen: "127.0.50.1:10179", Neighbor: "127.0.50.100", LocalAddress: "127.0.50.1",
		Source: "02:00:00:fe:01:01", NextHop: DefaultLSRMAC, Labels: map[string]uint32{"127.0.50.2": DefaultFirstLabel + 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("derived config (-want +got):\n%s", diff)
	}
	rr, err := topo.RRConfig(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.BGP.Neighbors) != 2 || !rr.BGP.Neighbors[0].RouteReflectorClient || rr.BGP.Neighbors[1].Address != "127.0.50.2" {
		t.Errorf("RR neighbors = %+v, want both PEs as clients", rr.BGP.Neighbors)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pe1.yaml"), []byte(strings.ReplaceAll(minimalPE, "\n      ", "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(minimalTopology(""), "    config:"+minimalPE, "    config-file: pe1.yaml", 1)
	path := filepath.Join(dir, "topo.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	topo, err := LoadTopology(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := topo.PEConfig(0)
	if err != nil {
		t.Fatal(err)
	}
	if c.RouterID != "127.0.50.1" || c.Name != "pe1" {
		t.Errorf("config from file: router-id %q name %q, want 127.0.50.1 pe1", c.RouterID, c.Name)
	}
}

func TestDemoTopologyParses(t *testing.T) {
	for _, kind := range []string{KindEvpnd, KindFRR} {
		topo, err := DemoTopology(40, kind)
		if err != nil {
			t.Fatal(err)
		}
		if got := topo.RouteReflectors[0].Kind; got != kind {
			t.Errorf("route reflector kind %q, want %q", got, kind)
		}
		if len(topo.PEs) != 3 || len(topo.Hosts) != 5 {
			t.Errorf("demo has %d PEs and %d hosts, want 3 and 5", len(topo.PEs), len(topo.Hosts))
		}
	}
}
