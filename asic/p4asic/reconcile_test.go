package p4asic_test

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/asic/p4asic"
	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/p4rt"
)

func sortEntities(es []asic.Entity) []asic.Entity {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b asic.Entity) int {
		ka, kb := a.Key(), b.Key()
		return cmp.Or(cmp.Compare(ka.Kind, kb.Kind), cmp.Compare(ka.A, kb.A), cmp.Compare(ka.B, kb.B),
			slices.Compare(ka.MAC[:], kb.MAC[:]))
	})
	return es
}

func read(t *testing.T, sw asic.Switch) []asic.Entity {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	got, err := sw.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sortEntities(got)
}

func reconcile(t *testing.T, sw asic.Switch, desired []asic.Entity) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	n, err := asic.Reconcile(ctx, sw, desired)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var entityCmp = gocmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})}

// richState is baseState with every variant the tables encode in metadata
// or derive: the CPU port, a shared unicast/BUM label, a single-active
// segment with a blocked AC, a double-tagged AC, a single-active aliasing
// group, an empty group, an IPv6 PE, pinned and ageing MACs.
func richState() []asic.Entity {
	return append(baseState(),
		asic.Port{ID: p4.CPUPort, Kind: asic.PortCPU},
		asic.BridgeDomain{ID: 20, UnicastLabel: 1100, BUMLabel: 1100},
		asic.Segment{ID: 6, ESILabel: 2100, SingleActive: true},
		asic.AttachmentCircuit{ID: 3, Port: accessPort1, VLAN: 300, InnerVLAN: 30, BD: 20, Segment: 6},
		asic.AttachmentCircuit{ID: 4, Port: accessPort2, VLAN: 400, BD: 20, Segment: 6},
		asic.DFState{Segment: 6, BD: 20, DF: false},
		asic.RemotePE{ID: 3, Address: netip.MustParseAddr("2001:db8::3"), CorePort: corePort1, SourceMAC: coreMAC, NextHopMAC: nextHop1},
		asic.AliasingGroup{ID: 8, SingleActive: true, Members: []asic.RemotePEID{pe2, pe1, 3}},
		asic.AliasingGroup{ID: 9},
		asic.FloodGroup{BD: 20, Members: []asic.FloodMember{{AC: 3}, {AC: 4}, {PE: 3, BUMLabel: 6003}}},
		asic.FDBEntry{BD: 20, MAC: hostB, Dest: asic.Destination{Kind: asic.ToAC, AC: 4}, Pinned: true},
		asic.FDBEntry{BD: 20, MAC: remoteMAC, Dest: asic.Destination{Kind: asic.ToDrop}, Pinned: true},
		asic.FDBEntry{BD: 20, MAC: hostA, Dest: asic.Destination{Kind: asic.ToAC, AC: 3}, IdleTimeout: time.Hour},
		asic.FDBEntry{BD: 20, MAC: groupMAC, Dest: asic.Destination{Kind: asic.ToAliasingGroup, Group: 8}},
	)
}

// Read gives back exactly what was written, whatever the tables had to
// keep in metadata or derive; a second controller reads the same.
func TestReadRoundTrip(t *testing.T) {
	forEachTarget(t, func(t *testing.T, r *rig) {
		sw := newSwitch(t, r.addr, 1)
		want := sortEntities(richState())
		write(t, sw, sets(want...)...)
		if diff := gocmp.Diff(want, read(t, sw), entityCmp); diff != "" {
			t.Errorf("Read (-want +got):\n%s", diff)
		}
		sw.Close()
		restarted := newSwitch(t, r.addr, 2)
		if diff := gocmp.Diff(want, read(t, restarted), entityCmp); diff != "" {
			t.Errorf("Read by a restarted controller (-want +got):\n%s", diff)
		}
	})
}

// After a controller restart, reconciling the same desired state writes
// nothing; an entry corrupted behind the controller's back is found and
// rewritten, and only it; traffic follows the repaired entry.
func TestReconcileAfterControllerRestart(t *testing.T) {
	forEachTarget(t, func(t *testing.T, r *rig) {
		desired := richState()
		first := newSwitch(t, r.addr, 1)
		if n := reconcile(t, first, desired); n != len(desired) {
			t.Errorf("first reconcile wrote %d updates, want %d", n, len(desired))
		}
		first.Close()

		sw := newSwitch(t, r.addr, 2)
		if n := reconcile(t, sw, desired); n != 0 {
			t.Errorf("reconcile after restart wrote %d updates, want 0", n)
		}

		// Corrupt the FDB entry of remoteMAC: point it at the wrong label.
		ix := sw.Client().Index()
		corrupt, err := ix.BuildTableEntry(p4rt.TableEntry{Table: p4.TableFDB,
			Match:  []p4rt.FieldMatch{p4rt.Exact(p4.FieldBD, p4rt.Uint(bd)), p4rt.Exact(p4.FieldMAC, remoteMAC[:])},
			Action: p4rt.Action(p4.ActionToRemotePE, p4rt.Arg(p4.FieldPE, p4rt.Uint(pe1)), p4rt.Arg(p4.FieldLabel, p4rt.Uint(9999)))})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := sw.Client().Write(ctx, []*p4v1.Update{p4rt.Modify(corrupt)}); err != nil {
			t.Fatal(err)
		}
		r.send(t, accessPort1, tagged(t, vlan1, remoteMAC, hostA))
		if diff := gocmp.Diff(mpls(t, nextHop1, []uint32{9999}, false, remoteMAC, hostA), r.recv(t, corePort1)); diff != "" {
			t.Fatalf("corrupted entry not in effect (-want +got):\n%s", diff)
		}
		if n := reconcile(t, sw, desired); n != 1 {
			t.Errorf("reconcile of one corrupted entry wrote %d updates, want 1", n)
		}
		r.send(t, accessPort1, tagged(t, vlan1, remoteMAC, hostA))
		if diff := gocmp.Diff(mpls(t, nextHop1, []uint32{macLabel1}, false, remoteMAC, hostA), r.recv(t, corePort1)); diff != "" {
			t.Errorf("after repair (-want +got):\n%s", diff)
		}

		// Delete half of an entity (the egress side of AC 1): the AC is
		// rewritten, and what depends on it reads back whole.
		acEgress, err := ix.BuildTableEntry(p4rt.TableEntry{Table: p4.TableACEgress, Match: []p4rt.FieldMatch{p4rt.Exact(p4.FieldAC, p4rt.Uint(ac1))}})
		if err != nil {
			t.Fatal(err)
		}
		if err := sw.Client().Write(ctx, []*p4v1.Update{p4rt.Delete(acEgress)}); err != nil {
			t.Fatal(err)
		}
		if n := reconcile(t, sw, desired); n == 0 {
			t.Error("reconcile after deleting ac_egress of AC 1 wrote nothing")
		}
		if diff := gocmp.Diff(sortEntities(desired), read(t, sw), entityCmp); diff != "" {
			t.Errorf("Read after repair (-want +got):\n%s", diff)
		}
		if n := reconcile(t, sw, desired); n != 0 {
			t.Errorf("second reconcile wrote %d updates, want 0", n)
		}
		r.send(t, corePort1, mpls(t, coreMAC, []uint32{unicastLbl}, false, hostA, remoteMAC))
		if diff := gocmp.Diff(tagged(t, vlan1, hostA, remoteMAC), r.recv(t, accessPort1)); diff != "" {
			t.Errorf("to AC 1 after repair (-want +got):\n%s", diff)
		}
	})
}

// A target that restarts without its pipeline gets it back from the
// client, and reconciliation replays every entity; traffic flows again.
func TestReconcileAfterTargetRestart(t *testing.T) {
	r := startRig(t, "127.0.0.1:0", false)
	sw := newSwitch(t, r.addr, 1)
	desired := baseState()
	reconcile(t, sw, desired)
	epoch := sw.Client().Arbitration().Epoch

	r = r.restart()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	select {
	case <-sw.Resynced():
	case <-ctx.Done():
		t.Fatalf("the switch did not re-read the restarted target: %+v", sw.Client().Arbitration())
	}
	if a := sw.Client().Arbitration(); !a.Primary || a.Epoch == epoch {
		t.Fatalf("after resync: arbitration %+v, want primary with an epoch after %d", a, epoch)
	}
	// The view follows the target: it lost the entities, so a write that
	// relies on them is refused instead of half-applied.
	err := sw.Write(ctx, []asic.Update{asic.Set(asic.FDBEntry{BD: bd, MAC: hostB, Dest: asic.Destination{Kind: asic.ToAC, AC: ac1}})})
	if !errors.Is(err, asic.ErrMissingReference) {
		t.Errorf("write after the target lost its tables: %v, want %v", err, asic.ErrMissingReference)
	}
	if n := reconcile(t, sw, desired); n != len(desired) {
		t.Errorf("reconcile after target restart wrote %d updates, want all %d", n, len(desired))
	}
	r.send(t, accessPort1, tagged(t, vlan1, remoteMAC, hostA))
	if diff := gocmp.Diff(mpls(t, nextHop1, []uint32{macLabel1}, false, remoteMAC, hostA), r.recv(t, corePort1)); diff != "" {
		t.Errorf("after replay (-want +got):\n%s", diff)
	}
}

// The asic.Switch contract: references checked both ways, idempotent Set
// and Delete, per-update errors aligned with the input, bad values named.
func TestWriteContract(t *testing.T) {
	forEachTarget(t, func(t *testing.T, r *rig) {
		sw := newSwitch(t, r.addr, 1)
		write(t, sw, sets(baseState()...)...)
		for _, tc := range []struct {
			desc    string
			updates []asic.Update
			wantErr []error // per update; nil = applied
		}{
			{
				desc:    "replaying the state is harmless",
				updates: sets(baseState()...),
				wantErr: make([]error, len(baseState())),
			},
			{
				desc: "missing references",
				updates: []asic.Update{
					asic.Set(asic.FDBEntry{BD: bd, MAC: hostB, Dest: asic.Destination{Kind: asic.ToRemotePE, PE: 99, Label: 5000}}),
					asic.Set(asic.AttachmentCircuit{ID: 50, Port: 9, VLAN: 5, BD: bd}),
					asic.Set(asic.FDBEntry{BD: bd, MAC: hostB, Dest: asic.Destination{Kind: asic.ToAC, AC: ac1}}),
				},
				wantErr: []error{asic.ErrMissingReference, asic.ErrMissingReference, nil},
			},
			{
				desc: "still referenced",
				updates: []asic.Update{
					asic.Delete(asic.RemotePE{ID: pe1}),
					asic.Delete(asic.AliasingGroup{ID: group}),
					asic.Delete(asic.FDBEntry{BD: bd, MAC: hostB}),
					asic.Delete(asic.FDBEntry{BD: bd, MAC: hostB}),
				},
				wantErr: []error{asic.ErrStillReferenced, asic.ErrStillReferenced, nil, nil},
			},
			{
				desc: "values out of range or reserved",
				updates: []asic.Update{
					asic.Set(asic.BridgeDomain{ID: 5000, UnicastLabel: 100}),
					asic.Set(asic.BridgeDomain{ID: 30, UnicastLabel: 3}),
					asic.Set(asic.AttachmentCircuit{ID: 60, Port: accessPort1, VLAN: 0, InnerVLAN: 7, BD: bd}),
					asic.Set(asic.Port{ID: p4.CPUPort, Kind: asic.PortAccess}),
					asic.Set(asic.BridgeDomain{ID: 31, UnicastLabel: unicastLbl}),
				},
				wantErr: []error{errAny, errAny, errAny, errAny, errAny},
			},
		} {
			t.Run(tc.desc, func(t *testing.T) {
				err := sw.Write(context.Background(), tc.updates)
				var got []error
				var werr *asic.WriteError
				switch {
				case err == nil:
					got = make([]error, len(tc.updates))
				case errors.As(err, &werr):
					got = werr.Errors
				default:
					t.Fatalf("Write: %v, want nil or a *asic.WriteError", err)
				}
				for i := range tc.updates {
					switch want := tc.wantErr[i]; {
					case want == nil && got[i] != nil:
						t.Errorf("update %d (%s): %v, want success", i, tc.updates[i], got[i])
					case want == errAny && got[i] == nil:
						t.Errorf("update %d (%s) succeeded, want an error", i, tc.updates[i])
					case want != nil && want != errAny && !errors.Is(got[i], want):
						t.Errorf("update %d (%s): %v, want %v", i, tc.updates[i], got[i], want)
					}
				}
			})
		}
		if diff := gocmp.Diff(sortEntities(baseState()), read(t, sw), entityCmp); diff != "" {
			t.Errorf("state after the failed writes (-want +got):\n%s", diff)
		}
	})
}

var errAny = errors.New("any error")

var _ = p4asic.WithAddress

// Entries that belong to no entity survive Read and Reconcile (they may be
// the intact half of an entity being repaired) and DeleteStrays removes
// them: here a source-MAC entry that would keep a MAC from being learned,
// and an aliasing member no group uses.
func TestDeleteStrays(t *testing.T) {
	forEachTarget(t, func(t *testing.T, r *rig) {
		sw := programmed(t, r)
		ix := sw.Client().Index()
		smac, err := ix.BuildTableEntry(p4rt.TableEntry{Table: p4.TableSourceMAC,
			Match:  []p4rt.FieldMatch{p4rt.Exact(p4.FieldBD, p4rt.Uint(bd)), p4rt.Exact(p4.FieldMAC, remoteMAC[:])},
			Action: p4rt.Action(p4.ActionSMACKnown, p4rt.Arg(p4.FieldAC, p4rt.Uint(ac1)))})
		if err != nil {
			t.Fatal(err)
		}
		member, err := ix.BuildActionProfileMember(p4rt.ActionProfileMember{Profile: p4.ActionProfileAliasingSelector, MemberID: 99,
			Action: p4rt.Action(p4.ActionSetAliasingPE, p4rt.Arg(p4.FieldPE, p4rt.Uint(99)))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := sw.Client().Write(ctx, []*p4v1.Update{p4rt.Insert(smac), p4rt.Insert(member)}); err != nil {
			t.Fatal(err)
		}
		if n := reconcile(t, sw, baseState()); n != 0 {
			t.Errorf("reconcile with strays on the target wrote %d updates, want 0", n)
		}
		if n, err := sw.DeleteStrays(ctx); err != nil || n != 2 {
			t.Errorf("DeleteStrays = %d, %v; want 2, nil", n, err)
		}
		if n, err := sw.DeleteStrays(ctx); err != nil || n != 0 {
			t.Errorf("second DeleteStrays = %d, %v; want 0, nil", n, err)
		}
		if diff := gocmp.Diff(sortEntities(baseState()), read(t, sw), entityCmp); diff != "" {
			t.Errorf("Read after DeleteStrays (-want +got):\n%s", diff)
		}
		events, err := sw.Events(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r.send(t, accessPort1, tagged(t, vlan1, remoteCW, remoteMAC))
		if diff := gocmp.Diff(asic.Event{Kind: asic.EventLearn, BD: bd, MAC: remoteMAC, AC: ac1}, event(t, events)); diff != "" {
			t.Errorf("learn after the stray source-MAC entry was deleted (-want +got):\n%s", diff)
		}
	})
}

// A target's refusal comes back in the update's slot, naming the entity,
// with the target's code; the other updates are applied.
func TestTargetRefusal(t *testing.T) {
	r := startRig(t, "127.0.0.1:0", false)
	sw := programmed(t, r)
	// Fill egress.df, the smallest table whose key space is larger than
	// the table, then one more: bridge domains 100-116 times segments
	// 10-1009 make room for 17000 entries.
	var setup []asic.Entity
	for b := range 17 {
		setup = append(setup, asic.BridgeDomain{ID: asic.BridgeDomainID(100 + b), UnicastLabel: uint32(200000 + b)})
	}
	for sg := range 1000 {
		setup = append(setup, asic.Segment{ID: asic.SegmentID(10 + sg), ESILabel: uint32(300000 + sg)})
	}
	write(t, sw, sets(setup...)...)
	ups := make([]asic.Update, 0, p4.SizeDF+1)
	for i := range p4.SizeDF + 1 {
		ups = append(ups, asic.Set(asic.DFState{Segment: asic.SegmentID(10 + i%1000), BD: asic.BridgeDomainID(100 + i/1000), DF: true}))
	}
	err := sw.Write(context.Background(), ups)
	var werr *asic.WriteError
	if !errors.As(err, &werr) {
		t.Fatalf("Write past the table's size: %v, want a *asic.WriteError", err)
	}
	var failed []int
	for i, e := range werr.Errors {
		if e != nil {
			failed = append(failed, i)
		}
	}
	if len(failed) != 1 {
		t.Fatalf("%d updates failed (%v), want the one past the table's size", len(failed), failed)
	}
	e := werr.Errors[failed[0]]
	var ue *p4rt.UpdateError
	if !errors.As(e, &ue) || ue.Code != codes.ResourceExhausted {
		t.Errorf("error %v: want a p4rt.UpdateError with %v", e, codes.ResourceExhausted)
	}
	if want := ups[failed[0]].String(); !strings.Contains(e.Error(), want) {
		t.Errorf("error %q does not name %s", e, want)
	}
}
