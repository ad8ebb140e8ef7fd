// arith.p4: expression evaluation at odd bit widths. The frame carries the
// operands in header `inp`; ingress computes into header `outp` (appended after
// `inp`) and sends the frame back out of its ingress port. Every result is
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
    in_t  inp;
    out_t outp;
}

struct meta_t { }

parser p(packet_in pkt, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        pkt.extract(h.inp);
        transition accept;
    }
}

control vc(inout headers_t h, inout meta_t m) { apply { } }

control ig(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        h.outp.setValid();
        h.outp.add8 = h.inp.a8 + h.inp.b8;
        h.outp.sub8 = h.inp.a8 - h.inp.b8;
        h.outp.mul8 = h.inp.a8 * h.inp.b8;
        h.outp.add7 = h.inp.a7 + 7w100;
        h.outp.lt = (h.inp.a16 < h.inp.b16) ? 1w1 : 1w0;
        h.outp.shl16 = h.inp.a16 << 3;
        h.outp.shr16 = h.inp.a16 >> 5;
        h.outp.and16 = h.inp.a16 & h.inp.b16;
        h.outp.or16 = h.inp.a16 | h.inp.b16;
        h.outp.xor16 = h.inp.a16 ^ h.inp.b16;
        h.outp.not16 = ~h.inp.a16;
        h.outp.concat = h.inp.a8 ++ h.inp.b8 ++ h.inp.a16[15:8] ++ h.inp.a16[7:0];
        h.outp.slice = h.inp.a32[19:12];
        h.outp.cast = (bit<32>) h.inp.a8 + (bit<32>) h.inp.a16;
        h.outp.add64 = h.inp.a64 + h.inp.b64;
        h.outp.sub64 = h.inp.a64 - h.inp.b64;
        h.outp.tern = h.inp.flag == 1 ? h.inp.a8 : h.inp.b8;
        bit<8> c = 0;
        if (h.inp.a8 >= h.inp.b8) { c = c | 1; }
        if (h.inp.a8 != h.inp.b8 && h.inp.a16 <= h.inp.b16) { c = c | 2; }
        if (!(h.inp.a32 > 1000) || h.inp.flag == 1) { c = c | 4; }
        if (h.inp.a64 == h.inp.b64) { c = c | 8; }
        h.outp.cmp = c;
        h.outp.w128 = h.inp.w128;
        h.outp.weq = h.inp.w128 == 128w0x0102030405060708090a0b0c0d0e0f10 ? 8w1 : 8w0;
        h.outp.neg16 = -h.inp.a16;
        h.outp.shlvar = h.inp.a8 << h.inp.b8[2:0];
        sm.egress_spec = sm.ingress_port;
    }
}

control eg(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }

control cc(inout headers_t h, inout meta_t m) { apply { } }

control dp(packet_out pkt, in headers_t h) {
    apply {
        pkt.emit(h.inp);
        pkt.emit(h.outp);
    }
}

V1Switch(p(), vc(), ig(), eg(), cc(), dp()) main;
