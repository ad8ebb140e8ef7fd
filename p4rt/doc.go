// Package p4rt is a P4Runtime client driven by P4Info: arbitration and
// election ids, pipeline push with cookie check, a name↔id index built once
// per pipeline, entity builders with canonical bytestrings, batched writes
// with per-entry errors, streamed reads, and the stream channel (packet-in/out,
// digests, idle timeouts).
//
// It is generic over any P4 program and any P4Runtime target. It must not
// import evpn/, bgp/ or asic/: it knows nothing of EVPN.
package p4rt
