// Package p4rt is a P4Runtime (v1.5) client driven by P4Info, generic over
// any P4 program and any P4Runtime target (the softswitch, BMv2
// simple_switch_grpc, Stratum). It knows nothing of EVPN and must not
// import evpn/, bgp/, asic/ or softswitch/.
//
// # Names, not ids
//
// An Index, built once per pipeline (NewIndex, NewPipeline), maps the names
// and aliases of tables, match fields, actions, parameters, action profiles,
// counters, meters, registers, digests and controller headers to their ids
// and widths with maps. Builders take names and refuse what the P4Info
// forbids, naming the culprit: an unknown name (ErrUnknownName, never a
// silent id 0), a value wider than its field (ErrOutOfRange), a wrong match
// kind, a missing exact field or parameter, a priority where none belongs
// (ErrInvalidEntity). Values leave as canonical bytestrings (spec §8.4):
// leading zeros stripped, LPM values masked to their prefix, ternary values
// masked, "don't care" matches left out, so that what is read back equals
// what was written (proto.Equal) and TableEntryKey pairs desired and actual
// entries in a reconciler.
//
//	ix := pipeline.Index
//	e, err := ix.BuildTableEntry(p4rt.TableEntry{
//		Table:  "fib",
//		Match:  []p4rt.FieldMatch{p4rt.Exact("bd", p4rt.Uint(10)), p4rt.Exact("dst", p4rt.MAC(mac))},
//		Action: p4rt.Action("forward", p4rt.Arg("port", p4rt.Uint(3))),
//	})
//	err = client.Write(ctx, []*p4v1.Update{p4rt.Insert(e)})
//
// # The client
//
// Connect opens the StreamChannel and arbitrates; the client keeps the
// stream open, reconnects with backoff, re-arbitrates, and after a
// reconnect restores the pipeline (cookie-checked) and the digests it had
// enabled before it reports itself primary again, with a new Epoch: the
// signal for the caller to read back its tables and reconcile. A backup
// never writes: Write, SetPipeline and SendPacketOut fail with
// ErrNotPrimary before sending anything.
//
// Election ids must grow across controller restarts, because a target makes
// primary the highest id it has ever seen for a (device, role): take them
// from configuration (WithElectionID) or from a counter persisted in a file
// (WithElectionIDFile, NextElectionID). SetElectionID re-arbitrates on the
// open stream, for a backup that takes over or a primary that steps down.
//
// SetPipeline compares the target's cookie with the pipeline's (a hash of
// its content) and skips the push when they match, so a restarted
// controller does not wipe the target's tables.
//
// Write sends updates in dependency order (table entry deletes; members,
// multicast groups and other leaves; groups; table entries; group deletes;
// leaf deletes), in batches of a configurable size, retries batches the
// target answers UNAVAILABLE, and returns a *WriteError whose Updates are
// aligned with the input, decoded from the p4.v1.Error details. Errors
// carry gRPC codes: status.Code(err) and errors.As work on them.
//
// Read streams entities (iter.Seq2); ReadTableEntries and its siblings do
// the wildcard reads a reconciler needs. PacketIns, Digests (acknowledged
// automatically once queued), IdleTimeouts and Arbitrations deliver what
// the target streams; SendPacketOut builds the packet_out header by name.
// Close ends the stream and waits for every goroutine the client started.
package p4rt
