// arith.p4: expression evaluation at odd bit widths. The frame carries the
// operands in header `in`; ingress computes into header `out` (appended after
// `in`) and sends the frame back out of its ingress port. Every result is
// checked against Go arithmetic by arith_test.go.
#include <core.p4>
#include <v1model.p4>

header in_t {
    bit<8>  a8;
    bit<8>  b8;
    bit<7>  a7;
    bit<1>  flag;
    bit<16> a16;
    bit<16> b16;
    bit<32> a32;
    bit<64> a64;
    bit<64> b64;
    bit<128> w128;
}

header out_t {
    bit<8>  add8;
    bit<8>  sub8;
    bit<8>  mul8;
    bit<7>  add7;
    bit<1>  lt;
    bit<16> shl16;
    bit<16> shr16;
    bit<16> and16;
    bit<16> or16;
    bit<16> xor16;
    bit<16> not16;
    bit<32> concat;
    bit<8>  slice;
    bit<32> cast;
    bit<64> add64;
    bit<64> sub64;
    bit<8>  tern;
    bit<8>  cmp;
    bit<128> w128;
    bit<8>  weq;
    bit<16> neg16;
    bit<8>  shlvar;
}

struct headers_t {
    in_t  in;
    out_t out;
}

struct meta_t { }

parser p(packet_in pkt, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        pkt.extract(h.in);
        transition accept;
    }
}

control vc(inout headers_t h, inout meta_t m) { apply { } }

control ig(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        h.out.setValid();
        h.out.add8 = h.in.a8 + h.in.b8;
        h.out.sub8 = h.in.a8 - h.in.b8;
        h.out.mul8 = h.in.a8 * h.in.b8;
        h.out.add7 = h.in.a7 + 7w100;
        h.out.lt = (h.in.a16 < h.in.b16) ? 1w1 : 1w0;
        h.out.shl16 = h.in.a16 << 3;
        h.out.shr16 = h.in.a16 >> 5;
        h.out.and16 = h.in.a16 & h.in.b16;
        h.out.or16 = h.in.a16 | h.in.b16;
        h.out.xor16 = h.in.a16 ^ h.in.b16;
        h.out.not16 = ~h.in.a16;
        h.out.concat = h.in.a8 ++ h.in.b8 ++ h.in.a16[15:8] ++ h.in.a16[7:0];
        h.out.slice = h.in.a32[19:12];
        h.out.cast = (bit<32>) h.in.a8 + (bit<32>) h.in.a16;
        h.out.add64 = h.in.a64 + h.in.b64;
        h.out.sub64 = h.in.a64 - h.in.b64;
        h.out.tern = h.in.flag == 1 ? h.in.a8 : h.in.b8;
        bit<8> c = 0;
        if (h.in.a8 >= h.in.b8) { c = c | 1; }
        if (h.in.a8 != h.in.b8 && h.in.a16 <= h.in.b16) { c = c | 2; }
        if (!(h.in.a32 > 1000) || h.in.flag == 1) { c = c | 4; }
        if (h.in.a64 == h.in.b64) { c = c | 8; }
        h.out.cmp = c;
        h.out.w128 = h.in.w128;
        h.out.weq = h.in.w128 == 128w0x0102030405060708090a0b0c0d0e0f10 ? 8w1 : 8w0;
        h.out.neg16 = -h.in.a16;
        h.out.shlvar = h.in.a8 << h.in.b8[2:0];
        sm.egress_spec = sm.ingress_port;
    }
}

control eg(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }

control cc(inout headers_t h, inout meta_t m) { apply { } }

control dp(packet_out pkt, in headers_t h) {
    apply {
        pkt.emit(h.in);
        pkt.emit(h.out);
    }
}

V1Switch(p(), vc(), ig(), eg(), cc(), dp()) main;
