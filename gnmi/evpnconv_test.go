package gnmi

import (
	"net/netip"
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
		ACs:                map[asic.ACID]ACRef{ACIDFor(1, 100): {Interface: "eth1", Subinterface: 100}},
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

func TestFromEVPNMAC(t *testing.T) {
	acs := map[asic.ACID]ACRef{ACIDFor(1, 100): {Interface: "eth1", Subinterface: 100}}
	esi := route.MustESI("00:11:22:33:44:55:66:77:88:99")
	mac := route.MustMAC("00:00:5e:00:53:01")
	pe2 := netip.MustParseAddr("192.0.2.2")
	tests := []struct {
		desc    string
		in      evpn.MACState
		wantFIB MACEntry
		wantRIB L2RIBEntry
	}{
		{
			desc:    "local MAC on a segment",
			in:      evpn.MACState{MAC: mac, Source: evpn.SourceLocal, AC: ACIDFor(1, 100), ESI: esi, Sequence: 1},
			wantFIB: MACEntry{MAC: mac, VLAN: 100, EVI: 100, Interface: "eth1", Subinterface: 100},
			wantRIB: L2RIBEntry{MAC: mac, VLAN: 100, EVI: 100, Producers: []L2RIBProducer{{Producer: ProducerLocal, SeqNumber: 1, ESI: esi,
				NextHops: []L2NextHop{{Interface: "eth1", Subinterface: 100, ESI: esi, Resolved: true}}}}},
		},
		{
			desc: "remote MAC behind PE 192.0.2.2, frozen duplicate",
			in: evpn.MACState{MAC: mac, Source: evpn.SourceRemote, Peer: pe2, Sequence: 7, Frozen: true,
				Dest: asic.Destination{Kind: asic.ToRemotePE, Label: 3001}},
			wantFIB: MACEntry{MAC: mac, VLAN: 100, EVI: 100},
			wantRIB: L2RIBEntry{MAC: mac, VLAN: 100, EVI: 100, Producers: []L2RIBProducer{{Producer: ProducerBGP, SeqNumber: 7,
				MobilityState: MobilityDuplicate, NextHops: []L2NextHop{{PeerIP: pe2, Label: 3001, Resolved: true}}}}},
		},
		{
			desc:    "static MAC",
			in:      evpn.MACState{MAC: mac, Source: evpn.SourceStatic, AC: ACIDFor(1, 100), Sticky: true},
			wantFIB: MACEntry{MAC: mac, VLAN: 100, EVI: 100, Static: true, Interface: "eth1", Subinterface: 100},
			wantRIB: L2RIBEntry{MAC: mac, VLAN: 100, EVI: 100, Producers: []L2RIBProducer{{Producer: ProducerStatic, Sticky: true,
				NextHops: []L2NextHop{{Interface: "eth1", Subinterface: 100, Resolved: true}}}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			fib, rib := FromEVPNMAC(100, 100, tc.in, acs)
			opt := cmp.Exporter(func(reflect.Type) bool { return true })
			if diff := cmp.Diff(tc.wantFIB, fib, opt); diff != "" {
				t.Errorf("FIB entry (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRIB, rib, opt); diff != "" {
				t.Errorf("L2RIB entry (-want +got):\n%s", diff)
			}
		})
	}
}
