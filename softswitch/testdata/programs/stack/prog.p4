// stack.p4: header stacks (extract next/last, push_front, pop_front,
// setValid/setInvalid), parser select with masks and lookahead, verify and
// parser errors, exit.
#include <core.p4>
#include <v1model.p4>

header eth_t {
    bit<48> dst;
    bit<48> src;
    bit<16> type;
}

header mpls_t {
    bit<20> label;
    bit<3>  tc;
    bit<1>  bos;
    bit<8>  ttl;
}

header tag_t {
    bit<8> kind;
    bit<8> value;
}

header report_t {
    bit<8>  depth;
    bit<8>  perr;
    bit<8>  peek;
    bit<8>  flags;
}

struct headers_t {
    eth_t     eth;
    mpls_t[3] mpls;
    tag_t     tag;
    report_t  report;
}

struct meta_t {
    bit<8> peek;
}

error { BadTag }

parser p(packet_in pkt, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        pkt.extract(h.eth);
        transition select(h.eth.type) {
            0x8847: parse_mpls;
            0x9000 &&& 0xff00: parse_tag;
            default: accept;
        }
    }
    state parse_mpls {
        pkt.extract(h.mpls.next);
        transition select(h.mpls.last.bos) {
            0: parse_mpls;
            1: accept;
        }
    }
    state parse_tag {
        m.peek = pkt.lookahead<bit<8>>();
        pkt.extract(h.tag);
        verify(h.tag.kind != 0xff, error.BadTag);
        transition accept;
    }
}

control vc(inout headers_t h, inout meta_t m) { apply { } }

control ig(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    action push_label(bit<20> label) {
        h.mpls.push_front(1);
        h.mpls[0].setValid();
        h.mpls[0].label = label;
        h.mpls[0].ttl = 64;
        h.mpls[0].bos = h.mpls[1].isValid() ? 1w0 : 1w1;
        h.eth.type = 0x8847;
    }
    action pop_label() {
        h.mpls.pop_front(1);
        if (!h.mpls[0].isValid()) {
            h.eth.type = 0x0800;
        }
    }
    table op {
        key = { h.eth.dst: exact; }
        actions = { push_label; pop_label; NoAction; }
        default_action = NoAction();
    }
    apply {
        sm.egress_spec = sm.ingress_port;
        h.report.setValid();
        if (sm.parser_error == error.NoError) {
            h.report.perr = 0;
        } else if (sm.parser_error == error.StackOutOfBounds) {
            h.report.perr = 1;
        } else if (sm.parser_error == error.BadTag) {
            h.report.perr = 2;
        } else if (sm.parser_error == error.PacketTooShort) {
            h.report.perr = 3;
        } else {
            h.report.perr = 9;
        }
        h.report.peek = m.peek;
        if (h.mpls[2].isValid()) {
            h.report.depth = 3;
        } else if (h.mpls[1].isValid()) {
            h.report.depth = 2;
        } else if (h.mpls[0].isValid()) {
            h.report.depth = 1;
        }
        op.apply();
        if (h.eth.src == 0) {
            h.report.flags = 0xaa;
            exit;
        }
        h.report.flags = 0x55;
    }
}

control eg(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }

control cc(inout headers_t h, inout meta_t m) { apply { } }

control dp(packet_out pkt, in headers_t h) {
    apply {
        pkt.emit(h.report);
        pkt.emit(h.eth);
        pkt.emit(h.mpls);
        pkt.emit(h.tag);
    }
}

V1Switch(p(), vc(), ig(), eg(), cc(), dp()) main;
