package p4rt

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

func exactMatch(id uint32, v ...byte) *p4v1.FieldMatch {
	return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Exact_{Exact: &p4v1.FieldMatch_Exact{Value: v}}}
}

func directAction(id uint32, params ...[]byte) *p4v1.TableAction {
	a := &p4v1.Action{ActionId: id}
	for i, p := range params {
		a.Params = append(a.Params, &p4v1.Action_Param{ParamId: uint32(i + 1), Value: p})
	}
	return &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: a}}
}

const (
	fibID, routeID, aclID, ecmpID, tunnelID  = 33554433, 33554434, 33554435, 33554436, 33554437
	forwardID, dropID, noActionID, setNhopID = 16777217, 16777218, 16777219, 16777220
)

func TestBuildTableEntry(t *testing.T) {
	ix := unitIndex(t)
	mac := []byte{0, 0x00, 0x5e, 0x00, 0x53, 0x01}
	tests := []struct {
		desc    string
		entry   TableEntry
		want    *p4v1.TableEntry
		wantErr string
		errIs   error
	}{
		{
			desc: "exact match, direct action, params reordered and canonicalized",
			entry: TableEntry{
				Table:  "fib",
				Match:  []FieldMatch{Exact("hdr.ethernet.dst_addr", mac), Exact("bd", []byte{0, 10})},
				Action: Action("forward", Arg("smac", []byte{0, 0, 0, 0, 0, 1}), Arg("port", Uint(3))),
			},
			want: &p4v1.TableEntry{
				TableId: fibID,
				Match:   []*p4v1.FieldMatch{exactMatch(1, 10), exactMatch(2, 0x5e, 0, 0x53, 1)},
				Action:  directAction(forwardID, []byte{3}, []byte{1}),
			},
		},
		{
			desc:  "idle timeout on a table that supports it",
			entry: TableEntry{Table: "fib", Match: []FieldMatch{Exact("bd", Uint(1)), Exact("hdr.ethernet.dst_addr", Uint(2))}, IdleTimeout: time.Second, Metadata: []byte("x")},
			want:  &p4v1.TableEntry{TableId: fibID, Match: []*p4v1.FieldMatch{exactMatch(1, 1), exactMatch(2, 2)}, IdleTimeoutNs: 1e9, Metadata: []byte("x")},
		},
		{
			desc:  "lpm value masked to its prefix",
			entry: TableEntry{Table: "route", Match: []FieldMatch{Exact("vrf", Uint(1)), LPM("dst", []byte{10, 1, 2, 3}, 16)}, Action: Action("set_nhop", Arg("nhop", Uint(7)))},
			want: &p4v1.TableEntry{TableId: routeID, Match: []*p4v1.FieldMatch{
				exactMatch(1, 1),
				{FieldId: 2, FieldMatchType: &p4v1.FieldMatch_Lpm{Lpm: &p4v1.FieldMatch_LPM{Value: []byte{10, 1, 0, 0}, PrefixLen: 16}}},
			}, Action: directAction(setNhopID, []byte{7})},
		},
		{
			desc:  "lpm /0 is don't care and left out",
			entry: TableEntry{Table: "route", Match: []FieldMatch{Exact("vrf", Uint(1)), LPM("dst", []byte{10, 1, 2, 3}, 0)}, Action: Action("ingress.drop")},
			want:  &p4v1.TableEntry{TableId: routeID, Match: []*p4v1.FieldMatch{exactMatch(1, 1)}, Action: directAction(dropID)},
		},
		{
			desc: "ternary value&mask, range, optional, priority",
			entry: TableEntry{Table: "acl", Priority: 10, Action: Action("ingress.drop"), Match: []FieldMatch{
				Optional("in_port", Uint(5)), Range("l4_port", Uint(80), Uint(443)), Ternary("eth_type", []byte{0x08, 0xff}, []byte{0xff, 0x00}),
			}},
			want: &p4v1.TableEntry{TableId: aclID, Priority: 10, Action: directAction(dropID), Match: []*p4v1.FieldMatch{
				{FieldId: 1, FieldMatchType: &p4v1.FieldMatch_Ternary_{Ternary: &p4v1.FieldMatch_Ternary{Value: []byte{0x08, 0x00}, Mask: []byte{0xff, 0x00}}}},
				{FieldId: 2, FieldMatchType: &p4v1.FieldMatch_Range_{Range: &p4v1.FieldMatch_Range{Low: []byte{80}, High: []byte{1, 0xbb}}}},
				{FieldId: 3, FieldMatchType: &p4v1.FieldMatch_Optional_{Optional: &p4v1.FieldMatch_Optional{Value: []byte{5}}}},
			}},
		},
		{
			desc: "zero mask and full range are don't care",
			entry: TableEntry{Table: "acl", Priority: 1, Action: Action("ingress.drop"), Match: []FieldMatch{
				Ternary("eth_type", Uint(0x800), Uint(0)), Range("l4_port", Uint(0), Uint(0xffff)),
			}},
			want: &p4v1.TableEntry{TableId: aclID, Priority: 1, Action: directAction(dropID)},
		},
		{
			desc:  "default entry",
			entry: TableEntry{Table: "fib", IsDefault: true, Action: Action("NoAction")},
			want:  &p4v1.TableEntry{TableId: fibID, IsDefaultAction: true, Action: directAction(noActionID)},
		},
		{
			desc:  "default entry reset has no action",
			entry: TableEntry{Table: "route", IsDefault: true},
			want:  &p4v1.TableEntry{TableId: routeID, IsDefaultAction: true},
		},
		{
			desc:  "selector table: member",
			entry: TableEntry{Table: "ecmp", Match: []FieldMatch{Exact("nhop", Uint(1))}, Action: MemberID(5)},
			want: &p4v1.TableEntry{TableId: ecmpID, Match: []*p4v1.FieldMatch{exactMatch(1, 1)},
				Action: &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileMemberId{ActionProfileMemberId: 5}}},
		},
		{
			desc:  "selector table: group",
			entry: TableEntry{Table: "ecmp", Match: []FieldMatch{Exact("nhop", Uint(1))}, Action: GroupID(9)},
			want: &p4v1.TableEntry{TableId: ecmpID, Match: []*p4v1.FieldMatch{exactMatch(1, 1)},
				Action: &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileGroupId{ActionProfileGroupId: 9}}},
		},
		{
			desc: "selector table: one-shot action set",
			entry: TableEntry{Table: "ecmp", Match: []FieldMatch{Exact("nhop", Uint(1))}, Action: ActionSet{
				{Action: Action("forward", Arg("port", Uint(1)), Arg("smac", Uint(1))), Weight: 1},
				{Action: Action("forward", Arg("port", Uint(2)), Arg("smac", Uint(1))), Weight: 2, WatchPort: []byte{0, 2}},
			}},
			want: &p4v1.TableEntry{TableId: ecmpID, Match: []*p4v1.FieldMatch{exactMatch(1, 1)},
				Action: &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileActionSet{ActionProfileActionSet: &p4v1.ActionProfileActionSet{
					ActionProfileActions: []*p4v1.ActionProfileAction{
						{Action: directAction(forwardID, []byte{1}, []byte{1}).GetAction(), Weight: 1},
						{Action: directAction(forwardID, []byte{2}, []byte{1}).GetAction(), Weight: 2, WatchKind: &p4v1.ActionProfileAction_WatchPort{WatchPort: []byte{2}}},
					},
				}}}},
		},
		{desc: "unknown table", entry: TableEntry{Table: "fibx"}, wantErr: `table "fibx": unknown name`, errIs: ErrUnknownName},
		{desc: "unknown field", entry: TableEntry{Table: "fib", Match: []FieldMatch{Exact("vlan", Uint(1))}}, wantErr: `table "ingress.fib": match field "vlan": unknown name`, errIs: ErrUnknownName},
		{desc: "missing exact field", entry: TableEntry{Table: "fib", Match: []FieldMatch{Exact("bd", Uint(1))}}, wantErr: `exact match field "hdr.ethernet.dst_addr" is missing`, errIs: ErrInvalidEntity},
		{desc: "field given twice", entry: TableEntry{Table: "fib", Match: []FieldMatch{Exact("bd", Uint(1)), Exact("bd", Uint(2))}}, wantErr: `match field "bd" given twice`, errIs: ErrInvalidEntity},
		{desc: "wrong match kind", entry: TableEntry{Table: "route", Match: []FieldMatch{Exact("vrf", Uint(1)), Exact("dst", Uint(1))}}, wantErr: `match field "dst" is lpm, not exact`, errIs: ErrInvalidEntity},
		{desc: "value too wide", entry: TableEntry{Table: "fib", Match: []FieldMatch{Exact("bd", Uint(0x10000)), Exact("hdr.ethernet.dst_addr", Uint(1))}}, wantErr: `table "ingress.fib": match field "bd": value out of range: 0x010000 needs 17 bits, width is 16`, errIs: ErrOutOfRange},
		{desc: "prefix longer than field", entry: TableEntry{Table: "route", Match: []FieldMatch{Exact("vrf", Uint(1)), LPM("dst", Uint(1), 33)}}, wantErr: `match field "dst": value out of range: prefix length 33, width is 32`, errIs: ErrOutOfRange},
		{desc: "range low > high", entry: TableEntry{Table: "acl", Priority: 1, Match: []FieldMatch{Range("l4_port", Uint(9), Uint(8))}}, wantErr: `range low 0x09 > high 0x08`, errIs: ErrInvalidEntity},
		{desc: "ternary mask too wide", entry: TableEntry{Table: "acl", Priority: 1, Match: []FieldMatch{Ternary("eth_type", Uint(1), Uint(0x1ffff))}}, wantErr: `match field "eth_type": mask: value out of range`, errIs: ErrOutOfRange},
		{desc: "priority missing on ternary table", entry: TableEntry{Table: "acl", Action: Action("ingress.drop")}, wantErr: `priority 0, want > 0`, errIs: ErrInvalidEntity},
		{desc: "priority on exact table", entry: TableEntry{Table: "fib", Priority: 3, Match: []FieldMatch{Exact("bd", Uint(1)), Exact("hdr.ethernet.dst_addr", Uint(1))}}, wantErr: `priority 3, want 0`, errIs: ErrInvalidEntity},
		{desc: "idle timeout on table without", entry: TableEntry{Table: "route", IdleTimeout: time.Second, Match: []FieldMatch{Exact("vrf", Uint(1))}}, wantErr: `idle timeout 1s`, errIs: ErrInvalidEntity},
		{desc: "action not in table", entry: TableEntry{Table: "route", Match: []FieldMatch{Exact("vrf", Uint(1))}, Action: Action("forward", Arg("port", Uint(1)), Arg("smac", Uint(1)))}, wantErr: `action "forward" is not one of the table's actions`, errIs: ErrInvalidEntity},
		{desc: "default-only action on an entry", entry: TableEntry{Table: "fib", Match: []FieldMatch{Exact("bd", Uint(1)), Exact("hdr.ethernet.dst_addr", Uint(1))}, Action: Action("NoAction")}, wantErr: `action "NoAction" is @defaultonly`, errIs: ErrInvalidEntity},
		{desc: "table-only action as default", entry: TableEntry{Table: "acl", IsDefault: true, Action: Action("ingress.drop")}, wantErr: `action "ingress.drop" is @tableonly`, errIs: ErrInvalidEntity},
		{desc: "missing param", entry: TableEntry{Table: "fib", Match: []FieldMatch{Exact("bd", Uint(1)), Exact("hdr.ethernet.dst_addr", Uint(1))}, Action: Action("forward", Arg("port", Uint(1)))}, wantErr: `action "ingress.forward": invalid entity: param "smac" is missing`, errIs: ErrInvalidEntity},
		{desc: "unknown param", entry: TableEntry{Table: "fib", Match: []FieldMatch{Exact("bd", Uint(1)), Exact("hdr.ethernet.dst_addr", Uint(1))}, Action: Action("forward", Arg("vlan", Uint(1)))}, wantErr: `action "ingress.forward": param "vlan": unknown name`, errIs: ErrUnknownName},
		{desc: "param too wide", entry: TableEntry{Table: "fib", Match: []FieldMatch{Exact("bd", Uint(1)), Exact("hdr.ethernet.dst_addr", Uint(1))}, Action: Action("forward", Arg("port", Uint(512)), Arg("smac", Uint(1)))}, wantErr: `param "port": value out of range: 0x0200 needs 10 bits, width is 9`, errIs: ErrOutOfRange},
		{desc: "ambiguous action alias", entry: TableEntry{Table: "route", Match: []FieldMatch{Exact("vrf", Uint(1))}, Action: Action("drop")}, wantErr: `action "drop": unknown name (an alias of several objects`, errIs: ErrUnknownName},
		{desc: "direct action on a profile table", entry: TableEntry{Table: "ecmp", Match: []FieldMatch{Exact("nhop", Uint(1))}, Action: Action("forward")}, wantErr: `implemented by action profile "ingress.ecmp_selector"`, errIs: ErrInvalidEntity},
		{desc: "member on a direct table", entry: TableEntry{Table: "route", Match: []FieldMatch{Exact("vrf", Uint(1))}, Action: MemberID(1)}, wantErr: `it has direct actions, not an action profile`, errIs: ErrInvalidEntity},
		{desc: "group on a profile without selector", entry: TableEntry{Table: "tunnel", Match: []FieldMatch{Exact("tunnel_id", Uint(1))}, Action: GroupID(1)}, wantErr: `has no selector, so no groups`, errIs: ErrInvalidEntity},
		{desc: "const default entry", entry: TableEntry{Table: "ecmp", IsDefault: true}, wantErr: `the program makes it constant`, errIs: ErrInvalidEntity},
		{desc: "default entry with match", entry: TableEntry{Table: "fib", IsDefault: true, Match: []FieldMatch{Exact("bd", Uint(1))}}, wantErr: `no match fields and no priority`, errIs: ErrInvalidEntity},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := ix.BuildTableEntry(tc.entry)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, tc.errIs) {
					t.Fatalf("BuildTableEntry error = %v, want one containing %q wrapping %v", err, tc.wantErr, tc.errIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("BuildTableEntry mismatch (-want +got):\n%s", diff)
			}
			// Decoding gives back the canonical named form, which builds
			// to the same message: read-write symmetry.
			named, err := ix.DecodeTableEntry(got)
			if err != nil {
				t.Fatalf("DecodeTableEntry: %v", err)
			}
			again, err := ix.BuildTableEntry(named)
			if err != nil {
				t.Fatalf("BuildTableEntry(decoded %+v): %v", named, err)
			}
			if diff := cmp.Diff(got, again, protocmp.Transform()); diff != "" {
				t.Errorf("decode/build round trip mismatch (-built +rebuilt):\n%s", diff)
			}
		})
	}
}

func TestDecodeTableEntryNames(t *testing.T) {
	ix := unitIndex(t)
	pe, err := ix.BuildTableEntry(TableEntry{Table: "route", Match: []FieldMatch{LPM("dst", []byte{192, 168, 7, 9}, 24), Exact("vrf", []byte{0, 3})}, Action: Action("set_nhop", Arg("nhop", []byte{0, 0, 4}))})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ix.DecodeTableEntry(pe)
	if err != nil {
		t.Fatal(err)
	}
	want := TableEntry{
		Table:  "ingress.route",
		Match:  []FieldMatch{Exact("vrf", []byte{3}), LPM("dst", []byte{192, 168, 7, 0}, 24)},
		Action: Action("ingress.set_nhop", Arg("nhop", []byte{4})),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeTableEntry mismatch (-want +got):\n%s", diff)
	}
	bad := proto.Clone(pe).(*p4v1.TableEntry)
	bad.Match[0].FieldId = 9
	if _, err := ix.DecodeTableEntry(bad); !errors.Is(err, ErrUnknownName) || !strings.Contains(err.Error(), "match field id 9") {
		t.Errorf("DecodeTableEntry(unknown field) error = %v", err)
	}
}

func TestBuildActionProfileEntities(t *testing.T) {
	ix := unitIndex(t)
	member, err := ix.BuildActionProfileMember(ActionProfileMember{Profile: "ecmp_selector", MemberID: 3, Action: Action("forward", Arg("port", Uint(4)), Arg("smac", Uint(1)))})
	if err != nil {
		t.Fatal(err)
	}
	wantMember := &p4v1.ActionProfileMember{ActionProfileId: 285212673, MemberId: 3, Action: directAction(forwardID, []byte{4}, []byte{1}).GetAction()}
	if diff := cmp.Diff(wantMember, member, protocmp.Transform()); diff != "" {
		t.Errorf("member mismatch (-want +got):\n%s", diff)
	}
	if _, err := ix.BuildActionProfileMember(ActionProfileMember{Profile: "ecmp_selector", MemberID: 3, Action: Action("ingress.drop")}); !errors.Is(err, ErrInvalidEntity) ||
		!strings.Contains(err.Error(), `action "ingress.drop" is not one of table "ingress.ecmp"'s actions`) {
		t.Errorf("member with foreign action error = %v", err)
	}
	group, err := ix.BuildActionProfileGroup(ActionProfileGroup{Profile: "ecmp_selector", GroupID: 8, Members: []GroupMember{{MemberID: 3}, {MemberID: 4, Weight: 2, WatchPort: []byte{0, 7}}}})
	if err != nil {
		t.Fatal(err)
	}
	wantGroup := &p4v1.ActionProfileGroup{ActionProfileId: 285212673, GroupId: 8, Members: []*p4v1.ActionProfileGroup_Member{
		{MemberId: 3, Weight: 1},
		{MemberId: 4, Weight: 2, WatchKind: &p4v1.ActionProfileGroup_Member_WatchPort{WatchPort: []byte{7}}},
	}}
	if diff := cmp.Diff(wantGroup, group, protocmp.Transform()); diff != "" {
		t.Errorf("group mismatch (-want +got):\n%s", diff)
	}
	decoded, err := ix.DecodeActionProfileGroup(group)
	if err != nil || decoded.Profile != "ingress.ecmp_selector" || len(decoded.Members) != 2 {
		t.Errorf("DecodeActionProfileGroup = %+v, %v", decoded, err)
	}
	groupErrs := []struct {
		desc    string
		group   ActionProfileGroup
		wantErr string
	}{
		{desc: "no selector", group: ActionProfileGroup{Profile: "tunnel_profile", GroupID: 1}, wantErr: `action profile "ingress.tunnel_profile" group 1: invalid entity: the profile has no selector`},
		{desc: "too many members", group: ActionProfileGroup{Profile: "ecmp_selector", GroupID: 2, Members: []GroupMember{{MemberID: 1}, {MemberID: 2}, {MemberID: 3}, {MemberID: 4}, {MemberID: 5}}}, wantErr: `5 members (max_size 0), the profile allows 4`},
		{desc: "duplicate member", group: ActionProfileGroup{Profile: "ecmp_selector", GroupID: 3, Members: []GroupMember{{MemberID: 1}, {MemberID: 1}}}, wantErr: `member 1 given twice`},
		{desc: "unknown profile", group: ActionProfileGroup{Profile: "nope", GroupID: 3}, wantErr: `action profile "nope": unknown name`},
	}
	for _, tc := range groupErrs {
		if _, err := ix.BuildActionProfileGroup(tc.group); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error = %v, want one containing %q", tc.desc, err, tc.wantErr)
		}
	}
}

func TestBuildReplicationEntries(t *testing.T) {
	mg, err := MulticastGroup(10, PortReplica(2, 0), Replica{Port: []byte{0, 1}, Instance: 1}, PortReplica(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	want := &p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: &p4v1.MulticastGroupEntry{
		MulticastGroupId: 10,
		Replicas: []*p4v1.Replica{ // sorted by port, then instance
			{PortKind: &p4v1.Replica_Port{Port: []byte{1}}},
			{PortKind: &p4v1.Replica_Port{Port: []byte{1}}, Instance: 1},
			{PortKind: &p4v1.Replica_Port{Port: []byte{2}}},
		},
	}}}
	if diff := cmp.Diff(want, mg, protocmp.Transform()); diff != "" {
		t.Errorf("multicast group mismatch (-want +got):\n%s", diff)
	}
	// What a target returns in its own order sorts back to the built form.
	oldStyle := &p4v1.Replica{}
	//lint:ignore SA1019 a target older than P4Runtime 1.4 fills the numeric field
	oldStyle.PortKind = &p4v1.Replica_EgressPort{EgressPort: 1}
	shuffled := []*p4v1.Replica{
		{PortKind: &p4v1.Replica_Port{Port: []byte{2}}},
		{PortKind: &p4v1.Replica_Port{Port: []byte{1}}, Instance: 1},
		oldStyle,
	}
	SortReplicas(shuffled)
	if shuffled[0] != oldStyle || shuffled[1].GetInstance() != 1 || !bytes.Equal(shuffled[2].GetPort(), []byte{2}) {
		t.Errorf("SortReplicas = %v, want port 1/0 (deprecated field), 1/1, 2/0", shuffled)
	}
	if _, err := MulticastGroup(10, PortReplica(1, 0), Replica{Port: []byte{0, 1}}); err == nil || !strings.Contains(err.Error(), "multicast group 10: invalid entity: replica port 0x01 instance 0 given twice") {
		t.Errorf("duplicate replica error = %v", err)
	}
	if _, err := MulticastGroup(0); !errors.Is(err, ErrInvalidEntity) {
		t.Errorf("group 0 error = %v, want ErrInvalidEntity", err)
	}
	cs, err := BuildCloneSession(CloneSession{ID: 5, Replicas: []Replica{PortReplica(255, 0)}, PacketLengthBytes: 128})
	if err != nil {
		t.Fatal(err)
	}
	wantCS := &p4v1.CloneSessionEntry{SessionId: 5, PacketLengthBytes: 128, Replicas: []*p4v1.Replica{{PortKind: &p4v1.Replica_Port{Port: []byte{255}}}}}
	if diff := cmp.Diff(wantCS, cs.GetCloneSessionEntry(), protocmp.Transform()); diff != "" {
		t.Errorf("clone session mismatch (-want +got):\n%s", diff)
	}
	if _, err := BuildCloneSession(CloneSession{ID: 5, Replicas: []Replica{{Instance: 1}}}); err == nil || !strings.Contains(err.Error(), "replica instance 1 has no port") {
		t.Errorf("portless replica error = %v", err)
	}
}

func TestBuildDigestCounterMeterRegister(t *testing.T) {
	ix := unitIndex(t)
	d, err := ix.BuildDigestEntry("mac_learn_t", DigestConfig{MaxTimeout: time.Millisecond, MaxListSize: 10, AckTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	wantD := &p4v1.DigestEntry{DigestId: 385875969, Config: &p4v1.DigestEntry_Config{MaxTimeoutNs: 1e6, MaxListSize: 10, AckTimeoutNs: 1e9}}
	if diff := cmp.Diff(wantD, d, protocmp.Transform()); diff != "" {
		t.Errorf("digest entry mismatch (-want +got):\n%s", diff)
	}
	if _, err := ix.BuildDigestEntry("mac_learn_t", DigestConfig{MaxListSize: -1}); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("negative digest config error = %v", err)
	}
	c, err := ix.BuildCounterEntry("port_counter", 7)
	if err != nil || c.GetCounterId() != 302006273 || c.GetIndex().GetIndex() != 7 {
		t.Errorf("counter entry = %v, %v", c, err)
	}
	all, err := ix.BuildCounterEntry("port_counter", AllIndices)
	if err != nil || all.GetIndex() != nil {
		t.Errorf("wildcard counter entry = %v, %v; want no index", all, err)
	}
	if _, err := ix.BuildCounterEntry("port_counter", 512); !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), `counter "ingress.port_counter": value out of range: index 512, size 512`) {
		t.Errorf("counter index out of range error = %v", err)
	}
	if _, err := ix.BuildMeterEntry("port_meter", 600, nil); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("meter index out of range error = %v", err)
	}
	if r, err := ix.BuildRegisterEntry("last_seen", 3); err != nil || r.GetIndex().GetIndex() != 3 {
		t.Errorf("register entry = %v, %v", r, err)
	}
	key, _ := ix.BuildTableEntry(TableEntry{Table: "fib", Match: []FieldMatch{Exact("bd", Uint(1)), Exact("hdr.ethernet.dst_addr", Uint(1))}})
	if dc, err := ix.BuildDirectCounterEntry(key, nil); err != nil || dc.GetTableEntry() != key {
		t.Errorf("direct counter entry = %v, %v", dc, err)
	}
	route, _ := ix.Table("route")
	if _, err := ix.BuildDirectCounterEntry(&p4v1.TableEntry{TableId: route.ID}, nil); !errors.Is(err, ErrInvalidEntity) {
		t.Errorf("direct counter on table without one: error = %v", err)
	}
}

func TestPacketIOAndDigestDecoding(t *testing.T) {
	ix := unitIndex(t)
	po, err := ix.BuildPacketOut([]byte("frame"), Meta("egress_port", []byte{0, 3}))
	if err != nil {
		t.Fatal(err)
	}
	wantPO := &p4v1.PacketOut{Payload: []byte("frame"), Metadata: []*p4v1.PacketMetadata{{MetadataId: 1, Value: []byte{3}}, {MetadataId: 2, Value: []byte{0}}}}
	if diff := cmp.Diff(wantPO, po, protocmp.Transform()); diff != "" {
		t.Errorf("packet-out mismatch (-want +got):\n%s", diff)
	}
	if _, err := ix.BuildPacketOut(nil, Meta("flags", Uint(0x80))); !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), `packet-out metadata "flags"`) {
		t.Errorf("7-bit flags = 0x80 error = %v", err)
	}
	if _, err := ix.BuildPacketOut(nil, Meta("vlan", Uint(1))); !errors.Is(err, ErrUnknownName) {
		t.Errorf("unknown packet-out metadata error = %v", err)
	}
	pin, err := ix.DecodePacketIn(&p4v1.PacketIn{Payload: []byte("x"), Metadata: []*p4v1.PacketMetadata{{MetadataId: 2, Value: []byte{0, 1}}, {MetadataId: 1, Value: []byte{1, 0}}}})
	if err != nil {
		t.Fatal(err)
	}
	wantPin := &PacketIn{Payload: []byte("x"), Metadata: []NamedValue{{Name: "ingress_port", Value: []byte{1, 0}}, {Name: "reason", Value: []byte{1}}}}
	if diff := cmp.Diff(wantPin, pin); diff != "" {
		t.Errorf("packet-in mismatch (-want +got):\n%s", diff)
	}
	if port, err := pin.Uint("ingress_port"); err != nil || port != 256 {
		t.Errorf("ingress_port = %d, %v; want 256", port, err)
	}
	bits := func(b ...byte) *p4v1.P4Data { return &p4v1.P4Data{Data: &p4v1.P4Data_Bitstring{Bitstring: b}} }
	l, err := ix.DecodeDigestList(&p4v1.DigestList{DigestId: 385875969, ListId: 4, Timestamp: 5, Data: []*p4v1.P4Data{
		{Data: &p4v1.P4Data_Struct{Struct: &p4v1.P4StructLike{Members: []*p4v1.P4Data{bits(0, 10), bits(0, 0, 0x5e, 0, 0x53, 1), bits(0, 2)}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if l.Digest != "mac_learn_t" || l.ListID != 4 || len(l.Messages) != 1 {
		t.Fatalf("digest list = %+v", l)
	}
	wantFields := []NamedValue{{Name: "bd", Value: []byte{10}}, {Name: "mac", Value: []byte{0x5e, 0, 0x53, 1}}, {Name: "port", Value: []byte{2}}}
	if diff := cmp.Diff(wantFields, l.Messages[0].Fields); diff != "" {
		t.Errorf("digest fields mismatch (-want +got):\n%s", diff)
	}
	if _, err := ix.DecodeDigestList(&p4v1.DigestList{DigestId: 385875969, Data: []*p4v1.P4Data{{Data: &p4v1.P4Data_Struct{Struct: &p4v1.P4StructLike{Members: []*p4v1.P4Data{bits(1)}}}}}}); !errors.Is(err, ErrInvalidEntity) {
		t.Errorf("short digest error = %v", err)
	}
}

func TestTableEntryKey(t *testing.T) {
	ix := unitIndex(t)
	build := func(e TableEntry) *p4v1.TableEntry {
		t.Helper()
		pe, err := ix.BuildTableEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		return pe
	}
	a := build(TableEntry{Table: "acl", Priority: 5, Match: []FieldMatch{Ternary("eth_type", Uint(0x800), Uint(0xffff)), Optional("in_port", Uint(1))}, Action: Action("ingress.drop")})
	sameKeyOtherAction := build(TableEntry{Table: "acl", Priority: 5, Match: []FieldMatch{Optional("in_port", Uint(1)), Ternary("eth_type", Uint(0x800), Uint(0xffff))}, Action: Action("NoAction")})
	otherPriority := build(TableEntry{Table: "acl", Priority: 6, Match: []FieldMatch{Ternary("eth_type", Uint(0x800), Uint(0xffff)), Optional("in_port", Uint(1))}})
	otherMask := build(TableEntry{Table: "acl", Priority: 5, Match: []FieldMatch{Ternary("eth_type", Uint(0x800), Uint(0xff00)), Optional("in_port", Uint(1))}})
	// A target may return matches in another order or with padded values.
	reordered := proto.Clone(a).(*p4v1.TableEntry)
	reordered.Match[0], reordered.Match[1] = reordered.Match[1], reordered.Match[0]
	reordered.Match[0].GetOptional().Value = []byte{0, 1}
	if TableEntryKey(a) != TableEntryKey(sameKeyOtherAction) || TableEntryKey(a) != TableEntryKey(reordered) {
		t.Error("entries with the same key have different keys")
	}
	if TableEntryKey(a) == TableEntryKey(otherPriority) || TableEntryKey(a) == TableEntryKey(otherMask) {
		t.Error("entries with different keys share a key")
	}
}

func TestDescribe(t *testing.T) {
	ix := unitIndex(t)
	pe, _ := ix.BuildTableEntry(TableEntry{Table: "acl", Priority: 5, Match: []FieldMatch{Ternary("eth_type", Uint(0x800), Uint(0xffff))}, Action: Action("ingress.drop")})
	tests := []struct {
		desc   string
		entity *p4v1.Entity
		want   string
	}{
		{desc: "table entry", entity: Entity(pe), want: "table ingress.acl {eth_type=0x0800&&&0xffff} priority 5 -> ingress.drop()"},
		{desc: "unknown table", entity: Entity(&p4v1.TableEntry{TableId: 99}), want: "table 0x63 entry"},
		{desc: "member", entity: Entity(&p4v1.ActionProfileMember{ActionProfileId: 285212673, MemberId: 2}), want: "action profile ingress.ecmp_selector member 2"},
		{desc: "multicast group", entity: Entity(must(MulticastGroup(3, PortReplica(1, 0)))), want: "multicast group 3 (1 replicas)"},
		{desc: "digest", entity: Entity(&p4v1.DigestEntry{DigestId: 385875969}), want: "digest mac_learn_t"},
	}
	for _, tc := range tests {
		if got := ix.Describe(tc.entity); got != tc.want {
			t.Errorf("%s: Describe = %q, want %q", tc.desc, got, tc.want)
		}
	}
	var none *Index
	if got := none.Describe(Entity(pe)); got != "TableEntry" {
		t.Errorf("nil index Describe = %q, want the entity kind", got)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
