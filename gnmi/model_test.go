package gnmi

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// configSchemaPaths lists the schema paths of every writable config leaf.
func configSchemaPaths(n *schemaNode) []string {
	var out []string
	var walk func(*schemaNode)
	walk = func(n *schemaNode) {
		if (n.kind == kindLeaf || n.kind == kindLeafList) && n.config {
			out = append(out, n.path())
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(n)
	slices.Sort(out)
	return out
}

func schemaPathOf(elems []*gpb.PathElem) string {
	var b strings.Builder
	for _, e := range elems {
		b.WriteString("/" + e.GetName())
	}
	return b.String()
}

// fullConfig sets every field of the model, so binding covers the schema.
func fullConfig() *Config {
	c := fixtureConfig()
	c.Interfaces["eth1"].Description = "uplink"
	c.Interfaces["eth1"].Subinterfaces[100].Description = "blue AC"
	c.Interfaces["eth1"].Subinterfaces[100].Enabled = ptr(true)
	blue := c.NetworkInstances["blue"]
	blue.Description, blue.RouterID, blue.LabelAllocationMode, blue.ControlWord = "MAC-VRF blue", "192.0.2.1", "INSTANCE_LABEL", ptr(false)
	blue.VLANs[100].Status = "ACTIVE"
	blue.FDB.MACAgingTime, blue.FDB.MaximumEntries = ptr(uint16(300)), ptr(uint16(4000))
	evi := blue.EVPNInstances["100"]
	evi.ControlWordEnabled = ptr(false)
	evi.ImportRouteTargets, evi.ExportRouteTargets = []string{"65000:1100"}, []string{"AUTO"}
	n := c.NetworkInstances["DEFAULT"].BGP["BGP"].Neighbors["192.0.2.254"]
	n.LocalAS, n.PeerType, n.Description, n.Enabled = 65000, "INTERNAL", "RR", ptr(true)
	n.LocalAddress, n.PassiveMode = "192.0.2.1", ptr(false)
	es := c.EthernetSegments["es1"]
	es.ESImportRouteTarget, es.Subinterface = "00:11:22:33:44:55", nil
	c.EthernetSegments["es2"] = &EthernetSegment{Name: "es2", ESIType: ESIType1LACP, ESI: "AUTO", RedundancyMode: SingleActive,
		Interface: "eth1", Subinterface: ptr(uint32(100)), DFElectionMethod: DFHighestRandomWeight}
	return c
}

func TestConfigLeavesRoundTripAndCoverSchema(t *testing.T) {
	c := fullConfig()
	leaves := configLeaves(c)
	got, err := configFromLeaves(leaves)
	if err != nil {
		t.Fatalf("configFromLeaves: %v", err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("config -> leaves -> config changed it (-want +got):\n%s", diff)
	}
	schema := newSchema()
	covered := map[string]bool{}
	for _, l := range leaves {
		p := schemaPathOf(l.elems)
		n := schemaFor(schema, l.elems)
		if n == nil || !n.config {
			t.Errorf("leaf %s is not a config leaf of the schema", FormatPath(l.elems))
			continue
		}
		covered[p] = true
	}
	for _, p := range configSchemaPaths(schema) {
		if !covered[p] {
			t.Errorf("schema config leaf %s has no field in Config (or fullConfig leaves it unset)", p)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		desc    string
		edit    func(*Config)
		wantErr string // substring; "" means valid
	}{
		{desc: "fixture is valid", edit: func(*Config) {}},
		{desc: "missing NI type", edit: func(c *Config) { c.NetworkInstances["blue"].Type = "" },
			wantErr: "network-instance[name=blue]/config/type: mandatory leaf is missing"},
		{desc: "unsupported NI type", edit: func(c *Config) { c.NetworkInstances["blue"].Type = NetworkInstanceL3VRF },
			wantErr: "type L3VRF is not supported"},
		{desc: "AC on a missing interface", edit: func(c *Config) { c.NetworkInstances["blue"].Interfaces["eth1.100"].Interface = "eth9" },
			wantErr: `interface "eth9" does not exist`},
		{desc: "AC on a missing subinterface", edit: func(c *Config) { c.NetworkInstances["blue"].Interfaces["eth1.100"].Subinterface = ptr(uint32(7)) },
			wantErr: `subinterface 7 of "eth1" does not exist`},
		{desc: "AC VLAN outside the MAC-VRF", edit: func(c *Config) { c.Interfaces["eth1"].Subinterfaces[100].VLAN = 200 },
			wantErr: "matches VLAN 200, which is not in this network-instance's vlans"},
		{desc: "AC in two MAC-VRFs", edit: func(c *Config) {
			c.NetworkInstances["red"] = &NetworkInstance{Name: "red", Type: NetworkInstanceL2VSI,
				Interfaces: map[string]*NetworkInstanceInterface{"x": {ID: "x", Interface: "eth1", Subinterface: ptr(uint32(100))}}}
		}, wantErr: "eth1.100 is already an attachment circuit of network-instance blue"},
		{desc: "EVI not a number", edit: func(c *Config) {
			c.NetworkInstances["blue"].EVPNInstances = map[string]*EVPNInstance{"abc": {EVI: "abc"}}
		}, wantErr: `evi "abc" is not a number in 1..16777215`},
		{desc: "two EVIs in one MAC-VRF", edit: func(c *Config) {
			c.NetworkInstances["blue"].EVPNInstances["200"] = &EVPNInstance{EVI: "200"}
		}, wantErr: "a MAC-VRF has one EVPN instance, got 2"},
		{desc: "type 0 ESI with AUTO", edit: func(c *Config) { c.EthernetSegments["es1"].ESI = "AUTO" },
			wantErr: "AUTO is not allowed for TYPE_0_OPERATOR_CONFIGURED"},
		{desc: "ESI type octet disagrees", edit: func(c *Config) { c.EthernetSegments["es1"].ESI = "03112233445566778899" },
			wantErr: "has type octet 3, but esi-type is TYPE_0_OPERATOR_CONFIGURED"},
		{desc: "LACP ESI must be AUTO", edit: func(c *Config) {
			c.EthernetSegments["es1"].ESIType = ESIType1LACP
		}, wantErr: "TYPE_1_LACP_BASED must use AUTO"},
		{desc: "preference without PREFERENCE", edit: func(c *Config) { c.EthernetSegments["es1"].DFElectionMethod = DFDefault },
			wantErr: "exist only when df-election-method is PREFERENCE"},
		{desc: "ES on a missing interface", edit: func(c *Config) { c.EthernetSegments["es1"].Interface = "eth7" },
			wantErr: `interface "eth7" does not exist`},
		{desc: "name differs from key", edit: func(c *Config) { c.EthernetSegments["es1"].Name = "other" },
			wantErr: `config/name "other" differs from the key`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			c := fixtureConfig()
			tc.edit(c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.wantErr)
			}
			if !errors.Is(err, errInvalid) {
				t.Errorf("Validate error does not wrap errInvalid: %v", err)
			}
		})
	}
}

func TestFDBDefaults(t *testing.T) {
	var f FDB
	if got := [2]int{int(f.MobilityWindow()), int(f.MobilityThreshold())}; got != [2]int{180, 5} {
		t.Errorf("defaults = %v, want [180 5]", got)
	}
	f.MACMobilityWindow, f.MACMobilityThreshold = ptr(uint16(60)), ptr(uint8(3))
	if got := [2]int{int(f.MobilityWindow()), int(f.MobilityThreshold())}; got != [2]int{60, 3} {
		t.Errorf("configured = %v, want [60 3]", got)
	}
}
