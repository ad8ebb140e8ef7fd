// Package softswitch is an embedded software switch that loads the BMv2 JSON
// p4c emits for v1model and executes it with BMv2 simple_switch semantics, on
// in-memory ports or Linux interfaces. It is generic: it runs the compiled
// program, it does not re-implement p4evpn's pipeline.
//
// It must not import evpn/, bgp/, asic/ or gnmi/.
package softswitch
