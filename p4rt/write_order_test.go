package p4rt

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
)

func TestWriteOrder(t *testing.T) {
	entry := Entity(&p4v1.TableEntry{TableId: 1})
	member := Entity(&p4v1.ActionProfileMember{ActionProfileId: 1})
	group := Entity(&p4v1.ActionProfileGroup{ActionProfileId: 1})
	mcast := Entity(must(MulticastGroup(1)))
	u := func(t p4v1.Update_Type, e *p4v1.Entity) *p4v1.Update { return &p4v1.Update{Type: t, Entity: e} }
	const ins, mod, del = p4v1.Update_INSERT, p4v1.Update_MODIFY, p4v1.Update_DELETE
	tests := []struct {
		desc      string
		updates   []*p4v1.Update
		batchSize int
		want      [][][]int
	}{
		{
			desc:      "inserts: members, then groups, then entries",
			updates:   []*p4v1.Update{u(ins, entry), u(ins, group), u(ins, member), u(ins, entry), u(ins, member)},
			batchSize: 10,
			want:      [][][]int{{{2, 4}}, {{1}}, {{0, 3}}},
		},
		{
			desc:      "deletes: entries, then groups, then members",
			updates:   []*p4v1.Update{u(del, member), u(del, group), u(del, entry)},
			batchSize: 10,
			want:      [][][]int{{{2}}, {{1}}, {{0}}},
		},
		{
			desc: "repoint an entry to a new group and delete the old one",
			updates: []*p4v1.Update{
				u(del, group), u(mod, entry), u(ins, group), u(ins, member), u(del, member),
			},
			batchSize: 10,
			want:      [][][]int{{{3}}, {{2}}, {{1}}, {{0}}, {{4}}},
		},
		{
			desc:      "replace an entry: delete before insert",
			updates:   []*p4v1.Update{u(ins, entry), u(del, entry)},
			batchSize: 10,
			want:      [][][]int{{{1}}, {{0}}},
		},
		{
			desc:      "batches split within a phase, order kept",
			updates:   []*p4v1.Update{u(ins, entry), u(ins, entry), u(ins, mcast), u(ins, entry), u(ins, entry), u(ins, entry)},
			batchSize: 2,
			want:      [][][]int{{{2}}, {{0, 1}, {3, 4}, {5}}},
		},
		{
			desc:      "direct counters after the entries they belong to",
			updates:   []*p4v1.Update{u(mod, Entity(&p4v1.DirectCounterEntry{})), u(ins, entry)},
			batchSize: 10,
			want:      [][][]int{{{1}}, {{0}}},
		},
		{
			desc:      "empty",
			batchSize: 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := writeOrder(tc.updates, tc.batchSize)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("writeOrder mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
