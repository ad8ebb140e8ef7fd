package asic_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/asic/memswitch"
	"github.com/p4evpn/p4evpn/evpn/route"
)

var (
	mac = route.MustMAC("02:00:00:00:00:01")
	pe  = asic.RemotePE{ID: 7, Address: netip.MustParseAddr("192.0.2.2"), CorePort: 100}
)

func baseState() []asic.Entity {
	return []asic.Entity{
		asic.Port{ID: 1, Kind: asic.PortAccess},
		asic.Port{ID: 100, Kind: asic.PortCore},
		asic.BridgeDomain{ID: 10, UnicastLabel: 1000, BUMLabel: 1001},
		asic.Segment{ID: 1, ESILabel: 1002},
		asic.AttachmentCircuit{ID: 1, Port: 1, VLAN: 10, BD: 10, Segment: 1},
		pe,
		asic.AliasingGroup{ID: 3, Members: []asic.RemotePEID{7}},
		asic.FloodGroup{BD: 10, Members: []asic.FloodMember{{AC: 1}, {PE: 7, BUMLabel: 3002}}},
		asic.FDBEntry{BD: 10, MAC: mac, Dest: asic.Destination{Kind: asic.ToAliasingGroup, Group: 3}},
	}
}

func TestSwitchContract(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		desc    string
		updates []asic.Update
		wantErr error
	}{
		{desc: "set with a missing reference fails", updates: []asic.Update{asic.Set(asic.FDBEntry{BD: 10, MAC: mac, Dest: asic.Destination{Kind: asic.ToAC, AC: 99}})}, wantErr: asic.ErrMissingReference},
		{desc: "delete of a referenced entity fails", updates: []asic.Update{asic.Delete(pe)}, wantErr: asic.ErrStillReferenced},
		{desc: "set of an identical entity succeeds", updates: []asic.Update{asic.Set(pe)}},
		{desc: "delete of an absent key succeeds", updates: []asic.Update{asic.Delete(asic.RemotePE{ID: 55})}},
		{desc: "re-pointing then deleting in one batch succeeds", updates: []asic.Update{
			asic.Set(asic.FDBEntry{BD: 10, MAC: mac, Dest: asic.Destination{Kind: asic.ToAC, AC: 1}}),
			asic.Delete(asic.AliasingGroup{ID: 3}),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			sw := memswitch.New()
			var init []asic.Update
			for _, e := range baseState() {
				init = append(init, asic.Set(e))
			}
			if err := sw.Write(ctx, init); err != nil {
				t.Fatalf("initial write: %v", err)
			}
			err := sw.Write(ctx, tc.updates)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Write: %v, want %v", err, tc.wantErr)
			}
			var we *asic.WriteError
			if tc.wantErr != nil && (!errors.As(err, &we) || len(we.Errors) != len(tc.updates)) {
				t.Errorf("error %v is not a WriteError with one slot per update", err)
			}
		})
	}
}

func TestDiffAndReconcile(t *testing.T) {
	ctx := context.Background()
	sw := memswitch.New()
	n, err := asic.Reconcile(ctx, sw, baseState())
	if err != nil || n != len(baseState()) {
		t.Fatalf("reconcile of an empty switch: %d updates, %v; want %d (everything replayed)", n, err, len(baseState()))
	}
	if n, err := asic.Reconcile(ctx, sw, baseState()); err != nil || n != 0 {
		t.Fatalf("reconcile of an intact switch: %d updates, %v; want 0", n, err)
	}
	// Desired state moves the MAC to the AC and drops the group and PE:
	// the diff must set the entry before deleting what it pointed at.
	desired := baseState()[:5]
	desired = append(desired, asic.FloodGroup{BD: 10, Members: []asic.FloodMember{{AC: 1}}},
		asic.FDBEntry{BD: 10, MAC: mac, Dest: asic.Destination{Kind: asic.ToAC, AC: 1}})
	n, err = asic.Reconcile(ctx, sw, desired)
	if err != nil || n != 4 {
		t.Fatalf("reconcile: %d updates, %v; want 4 (2 sets, 2 deletes)", n, err)
	}
	if sw.Len() != len(desired) {
		t.Errorf("switch holds %d entities, want %d", sw.Len(), len(desired))
	}
	if _, err := asic.Diff(nil, []asic.Entity{pe, pe}); err == nil {
		t.Error("Diff accepted a desired state with a duplicate key")
	}
}

func TestEvents(t *testing.T) {
	sw := memswitch.New()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := sw.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ev := asic.Event{Kind: asic.EventLearn, BD: 10, MAC: mac, AC: 1}
	sw.Inject(ev)
	if got := <-ch; got != ev {
		t.Errorf("event %+v, want %+v", got, ev)
	}
	cancel()
	if _, ok := <-ch; ok {
		t.Error("channel open after its context ended")
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sw.Write(context.Background(), nil); err == nil {
		t.Error("Write after Close succeeded")
	}
}
