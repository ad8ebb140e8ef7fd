// Package route is the EVPN route vocabulary (RFC 7432, RFC 8584, RFC 9785)
// shared by bgp/, which encodes and decodes it on the wire, and evpn/, which
// decides what to originate and what to install. It is plain data: no logic
// beyond parsing and printing, and it must not import gRPC, GoBGP, P4Runtime or
// any other p4evpn package, so both sides can depend on it.
package route

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// MaxEthernetTag is the Ethernet tag of a per-ES Ethernet A-D route (RFC 7432 §8.2).
const MaxEthernetTag = 0xFFFFFFFF

// MaxLabel is the largest 20-bit MPLS label value.
const MaxLabel = 1<<20 - 1

// MAC is a 48-bit Ethernet address. It is an array so it can key a map.
type MAC [6]byte

// ParseMAC parses "aa:bb:cc:dd:ee:ff" (and the other forms net.ParseMAC takes).
func ParseMAC(s string) (MAC, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return MAC{}, fmt.Errorf("parse MAC %q: not a 48-bit Ethernet address", s)
	}
	return MAC(hw), nil
}

// MustMAC is ParseMAC for constants in tests and examples; it panics on error.
func MustMAC(s string) MAC {
	m, err := ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func (m MAC) String() string { return net.HardwareAddr(m[:]).String() }

// IsZero reports whether m is 00:00:00:00:00:00.
func (m MAC) IsZero() bool { return m == MAC{} }

// ESI is a 10-octet Ethernet segment identifier: one type octet, nine value
// octets (RFC 7432 §5). The zero ESI means "single-homed".
type ESI [10]byte

// ESI types used by p4evpn (RFC 7432 §5).
const (
	ESIType0Operator = 0 // arbitrary 9-octet value configured by the operator
	ESIType1LACP     = 1 // CE LACP system MAC + port key
	ESIType3MAC      = 3 // system MAC + local discriminator
)

// ParseESI parses ten colon-separated hex octets, "00:11:22:33:44:55:66:77:88:99".
func ParseESI(s string) (ESI, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 10 {
		return ESI{}, fmt.Errorf("parse ESI %q: want 10 colon-separated octets, got %d", s, len(parts))
	}
	var e ESI
	for i, p := range parts {
		b, err := hex.DecodeString(p)
		if err != nil || len(b) != 1 {
			return ESI{}, fmt.Errorf("parse ESI %q: octet %d %q is not two hex digits", s, i, p)
		}
		e[i] = b[0]
	}
	return e, nil
}

// MustESI is ParseESI for constants in tests and examples; it panics on error.
func MustESI(s string) ESI {
	e, err := ParseESI(s)
	if err != nil {
		panic(err)
	}
	return e
}

func (e ESI) String() string {
	var b strings.Builder
	for i, o := range e {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02x", o)
	}
	return b.String()
}

// IsZero reports whether e is the reserved zero ESI (single-homed).
func (e ESI) IsZero() bool { return e == ESI{} }

// Type returns the ESI type octet.
func (e ESI) Type() uint8 { return e[0] }

// ESIFromLACP builds a type-1 ESI from the CE's LACP system MAC and port key
// (RFC 7432 §5).
func ESIFromLACP(systemMAC MAC, portKey uint16) ESI {
	var e ESI
	e[0] = ESIType1LACP
	copy(e[1:7], systemMAC[:])
	binary.BigEndian.PutUint16(e[7:9], portKey)
	return e
}

// ESIFromMAC builds a type-3 ESI from a system MAC and a 24-bit local
// discriminator (RFC 7432 §5).
func ESIFromMAC(systemMAC MAC, discriminator uint32) ESI {
	var e ESI
	e[0] = ESIType3MAC
	copy(e[1:7], systemMAC[:])
	e[7], e[8], e[9] = byte(discriminator>>16), byte(discriminator>>8), byte(discriminator)
	return e
}

// ESImportRT returns the ES-Import route target value auto-derived from an
// ESI: the high-order six octets of the ESI value (RFC 7432 §7.6).
func (e ESI) ESImportRT() MAC {
	var m MAC
	copy(m[:], e[1:7])
	return m
}

// Admin is the administrator field shared by route distinguishers and route
// targets: a 2- or 4-octet AS number, or an IPv4 address.
type Admin struct {
	// ASN is used when IP is not valid. FourOctet selects the 4-octet-AS
	// encoding (RD type 2, RT subtype of type 0x02); otherwise ASN must fit
	// in 16 bits.
	ASN       uint32
	FourOctet bool
	IP        netip.Addr
}

func (a Admin) String() string {
	if a.IP.IsValid() {
		return a.IP.String()
	}
	return strconv.FormatUint(uint64(a.ASN), 10)
}

func parseAdminValue(s, what string) (Admin, uint32, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return Admin{}, 0, fmt.Errorf("parse %s %q: want ADMIN:NUMBER", what, s)
	}
	adminStr, numStr := s[:i], s[i+1:]
	n, err := strconv.ParseUint(numStr, 10, 32)
	if err != nil {
		return Admin{}, 0, fmt.Errorf("parse %s %q: assigned number %q: %w", what, s, numStr, err)
	}
	if ip, err := netip.ParseAddr(adminStr); err == nil {
		if !ip.Is4() {
			return Admin{}, 0, fmt.Errorf("parse %s %q: administrator %q must be an IPv4 address", what, s, adminStr)
		}
		if n > 0xFFFF {
			return Admin{}, 0, fmt.Errorf("parse %s %q: assigned number %d does not fit 16 bits after an IPv4 administrator", what, s, n)
		}
		return Admin{IP: ip}, uint32(n), nil
	}
	asn, err := strconv.ParseUint(adminStr, 10, 32)
	if err != nil {
		return Admin{}, 0, fmt.Errorf("parse %s %q: administrator %q is neither an AS number nor an IPv4 address", what, s, adminStr)
	}
	a := Admin{ASN: uint32(asn), FourOctet: asn > 0xFFFF}
	if a.FourOctet && n > 0xFFFF {
		return Admin{}, 0, fmt.Errorf("parse %s %q: assigned number %d does not fit 16 bits after a 4-octet AS", what, s, n)
	}
	return a, uint32(n), nil
}

// RD is a route distinguisher (RFC 4364 §4.2): type 0 (2-octet AS:32-bit),
// type 1 (IPv4:16-bit) or type 2 (4-octet AS:16-bit), chosen from Admin.
type RD struct {
	Admin    Admin
	Assigned uint32
}

// ParseRD parses "65000:100", "192.0.2.1:100" or "4200000000:100".
func ParseRD(s string) (RD, error) {
	a, n, err := parseAdminValue(s, "route distinguisher")
	if err != nil {
		return RD{}, err
	}
	return RD{Admin: a, Assigned: n}, nil
}

// AutoRD is the route distinguisher RFC 7432 §7.9 recommends: type 1,
// the PE's router id and a per-EVI number.
func AutoRD(routerID netip.Addr, evi uint16) RD {
	return RD{Admin: Admin{IP: routerID}, Assigned: uint32(evi)}
}

func (r RD) String() string { return fmt.Sprintf("%s:%d", r.Admin, r.Assigned) }

// RouteTarget is a two-octet-AS, IPv4 or four-octet-AS specific route target
// extended community.
type RouteTarget struct {
	Admin    Admin
	Assigned uint32
}

// ParseRouteTarget parses "65000:100", "192.0.2.1:100" or "4200000000:100".
func ParseRouteTarget(s string) (RouteTarget, error) {
	a, n, err := parseAdminValue(s, "route target")
	if err != nil {
		return RouteTarget{}, err
	}
	return RouteTarget{Admin: a, Assigned: n}, nil
}

// AutoRouteTarget is the route target RFC 7432 §7.10.1 derives for a
// VLAN-based service: the 2-octet AS (the low 16 bits of a 4-octet one) and
// the EVI in the low 28 bits (type 0, "A" = 0).
func AutoRouteTarget(asn uint32, evi uint32) RouteTarget {
	return RouteTarget{Admin: Admin{ASN: asn & 0xFFFF}, Assigned: evi & 0x0FFFFFFF}
}

func (t RouteTarget) String() string { return fmt.Sprintf("%s:%d", t.Admin, t.Assigned) }

// Type is the EVPN route type (RFC 7432 §7).
type Type uint8

// EVPN route types.
const (
	TypeEthernetAD         Type = 1
	TypeMACIP              Type = 2
	TypeInclusiveMulticast Type = 3
	TypeEthernetSegment    Type = 4
)

func (t Type) String() string {
	switch t {
	case TypeEthernetAD:
		return "ethernet-ad"
	case TypeMACIP:
		return "mac-ip"
	case TypeInclusiveMulticast:
		return "inclusive-multicast"
	case TypeEthernetSegment:
		return "ethernet-segment"
	}
	return fmt.Sprintf("type-%d", uint8(t))
}

// NLRI is one EVPN route key. The concrete types are comparable values, so
// an NLRI can key a map.
type NLRI interface {
	RouteType() Type
	// Distinguisher returns the route's RD.
	Distinguisher() RD
	String() string
}

// EthernetAD is route type 1. EthernetTag MaxEthernetTag makes it the per-ES
// route (mass withdrawal, ESI label); any other tag makes it the per-EVI route
// (aliasing, label = the EVI's label).
type EthernetAD struct {
	RD          RD
	ESI         ESI
	EthernetTag uint32
	Label       uint32
}

// PerES reports whether this is the per-ES Ethernet A-D route.
func (r EthernetAD) PerES() bool { return r.EthernetTag == MaxEthernetTag }

// MACIP is route type 2. IP is the zero netip.Addr when absent. Label2 is 0
// when absent.
type MACIP struct {
	RD          RD
	ESI         ESI
	EthernetTag uint32
	MAC         MAC
	IP          netip.Addr
	Label1      uint32
	Label2      uint32
}

// InclusiveMulticast is route type 3 (IMET).
type InclusiveMulticast struct {
	RD           RD
	EthernetTag  uint32
	OriginatorIP netip.Addr
}

// EthernetSegment is route type 4.
type EthernetSegment struct {
	RD           RD
	ESI          ESI
	OriginatorIP netip.Addr
}

func (r EthernetAD) RouteType() Type         { return TypeEthernetAD }
func (r MACIP) RouteType() Type              { return TypeMACIP }
func (r InclusiveMulticast) RouteType() Type { return TypeInclusiveMulticast }
func (r EthernetSegment) RouteType() Type    { return TypeEthernetSegment }

func (r EthernetAD) Distinguisher() RD         { return r.RD }
func (r MACIP) Distinguisher() RD              { return r.RD }
func (r InclusiveMulticast) Distinguisher() RD { return r.RD }
func (r EthernetSegment) Distinguisher() RD    { return r.RD }

func (r EthernetAD) String() string {
	return fmt.Sprintf("[1][%s][%s][%d] label %d", r.RD, r.ESI, r.EthernetTag, r.Label)
}

func (r MACIP) String() string {
	ip := ""
	if r.IP.IsValid() {
		ip = r.IP.String()
	}
	return fmt.Sprintf("[2][%s][%s][%d][%s][%s] labels %d/%d", r.RD, r.ESI, r.EthernetTag, r.MAC, ip, r.Label1, r.Label2)
}

func (r InclusiveMulticast) String() string {
	return fmt.Sprintf("[3][%s][%d][%s]", r.RD, r.EthernetTag, r.OriginatorIP)
}

func (r EthernetSegment) String() string {
	return fmt.Sprintf("[4][%s][%s][%s]", r.RD, r.ESI, r.OriginatorIP)
}

// ESILabel is the ESI Label extended community (RFC 7432 §7.5), carried on
// the per-ES Ethernet A-D route.
type ESILabel struct {
	SingleActive bool
	Label        uint32
}

// MACMobility is the MAC Mobility extended community (RFC 7432 §7.7).
type MACMobility struct {
	Sequence uint32
	Sticky   bool
}

// DFAlgorithm is the DF election algorithm of the DF Election extended
// community (RFC 8584 §2.2; preference from RFC 9785).
type DFAlgorithm uint8

// DF election algorithms.
const (
	DFModulo     DFAlgorithm = 0 // RFC 7432 §8.5 service carving
	DFHRW        DFAlgorithm = 1 // RFC 8584 highest random weight
	DFPreference DFAlgorithm = 2 // RFC 9785 preference-based
)

func (a DFAlgorithm) String() string {
	switch a {
	case DFModulo:
		return "modulo"
	case DFHRW:
		return "hrw"
	case DFPreference:
		return "preference"
	}
	return fmt.Sprintf("df-alg-%d", uint8(a))
}

// DFElection is the DF Election extended community (RFC 8584 §2.2), with the
// preference fields of RFC 9785 used when Algorithm is DFPreference.
type DFElection struct {
	Algorithm DFAlgorithm
	// AC is the AC-DF capability bit (RFC 8584 §2.2).
	AC bool
	// Preference and DontPreempt are RFC 9785's fields (DP bit).
	Preference  uint16
	DontPreempt bool
}

// PMSITunnel is the PMSI Tunnel attribute of an IMET route (RFC 6514 §5,
// RFC 7432 §11.2). p4evpn uses ingress replication (tunnel type 6).
type PMSITunnel struct {
	TunnelType uint8
	Label      uint32
	// TunnelID is the originating router's IP for ingress replication. Route
	// reflectors may rewrite it (FRR does): prefer the NLRI's OriginatorIP.
	TunnelID netip.Addr
}

// TunnelTypeIngressReplication is PMSI tunnel type 6 (RFC 6514 §5).
const TunnelTypeIngressReplication = 6

// Attributes are the path attributes p4evpn reads and writes on EVPN routes.
// Optional communities are nil when absent.
type Attributes struct {
	NextHop        netip.Addr
	RouteTargets   []RouteTarget
	ESILabel       *ESILabel
	MACMobility    *MACMobility
	DefaultGateway bool
	// ESImport is the ES-Import route target of a type-4 route.
	ESImport   *MAC
	DFElection *DFElection
	PMSI       *PMSITunnel
	// OriginatorID is the RFC 4456 ORIGINATOR_ID a route reflector added;
	// invalid when the route came straight from its originator.
	OriginatorID netip.Addr
}

// Path is one EVPN route with its attributes.
type Path struct {
	NLRI  NLRI
	Attrs Attributes
}

// MustRD is ParseRD for constants in tests and examples; it panics on error.
func MustRD(s string) RD {
	r, err := ParseRD(s)
	if err != nil {
		panic(err)
	}
	return r
}

// Key returns the part of an NLRI that identifies the route for BGP (RFC 7432
// §7.1-§7.4): labels of type-1 and type-2 routes, and the ESI of a type-2
// route, are attributes of the route, not part of its key. A new path for the
// same key replaces the old one, so maps of received routes should be keyed
// by Key(n), and a withdrawal only needs the key fields.
func Key(n NLRI) NLRI {
	switch r := n.(type) {
	case EthernetAD:
		r.Label = 0
		return r
	case MACIP:
		r.ESI, r.Label1, r.Label2 = ESI{}, 0, 0
		return r
	}
	return n
}
