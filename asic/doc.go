// Package asic is the switch abstraction between what to forward (evpn/) and
// how the pipeline in p4/ does it: ports, attachment circuits, FDB entries,
// remote PEs, aliasing groups, flood groups, Ethernet segment filters, learn
// events and counters, with an in-memory implementation for unit tests.
//
// This package is vocabulary and contract only and is imported by evpn/, so it
// must not import gRPC, P4Runtime, p4rt/, softswitch/ or bgp/; the P4Runtime
// implementation lives in a sub-package that may.
package asic
