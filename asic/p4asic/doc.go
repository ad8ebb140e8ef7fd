// Package p4asic is the P4Runtime implementation of asic.Switch: it maps the
// entities of asic/ onto the tables, action selector and multicast groups of
// p4/evpn.p4 and programs them over p4rt/, on the softswitch, BMv2
// simple_switch_grpc or any other P4Runtime target running that program.
//
// # Mapping
//
//	Port               ingress.port_kind (the CPU port gets an entry that no
//	                   frame consults, so that Read finds it again)
//	BridgeDomain       ingress.service_label: set_service_bd(unicast label),
//	                   set_bum_bd(BUM label)
//	Segment            ingress.esi_label (ESI label -> source segment)
//	AttachmentCircuit  ingress.attachment_circuit + egress.ac_egress; an AC of a
//	                   single-active segment where this PE is not the DF for its
//	                   bridge domain is written as block_ac / block_ac_egress
//	DFState            egress.df: an entry iff DF
//	RemotePE           ingress.tunnel_port + egress.tunnel (transport label 0 is
//	                   written as implicit null 3)
//	ServiceLabel       ingress.remote_service_label
//	SegmentPeer        egress.peer_esi_label
//	AliasingGroup      a group of ingress.aliasing_selector (members: one
//	                   set_aliasing_pe member per remote PE, member id = PE id,
//	                   shared by every group) and its ingress.aliasing entry; a
//	                   single-active group forwards on Members[0] only; an
//	                   empty group keeps its selector group but no entry (drop)
//	FloodGroup         multicast group id = bridge domain, one replica per
//	                   member; egress_rid = AC id for an AC (ids fit 14 bits),
//	                   allocated from 16384 up for a remote PE; each rid's
//	                   egress.flood_replica entry is written before the group
//	FDBEntry           ingress.fdb; a local or pinned MAC also gets
//	                   ingress.smac (smac_known / smac_pinned, with the entry's
//	                   idle timeout)
//
// What the tables cannot hold is kept in the P4Runtime metadata of an entry,
// so that Read gives back exactly the entities that were written: a remote
// PE's address (tunnel_port), a segment's single-active flag (esi_label), a
// blocked AC's ids (attachment_circuit), a shared unicast/BUM label
// (service_label), an aliasing group's member order (aliasing).
//
// # Writes
//
// Write keeps the controller's view of the switch (the entities written,
// their references, the replica ids) to check references, derive what
// entries depend on several entities (a blocked AC, an FDB entry's port, a
// replica's port), and turn each Set into the minimal INSERT, MODIFY and
// DELETE of table entries. It sends them in the caller's order, in as few
// p4rt Writes as that order allows (a bulk of FDB entries goes one batch per
// Write, the next batch being translated while the target works on the
// previous one), and falls back from INSERT to MODIFY (ALREADY_EXISTS) and from MODIFY to INSERT
// (NOT_FOUND) so that the view and the target may disagree after a restart
// without an error. Deleting an absent entry succeeds.
//
// # Read and reconciliation
//
// Read rebuilds the entities from the target's tables and checks each one
// against every entry a Set of it would write: an entity with a missing or
// different entry is left out, so asic.Reconcile writes it again (a
// corrupted entry is repaired). Read also replaces the controller's view
// with what it found, which is how a restarted controller, or one whose
// target restarted, starts again from the truth. Entries that belong to no
// entity are logged, not deleted: they may be the intact half of an entity
// being repaired; DeleteStrays removes them once Reconcile has rewritten
// what it wants.
//
// Two states have no entry of their own: DFState{DF: false} (no egress.df
// entry) is read back for every (segment, bridge domain) that has an AC on
// the segment, which is when evpn/ holds one; an empty aliasing group reads
// back as all-active.
//
// When the P4Runtime stream comes back after a break (p4rt reconnects and
// restores the pipeline), the switch re-reads the target at once and signals
// Resynced: a target that restarted empty then refuses writes that rely on
// entities it lost (ErrMissingReference) until the caller reconciles.
//
// # Events and counters
//
// The learning digest becomes asic.EventLearn (p4rt acknowledges each list);
// an idle timeout notification of an ingress.smac entry becomes
// asic.EventIdle. The switch raises no asic.EventActivity: it ages MACs with
// idle timeouts, so evpn/ must run with Config.SwitchAgeing. (The softswitch
// engine records no hit times yet, so on it idle timeouts never fire.) The
// pipeline's indexed counters become asic.Counters.
//
// Metrics: p4asic_write_seconds (histogram of the P4Runtime writes, by
// entity kind), p4asic_write_errors_total (failed updates, by entity kind)
// and p4asic_events_dropped_total, registered on the caller's
// prometheus.Registerer.
//
// Write relies on p4rt keeping the order of updates within a dependency
// step, which it does with its default write concurrency of 1: a client
// given through WithClient or configured through WithClientOptions must
// keep it.
package p4asic
