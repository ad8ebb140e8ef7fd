package softswitch

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testdata/selmiss.p4: tables with an action selector or profile, which p4c
// compiles without a default_entry. On a miss BMv2 runs an empty action and
// takes the table's base_default_next (or __MISS__ node)
// (MatchTableIndirect::lookup, behavioral-model src/bm_sim/match_tables.cpp):
// ingress goes on. The tag header's f byte records which steps ran:
// 0x01 after plain, 0x02/0x04 hm hit/miss, 0x08/0x10 sw's set_c/default
// branch, 0x20 after ap, 0x40 the last table.

const selmissDst = 0x020000000001

// selmissConfigure writes the same state to the softswitch or to BMv2:
// EtherType 0x0801 hits every indirect table; 0x0803 hits only sw, with
// set_d (its switch's default branch); anything else misses them all.
func selmissConfigure(t testing.TB, tg evpnTarget) {
	t.Helper()
	for _, err := range []error{
		tg.InsertMember("Ig.sel_plain", Member{ID: 1, Action: "Ig.set_a", Params: [][]byte{{0xa1}}}),
		tg.InsertGroup("Ig.sel_plain", Group{ID: 1, Members: []GroupMember{{ID: 1, Weight: 1}}}),
		tg.InsertEntry("Ig.plain", TableEntry{Match: exact(be(0x0801, 2)), Action: ActionCall{GroupID: 1, IsGroup: true}}),
		tg.InsertMember("Ig.sel_hm", Member{ID: 1, Action: "Ig.set_b", Params: [][]byte{{0xb1}}}),
		tg.InsertGroup("Ig.sel_hm", Group{ID: 1, Members: []GroupMember{{ID: 1, Weight: 1}}}),
		tg.InsertEntry("Ig.hm", TableEntry{Match: exact(be(0x0801, 2)), Action: ActionCall{GroupID: 1, IsGroup: true}}),
		tg.InsertMember("Ig.sel_sw", Member{ID: 1, Action: "Ig.set_c", Params: [][]byte{{0xc1}}}),
		tg.InsertMember("Ig.sel_sw", Member{ID: 2, Action: "Ig.set_d", Params: [][]byte{{0xd1}}}),
		tg.InsertGroup("Ig.sel_sw", Group{ID: 1, Members: []GroupMember{{ID: 1, Weight: 1}}}),
		tg.InsertGroup("Ig.sel_sw", Group{ID: 2, Members: []GroupMember{{ID: 2, Weight: 1}}}),
		tg.InsertEntry("Ig.sw", TableEntry{Match: exact(be(0x0801, 2)), Action: ActionCall{GroupID: 1, IsGroup: true}}),
		tg.InsertEntry("Ig.sw", TableEntry{Match: exact(be(0x0803, 2)), Action: ActionCall{GroupID: 2, IsGroup: true}}),
		tg.InsertMember("Ig.prof", Member{ID: 1, Action: "Ig.set_e", Params: [][]byte{{0xe1}}}),
		tg.InsertEntry("Ig.ap", TableEntry{Match: exact(be(0x0801, 2)), Action: ActionCall{MemberID: 1, IsMember: true}}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// selmissFrame is an Ethernet header, a zero tag and a payload.
func selmissFrame(etherType uint16, src uint64, payload string) []byte {
	f := fields{{selmissDst, 48}, {src, 48}, {uint64(etherType), 16}, {0, 48}}.bytes()
	return append(f, payload...)
}

func TestIndirectTableMissContinuesLikeBMv2(t *testing.T) {
	s, far := loadProgram(t, "selmiss", Config{}, 1, 2)
	selmissConfigure(t, s)
	payload := "selector-miss-payload"
	for _, tc := range []struct {
		desc      string
		etherType uint16
		// want is the tag header a..f on port 2.
		want []uint64
	}{
		{desc: "every indirect table hits", etherType: 0x0801,
			want: []uint64{0xa1, 0xb1, 0xc1, 0, 0xe1, 0x01 | 0x02 | 0x08 | 0x20 | 0x40}},
		{desc: "every indirect table misses: later steps still run, sw takes neither branch", etherType: 0x0802,
			want: []uint64{0, 0, 0, 0, 0, 0x01 | 0x04 | 0x20 | 0x40}},
		{desc: "only sw hits, with set_d: its default branch", etherType: 0x0803,
			want: []uint64{0, 0, 0, 0xd1, 0, 0x01 | 0x04 | 0x10 | 0x20 | 0x40}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s.Process(1, selmissFrame(tc.etherType, 0x020000000099, payload))
			out := recv(t, far[2])
			expectNone(t, far)
			if len(out) != 14+6+len(payload) {
				t.Fatalf("frame out is %d bytes, want %d: %x", len(out), 14+6+len(payload), out)
			}
			got := unpack(out[14:20], 8, 8, 8, 8, 8, 8)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("tag a..f (-want +got):\n%s", diff)
			}
		})
	}
}

// An entry whose group has become empty runs no action and takes the miss
// path. BMv2 has no defined behaviour here (MatchTableIndirect::lookup
// returns without a next node; its ingress thread then loops on the table),
// so this is the softswitch's own choice and not compared with BMv2.
func TestEmptySelectorGroupIsAMiss(t *testing.T) {
	s, far := loadProgram(t, "selmiss", Config{}, 1, 2)
	selmissConfigure(t, s)
	for _, g := range []struct {
		profile string
		id      uint32
	}{{"Ig.sel_plain", 1}, {"Ig.sel_hm", 1}, {"Ig.sel_sw", 1}} {
		if err := s.ModifyGroup(g.profile, Group{ID: g.id}); err != nil {
			t.Fatal(err)
		}
	}
	s.Process(1, selmissFrame(0x0801, 0x020000000099, "empty-group"))
	out := recv(t, far[2])
	expectNone(t, far)
	want := []uint64{0, 0, 0, 0, 0xe1, 0x01 | 0x04 | 0x20 | 0x40}
	if diff := cmp.Diff(want, unpack(out[14:20], 8, 8, 8, 8, 8, 8)); diff != "" {
		t.Errorf("tag a..f (-want +got):\n%s", diff)
	}
}
