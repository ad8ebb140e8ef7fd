// Package p4 holds the EVPN forwarding pipeline (evpn.p4, P4_16 for v1model)
// and its compiled outputs under build/, and the Go test that pins the
// contract between the P4 program and asic/: the names and widths of the
// tables, actions, parameters, digests and packet metadata the Go code uses.
//
// It must not import any other p4evpn package.
package p4
