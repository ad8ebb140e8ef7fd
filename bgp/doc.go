// Package bgp is the EVPN BGP speaker: GoBGP v3 as a library, with typed
// route values (evpn/route) in and out instead of protobuf Any, peer state
// events, and neighbor/RIB state for telemetry. It encodes and decodes; all
// EVPN decisions belong to evpn/.
//
// It must not import evpn/ (other than evpn/route), asic/, p4rt/ or softswitch/.
package bgp
