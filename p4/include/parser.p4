// Parser and deparser.
//
// The parser cannot consult tables, so it does not know whether a port is an
// access or a core port: it parses by EtherType on every port. On a core port
// that yields the MPLS encapsulation and the customer frame inside it; on an
// access port a customer frame that happens to carry MPLS is parsed the same
// way, and the extra headers are simply emitted again unchanged, because the
// encapsulation this pipeline adds lives in separate encap_* headers.
//
// Any parser error (a third VLAN tag, a fifth label, a truncated frame) is
// recorded in standard_metadata.parser_error; ingress drops such a frame
// first thing and counts it as DROP_PARSE_ERROR, so nothing half-parsed is
// ever forwarded.

#ifndef EVPN_PARSER_P4
#define EVPN_PARSER_P4

parser ingress_parser(packet_in pkt,
                      out headers_t hdr,
                      inout metadata_t meta,
                      inout standard_metadata_t sm) {
    state start {
        transition select(sm.ingress_port) {
            CPU_PORT: parse_packet_out;
            default: parse_ethernet;
        }
    }

    // A frame injected by the controller is sent as is: nothing after the
    // packet_out header is parsed.
    state parse_packet_out {
        pkt.extract(hdr.packet_out);
        transition accept;
    }

    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_VLAN: parse_vlan;
            ETHERTYPE_QINQ: parse_vlan;
            ETHERTYPE_QINQ_LEGACY: parse_vlan;
            ETHERTYPE_MPLS: parse_mpls;
            default: accept;
        }
    }

    // At most two tags: a third overflows the stack (error.StackOutOfBounds).
    state parse_vlan {
        pkt.extract(hdr.vlan.next);
        transition select(hdr.vlan.last.ether_type) {
            ETHERTYPE_VLAN: parse_vlan;
            ETHERTYPE_QINQ: parse_vlan;
            ETHERTYPE_QINQ_LEGACY: parse_vlan;
            ETHERTYPE_MPLS: parse_mpls;
            default: accept;
        }
    }

    // At most four labels: a fifth overflows the stack.
    state parse_mpls {
        pkt.extract(hdr.mpls.next);
        transition select(hdr.mpls.last.bos) {
            0: parse_mpls;
            1: parse_after_label_stack;
        }
    }

    state parse_after_label_stack {
        transition select(hdr.mpls.last.label) {
            LABEL_CONTROL_WORD_BIT &&& LABEL_CONTROL_WORD_BIT: parse_control_word;
            default: parse_inner_ethernet;
        }
    }

    state parse_control_word {
        pkt.extract(hdr.cw);
        transition parse_inner_ethernet;
    }

    state parse_inner_ethernet {
        pkt.extract(hdr.inner_ethernet);
        transition select(hdr.inner_ethernet.ether_type) {
            ETHERTYPE_VLAN: parse_inner_vlan;
            default: accept;
        }
    }

    state parse_inner_vlan {
        pkt.extract(hdr.inner_vlan);
        transition accept;
    }
}

control ingress_deparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.packet_in);
        pkt.emit(hdr.encap_ethernet);
        pkt.emit(hdr.encap_transport);
        pkt.emit(hdr.encap_service);
        pkt.emit(hdr.encap_esi);
        pkt.emit(hdr.encap_cw);
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.vlan);
        pkt.emit(hdr.mpls);
        pkt.emit(hdr.cw);
        pkt.emit(hdr.inner_ethernet);
        pkt.emit(hdr.inner_vlan);
    }
}

// No checksums: the pipeline never touches a header that carries one.
control no_verify_checksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control no_compute_checksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

#endif // EVPN_PARSER_P4
