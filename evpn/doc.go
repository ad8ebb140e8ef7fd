// Package evpn is the PE's control logic (RFC 7432, RFC 8584, RFC 9785):
// MAC-VRFs, Ethernet segments, DF election, MAC mobility and duplicate
// detection, aliasing, mass withdrawal, flood lists and label allocation.
// It turns BGP best paths and data-plane learn events into desired forwarding
// state for the switch, and local state into routes to originate.
//
// It is pure Go and talks to the BGP speaker and the switch through small
// interfaces. It must not import gRPC, GoBGP, P4Runtime, p4rt/, softswitch/ or
// bgp/.
package evpn
