// value_set.p4: a parser value set (P4Runtime ValueSetEntry). The frame is an
// Ethernet header; its EtherType is looked up in the value set `types`
// (bit<16>, up to 4 values). A hit parses the next 4 bytes as header `tag`;
// ingress then writes 1 into tag.seen, and sends the frame back out of its
// ingress port. A miss parses nothing more and the frame returns unchanged.
// Note: BMv2's P4Runtime server (PI) does not implement ValueSetEntry; the
// BMv2 JSON carries the set under "parse_vsets".
#include <core.p4>
#include <v1model.p4>

header eth_t {
    bit<48> dst;
    bit<48> src;
    bit<16> type;
}

header tag_t {
    bit<8>  seen;
    bit<24> rest;
}

struct headers_t {
    eth_t eth;
    tag_t tag;
}

struct meta_t { }

parser prs(packet_in pkt, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    value_set<bit<16>>(4) types;

    state start {
        pkt.extract(h.eth);
        transition select(h.eth.type) {
            types: parse_tag;
            default: accept;
        }
    }
    state parse_tag {
        pkt.extract(h.tag);
        transition accept;
    }
}

control vck(inout headers_t h, inout meta_t m) { apply { } }

control ing(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = sm.ingress_port;
        if (h.tag.isValid()) {
            h.tag.seen = 1;
        }
    }
}

control egr(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }

control cck(inout headers_t h, inout meta_t m) { apply { } }

control dep(packet_out pkt, in headers_t h) {
    apply {
        pkt.emit(h.eth);
        pkt.emit(h.tag);
    }
}

V1Switch(prs(), vck(), ing(), egr(), cck(), dep()) main;
