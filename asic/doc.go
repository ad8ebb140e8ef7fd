// Package asic is the switch abstraction between what to forward (evpn/) and
// how the pipeline in p4/ does it: ports, attachment circuits, FDB entries,
// remote PEs, aliasing groups, flood groups, Ethernet segment filters, learn
// events and counters.
//
// The Switch interface is the contract: batched, idempotent Writes with one
// status per update, a Read of everything for reconciliation, an event
// subscription and counters. Entities reference each other by small ids the
// caller allocates, in a fixed dependency order (Kind): create in ascending
// and delete in descending order. Diff and Reconcile turn a desired state
// into the minimal batch on top of Read and Write, so an implementation only
// maps entities onto its tables. asic/memswitch is the in-memory
// implementation for unit tests; asic/p4asic maps the same entities onto the
// tables of p4/evpn.p4 over P4Runtime.
//
// This package is vocabulary and contract only and is imported by evpn/, so it
// must not import gRPC, P4Runtime, p4rt/, softswitch/ or bgp/; the P4Runtime
// implementation lives in a sub-package that may.
package asic
