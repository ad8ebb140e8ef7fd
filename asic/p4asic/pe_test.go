//go:build evpnintegration

// This test imports evpn/, which internal/layering forbids to anything under
// asic/ (test packages included), so it builds only with the tag:
//
//	go test -tags evpnintegration -run TestPELearnsFromDataPlane ./asic/p4asic/

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
