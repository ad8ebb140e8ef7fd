// The program the p4rt integration tests and benchmarks run on real targets
// (the softswitch, BMv2). It is not a switch: it exists to give the client
// every kind of P4Runtime object to program, and a way to make the target
// produce digests and packet-ins with nothing but a packet-out:
//
//   packet-out(egress_port = P, frame) enters ingress as if it arrived on
//   port P; a destination MAC that misses `fib` raises a `learn_t` digest
//   (bd, source MAC, P) and comes back as a packet-in (ingress_port = P,
//   reason = 1).
//
// The compiled outputs are committed next to it; README.md says how to
// rebuild them.
#include <core.p4>
#include <v1model.p4>

const bit<9> CPU_PORT = 255;

@controller_header("packet_in")
header packet_in_t {
    bit<9> ingress_port;
    bit<7> reason;
}

@controller_header("packet_out")
header packet_out_t {
    bit<9> egress_port;
    bit<7> flags;
}

header ethernet_t {
    bit<48> dst_addr;
    bit<48> src_addr;
    bit<16> ether_type;
}

struct headers_t {
    packet_out_t packet_out;
    packet_in_t  packet_in;
    ethernet_t   ethernet;
}

struct learn_t {
    bit<16> bd;
    bit<48> mac;
    bit<9>  port;
}

struct metadata_t {
    bit<16> bd;
    bit<9>  in_port;
    bit<16> nhop;
}

parser TestParser(packet_in packet, out headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t standard_metadata) {
    state start {
        transition select(standard_metadata.ingress_port) {
            CPU_PORT: parse_packet_out;
            default: parse_ethernet;
        }
    }
    state parse_packet_out {
        packet.extract(hdr.packet_out);
        transition parse_ethernet;
    }
    state parse_ethernet {
        packet.extract(hdr.ethernet);
        transition accept;
    }
}

control TestVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control TestIngress(inout headers_t hdr, inout metadata_t meta,
                    inout standard_metadata_t standard_metadata) {
    counter(512, CounterType.packets_and_bytes) port_counter;
    direct_counter(CounterType.packets_and_bytes) fib_counter;
    action_selector(HashAlgorithm.crc16, 32w1024, 32w14) ecmp_selector;

    action drop() {
        mark_to_drop(standard_metadata);
    }
    action set_bd(bit<16> bd) {
        meta.bd = bd;
    }
    action forward(bit<9> port) {
        standard_metadata.egress_spec = port;
    }
    action fib_forward(bit<9> port) {
        standard_metadata.egress_spec = port;
        fib_counter.count();
    }
    action fib_flood(bit<16> group) {
        standard_metadata.mcast_grp = group;
        fib_counter.count();
    }
    action fib_miss() {
        fib_counter.count();
    }
    action set_nhop(bit<16> nhop) {
        meta.nhop = nhop;
    }

    table port_bd {
        key = { meta.in_port: exact; }
        actions = { set_bd; NoAction; }
        default_action = NoAction();
        size = 512;
    }
    table fib {
        key = {
            meta.bd: exact;
            hdr.ethernet.dst_addr: exact;
        }
        actions = { fib_forward; fib_flood; @defaultonly fib_miss; }
        default_action = fib_miss();
        counters = fib_counter;
        support_timeout = true;
        size = 262144;
    }
    table route {
        key = {
            meta.bd: exact;
            hdr.ethernet.dst_addr: lpm;
        }
        actions = { set_nhop; @defaultonly NoAction; }
        default_action = NoAction();
        size = 1024;
    }
    table acl {
        key = {
            hdr.ethernet.ether_type: ternary;
            hdr.ethernet.src_addr: optional;
            meta.nhop: range;
        }
        actions = { drop; NoAction; }
        default_action = NoAction();
        size = 1024;
    }
    table ecmp {
        key = {
            meta.nhop: exact;
            hdr.ethernet.src_addr: selector;
        }
        actions = { forward; }
        implementation = ecmp_selector;
        size = 1024;
    }

    apply {
        if (hdr.packet_out.isValid()) {
            // A controller-injected frame pretends to arrive on egress_port.
            meta.in_port = hdr.packet_out.egress_port;
            hdr.packet_out.setInvalid();
        } else {
            meta.in_port = standard_metadata.ingress_port;
        }
        port_counter.count((bit<32>) meta.in_port);
        port_bd.apply();
        if (route.apply().hit) {
            ecmp.apply(); // resolves the next hop route chose
        }
        acl.apply();
        if (!fib.apply().hit) {
            digest<learn_t>(1, {meta.bd, hdr.ethernet.src_addr, meta.in_port});
            standard_metadata.egress_spec = CPU_PORT;
            hdr.packet_in.setValid();
            hdr.packet_in.ingress_port = meta.in_port;
            hdr.packet_in.reason = 1;
        }
    }
}

control TestEgress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t standard_metadata) {
    apply { }
}

control TestComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control TestDeparser(packet_out packet, in headers_t hdr) {
    apply {
        packet.emit(hdr.packet_in);
        packet.emit(hdr.ethernet);
    }
}

V1Switch(TestParser(), TestVerifyChecksum(), TestIngress(), TestEgress(),
         TestComputeChecksum(), TestDeparser()) main;
