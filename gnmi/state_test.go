package gnmi

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/p4evpn/p4evpn/evpn/route"
	"google.golang.org/protobuf/testing/protocmp"
)

// stateLeaves reads every leaf under path straight from the cache.
func stateLeaves(srv *Server, path string) map[string]*gpb.TypedValue {
	r, err := resolve(srv.schema, mustPathT(path).GetElem(), true)
	if err != nil {
		panic(err)
	}
	out := map[string]*gpb.TypedValue{}
	for _, l := range srv.leavesUnder(r.elems, gpb.GetRequest_ALL) {
		out[FormatPath(l.elems)] = l.val
	}
	return out
}

func TestL2RIBAliasingSharesNextHops(t *testing.T) {
	srv, _ := startServer(t, Options{})
	st := srv.State()
	esi := route.MustESI("00:11:22:33:44:55:66:77:88:99")
	pe2 := L2NextHop{PeerIP: netip.MustParseAddr("192.0.2.2"), Label: 3001, ESI: esi, Resolved: true}
	pe3 := L2NextHop{PeerIP: netip.MustParseAddr("192.0.2.3"), Label: 3002, ESI: esi, Resolved: true}
	for _, mac := range []string{"00:00:5e:00:53:01", "00:00:5e:00:53:02"} {
		if err := st.SetL2RIBEntry("blue", L2RIBEntry{MAC: route.MustMAC(mac), VLAN: 100, Producers: []L2RIBProducer{
			{Producer: ProducerBGP, SeqNumber: 0, ESI: esi, NextHops: []L2NextHop{pe2, pe3}}}}); err != nil {
			t.Fatalf("SetL2RIBEntry: %v", err)
		}
	}
	table := blueFDB + "/l2rib/mac-table"
	got := stateLeaves(srv, table+"/next-hop-groups")
	grp := table + "/next-hop-groups/next-hop-group[id=1]"
	want := map[string]*gpb.TypedValue{
		grp + "/state/id": u(1), grp + "/state/esi": s("00112233445566778899"), grp + "/state/type": s("ESI"),
		grp + "/next-hops/next-hop[index=2]/state/index": u(2), grp + "/next-hops/next-hop[index=3]/state/index": u(3),
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("one shared aliasing group (-want +got):\n%s", diff)
	}
	if got := stateLeaves(srv, table+"/next-hops"); len(got) != 10 {
		t.Errorf("next-hops hold %d leaves, want 2 shared next hops x 5 leaves: %v", len(got), got)
	}
	prod := table + "/entries/entry[mac-address=00:00:5e:00:53:02]/producers/producer[producer=BGP]/state/next-hop-group"
	wantGroup := &gpb.TypedValue{Value: &gpb.TypedValue_LeaflistVal{LeaflistVal: &gpb.ScalarArray{Element: []*gpb.TypedValue{u(1)}}}}
	if diff := cmp.Diff(wantGroup, stateLeaves(srv, prod)[prod], protocmp.Transform()); diff != "" {
		t.Errorf("producer next-hop-group (-want +got):\n%s", diff)
	}
	// Mass withdrawal: both MACs go; the group and its next hops go with the last one.
	st.DeleteL2RIBEntry("blue", route.MustMAC("00:00:5e:00:53:01"))
	if got := stateLeaves(srv, table+"/next-hop-groups"); len(got) != 5 {
		t.Errorf("after one delete the group has %d leaves, want it kept (5)", len(got))
	}
	st.DeleteL2RIBEntry("blue", route.MustMAC("00:00:5e:00:53:02"))
	if got := stateLeaves(srv, table); len(got) != 0 {
		t.Errorf("after deleting every MAC the L2RIB holds %v", got)
	}
}

func TestSetObjectDropsLeavesAVersionLacks(t *testing.T) {
	srv, _ := startServer(t, Options{})
	mac := route.MustMAC("00:00:5e:00:53:01")
	srv.State().SetMACEntry("blue", MACEntry{MAC: mac, VLAN: 100, EVI: 100, Interface: "eth1", Subinterface: 100, Since: time.Now()})
	// The MAC moved to a remote PE: no local interface any more.
	srv.State().SetMACEntry("blue", MACEntry{MAC: mac, VLAN: 100, EVI: 100})
	e := macEntryPath("00:00:5e:00:53:01", 100)
	want := map[string]*gpb.TypedValue{
		e + "/state/mac-address": s("00:00:5e:00:53:01"), e + "/state/vlan": u(100),
		e + "/state/entry-type": s("DYNAMIC"), e + "/state/evi": u(100),
	}
	if diff := cmp.Diff(want, stateLeaves(srv, e), protocmp.Transform()); diff != "" {
		t.Errorf("entry after the move (-want +got):\n%s", diff)
	}
}

func TestStatePublishesEveryKind(t *testing.T) {
	srv, _ := startServer(t, Options{})
	st := srv.State()
	st.SetDesignatedForwarder("es1", DesignatedForwarder{VLAN: 100, Address: netip.MustParseAddr("192.0.2.3")})
	st.SetBGPNeighbor("DEFAULT", "BGP", BGPNeighborState{Address: netip.MustParseAddr("192.0.2.254"), SessionState: SessionEstablished,
		EstablishedTransitions: 1, LastEstablished: time.Unix(0, 1_700_000_000_000_000_000), UpdatesReceived: 7,
		NegotiatedHoldTime: 90, LocalPort: 40000, RemotePort: 179, RemoteAddress: netip.MustParseAddr("192.0.2.254"),
		EVPN: &AFISafiState{Active: true, Received: 12, ReceivedPrePolicy: 12, Sent: 3, Installed: ptr(uint32(10))}})
	st.SetInterface(InterfaceState{Name: "eth1", OperStatus: "UP", AdminStatus: "UP", Ifindex: 1, Counters: InterfaceCounters{InOctets: 1500, OutPkts: 4}})
	nb := "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address=192.0.2.254]"
	df := "/ethernet-segments/ethernet-segment[name=es1]/designated-forwarders/designated-forwarder[vlan=100]/state"
	checks := map[string]*gpb.TypedValue{
		df + "/df-address": s("192.0.2.3"), df + "/local": b(false), df + "/vlan": u(100),
		nb + "/state/session-state": s("ESTABLISHED"), nb + "/state/last-established": u(1_700_000_000_000_000_000),
		nb + "/state/messages/received/UPDATE": u(7), nb + "/timers/state/negotiated-hold-time": u(90),
		nb + "/transport/state/remote-port":                                           u(179),
		nb + "/afi-safis/afi-safi[afi-safi-name=L2VPN_EVPN]/state/active":             b(true),
		nb + "/afi-safis/afi-safi[afi-safi-name=L2VPN_EVPN]/state/prefixes/installed": u(10),
		"/interfaces/interface[name=eth1]/state/counters/in-octets":                   u(1500),
		"/interfaces/interface[name=eth1]/state/oper-status":                          s("UP"),
	}
	schema := newSchema()
	for path, want := range checks {
		got := stateLeaves(srv, path)[path]
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", path, diff)
		}
	}
	// Every published leaf is a state leaf of the schema.
	for path := range stateLeaves(srv, "/") {
		n := schemaFor(schema, mustPathT(path).GetElem())
		if n == nil || n.config || (n.kind != kindLeaf && n.kind != kindLeafList) {
			t.Errorf("published %s is not a state leaf of the schema", path)
		}
	}
	st.DeleteBGPNeighbor("DEFAULT", "BGP", netip.MustParseAddr("192.0.2.254"))
	st.DeleteDesignatedForwarder("es1", 100)
	st.DeleteInterface("eth1")
	if got := stateLeaves(srv, "/"); len(got) != 0 {
		t.Errorf("after deleting everything the cache holds %v", got)
	}
}

func TestSetL2RIBEntryRefusesBadInput(t *testing.T) {
	srv, _ := startServer(t, Options{})
	mac := route.MustMAC("00:00:5e:00:53:01")
	tests := []struct {
		desc    string
		entry   L2RIBEntry
		wantErr string
	}{
		{desc: "unknown producer", entry: L2RIBEntry{MAC: mac, Producers: []L2RIBProducer{{Producer: "OSPF"}}},
			wantErr: `producer "OSPF" is not LOCAL, STATIC or BGP`},
		{desc: "producer twice", entry: L2RIBEntry{MAC: mac, Producers: []L2RIBProducer{{Producer: ProducerBGP}, {Producer: ProducerBGP}}},
			wantErr: "producer BGP appears twice"},
		{desc: "bad mobility state", entry: L2RIBEntry{MAC: mac, Producers: []L2RIBProducer{{Producer: ProducerLocal, MobilityState: "STUCK"}}},
			wantErr: `mobility state "STUCK"`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			err := srv.State().SetL2RIBEntry("blue", tc.entry)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("SetL2RIBEntry = %v, want %q", err, tc.wantErr)
			}
			if got := stateLeaves(srv, blueFDB); len(got) != 0 {
				t.Errorf("a refused entry published %v", got)
			}
		})
	}
}

func TestParseElement(t *testing.T) {
	tests := []struct {
		desc    string
		in      string
		want    *gpb.PathElem
		wantErr string
	}{
		{desc: "plain", in: "config", want: &gpb.PathElem{Name: "config"}},
		{desc: "two keys", in: "entry[mac-address=00:00:5e:00:53:01][vlan=100]",
			want: &gpb.PathElem{Name: "entry", Key: map[string]string{"mac-address": "00:00:5e:00:53:01", "vlan": "100"}}},
		{desc: "escaped bracket", in: `interface[name=a\]b]`, want: &gpb.PathElem{Name: "interface", Key: map[string]string{"name": "a]b"}}},
		{desc: "unterminated", in: "interface[name=eth1", wantErr: `unterminated key "name"`},
		{desc: "no equals", in: "interface[name]", wantErr: "key without '='"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := parseElement(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("parseElement(%q) = %v, %v; want error %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseElement(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("parseElement(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// TestBGPNeighborInstalledUnknown: a neighbor whose installed count the
// device does not know publishes no installed leaf, not a copy of received.
func TestBGPNeighborInstalledUnknown(t *testing.T) {
	srv, addr := startServer(t, Options{})
	c := dial(t, addr, "viewer", "viewer-secret")
	srv.State().SetBGPNeighbor("DEFAULT", "BGP", BGPNeighborState{Address: netip.MustParseAddr("192.0.2.254"), SessionState: SessionEstablished,
		EVPN: &AFISafiState{Active: true, Received: 12, ReceivedPrePolicy: 13, Sent: 3}})
	prefixes := "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/" +
		"neighbor[neighbor-address=192.0.2.254]/afi-safis/afi-safi[afi-safi-name=L2VPN_EVPN]/state/prefixes"
	got := getJSON(t, c, prefixes, gpb.GetRequest_STATE, gpb.Encoding_JSON)
	want := map[string]any{"received": float64(12), "received-pre-policy": float64(13), "sent": float64(3)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Get prefixes (-want +got):\n%s", diff)
	}
}
