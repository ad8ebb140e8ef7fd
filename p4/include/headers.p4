// Types, constants, headers and metadata of the EVPN pipeline.
//
// Every identifier the controller assigns has a fixed width, and every counter
// indexed by such an identifier is sized 2^width, so any value the controller
// can write is a valid counter index. Identifier 0 is reserved in every space:
// it means "none" in metadata.

#ifndef EVPN_HEADERS_P4
#define EVPN_HEADERS_P4

// ---------------------------------------------------------------- types

typedef bit<9>  port_t;           // v1model port number
typedef bit<48> mac_t;            // Ethernet address
typedef bit<12> vid_t;            // 802.1Q VLAN id; 0 = no tag
typedef bit<20> label_t;          // MPLS label
typedef bit<12> bd_t;             // bridge domain (one per MAC-VRF); also its multicast group id
typedef bit<14> ac_t;             // attachment circuit
typedef bit<10> es_t;             // local Ethernet segment; 0 = single-homed
typedef bit<12> pe_t;             // remote PE, i.e. one MPLS tunnel
typedef bit<12> aliasing_group_t; // set of remote PEs attached to one remote ES
typedef bit<6>  drop_reason_t;    // index into the drop counters
typedef bit<5>  punt_reason_t;    // why a frame went to the controller

const bit<32> BD_COUNT = 1 << 12;
const bit<32> AC_COUNT = 1 << 14;
const bit<32> DROP_REASON_COUNT = 1 << 6;

// The CPU port: frames sent to it reach the controller as P4Runtime
// PacketIn, and PacketOut frames arrive on it. It must equal the target's
// CPU port (simple_switch_grpc --cpu-port 255; the softswitch uses the same
// default). Override at compile time with -DCPU_PORT=n.
#ifndef CPU_PORT
#define CPU_PORT 255
#endif
const port_t CPU_PORT_ID = CPU_PORT;

// ---------------------------------------------------------------- table sizes

const int PORT_TABLE_SIZE            = 512;    // every v1model port
const int AC_TABLE_SIZE              = 16384;  // every AC id
const int TRANSPORT_LABEL_TABLE_SIZE = 64;     // our own LSP tail labels
const int SERVICE_LABEL_TABLE_SIZE   = 8192;   // a unicast and a BUM label per bd
const int ESI_LABEL_TABLE_SIZE       = 1024;   // one per local ES
const int SMAC_TABLE_SIZE            = 131072; // local MACs
const int FDB_TABLE_SIZE             = 131072; // local and remote MACs
const int ALIASING_TABLE_SIZE        = 4096;   // aliasing groups
const bit<32> ALIASING_SELECTOR_SIZE = 16384;  // aliasing members: (PE, label) pairs
const int TUNNEL_TABLE_SIZE          = 4096;   // every remote PE id
const int REMOTE_LABEL_TABLE_SIZE    = 65536;  // (remote PE, bd) pairs
const int FLOOD_REPLICA_TABLE_SIZE   = 65536;  // every egress_rid
const int DF_TABLE_SIZE              = 16384;  // (ES, bd) pairs where we are DF
const int PEER_ESI_LABEL_TABLE_SIZE  = 16384;  // (remote PE, ES) pairs

// ---------------------------------------------------------------- constants

const bit<16> ETHERTYPE_VLAN        = 0x8100; // C-tag
const bit<16> ETHERTYPE_QINQ        = 0x88A8; // S-tag (802.1ad)
const bit<16> ETHERTYPE_QINQ_LEGACY = 0x9100;
const bit<16> ETHERTYPE_MPLS        = 0x8847;

const label_t LABEL_IPV4_EXPLICIT_NULL = 0;
const label_t LABEL_IPV6_EXPLICIT_NULL = 2;
// In a tunnel entry, transport label 3 (implicit null) means "push no
// transport label": the next hop is the remote PE itself, or it advertised
// implicit null for penultimate-hop popping.
const label_t LABEL_IMPLICIT_NULL = 3;
// The bottom-of-stack label says whether a pseudowire control word follows:
// it does iff this bit is set. The parser cannot consult tables, and the first
// nibble of a control word (0) is also the first nibble of many MAC
// addresses, so the control word is encoded in our own label space: a PE
// that asks its peers for a control word allocates its labels (service, BUM
// and ESI) from the upper half of the label space.
const label_t LABEL_CONTROL_WORD_BIT = 0x80000;
const bit<8> MPLS_TTL = 255;

// Port kinds, set per port by the controller (ingress.port table).
const bit<2> PORT_KIND_UNCONFIGURED = 0;
const bit<2> PORT_KIND_ACCESS       = 1;
const bit<2> PORT_KIND_CORE         = 2;

// Where a unicast frame or a replica is going.
const bit<2> OUT_NONE = 0;
const bit<2> OUT_AC   = 1; // a local attachment circuit
const bit<2> OUT_PE   = 2; // a remote PE, through its tunnel
const bit<2> OUT_CPU  = 3; // the controller

// Drop reasons: the index into ingress.drops or egress.drops (both sized 64
// and indexed by the same numbers; each reason is counted where it happens:
// 1-31 in ingress, 32-63 in egress).
const drop_reason_t DROP_PARSE_ERROR            = 1;  // the parser could not handle the frame
const drop_reason_t DROP_PORT_UNCONFIGURED      = 2;  // no port kind for the ingress port
const drop_reason_t DROP_AC_UNKNOWN             = 3;  // (port, VLANs) is no attachment circuit
const drop_reason_t DROP_SMAC_MULTICAST         = 4;  // source MAC has the group bit set
const drop_reason_t DROP_NOT_MPLS               = 5;  // a core port received a non-MPLS frame
const drop_reason_t DROP_LABEL_UNKNOWN          = 6;  // the service label is not ours
const drop_reason_t DROP_ESI_LABEL_UNKNOWN      = 7;  // the ESI label is not ours
const drop_reason_t DROP_LABEL_STACK            = 8;  // labels below the ESI label, or no payload
const drop_reason_t DROP_BAD_CONTROL_WORD       = 9;  // control word's first nibble is not 0
const drop_reason_t DROP_FDB_DISCARD            = 10; // destination MAC installed as discard
const drop_reason_t DROP_CORE_TO_CORE           = 11; // unicast from the core to a remote PE
const drop_reason_t DROP_ALIASING_GROUP_UNKNOWN = 12; // FDB names an aliasing group with no members
const drop_reason_t DROP_TUNNEL_UNKNOWN         = 13; // no tunnel port for the remote PE
const drop_reason_t DROP_BD_INVALID             = 14; // classified into bridge domain 0
const drop_reason_t DROP_PINNED_MOVE            = 15; // a pinned MAC showed up on another AC
const drop_reason_t DROP_AC_BLOCKED             = 16; // from an AC blocked by single-active DF
const drop_reason_t DROP_REMOTE_LABEL_UNKNOWN   = 17; // aliasing chose a PE with no label for the bd
const drop_reason_t DROP_REPLICA_UNKNOWN        = 32; // egress_rid has no replica treatment
const drop_reason_t DROP_AC_EGRESS_UNKNOWN      = 33; // no egress treatment for the AC
const drop_reason_t DROP_SOURCE_AC              = 34; // would leave by the AC it came in on
const drop_reason_t DROP_SPLIT_HORIZON          = 35; // would go back to its source ES
const drop_reason_t DROP_NON_DF                 = 36; // BUM toward an ES where we are not DF
const drop_reason_t DROP_CORE_SPLIT_HORIZON     = 37; // BUM from the core is not sent to other PEs
const drop_reason_t DROP_TUNNEL_ENCAP_UNKNOWN   = 38; // no encapsulation for the remote PE
const drop_reason_t DROP_AC_EGRESS_BLOCKED      = 39; // to an AC blocked by single-active DF

// Punt reasons, carried in packet_in.reason.
const punt_reason_t PUNT_FDB = 1; // the destination MAC is installed as to_cpu

// ---------------------------------------------------------------- headers

header ethernet_t {
    mac_t   dst_addr;
    mac_t   src_addr;
    bit<16> ether_type;
}

header vlan_tag_t {
    bit<3>  pcp;
    bit<1>  dei;
    vid_t   vid;
    bit<16> ether_type;
}

header mpls_t {
    label_t label;
    bit<3>  tc;
    bit<1>  bos;
    bit<8>  ttl;
}

// RFC 4385 pseudowire control word (generic form, first nibble 0).
header pw_control_word_t {
    bit<4>  zero;
    bit<4>  flags;
    bit<2>  frg;
    bit<6>  length;
    bit<16> sequence;
}

// Prepended to every frame sent to the controller (P4Runtime PacketIn
// metadata). 40 bits.
@controller_header("packet_in")
header packet_in_t {
    port_t        ingress_port; // port the frame arrived on
    ac_t          ac;           // its attachment circuit (0 from the core)
    bd_t          bd;           // its bridge domain
    punt_reason_t reason;       // PUNT_*
}

// Prepended by the controller to every frame it injects (P4Runtime PacketOut
// metadata). The frame leaves egress_port exactly as given. 16 bits.
@controller_header("packet_out")
header packet_out_t {
    port_t egress_port;
    bit<7> _pad;
}

// Header order is wire order: the deparser emits the valid ones top down.
struct headers_t {
    packet_out_t      packet_out;      // parsed on the CPU port only
    packet_in_t       packet_in;       // added in egress toward the CPU port
    // Core encapsulation pushed in egress toward a remote PE.
    ethernet_t        encap_ethernet;
    mpls_t            encap_transport;
    mpls_t            encap_service;
    mpls_t            encap_esi;
    pw_control_word_t encap_cw;
    // The frame as received. After ingress, ethernet (with vlan re-pushed
    // in egress toward an AC) is the customer frame on every path.
    ethernet_t        ethernet;
    vlan_tag_t[2]     vlan;
    mpls_t[4]         mpls;
    pw_control_word_t cw;
    ethernet_t        inner_ethernet;
    vlan_tag_t        inner_vlan;
}

// The learning digest: a station seen on an access AC that the source-MAC
// table does not know there.
struct mac_learn_digest_t {
    bd_t  bd;
    mac_t mac;
    ac_t  ac;
}

struct metadata_t {
    bit<2>           port_kind;     // PORT_KIND_*
    vid_t            vid_outer;     // outer VLAN id as received, 0 if untagged
    vid_t            vid_inner;     // inner VLAN id as received, 0 if single-tagged
    bd_t             bd;
    ac_t             in_ac;         // 0 when the frame came from the core
    es_t             in_es;         // source ES: the AC's, or the ESI label's
    bit<3>           pcp;           // priority: outer tag PCP, or service label TC
    bool             from_cpu;
    bool             from_core;
    bool             is_bum;        // flooded: broadcast, multicast, unknown unicast, BUM label
    bool             learn;         // raise a learning digest
    bool             pinned_move;   // a pinned MAC arrived on another AC
    label_t          service_label;
    bool             has_esi_label;
    label_t          esi_label;
    bool             label_overflow; // labels below the ESI label
    bit<2>           out_kind;      // OUT_*
    ac_t             out_ac;
    pe_t             out_pe;
    label_t          out_label;     // service label (unicast) or IMET label (replica)
    aliasing_group_t aliasing_group;
    es_t             out_es;        // ES of out_ac
    vid_t            out_vid_outer;
    vid_t            out_vid_inner;
    label_t          transport_label;
    bool             control_word;
    punt_reason_t    punt_reason;
}

#endif // EVPN_HEADERS_P4
