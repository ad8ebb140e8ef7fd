package p4

import "fmt"

// The contract between evpn.p4 and the Go code that programs it: every name
// and width asic/ relies on. contract_test.go checks each against the
// committed P4Info, so a P4 change that breaks one fails naming the entity.

// Widths, in bits, of the identifiers the controller writes. Every counter
// indexed by an identifier is sized 2^width; identifier 0 is reserved ("none").
const (
	PortBits              = 9  // v1model port number
	VLANIDBits            = 12 // 802.1Q VLAN id; 0 = no tag
	MACBits               = 48
	LabelBits             = 20 // MPLS label
	BridgeDomainBits      = 12 // bridge domain id, also its multicast group id
	AttachmentCircuitBits = 14
	EthernetSegmentBits   = 10 // local Ethernet segment id; 0 = single-homed
	RemotePEBits          = 12 // remote PE (tunnel) id
	AliasingGroupBits     = 12
	EgressRIDBits         = 16 // multicast replica id (egress_rid); 0 = unicast
	ControlWordFlagBits   = 1
	PuntReasonBits        = 5
	DropReasonBits        = 6
)

// Fixed values the program compiles in.
const (
	// CPUPort is the port whose frames become PacketIn and on which
	// PacketOut frames arrive; the target must be started with it
	// (simple_switch_grpc -- --cpu-port 255).
	CPUPort = 255
	// NoTransportLabel as set_tunnel's transport_label pushes no transport
	// label (it is MPLS implicit null).
	NoTransportLabel = 3
	// ControlWordLabelBit set in one of our labels (service, BUM or ESI)
	// tells the parser that a control word follows it at the bottom of the
	// stack: allocate labels with it iff this PE asks peers for a control word.
	ControlWordLabelBit = 1 << 19
	// PuntFDB is packet_in.reason for a frame whose destination MAC has a
	// to_cpu FDB entry.
	PuntFDB = 1
)

// Table names (P4Info preamble names).
const (
	TablePortKind           = "ingress.port_kind"
	TableAttachmentCircuit  = "ingress.attachment_circuit"
	TableTransportLabel     = "ingress.transport_label"
	TableServiceLabel       = "ingress.service_label"
	TableESILabel           = "ingress.esi_label"
	TableSourceMAC          = "ingress.smac"
	TableFDB                = "ingress.fdb"
	TableAliasing           = "ingress.aliasing"
	TableRemoteServiceLabel = "ingress.remote_service_label"
	TableTunnelPort         = "ingress.tunnel_port"
	TableFloodReplica       = "egress.flood_replica"
	TableACEgress           = "egress.ac_egress"
	TableDF                 = "egress.df"
	TablePeerESILabel       = "egress.peer_esi_label"
	TableTunnel             = "egress.tunnel"
)

// Table sizes, in entries, as compiled: the capacity a controller can plan
// with (for example a MAC limit below SizeFDB).
const (
	SizePortKind           = 512
	SizeAttachmentCircuit  = 16384
	SizeTransportLabel     = 64
	SizeServiceLabel       = 8192
	SizeESILabel           = 1024
	SizeSourceMAC          = 131072
	SizeFDB                = 131072
	SizeAliasing           = 4096
	SizeAliasingSelector   = 16384 // members of ActionProfileAliasingSelector
	SizeRemoteServiceLabel = 65536
	SizeTunnelPort         = 4096
	SizeFloodReplica       = 65536
	SizeACEgress           = 16384
	SizeDF                 = 16384
	SizePeerESILabel       = 16384
	SizeTunnel             = 4096
)

// Action names (P4Info preamble names).
const (
	ActionSetAccessPort           = "ingress.set_access_port"
	ActionSetCorePort             = "ingress.set_core_port"
	ActionSetAC                   = "ingress.set_ac"
	ActionBlockAC                 = "ingress.block_ac"
	ActionPopTransport            = "ingress.pop_transport"
	ActionSetServiceBD            = "ingress.set_service_bd"
	ActionSetBUMBD                = "ingress.set_bum_bd"
	ActionSetSourceES             = "ingress.set_source_es"
	ActionSMACKnown               = "ingress.smac_known"
	ActionSMACPinned              = "ingress.smac_pinned"
	ActionSMACUnknown             = "ingress.smac_unknown"
	ActionToLocalAC               = "ingress.to_local_ac"
	ActionToRemotePE              = "ingress.to_remote_pe"
	ActionToAliasingGroup         = "ingress.to_aliasing_group"
	ActionFDBDiscard              = "ingress.fdb_discard"
	ActionToCPU                   = "ingress.to_cpu"
	ActionFDBMiss                 = "ingress.fdb_miss"
	ActionSetAliasingPE           = "ingress.set_aliasing_pe"
	ActionSetRemoteServiceLabel   = "ingress.set_remote_service_label"
	ActionSetTunnelPort           = "ingress.set_tunnel_port"
	ActionIngressDiscard          = "ingress.discard"
	ActionReplicaToAC             = "egress.replica_to_ac"
	ActionReplicaToPE             = "egress.replica_to_pe"
	ActionSetACEgress             = "egress.set_ac_egress"
	ActionBlockACEgress           = "egress.block_ac_egress"
	ActionDFForward               = "egress.df_forward"
	ActionPushESILabel            = "egress.push_esi_label"
	ActionSetTunnel               = "egress.set_tunnel"
	ActionEgressDiscard           = "egress.discard"
	ActionNoAction                = "NoAction"
	ActionProfileAliasingSelector = "ingress.aliasing_selector"
)

// Match field and action parameter names. A name means the same thing, with
// the same width, wherever it appears.
const (
	FieldPort           = "port"            // PortBits
	FieldVIDOuter       = "vid_outer"       // VLANIDBits
	FieldVIDInner       = "vid_inner"       // VLANIDBits
	FieldLabel          = "label"           // LabelBits
	FieldBD             = "bd"              // BridgeDomainBits
	FieldAC             = "ac"              // AttachmentCircuitBits
	FieldES             = "es"              // EthernetSegmentBits
	FieldPE             = "pe"              // RemotePEBits
	FieldGroup          = "group"           // AliasingGroupBits
	FieldMAC            = "mac"             // MACBits
	FieldRID            = "rid"             // EgressRIDBits
	FieldSrcMAC         = "src_mac"         // MACBits
	FieldDstMAC         = "dst_mac"         // MACBits
	FieldTransportLabel = "transport_label" // LabelBits
	FieldControlWord    = "control_word"    // ControlWordFlagBits
	FieldReason         = "reason"          // DropReasonBits (discard) or PuntReasonBits (packet_in)
)

// Counter names. All are indexed packets-and-bytes counters.
const (
	CounterACIn     = "ingress.ac_in" // index: AC id
	CounterBDIn     = "ingress.bd_in" // index: bd id
	CounterDropsIn  = "ingress.drops" // index: DropReason
	CounterACOut    = "egress.ac_out" // index: AC id
	CounterBDOut    = "egress.bd_out" // index: bd id
	CounterDropsOut = "egress.drops"  // index: DropReason
)

// The learning digest and its fields: {bd, mac, ac} of a station seen on an
// access AC that ingress.smac does not place there.
const (
	DigestMACLearn = "mac_learn_digest_t"
	DigestFieldBD  = "bd"
	DigestFieldMAC = "mac"
	DigestFieldAC  = "ac"
)

// Controller packet metadata (P4Runtime PacketIn / PacketOut).
const (
	PacketIn            = "packet_in"
	PacketInIngressPort = "ingress_port" // PortBits
	PacketInAC          = "ac"           // AttachmentCircuitBits
	PacketInBD          = "bd"           // BridgeDomainBits
	PacketInReason      = "reason"       // PuntReasonBits
	PacketOut           = "packet_out"
	PacketOutEgressPort = "egress_port" // PortBits
	PacketOutPad        = "_pad"        // 7 bits, write 0
	PacketOutPadBits    = 7
)

// DropReason is the index of a drop counter (ingress.drops or egress.drops):
// why the pipeline discarded a frame or a copy of it.
type DropReason uint8

// Drop reasons, as DROP_* in include/headers.p4. 1-31 are counted in
// ingress.drops, 32-63 in egress.drops.
const (
	DropParseError           DropReason = 1  // the parser could not handle the frame
	DropPortUnconfigured     DropReason = 2  // no port_kind entry for the ingress port
	DropACUnknown            DropReason = 3  // (port, VLANs) is no attachment circuit
	DropSMACMulticast        DropReason = 4  // source MAC has the group bit set
	DropNotMPLS              DropReason = 5  // a core port received a non-MPLS frame
	DropLabelUnknown         DropReason = 6  // the service label is not ours
	DropESILabelUnknown      DropReason = 7  // the ESI label is not ours
	DropLabelStack           DropReason = 8  // labels below the ESI label, or no payload
	DropBadControlWord       DropReason = 9  // control word's first nibble is not 0
	DropFDBDiscard           DropReason = 10 // destination MAC installed as fdb_discard
	DropCoreToCore           DropReason = 11 // known unicast from the core toward a remote PE
	DropAliasingGroupUnknown DropReason = 12 // to_aliasing_group names an empty or absent group
	DropTunnelUnknown        DropReason = 13 // no tunnel_port entry for the remote PE
	DropBDInvalid            DropReason = 14 // classified into bridge domain 0
	DropPinnedMove           DropReason = 15 // a pinned MAC showed up on another AC
	DropACBlocked            DropReason = 16 // from an AC blocked by single-active DF
	DropRemoteLabelUnknown   DropReason = 17 // aliasing chose a PE with no label for the bd
	DropReplicaUnknown       DropReason = 32 // egress_rid with no flood_replica entry
	DropACEgressUnknown      DropReason = 33 // no ac_egress entry for the AC
	DropSourceAC             DropReason = 34 // the copy would leave by the AC it came in on
	DropSplitHorizon         DropReason = 35 // the copy would go back to its source ES
	DropNonDF                DropReason = 36 // BUM toward an ES where we are not DF
	DropCoreSplitHorizon     DropReason = 37 // BUM from the core is never relayed to another PE
	DropTunnelEncapUnknown   DropReason = 38 // no egress.tunnel entry for the remote PE
	DropACEgressBlocked      DropReason = 39 // to an AC blocked by single-active DF
)

// DropReasons lists every drop reason the program counts, ascending.
func DropReasons() []DropReason {
	return []DropReason{
		DropParseError, DropPortUnconfigured, DropACUnknown, DropSMACMulticast,
		DropNotMPLS, DropLabelUnknown, DropESILabelUnknown, DropLabelStack,
		DropBadControlWord, DropFDBDiscard, DropCoreToCore, DropAliasingGroupUnknown,
		DropTunnelUnknown, DropBDInvalid, DropPinnedMove, DropACBlocked,
		DropRemoteLabelUnknown, DropReplicaUnknown, DropACEgressUnknown, DropSourceAC,
		DropSplitHorizon, DropNonDF, DropCoreSplitHorizon, DropTunnelEncapUnknown,
		DropACEgressBlocked,
	}
}

// Counter returns the name of the counter that counts r.
func (r DropReason) Counter() string {
	if r >= 32 {
		return CounterDropsOut
	}
	return CounterDropsIn
}

// String returns the reason's name as in the P4 source, without DROP_.
func (r DropReason) String() string {
	switch r {
	case DropParseError:
		return "PARSE_ERROR"
	case DropPortUnconfigured:
		return "PORT_UNCONFIGURED"
	case DropACUnknown:
		return "AC_UNKNOWN"
	case DropSMACMulticast:
		return "SMAC_MULTICAST"
	case DropNotMPLS:
		return "NOT_MPLS"
	case DropLabelUnknown:
		return "LABEL_UNKNOWN"
	case DropESILabelUnknown:
		return "ESI_LABEL_UNKNOWN"
	case DropLabelStack:
		return "LABEL_STACK"
	case DropBadControlWord:
		return "BAD_CONTROL_WORD"
	case DropFDBDiscard:
		return "FDB_DISCARD"
	case DropCoreToCore:
		return "CORE_TO_CORE"
	case DropAliasingGroupUnknown:
		return "ALIASING_GROUP_UNKNOWN"
	case DropTunnelUnknown:
		return "TUNNEL_UNKNOWN"
	case DropBDInvalid:
		return "BD_INVALID"
	case DropPinnedMove:
		return "PINNED_MOVE"
	case DropACBlocked:
		return "AC_BLOCKED"
	case DropRemoteLabelUnknown:
		return "REMOTE_LABEL_UNKNOWN"
	case DropReplicaUnknown:
		return "REPLICA_UNKNOWN"
	case DropACEgressUnknown:
		return "AC_EGRESS_UNKNOWN"
	case DropSourceAC:
		return "SOURCE_AC"
	case DropSplitHorizon:
		return "SPLIT_HORIZON"
	case DropNonDF:
		return "NON_DF"
	case DropCoreSplitHorizon:
		return "CORE_SPLIT_HORIZON"
	case DropTunnelEncapUnknown:
		return "TUNNEL_ENCAP_UNKNOWN"
	case DropACEgressBlocked:
		return "AC_EGRESS_BLOCKED"
	}
	return fmt.Sprintf("DROP_%d", uint8(r))
}
