package p4rtserver

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	p4cfg "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// Spec §5: arbitration with two controllers and a role.
func testArbitration(t *testing.T, tg *target) {

	a := openStream(t, tg)
	a.arbitrate(tg.deviceID, "", eid(10))
	if got := a.nextArbitration(); got.GetStatus().GetCode() != int32(codes.OK) || !proto.Equal(got.GetElectionId(), eid(10)) {
		t.Fatalf("first controller: got %v, want OK with election id 10", got)
	}

	b := openStream(t, tg)
	b.arbitrate(tg.deviceID, "", eid(5))
	if got := b.nextArbitration().GetStatus().GetCode(); got != int32(codes.AlreadyExists) {
		t.Fatalf("backup: got %v, want ALREADY_EXISTS", codes.Code(got))
	}

	// A backup may not write; the primary may (pipeline missing → FAILED_PRECONDITION
	// comes after the primary check, spec §12).
	_, err := tg.client.Write(ctxT(t), &p4v1.WriteRequest{DeviceId: tg.deviceID, ElectionId: eid(5)})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("backup Write: got %v, want PERMISSION_DENIED", err)
	}
	_, err = tg.client.Write(ctxT(t), &p4v1.WriteRequest{DeviceId: tg.deviceID, ElectionId: eid(10)})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("primary Write without pipeline: got %v, want FAILED_PRECONDITION", err)
	}
	_, err = tg.client.Write(ctxT(t), &p4v1.WriteRequest{DeviceId: tg.deviceID})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("Write without election id: got %v, want PERMISSION_DENIED", err)
	}

	// A duplicate election id terminates the stream.
	dup := openStream(t, tg)
	dup.arbitrate(tg.deviceID, "", eid(5))
	if got := dup.closed(); got != codes.InvalidArgument {
		t.Errorf("duplicate election id: stream ended with %v, want INVALID_ARGUMENT", got)
	}
	// An unknown device id terminates the stream.
	unknown := openStream(t, tg)
	unknown.arbitrate(tg.deviceID+1, "", eid(99))
	if bmv2Deviation(t, tg, "arbitration for an unknown device id answers OK") {
	} else if got := unknown.closed(); got != codes.NotFound {
		t.Errorf("unknown device: stream ended with %v, want NOT_FOUND", got)
	}

	// The backup raises its id above the primary's: it becomes primary,
	// the old primary is told ALREADY_EXISTS.
	b.arbitrate(tg.deviceID, "", eid(20))
	if got := b.nextArbitration(); got.GetStatus().GetCode() != int32(codes.OK) || !proto.Equal(got.GetElectionId(), eid(20)) {
		t.Fatalf("promoted backup: got %v, want OK with election id 20", got)
	}
	if got := a.nextArbitration(); got.GetStatus().GetCode() != int32(codes.AlreadyExists) || !proto.Equal(got.GetElectionId(), eid(20)) {
		t.Fatalf("demoted primary: got %v, want ALREADY_EXISTS with election id 20", got)
	}

	// Changing role on a live stream is refused.
	a.arbitrate(tg.deviceID, "other", eid(10))
	if bmv2Deviation(t, tg, "changing the role on a live stream is accepted instead of ending it with FAILED_PRECONDITION") {
		return
	}
	if got := a.closed(); got != codes.FailedPrecondition {
		t.Errorf("role change: stream ended with %v, want FAILED_PRECONDITION", got)
	}

	// The primary leaves: the remaining controllers learn there is no primary.
	c := openStream(t, tg)
	c.arbitrate(tg.deviceID, "", eid(15))
	if got := c.nextArbitration().GetStatus().GetCode(); got != int32(codes.AlreadyExists) {
		t.Fatalf("third controller: got %v, want ALREADY_EXISTS", codes.Code(got))
	}
	b.stream.CloseSend()
	if got := b.closed(); got != codes.OK {
		t.Fatalf("closing primary: %v", got)
	}
	if got := c.nextArbitration(); got.GetStatus().GetCode() != int32(codes.NotFound) || !proto.Equal(got.GetElectionId(), eid(20)) {
		t.Fatalf("after primary left: got %v, want NOT_FOUND with election id 20", got)
	}
	// 15 is below the highest id ever seen (20): still no primary (spec §5).
	_, err = tg.client.Write(ctxT(t), &p4v1.WriteRequest{DeviceId: tg.deviceID, ElectionId: eid(15)})
	if bmv2Deviation(t, tg, "the primary is chosen among connected controllers, not by the highest election id ever seen") {
		return
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("Write from a controller below the highest id: got %v, want PERMISSION_DENIED", err)
	}

	// Roles are independent: a controller of role "other" is primary there.
	r := openStream(t, tg)
	r.arbitrate(tg.deviceID, "other", eid(1))
	if got := r.nextArbitration(); got.GetStatus().GetCode() != int32(codes.OK) || got.GetRole().GetName() != "other" {
		t.Fatalf("role other: got %v, want OK for role other", got)
	}
	// A Write for a role nobody arbitrated for: NOT_FOUND.
	_, err = tg.client.Write(ctxT(t), &p4v1.WriteRequest{DeviceId: tg.deviceID, Role: "nobody", ElectionId: eid(1)})
	if status.Code(err) != codes.NotFound {
		t.Errorf("Write for unknown role: got %v, want NOT_FOUND", err)
	}
	// A Write for an unknown device: NOT_FOUND.
	_, err = tg.client.Write(ctxT(t), &p4v1.WriteRequest{DeviceId: tg.deviceID + 1, ElectionId: eid(1)})
	if status.Code(err) != codes.NotFound {
		t.Errorf("Write for unknown device: got %v, want NOT_FOUND", err)
	}

	// Re-arbitrating with the highest id makes c primary again.
	c.arbitrate(tg.deviceID, "", eid(20))
	if got := c.nextArbitration().GetStatus().GetCode(); got != int32(codes.OK) {
		t.Fatalf("re-arbitration with the highest id: got %v, want OK", codes.Code(got))
	}
}

// Spec §12: every per-update error code, in one CONTINUE_ON_ERROR batch
// each, with OK for the good updates around it.
func testWriteErrorCodes(t *testing.T, tg *target) {
	ready(t, tg)
	tg.mustWrite(t, update(p4v1.Update_INSERT, tg.fwdEntry(1, []byte{1})), update(p4v1.Update_INSERT, tg.fwdEntry(0x0c, []byte{1})))
	mem := func(id uint32) *p4v1.Entity {
		return &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: &p4v1.ActionProfileMember{
			ActionProfileId: tg.pSel, MemberId: id, Action: &p4v1.Action{ActionId: tg.aSetPort, Params: []*p4v1.Action_Param{{ParamId: 1, Value: []byte{2}}}}}}}
	}
	tg.mustWrite(t, update(p4v1.Update_INSERT, mem(1)))
	tg.mustWrite(t, update(p4v1.Update_INSERT, entry(tg.tECMP, 0, &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileMemberId{ActionProfileMemberId: 1}}, exact(1, []byte{1}))))

	// What BMv2 answers where it deviates from the spec.
	bmv2Answers := map[string]struct {
		code codes.Code
		why  string
	}{
		"empty bytestring":                {codes.OK, "an empty bytestring is accepted"},
		"range covering everything":       {codes.OK, "a range match covering every value is accepted instead of requiring it be omitted"},
		"is_const set":                    {codes.OK, "is_const in a written entry is ignored"},
		"missing member":                  {codes.InvalidArgument, "a table entry naming a missing member answers INVALID_ARGUMENT, not NOT_FOUND"},
		"delete member in use":            {codes.Unknown, "deleting a member still in use answers UNKNOWN, not FAILED_PRECONDITION"},
		"counter insert":                  {codes.Unimplemented, "INSERT of a CounterEntry answers UNIMPLEMENTED, not INVALID_ARGUMENT"},
		"counter index out of range":      {codes.Unknown, "a counter index beyond the array answers UNKNOWN, not OUT_OF_RANGE"},
		"direct counter of missing entry": {codes.InvalidArgument, "a DirectCounterEntry of a missing entry answers INVALID_ARGUMENT, not NOT_FOUND"},
		"unknown digest":                  {codes.NotFound, "an unknown digest id answers NOT_FOUND, not INVALID_ARGUMENT"},
	}
	tests := []struct {
		desc string
		u    *p4v1.Update
		want codes.Code
	}{
		{"duplicate insert", update(p4v1.Update_INSERT, tg.fwdEntry(1, []byte{2})), codes.AlreadyExists},
		{"delete missing", update(p4v1.Update_DELETE, tg.fwdEntry(9, nil)), codes.NotFound},
		{"modify missing", update(p4v1.Update_MODIFY, tg.fwdEntry(9, []byte{1})), codes.NotFound},
		{"unknown table id", update(p4v1.Update_INSERT, entry(0x02ffff99, 0, action(tg.aDrop), exact(1, []byte{1}))), codes.InvalidArgument},
		{"unknown match field id", update(p4v1.Update_INSERT, entry(tg.tFwd, 0, action(tg.aDrop), exact(9, []byte{1}))), codes.InvalidArgument},
		{"key wider than field", update(p4v1.Update_INSERT, entry(tg.tFwd, 0, action(tg.aDrop), exact(1, []byte{1, 0, 0, 0, 0, 0, 1}))), codes.InvalidArgument},
		{"empty bytestring", update(p4v1.Update_INSERT, entry(tg.tFwd, 0, action(tg.aDrop), exact(1, nil))), codes.InvalidArgument},
		{"param wider than 9 bits", update(p4v1.Update_INSERT, tg.fwdEntry(2, []byte{0x02, 0x00})), codes.InvalidArgument},
		{"missing param", update(p4v1.Update_INSERT, entry(tg.tFwd, 0, action(tg.aSetPort), exact(1, []byte{3}))), codes.InvalidArgument},
		{"action not in table", update(p4v1.Update_INSERT, entry(tg.tRoute, 0, action(tg.aDrop), lpm(1, []byte{10, 0, 0, 0}, 8))), codes.InvalidArgument},
		{"default-only action in entry", update(p4v1.Update_INSERT, entry(tg.tFwd, 0, action(tg.aNoAction), exact(1, []byte{4}))), codes.PermissionDenied},
		{"missing priority", update(p4v1.Update_INSERT, entry(tg.tACL, 0, action(tg.aDrop), ternary(1, []byte{8, 0}, []byte{0xff, 0xff}))), codes.InvalidArgument},
		{"needless priority", update(p4v1.Update_INSERT, entry(tg.tFwd, 5, action(tg.aDrop), exact(1, []byte{5}))), codes.InvalidArgument},
		{"lpm bits beyond prefix", update(p4v1.Update_INSERT, entry(tg.tRoute, 0, action(tg.aNoAction), lpm(1, []byte{10, 0, 0, 1}, 8))), codes.InvalidArgument},
		{"lpm prefix 0", update(p4v1.Update_INSERT, entry(tg.tRoute, 0, action(tg.aNoAction), lpm(1, []byte{0}, 0))), codes.InvalidArgument},
		{"ternary value outside mask", update(p4v1.Update_INSERT, entry(tg.tACL, 1, action(tg.aDrop), ternary(1, []byte{8, 1}, []byte{0xff, 0}))), codes.InvalidArgument},
		{"ternary zero mask", update(p4v1.Update_INSERT, entry(tg.tACL, 1, action(tg.aDrop), ternary(1, []byte{0}, []byte{0}))), codes.InvalidArgument},
		{"range low above high", update(p4v1.Update_INSERT, entry(tg.tACL, 1, action(tg.aDrop), rangeM(3, []byte{9}, []byte{1}))), codes.InvalidArgument},
		{"range covering everything", update(p4v1.Update_INSERT, entry(tg.tACL, 1, action(tg.aDrop), rangeM(3, []byte{0}, []byte{0x0f, 0xff}))), codes.InvalidArgument},
		{"wrong match kind", update(p4v1.Update_INSERT, entry(tg.tFwd, 0, action(tg.aDrop), lpm(1, []byte{1}, 48))), codes.InvalidArgument},
		{"missing exact field", update(p4v1.Update_INSERT, entry(tg.tFwd, 0, action(tg.aDrop))), codes.InvalidArgument},
		{"insert without action", update(p4v1.Update_INSERT, entry(tg.tFwd, 0, nil, exact(1, []byte{6}))), codes.InvalidArgument},
		{"is_const set", update(p4v1.Update_INSERT, tableEntity(&p4v1.TableEntry{TableId: tg.tFwd, Match: []*p4v1.FieldMatch{exact(1, []byte{7})}, Action: action(tg.aDrop), IsConst: true})), codes.InvalidArgument},
		{"insert default entry", update(p4v1.Update_INSERT, tableEntity(&p4v1.TableEntry{TableId: tg.tFwd, IsDefaultAction: true, Action: action(tg.aDrop)})), codes.InvalidArgument},
		{"modify const default", update(p4v1.Update_MODIFY, tableEntity(&p4v1.TableEntry{TableId: tg.tACL, IsDefaultAction: true, Action: action(tg.aDrop)})), codes.PermissionDenied},
		{"table-only action as default", update(p4v1.Update_MODIFY, tableEntity(&p4v1.TableEntry{TableId: tg.tFwd, IsDefaultAction: true, Action: action(tg.aDrop)})), codes.PermissionDenied},
		{"default entry with a match", update(p4v1.Update_MODIFY, tableEntity(&p4v1.TableEntry{TableId: tg.tFwd, IsDefaultAction: true, Match: []*p4v1.FieldMatch{exact(1, []byte{1})}, Action: action(tg.aSetPort, []byte{1})})), codes.InvalidArgument},
		{"default entry set", update(p4v1.Update_MODIFY, tableEntity(&p4v1.TableEntry{TableId: tg.tFwd, IsDefaultAction: true, Action: action(tg.aSetPort, []byte{1})})), codes.OK},
		{"direct action on indirect table", update(p4v1.Update_INSERT, entry(tg.tECMP, 0, action(tg.aNoAction), exact(1, []byte{2}))), codes.InvalidArgument},
		{"missing member", update(p4v1.Update_INSERT, entry(tg.tECMP, 0, &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileMemberId{ActionProfileMemberId: 42}}, exact(1, []byte{2}))), codes.NotFound},
		{"duplicate member", update(p4v1.Update_INSERT, mem(1)), codes.AlreadyExists},
		{"delete member in use", update(p4v1.Update_DELETE, mem(1)), codes.FailedPrecondition},
		{"group with missing member", update(p4v1.Update_INSERT, &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileGroup{ActionProfileGroup: &p4v1.ActionProfileGroup{ActionProfileId: tg.pSel, GroupId: 1, Members: []*p4v1.ActionProfileGroup_Member{{MemberId: 77, Weight: 1}}}}}), codes.NotFound},
		{"group max_size above max_group_size", update(p4v1.Update_INSERT, &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileGroup{ActionProfileGroup: &p4v1.ActionProfileGroup{ActionProfileId: tg.pSel, GroupId: 1, MaxSize: 5}}}), codes.InvalidArgument},
		{"multicast group 0", update(p4v1.Update_INSERT, preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: &p4v1.MulticastGroupEntry{}}})), codes.InvalidArgument},
		{"delete missing multicast group", update(p4v1.Update_DELETE, preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: &p4v1.MulticastGroupEntry{MulticastGroupId: 3}}})), codes.NotFound},
		{"counter insert", update(p4v1.Update_INSERT, &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: tg.cPort}}}), codes.InvalidArgument},
		{"counter index out of range", update(p4v1.Update_MODIFY, &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: tg.cPort, Index: &p4v1.Index{Index: 8}, Data: &p4v1.CounterData{}}}}), codes.OutOfRange},
		{"direct counter of missing entry", update(p4v1.Update_MODIFY, &p4v1.Entity{Entity: &p4v1.Entity_DirectCounterEntry{DirectCounterEntry: &p4v1.DirectCounterEntry{TableEntry: &p4v1.TableEntry{TableId: tg.tFwd, Match: []*p4v1.FieldMatch{exact(1, []byte{9})}}, Data: &p4v1.CounterData{}}}}), codes.NotFound},
		{"digest modify before insert", update(p4v1.Update_MODIFY, &p4v1.Entity{Entity: &p4v1.Entity_DigestEntry{DigestEntry: &p4v1.DigestEntry{DigestId: tg.dMacLearn, Config: &p4v1.DigestEntry_Config{}}}}), codes.NotFound},
		{"unknown digest", update(p4v1.Update_INSERT, &p4v1.Entity{Entity: &p4v1.Entity_DigestEntry{DigestEntry: &p4v1.DigestEntry{DigestId: 0x18ffff99, Config: &p4v1.DigestEntry_Config{}}}}), codes.InvalidArgument},
		{"delete ignores non-key fields", update(p4v1.Update_DELETE, tableEntity(&p4v1.TableEntry{TableId: tg.tFwd, Match: []*p4v1.FieldMatch{exact(1, []byte{0x0a, 0, 0, 0, 0, 0x0c})}, Action: action(0x01ffff99), IdleTimeoutNs: 5, CounterData: &p4v1.CounterData{}})), codes.OK},
		{"idle timeout on a table without it", update(p4v1.Update_INSERT, tableEntity(&p4v1.TableEntry{TableId: tg.tFwd, Match: []*p4v1.FieldMatch{exact(1, []byte{8})}, Action: action(tg.aDrop), IdleTimeoutNs: 1e9})), codes.InvalidArgument},
		{"update type unspecified", update(p4v1.Update_UNSPECIFIED, tg.fwdEntry(1, []byte{1})), codes.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			// The good update after the bad one must still be applied.
			good := update(p4v1.Update_INSERT, &p4v1.Entity{Entity: &p4v1.Entity_PacketReplicationEngineEntry{PacketReplicationEngineEntry: &p4v1.PacketReplicationEngineEntry{
				Type: &p4v1.PacketReplicationEngineEntry_CloneSessionEntry{CloneSessionEntry: &p4v1.CloneSessionEntry{SessionId: 100, Replicas: []*p4v1.Replica{{PortKind: &p4v1.Replica_Port{Port: []byte{1}}}}}}}}})
			got, err := tg.write(t, tc.u, good)
			if err != nil {
				t.Fatalf("Write: RPC-wide error %v", err)
			}
			if a, ok := bmv2Answers[tc.desc]; ok && bmv2Deviation(t, tg, a.why) {
				tc.want = a.code
			}
			want := []codes.Code{tc.want, codes.OK}
			if tc.want == codes.OK {
				want = nil
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("per-update codes (-want +got):\n%s", diff)
			}
			tg.mustWrite(t, update(p4v1.Update_DELETE, good.GetEntity()))
		})
	}

	// Filling a table of size 4: RESOURCE_EXHAUSTED for the entry too many.
	present, err := tg.read(t, tableEntity(&p4v1.TableEntry{TableId: tg.tFwd}))
	if err != nil {
		t.Fatal(err)
	}
	var fill []*p4v1.Update
	var want []codes.Code
	for i := len(present); i <= 4; i++ {
		fill = append(fill, update(p4v1.Update_INSERT, tg.fwdEntry(byte(0x20+i), []byte{1})))
		want = append(want, codes.OK)
	}
	want[len(want)-1] = codes.ResourceExhausted
	if bmv2Deviation(t, tg, "inserting into a full table answers UNKNOWN, not RESOURCE_EXHAUSTED") {
		want[len(want)-1] = codes.Unknown
	}
	got, err := tg.write(t, fill...)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("filling a table (-want +got):\n%s", diff)
	}
	// DATAPLANE_ATOMIC is refused as a whole.
	_, err = tg.client.Write(ctxT(t), &p4v1.WriteRequest{DeviceId: tg.deviceID, ElectionId: eid(1000), Atomicity: p4v1.WriteRequest_DATAPLANE_ATOMIC})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("DATAPLANE_ATOMIC: got %v, want UNIMPLEMENTED", err)
	}
}

// Spec §12.2: ROLLBACK_ON_ERROR is all or nothing.
func testWriteRollback(t *testing.T, tg *target) {
	ready(t, tg)
	if tg.name == "bmv2" {
		t.Skip("BMv2 (PI) supports only CONTINUE_ON_ERROR")
	}
	before := []*p4v1.Update{
		update(p4v1.Update_INSERT, tg.fwdEntry(1, []byte{1})),
		update(p4v1.Update_INSERT, tg.fwdEntry(2, []byte{2})),
		update(p4v1.Update_MODIFY, &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: tg.cPort, Index: &p4v1.Index{Index: 1}, Data: &p4v1.CounterData{PacketCount: 5}}}}),
	}
	tg.mustWrite(t, before...)
	queries := []*p4v1.Entity{tableEntity(&p4v1.TableEntry{}), {Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: tg.cPort, Index: &p4v1.Index{Index: 1}}}},
		preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: &p4v1.MulticastGroupEntry{}}})}
	want, err := tg.read(t, queries...)
	if err != nil {
		t.Fatal(err)
	}
	batch := []*p4v1.Update{
		update(p4v1.Update_DELETE, tg.fwdEntry(1, nil)),
		update(p4v1.Update_MODIFY, tg.fwdEntry(2, []byte{7})),
		update(p4v1.Update_INSERT, tg.fwdEntry(3, []byte{3})),
		update(p4v1.Update_MODIFY, &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: tg.cPort, Data: &p4v1.CounterData{PacketCount: 9}}}}),
		update(p4v1.Update_INSERT, preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: &p4v1.MulticastGroupEntry{MulticastGroupId: 4, Replicas: []*p4v1.Replica{{PortKind: &p4v1.Replica_Port{Port: []byte{1}}}}}}})),
		update(p4v1.Update_INSERT, tg.fwdEntry(2, []byte{1})), // fails: exists
		update(p4v1.Update_INSERT, tg.fwdEntry(4, []byte{4})),
	}
	_, err = tg.client.Write(ctxT(t), &p4v1.WriteRequest{DeviceId: tg.deviceID, ElectionId: eid(1000), Atomicity: p4v1.WriteRequest_ROLLBACK_ON_ERROR, Updates: batch})
	got, cerr := updateCodes(err)
	if cerr != nil {
		t.Fatal(cerr)
	}
	a := codes.Aborted
	if diff := cmp.Diff([]codes.Code{a, a, a, a, a, codes.AlreadyExists, a}, got); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
	after, err := tg.read(t, queries...)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, after, protocmp.Transform(), cmpopts.SortSlices(entityLess)); diff != "" {
		t.Errorf("state after a rolled-back batch (-before +after):\n%s", diff)
	}
	// Without a failure the batch applies.
	tg.mustWrite(t, batch[:5]...)
	after, _ = tg.read(t, tableEntity(&p4v1.TableEntry{}))
	if after = written(after); len(after) != 2 {
		t.Errorf("after a good batch: %d entries, want 2", len(after))
	}
}

// Spec §8.3: read-write symmetry for every entity kind, including wildcard reads.
func testReadBackEqualsWritten(t *testing.T, tg *target) {
	ready(t, tg)
	member := &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: &p4v1.ActionProfileMember{
		ActionProfileId: tg.pSel, MemberId: 3, Action: &p4v1.Action{ActionId: tg.aSetPort, Params: []*p4v1.Action_Param{{ParamId: 1, Value: []byte{4}}}}}}}
	group := &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileGroup{ActionProfileGroup: &p4v1.ActionProfileGroup{
		ActionProfileId: tg.pSel, GroupId: 9, MaxSize: 4, Members: []*p4v1.ActionProfileGroup_Member{{MemberId: 3, Weight: 1}}}}}
	entities := []*p4v1.Entity{
		tg.fwdEntry(1, []byte{1}),
		withControllerMetadata(tableEntity(&p4v1.TableEntry{TableId: tg.tFwd, Match: []*p4v1.FieldMatch{exact(1, []byte{0x0a, 0, 0, 0, 0, 2})}, Action: action(tg.aDrop), Metadata: []byte("cookie")}), 77),
		entry(tg.tACL, 10, action(tg.aSetPort, []byte{1, 0xff}), ternary(1, []byte{8, 0}, []byte{0xff, 0xff}), lpm(2, []byte{10, 1, 0, 0}, 16), rangeM(3, []byte{1}, []byte{0x0a}), optional(4, []byte{3})),
		entry(tg.tACL, 20, action(tg.aDrop), optional(4, []byte{0})),
		entry(tg.tRoute, 0, action(tg.aSetPort, []byte{7}), lpm(1, []byte{192, 168, 0, 0}, 16)),
		member, group,
		entry(tg.tECMP, 0, &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileGroupId{ActionProfileGroupId: 9}}, exact(1, []byte{0x01, 0x23})),
		preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: &p4v1.MulticastGroupEntry{
			MulticastGroupId: 5, Replicas: []*p4v1.Replica{{PortKind: &p4v1.Replica_Port{Port: []byte{1}}, Instance: 1}, {PortKind: &p4v1.Replica_Port{Port: []byte{2}}, Instance: 1}}, Metadata: []byte("bd5")}}}),
		preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: &p4v1.MulticastGroupEntry{
			MulticastGroupId: 6, Replicas: []*p4v1.Replica{{PortKind: newReplicaEgressPort(3)}}}}}),
		preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_CloneSessionEntry{CloneSessionEntry: &p4v1.CloneSessionEntry{
			SessionId: 2, Replicas: []*p4v1.Replica{{PortKind: &p4v1.Replica_Port{Port: []byte{0x01, 0x00}}}}, ClassOfService: 1, PacketLengthBytes: 128}}}),
		{Entity: &p4v1.Entity_DigestEntry{DigestEntry: &p4v1.DigestEntry{DigestId: tg.dMacLearn, Config: &p4v1.DigestEntry_Config{MaxTimeoutNs: 1e6, MaxListSize: 10, AckTimeoutNs: 1e9}}}},
	}
	if bmv2Deviation(t, tg, "a clone session with class_of_service or packet_length_bytes answers UNIMPLEMENTED") {
		cs := entities[10].GetPacketReplicationEngineEntry().GetCloneSessionEntry()
		cs.ClassOfService, cs.PacketLengthBytes = 0, 0
	}
	// One write each: members and groups must exist before the entries
	// using them.
	for i, e := range entities {
		if got, err := tg.write(t, update(p4v1.Update_INSERT, e)); err != nil || got != nil {
			t.Fatalf("writing entity %d (%v): %v, %v", i, e, got, err)
		}
	}
	queries := []*p4v1.Entity{
		tableEntity(&p4v1.TableEntry{}),
		{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: &p4v1.ActionProfileMember{}}},
		{Entity: &p4v1.Entity_ActionProfileGroup{ActionProfileGroup: &p4v1.ActionProfileGroup{}}},
		preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: &p4v1.MulticastGroupEntry{}}}),
		preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_CloneSessionEntry{CloneSessionEntry: &p4v1.CloneSessionEntry{}}}),
		{Entity: &p4v1.Entity_DigestEntry{DigestEntry: &p4v1.DigestEntry{}}},
	}
	if bmv2Deviation(t, tg, "a wildcard DigestEntry read answers UNIMPLEMENTED (\"digest_id must be set\")") {
		queries[len(queries)-1] = &p4v1.Entity{Entity: &p4v1.Entity_DigestEntry{DigestEntry: &p4v1.DigestEntry{DigestId: tg.dMacLearn}}}
	}
	got, err := tg.read(t, queries...)
	if err != nil {
		t.Fatal(err)
	}
	if bmv2Deviation(t, tg, "omitted range fields read back as full ranges; multicast group metadata is not returned") {
		got = dropFullRanges(got)
		entities[8].GetPacketReplicationEngineEntry().GetMulticastGroupEntry().Metadata = nil
	}
	if diff := cmp.Diff(entities, written(got), protocmp.Transform(), cmpopts.SortSlices(entityLess)); diff != "" {
		t.Errorf("wildcard read-back (-written +read):\n%s", diff)
	}
	// A specific read returns exactly one entry.
	got, err = tg.read(t, tableEntity(&p4v1.TableEntry{TableId: tg.tACL, Priority: 20, Match: []*p4v1.FieldMatch{optional(4, []byte{0})}}))
	if err != nil {
		t.Fatal(err)
	}
	if tg.name == "bmv2" {
		got = dropFullRanges(got)
	}
	if diff := cmp.Diff([]*p4v1.Entity{entities[3]}, got, protocmp.Transform()); diff != "" {
		t.Errorf("specific read (-want +got):\n%s", diff)
	}
	// Filtering by priority and by action.
	if !bmv2Deviation(t, tg, "wildcard reads ignore the priority and action filters") {
		got, _ = tg.read(t, tableEntity(&p4v1.TableEntry{TableId: tg.tACL, Priority: 10}))
		if diff := cmp.Diff([]*p4v1.Entity{entities[2]}, got, protocmp.Transform()); diff != "" {
			t.Errorf("read by priority (-want +got):\n%s", diff)
		}
		got, _ = tg.read(t, tableEntity(&p4v1.TableEntry{TableId: tg.tFwd, Action: action(tg.aDrop)}))
		if diff := cmp.Diff([]*p4v1.Entity{entities[1]}, got, protocmp.Transform()); diff != "" {
			t.Errorf("read by action (-want +got):\n%s", diff)
		}
	}
	// The default entry: the program's until modified, then what was written.
	got, _ = tg.read(t, tableEntity(&p4v1.TableEntry{TableId: tg.tRoute, IsDefaultAction: true}))
	if diff := cmp.Diff([]*p4v1.Entity{tableEntity(&p4v1.TableEntry{TableId: tg.tRoute, IsDefaultAction: true, Action: action(tg.aSetPort, []byte{3})})}, got, protocmp.Transform()); diff != "" {
		t.Errorf("program default entry (-want +got):\n%s", diff)
	}
	def := tableEntity(&p4v1.TableEntry{TableId: tg.tRoute, IsDefaultAction: true, Action: action(tg.aNoAction)})
	tg.mustWrite(t, update(p4v1.Update_MODIFY, def))
	got, _ = tg.read(t, tableEntity(&p4v1.TableEntry{TableId: tg.tRoute, IsDefaultAction: true}))
	if diff := cmp.Diff([]*p4v1.Entity{def}, got, protocmp.Transform()); diff != "" {
		t.Errorf("modified default entry (-want +got):\n%s", diff)
	}
	// Counters: direct through the entry and DirectCounterEntry, indirect by index.
	dc := &p4v1.Entity{Entity: &p4v1.Entity_DirectCounterEntry{DirectCounterEntry: &p4v1.DirectCounterEntry{
		TableEntry: &p4v1.TableEntry{TableId: tg.tFwd, Match: []*p4v1.FieldMatch{exact(1, []byte{0x0a, 0, 0, 0, 0, 1})}}, Data: &p4v1.CounterData{ByteCount: 640, PacketCount: 10}}}}
	tg.mustWrite(t, update(p4v1.Update_MODIFY, dc))
	got, err = tg.read(t, &p4v1.Entity{Entity: &p4v1.Entity_DirectCounterEntry{DirectCounterEntry: &p4v1.DirectCounterEntry{TableEntry: dc.GetDirectCounterEntry().GetTableEntry()}}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*p4v1.Entity{dc}, got, protocmp.Transform()); diff != "" {
		t.Errorf("direct counter (-want +got):\n%s", diff)
	}
	withCounter := proto.Clone(entities[0]).(*p4v1.Entity)
	withCounter.GetTableEntry().CounterData = &p4v1.CounterData{ByteCount: 640, PacketCount: 10}
	got, _ = tg.read(t, tableEntity(&p4v1.TableEntry{TableId: tg.tFwd, Match: withCounter.GetTableEntry().GetMatch(), CounterData: &p4v1.CounterData{}}))
	if diff := cmp.Diff([]*p4v1.Entity{withCounter}, got, protocmp.Transform()); diff != "" {
		t.Errorf("entry with counter data (-want +got):\n%s", diff)
	}
	cell := &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: tg.cPort, Index: &p4v1.Index{Index: 3}, Data: &p4v1.CounterData{ByteCount: 1, PacketCount: 2}}}}
	tg.mustWrite(t, update(p4v1.Update_MODIFY, cell))
	got, _ = tg.read(t, &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: tg.cPort, Index: &p4v1.Index{Index: 3}}}})
	if diff := cmp.Diff([]*p4v1.Entity{cell}, got, protocmp.Transform()); diff != "" {
		t.Errorf("counter cell (-want +got):\n%s", diff)
	}
	got, _ = tg.read(t, &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: tg.cPort}}})
	if len(got) != 8 {
		t.Errorf("wildcard counter read: %d cells, want 8", len(got))
	}

	// A batch read with a bad element: UNKNOWN with one p4.v1.Error per element.
	_, err = tg.read(t, tableEntity(&p4v1.TableEntry{TableId: tg.tRoute}), tableEntity(&p4v1.TableEntry{TableId: 0x02ffff99}))
	if status.Code(err) == codes.InvalidArgument && bmv2Deviation(t, tg, "a read batch with one bad element fails as a whole with INVALID_ARGUMENT, without per-element errors") {
	} else {
		codesGot, rerr := updateCodes(err)
		if rerr != nil {
			t.Fatalf("read batch error: %v", rerr)
		}
		if diff := cmp.Diff([]codes.Code{codes.OK, codes.InvalidArgument}, codesGot); diff != "" {
			t.Errorf("read batch codes (-want +got):\n%s", diff)
		}
	}

	// Delete everything; reads come back empty.
	for i := len(entities) - 1; i >= 0; i-- {
		tg.mustWrite(t, update(p4v1.Update_DELETE, entities[i]))
	}
	got, err = tg.read(t, queries...)
	if status.Code(err) == codes.NotFound && bmv2Deviation(t, tg, "reading an unconfigured digest by id answers NOT_FOUND rather than nothing") {
		got, err = tg.read(t, queries[:len(queries)-1]...)
	}
	if got = written(got); err != nil || len(got) != 0 {
		t.Errorf("after deleting everything: read %d entities, err %v; want none", len(got), err)
	}
}

// entityLess orders entities for comparison.
func entityLess(a, b *p4v1.Entity) bool {
	ka, _ := proto.MarshalOptions{Deterministic: true}.Marshal(a)
	kb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(b)
	return string(ka) < string(kb)
}

// Spec §8.4: the server accepts any bytestring whose value fits and returns
// the canonical (shortest) form.
func testCanonicalBytestrings(t *testing.T, tg *target) {
	ready(t, tg)
	tests := []struct {
		desc    string
		written *p4v1.Entity
		want    *p4v1.Entity
		wantErr codes.Code
	}{
		{desc: "padded key and param", written: entry(tg.tFwd, 0, action(tg.aSetPort, []byte{0, 0, 5}), exact(1, []byte{0, 0, 0, 0, 0, 0, 0, 9})),
			want: entry(tg.tFwd, 0, action(tg.aSetPort, []byte{5}), exact(1, []byte{9}))},
		{desc: "zero", written: entry(tg.tFwd, 0, action(tg.aSetPort, []byte{0, 0}), exact(1, []byte{0, 0, 0, 0, 0, 0})),
			want: entry(tg.tFwd, 0, action(tg.aSetPort, []byte{0}), exact(1, []byte{0}))},
		{desc: "padded ternary", written: entry(tg.tACL, 1, action(tg.aDrop), ternary(1, []byte{0, 0, 8}, []byte{0, 0xff, 0xff})),
			want: entry(tg.tACL, 1, action(tg.aDrop), ternary(1, []byte{8}, []byte{0xff, 0xff}))},
		{desc: "bit<12> too wide", written: entry(tg.tACL, 1, action(tg.aDrop), optional(4, []byte{0x10, 0x00})), wantErr: codes.InvalidArgument},
		{desc: "bit<9> fits in two bytes", written: entry(tg.tFwd, 0, action(tg.aSetPort, []byte{1, 0xff}), exact(1, []byte{0x0b})),
			want: entry(tg.tFwd, 0, action(tg.aSetPort, []byte{1, 0xff}), exact(1, []byte{0x0b}))},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := tg.write(t, update(p4v1.Update_INSERT, tc.written))
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != codes.OK {
				if diff := cmp.Diff([]codes.Code{tc.wantErr}, got); diff != "" {
					t.Errorf("codes (-want +got):\n%s", diff)
				}
				return
			}
			if got != nil {
				t.Fatalf("write failed: %v", got)
			}
			read, err := tg.read(t, tc.written)
			if err != nil {
				t.Fatal(err)
			}
			if tc.written.GetTableEntry().GetTableId() == tg.tACL && bmv2Deviation(t, tg, "reads return an omitted (don't-care) range field as an explicit full range") {
				read = dropFullRanges(read)
			}
			if diff := cmp.Diff([]*p4v1.Entity{tc.want}, read, protocmp.Transform()); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
			tg.mustWrite(t, update(p4v1.Update_DELETE, tc.written))
		})
	}
}

// Spec §15, §16: pipeline set, verify, save/commit, replace, get.
func testPipelineConfig(t *testing.T, tg *target) {
	primary(t, tg)
	_, err := tg.read(t, tableEntity(&p4v1.TableEntry{}))
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("read before a pipeline: got %v, want FAILED_PRECONDITION", err)
	}
	got, err := tg.client.GetForwardingPipelineConfig(ctxT(t), &p4v1.GetForwardingPipelineConfigRequest{DeviceId: tg.deviceID})
	if status.Code(err) == codes.FailedPrecondition && bmv2Deviation(t, tg, "GetForwardingPipelineConfig before a pipeline answers FAILED_PRECONDITION, not an unset config") {
	} else if err != nil || got.GetConfig() != nil {
		t.Errorf("get before a pipeline: %v, %v; want no config", got, err)
	}

	bad := func(mut func(c *p4v1.ForwardingPipelineConfig)) *p4v1.ForwardingPipelineConfig {
		c := proto.Clone(tg.pipelineConfig(1)).(*p4v1.ForwardingPipelineConfig)
		mut(c)
		return c
	}
	refused := []struct {
		desc     string
		cfg      *p4v1.ForwardingPipelineConfig
		mismatch bool // P4Info inconsistent with the JSON (BMv2 accepts these)
	}{
		{"no config", nil, false},
		{"bad device config", bad(func(c *p4v1.ForwardingPipelineConfig) { c.P4DeviceConfig = []byte("{not json") }), false},
		{"no p4info", bad(func(c *p4v1.ForwardingPipelineConfig) { c.P4Info = nil }), false},
		{"table missing from the device config", bad(func(c *p4v1.ForwardingPipelineConfig) { c.P4Info.Tables[0].Preamble.Name = "ingress.nope" }), true},
		{"key width differs", bad(func(c *p4v1.ForwardingPipelineConfig) { c.P4Info.Tables[0].MatchFields[0].Bitwidth = 32 }), true},
		{"param width differs", bad(func(c *p4v1.ForwardingPipelineConfig) {
			actionNamed(c.P4Info, "ingress.set_port").Params[0].Bitwidth = 16
		}), true},
		{"duplicate id", bad(func(c *p4v1.ForwardingPipelineConfig) {
			c.P4Info.Tables[1].Preamble.Id = c.P4Info.Tables[0].Preamble.Id
		}), true},
		{"id with the wrong prefix", bad(func(c *p4v1.ForwardingPipelineConfig) { actionNamed(c.P4Info, "ingress.drop").Preamble.Id = 0x02000077 }), true},
	}
	for _, tc := range refused {
		t.Run(tc.desc, func(t *testing.T) {
			if tc.mismatch && bmv2Deviation(t, tg, "a P4Info that does not match the JSON is accepted") {
				return
			}
			if bmv2Deviation(t, tg, "VERIFY accepts any config, even none or a bad JSON; VERIFY_AND_COMMIT of one answers OK or UNKNOWN, not INVALID_ARGUMENT") {
				return
			}
			for _, action := range []p4v1.SetForwardingPipelineConfigRequest_Action{p4v1.SetForwardingPipelineConfigRequest_VERIFY, p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT} {
				if err := tg.setPipeline(t, action, tc.cfg); status.Code(err) != codes.InvalidArgument {
					t.Errorf("%v: got %v, want INVALID_ARGUMENT", action, err)
				}
			}
		})
	}
	if err := tg.setPipeline(t, p4v1.SetForwardingPipelineConfigRequest_COMMIT, nil); status.Code(err) != codes.NotFound && bmv2Deviation(t, tg, "COMMIT without a saved config answers OK or UNKNOWN, not NOT_FOUND") {
	} else if status.Code(err) != codes.NotFound {
		t.Errorf("COMMIT without a saved config: got %v, want NOT_FOUND", err)
	}
	if err := tg.setPipeline(t, p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT, tg.pipelineConfig(1)); err != nil {
		t.Fatal(err)
	}
	tg.mustWrite(t, update(p4v1.Update_INSERT, tg.fwdEntry(1, []byte{1})))

	// A refused config leaves the running pipeline and its state alone.
	if bmv2Deviation(t, tg, "a P4Info that does not match the JSON is accepted") {
		return
	}
	if err := tg.setPipeline(t, p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT, refused[3].cfg); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad replace: %v", err)
	}
	if got, err := tg.read(t, tableEntity(&p4v1.TableEntry{})); err != nil || len(written(got)) != 1 {
		t.Errorf("after a refused replace: %d entries, %v; want the 1 entry", len(got), err)
	}

	for _, tc := range []struct {
		rt   p4v1.GetForwardingPipelineConfigRequest_ResponseType
		want *p4v1.ForwardingPipelineConfig
	}{
		{p4v1.GetForwardingPipelineConfigRequest_ALL, tg.pipelineConfig(1)},
		{p4v1.GetForwardingPipelineConfigRequest_COOKIE_ONLY, &p4v1.ForwardingPipelineConfig{Cookie: &p4v1.ForwardingPipelineConfig_Cookie{Cookie: 1}}},
		{p4v1.GetForwardingPipelineConfigRequest_P4INFO_AND_COOKIE, &p4v1.ForwardingPipelineConfig{P4Info: tg.info, Cookie: &p4v1.ForwardingPipelineConfig_Cookie{Cookie: 1}}},
		{p4v1.GetForwardingPipelineConfigRequest_DEVICE_CONFIG_AND_COOKIE, &p4v1.ForwardingPipelineConfig{P4DeviceConfig: tg.config, Cookie: &p4v1.ForwardingPipelineConfig_Cookie{Cookie: 1}}},
	} {
		got, err := tg.client.GetForwardingPipelineConfig(ctxT(t), &p4v1.GetForwardingPipelineConfigRequest{DeviceId: tg.deviceID, ResponseType: tc.rt})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got.GetConfig(), protocmp.Transform()); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tc.rt, diff)
		}
	}

	// VERIFY_AND_SAVE: writes go to the saved pipeline; COMMIT replays them
	// into the device and clears what was there.
	if err := tg.setPipeline(t, p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_SAVE, tg.pipelineConfig(2)); err != nil {
		t.Fatal(err)
	}
	tg.mustWrite(t, update(p4v1.Update_INSERT, tg.fwdEntry(2, []byte{2})))
	if tg.fake != nil {
		if n := len(tg.fake.entries["ingress.fwd"]); n != 1 {
			t.Errorf("before COMMIT the device has %d entries, want the old 1", n)
		}
	}
	if err := tg.setPipeline(t, p4v1.SetForwardingPipelineConfigRequest_COMMIT, nil); err != nil {
		t.Fatal(err)
	}
	got2, err := tg.read(t, tableEntity(&p4v1.TableEntry{}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*p4v1.Entity{tg.fwdEntry(2, []byte{2})}, written(got2), protocmp.Transform()); diff != "" {
		t.Errorf("after COMMIT (-want +got):\n%s", diff)
	}
	if tg.fake != nil && len(tg.fake.entries["ingress.fwd"]) != 1 {
		t.Errorf("device after COMMIT: %v, want the replayed entry", tg.fake.entries)
	}
	cookie, _ := tg.client.GetForwardingPipelineConfig(ctxT(t), &p4v1.GetForwardingPipelineConfigRequest{DeviceId: tg.deviceID, ResponseType: p4v1.GetForwardingPipelineConfigRequest_COOKIE_ONLY})
	if cookie.GetConfig().GetCookie().GetCookie() != 2 {
		t.Errorf("cookie after COMMIT: %v, want 2", cookie)
	}

	// VERIFY_AND_COMMIT replaces the pipeline and clears its state.
	if err := tg.setPipeline(t, p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT, tg.pipelineConfig(3)); err != nil {
		t.Fatal(err)
	}
	if got, err := tg.read(t, tableEntity(&p4v1.TableEntry{})); err != nil || len(written(got)) != 0 {
		t.Errorf("after replace: %d entries, %v; want none", len(got), err)
	}
	// A backup may not set the pipeline.
	_, err = tg.client.SetForwardingPipelineConfig(ctxT(t), &p4v1.SetForwardingPipelineConfigRequest{DeviceId: tg.deviceID, ElectionId: eid(1),
		Action: p4v1.SetForwardingPipelineConfigRequest_VERIFY, Config: tg.pipelineConfig(1)})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("non-primary set: got %v, want PERMISSION_DENIED", err)
	}
	caps, err := tg.client.Capabilities(ctxT(t), &p4v1.CapabilitiesRequest{})
	if err == nil && caps.GetP4RuntimeApiVersion() == "1.3.0" && bmv2Deviation(t, tg, "Capabilities reports 1.3.0 whatever the protos") {
	} else if err != nil || caps.GetP4RuntimeApiVersion() != "1.5.0" {
		t.Errorf("Capabilities: %v, %v; want 1.5.0", caps, err)
	}
}

// Spec §9.8: digest lists honour max_list_size, max_timeout_ns, and the ack cache.
func testDigests(t *testing.T, tg *target) {
	s := ready(t, tg)
	cfg := &p4v1.DigestEntry_Config{MaxTimeoutNs: int64(time.Hour), MaxListSize: 2, AckTimeoutNs: int64(time.Hour)}
	tg.mustWrite(t, update(p4v1.Update_INSERT, &p4v1.Entity{Entity: &p4v1.Entity_DigestEntry{DigestEntry: &p4v1.DigestEntry{DigestId: tg.dMacLearn, Config: cfg}}}))
	digest := func(mac, port byte) { tg.raiseDigest(s, mac, port) }
	want := func(mac, port byte) *p4v1.P4Data {
		return &p4v1.P4Data{Data: &p4v1.P4Data_Struct{Struct: &p4v1.P4StructLike{Members: []*p4v1.P4Data{
			{Data: &p4v1.P4Data_Bitstring{Bitstring: []byte{mac}}}, {Data: &p4v1.P4Data_Bitstring{Bitstring: []byte{port}}}}}}}
	}
	nextDigest := func() *p4v1.DigestList {
		t.Helper()
		for {
			if d := s.next().GetDigest(); d != nil {
				return d
			}
		}
	}
	// Two distinct messages (and a duplicate) make one list of two.
	digest(1, 1)
	digest(1, 1)
	digest(2, 1)
	l1 := nextDigest()
	if diff := cmp.Diff([]*p4v1.P4Data{want(1, 1), want(2, 1)}, l1.GetData(), protocmp.Transform()); diff != "" {
		t.Errorf("first list (-want +got):\n%s", diff)
	}
	if bmv2Deviation(t, tg, "while a list is unacknowledged, a second list of max_list_size new messages is not delivered (seen with max_list_size 2, max_timeout_ns 1h)") {
		return
	}
	// Unacknowledged messages are suppressed; new ones still flow.
	digest(1, 1)
	digest(3, 1)
	digest(4, 1)
	l2 := nextDigest()
	if diff := cmp.Diff([]*p4v1.P4Data{want(3, 1), want(4, 1)}, l2.GetData(), protocmp.Transform()); diff != "" {
		t.Errorf("second list (-want +got):\n%s", diff)
	}
	if l2.GetListId() == l1.GetListId() {
		t.Errorf("list ids repeat: %d", l2.GetListId())
	}
	// After the ack, the first list's messages can be raised again.
	if err := s.stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_DigestAck{DigestAck: &p4v1.DigestListAck{DigestId: tg.dMacLearn, ListId: l1.GetListId()}}}); err != nil {
		t.Fatal(err)
	}
	// The ack is processed in order with later digests by one goroutine only
	// after it reaches the server: a packet-out round trip orders them.
	roundTrip(t, tg, s)
	digest(1, 1)
	digest(2, 1)
	l3 := nextDigest()
	if diff := cmp.Diff([]*p4v1.P4Data{want(1, 1), want(2, 1)}, l3.GetData(), protocmp.Transform()); diff != "" {
		t.Errorf("list after ack (-want +got):\n%s", diff)
	}

	// max_timeout: a lone message goes out after the timeout; an ack timeout
	// of zero caches nothing, so a repeat goes out again.
	cfg = &p4v1.DigestEntry_Config{MaxTimeoutNs: int64(time.Millisecond), MaxListSize: 100}
	tg.mustWrite(t, update(p4v1.Update_MODIFY, &p4v1.Entity{Entity: &p4v1.Entity_DigestEntry{DigestEntry: &p4v1.DigestEntry{DigestId: tg.dMacLearn, Config: cfg}}}))
	digest(9, 2)
	if diff := cmp.Diff([]*p4v1.P4Data{want(9, 2)}, nextDigest().GetData(), protocmp.Transform()); diff != "" {
		t.Errorf("list by timeout (-want +got):\n%s", diff)
	}
	digest(9, 2)
	if diff := cmp.Diff([]*p4v1.P4Data{want(9, 2)}, nextDigest().GetData(), protocmp.Transform()); diff != "" {
		t.Errorf("repeat with ack timeout 0 (-want +got):\n%s", diff)
	}
	// An ack for an unknown digest is a stream error.
	if err := s.stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_DigestAck{DigestAck: &p4v1.DigestListAck{DigestId: 12345, ListId: 1}}}); err != nil {
		t.Fatal(err)
	}
	for {
		m := s.next()
		if e := m.GetError(); e != nil {
			if e.GetCanonicalCode() != int32(codes.InvalidArgument) || e.GetDigestListAck() == nil {
				t.Errorf("stream error %v, want INVALID_ARGUMENT for the digest ack", e)
			}
			break
		}
	}
}

// syncFrame is an Ethernet frame (ethertype 0x9000, loopback) of 60 bytes.
var syncFrame = append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x90, 0x00}, make([]byte, 46)...)

// syncPort is the packet_out egress_port of roundTrip: 0x123 uses the 9th
// bit of the field, so the header packing across bytes is exercised.
func syncPort(t *testing.T, tg *target) []byte {
	if bmv2Deviation(t, tg, "packet-out metadata 0x123 for a bit<9> field is refused (\"does not fit within 9 bits\") and the packet dropped") {
		return []byte{0x23}
	}
	return []byte{1, 0x23}
}

// roundTrip sends a packet-out and waits for the fake device to loop it back
// as a packet-in, which orders everything sent on the stream before it.
func roundTrip(t *testing.T, tg *target, s *session) *p4v1.PacketIn {
	t.Helper()
	po := &p4v1.PacketOut{Payload: syncFrame, Metadata: []*p4v1.PacketMetadata{{MetadataId: 1, Value: syncPort(t, tg)}, {MetadataId: 2, Value: []byte{0}}}}
	if err := s.stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Packet{Packet: po}}); err != nil {
		t.Fatal(err)
	}
	for {
		if p := s.next().GetPacket(); p != nil {
			return p
		}
	}
}

// Spec §16.1: packet-out metadata become the packet_out header; the
// packet_in header becomes packet-in metadata.
func testPacketIO(t *testing.T, tg *target) {
	s := ready(t, tg)
	pin := roundTrip(t, tg, s)
	if tg.fake != nil {
		// egress_port 0x123 in 9 bits then 7 pad bits: 1001 0001 1000 0000.
		if diff := cmp.Diff([][]byte{append([]byte{0x91, 0x80}, syncFrame...)}, tg.fake.packetOuts()); diff != "" {
			t.Errorf("frame injected at the CPU port (-want +got):\n%s", diff)
		}
	}
	want := &p4v1.PacketIn{Payload: syncFrame, Metadata: []*p4v1.PacketMetadata{{MetadataId: 1, Value: syncPort(t, tg)}, {MetadataId: 2, Value: []byte{0}}}}
	if diff := cmp.Diff(want, pin, protocmp.Transform()); diff != "" {
		t.Errorf("packet-in (-want +got):\n%s", diff)
	}
	if bmv2Deviation(t, tg, "bad packet-out metadata, or a packet-out from a backup, is dropped without a StreamError") {
		return
	}
	// Bad metadata: a stream error, nothing injected.
	bad := &p4v1.PacketOut{Payload: []byte("x"), Metadata: []*p4v1.PacketMetadata{{MetadataId: 1, Value: []byte{2, 0}}}}
	if err := s.stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Packet{Packet: bad}}); err != nil {
		t.Fatal(err)
	}
	for {
		if e := s.next().GetError(); e != nil {
			if e.GetCanonicalCode() != int32(codes.InvalidArgument) || e.GetPacketOut() == nil {
				t.Errorf("stream error %v, want INVALID_ARGUMENT for the packet-out", e)
			}
			break
		}
	}
	// A backup's packet-out is refused.
	b := openStream(t, tg)
	b.arbitrate(tg.deviceID, "", eid(1))
	b.nextArbitration()
	if err := b.stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Packet{Packet: &p4v1.PacketOut{Payload: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	for {
		if e := b.next().GetError(); e != nil {
			if e.GetCanonicalCode() != int32(codes.PermissionDenied) {
				t.Errorf("backup packet-out: %v, want PERMISSION_DENIED", e)
			}
			break
		}
	}
	if tg.fake != nil && len(tg.fake.packetOuts()) != 1 {
		t.Errorf("device saw %d packet-outs, want only the good one", len(tg.fake.packetOuts()))
	}
}

// Spec §15 RECONCILE_AND_COMMIT: the forwarding state survives a pipeline
// whose ids changed, translated by name; state the new pipeline cannot hold
// refuses the change and keeps the running one.
func testReconcile(t *testing.T, tg *target) {
	ready(t, tg)
	if tg.name == "bmv2" {
		t.Skip("BMv2 (PI) does not support RECONCILE_AND_COMMIT")
	}
	route := entry(tg.tRoute, 0, action(tg.aSetPort, []byte{7}), lpm(1, []byte{10, 0, 0, 0}, 8))
	member := &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: &p4v1.ActionProfileMember{
		ActionProfileId: tg.pSel, MemberId: 1, Action: &p4v1.Action{ActionId: tg.aSetPort, Params: []*p4v1.Action_Param{{ParamId: 1, Value: []byte{2}}}}}}}
	mcast := preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: &p4v1.MulticastGroupEntry{
		MulticastGroupId: 3, Replicas: []*p4v1.Replica{{PortKind: &p4v1.Replica_Port{Port: []byte{1}}}}}}})
	cell := &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: tg.cPort, Index: &p4v1.Index{Index: 2}, Data: &p4v1.CounterData{ByteCount: 64, PacketCount: 1}}}}
	tg.mustWrite(t, update(p4v1.Update_INSERT, route), update(p4v1.Update_INSERT, member), update(p4v1.Update_INSERT, mcast), update(p4v1.Update_MODIFY, cell))

	// The new P4Info renumbers the route table.
	cfg := proto.Clone(tg.pipelineConfig(9)).(*p4v1.ForwardingPipelineConfig)
	const newRoute = 0x020000ee
	for _, tb := range cfg.GetP4Info().GetTables() {
		if tb.GetPreamble().GetId() == tg.tRoute {
			tb.Preamble.Id = newRoute
		}
	}
	// First a P4Info without the route table: refused, nothing changes.
	noRoute := proto.Clone(cfg).(*p4v1.ForwardingPipelineConfig)
	noRoute.P4Info.Tables = slices.DeleteFunc(noRoute.P4Info.Tables, func(tb *p4cfg.Table) bool { return tb.GetPreamble().GetId() == newRoute })
	err := tg.setPipeline(t, p4v1.SetForwardingPipelineConfigRequest_RECONCILE_AND_COMMIT, noRoute)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "ingress.route") {
		t.Errorf("reconcile to a pipeline without the route table: %v, want INVALID_ARGUMENT naming ingress.route", err)
	}
	if got, _ := tg.read(t, tableEntity(&p4v1.TableEntry{TableId: tg.tRoute})); len(got) != 1 {
		t.Errorf("after a refused reconcile: %d routes, want 1", len(got))
	}

	if err := tg.setPipeline(t, p4v1.SetForwardingPipelineConfigRequest_RECONCILE_AND_COMMIT, cfg); err != nil {
		t.Fatalf("RECONCILE_AND_COMMIT: %v", err)
	}
	wantRoute := proto.Clone(route).(*p4v1.Entity)
	wantRoute.GetTableEntry().TableId = newRoute
	got, err := tg.read(t, tableEntity(&p4v1.TableEntry{}), member, mcast, &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{CounterId: tg.cPort, Index: &p4v1.Index{Index: 2}}}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*p4v1.Entity{wantRoute, member, mcast, cell}, written(got), protocmp.Transform(), cmpopts.SortSlices(entityLess)); diff != "" {
		t.Errorf("state after RECONCILE_AND_COMMIT (-want +got):\n%s", diff)
	}
}

func withControllerMetadata(e *p4v1.Entity, v uint64) *p4v1.Entity {
	setControllerMetadata(e.GetTableEntry(), v)
	return e
}

// Spec §9.1.8, §16.4: an entry idle for its TTL is reported to the primary.
func testIdleTimeout(t *testing.T, tg *target) {
	s := ready(t, tg)
	te := &p4v1.TableEntry{TableId: tg.tRoute, Match: []*p4v1.FieldMatch{lpm(1, []byte{10, 9, 0, 0}, 16)}, Action: action(tg.aNoAction),
		IdleTimeoutNs: int64(20 * time.Millisecond), Metadata: []byte("idle")}
	tg.mustWrite(t, update(p4v1.Update_INSERT, tableEntity(te)))
	var note *p4v1.IdleTimeoutNotification
	for note == nil {
		note = s.next().GetIdleTimeoutNotification()
	}
	want := &p4v1.TableEntry{TableId: te.TableId, Match: te.Match, IdleTimeoutNs: te.IdleTimeoutNs, Metadata: te.Metadata}
	if bmv2Deviation(t, tg, "IdleTimeoutNotification entries lack the entry's metadata") {
		want.Metadata = nil
	}
	if diff := cmp.Diff([]*p4v1.TableEntry{want}, note.GetTableEntry(), protocmp.Transform(), protocmp.IgnoreFields(&p4v1.TableEntry{}, "action")); diff != "" {
		t.Errorf("idle notification (-want +got):\n%s", diff)
	}
	got, err := tg.read(t, tableEntity(&p4v1.TableEntry{TableId: tg.tRoute, Match: te.Match, TimeSinceLastHit: &p4v1.TableEntry_IdleTimeout{}}))
	if err != nil || len(got) != 1 {
		t.Fatalf("read with time_since_last_hit: %v, %v", got, err)
	}
	if got[0].GetTableEntry().GetTimeSinceLastHit() == nil || got[0].GetTableEntry().GetIdleTimeoutNs() != te.IdleTimeoutNs {
		t.Errorf("read entry %v: want time_since_last_hit set and idle_timeout_ns %d", got[0], te.IdleTimeoutNs)
	}
}

// A controller that does not read its stream loses packet-ins (spec §16:
// the server may drop), counted in Stats, while the server stays live.
func TestSlowControllerDropsPacketIns(t *testing.T) {
	tg := startFake(t, WithStreamQueue(1))
	primary(t, tg)
	if err := tg.setPipeline(t, p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT, tg.pipelineConfig(1)); err != nil {
		t.Fatal(err)
	}
	// The session buffers 1024 messages and then stops reading while 4 MiB of packet-ins are
	// raised: gRPC flow control stops the sender, the queue of 1 fills.
	frame := append([]byte{0x80, 0}, make([]byte, 4096)...)
	for range 1024 + 2048 {
		tg.fake.raise(func(sink EventSink) { sink.ToCPU(frame) })
	}
	tg.fake.raise(func(EventSink) {}) // the event loop has handled every frame
	if got := tg.srv.Stats().StreamDropped; got == 0 {
		t.Errorf("StreamDropped = 0 after raising 3072 packet-ins to a controller that does not read")
	}
	// The server still answers.
	if _, err := tg.client.Capabilities(ctxT(t), &p4v1.CapabilitiesRequest{}); err != nil {
		t.Errorf("Capabilities after the flood: %v", err)
	}
}

func actionNamed(info *p4cfg.P4Info, name string) *p4cfg.Action {
	for _, a := range info.GetActions() {
		if a.GetPreamble().GetName() == name {
			return a
		}
	}
	panic("no action " + name)
}

// written drops the entries the program declares (is_const, or in a const
// table: BMv2 omits is_const) from a read, leaving what controllers wrote.
func written(es []*p4v1.Entity) []*p4v1.Entity {
	return slices.DeleteFunc(es, func(e *p4v1.Entity) bool {
		return e.GetTableEntry().GetIsConst() || e.GetTableEntry().GetTableId() == constTableID
	})
}

// constTableID is the id p4c gives ingress.port_kind in testdata/proto.p4,
// the const table of the compiled program.
const constTableID = 43300068

// Spec §9.1.4: entries the program declares with const entries are read
// back with is_const, and cannot be written.
func testConstEntries(t *testing.T, tg *target) {
	ready(t, tg)
	if tg.fake != nil {
		t.Skip("the fake program has no const entries")
	}
	var tbl *p4cfg.Table
	for _, tb := range tg.info.GetTables() {
		if tb.GetPreamble().GetName() == "ingress.port_kind" {
			tbl = tb
		}
	}
	if tbl == nil || !tbl.GetIsConstTable() {
		t.Fatalf("ingress.port_kind is missing or not const in the P4Info: %v", tbl)
	}
	want := &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{TableId: tbl.GetPreamble().GetId(),
		Match: []*p4v1.FieldMatch{exact(1, []byte{1})}, Action: action(tg.aSetPort, []byte{2}), IsConst: true}}}
	wantCodes := []codes.Code{codes.PermissionDenied, codes.PermissionDenied}
	if bmv2Deviation(t, tg, "const entries read back without is_const; writing a const table answers UNKNOWN (insert) or NOT_FOUND (delete), not PERMISSION_DENIED") {
		want.GetTableEntry().IsConst = false
		wantCodes = []codes.Code{codes.Unknown, codes.NotFound}
	}
	got, err := tg.read(t, tableEntity(&p4v1.TableEntry{TableId: tbl.GetPreamble().GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*p4v1.Entity{want}, got, protocmp.Transform()); diff != "" {
		t.Errorf("const entries (-want +got):\n%s", diff)
	}
	got2, err := tg.write(t, update(p4v1.Update_INSERT, entry(tbl.GetPreamble().GetId(), 0, action(tg.aSetPort, []byte{3}), exact(1, []byte{2}))),
		update(p4v1.Update_DELETE, entry(tbl.GetPreamble().GetId(), 0, nil, exact(1, []byte{1}))))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantCodes, got2); diff != "" {
		t.Errorf("writing a const table (-want +got):\n%s", diff)
	}
}

// dropFullRanges removes range matches covering every value of a 12-bit
// field (BMv2 reads back omitted range fields that way).
func dropFullRanges(es []*p4v1.Entity) []*p4v1.Entity {
	for _, e := range es {
		te := e.GetTableEntry()
		if te == nil {
			continue
		}
		te.Match = slices.DeleteFunc(te.Match, func(fm *p4v1.FieldMatch) bool {
			r := fm.GetRange()
			return r != nil && isZero(r.GetLow()) && bytes.Equal(trimCanonical(r.GetHigh()), []byte{0x0f, 0xff})
		})
	}
	return es
}
