package bgp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/p4evpn/p4evpn/evpn/route"
)

// evpnFamily is AFI 25 (L2VPN) / SAFI 70 (EVPN).
var evpnFamily = &api.Family{Afi: api.Family_AFI_L2VPN, Safi: api.Family_SAFI_EVPN}

// Wire constants GoBGP does not name or does not know.
const (
	// extCommTypeEVPN is the EVPN extended community type (RFC 7153).
	extCommTypeEVPN = 0x06
	// extCommSubtypeDFElection is the DF Election extended community
	// (RFC 8584 §2.2). GoBGP has no type for it: it is carried as an
	// api.UnknownExtended with Type 0x06 and the seven octets that follow
	// (on receipt too, with third_party/gobgp's patch 1; upstream v3.37.0
	// rejected the UPDATE).
	extCommSubtypeDFElection = 0x06
	// subtypeRouteTarget is the route-target sub-type of the AS, IPv4 and
	// 4-octet-AS specific extended communities.
	subtypeRouteTarget = 0x02
	// dfBitmapAC is the AC-DF capability, bit 1 of the DF election bitmap
	// (RFC 8584 §2.2, bits numbered from the most significant).
	dfBitmapAC = 1 << 14
	// dfBitmapDontPreempt is the DP bit of RFC 9785, bit 2 of the bitmap.
	dfBitmapDontPreempt = 1 << 13
	// labelBottomOfStack is the S bit in the low nibble of a 3-octet MPLS
	// label field; FRR sets it on everything it sends, so we do too.
	labelBottomOfStack = 1
)

// encodeLabel turns a 20-bit MPLS label into the 3-octet field GoBGP writes
// verbatim: the label in the high-order 20 bits (RFC 7432 §7, RFC 6514 §5),
// bottom-of-stack set. GoBGP itself treats the field as an opaque 24-bit
// number, so without this shift FRR and routers would read label>>4.
func encodeLabel(what string, l uint32) (uint32, error) {
	if l > route.MaxLabel {
		return 0, fmt.Errorf("%s %d does not fit in 20 bits", what, l)
	}
	return l<<4 | labelBottomOfStack, nil
}

// decodeLabel is the inverse of encodeLabel: the high-order 20 bits; the
// traffic-class and S bits are ignored, as receivers must.
func decodeLabel(field uint32) uint32 { return (field >> 4) & route.MaxLabel }

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		// anypb.New fails only for messages it cannot marshal; every message
		// here is a generated GoBGP type with plain fields.
		panic(fmt.Sprintf("bgp: marshal %T: %v", m, err))
	}
	return a
}

func encodeRD(rd route.RD) (*anypb.Any, error) {
	switch {
	case rd.Admin.IP.IsValid():
		if !rd.Admin.IP.Is4() {
			return nil, fmt.Errorf("route distinguisher %s: administrator must be IPv4", rd)
		}
		if rd.Assigned > 0xFFFF {
			return nil, fmt.Errorf("route distinguisher %s: assigned number exceeds 16 bits", rd)
		}
		return mustAny(&api.RouteDistinguisherIPAddress{Admin: rd.Admin.IP.String(), Assigned: rd.Assigned}), nil
	case rd.Admin.FourOctet:
		if rd.Assigned > 0xFFFF {
			return nil, fmt.Errorf("route distinguisher %s: assigned number exceeds 16 bits", rd)
		}
		return mustAny(&api.RouteDistinguisherFourOctetASN{Admin: rd.Admin.ASN, Assigned: rd.Assigned}), nil
	default:
		if rd.Admin.ASN > 0xFFFF {
			return nil, fmt.Errorf("route distinguisher %s: AS %d needs FourOctet", rd, rd.Admin.ASN)
		}
		return mustAny(&api.RouteDistinguisherTwoOctetASN{Admin: rd.Admin.ASN, Assigned: rd.Assigned}), nil
	}
}

func decodeRD(a *anypb.Any) (route.RD, error) {
	if a == nil {
		return route.RD{}, fmt.Errorf("route distinguisher missing")
	}
	m, err := a.UnmarshalNew()
	if err != nil {
		return route.RD{}, fmt.Errorf("route distinguisher %s: %w", a.GetTypeUrl(), err)
	}
	switch v := m.(type) {
	case *api.RouteDistinguisherTwoOctetASN:
		return route.RD{Admin: route.Admin{ASN: v.Admin}, Assigned: v.Assigned}, nil
	case *api.RouteDistinguisherFourOctetASN:
		return route.RD{Admin: route.Admin{ASN: v.Admin, FourOctet: true}, Assigned: v.Assigned}, nil
	case *api.RouteDistinguisherIPAddress:
		ip, err := netip.ParseAddr(v.Admin)
		if err != nil {
			return route.RD{}, fmt.Errorf("route distinguisher administrator %q: %w", v.Admin, err)
		}
		return route.RD{Admin: route.Admin{IP: ip}, Assigned: v.Assigned}, nil
	}
	return route.RD{}, fmt.Errorf("route distinguisher of unknown type %s", a.GetTypeUrl())
}

func encodeESI(e route.ESI) *api.EthernetSegmentIdentifier {
	return &api.EthernetSegmentIdentifier{Type: uint32(e[0]), Value: append([]byte(nil), e[1:]...)}
}

func decodeESI(e *api.EthernetSegmentIdentifier) (route.ESI, error) {
	var out route.ESI
	if e == nil {
		return out, nil
	}
	if e.Type > 0xFF || len(e.Value) != 9 {
		return out, fmt.Errorf("ESI type %d value %x: want one type octet and nine value octets", e.Type, e.Value)
	}
	out[0] = byte(e.Type)
	copy(out[1:], e.Value)
	return out, nil
}

func decodeIP(what, s string) (netip.Addr, error) {
	// GoBGP prints an absent address as "<nil>" (net.IP(nil).String()).
	if s == "" || s == "<nil>" {
		return netip.Addr{}, nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s %q: %w", what, s, err)
	}
	return ip.Unmap(), nil
}

func ipString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.String()
}

// encodeNLRI converts a typed EVPN route key into GoBGP's api NLRI.
func encodeNLRI(n route.NLRI) (*anypb.Any, error) {
	if n == nil {
		return nil, fmt.Errorf("nil NLRI")
	}
	rd, err := encodeRD(n.Distinguisher())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n, err)
	}
	switch r := n.(type) {
	case route.EthernetAD:
		label, err := encodeLabel("label", r.Label)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		return mustAny(&api.EVPNEthernetAutoDiscoveryRoute{Rd: rd, Esi: encodeESI(r.ESI), EthernetTag: r.EthernetTag, Label: label}), nil
	case route.MACIP:
		l1, err := encodeLabel("label1", r.Label1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		labels := []uint32{l1}
		if r.Label2 != 0 {
			l2, err := encodeLabel("label2", r.Label2)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			labels = append(labels, l2)
		}
		return mustAny(&api.EVPNMACIPAdvertisementRoute{
			Rd: rd, Esi: encodeESI(r.ESI), EthernetTag: r.EthernetTag,
			MacAddress: r.MAC.String(), IpAddress: ipString(r.IP), Labels: labels,
		}), nil
	case route.InclusiveMulticast:
		if !r.OriginatorIP.IsValid() {
			return nil, fmt.Errorf("%s: originating router's IP missing", n)
		}
		return mustAny(&api.EVPNInclusiveMulticastEthernetTagRoute{Rd: rd, EthernetTag: r.EthernetTag, IpAddress: r.OriginatorIP.String()}), nil
	case route.EthernetSegment:
		if !r.OriginatorIP.IsValid() {
			return nil, fmt.Errorf("%s: originating router's IP missing", n)
		}
		return mustAny(&api.EVPNEthernetSegmentRoute{Rd: rd, Esi: encodeESI(r.ESI), IpAddress: r.OriginatorIP.String()}), nil
	}
	return nil, fmt.Errorf("NLRI %s: unsupported type %T", n, n)
}

// decodeNLRI converts GoBGP's api NLRI into a typed EVPN route key. Route
// types p4evpn does not use (5 and up) are an error naming the type.
func decodeNLRI(a *anypb.Any) (route.NLRI, error) {
	if a == nil {
		return nil, fmt.Errorf("NLRI missing")
	}
	m, err := a.UnmarshalNew()
	if err != nil {
		return nil, fmt.Errorf("NLRI %s: %w", a.GetTypeUrl(), err)
	}
	switch v := m.(type) {
	case *api.EVPNEthernetAutoDiscoveryRoute:
		rd, err := decodeRD(v.Rd)
		if err != nil {
			return nil, fmt.Errorf("ethernet-ad: %w", err)
		}
		esi, err := decodeESI(v.Esi)
		if err != nil {
			return nil, fmt.Errorf("ethernet-ad %s: %w", rd, err)
		}
		return route.EthernetAD{RD: rd, ESI: esi, EthernetTag: v.EthernetTag, Label: decodeLabel(v.Label)}, nil
	case *api.EVPNMACIPAdvertisementRoute:
		rd, err := decodeRD(v.Rd)
		if err != nil {
			return nil, fmt.Errorf("mac-ip: %w", err)
		}
		esi, err := decodeESI(v.Esi)
		if err != nil {
			return nil, fmt.Errorf("mac-ip %s: %w", rd, err)
		}
		hw, err := net.ParseMAC(v.MacAddress)
		if err != nil || len(hw) != 6 {
			return nil, fmt.Errorf("mac-ip %s: MAC %q is not a 48-bit address", rd, v.MacAddress)
		}
		ip, err := decodeIP("mac-ip IP", v.IpAddress)
		if err != nil {
			return nil, fmt.Errorf("mac-ip %s %s: %w", rd, hw, err)
		}
		r := route.MACIP{RD: rd, ESI: esi, EthernetTag: v.EthernetTag, MAC: route.MAC(hw), IP: ip}
		if len(v.Labels) > 0 {
			r.Label1 = decodeLabel(v.Labels[0])
		}
		if len(v.Labels) > 1 {
			r.Label2 = decodeLabel(v.Labels[1])
		}
		return r, nil
	case *api.EVPNInclusiveMulticastEthernetTagRoute:
		rd, err := decodeRD(v.Rd)
		if err != nil {
			return nil, fmt.Errorf("inclusive-multicast: %w", err)
		}
		ip, err := decodeIP("inclusive-multicast originator", v.IpAddress)
		if err != nil {
			return nil, fmt.Errorf("inclusive-multicast %s: %w", rd, err)
		}
		return route.InclusiveMulticast{RD: rd, EthernetTag: v.EthernetTag, OriginatorIP: ip}, nil
	case *api.EVPNEthernetSegmentRoute:
		rd, err := decodeRD(v.Rd)
		if err != nil {
			return nil, fmt.Errorf("ethernet-segment: %w", err)
		}
		esi, err := decodeESI(v.Esi)
		if err != nil {
			return nil, fmt.Errorf("ethernet-segment %s: %w", rd, err)
		}
		ip, err := decodeIP("ethernet-segment originator", v.IpAddress)
		if err != nil {
			return nil, fmt.Errorf("ethernet-segment %s: %w", rd, err)
		}
		return route.EthernetSegment{RD: rd, ESI: esi, OriginatorIP: ip}, nil
	}
	return nil, fmt.Errorf("NLRI of unsupported type %s", a.GetTypeUrl())
}

func encodeRouteTarget(t route.RouteTarget) (*anypb.Any, error) {
	switch {
	case t.Admin.IP.IsValid():
		if !t.Admin.IP.Is4() || t.Assigned > 0xFFFF {
			return nil, fmt.Errorf("route target %s: want IPv4:16-bit", t)
		}
		return mustAny(&api.IPv4AddressSpecificExtended{IsTransitive: true, SubType: subtypeRouteTarget, Address: t.Admin.IP.String(), LocalAdmin: t.Assigned}), nil
	case t.Admin.FourOctet:
		if t.Assigned > 0xFFFF {
			return nil, fmt.Errorf("route target %s: assigned number exceeds 16 bits", t)
		}
		return mustAny(&api.FourOctetAsSpecificExtended{IsTransitive: true, SubType: subtypeRouteTarget, Asn: t.Admin.ASN, LocalAdmin: t.Assigned}), nil
	default:
		if t.Admin.ASN > 0xFFFF {
			return nil, fmt.Errorf("route target %s: AS %d needs FourOctet", t, t.Admin.ASN)
		}
		return mustAny(&api.TwoOctetAsSpecificExtended{IsTransitive: true, SubType: subtypeRouteTarget, Asn: t.Admin.ASN, LocalAdmin: t.Assigned}), nil
	}
}

// encodeDFElection builds the seven octets after the type octet of the DF
// Election extended community (RFC 8584 §2.2, preference per RFC 9785):
// sub-type, DF algorithm (low 5 bits), 16-bit capability bitmap, one
// reserved octet, 16-bit preference.
func encodeDFElection(d route.DFElection) ([]byte, error) {
	if d.Algorithm > 0x1F {
		return nil, fmt.Errorf("DF election algorithm %d does not fit 5 bits", d.Algorithm)
	}
	v := make([]byte, 7)
	v[0] = extCommSubtypeDFElection
	v[1] = byte(d.Algorithm)
	var bitmap uint16
	if d.AC {
		bitmap |= dfBitmapAC
	}
	if d.DontPreempt {
		bitmap |= dfBitmapDontPreempt
	}
	binary.BigEndian.PutUint16(v[2:4], bitmap)
	binary.BigEndian.PutUint16(v[5:7], d.Preference)
	return v, nil
}

func decodeDFElection(v []byte) route.DFElection {
	bitmap := binary.BigEndian.Uint16(v[2:4])
	return route.DFElection{
		Algorithm:   route.DFAlgorithm(v[1] & 0x1F),
		AC:          bitmap&dfBitmapAC != 0,
		DontPreempt: bitmap&dfBitmapDontPreempt != 0,
		Preference:  binary.BigEndian.Uint16(v[5:7]),
	}
}

// encodeExtCommunities lists the extended communities of a path.
func encodeExtCommunities(a route.Attributes) ([]*anypb.Any, error) {
	var out []*anypb.Any
	for _, t := range a.RouteTargets {
		c, err := encodeRouteTarget(t)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if a.ESILabel != nil {
		l, err := encodeLabel("ESI label", a.ESILabel.Label)
		if err != nil {
			return nil, err
		}
		out = append(out, mustAny(&api.ESILabelExtended{IsSingleActive: a.ESILabel.SingleActive, Label: l}))
	}
	if a.MACMobility != nil {
		out = append(out, mustAny(&api.MacMobilityExtended{IsSticky: a.MACMobility.Sticky, SequenceNum: a.MACMobility.Sequence}))
	}
	if a.DefaultGateway {
		out = append(out, mustAny(&api.DefaultGatewayExtended{}))
	}
	if a.ESImport != nil {
		out = append(out, mustAny(&api.ESImportRouteTarget{EsImport: a.ESImport.String()}))
	}
	if a.DFElection != nil {
		v, err := encodeDFElection(*a.DFElection)
		if err != nil {
			return nil, err
		}
		out = append(out, mustAny(&api.UnknownExtended{Type: extCommTypeEVPN, Value: v}))
	}
	return out, nil
}

// encodePath converts a typed path into the api.Path GoBGP's AddPath takes.
// nextHop is used when p.Attrs.NextHop is not set. ORIGINATOR_ID is never
// sent: only route reflectors add it.
func encodePath(p route.Path, nextHop netip.Addr) (*api.Path, error) {
	nlri, err := encodeNLRI(p.NLRI)
	if err != nil {
		return nil, err
	}
	nh := p.Attrs.NextHop
	if !nh.IsValid() {
		nh = nextHop
	}
	if !nh.IsValid() {
		return nil, fmt.Errorf("%s: no next hop", p.NLRI)
	}
	comms, err := encodeExtCommunities(p.Attrs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.NLRI, err)
	}
	pattrs := []*anypb.Any{
		mustAny(&api.OriginAttribute{Origin: 0}), // IGP
		mustAny(&api.MpReachNLRIAttribute{Family: evpnFamily, NextHops: []string{nh.String()}, Nlris: []*anypb.Any{nlri}}),
	}
	if len(comms) > 0 {
		pattrs = append(pattrs, mustAny(&api.ExtendedCommunitiesAttribute{Communities: comms}))
	}
	if t := p.Attrs.PMSI; t != nil {
		l, err := encodeLabel("PMSI label", t.Label)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.NLRI, err)
		}
		id := t.TunnelID
		if !id.IsValid() {
			if im, ok := p.NLRI.(route.InclusiveMulticast); ok {
				id = im.OriginatorIP
			}
		}
		if !id.IsValid() {
			return nil, fmt.Errorf("%s: PMSI tunnel id missing", p.NLRI)
		}
		pattrs = append(pattrs, mustAny(&api.PmsiTunnelAttribute{Type: uint32(t.TunnelType), Label: l, Id: id.AsSlice()}))
	}
	return &api.Path{Family: evpnFamily, Nlri: nlri, Pattrs: pattrs}, nil
}

// encodeWithdrawal builds the api.Path DeletePath takes for an NLRI: only the
// route key matters to GoBGP.
func encodeWithdrawal(n route.NLRI, nextHop netip.Addr) (*api.Path, error) {
	nlri, err := encodeNLRI(n)
	if err != nil {
		return nil, err
	}
	pattrs := []*anypb.Any{
		mustAny(&api.OriginAttribute{Origin: 0}),
		mustAny(&api.MpReachNLRIAttribute{Family: evpnFamily, NextHops: []string{nextHop.String()}, Nlris: []*anypb.Any{nlri}}),
	}
	return &api.Path{Family: evpnFamily, Nlri: nlri, Pattrs: pattrs, IsWithdraw: true}, nil
}

// decodedPath is a path GoBGP reported, with what the event layer needs
// besides the typed route.
type decodedPath struct {
	route.Path
	withdraw bool
	// local is a path this speaker originated.
	local    bool
	neighbor netip.Addr
	peerASN  uint32
	// unknownExt counts extended communities p4evpn does not interpret.
	unknownExt int
}

// decodePath converts an api.Path from GoBGP into a typed path. Attributes
// p4evpn does not use (MED, LOCAL_PREF, CLUSTER_LIST, AS_PATH, ...) are
// skipped; unknown extended communities are counted, not an error.
func decodePath(p *api.Path) (decodedPath, error) {
	var out decodedPath
	n, err := decodeNLRI(p.GetNlri())
	if err != nil {
		return out, err
	}
	out.NLRI = n
	out.withdraw = p.GetIsWithdraw()
	out.peerASN = p.GetSourceAsn()
	if nb := p.GetNeighborIp(); nb == "" || nb == "<nil>" {
		out.local = true
	} else if ip, err := netip.ParseAddr(nb); err == nil {
		out.neighbor = ip.Unmap()
	}
	attrs, unknown, err := decodeAttributes(p.GetPattrs())
	if err != nil {
		return out, fmt.Errorf("%s: %w", n, err)
	}
	out.Attrs, out.unknownExt = attrs, unknown
	return out, nil
}

func decodeAttributes(pattrs []*anypb.Any) (route.Attributes, int, error) {
	var a route.Attributes
	unknown := 0
	for _, pa := range pattrs {
		m, err := pa.UnmarshalNew()
		if err != nil {
			return a, unknown, fmt.Errorf("attribute %s: %w", pa.GetTypeUrl(), err)
		}
		switch v := m.(type) {
		case *api.MpReachNLRIAttribute:
			if len(v.NextHops) > 0 {
				nh, err := decodeIP("next hop", v.NextHops[0])
				if err != nil {
					return a, unknown, err
				}
				a.NextHop = nh
			}
		case *api.NextHopAttribute:
			nh, err := decodeIP("next hop", v.NextHop)
			if err != nil {
				return a, unknown, err
			}
			a.NextHop = nh
		case *api.OriginatorIdAttribute:
			id, err := decodeIP("ORIGINATOR_ID", v.Id)
			if err != nil {
				return a, unknown, err
			}
			a.OriginatorID = id
		case *api.PmsiTunnelAttribute:
			t := &route.PMSITunnel{TunnelType: uint8(v.Type), Label: decodeLabel(v.Label)}
			if ip, ok := netip.AddrFromSlice(v.Id); ok {
				t.TunnelID = ip.Unmap()
			}
			a.PMSI = t
		case *api.ExtendedCommunitiesAttribute:
			u, err := decodeExtCommunities(&a, v.Communities)
			if err != nil {
				return a, unknown, err
			}
			unknown += u
		}
	}
	return a, unknown, nil
}

func decodeExtCommunities(a *route.Attributes, comms []*anypb.Any) (unknown int, err error) {
	for _, c := range comms {
		m, err := c.UnmarshalNew()
		if err != nil {
			return unknown, fmt.Errorf("extended community %s: %w", c.GetTypeUrl(), err)
		}
		switch v := m.(type) {
		case *api.TwoOctetAsSpecificExtended:
			if v.SubType != subtypeRouteTarget {
				unknown++
				continue
			}
			a.RouteTargets = append(a.RouteTargets, route.RouteTarget{Admin: route.Admin{ASN: v.Asn}, Assigned: v.LocalAdmin})
		case *api.FourOctetAsSpecificExtended:
			if v.SubType != subtypeRouteTarget {
				unknown++
				continue
			}
			a.RouteTargets = append(a.RouteTargets, route.RouteTarget{Admin: route.Admin{ASN: v.Asn, FourOctet: true}, Assigned: v.LocalAdmin})
		case *api.IPv4AddressSpecificExtended:
			ip, err := netip.ParseAddr(v.Address)
			if v.SubType != subtypeRouteTarget || err != nil {
				unknown++
				continue
			}
			a.RouteTargets = append(a.RouteTargets, route.RouteTarget{Admin: route.Admin{IP: ip}, Assigned: v.LocalAdmin})
		case *api.ESILabelExtended:
			a.ESILabel = &route.ESILabel{SingleActive: v.IsSingleActive, Label: decodeLabel(v.Label)}
		case *api.MacMobilityExtended:
			a.MACMobility = &route.MACMobility{Sequence: v.SequenceNum, Sticky: v.IsSticky}
		case *api.DefaultGatewayExtended:
			a.DefaultGateway = true
		case *api.ESImportRouteTarget:
			hw, err := net.ParseMAC(v.EsImport)
			if err != nil || len(hw) != 6 {
				return unknown, fmt.Errorf("ES-import route target %q is not a MAC", v.EsImport)
			}
			m := route.MAC(hw)
			a.ESImport = &m
		case *api.UnknownExtended:
			if v.Type == extCommTypeEVPN && len(v.Value) == 7 && v.Value[0] == extCommSubtypeDFElection {
				d := decodeDFElection(v.Value)
				a.DFElection = &d
				continue
			}
			unknown++
		default:
			unknown++
		}
	}
	return unknown, nil
}
