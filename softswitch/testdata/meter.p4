// meter.p4: a program the engine must refuse: it executes a meter, which
// the softswitch does not implement.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> f; }
struct headers_t { h_t h; }
struct meta_t { bit<32> color; }

parser p(packet_in pkt, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pkt.extract(h.h); transition accept; }
}
control vc(inout headers_t h, inout meta_t m) { apply { } }
control ig(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    meter(16, MeterType.packets) mtr;
    apply {
        mtr.execute_meter((bit<32>) h.h.f, m.color);
        sm.egress_spec = sm.ingress_port;
    }
}
control eg(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control cc(inout headers_t h, inout meta_t m) { apply { } }
control dp(packet_out pkt, in headers_t h) { apply { pkt.emit(h.h); } }
V1Switch(p(), vc(), ig(), eg(), cc(), dp()) main;
