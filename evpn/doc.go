// Package evpn is the PE's control logic (RFC 7432, RFC 8584, RFC 9785):
// MAC-VRFs, Ethernet segments, DF election, MAC mobility and duplicate
// detection, aliasing, mass withdrawal, flood lists and label allocation.
// It turns BGP best paths and data-plane learn events into desired forwarding
// state for the switch, and local state into routes to originate.
//
// It is pure Go and talks to the BGP speaker and the switch through small
// interfaces. It must not import gRPC, GoBGP, P4Runtime, p4rt/, softswitch/ or
// bgp/.
//
// # Wiring
//
// A daemon builds a PE from a Config naming the Speaker (bgp.Speaker
// satisfies it), the asic.Switch and a Clock, then configures segments
// (AddSegment) before the EVIs whose ACs use them (AddEVI). It then feeds
// the PE three streams, each call returning once the switch write and the
// routes it caused have been handed on:
//
//   - BGP: HandlePath (or HandlePaths for a burst) for a new best path,
//     HandleWithdraw for a withdrawn key, HandleUpdates for a burst of
//     both in arrival order (one switch Write however long), PeerDown when
//     a remote PE is gone (its address, i.e. the next hop; a route
//     reflector's address is a harmless no-op: through a reflector a PE's
//     failure arrives as its withdrawals, which a daemon hands over in
//     HandleUpdates bursts);
//   - the data plane: HandleSwitchEvent for asic.Switch.Events (learns,
//     activity, idle timeouts);
//   - operations: SetSegmentUp when a segment's CE links fail or return,
//     RemoveEVI and RemoveSegment, and Reconcile after a switch or daemon
//     restart (a failed switch write schedules one by itself).
//
// After a daemon restart the switch still forwards with the previous run's
// entries. The daemon calls Adopt right after New: the PE reuses the
// switch's tunnel and group ids and bridge-domain labels, and writes nothing
// until the first Reconcile, which the daemon calls once BGP has converged.
// AddEVI learns the EVI's local MACs the switch holds again and advertises
// them (sequence 0: see Adopt), so that the daemon, which starts its BGP
// sessions after configuring the EVIs, sends them ahead of End-of-RIB and
// its graceful-restart helpers never withdraw them
// (TestAdoptAdvertisesBeforeBGP). Until that Reconcile an adopted MAC yields
// to any remote route on another segment (it moved while the daemon was
// down); the Reconcile drops the adopted MACs the switch no longer holds
// and writes only the difference (TestRestart).
//
// Telemetry reads MACTable, EVIs, Segments and Counters, and follows
// Subscribe for ON_CHANGE events. DesiredState is the full snapshot
// Reconcile diffs against.
//
// # Forwarding model
//
// A remote MAC with the zero ESI points at the advertising PE with the
// MAC route's label. A MAC behind a remote multihomed segment points at an
// aliasing group, shared by every EVI whose member list is the same; the
// label toward each member comes from its per-EVI A-D route (asic
// ServiceLabel), falling back to the label of its MAC or IMET routes when a
// route reflector lost it. Withdrawing a PE's per-ES A-D route, or its
// session, rewrites the group once: mass withdrawal costs O(groups), not
// O(MACs). A MAC a peer learned on a segment this PE is also attached to
// goes out of the local link to that segment.
//
// # Concurrency
//
// One mutex guards the state; switch writes and speaker calls happen after
// it is released but in the order decisions were made. Timers (ageing, DF
// election, duplicate-MAC recovery) come from the injectable Clock and run
// under the same mutex; Close stops them and waits for those in flight.
package evpn
