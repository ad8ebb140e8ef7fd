// Ingress: classify the frame into a bridge domain, learn, and decide where
// it goes (one port, or the bridge domain's flood group).
//
//   access port: (port, VLANs) -> AC -> bd; strip tags; source-MAC learning
//   core port:   [transport label] service label -> bd; [ESI label] -> source ES;
//                decapsulate: the customer frame becomes hdr.ethernet
//   both:        destination MAC -> local AC | remote PE | aliasing group | drop | CPU,
//                or flood (broadcast, multicast, unknown unicast, BUM label)
//
// Every drop goes through discard(), which counts the reason and ends
// ingress: nothing after it runs.

#ifndef EVPN_INGRESS_P4
#define EVPN_INGRESS_P4

control ingress(inout headers_t hdr,
                inout metadata_t meta,
                inout standard_metadata_t sm) {

    counter(AC_COUNT, CounterType.packets_and_bytes) ac_in;
    counter(BD_COUNT, CounterType.packets_and_bytes) bd_in;
    counter(DROP_REASON_COUNT, CounterType.packets_and_bytes) drops;

    action discard(drop_reason_t reason) {
        drops.count((bit<32>) reason);
        mark_to_drop(sm);
        exit;
    }

    // ------------------------------------------------------------ ports

    action set_access_port() {
        meta.port_kind = PORT_KIND_ACCESS;
    }

    action set_core_port() {
        meta.port_kind = PORT_KIND_CORE;
    }

    // Written by the controller for every port it uses, at startup.
    table port_kind {
        key = {
            sm.ingress_port: exact @name("port");
        }
        actions = {
            set_access_port;
            set_core_port;
            @defaultonly discard;
        }
        const default_action = discard(DROP_PORT_UNCONFIGURED);
        size = PORT_TABLE_SIZE;
    }

    // ------------------------------------------------------------ access side

    action set_ac(bd_t bd, ac_t ac, es_t es) {
        meta.bd = bd;
        meta.in_ac = ac;
        meta.in_es = es;
    }

    // A standby AC of a single-active Ethernet segment where this PE is not
    // the DF (RFC 7432 8.5, 14.1.1) passes no traffic: frames from it are
    // dropped (and egress.ac_egress blocks frames to it).
    action block_ac() {
        discard(DROP_AC_BLOCKED);
    }

    // One entry per attachment circuit. vid_outer/vid_inner are the VLAN ids
    // as received, 0 where there is no tag: (p, 0, 0) untagged, (p, v, 0)
    // single-tagged, (p, s, c) double-tagged.
    table attachment_circuit {
        key = {
            sm.ingress_port: exact @name("port");
            meta.vid_outer: exact @name("vid_outer");
            meta.vid_inner: exact @name("vid_inner");
        }
        actions = {
            set_ac;
            block_ac;
            @defaultonly discard;
        }
        const default_action = discard(DROP_AC_UNKNOWN);
        size = AC_TABLE_SIZE;
    }

    // The MAC is where the controller knows it: no digest.
    action smac_known(ac_t ac) {
        meta.learn = ac != meta.in_ac;
    }

    // A pinned MAC (static, sticky, or frozen by duplicate detection, RFC
    // 7432 15) is never relearned: on its own AC it passes, on any other AC
    // the frame is dropped, and no digest is raised either way.
    action smac_pinned(ac_t ac) {
        meta.learn = false;
        meta.pinned_move = ac != meta.in_ac;
    }

    action smac_unknown() {
        meta.learn = true;
    }

    // The local MACs the controller has learned, with their AC. A miss, or a
    // hit on another AC (a local move), raises a learning digest. Entries
    // support idle timeout: the controller ages local MACs with it.
    table smac {
        key = {
            meta.bd: exact @name("bd");
            hdr.ethernet.src_addr: exact @name("mac");
        }
        actions = {
            smac_known;
            smac_pinned;
            @defaultonly smac_unknown;
        }
        const default_action = smac_unknown();
        size = SMAC_TABLE_SIZE;
        support_timeout = true;
    }

    // ------------------------------------------------------------ core side

    action pop_transport() { }

    // Labels we are the tail of an LSP for, besides the explicit nulls,
    // which are always popped.
    table transport_label {
        key = {
            hdr.mpls[0].label: exact @name("label");
        }
        actions = {
            pop_transport;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        size = TRANSPORT_LABEL_TABLE_SIZE;
    }

    // A label used for known unicast, and also for BUM when the bridge
    // domain advertises one label for both.
    action set_service_bd(bd_t bd) {
        meta.bd = bd;
    }

    // A label used only for BUM (the IMET route's label): always flooded,
    // whatever the destination MAC.
    action set_bum_bd(bd_t bd) {
        meta.bd = bd;
        meta.is_bum = true;
    }

    // Our service labels, one or two per bridge domain.
    table service_label {
        key = {
            meta.service_label: exact @name("label");
        }
        actions = {
            set_service_bd;
            set_bum_bd;
            @defaultonly discard;
        }
        const default_action = discard(DROP_LABEL_UNKNOWN);
        size = SERVICE_LABEL_TABLE_SIZE;
    }

    action set_source_es(es_t es) {
        meta.in_es = es;
    }

    // Our ESI labels, one per local multihomed ES (RFC 7432 8.3.1): a BUM
    // frame carrying one came from that ES through another PE.
    table esi_label {
        key = {
            meta.esi_label: exact @name("label");
        }
        actions = {
            set_source_es;
            @defaultonly discard;
        }
        const default_action = discard(DROP_ESI_LABEL_UNKNOWN);
        size = ESI_LABEL_TABLE_SIZE;
    }

    // ------------------------------------------------------------ forwarding

    action to_local_ac(ac_t ac, port_t port) {
        meta.out_kind = OUT_AC;
        meta.out_ac = ac;
        sm.egress_spec = port;
    }

    action to_remote_pe(pe_t pe, label_t label) {
        meta.out_kind = OUT_PE;
        meta.out_pe = pe;
        meta.out_label = label;
    }

    action to_aliasing_group(aliasing_group_t group) {
        meta.out_kind = OUT_PE;
        meta.aliasing_group = group;
    }

    action fdb_discard() {
        discard(DROP_FDB_DISCARD);
    }

    action to_cpu() {
        meta.out_kind = OUT_CPU;
        meta.punt_reason = PUNT_FDB;
        sm.egress_spec = CPU_PORT_ID;
    }

    action fdb_miss() {
        meta.is_bum = true;
    }

    // The MAC forwarding table of every bridge domain.
    table fdb {
        key = {
            meta.bd: exact @name("bd");
            hdr.ethernet.dst_addr: exact @name("mac");
        }
        actions = {
            to_local_ac;
            to_remote_pe;
            to_aliasing_group;
            fdb_discard;
            to_cpu;
            @defaultonly fdb_miss;
        }
        const default_action = fdb_miss();
        size = FDB_TABLE_SIZE;
    }

    // An aliasing member: the label comes from remote_service_label, since
    // one group serves every bridge domain behind the remote ES.
    action set_aliasing_pe(pe_t pe) {
        meta.out_pe = pe;
    }

    // Aliasing (RFC 7432 8.4): a MAC behind a remote multihomed ES is
    // reachable through every PE attached to it; hash the flow onto one.
    // One P4Runtime group per aliasing group, one member per PE
    // (set_aliasing_pe), so a PE leaving the ES is one group update
    // whatever the number of MACs and bridge domains (mass withdrawal).
    action_selector(HashAlgorithm.crc16, ALIASING_SELECTOR_SIZE, 16) aliasing_selector;

    table aliasing {
        key = {
            meta.aliasing_group: exact @name("group");
            meta.bd: selector;
            hdr.ethernet.dst_addr: selector;
            hdr.ethernet.src_addr: selector;
            hdr.ethernet.ether_type: selector;
        }
        actions = {
            set_aliasing_pe;
            @defaultonly NoAction;
        }
        implementation = aliasing_selector;
        size = ALIASING_TABLE_SIZE;
    }

    action set_remote_service_label(label_t label) {
        meta.out_label = label;
    }

    // (remote PE, bd) -> the label of that PE's per-EVI Ethernet A-D route:
    // the service label pushed when aliasing chose the PE.
    table remote_service_label {
        key = {
            meta.out_pe: exact @name("pe");
            meta.bd: exact @name("bd");
        }
        actions = {
            set_remote_service_label;
            @defaultonly discard;
        }
        const default_action = discard(DROP_REMOTE_LABEL_UNKNOWN);
        size = REMOTE_LABEL_TABLE_SIZE;
    }

    action set_tunnel_port(port_t port) {
        sm.egress_spec = port;
    }

    // Remote PE -> the core port its tunnel leaves by. The rest of the
    // tunnel (MACs, transport label, control word) is egress.tunnel.
    table tunnel_port {
        key = {
            meta.out_pe: exact @name("pe");
        }
        actions = {
            set_tunnel_port;
            @defaultonly discard;
        }
        const default_action = discard(DROP_TUNNEL_UNKNOWN);
        size = TUNNEL_TABLE_SIZE;
    }

    // ------------------------------------------------------------ flows

    // From here on the customer frame is untagged in hdr.ethernet.
    @hidden action strip_tags() {
        hdr.vlan[0].setInvalid();
        hdr.vlan[1].setInvalid();
    }

    apply {
        if (sm.parser_error != error.NoError) {
            discard(DROP_PARSE_ERROR);
        }
        if (hdr.packet_out.isValid()) {
            sm.egress_spec = hdr.packet_out.egress_port;
            hdr.packet_out.setInvalid();
            meta.from_cpu = true;
            exit;
        }

        port_kind.apply();

        if (meta.port_kind == PORT_KIND_ACCESS) {
            if (hdr.vlan[0].isValid()) {
                meta.vid_outer = hdr.vlan[0].vid;
                meta.pcp = hdr.vlan[0].pcp;
                hdr.ethernet.ether_type = hdr.vlan[0].ether_type;
            }
            if (hdr.vlan[1].isValid()) {
                meta.vid_inner = hdr.vlan[1].vid;
                hdr.ethernet.ether_type = hdr.vlan[1].ether_type;
            }
            attachment_circuit.apply();
            strip_tags();
            ac_in.count((bit<32>) meta.in_ac);
        } else {
            // PORT_KIND_CORE
            if (!hdr.mpls[0].isValid()) {
                discard(DROP_NOT_MPLS);
            }
            meta.from_core = true;

            // Terminate the transport LSP: explicit null, or a label of ours.
            bool popped = false;
            if (hdr.mpls[0].bos == 0) {
                if (hdr.mpls[0].label == LABEL_IPV4_EXPLICIT_NULL ||
                    hdr.mpls[0].label == LABEL_IPV6_EXPLICIT_NULL) {
                    popped = true;
                } else if (transport_label.apply().hit) {
                    popped = true;
                }
            }
            // Service label, then the optional ESI label (bottom of stack).
            bit<1> service_bos;
            bit<1> esi_bos = 1;
            if (popped) {
                meta.service_label = hdr.mpls[1].label;
                meta.pcp = hdr.mpls[1].tc;
                service_bos = hdr.mpls[1].bos;
                if (service_bos == 0) {
                    meta.esi_label = hdr.mpls[2].label;
                    esi_bos = hdr.mpls[2].bos;
                }
            } else {
                meta.service_label = hdr.mpls[0].label;
                meta.pcp = hdr.mpls[0].tc;
                service_bos = hdr.mpls[0].bos;
                if (service_bos == 0) {
                    meta.esi_label = hdr.mpls[1].label;
                    esi_bos = hdr.mpls[1].bos;
                }
            }
            if (esi_bos == 0 || !hdr.inner_ethernet.isValid()) {
                discard(DROP_LABEL_STACK);
            }
            if (hdr.cw.isValid() && hdr.cw.zero != 0) {
                discard(DROP_BAD_CONTROL_WORD);
            }

            service_label.apply();
            if (service_bos == 0) {
                // An ESI label rides only under BUM frames.
                meta.is_bum = true;
                esi_label.apply();
            }

            // Decapsulate: the customer frame becomes hdr.ethernet, untagged.
            hdr.ethernet = hdr.inner_ethernet;
            if (hdr.inner_vlan.isValid()) {
                hdr.ethernet.ether_type = hdr.inner_vlan.ether_type;
            }
            hdr.inner_ethernet.setInvalid();
            hdr.inner_vlan.setInvalid();
            hdr.cw.setInvalid();
            hdr.mpls[0].setInvalid();
            hdr.mpls[1].setInvalid();
            hdr.mpls[2].setInvalid();
            hdr.mpls[3].setInvalid();
            strip_tags();
        }

        if (meta.bd == 0) {
            discard(DROP_BD_INVALID);
        }
        bd_in.count((bit<32>) meta.bd);

        if (hdr.ethernet.src_addr[40:40] == 1) {
            discard(DROP_SMAC_MULTICAST);
        }
        // Learn local stations only: remote MACs come from BGP.
        if (!meta.from_core) {
            smac.apply();
            if (meta.pinned_move) {
                discard(DROP_PINNED_MOVE);
            }
            if (meta.learn) {
                digest<mac_learn_digest_t>(1, {meta.bd, hdr.ethernet.src_addr, meta.in_ac});
            }
        }

        if (!meta.is_bum) {
            if (hdr.ethernet.dst_addr[40:40] == 1) {
                meta.is_bum = true;
            } else {
                fdb.apply();
            }
        }

        if (meta.is_bum) {
            // Ingress replication: the bridge domain's multicast group holds
            // its local ACs and one replica per remote PE; egress gives each
            // replica its treatment by egress_rid.
            sm.mcast_grp = (bit<16>) meta.bd;
        } else if (meta.out_kind == OUT_PE) {
            if (meta.from_core) {
                discard(DROP_CORE_TO_CORE);
            }
            if (meta.aliasing_group != 0) {
                if (!aliasing.apply().hit) {
                    discard(DROP_ALIASING_GROUP_UNKNOWN);
                }
                remote_service_label.apply();
            }
            tunnel_port.apply();
        }
    }
}

#endif // EVPN_INGRESS_P4
