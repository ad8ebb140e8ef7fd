package p4asic_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/asic/p4asic"
	"github.com/p4evpn/p4evpn/p4"
)

// forEachTarget runs f on the softswitch and, where it is installed, on
// BMv2: the two must agree frame for frame.
func forEachTarget(t *testing.T, f func(t *testing.T, r *rig)) {
	t.Run("softswitch", func(t *testing.T) { f(t, startRig(t, "127.0.0.1:0", false)) })
	t.Run("bmv2", func(t *testing.T) { f(t, startBMv2Rig(t)) })
}

// programmed connects a switch to r and writes baseState.
func programmed(t *testing.T, r *rig) *p4asic.Switch {
	t.Helper()
	sw := newSwitch(t, r.addr, 1)
	write(t, sw, sets(baseState()...)...)
	return sw
}

// waitDrop waits until the pipeline has counted n drops for reason.
func waitDrop(t *testing.T, sw *p4asic.Switch, reason p4.DropReason, n uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		d, err := sw.DropCounts(ctx)
		if err != nil {
			t.Fatalf("waiting for %d %s drops: %v", n, reason, err)
		}
		if d[reason] >= n {
			return
		}
	}
}

// Known unicast from an AC toward remote MACs leaves the core port of the
// tunnel with the label stack asic asked for: transport label (when any),
// the MAC's service label, the control word (when the PE wants one), and
// the customer frame untagged. Toward a local MAC it leaves the AC tagged.
func TestKnownUnicast(t *testing.T) {
	forEachTarget(t, func(t *testing.T, r *rig) {
		programmed(t, r)
		for _, tc := range []struct {
			desc     string
			inPort   uint32
			in       []byte
			wantPort uint32
			want     []byte
		}{
			{
				desc:   "to a directly connected PE: service label only",
				inPort: accessPort1, in: tagged(t, vlan1, remoteMAC, hostA),
				wantPort: corePort1, want: mpls(t, nextHop1, []uint32{macLabel1}, false, remoteMAC, hostA),
			},
			{
				desc:   "to a PE behind a transport LSP that wants a control word",
				inPort: accessPort2, in: tagged(t, vlan2, remoteCW, hostB),
				wantPort: corePort2, want: mpls(t, nextHop2, []uint32{transport2, macLabel2}, true, remoteCW, hostB),
			},
			{
				desc:   "from the core to a local MAC: the AC's tag",
				inPort: corePort1, in: mpls(t, coreMAC, []uint32{unicastLbl}, false, hostA, remoteMAC),
				wantPort: accessPort1, want: tagged(t, vlan1, hostA, remoteMAC),
			},
		} {
			t.Run(tc.desc, func(t *testing.T) {
				r.send(t, tc.inPort, tc.in)
				got := r.recv(t, tc.wantPort)
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("frame on port %d (-want +got):\n%s", tc.wantPort, diff)
				}
			})
		}
	})
}

// Flows toward a MAC behind an aliasing group spread over both PEs, each
// with the label from its ServiceLabel; removing a member moves every flow
// to the other PE with one write.
func TestAliasingSpreadsFlows(t *testing.T) {
	forEachTarget(t, func(t *testing.T, r *rig) {
		sw := programmed(t, r)
		const flows = 64
		// One flow at a time: BMv2's queues drop bursts.
		send := func() map[uint32]int {
			got := map[uint32]int{}
			for i := range flows {
				src := hostA
				src[4], src[5] = 0x10, byte(i)
				r.send(t, accessPort1, tagged(t, vlan1, groupMAC, src))
				want := map[portFrame]bool{
					{corePort1, string(mpls(t, nextHop1, []uint32{svcLabel1}, false, groupMAC, src))}:            true,
					{corePort2, string(mpls(t, nextHop2, []uint32{transport2, svcLabel2}, true, groupMAC, src))}: true,
				}
				f := collect(t, r, 1, corePort1, corePort2)[0]
				if !want[f] {
					t.Fatalf("flow %d: unexpected frame on port %d: %x", i, f.port, f.frame)
				}
				got[f.port]++
			}
			return got
		}
		got := send()
		if got[corePort1] == 0 || got[corePort2] == 0 {
			t.Errorf("flows per core port = %v: want both PEs used", got)
		}
		write(t, sw, asic.Set(asic.AliasingGroup{ID: group, Members: []asic.RemotePEID{pe2}}))
		if got := send(); got[corePort2] != flows {
			t.Errorf("after withdrawing pe 1: flows per core port = %v, want all %d on port %d", got, flows, corePort2)
		}
		write(t, sw, asic.Set(asic.AliasingGroup{ID: group, SingleActive: true, Members: []asic.RemotePEID{pe1, pe2}}))
		if got := send(); got[corePort1] != flows {
			t.Errorf("single-active group with primary pe 1: flows per core port = %v, want all %d on port %d", got, flows, corePort1)
		}
	})
}

// BUM reaches a multihomed AC only where this PE is the DF, whether it came
// from the core or from a local single-homed AC (RFC 7432 §8.5: MPLS EVPN
// has no local bias, the DF gets the local frame through the core), never
// when it carries the AC's own ESI label (split horizon), and always
// reaches the single-homed AC. Local BUM from the multihomed AC carries the
// peer's ESI label under its IMET label toward the PE sharing the segment,
// DF or not.
func TestDFAndSplitHorizon(t *testing.T) {
	forEachTarget(t, func(t *testing.T, r *rig) {
		sw := programmed(t, r)
		bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		fromCore := func(labels ...uint32) []byte { return mpls(t, coreMAC, labels, false, bcast, remoteMAC) }

		// Not DF: AC 1 gets the frame, AC 2 does not.
		r.send(t, corePort1, fromCore(bumLbl))
		if diff := cmp.Diff(tagged(t, vlan1, bcast, remoteMAC), r.recv(t, accessPort1)); diff != "" {
			t.Errorf("non-DF: frame on AC 1 (-want +got):\n%s", diff)
		}
		waitDrop(t, sw, p4.DropNonDF, 1)
		if f := r.drain(t)[accessPort2]; len(f) != 0 {
			t.Errorf("non-DF: %d frames left by AC 2, want none", len(f))
		}

		// Not DF, local BUM from the single-homed AC 1: both PEs get it,
		// AC 2 does not: the segment's DF delivers the copy it gets from us.
		fromAC1 := func(t *testing.T, what string) {
			t.Helper()
			r.send(t, accessPort1, tagged(t, vlan1, bcast, hostA))
			if diff := cmp.Diff(mpls(t, nextHop1, []uint32{imetLabel1}, false, bcast, hostA), r.recv(t, corePort1)); diff != "" {
				t.Errorf("%s: local BUM from AC 1 to pe 1 (-want +got):\n%s", what, diff)
			}
			if diff := cmp.Diff(mpls(t, nextHop2, []uint32{transport2, imetLabel2}, true, bcast, hostA), r.recv(t, corePort2)); diff != "" {
				t.Errorf("%s: local BUM from AC 1 to pe 2 (-want +got):\n%s", what, diff)
			}
		}
		fromAC1(t, "non-DF")
		waitDrop(t, sw, p4.DropNonDF, 2)
		if f := r.drain(t)[accessPort2]; len(f) != 0 {
			t.Errorf("non-DF: local BUM from AC 1: %d frames left by AC 2, want none", len(f))
		}
		// Not DF, local BUM from AC 2 itself: still to AC 1 and the core.
		fromAC2 := func(t *testing.T, what string) {
			t.Helper()
			r.send(t, accessPort2, tagged(t, vlan2, bcast, hostB))
			if diff := cmp.Diff(tagged(t, vlan1, bcast, hostB), r.recv(t, accessPort1)); diff != "" {
				t.Errorf("%s: local BUM from AC 2: frame on AC 1 (-want +got):\n%s", what, diff)
			}
			if diff := cmp.Diff(mpls(t, nextHop1, []uint32{imetLabel1, peerESILbl}, false, bcast, hostB), r.recv(t, corePort1)); diff != "" {
				t.Errorf("%s: local BUM from AC 2 to pe 1 (-want +got):\n%s", what, diff)
			}
			if diff := cmp.Diff(mpls(t, nextHop2, []uint32{transport2, imetLabel2}, true, bcast, hostB), r.recv(t, corePort2)); diff != "" {
				t.Errorf("%s: local BUM from AC 2 to pe 2 (-want +got):\n%s", what, diff)
			}
		}
		fromAC2(t, "non-DF")

		// DF: both.
		write(t, sw, asic.Set(asic.DFState{Segment: segment, BD: bd, DF: true}))
		r.send(t, corePort1, fromCore(bumLbl))
		r.recv(t, accessPort1)
		if diff := cmp.Diff(tagged(t, vlan2, bcast, remoteMAC), r.recv(t, accessPort2)); diff != "" {
			t.Errorf("DF: frame on AC 2 (-want +got):\n%s", diff)
		}
		fromAC1(t, "DF")
		if diff := cmp.Diff(tagged(t, vlan2, bcast, hostA), r.recv(t, accessPort2)); diff != "" {
			t.Errorf("DF: local BUM from AC 1: frame on AC 2 (-want +got):\n%s", diff)
		}

		// Split horizon: the frame came from our own segment through a peer.
		r.send(t, corePort1, fromCore(bumLbl, esiLbl))
		r.recv(t, accessPort1)
		waitDrop(t, sw, p4.DropSplitHorizon, 1)
		if f := r.drain(t)[accessPort2]; len(f) != 0 {
			t.Errorf("split horizon: %d frames left by AC 2, want none", len(f))
		}

		// Local BUM from AC 2: pe 1 shares the segment and gets its ESI label.
		fromAC2(t, "DF")

		// Single-active segment where we are not DF: AC 2 is blocked both ways.
		write(t, sw, asic.Set(asic.Segment{ID: segment, ESILabel: esiLbl, SingleActive: true}),
			asic.Set(asic.DFState{Segment: segment, BD: bd, DF: false}))
		r.send(t, accessPort2, tagged(t, vlan2, remoteMAC, hostB))
		waitDrop(t, sw, p4.DropACBlocked, 1)
		r.send(t, accessPort1, tagged(t, vlan1, bcast, hostA))
		r.recv(t, corePort1)
		r.recv(t, corePort2)
		waitDrop(t, sw, p4.DropACEgressBlocked, 1)
		if f := r.drain(t); len(f[accessPort2]) != 0 || len(f[corePort1]) != 0 {
			t.Errorf("blocked AC 2: frames %v, want none on AC 2 and none from it", f)
		}
		// Elected DF: AC 2 forwards again.
		write(t, sw, asic.Set(asic.DFState{Segment: segment, BD: bd, DF: true}))
		r.send(t, accessPort2, tagged(t, vlan2, remoteMAC, hostB))
		if diff := cmp.Diff(mpls(t, nextHop1, []uint32{macLabel1}, false, remoteMAC, hostB), r.recv(t, corePort1)); diff != "" {
			t.Errorf("DF on single-active: frame to pe 1 (-want +got):\n%s", diff)
		}
	})
}

// A frame from an unknown station raises a learning digest that the switch
// delivers as EventLearn; a pinned MAC seen on another AC raises none and
// is dropped.
func TestLearnEvent(t *testing.T) {
	forEachTarget(t, func(t *testing.T, r *rig) {
		sw := programmed(t, r)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events, err := sw.Events(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r.send(t, accessPort2, tagged(t, vlan2, remoteMAC, hostB))
		r.recv(t, corePort1)
		if diff := cmp.Diff(asic.Event{Kind: asic.EventLearn, BD: bd, MAC: hostB, AC: ac2}, event(t, events)); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
		write(t, sw, asic.Set(asic.FDBEntry{BD: bd, MAC: hostB, Dest: asic.Destination{Kind: asic.ToAC, AC: ac2}, Pinned: true}))
		r.send(t, accessPort1, tagged(t, vlan1, remoteMAC, hostB))
		waitDrop(t, sw, p4.DropPinnedMove, 1)
		select {
		case ev := <-events:
			t.Errorf("pinned MAC on another AC raised %+v", ev)
		default:
		}
	})
}

// An FDB entry with an idle timeout raises EventIdle once no frame hit it
// for that long (the engine records hits of ingress.smac's entries).
func TestIdleEvent(t *testing.T) {
	test := func(t *testing.T, r *rig) {
		sw := programmed(t, r)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events, err := sw.Events(ctx)
		if err != nil {
			t.Fatal(err)
		}
		write(t, sw, asic.Set(asic.FDBEntry{BD: bd, MAC: hostB, Dest: asic.Destination{Kind: asic.ToAC, AC: ac2}, IdleTimeout: 20 * time.Millisecond}))
		if diff := cmp.Diff(asic.Event{Kind: asic.EventIdle, BD: bd, MAC: hostB, AC: ac2}, event(t, events)); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
	}
	t.Run("softswitch", func(t *testing.T) { test(t, startRig(t, "127.0.0.1:0", true)) })
	t.Run("bmv2", func(t *testing.T) { test(t, startBMv2Rig(t)) })
}

type portFrame struct {
	port  uint32
	frame string
}

// collect waits for n frames on any of ports.
func collect(t *testing.T, r *rig, n int, ports ...uint32) []portFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	ch := make(chan portFrame)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for _, p := range ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				f, err := r.dp.read(ctx, p)
				if err != nil {
					return
				}
				select {
				case ch <- portFrame{p, string(f)}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	var out []portFrame
	for len(out) < n {
		select {
		case f := <-ch:
			out = append(out, f)
		case <-ctx.Done():
			t.Fatalf("%d of %d frames arrived on ports %v", len(out), n, ports)
		}
	}
	return out
}

// event waits for the next event.
func event(t *testing.T, events <-chan asic.Event) asic.Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(waitLimit):
		t.Fatal("no event")
	}
	return asic.Event{}
}

// Counters report what the pipeline counted: frames into the bridge domain
// and from each AC, and drops by asic's reasons.
func TestCounters(t *testing.T) {
	forEachTarget(t, func(t *testing.T, r *rig) {
		sw := programmed(t, r)
		r.send(t, accessPort1, tagged(t, vlan1, remoteMAC, hostA))
		r.recv(t, corePort1)
		r.send(t, accessPort1, tagged(t, vlan1, remoteMAC, hostA))
		r.recv(t, corePort1)
		bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		r.send(t, corePort1, mpls(t, coreMAC, []uint32{bumLbl}, false, bcast, remoteMAC)) // non-DF toward AC 2
		r.recv(t, accessPort1)
		waitDrop(t, sw, p4.DropNonDF, 1)
		got, err := sw.Counters(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		accessLen := uint64(len(tagged(t, vlan1, remoteMAC, hostA)))
		coreLen := uint64(len(mpls(t, coreMAC, []uint32{bumLbl}, false, bcast, remoteMAC)))
		want := asic.Counters{
			BridgeDomains: map[asic.BridgeDomainID]asic.PacketCount{bd: {Packets: 3, Bytes: 2*accessLen + coreLen}},
			ACs:           map[asic.ACID]asic.PacketCount{ac1: {Packets: 2, Bytes: 2 * accessLen}},
			// The flood from the core: non-DF toward AC 2, and never back into
			// the core toward pe 1 and pe 2.
			Drops: map[asic.DropReason]uint64{asic.DropNonDF: 1, asic.DropSplitHorizon: 2},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Counters (-want +got):\n%s", diff)
		}
	})
}

// Close ends every subscription and refuses further calls.
func TestCloseEndsEvents(t *testing.T) {
	r := startRig(t, "127.0.0.1:0", false)
	sw := newSwitch(t, r.addr, 1)
	events, err := sw.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-events; ok {
		t.Error("an event arrived after Close")
	}
	if err := sw.Write(context.Background(), sets(baseState()...)); err == nil {
		t.Error("Write after Close succeeded")
	}
	if _, err := sw.Read(context.Background()); err == nil {
		t.Error("Read after Close succeeded")
	}
}

// Entries that carry another entity's port follow it: moving an AC to
// another port rewrites the FDB entries and flood replicas toward it, and
// moving a tunnel to another core port rewrites its replicas; a changed
// label replaces the old one. Read still gives back exactly the state.
func TestMovesRewriteDependents(t *testing.T) {
	forEachTarget(t, func(t *testing.T, r *rig) {
		sw := programmed(t, r)
		state := baseState()
		moved := map[asic.Key]asic.Entity{
			asic.AttachmentCircuit{ID: ac1}.Key(): asic.AttachmentCircuit{ID: ac1, Port: accessPort2, VLAN: vlan1, BD: bd},
			asic.RemotePE{ID: pe1}.Key(): asic.RemotePE{ID: pe1, Address: netip.MustParseAddr("192.0.2.1"), CorePort: corePort2,
				SourceMAC: coreMAC, NextHopMAC: nextHop1},
			asic.BridgeDomain{ID: bd}.Key(): asic.BridgeDomain{ID: bd, UnicastLabel: unicastLbl + 100, BUMLabel: bumLbl},
		}
		var ups []asic.Update
		for i, e := range state {
			if m, ok := moved[e.Key()]; ok {
				state[i] = m
				ups = append(ups, asic.Set(m))
			}
		}
		write(t, sw, ups...)

		// Known unicast to the local MAC, with the new label, leaves by
		// the AC's new port.
		r.send(t, corePort1, mpls(t, coreMAC, []uint32{unicastLbl + 100}, false, hostA, remoteMAC))
		if diff := cmp.Diff(tagged(t, vlan1, hostA, remoteMAC), r.recv(t, accessPort2)); diff != "" {
			t.Errorf("to the moved AC (-want +got):\n%s", diff)
		}
		// The old label is gone.
		r.send(t, corePort1, mpls(t, coreMAC, []uint32{unicastLbl}, false, hostA, remoteMAC))
		waitDrop(t, sw, p4.DropLabelUnknown, 1)
		// Known unicast to pe 1 leaves by its new core port.
		r.send(t, accessPort2, tagged(t, vlan1, remoteMAC, hostA))
		if diff := cmp.Diff(mpls(t, nextHop1, []uint32{macLabel1}, false, remoteMAC, hostA), r.recv(t, corePort2)); diff != "" {
			t.Errorf("to the moved tunnel (-want +got):\n%s", diff)
		}
		// BUM from AC 2: to AC 1 on its new port (the same port as AC 2,
		// another VLAN), and both PEs' replicas by core port 2.
		bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		r.send(t, accessPort2, tagged(t, vlan2, bcast, hostB))
		if diff := cmp.Diff(tagged(t, vlan1, bcast, hostB), r.recv(t, accessPort2)); diff != "" {
			t.Errorf("flood to the moved AC (-want +got):\n%s", diff)
		}
		got := map[string]bool{}
		for _, f := range collect(t, r, 2, corePort2) {
			got[f.frame] = true
		}
		for _, want := range [][]byte{
			mpls(t, nextHop1, []uint32{imetLabel1, peerESILbl}, false, bcast, hostB),
			mpls(t, nextHop2, []uint32{transport2, imetLabel2}, true, bcast, hostB),
		} {
			if !got[string(want)] {
				t.Errorf("flood: no frame %x on core port 2", want)
			}
		}
		if diff := cmp.Diff(sortEntities(state), read(t, sw), entityCmp); diff != "" {
			t.Errorf("Read after the moves (-want +got):\n%s", diff)
		}
	})
}
