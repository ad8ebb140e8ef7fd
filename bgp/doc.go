// Package bgp is the EVPN BGP speaker: GoBGP v3 as a library, with typed
// route values (evpn/route) in and out instead of protobuf Any, peer state
// events, and neighbor/RIB state for telemetry. It encodes and decodes; all
// EVPN decisions belong to evpn/.
//
// # Use
//
//	s, err := bgp.New(bgp.Config{RouterID: id, ASN: 65000, Neighbors: ...,
//		Import: bgp.ImportPolicy{RouteTargets: rts, ESImport: esImports}},
//		bgp.WithLogger(log))
//	defer s.Close()
//	s.Announce(ctx, route.Path{...})   // originate or replace (same route.Key)
//	s.Withdraw(ctx, nlri)             // only the key fields matter
//	for ev := range s.Events() { ... } // PathAdd, PathWithdraw, PeerUp, PeerDown, EndOfRIB
//	s.SetImportPolicy(ctx, p)         // re-evaluates the RIB, reports the difference
//	s.Neighbors(ctx); s.RIB(ctx)      // telemetry
//
// A route reflector is a speaker whose neighbors have RouteReflectorClient
// set, usually with ImportPolicy{All: true} and no announcements.
//
// # Events
//
// Events are GoBGP's best-path changes for l2vpn-evpn, filtered by the
// import policy, in GoBGP's order, and never dropped. A path of this
// speaker's own winning the best-path selection is reported as PathWithdraw
// of the remote path it displaced. PeerDown is taken from GoBGP's "Peer Down"
// log record, which carries the cause (the watch API has none) and is written
// before GoBGP withdraws the neighbor's paths: when a session drops, PeerDown
// comes first and the PathWithdraw events for the neighbor's paths follow
// (none for a neighbor restarting gracefully: its paths stay, stale). A
// PathAdd GoBGP had queued before the loss may still arrive between the two.
//
// # Stopping: restart or leave
//
// Close is a restart as far as the neighbors can tell: with graceful
// restart and GracefulRestart.Notification (the RFC 8538 N bit) on both
// sides, it ends each session with Cease/Administrative Reset and the
// neighbors keep this speaker's routes, stale, for its restart time; a new
// speaker with the same router ID (GracefulRestart.Restarting) refreshes
// them and ends with End-of-RIB, and the neighbors never withdraw. GoBGP's
// own DeletePeer/StopBgp would send Cease/Peer De-configured, which GoBGP
// rewrites to a Hard Reset under the N bit. Shutdown is for leaving for
// good: its Cease is a Hard Reset and the neighbors withdraw at once.
//
// Two behaviours of GoBGP are corrected here. GoBGP ignores an update whose
// ORIGINATOR_ID is our router id (RFC 4456 §8) but keeps the neighbor's
// previous path for that key; FRR reflects routes back to their originator,
// so after a MAC move between PEs sharing an RD that stale path would become
// best once we withdraw ours. The speaker checks the neighbor's Adj-RIB-In
// before reporting a remote path for a key it originates or originated, and
// reports nothing if the neighbor's latest update was our own route.
//
// # Wire encoding
//
// MPLS labels are 20-bit values; GoBGP writes its 24-bit label fields
// verbatim, so the speaker puts the label in the high-order 20 bits with
// the bottom-of-stack bit set (as FRR does) in type-1 and type-2 NLRI, the
// ESI Label community and the PMSI tunnel attribute, and reads the high 20
// bits back. GoBGP has no DF Election extended community (RFC 8584); it is
// sent as an opaque EVPN community (type 0x06, sub-type 0x06: algorithm,
// bitmap with AC-DF and RFC 9785's don't-preempt bit, preference) and read
// back the same way (the patched GoBGP parser keeps it opaque on receipt).
//
// # GoBGP
//
// GoBGP is v3.37.0 with three parser fixes, built from third_party/gobgp
// (go.mod replace; third_party/gobgp/PATCHES.md has the diffs). Upstream
// v3.37.0 treated an UPDATE carrying an EVPN extended community of a
// sub-type it does not know, DF Election among them, as withdraw, losing
// every RT-4 with a DF Election community; the patched parser keeps such a
// community opaque and passes it on. Upstream also panicked, on the session
// reader goroutine where nothing can recover it, on an EVPN NLRI too short
// for its fields (route lengths 0-7 of every type, 18-45 of type 2, ...) or
// an MP_REACH_NLRI of three octets: one such UPDATE from any neighbor ended
// the process. The patched parser rejects them as a malformed MP_REACH_NLRI
// / MP_UNREACH_NLRI, which GoBGP handles as below.
//
// # GoBGP limitations the caller must know
//
//   - Where RFC 7606 asks to disable the AFI/SAFI (a malformed MP_REACH_NLRI),
//     GoBGP drops the UPDATE and keeps using the family.
//   - GoBGP adds a MAC Mobility community to a type-2 route announced without
//     one while another PE advertises the MAC, refuses a sequence number lower
//     than one it knows, and withdraws this speaker's own type-2 route when a
//     route for the MAC from another ESI arrives with a higher sequence
//     (RFC 7432 §15). evpn/ should set sequences itself and expect that.
//   - GoBGP ignores contexts: a call blocks until GoBGP's server loop serves
//     it. GoBGP's Serve goroutine cannot be stopped; after Close it stays
//     parked, holding no sockets.
//   - TCP MD5 on GoBGP's listener fails on Go's default Multipath TCP sockets
//     (Go 1.24+, kernels with MPTCP); New refuses such a password unless the
//     binary runs with multipathtcp=0, which this module's go.mod sets for
//     its binaries and tests (godebug multipathtcp=0). A binary built in
//     another module must set it itself.
//
// It must not import evpn/ (other than evpn/route), asic/, p4rt/ or softswitch/.
package bgp
