// Package gnmi serves the PE's configuration and telemetry over gNMI with
// OpenConfig paths (network-instance, evpn, ethernet-segments, interfaces,
// bgp), exactly as listed in the workspace's interop/OPENCONFIG.md.
//
// # Wiring (evpnd)
//
// evpnd implements Device: ApplyConfig(ctx, prev, next) receives every
// validated Set as a whole typed Config and must apply all of it or nothing.
// Config.EVPN converts a Config into evpn.SegmentConfig and evpn.EVIConfig
// values (EVPNPlan); diffing two plans gives the AddEVI/RemoveEVI/AddSegment
// calls. Telemetry flows the other way through Server.State: typed values
// (MACEntry, L2RIBEntry, DesignatedForwarder, BGPNeighborState,
// InterfaceState) are published into the openconfig/gnmi cache, from which
// Get and every subscription read; FromEVPNMAC, Aliasing and
// SetEVPNSegment convert evpn's telemetry (a MAC behind a remote
// multihomed segment becomes an L2RIB next-hop group of the segment's PEs).
//
// # Data
//
// The server keeps one leaf tree in github.com/openconfig/gnmi/cache: the
// running config under …/config and its mirror under …/state, plus what the
// device publishes. Get renders subtrees as JSON or JSON_IETF (RFC 7951:
// module-qualified top-level members and identities, 64-bit integers as
// strings). Subscribe sends scalar TypedValues per leaf whatever the
// requested encoding, as gNMI collectors expect for streamed leaves.
//
// A MAC entry's age is published once, as of its notification's
// timestamp, from the time the entry entered the table (MACEntry.Since):
// subscribers are not flooded with a changing leaf per MAC, and Get adds
// the whole seconds elapsed since, so a Get reads the age now.
//
// # Served beyond OpenConfig
//
// openconfig-ethernet-segments has no DF state, so the DF per VLAN is served
// under a p4evpn augment (module p4evpn-ethernet-segment-df 0.1.0):
// /ethernet-segments/ethernet-segment[name]/designated-forwarders/
// designated-forwarder[vlan]/state/{vlan,df-address,local}.
//
// It must not import p4rt/ or softswitch/: it sees the switch only through
// the PE's state.
package gnmi
