// Package gnmi serves the PE's configuration and telemetry over gNMI with
// OpenConfig paths (network-instance, evpn, ethernet-segments, interfaces,
// bgp).
//
// It must not import p4rt/ or softswitch/: it sees the switch only through
// the PE's state.
package gnmi
