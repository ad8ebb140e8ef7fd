package gnmi

// The typed configuration model. Each field's oc tag is its OpenConfig path
// relative to the enclosing list entry (or container); key tags name the
// list keys ("identifier=BGP" pins a key the model serves with one value).
// bind.go converts between these structs and gNMI leaves by those tags, so a
// field added here with a tag and a schema leaf in schema_model.go is served
// with no other code. Unset means: empty string, nil pointer, nil slice, or
// zero for the few integers whose zero YANG forbids (MTU, VLAN IDs).

// Config is the PE's whole running configuration, as set over gNMI.
type Config struct {
	Interfaces       map[string]*Interface       `oc:"interfaces/interface" key:"name"`
	NetworkInstances map[string]*NetworkInstance `oc:"network-instances/network-instance" key:"name"`
	EthernetSegments map[string]*EthernetSegment `oc:"ethernet-segments/ethernet-segment" key:"name"`
}

// Interface is /interfaces/interface[name]: a port of the PE.
type Interface struct {
	Name string `oc:"config/name"`
	// Type is the iana-if-type identity, e.g. "ethernetCsmacd".
	Type          string                   `oc:"config/type"`
	Description   string                   `oc:"config/description"`
	Enabled       *bool                    `oc:"config/enabled"`
	MTU           uint16                   `oc:"config/mtu"`
	Subinterfaces map[uint32]*Subinterface `oc:"subinterfaces/subinterface" key:"index"`
}

// Subinterface is /interfaces/interface/subinterfaces/subinterface[index]:
// with a VLAN it is the access side of an attachment circuit (port, VLAN).
type Subinterface struct {
	Index       uint32 `oc:"config/index"`
	Description string `oc:"config/description"`
	Enabled     *bool  `oc:"config/enabled"`
	// VLAN is openconfig-vlan's single-tagged match; 0 means untagged.
	VLAN uint16 `oc:"vlan/match/single-tagged/config/vlan-id"`
}

// NetworkInstanceType is an oc-ni-types:NETWORK_INSTANCE_TYPE identity.
type NetworkInstanceType string

// Network instance types. An EVPN MAC-VRF is L2VSI (OPENCONFIG.md §1); BGP
// itself runs in the DEFAULT_INSTANCE.
const (
	NetworkInstanceDefault NetworkInstanceType = "DEFAULT_INSTANCE"
	NetworkInstanceL3VRF   NetworkInstanceType = "L3VRF"
	NetworkInstanceL2VSI   NetworkInstanceType = "L2VSI"
	NetworkInstanceL2P2P   NetworkInstanceType = "L2P2P"
	NetworkInstanceL2L3    NetworkInstanceType = "L2L3"
)

// Encapsulation is an oc-ni-types:ENCAPSULATION identity.
type Encapsulation string

// Encapsulations.
const (
	EncapsulationMPLS  Encapsulation = "MPLS"
	EncapsulationVXLAN Encapsulation = "VXLAN"
)

// NetworkInstance is /network-instances/network-instance[name]. For EVPN it
// is one MAC-VRF: its route distinguisher and route targets, the VLANs it
// bridges, the attachment circuits (Interfaces) and its EVPN instance.
type NetworkInstance struct {
	Name        string              `oc:"config/name"`
	Type        NetworkInstanceType `oc:"config/type"`
	Description string              `oc:"config/description"`
	RouterID    string              `oc:"config/router-id"`
	// RouteDistinguisher is "AS:n", "IPv4:n" or "AS4:n".
	RouteDistinguisher  string        `oc:"config/route-distinguisher"`
	EncapsulationType   Encapsulation `oc:"encapsulation/config/encapsulation-type"`
	LabelAllocationMode string        `oc:"encapsulation/config/label-allocation-mode"`
	ControlWord         *bool         `oc:"encapsulation/config/control-word"`
	// ImportRouteTargets and ExportRouteTargets hold "AS:n", "IPv4:n",
	// "route-target:AS:n" or "AUTO".
	ImportRouteTargets []string                             `oc:"inter-instance-policies/import-export-policy/config/import-route-target"`
	ExportRouteTargets []string                             `oc:"inter-instance-policies/import-export-policy/config/export-route-target"`
	VLANs              map[uint16]*VLAN                     `oc:"vlans/vlan" key:"vlan-id"`
	Interfaces         map[string]*NetworkInstanceInterface `oc:"interfaces/interface" key:"id"`
	FDB                FDB                                  `oc:"fdb"`
	EVPNInstances      map[string]*EVPNInstance             `oc:"evpn/evpn-instances/evpn-instance" key:"evi"`
	// BGP holds protocol[identifier=BGP][name] entries by name; other
	// protocols are refused at Set.
	BGP map[string]*BGP `oc:"protocols/protocol" key:"identifier=BGP,name"`
}

// VLAN is NI/vlans/vlan[vlan-id]: a VLAN the MAC-VRF bridges.
type VLAN struct {
	ID   uint16 `oc:"config/vlan-id"`
	Name string `oc:"config/name"`
	// Status is ACTIVE (the default) or SUSPENDED.
	Status string `oc:"config/status"`
}

// NetworkInstanceInterface is NI/interfaces/interface[id]: an attachment
// circuit, a subinterface of a port (whose VLAN match picks the VLAN).
type NetworkInstanceInterface struct {
	ID           string  `oc:"config/id"`
	Interface    string  `oc:"config/interface"`
	Subinterface *uint32 `oc:"config/subinterface"`
}

// FDB is NI/fdb: learning, aging and MAC mobility (RFC 7432 §15).
type FDB struct {
	MACLearning    *bool   `oc:"config/mac-learning"`
	MACAgingTime   *uint16 `oc:"config/mac-aging-time"`
	MaximumEntries *uint16 `oc:"config/maximum-entries"`
	MACMobility    *bool   `oc:"mac-mobility/config/mac-mobility"`
	// MACMobilityWindow is in seconds; the model's default is 180.
	MACMobilityWindow *uint16 `oc:"mac-mobility/config/mac-mobility-window"`
	// MACMobilityThreshold is the number of moves in the window that marks
	// a MAC duplicate; the model's default is 5.
	MACMobilityThreshold *uint8 `oc:"mac-mobility/config/mac-mobility-threshold"`
}

// Defaults of the mac-mobility leaves (openconfig-evpn).
const (
	DefaultMACMobilityWindow    = 180
	DefaultMACMobilityThreshold = 5
)

// MobilityWindow returns the configured window in seconds, or the default.
func (f FDB) MobilityWindow() uint16 {
	if f.MACMobilityWindow != nil {
		return *f.MACMobilityWindow
	}
	return DefaultMACMobilityWindow
}

// MobilityThreshold returns the configured move threshold, or the default.
func (f FDB) MobilityThreshold() uint8 {
	if f.MACMobilityThreshold != nil {
		return *f.MACMobilityThreshold
	}
	return DefaultMACMobilityThreshold
}

// EVPNServiceType is an oc-evpn-types:EVPN_TYPE identity.
type EVPNServiceType string

// EVPN service types (RFC 7432 §6).
const (
	ServiceVLANBased  EVPNServiceType = "VLAN_BASED"
	ServiceVLANBundle EVPNServiceType = "VLAN_BUNDLE"
	ServiceVLANAware  EVPNServiceType = "VLAN_AWARE"
)

// EVPNInstance is NI/evpn/evpn-instances/evpn-instance[evi].
type EVPNInstance struct {
	// EVI is the instance's number, as a string (the model's type).
	EVI               string          `oc:"config/evi"`
	EncapsulationType Encapsulation   `oc:"config/encapsulation-type"`
	ServiceType       EVPNServiceType `oc:"config/service-type"`
	// RouteDistinguisher overrides the NI's; "AUTO" derives it (RFC 7432 §7.9).
	RouteDistinguisher string `oc:"config/route-distinguisher"`
	// ReplicationMode is STATIC_INGRESS_REPLICATION, BGP or MULTICAST.
	ReplicationMode    string   `oc:"config/replication-mode"`
	ControlWordEnabled *bool    `oc:"config/control-word-enabled"`
	ImportRouteTargets []string `oc:"import-export-policy/config/import-route-target"`
	ExportRouteTargets []string `oc:"import-export-policy/config/export-route-target"`
}

// BGP is NI/protocols/protocol[identifier=BGP][name]/bgp.
type BGP struct {
	Identifier string                  `oc:"config/identifier"`
	Name       string                  `oc:"config/name"`
	AS         uint32                  `oc:"bgp/global/config/as"`
	RouterID   string                  `oc:"bgp/global/config/router-id"`
	Neighbors  map[string]*BGPNeighbor `oc:"bgp/neighbors/neighbor" key:"neighbor-address"`
}

// BGPNeighbor is …/bgp/neighbors/neighbor[neighbor-address].
type BGPNeighbor struct {
	Address string `oc:"config/neighbor-address"`
	PeerAS  uint32 `oc:"config/peer-as"`
	LocalAS uint32 `oc:"config/local-as"`
	// PeerType is INTERNAL or EXTERNAL.
	PeerType     string                 `oc:"config/peer-type"`
	Description  string                 `oc:"config/description"`
	Enabled      *bool                  `oc:"config/enabled"`
	LocalAddress string                 `oc:"transport/config/local-address"`
	PassiveMode  *bool                  `oc:"transport/config/passive-mode"`
	AFISafis     map[string]*BGPAFISafi `oc:"afi-safis/afi-safi" key:"afi-safi-name"`
}

// BGPAFISafi is …/neighbor/afi-safis/afi-safi[afi-safi-name]; p4evpn
// speaks L2VPN_EVPN only.
type BGPAFISafi struct {
	Name    string `oc:"config/afi-safi-name"`
	Enabled *bool  `oc:"config/enabled"`
}

// ESIType is the oc-evpn-types:esi-type enumeration.
type ESIType string

// ESI types (RFC 7432 §5).
const (
	ESIType0Operator ESIType = "TYPE_0_OPERATOR_CONFIGURED"
	ESIType1LACP     ESIType = "TYPE_1_LACP_BASED"
	ESIType2Bridge   ESIType = "TYPE_2_BRIDGE_PROTOCOL_BASED"
	ESIType3MAC      ESIType = "TYPE_3_MAC_BASED"
	ESIType4RouterID ESIType = "TYPE_4_ROUTER_ID_BASED"
	ESIType5AS       ESIType = "TYPE_5_AS_BASED"
)

// RedundancyMode is an oc-evpn-types:EVPN_REDUNDANCY_MODE identity.
type RedundancyMode string

// Redundancy modes.
const (
	SingleActive RedundancyMode = "SINGLE_ACTIVE"
	AllActive    RedundancyMode = "ALL_ACTIVE"
)

// DFElectionMethod is the df-election-method enumeration.
type DFElectionMethod string

// DF election methods: DEFAULT is RFC 7432 modulus, HIGHEST_RANDOM_WEIGHT
// is RFC 8584, PREFERENCE is RFC 9785.
const (
	DFDefault             DFElectionMethod = "DEFAULT"
	DFHighestRandomWeight DFElectionMethod = "HIGHEST_RANDOM_WEIGHT"
	DFPreference          DFElectionMethod = "PREFERENCE"
)

// EthernetSegment is /ethernet-segments/ethernet-segment[name].
type EthernetSegment struct {
	Name    string  `oc:"config/name"`
	ESIType ESIType `oc:"config/esi-type"`
	// ESI is 20 hex digits (oc-evpn-types:esi) or "AUTO".
	ESI            string         `oc:"config/esi"`
	RedundancyMode RedundancyMode `oc:"config/redundancy-mode"`
	// ESImportRouteTarget is a MAC; empty derives it (RFC 7432 §7.6).
	ESImportRouteTarget string           `oc:"config/es-import-route-target"`
	Interface           string           `oc:"config/interface"`
	Subinterface        *uint32          `oc:"config/subinterface"`
	DFElectionMethod    DFElectionMethod `oc:"df-election/config/df-election-method"`
	Preference          *uint16          `oc:"df-election/config/preference"`
	// Revertive defaults to true in the model.
	Revertive        *bool   `oc:"df-election/config/revertive"`
	ElectionWaitTime *uint32 `oc:"df-election/config/election-wait-time"`
}
