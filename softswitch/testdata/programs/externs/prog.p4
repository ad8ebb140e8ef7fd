// externs.p4: v1model externs and the packet replication engine. Header
// `cmd` says what to do with the frame; header `res` carries results out.
//   op 1: unicast to port `arg`
//   op 2: multicast to group `arg`; egress writes egress_rid into res.rid
//   op 3: clone I2E to session `arg`, original to port 1
//   op 4: clone E2E to session `arg`, original to port 1
//   op 5: resubmit once (res.loops counts passes, preserved by field list)
//   op 6: recirculate once
//   op 7: registers: reg[arg] += 1, res.value = new value
//   op 8: hashes of `data` into res (crc16, crc32, identity, csum16)
//   op 9: digest {data, ingress_port}
//   op 10: action selector on `data` (table sel)
//   op 11: to the CPU port with a packet_in header
//   op 12: truncate to 20 bytes
//   op 13: indirect counter cnt[arg]
// A frame from the CPU port starts with a packet_out header whose egress
// port is used as is.
#include <core.p4>
#include <v1model.p4>

#define CPU_PORT 64

@controller_header("packet_in")
header packet_in_t {
    bit<9> ingress_port;
    bit<7> pad;
}

@controller_header("packet_out")
header packet_out_t {
    bit<9> egress_port;
    bit<7> pad;
}

header cmd_t {
    bit<8>  op;
    bit<16> arg;
    bit<32> data;
}

header res_t {
    bit<16> rid;
    bit<8>  instance;
    bit<8>  loops;
    bit<32> value;
    bit<16> crc16;
    bit<32> crc32;
    bit<32> ident;
    bit<16> csum;
    bit<16> port;
}

struct headers_t {
    packet_out_t packet_out;
    packet_in_t  packet_in;
    cmd_t cmd;
    res_t res;
}

struct meta_t {
    @field_list(1)
    bit<8> loops;
    bit<8> unused;
}

struct learn_t {
    bit<32> data;
    bit<9>  port;
}

parser p(packet_in pkt, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        transition select(sm.ingress_port) {
            CPU_PORT: parse_packet_out;
            default: parse_cmd;
        }
    }
    state parse_packet_out {
        pkt.extract(h.packet_out);
        transition parse_cmd;
    }
    state parse_cmd {
        pkt.extract(h.cmd);
        pkt.extract(h.res);
        transition accept;
    }
}

control vc(inout headers_t h, inout meta_t m) { apply { } }

control ig(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    register<bit<32>>(16) reg;
    counter(32, CounterType.packets_and_bytes) cnt;
    action_selector(HashAlgorithm.crc32, 32w64, 32w16) ecmp;

    action send(bit<9> port) { sm.egress_spec = port; }

    table sel {
        key = {
            h.cmd.arg: exact;
            h.cmd.data: selector;
        }
        actions = { send; NoAction; }
        implementation = ecmp;
        size = 64;
    }

    apply {
        if (h.packet_out.isValid()) {
            sm.egress_spec = h.packet_out.egress_port;
            h.packet_out.setInvalid();
            exit;
        }
        h.res.loops = h.res.loops + 1;
        h.res.instance = (bit<8>) sm.instance_type;
        if (h.cmd.op == 1) {
            sm.egress_spec = (bit<9>) h.cmd.arg;
        } else if (h.cmd.op == 2) {
            sm.mcast_grp = h.cmd.arg;
        } else if (h.cmd.op == 3) {
            sm.egress_spec = 1;
            clone(CloneType.I2E, (bit<32>) h.cmd.arg);
        } else if (h.cmd.op == 4) {
            sm.egress_spec = 1;
        } else if (h.cmd.op == 5) {
            sm.egress_spec = 1;
            m.loops = m.loops + 1;
            if (m.loops < 2) {
                resubmit_preserving_field_list(1);
            }
            h.res.value = (bit<32>) m.loops;
        } else if (h.cmd.op == 6) {
            sm.egress_spec = 1;
        } else if (h.cmd.op == 7) {
            bit<32> v;
            reg.read(v, (bit<32>) h.cmd.arg);
            v = v + 1;
            reg.write((bit<32>) h.cmd.arg, v);
            h.res.value = v;
            sm.egress_spec = 1;
        } else if (h.cmd.op == 8) {
            hash(h.res.crc16, HashAlgorithm.crc16, 16w0, { h.cmd.data }, 32w65536);
            hash(h.res.crc32, HashAlgorithm.crc32, 32w0, { h.cmd.data }, 64w4294967296);
            hash(h.res.ident, HashAlgorithm.identity, 32w0, { h.cmd.data }, 64w4294967296);
            hash(h.res.csum, HashAlgorithm.csum16, 16w0, { h.cmd.data, h.cmd.arg }, 32w65536);
            sm.egress_spec = 1;
        } else if (h.cmd.op == 9) {
            digest<learn_t>(1, { h.cmd.data, sm.ingress_port });
            sm.egress_spec = 1;
        } else if (h.cmd.op == 10) {
            sel.apply();
        } else if (h.cmd.op == 11) {
            sm.egress_spec = CPU_PORT;
        } else if (h.cmd.op == 12) {
            truncate(20);
            sm.egress_spec = 1;
        } else if (h.cmd.op == 13) {
            cnt.count((bit<32>) h.cmd.arg);
            sm.egress_spec = 1;
        } else {
            mark_to_drop(sm);
        }
    }
}

control eg(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        h.res.rid = sm.egress_rid;
        h.res.port = (bit<16>) sm.egress_port;
        if (sm.instance_type != 0) {
            h.res.instance = (bit<8>) sm.instance_type;
        }
        if (h.cmd.op == 4 && sm.instance_type == 0) {
            clone(CloneType.E2E, (bit<32>) h.cmd.arg);
        }
        // Recirculated packets come back with instance_type NORMAL at
        // egress (simple_switch sets it for every unicast packet), so the
        // pass count in the frame stops the loop.
        if (h.cmd.op == 6 && h.res.loops == 1) {
            recirculate_preserving_field_list(1);
        }
        if (sm.egress_port == CPU_PORT) {
            h.packet_in.setValid();
            h.packet_in.ingress_port = sm.ingress_port;
        }
    }
}

control cc(inout headers_t h, inout meta_t m) { apply { } }

control dp(packet_out pkt, in headers_t h) {
    apply {
        pkt.emit(h.packet_in);
        pkt.emit(h.cmd);
        pkt.emit(h.res);
    }
}

V1Switch(p(), vc(), ig(), eg(), cc(), dp()) main;
