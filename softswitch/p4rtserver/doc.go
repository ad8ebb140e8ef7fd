// Package p4rtserver puts the softswitch on the wire: a P4Runtime v1.5
// server (github.com/p4lang/p4runtime protos, docs/v1/P4Runtime-Spec.adoc)
// that a controller cannot tell from BMv2's simple_switch_grpc except where
// BMv2 departs from the spec (the conformance tests list each departure they
// meet, and run on simple_switch_grpc when it is on PATH).
//
// The device config of a pipeline is the BMv2 JSON that p4c emits. The
// server checks the P4Info against it by name (tables, key fields with match
// kinds and widths, actions and params, action profiles, counters, digests)
// and refuses a mismatch with INVALID_ARGUMENT naming the object, leaving the
// running pipeline as it was.
//
// The server keeps the P4Runtime view of the device (every entity a
// controller wrote, in canonical form) and programs the data plane through
// the narrow Device interface; EngineDevice adapts the softswitch engine. Reads
// answer from that view, asking the data plane only for counters, so they
// return exactly what was written (read-write symmetry, spec §8.3).
//
// What is supported: SetForwardingPipelineConfig with every action
// (RECONCILE_AND_COMMIT translates the state by name), Get with every
// response type, Capabilities; arbitration per role with the
// highest-election-id-ever rule; Write of table entries (default entries
// included), action profile members and groups, multicast groups and clone
// sessions, counters, direct counters and digest configs, with
// CONTINUE_ON_ERROR and ROLLBACK_ON_ERROR; specific and wildcard Reads of all
// of them; packet-in/packet-out with controller_packet_metadata; digest lists
// with max_list_size, max_timeout_ns, ack_timeout_ns and DigestListAck. Not
// supported: meters, registers, value sets, externs (a P4Info with meters,
// value sets or externs is refused), DATAPLANE_ATOMIC, one-shot action
// selector programming, group member weights above 1, watch ports, backup
// replicas, role.config. Idle-timeout notifications and time_since_last_hit
// need a Device that is a HitTracker; EngineDevice is one (the engine records
// the last hit of entries of tables compiled with support_timeout).
//
// Concurrency: see Server.
package p4rtserver
