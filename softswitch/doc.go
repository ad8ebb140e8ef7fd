// Package softswitch is an embedded software switch that loads the BMv2 JSON
// p4c emits for v1model and executes it with BMv2 simple_switch semantics, on
// in-memory ports or Linux interfaces. It is generic: it runs the compiled
// program, it does not re-implement p4evpn's pipeline.
//
// # Using it
//
//	s := softswitch.New(softswitch.Config{CPUPort: 255})
//	defer s.Close()
//	err := s.Load(bmv2JSON)                 // compile, validate, run
//	a, b := softswitch.NewLink(0)           // or OpenInterface("veth0")
//	err = s.AddPort(1, a, "")               // like simple_switch -i 1@veth0
//	err = s.InsertEntry("ingress.fdb", softswitch.TableEntry{...})
//	s.Process(1, frame)                     // or write frames into b
//
// api.go is the control-plane surface (tables, action profiles, multicast,
// clone sessions, counters, registers, digests, packet I/O) that the
// P4Runtime server in softswitch/p4rtserver puts on the wire.
//
// # Execution model
//
// Compile turns the JSON into closures over a flat per-packet state: every
// header field of at most 64 bits is a uint64 in one slice, indexed by an id
// fixed at load; wider fields are bytes in a second slice. Per-packet state
// comes from a pool, table keys are packed into a reused buffer and looked
// up in lock-free hash indexes, so forwarding allocates nothing. Control-plane
// writes publish immutable entries with atomic stores (see api.go for the
// concurrency model). The packet path follows simple_switch.cpp: parse,
// verify checksums, ingress, I2E clone, digest, resubmit, then multicast
// (one copy per replica) or unicast; per copy egress, E2E clone, drop check,
// update checksums, deparse, recirculate, transmit.
//
// # Supported
//
// header types, headers, header stacks (extract next, last, push_front,
// pop_front, run-time indexes), metadata, validity; parser extract, set,
// lookahead, verify, advance, primitive calls, select on several keys with
// value/mask/default, parser errors into standard_metadata.parser_error;
// deparser; pipelines of tables, conditionals and action calls with next
// tables by action, hit or miss; expressions (+ - * / % << >> & | ^ ~, ==
// != < <= > >=, and or not, ?:, d2b b2d, two_comp_mod, valid, stack
// indexing) on values up to 64 bits, and copy and (in)equality on wider
// values; primitives assign, assign_header, assign_header_stack, add_header,
// remove_header, push, pop, exit, _jump, _jump_if_zero, mark_to_drop, count,
// register_read, register_write, modify_field_with_hash_based_offset
// (crc16, crc32, identity, csum16, xor16), modify_field_rng_uniform,
// generate_digest, clone_ingress_pkt_to_egress, clone_egress_pkt_to_egress,
// resubmit, recirculate, truncate, log_msg, assert, assume; tables with exact,
// lpm, ternary, range and optional keys (priorities), static key masks,
// default actions (const or not), const entries, direct counters, action
// profiles and selectors; indirect counters; registers up to 64 bits;
// checksums (verify in the parser, update in the deparser); last-hit times
// of the entries of support_timeout tables (Switch.LastHit, for P4Runtime
// idle timeouts; hits.go).
//
// Table misses follow BMv2 (src/bm_sim/match_tables.cpp): a table with no
// default action (p4c emits none for tables with an action profile or
// selector) runs nothing and goes to its __MISS__ node or, when next nodes
// are by action, to base_default_next: ingress goes on, and a switch on
// action_run takes none of its branches. An entry whose selector group is
// empty is treated as a miss; BMv2 leaves the next node undefined there
// (in practice its ingress thread loops on the table and stops forwarding),
// so a controller must not leave an entry pointing at an empty group.
//
// # Rejected at load, naming the construct
//
// meters (direct or executed), header unions and union stacks, parse value
// sets, extern instances, variable-length fields, signed fields, registers
// wider than 64 bits, arithmetic or comparisons other than ==/!= on values
// wider than 64 bits, parser select keys wider than 64 bits, unknown
// primitives and hash algorithms, programs that are not v1model (no
// ingress/egress pipelines or standard_metadata).
//
// # Tests
//
// testdata/*.p4 are small programs for the constructs p4/evpn.p4 does not
// use, compiled by p4c (testdata/compile.sh; outputs committed). evpn_test.go
// runs p4/build/evpn.json frame by frame. bmv2_test.go runs the same
// programs, state and frames on BMv2's simple_switch_grpc (in a network
// namespace, programmed over P4Runtime) and requires identical output port
// by port; it needs root and simple_switch_grpc on PATH, and skips
// otherwise. FuzzProcess and FuzzCompile feed arbitrary frames and documents.
//
// It must not import evpn/, bgp/, asic/ or gnmi/.
package softswitch
