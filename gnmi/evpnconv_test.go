package gnmi

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
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
	pe2, pe3 := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	// Group 7: the segment's PEs 192.0.2.2 and .3; group 8: all withdrew.
	groups := map[asic.GroupID][]L2NextHop{
		7: {{PeerIP: pe2, Label: 3001, Resolved: true}, {PeerIP: pe3, Label: 4001, Resolved: true}},
		8: {},
	}
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
			desc: "remote MAC behind an all-active segment: every PE of its aliasing group is a next hop",
			in: evpn.MACState{MAC: mac, Source: evpn.SourceRemote, Peer: pe3, ESI: esi, Sequence: 2,
				Dest: asic.Destination{Kind: asic.ToAliasingGroup, Group: 7}},
			wantFIB: MACEntry{MAC: mac, VLAN: 100, EVI: 100},
			wantRIB: L2RIBEntry{MAC: mac, VLAN: 100, EVI: 100, Producers: []L2RIBProducer{{Producer: ProducerBGP, SeqNumber: 2, ESI: esi,
				NextHops: []L2NextHop{{PeerIP: pe2, Label: 3001, ESI: esi, Resolved: true}, {PeerIP: pe3, Label: 4001, ESI: esi, Resolved: true}}}}},
		},
		{
			desc: "remote MAC whose aliasing group lost every PE: the advertiser, unresolved",
			in: evpn.MACState{MAC: mac, Source: evpn.SourceRemote, Peer: pe3, ESI: esi,
				Dest: asic.Destination{Kind: asic.ToAliasingGroup, Group: 8}},
			wantFIB: MACEntry{MAC: mac, VLAN: 100, EVI: 100},
			wantRIB: L2RIBEntry{MAC: mac, VLAN: 100, EVI: 100, Producers: []L2RIBProducer{{Producer: ProducerBGP, ESI: esi,
				NextHops: []L2NextHop{{PeerIP: pe3, ESI: esi}}}}},
		},
		{
			desc: "remote MAC through a group the state lacks: the advertiser alone",
			in: evpn.MACState{MAC: mac, Source: evpn.SourceRemote, Peer: pe3, ESI: esi,
				Dest: asic.Destination{Kind: asic.ToAliasingGroup, Group: 9}},
			wantFIB: MACEntry{MAC: mac, VLAN: 100, EVI: 100},
			wantRIB: L2RIBEntry{MAC: mac, VLAN: 100, EVI: 100, Producers: []L2RIBProducer{{Producer: ProducerBGP, ESI: esi,
				NextHops: []L2NextHop{{PeerIP: pe3, ESI: esi, Resolved: true}}}}},
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
			fib, rib := FromEVPNMAC(100, 100, tc.in, acs, groups)
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

func TestAliasing(t *testing.T) {
	pe2, pe3 := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	desired := []asic.Entity{
		asic.RemotePE{ID: 1, Address: pe2}, asic.RemotePE{ID: 2, Address: pe3},
		asic.ServiceLabel{PE: 1, BD: 100, Label: 3001}, asic.ServiceLabel{PE: 1, BD: 200, Label: 3002},
		asic.ServiceLabel{PE: 2, BD: 200, Label: 4002},
		// A single-active segment lists its primary (.3) first.
		asic.AliasingGroup{ID: 7, SingleActive: true, Members: []asic.RemotePEID{2, 1}},
		asic.FDBEntry{BD: 100, MAC: route.MustMAC("00:00:5e:00:53:01"), Dest: asic.Destination{Kind: asic.ToAliasingGroup, Group: 7}},
	}
	tests := []struct {
		desc string
		bd   asic.BridgeDomainID
		want map[asic.GroupID][]L2NextHop
	}{
		{desc: "bd 100: .3 has no per-EVI label for it", bd: 100, want: map[asic.GroupID][]L2NextHop{
			7: {{PeerIP: pe3}, {PeerIP: pe2, Label: 3001, Resolved: true}}}},
		{desc: "bd 200: both labels", bd: 200, want: map[asic.GroupID][]L2NextHop{
			7: {{PeerIP: pe3, Label: 4002, Resolved: true}, {PeerIP: pe2, Label: 3002, Resolved: true}}}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			opt := cmp.Exporter(func(reflect.Type) bool { return true })
			if diff := cmp.Diff(tc.want, NewAliasing(desired).Groups(tc.bd), opt); diff != "" {
				t.Errorf("Groups (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAliasedMACOverGet: a MAC behind an all-active segment of two remote
// PEs, converted from evpn's state, reads back over Get as a next-hop group
// of type ESI whose next hops are both PEs with their per-EVI labels.
func TestAliasedMACOverGet(t *testing.T) {
	srv, addr := startServer(t, Options{})
	c := dial(t, addr, "viewer", "viewer-secret")
	esi := route.MustESI("00:11:22:33:44:55:66:77:88:99")
	desired := []asic.Entity{
		asic.RemotePE{ID: 1, Address: netip.MustParseAddr("192.0.2.2")}, asic.RemotePE{ID: 2, Address: netip.MustParseAddr("192.0.2.3")},
		asic.ServiceLabel{PE: 1, BD: 100, Label: 3001}, asic.ServiceLabel{PE: 2, BD: 100, Label: 4001},
		asic.AliasingGroup{ID: 7, Members: []asic.RemotePEID{1, 2}},
	}
	m := evpn.MACState{MAC: route.MustMAC("00:00:5e:00:53:01"), Source: evpn.SourceRemote, Peer: netip.MustParseAddr("192.0.2.3"),
		ESI: esi, Sequence: 1, Dest: asic.Destination{Kind: asic.ToAliasingGroup, Group: 7}}
	_, rib := FromEVPNMAC(100, 100, m, nil, NewAliasing(desired).Groups(100))
	if err := srv.State().SetL2RIBEntry("blue", rib); err != nil {
		t.Fatalf("SetL2RIBEntry: %v", err)
	}
	got := getJSON(t, c, blueFDB+"/l2rib/mac-table", gpb.GetRequest_STATE, gpb.Encoding_JSON)
	want := decodeJSON(t, []byte(`{
		"entries": {"entry": [{"mac-address": "00:00:5e:00:53:01",
			"state": {"mac-address": "00:00:5e:00:53:01", "vlan": 100, "evi": 100},
			"producers": {"producer": [{"producer": "BGP", "state": {"producer": "BGP", "seq-number": 1, "sticky": false,
				"esi": "00112233445566778899", "next-hop-group": [1]}}]}}]},
		"next-hop-groups": {"next-hop-group": [{"id": 1, "state": {"id": 1, "esi": "00112233445566778899", "type": "ESI"},
			"next-hops": {"next-hop": [{"index": 2, "state": {"index": 2}}, {"index": 3, "state": {"index": 3}}]}}]},
		"next-hops": {"next-hop": [
			{"index": 2, "state": {"index": 2, "peer-ip": "192.0.2.2", "label": 3001, "esi": "00112233445566778899", "resolved": true}},
			{"index": 3, "state": {"index": 3, "peer-ip": "192.0.2.3", "label": 4001, "esi": "00112233445566778899", "resolved": true}}]}}`))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Get l2rib (-want +got):\n%s", diff)
	}
}
