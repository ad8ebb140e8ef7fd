package gnmi

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
)

func TestEVPNPlan(t *testing.T) {
	c := fixtureConfig()
	// Put the AC on the segment, as a multihomed CE would be.
	c.EthernetSegments["es1"].Interface = "eth1"
	ports := map[string]asic.PortID{"eth1": 1, "eth2": 2}
	plan, err := c.EVPN(ports)
	if err != nil {
		t.Fatalf("EVPN: %v", err)
	}
	esi := route.MustESI("00:11:22:33:44:55:66:77:88:99")
	want := &EVPNPlan{
		Segments: []evpn.SegmentConfig{{ESI: esi, Redundancy: evpn.AllActive,
			DF: evpn.DFConfig{Algorithm: route.DFPreference, Preference: 200}}},
		EVIs: []evpn.EVIConfig{{ID: 100, BD: 100, VLAN: 100,
			ImportRTs: []route.RouteTarget{mustRT(t, "65000:100")}, ExportRTs: []route.RouteTarget{mustRT(t, "65000:100")},
			ACs: []evpn.ACConfig{{ID: ACIDFor(1, 100), Port: 1, VLAN: 100, ESI: esi}}}},
		DuplicateDetection: map[uint32]evpn.DuplicateDetection{100: {Moves: 5, Window: 180 * time.Second}},
		ElectionWait:       map[route.ESI]time.Duration{esi: 3 * time.Second},
	}
	// route.RouteTarget and netip.Addr hide their fields; compare them all.
	if diff := cmp.Diff(want, plan, cmp.Exporter(func(reflect.Type) bool { return true })); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

func mustRT(t *testing.T, s string) route.RouteTarget {
	t.Helper()
	rt, err := route.ParseRouteTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func TestEVPNPlanRefuses(t *testing.T) {
	tests := []struct {
		desc    string
		edit    func(*Config)
		wantErr string
	}{
		{desc: "EVI above 65535", edit: func(c *Config) {
			blue := c.NetworkInstances["blue"]
			blue.EVPNInstances = map[string]*EVPNInstance{"70000": {EVI: "70000"}}
		}, wantErr: "evpn needs an EVI number in 1..65535"},
		{desc: "VLAN-aware service", edit: func(c *Config) { c.NetworkInstances["blue"].EVPNInstances["100"].ServiceType = ServiceVLANAware },
			wantErr: "service-type VLAN_AWARE is not supported"},
		{desc: "VXLAN", edit: func(c *Config) { c.NetworkInstances["blue"].EncapsulationType = EncapsulationVXLAN },
			wantErr: "VXLAN encapsulation is not supported"},
		{desc: "AUTO ESI", edit: func(c *Config) {
			c.EthernetSegments["es1"].ESIType, c.EthernetSegments["es1"].ESI = ESIType1LACP, "AUTO"
		}, wantErr: "an auto-derived ESI is not supported"},
		{desc: "AC on a port the switch lacks", edit: func(c *Config) {
			c.Interfaces["eth3"] = &Interface{Name: "eth3"}
			c.NetworkInstances["blue"].Interfaces["eth3"] = &NetworkInstanceInterface{ID: "eth3", Interface: "eth3"}
		}, wantErr: `interface "eth3" is not a port of this switch`},
		{desc: "two VLANs in a VLAN-based EVI", edit: func(c *Config) { c.NetworkInstances["blue"].VLANs[200] = &VLAN{ID: 200} },
			wantErr: "a VLAN-based EVI bridges one VLAN, got [100 200]"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			c := fixtureConfig()
			tc.edit(c)
			_, err := c.EVPN(map[string]asic.PortID{"eth1": 1, "eth2": 2})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("EVPN = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
