package bgp

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"

	"github.com/p4evpn/p4evpn/evpn/route"
)

// throughWire sends an api.Path through GoBGP's own codec the way a route
// crosses a session: api → native attributes → UPDATE bytes → parsed UPDATE
// → api, so what the test compares is what a peer would decode.
func throughWire(t *testing.T, p *api.Path) (*api.Path, []byte) {
	t.Helper()
	nlri, err := apiutil.GetNativeNlri(p)
	if err != nil {
		t.Fatalf("GoBGP cannot take our NLRI: %v", err)
	}
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		t.Fatalf("GoBGP cannot take our attributes: %v", err)
	}
	msg, err := bgp.NewBGPUpdateMessage(nil, attrs, nil).Serialize()
	if err != nil {
		t.Fatalf("serialize UPDATE: %v", err)
	}
	parsed, err := bgp.ParseBGPMessage(msg)
	if err != nil {
		t.Fatalf("GoBGP cannot parse the UPDATE it wrote: %v", err)
	}
	upd := parsed.Body.(*bgp.BGPUpdate)
	var back bgp.AddrPrefixInterface
	for _, a := range upd.PathAttributes {
		if mp, ok := a.(*bgp.PathAttributeMpReachNLRI); ok && len(mp.Value) == 1 {
			back = mp.Value[0]
		}
	}
	if back == nil || back.String() != nlri.String() {
		t.Fatalf("NLRI after the wire = %v, want %v", back, nlri)
	}
	out, err := apiutil.NewPath(back, false, upd.PathAttributes, time.Now())
	if err != nil {
		t.Fatalf("back to api: %v", err)
	}
	return out, msg
}

func TestPathRoundTripThroughGoBGPWire(t *testing.T) {
	pe := netip.MustParseAddr("192.0.2.1")
	for _, p := range samplePaths(pe) {
		t.Run(p.NLRI.String(), func(t *testing.T) {
			ap, err := encodePath(p, pe)
			if err != nil {
				t.Fatalf("encodePath: %v", err)
			}
			back, _ := throughWire(t, ap)
			got, err := decodePath(back)
			if err != nil {
				t.Fatalf("decodePath: %v", err)
			}
			want := p
			want.Attrs.NextHop = pe
			if diff := cmp.Diff(want, got.Path, pathOpts); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if got.unknownExt != 0 {
				t.Errorf("%d extended communities not recognised", got.unknownExt)
			}
		})
	}
}

// TestWireEncoding pins the octets peers see for the fields where GoBGP's
// own representation differs from the RFCs' (labels) or where it has no type
// (DF election).
func TestWireEncoding(t *testing.T) {
	rd := route.MustRD("65000:1")
	for _, tc := range []struct {
		desc string
		path route.Path
		want []byte // must appear in the UPDATE
	}{
		{
			desc: "RT-2 label1 100 and label2 0xFFFFF in the high 20 bits, S bit set",
			path: route.Path{NLRI: route.MACIP{RD: rd, MAC: route.MustMAC("00:00:00:00:00:01"), Label1: 100, Label2: route.MaxLabel}},
			want: []byte{0x00, 0x06, 0x41, 0xFF, 0xFF, 0xF1},
		},
		{
			desc: "ESI label 17, single-active",
			path: route.Path{NLRI: route.EthernetAD{RD: rd, EthernetTag: route.MaxEthernetTag},
				Attrs: route.Attributes{ESILabel: &route.ESILabel{SingleActive: true, Label: 17}}},
			want: []byte{0x06, 0x01, 0x01, 0x00, 0x00, 0x00, 0x01, 0x11},
		},
		{
			desc: "MAC mobility sequence 258, sticky",
			path: route.Path{NLRI: route.MACIP{RD: rd, MAC: route.MustMAC("00:00:00:00:00:01")},
				Attrs: route.Attributes{MACMobility: &route.MACMobility{Sequence: 258, Sticky: true}}},
			want: []byte{0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x02},
		},
		{
			desc: "PMSI ingress replication label 5001, tunnel 192.0.2.1",
			path: route.Path{NLRI: route.InclusiveMulticast{RD: rd, OriginatorIP: netip.MustParseAddr("192.0.2.1")},
				Attrs: route.Attributes{PMSI: &route.PMSITunnel{TunnelType: route.TunnelTypeIngressReplication, Label: 5001}}},
			want: []byte{0xC0, 0x16, 0x09, 0x00, 0x06, 0x01, 0x38, 0x91, 192, 0, 2, 1},
		},
		{
			desc: "DF election preference 100, don't preempt",
			path: route.Path{NLRI: route.EthernetSegment{RD: rd, OriginatorIP: netip.MustParseAddr("192.0.2.1")},
				Attrs: route.Attributes{DFElection: &route.DFElection{Algorithm: route.DFPreference, Preference: 100, DontPreempt: true}}},
			want: []byte{0x06, 0x06, 0x02, 0x20, 0x00, 0x00, 0x00, 0x64},
		},
		{
			desc: "DF election HRW with AC-DF",
			path: route.Path{NLRI: route.EthernetSegment{RD: rd, OriginatorIP: netip.MustParseAddr("192.0.2.1")},
				Attrs: route.Attributes{DFElection: &route.DFElection{Algorithm: route.DFHRW, AC: true}}},
			want: []byte{0x06, 0x06, 0x01, 0x40, 0x00, 0x00, 0x00, 0x00},
		},
		{
			desc: "default gateway",
			path: route.Path{NLRI: route.MACIP{RD: rd, MAC: route.MustMAC("00:00:00:00:00:01")}, Attrs: route.Attributes{DefaultGateway: true}},
			want: []byte{0x03, 0x0d, 0, 0, 0, 0, 0, 0},
		},
		{
			desc: "ES-import route target",
			path: route.Path{NLRI: route.EthernetSegment{RD: rd, OriginatorIP: netip.MustParseAddr("192.0.2.1")},
				Attrs: route.Attributes{ESImport: &testESImp}},
			want: append([]byte{0x06, 0x02}, testESImp[:]...),
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			ap, err := encodePath(tc.path, netip.MustParseAddr("192.0.2.1"))
			if err != nil {
				t.Fatal(err)
			}
			attrs, err := apiutil.GetNativePathAttributes(ap)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := bgp.NewBGPUpdateMessage(nil, attrs, nil).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(msg, tc.want) {
				t.Errorf("UPDATE % x\ndoes not contain % x", msg, tc.want)
			}
		})
	}
}

// TestGoBGPKeepsUnknownEVPNCommunities: GoBGP's parser keeps an EVPN
// extended community of a sub-type it has no type for (DF Election of
// RFC 8584 among them) as an opaque *bgp.UnknownExtended and writes it back
// unchanged, so a GoBGP route reflector passes it on. GoBGP v3.37.0 rejected
// the UPDATE instead (treat-as-withdraw), losing every RT-4 with a DF
// Election community; third_party/gobgp/PATCHES.md fixes that.
func TestGoBGPKeepsUnknownEVPNCommunities(t *testing.T) {
	pe := netip.MustParseAddr("192.0.2.1")
	dfOctets := func(d route.DFElection) []byte {
		v, err := encodeDFElection(d)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		desc string
		// value is the community's seven octets after the type (0x06).
		value []byte
	}{
		{desc: "DF election modulo", value: dfOctets(route.DFElection{Algorithm: route.DFModulo})},
		{desc: "DF election HRW with AC-DF", value: dfOctets(route.DFElection{Algorithm: route.DFHRW, AC: true})},
		{desc: "DF election preference 300, don't preempt", value: dfOctets(route.DFElection{Algorithm: route.DFPreference, Preference: 300, DontPreempt: true})},
		{desc: "unassigned EVPN sub-type 0xfe", value: []byte{0xfe, 1, 2, 3, 4, 5, 6}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			nlri := []byte{4, 23, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1, 1, 2, 0, 0, 0x5e, 0, 0x53, 0, 7, 0, 32, 192, 0, 2, 1}
			comm := append([]byte{extCommTypeEVPN}, tc.value...)
			msg := update(attrOrigin, attrASPath, attr(0xC0, 16, comm), mpReach(pe, nlri))
			parsed, err := bgp.ParseBGPMessage(msg)
			if err != nil {
				t.Fatalf("GoBGP parse: %v", err)
			}
			var got []bgp.ExtendedCommunityInterface
			for _, a := range parsed.Body.(*bgp.BGPUpdate).PathAttributes {
				if ec, ok := a.(*bgp.PathAttributeExtendedCommunities); ok {
					got = ec.Value
				}
			}
			want := []bgp.ExtendedCommunityInterface{&bgp.UnknownExtended{Type: bgp.EC_TYPE_EVPN, Value: tc.value}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("extended communities (-want +got):\n%s", diff)
			}
			again, err := parsed.Serialize()
			if err != nil {
				t.Fatalf("GoBGP cannot write the UPDATE it parsed: %v", err)
			}
			if !bytes.Equal(again, msg) {
				t.Errorf("UPDATE written back differs:\n got % x\nwant % x", again, msg)
			}
		})
	}
}

func TestDFElectionDecode(t *testing.T) {
	for _, tc := range []struct {
		desc string
		in   route.DFElection
	}{
		{desc: "modulo", in: route.DFElection{Algorithm: route.DFModulo}},
		{desc: "HRW with AC-DF", in: route.DFElection{Algorithm: route.DFHRW, AC: true}},
		{desc: "preference 65535 don't preempt", in: route.DFElection{Algorithm: route.DFPreference, Preference: 65535, DontPreempt: true}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			comms, err := encodeExtCommunities(route.Attributes{DFElection: &tc.in})
			if err != nil {
				t.Fatal(err)
			}
			var a route.Attributes
			if unknown, err := decodeExtCommunities(&a, comms); err != nil || unknown != 0 {
				t.Fatalf("decode: unknown %d, err %v", unknown, err)
			}
			if diff := cmp.Diff(&tc.in, a.DFElection); diff != "" {
				t.Errorf("DF election (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeRejectsBadValues(t *testing.T) {
	pe := netip.MustParseAddr("192.0.2.1")
	rd := route.AutoRD(pe, 1)
	mac := route.MustMAC("00:00:00:00:00:01")
	for _, tc := range []struct {
		desc    string
		path    route.Path
		nextHop netip.Addr
		wantErr string
	}{
		{desc: "label1 over 20 bits", path: route.Path{NLRI: route.MACIP{RD: rd, MAC: mac, Label1: 1 << 20}}, nextHop: pe, wantErr: "label1 1048576 does not fit in 20 bits"},
		{desc: "ESI label over 20 bits", path: route.Path{NLRI: route.EthernetAD{RD: rd}, Attrs: route.Attributes{ESILabel: &route.ESILabel{Label: 1 << 21}}}, nextHop: pe, wantErr: "ESI label 2097152"},
		{desc: "PMSI label over 20 bits", path: route.Path{NLRI: route.InclusiveMulticast{RD: rd, OriginatorIP: pe}, Attrs: route.Attributes{PMSI: &route.PMSITunnel{TunnelType: 6, Label: 1 << 20}}}, nextHop: pe, wantErr: "PMSI label"},
		{desc: "2-octet RD with a 4-octet AS", path: route.Path{NLRI: route.MACIP{RD: route.RD{Admin: route.Admin{ASN: 70000}, Assigned: 1}, MAC: mac}}, nextHop: pe, wantErr: "AS 70000 needs FourOctet"},
		{desc: "IPv4 RD with a 32-bit number", path: route.Path{NLRI: route.MACIP{RD: route.RD{Admin: route.Admin{IP: pe}, Assigned: 70000}, MAC: mac}}, nextHop: pe, wantErr: "exceeds 16 bits"},
		{desc: "IPv6 RD administrator", path: route.Path{NLRI: route.MACIP{RD: route.RD{Admin: route.Admin{IP: netip.MustParseAddr("2001:db8::1")}}, MAC: mac}}, nextHop: pe, wantErr: "administrator must be IPv4"},
		{desc: "route target 4-octet AS with 32-bit number", path: route.Path{NLRI: route.MACIP{RD: rd, MAC: mac}, Attrs: route.Attributes{RouteTargets: []route.RouteTarget{{Admin: route.Admin{ASN: 4200000000, FourOctet: true}, Assigned: 1 << 16}}}}, nextHop: pe, wantErr: "route target 4200000000:65536"},
		{desc: "IMET without originator", path: route.Path{NLRI: route.InclusiveMulticast{RD: rd}}, nextHop: pe, wantErr: "originating router's IP missing"},
		{desc: "ES route without originator", path: route.Path{NLRI: route.EthernetSegment{RD: rd}}, nextHop: pe, wantErr: "originating router's IP missing"},
		{desc: "no next hop", path: route.Path{NLRI: route.MACIP{RD: rd, MAC: mac}}, wantErr: "no next hop"},
		{desc: "nil NLRI", path: route.Path{}, nextHop: pe, wantErr: "nil NLRI"},
		{desc: "DF algorithm over 5 bits", path: route.Path{NLRI: route.EthernetSegment{RD: rd, OriginatorIP: pe}, Attrs: route.Attributes{DFElection: &route.DFElection{Algorithm: 32}}}, nextHop: pe, wantErr: "DF election algorithm 32"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := encodePath(tc.path, tc.nextHop)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.wantErr)) {
				t.Errorf("encodePath error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestDecodeRejectsBadValues(t *testing.T) {
	rd := mustAny(&api.RouteDistinguisherTwoOctetASN{Admin: 1, Assigned: 1})
	for _, tc := range []struct {
		desc    string
		nlri    *api.EVPNMACIPAdvertisementRoute
		wantErr string
	}{
		{desc: "short ESI", nlri: &api.EVPNMACIPAdvertisementRoute{Rd: rd, Esi: &api.EthernetSegmentIdentifier{Value: []byte{1}}, MacAddress: "00:00:00:00:00:01"}, wantErr: "nine value octets"},
		{desc: "bad MAC", nlri: &api.EVPNMACIPAdvertisementRoute{Rd: rd, MacAddress: "zz"}, wantErr: `MAC "zz"`},
		{desc: "bad IP", nlri: &api.EVPNMACIPAdvertisementRoute{Rd: rd, MacAddress: "00:00:00:00:00:01", IpAddress: "1.2.3"}, wantErr: `"1.2.3"`},
		{desc: "no RD", nlri: &api.EVPNMACIPAdvertisementRoute{MacAddress: "00:00:00:00:00:01"}, wantErr: "route distinguisher missing"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := decodeNLRI(mustAny(tc.nlri))
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.wantErr)) {
				t.Errorf("decodeNLRI error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := decodeNLRI(mustAny(&api.EVPNIPPrefixRoute{Rd: rd})); err == nil {
		t.Error("decodeNLRI accepted a type-5 route, which p4evpn does not model")
	}
}

func TestRouteKeyIgnoresAttributesOfTheRoute(t *testing.T) {
	rd := route.MustRD("65000:1")
	a := route.MACIP{RD: rd, ESI: testESI, MAC: route.MustMAC("00:00:00:00:00:01"), Label1: 1, Label2: 2}
	b := route.MACIP{RD: rd, MAC: route.MustMAC("00:00:00:00:00:01"), Label1: 3}
	if route.Key(a) != route.Key(b) {
		t.Errorf("Key(%v) != Key(%v): labels and ESI are not part of a type-2 key", a, b)
	}
	c := route.EthernetAD{RD: rd, ESI: testESI, Label: 9}
	if route.Key(c) != (route.EthernetAD{RD: rd, ESI: testESI}) {
		t.Errorf("Key(%v) kept the label", c)
	}
	if route.Key(a) == route.Key(route.MACIP{RD: rd, MAC: route.MustMAC("00:00:00:00:00:02")}) {
		t.Error("different MACs share a key")
	}
}
