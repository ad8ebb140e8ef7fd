// These tests drive the P4Runtime switch with the real evpn.PE above it;
// internal/layering lets asic/p4asic's tests (only) import evpn/ for that.

package p4asic_test

import (
	"context"
	"net/netip"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// recordingSpeaker is the PE's BGP side: it hands every announcement to the
// test.
type recordingSpeaker struct{ announced chan route.Path }

func (s *recordingSpeaker) Announce(ctx context.Context, p route.Path) error {
	select {
	case s.announced <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *recordingSpeaker) Withdraw(context.Context, route.NLRI) error { return nil }

// The real PE on the real pipeline: a frame from a new host on an AC raises
// a learning digest, the switch turns it into EventLearn, and the PE
// installs the MAC (an FDB entry the switch holds, so the next frame raises
// no digest) and originates its RT-2.
func TestPELearnsFromDataPlane(t *testing.T) {
	r := startRig(t, "127.0.0.1:0", false)
	sw := newSwitch(t, r.addr, 1)
	speaker := &recordingSpeaker{announced: make(chan route.Path, 64)}
	routerID := netip.MustParseAddr("192.0.2.100")
	pe, err := evpn.New(evpn.Config{
		RouterID: routerID, ASN: 65000,
		Labels:  evpn.LabelRange{First: 1000, Last: 1999},
		Core:    evpn.Core{Port: corePort1, SourceMAC: coreMAC, NextHopMAC: nextHop1},
		Speaker: speaker, Switch: sw, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	events, err := sw.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		for ev := range events {
			if err := pe.HandleSwitchEvent(ctx, ev); err != nil {
				t.Errorf("HandleSwitchEvent(%+v): %v", ev, err)
			}
		}
	}()
	defer func() { cancel(); <-pumped }()
	if err := pe.AddEVI(ctx, evpn.EVIConfig{ID: 10, BD: bd, ACs: []evpn.ACConfig{{ID: ac1, Port: accessPort1, VLAN: vlan1}}}); err != nil {
		t.Fatal(err)
	}

	r.send(t, accessPort1, tagged(t, vlan1, [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, hostA))
	var got route.MACIP
	for found := false; !found; {
		select {
		case p := <-speaker.announced:
			got, found = p.NLRI.(route.MACIP)
		case <-ctx.Done():
			t.Fatal("no RT-2 originated for the learned MAC")
		}
	}
	want := route.MACIP{RD: route.AutoRD(routerID, 10), MAC: hostA, Label1: got.Label1}
	if diff := gocmp.Diff(want, got, entityCmp); diff != "" {
		t.Errorf("RT-2 (-want +got):\n%s", diff)
	}
	if got.Label1 < 1000 || got.Label1 > 1999 {
		t.Errorf("RT-2 label %d outside the PE's range 1000-1999", got.Label1)
	}
	var fdb *asic.FDBEntry
	for _, e := range read(t, sw) {
		if f, ok := e.(asic.FDBEntry); ok && f.MAC == hostA {
			fdb = &f
		}
	}
	if fdb == nil || fdb.Dest != (asic.Destination{Kind: asic.ToAC, AC: ac1}) {
		t.Errorf("switch FDB entry for %s = %+v, want one to AC %d", hostA, fdb, ac1)
	}
}

// The daemon restarts while the target keeps forwarding: a new PE on a new
// switch connection adopts the switch's ids and labels, hears the same
// routes, and its Reconcile writes nothing; the MAC learned before the
// restart is advertised again; traffic to the remote MAC never stopped.
func TestPERestartReconcilesNothing(t *testing.T) {
	r := startRig(t, "127.0.0.1:0", false)
	routerID := netip.MustParseAddr("192.0.2.100")
	remote := netip.MustParseAddr("192.0.2.3")
	rt := route.AutoRouteTarget(65000, 10)
	routes := []route.Path{
		{NLRI: route.MACIP{RD: route.AutoRD(remote, 10), MAC: remoteMAC, Label1: 3001},
			Attrs: route.Attributes{NextHop: remote, RouteTargets: []route.RouteTarget{rt}}},
		{NLRI: route.InclusiveMulticast{RD: route.AutoRD(remote, 10), OriginatorIP: remote},
			Attrs: route.Attributes{NextHop: remote, RouteTargets: []route.RouteTarget{rt},
				PMSI: &route.PMSITunnel{TunnelType: route.TunnelTypeIngressReplication, Label: 3002, TunnelID: remote}}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	start := func(election uint64, adopt bool) (*evpn.PE, *recordingSpeaker, func()) {
		sw := newSwitch(t, r.addr, election)
		speaker := &recordingSpeaker{announced: make(chan route.Path, 64)}
		pe, err := evpn.New(evpn.Config{RouterID: routerID, ASN: 65000, Labels: evpn.LabelRange{First: 1000, Last: 1999},
			Core:    evpn.Core{Port: corePort1, SourceMAC: coreMAC, NextHopMAC: nextHop1},
			Speaker: speaker, Switch: sw, Logger: quietLogger(), SwitchAgeing: true})
		if err != nil {
			t.Fatal(err)
		}
		if adopt {
			if err := pe.Adopt(ctx); err != nil {
				t.Fatal(err)
			}
		}
		evCtx, evCancel := context.WithCancel(ctx)
		events, err := sw.Events(evCtx)
		if err != nil {
			t.Fatal(err)
		}
		pumped := make(chan struct{})
		go func() {
			defer close(pumped)
			for ev := range events {
				pe.HandleSwitchEvent(evCtx, ev) //nolint:errcheck // the test checks the outcome
			}
		}()
		if err := pe.AddEVI(ctx, evpn.EVIConfig{ID: 10, BD: bd, ACs: []evpn.ACConfig{{ID: ac1, Port: accessPort1, VLAN: vlan1}}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range routes {
			if err := pe.HandlePath(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		return pe, speaker, func() { evCancel(); <-pumped; pe.Close(); sw.Close() }
	}
	waitRT2 := func(s *recordingSpeaker, mac asic.MAC) {
		t.Helper()
		for {
			select {
			case p := <-s.announced:
				if m, ok := p.NLRI.(route.MACIP); ok && m.MAC == mac {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no RT-2 for %s", mac)
			}
		}
	}

	_, speaker, stop := start(1, false)
	r.send(t, accessPort1, tagged(t, vlan1, remoteMAC, hostA))
	if diff := gocmp.Diff(mpls(t, nextHop1, []uint32{3001}, false, remoteMAC, hostA), r.recv(t, corePort1)); diff != "" {
		t.Fatalf("before the restart (-want +got):\n%s", diff)
	}
	waitRT2(speaker, hostA)
	stop()

	pe, speaker, stop := start(2, true)
	defer stop()
	n, err := pe.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("Reconcile after the restart wrote %d updates, want 0", n)
	}
	waitRT2(speaker, hostA)
	r.send(t, accessPort1, tagged(t, vlan1, remoteMAC, hostA))
	if diff := gocmp.Diff(mpls(t, nextHop1, []uint32{3001}, false, remoteMAC, hostA), r.recv(t, corePort1)); diff != "" {
		t.Errorf("after the restart (-want +got):\n%s", diff)
	}
}
