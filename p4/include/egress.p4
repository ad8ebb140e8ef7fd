// Egress: give each copy of a frame its treatment.
//
// A unicast frame arrives with its destination chosen in ingress (out_kind,
// out_ac or out_pe). A flooded copy (egress_rid != 0) looks its destination
// up in flood_replica. Then:
//
//   to a local AC:  source-AC and split-horizon filters, DF filter for every
//                   BUM copy (local or from the core), push the AC's VLAN tags
//   to a remote PE: no core-to-core flooding; push [ESI label], the service
//                   or IMET label, [control word], [transport label], and
//                   the core Ethernet header
//
// Every drop goes through discard(), which counts the reason and ends egress.

#ifndef EVPN_EGRESS_P4
#define EVPN_EGRESS_P4

control egress(inout headers_t hdr,
               inout metadata_t meta,
               inout standard_metadata_t sm) {

    counter(AC_COUNT, CounterType.packets_and_bytes) ac_out;
    counter(BD_COUNT, CounterType.packets_and_bytes) bd_out;
    counter(DROP_REASON_COUNT, CounterType.packets_and_bytes) drops;

    action discard(drop_reason_t reason) {
        drops.count((bit<32>) reason);
        mark_to_drop(sm);
        exit;
    }

    // ------------------------------------------------------------ replicas

    action replica_to_ac(ac_t ac) {
        meta.out_kind = OUT_AC;
        meta.out_ac = ac;
    }

    // Ingress replication to a remote PE, with the label of its IMET route.
    action replica_to_pe(pe_t pe, label_t label) {
        meta.out_kind = OUT_PE;
        meta.out_pe = pe;
        meta.out_label = label;
    }

    // egress_rid -> replica treatment. The controller allocates the rids of
    // its multicast groups (never 0: that is a unicast frame) and writes
    // one entry per rid, before the group that uses it.
    table flood_replica {
        key = {
            sm.egress_rid: exact @name("rid");
        }
        actions = {
            replica_to_ac;
            replica_to_pe;
            @defaultonly discard;
        }
        const default_action = discard(DROP_REPLICA_UNKNOWN);
        size = FLOOD_REPLICA_TABLE_SIZE;
    }

    // ------------------------------------------------------------ to a local AC

    // es is the AC's Ethernet segment (0 if single-homed); the VLAN ids are
    // the tags the frame leaves with, 0 for none (as in ingress.attachment_circuit).
    action set_ac_egress(es_t es, vid_t vid_outer, vid_t vid_inner) {
        meta.out_es = es;
        meta.out_vid_outer = vid_outer;
        meta.out_vid_inner = vid_inner;
    }

    // A standby AC of a single-active ES where this PE is not the DF.
    action block_ac_egress() {
        discard(DROP_AC_EGRESS_BLOCKED);
    }

    // One entry per attachment circuit, written with its ingress entry.
    table ac_egress {
        key = {
            meta.out_ac: exact @name("ac");
        }
        actions = {
            set_ac_egress;
            block_ac_egress;
            @defaultonly discard;
        }
        const default_action = discard(DROP_AC_EGRESS_UNKNOWN);
        size = AC_TABLE_SIZE;
    }

    action df_forward() { }

    // Designated forwarder state: an entry exists iff this PE is the DF for
    // (ES, bd). Every BUM copy toward a multihomed AC looks here.
    table df {
        key = {
            meta.out_es: exact @name("es");
            meta.bd: exact @name("bd");
        }
        actions = {
            df_forward;
            @defaultonly discard;
        }
        const default_action = discard(DROP_NON_DF);
        size = DF_TABLE_SIZE;
    }

    // ------------------------------------------------------------ to a remote PE

    action push_esi_label(label_t label) {
        hdr.encap_esi.setValid();
        hdr.encap_esi.label = label;
        hdr.encap_esi.tc = meta.pcp;
        hdr.encap_esi.bos = 1;
        hdr.encap_esi.ttl = MPLS_TTL;
    }

    // The ESI label each remote PE advertised for an ES we share with it
    // (its per-ES Ethernet A-D route). A BUM frame from a local multihomed
    // AC carries it to every PE on that ES, which then keeps the frame off
    // the ES (split horizon). No entry: the PE is not on the ES, no label.
    table peer_esi_label {
        key = {
            meta.out_pe: exact @name("pe");
            meta.in_es: exact @name("es");
        }
        actions = {
            push_esi_label;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        size = PEER_ESI_LABEL_TABLE_SIZE;
    }

    // transport_label 3 (implicit null) pushes none; control_word 1 adds an
    // RFC 4385 control word (the remote PE asked for one).
    action set_tunnel(mac_t src_mac, mac_t dst_mac, label_t transport_label, bit<1> control_word) {
        hdr.encap_ethernet.setValid();
        hdr.encap_ethernet.src_addr = src_mac;
        hdr.encap_ethernet.dst_addr = dst_mac;
        hdr.encap_ethernet.ether_type = ETHERTYPE_MPLS;
        meta.transport_label = transport_label;
        meta.control_word = control_word == 1;
    }

    // Remote PE -> its tunnel's encapsulation; ingress.tunnel_port holds
    // the port. Written together when a tunnel is resolved or moves.
    table tunnel {
        key = {
            meta.out_pe: exact @name("pe");
        }
        actions = {
            set_tunnel;
            @defaultonly discard;
        }
        const default_action = discard(DROP_TUNNEL_ENCAP_UNKNOWN);
        size = TUNNEL_TABLE_SIZE;
    }

    apply {
        // Frames the controller injected leave exactly as it built them.
        if (meta.from_cpu) {
            exit;
        }
        if (sm.egress_port == CPU_PORT_ID) {
            hdr.packet_in.setValid();
            hdr.packet_in.ingress_port = sm.ingress_port;
            hdr.packet_in.ac = meta.in_ac;
            hdr.packet_in.bd = meta.bd;
            hdr.packet_in.reason = meta.punt_reason;
            exit;
        }
        if (sm.egress_rid != 0) {
            flood_replica.apply();
        }

        if (meta.out_kind == OUT_AC) {
            if (meta.out_ac == meta.in_ac) {
                discard(DROP_SOURCE_AC);
            }
            ac_egress.apply();
            if (meta.out_es != 0) {
                if (meta.out_es == meta.in_es) {
                    discard(DROP_SPLIT_HORIZON);
                }
                // RFC 7432 8.5: only the DF sends BUM to a segment, whatever
                // the copy's source, a remote PE or another local AC (MPLS
                // EVPN has no local bias). The DF receives our copy through
                // the core, so a non-DF forwarding it too would duplicate it.
                if (meta.is_bum) {
                    df.apply();
                }
            }
            // Push the AC's tags: outer S-tag 0x88A8 over a C-tag when
            // double-tagged, a single C-tag otherwise.
            if (meta.out_vid_inner != 0) {
                hdr.vlan[1].setValid();
                hdr.vlan[1].pcp = meta.pcp;
                hdr.vlan[1].dei = 0;
                hdr.vlan[1].vid = meta.out_vid_inner;
                hdr.vlan[1].ether_type = hdr.ethernet.ether_type;
                hdr.vlan[0].setValid();
                hdr.vlan[0].pcp = meta.pcp;
                hdr.vlan[0].dei = 0;
                hdr.vlan[0].vid = meta.out_vid_outer;
                hdr.vlan[0].ether_type = ETHERTYPE_VLAN;
                hdr.ethernet.ether_type = ETHERTYPE_QINQ;
            } else if (meta.out_vid_outer != 0) {
                hdr.vlan[0].setValid();
                hdr.vlan[0].pcp = meta.pcp;
                hdr.vlan[0].dei = 0;
                hdr.vlan[0].vid = meta.out_vid_outer;
                hdr.vlan[0].ether_type = hdr.ethernet.ether_type;
                hdr.ethernet.ether_type = ETHERTYPE_VLAN;
            }
            ac_out.count((bit<32>) meta.out_ac);
            bd_out.count((bit<32>) meta.bd);
        } else if (meta.out_kind == OUT_PE) {
            // Every PE floods to every other PE itself: never relay.
            if (meta.from_core) {
                discard(DROP_CORE_SPLIT_HORIZON);
            }
            if (meta.is_bum && meta.in_es != 0) {
                peer_esi_label.apply();
            }
            hdr.encap_service.setValid();
            hdr.encap_service.label = meta.out_label;
            hdr.encap_service.tc = meta.pcp;
            hdr.encap_service.bos = hdr.encap_esi.isValid() ? 1w0 : 1w1;
            hdr.encap_service.ttl = MPLS_TTL;

            tunnel.apply();
            if (meta.control_word) {
                hdr.encap_cw.setValid();
                hdr.encap_cw.zero = 0;
                hdr.encap_cw.flags = 0;
                hdr.encap_cw.frg = 0;
                hdr.encap_cw.length = 0;
                hdr.encap_cw.sequence = 0;
            }
            if (meta.transport_label != LABEL_IMPLICIT_NULL) {
                hdr.encap_transport.setValid();
                hdr.encap_transport.label = meta.transport_label;
                hdr.encap_transport.tc = meta.pcp;
                hdr.encap_transport.bos = 0;
                hdr.encap_transport.ttl = MPLS_TTL;
            }
            bd_out.count((bit<32>) meta.bd);
        }
    }
}

#endif // EVPN_EGRESS_P4
