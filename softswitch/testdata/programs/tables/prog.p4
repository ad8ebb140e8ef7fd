// tables.p4: match kinds, priorities, default actions, const entries, direct
// counters, hit/miss and action_run control flow. The frame carries the
// lookup keys in header `k`; each table writes its verdict into header `r`.
#include <core.p4>
#include <v1model.p4>

header keys_t {
    bit<32>  addr;    // lpm
    bit<16>  port;    // range
    bit<8>   proto;   // ternary
    bit<8>   opt;     // optional
    bit<48>  mac;     // exact
    bit<128> addr6;   // exact, wider than 64 bits
    bit<8>   sel;     // const entries
}

header result_t {
    bit<8>  lpm;
    bit<8>  acl;
    bit<8>  exact;
    bit<8>  wide;
    bit<8>  konst;
    bit<8>  flow;
    bit<128> addr6;
}

struct headers_t {
    keys_t   k;
    result_t r;
}

struct meta_t { }

parser p(packet_in pkt, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        pkt.extract(h.k);
        transition accept;
    }
}

control vc(inout headers_t h, inout meta_t m) { apply { } }

control ig(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    action set_lpm(bit<8> v) { h.r.lpm = v; }
    action set_acl(bit<8> v) { h.r.acl = v; }
    action set_exact(bit<8> v) { h.r.exact = v; }
    action set_wide(bit<8> v, bit<128> rewrite) { h.r.wide = v; h.r.addr6 = rewrite; }
    action set_const(bit<8> v) { h.r.konst = v; }
    action miss_marker() { h.r.lpm = 0xee; }
    action drop() { mark_to_drop(sm); }

    table route {
        key = { h.k.addr: lpm; }
        actions = { set_lpm; miss_marker; }
        default_action = miss_marker();
        size = 1024;
    }

    table acl {
        key = {
            h.k.proto: ternary;
            h.k.port: range;
            h.k.opt: optional;
        }
        actions = { set_acl; NoAction; }
        default_action = NoAction();
        size = 256;
    }

    direct_counter(CounterType.packets_and_bytes) mac_hits;

    table macs {
        key = { h.k.mac: exact; }
        actions = { set_exact; drop; }
        const default_action = drop();
        counters = mac_hits;
        size = 4096;
    }

    table wide {
        key = { h.k.addr6: exact; }
        actions = { set_wide; NoAction; }
        default_action = NoAction();
        size = 64;
    }

    table fixed {
        key = { h.k.sel: ternary; }
        actions = { set_const; NoAction; }
        const entries = {
            0x01 &&& 0xff: set_const(11);
            0x00 &&& 0xf0: set_const(22);
            _: set_const(33);
        }
    }

    apply {
        h.r.setValid();
        route.apply();
        acl.apply();
        switch (macs.apply().action_run) {
            set_exact: {
                h.r.flow = 1;
            }
        }
        if (wide.apply().hit) {
            h.r.flow = h.r.flow | 2;
        } else {
            h.r.flow = h.r.flow | 4;
        }
        fixed.apply();
        if (sm.egress_spec != 511) {
            sm.egress_spec = sm.ingress_port;
        }
    }
}

control eg(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }

control cc(inout headers_t h, inout meta_t m) { apply { } }

control dp(packet_out pkt, in headers_t h) {
    apply {
        pkt.emit(h.k);
        pkt.emit(h.r);
    }
}

V1Switch(p(), vc(), ig(), eg(), cc(), dp()) main;
