// What BMv2 does when a table with an action profile or selector misses:
// p4c emits no default_entry for such tables (it warns that the target does
// not support default_action), so BMv2 runs an empty action and goes to the
// table's base_default_next, or its __MISS__ node. The tag header records
// which tables and branches ran; the frame leaves by port 2.
#include <core.p4>
#include <v1model.p4>

header eth_t {
    bit<48> dst;
    bit<48> src;
    bit<16> type;
}

header tag_t {
    bit<8> a;
    bit<8> b;
    bit<8> c;
    bit<8> d;
    bit<8> e;
    bit<8> f;
}

struct headers_t {
    eth_t eth;
    tag_t tag;
}

struct meta_t {}

parser P(packet_in pk, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        pk.extract(h.eth);
        pk.extract(h.tag);
        transition accept;
    }
}

control VC(inout headers_t h, inout meta_t m) { apply {} }

control Ig(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    action_selector(HashAlgorithm.crc16, 32w64, 32w16) sel_plain;
    action_selector(HashAlgorithm.crc16, 32w64, 32w16) sel_hm;
    action_selector(HashAlgorithm.crc16, 32w64, 32w16) sel_sw;
    action_profile(32w64) prof;

    action set_a(bit<8> v) { h.tag.a = v; }
    action set_b(bit<8> v) { h.tag.b = v; }
    action set_c(bit<8> v) { h.tag.c = v; }
    action set_d(bit<8> v) { h.tag.d = v; }
    action set_e(bit<8> v) { h.tag.e = v; }

    // Applied plainly: next nodes by action, a miss goes to base_default_next.
    table plain {
        key = { h.eth.type: exact; h.eth.src: selector; }
        actions = { set_a; }
        implementation = sel_plain;
    }
    // Applied for .hit: a miss goes to the __MISS__ node.
    table hm {
        key = { h.eth.type: exact; h.eth.src: selector; }
        actions = { set_b; }
        implementation = sel_hm;
    }
    // Applied in a switch on action_run: which branch does a miss take?
    table sw {
        key = { h.eth.type: exact; h.eth.src: selector; }
        actions = { set_c; set_d; }
        implementation = sel_sw;
    }
    // An action profile without a selector.
    table ap {
        key = { h.eth.type: exact; }
        actions = { set_e; }
        implementation = prof;
    }
    action last_ran() { h.tag.f = h.tag.f | 0x40; }

    // A direct table at the end: its default action marks that it ran.
    table last {
        key = { h.eth.dst: exact; }
        actions = { last_ran; }
        default_action = last_ran();
    }

    apply {
        sm.egress_spec = 2;
        plain.apply();
        h.tag.f = 0x01;
        if (hm.apply().hit) {
            h.tag.f = h.tag.f | 0x02;
        } else {
            h.tag.f = h.tag.f | 0x04;
        }
        switch (sw.apply().action_run) {
            set_c: { h.tag.f = h.tag.f | 0x08; }
            default: { h.tag.f = h.tag.f | 0x10; }
        }
        ap.apply();
        h.tag.f = h.tag.f | 0x20;
        last.apply();
    }
}

control Eg(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply {} }
control CC(inout headers_t h, inout meta_t m) { apply {} }

control D(packet_out pk, in headers_t h) {
    apply {
        pk.emit(h.eth);
        pk.emit(h.tag);
    }
}

V1Switch(P(), VC(), Ig(), Eg(), CC(), D()) main;
