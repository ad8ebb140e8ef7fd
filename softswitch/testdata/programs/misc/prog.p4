// misc.p4: constructs the other test programs and evpn.p4 do not use
// (parser value sets are in ../value_set).
// The frame is an Ethernet header, a `cmd` header and then, selected by
// cmd.kind, either a `small` or a `big` member of a header_union. Ingress
// writes results into a `res` header appended after the union and sends the
// frame back out of its ingress port.
//
//   parser: cmd.kind 1 parses the union's `small` member, 2 its `big`
//     member; anything else is not parsed (res.parsed = 0).
//   cmd.op 1: res.sat_add = cmd.a |+| cmd.b, res.sat_sub = cmd.a |-| cmd.b (bit<8>)
//   cmd.op 2: meter `m` (indirect, packets) at index cmd.a: res.color
//   cmd.op 3: table `dm` with a direct meter: res.color from the direct meter
//   cmd.op 4: random(res.rand, 10, 20)
//   cmd.op 5: exit from an action before the rest of ingress (res.after_exit stays 0)
//   always (unless exited): res.after_exit = 1, res.union_valid = which union member is valid
//     (0 none, 1 small, 2 big), res.parsed = 1 when the union was parsed.
#include <core.p4>
#include <v1model.p4>

header eth_t {
    bit<48> dst;
    bit<48> src;
    bit<16> type;
}

header cmd_t {
    bit<8> kind;
    bit<8> op;
    bit<8> a;
    bit<8> b;
}

header small_t {
    bit<8> v;
}

header big_t {
    bit<32> v;
}

header_union payload_t {
    small_t small;
    big_t   big;
}

header res_t {
    bit<8> sat_add;
    bit<8> sat_sub;
    bit<8> color;
    bit<8> rand;
    bit<8> after_exit;
    bit<8> union_valid;
    bit<8> parsed;
    bit<8> pad;
}

struct headers_t {
    eth_t     eth;
    cmd_t     cmd;
    payload_t payload;
    res_t     res;
}

struct meta_t {
    bit<8> parsed;
}

parser prs(packet_in pkt, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        pkt.extract(h.eth);
        pkt.extract(h.cmd);
        transition select(h.cmd.kind) {
            1: parse_small;
            2: parse_big;
            default: accept;
        }
    }
    state parse_small {
        pkt.extract(h.payload.small);
        m.parsed = 1;
        transition accept;
    }
    state parse_big {
        pkt.extract(h.payload.big);
        m.parsed = 1;
        transition accept;
    }
}

control vck(inout headers_t h, inout meta_t m) {
    apply { }
}

control ing(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    meter(8, MeterType.packets) mtr;
    direct_meter<bit<2>>(MeterType.packets) dmtr;
    bit<2> m_color = 0;

    action stop() {
        exit;
    }

    action metered() {
        dmtr.read(m_color);
    }

    table dm {
        key = { h.cmd.a: exact; }
        actions = { metered; NoAction; }
        default_action = NoAction();
        meters = dmtr;
        size = 16;
    }

    apply {
        h.res.setValid();
        sm.egress_spec = sm.ingress_port;
        if (h.cmd.op == 1) {
            h.res.sat_add = h.cmd.a |+| h.cmd.b;
            h.res.sat_sub = h.cmd.a |-| h.cmd.b;
        } else if (h.cmd.op == 2) {
            bit<2> color;
            mtr.execute_meter((bit<32>) h.cmd.a, color);
            h.res.color = (bit<8>) color;
        } else if (h.cmd.op == 3) {
            dm.apply();
            h.res.color = (bit<8>) m_color;
        } else if (h.cmd.op == 4) {
            random(h.res.rand, 8w10, 8w20);
        } else if (h.cmd.op == 5) {
            stop();
        }
        h.res.after_exit = 1;
        h.res.parsed = m.parsed;
        if (h.payload.small.isValid()) {
            h.res.union_valid = 1;
        } else if (h.payload.big.isValid()) {
            h.res.union_valid = 2;
        }
    }
}

control egr(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    apply { }
}

control cck(inout headers_t h, inout meta_t m) {
    apply { }
}

control dep(packet_out pkt, in headers_t h) {
    apply {
        pkt.emit(h.eth);
        pkt.emit(h.cmd);
        pkt.emit(h.payload);
        pkt.emit(h.res);
    }
}

V1Switch(prs(), vck(), ing(), egr(), cck(), dep()) main;
