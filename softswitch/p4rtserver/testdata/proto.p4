// The conformance suite's program (softswitch/p4rtserver tests). Its P4Info
// names match testdata/proto.p4info.txtpb, the hand-written P4Info of the
// protocol-layer tests, so one suite runs on the fake device, the softswitch
// engine and BMv2. Compile with:
//   p4c-bm2-ss --arch v1model --std p4-16 -o proto.json \
//       --p4runtime-files proto.compiled.p4info.txtpb proto.p4
// (p4c 1.2.5.16 compiled the committed proto.json and proto.compiled.p4info.txtpb.)
//
// Packet I/O: a packet-out is reflected to the CPU port, its packet_out
// egress_port becoming the packet_in ingress_port; a packet-out with
// egress_port 0 instead raises the learning digest mac_learn_t{ethernet
// source, low 9 bits of the ethertype} and is dropped.
#include <core.p4>
#include <v1model.p4>

#define CPU_PORT 255

header ethernet_t {
    bit<48> dst_addr;
    bit<48> src_addr;
    bit<16> ether_type;
}

header ipv4_t {
    bit<4>  version;
    bit<4>  ihl;
    bit<8>  diffserv;
    bit<16> total_len;
    bit<16> identification;
    bit<3>  flags;
    bit<13> frag_offset;
    bit<8>  ttl;
    bit<8>  protocol;
    bit<16> hdr_checksum;
    bit<32> src_addr;
    bit<32> dst_addr;
}

@controller_header("packet_in")
header packet_in_t {
    bit<9> ingress_port;
    bit<7> _pad;
}

@controller_header("packet_out")
header packet_out_t {
    bit<9> egress_port;
    bit<7> _pad;
}

struct headers_t {
    packet_in_t  packet_in;
    packet_out_t packet_out;
    ethernet_t   ethernet;
    ipv4_t       ipv4;
}

struct mac_learn_t {
    bit<48> mac;
    bit<9>  port;
}

struct meta_t {
    bit<12> vlan;
    bit<12> bd;
    bit<9>  reflect_port;
}

parser proto_parser(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        transition select(sm.ingress_port) {
            CPU_PORT: parse_packet_out;
            default: parse_ethernet;
        }
    }
    state parse_packet_out {
        pkt.extract(hdr.packet_out);
        transition parse_ethernet;
    }
    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            0x0800: parse_ipv4;
            default: accept;
        }
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        transition accept;
    }
}

control no_checksum(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

control ingress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    direct_counter(CounterType.packets_and_bytes) fwd_counter;
    counter(8, CounterType.packets_and_bytes) port_counter;
    @max_group_size(4)
    action_selector(HashAlgorithm.crc16, 32w8, 32w14) sel;

    action set_port(bit<9> port) {
        sm.egress_spec = port;
    }
    action drop() {
        mark_to_drop(sm);
    }

    table fwd {
        key = { hdr.ethernet.dst_addr: exact; }
        actions = { set_port; @tableonly drop; @defaultonly NoAction; }
        counters = fwd_counter;
        size = 4;
        default_action = NoAction();
    }
    table acl {
        key = {
            hdr.ethernet.ether_type: ternary;
            hdr.ipv4.dst_addr: lpm;
            meta.vlan: range;
            meta.bd: optional;
        }
        actions = { set_port; @tableonly drop; NoAction; }
        size = 1024;
        const default_action = NoAction();
    }
    table route {
        key = { hdr.ipv4.dst_addr: lpm; }
        actions = { set_port; NoAction; }
        size = 200000;
        default_action = set_port(3);
        support_timeout = true;
    }
    table ecmp {
        key = { meta.bd: exact; }
        actions = { set_port; NoAction; }
        implementation = sel;
        size = 64;
    }

    table port_kind {
        key = { sm.ingress_port: exact; }
        actions = { set_port; NoAction; }
        const entries = {
            9w1 : set_port(9w2);
        }
        default_action = NoAction();
    }

    apply {
        if (hdr.packet_out.isValid()) {
            if (hdr.packet_out.egress_port == 0) {
                digest<mac_learn_t>(1, { hdr.ethernet.src_addr, hdr.ethernet.ether_type[8:0] });
                mark_to_drop(sm);
            } else {
                meta.reflect_port = hdr.packet_out.egress_port;
                hdr.packet_out.setInvalid();
                sm.egress_spec = CPU_PORT;
            }
            return;
        }
        port_counter.count((bit<32>) sm.ingress_port[2:0]);
        port_kind.apply();
        fwd.apply();
        acl.apply();
        route.apply();
        ecmp.apply();
    }
}

control egress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        if (sm.egress_port == CPU_PORT) {
            hdr.packet_in.setValid();
            hdr.packet_in.ingress_port = meta.reflect_port;
            hdr.packet_in._pad = 0;
        }
    }
}

control proto_deparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.packet_in);
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.ipv4);
    }
}

V1Switch(proto_parser(), no_checksum(), ingress(), egress(), no_checksum(), proto_deparser()) main;
