package softswitch

import (
	"fmt"
	"sort"
	"sync/atomic"
)

// actionProfile is an action profile or selector. Members and groups are
// immutable maps replaced on every write (copy on write: profiles hold
// hundreds of members, not millions).
type actionProfile struct {
	name     string
	maxSize  int
	selector *calculation
	algo     string
	tables   []*table
	actions  []*action

	members atomic.Pointer[map[uint32]*member]
	groups  atomic.Pointer[map[uint32]*group]

	// memberRefs and groupRefs count references from table entries and
	// groups; writer side only.
	memberRefs map[uint32]int
	groupRefs  map[uint32]int
}

type member struct {
	id    uint32
	bound *boundAction
}

type group struct {
	id      uint32
	maxSize int
	members []GroupMember
	// ring lists member ids by ascending id, each repeated by its weight;
	// a packet picks ring[hash % len(ring)].
	ring []uint32
}

func (ap *actionProfile) init() {
	ap.members.Store(&map[uint32]*member{})
	ap.groups.Store(&map[uint32]*group{})
	ap.memberRefs = map[uint32]int{}
	ap.groupRefs = map[uint32]int{}
}

func (ap *actionProfile) info() ActionProfileInfo {
	ai := ActionProfileInfo{Name: ap.name, MaxSize: ap.maxSize, WithSelector: ap.selector != nil, SelectorAlgo: ap.algo}
	for _, t := range ap.tables {
		ai.Tables = append(ai.Tables, t.name)
	}
	return ai
}

// ref adjusts the reference count of what b points at.
func (ap *actionProfile) ref(b *boundAction, d int) {
	if b.group {
		ap.groupRefs[b.id] += d
	} else {
		ap.memberRefs[b.id] += d
	}
}

func (ap *actionProfile) insertMember(m Member, modify bool) error {
	cur := *ap.members.Load()
	_, exists := cur[m.ID]
	switch {
	case modify && !exists:
		return fmt.Errorf("action profile %q member %d: %w", ap.name, m.ID, ErrNotFound)
	case !modify && exists:
		return fmt.Errorf("action profile %q member %d: %w", ap.name, m.ID, ErrExists)
	case !modify && ap.maxSize > 0 && len(cur) >= ap.maxSize:
		return fmt.Errorf("action profile %q is full (%d members): %w", ap.name, ap.maxSize, ErrTableFull)
	}
	var a *action
	for _, x := range ap.actions {
		if x.name == trimDot(m.Action) {
			a = x
		}
	}
	if a == nil {
		return fmt.Errorf("action profile %q: action %q is not an action of its tables: %w", ap.name, m.Action, ErrInvalid)
	}
	ar, err := bindArgs(a, m.Params)
	if err != nil {
		return fmt.Errorf("action profile %q member %d: %w", ap.name, m.ID, err)
	}
	call := ActionCall{Action: a.name}
	for _, p := range m.Params {
		call.Params = append(call.Params, canonical(p))
	}
	next := make(map[uint32]*member, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[m.ID] = &member{id: m.ID, bound: &boundAction{act: a, args: ar, call: call}}
	ap.members.Store(&next)
	return nil
}

func (ap *actionProfile) deleteMember(id uint32) error {
	cur := *ap.members.Load()
	if _, ok := cur[id]; !ok {
		return fmt.Errorf("action profile %q member %d: %w", ap.name, id, ErrNotFound)
	}
	if ap.memberRefs[id] > 0 {
		return fmt.Errorf("action profile %q member %d is referenced %d times: %w", ap.name, id, ap.memberRefs[id], ErrInUse)
	}
	next := make(map[uint32]*member, len(cur))
	for k, v := range cur {
		if k != id {
			next[k] = v
		}
	}
	delete(ap.memberRefs, id)
	ap.members.Store(&next)
	return nil
}

func (ap *actionProfile) listMembers() []Member {
	cur := *ap.members.Load()
	out := make([]Member, 0, len(cur))
	for _, m := range cur {
		out = append(out, Member{ID: m.id, Action: m.bound.call.Action, Params: m.bound.call.Params})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (ap *actionProfile) insertGroup(g Group, modify bool) error {
	if ap.selector == nil {
		return fmt.Errorf("action profile %q has no selector: groups are not allowed: %w", ap.name, ErrInvalid)
	}
	cur := *ap.groups.Load()
	old, exists := cur[g.ID]
	switch {
	case modify && !exists:
		return fmt.Errorf("action selector %q group %d: %w", ap.name, g.ID, ErrNotFound)
	case !modify && exists:
		return fmt.Errorf("action selector %q group %d: %w", ap.name, g.ID, ErrExists)
	}
	members := *ap.members.Load()
	ng := &group{id: g.ID, maxSize: g.MaxSize}
	if modify && g.MaxSize == 0 {
		ng.maxSize = old.maxSize
	}
	seen := map[uint32]bool{}
	total := 0
	for _, gm := range g.Members {
		if _, ok := members[gm.ID]; !ok {
			return fmt.Errorf("action selector %q group %d: member %d: %w", ap.name, g.ID, gm.ID, ErrNotFound)
		}
		if seen[gm.ID] {
			return fmt.Errorf("action selector %q group %d: member %d listed twice: %w", ap.name, g.ID, gm.ID, ErrInvalid)
		}
		seen[gm.ID] = true
		w := gm.Weight
		if w == 0 {
			w = 1
		}
		if w < 0 {
			return fmt.Errorf("action selector %q group %d: member %d weight %d: %w", ap.name, g.ID, gm.ID, gm.Weight, ErrInvalid)
		}
		total += w
		ng.members = append(ng.members, GroupMember{ID: gm.ID, Weight: w})
	}
	if ng.maxSize > 0 && total > ng.maxSize {
		return fmt.Errorf("action selector %q group %d: %d members (with weights) above its max size %d: %w", ap.name, g.ID, total, ng.maxSize, ErrTableFull)
	}
	sort.Slice(ng.members, func(i, j int) bool { return ng.members[i].ID < ng.members[j].ID })
	for _, gm := range ng.members {
		for range gm.Weight {
			ng.ring = append(ng.ring, gm.ID)
		}
	}
	next := make(map[uint32]*group, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[g.ID] = ng
	if exists {
		for _, gm := range old.members {
			ap.memberRefs[gm.ID]--
		}
	}
	for _, gm := range ng.members {
		ap.memberRefs[gm.ID]++
	}
	ap.groups.Store(&next)
	return nil
}

func (ap *actionProfile) deleteGroup(id uint32) error {
	cur := *ap.groups.Load()
	old, ok := cur[id]
	if !ok {
		return fmt.Errorf("action selector %q group %d: %w", ap.name, id, ErrNotFound)
	}
	if ap.groupRefs[id] > 0 {
		return fmt.Errorf("action selector %q group %d is referenced by %d entries: %w", ap.name, id, ap.groupRefs[id], ErrInUse)
	}
	next := make(map[uint32]*group, len(cur))
	for k, v := range cur {
		if k != id {
			next[k] = v
		}
	}
	for _, gm := range old.members {
		ap.memberRefs[gm.ID]--
	}
	delete(ap.groupRefs, id)
	ap.groups.Store(&next)
	return nil
}

func (ap *actionProfile) listGroups() []Group {
	cur := *ap.groups.Load()
	out := make([]Group, 0, len(cur))
	for _, g := range cur {
		out = append(out, Group{ID: g.id, MaxSize: g.maxSize, Members: append([]GroupMember(nil), g.members...)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// resolve returns the action an indirect entry runs for packet p, or nil
// when its group is empty or its member is gone.
func (ap *actionProfile) resolve(p *packet, b *boundAction) *boundAction {
	id := b.id
	if b.group {
		g := (*ap.groups.Load())[b.id]
		if g == nil || len(g.ring) == 0 {
			return nil
		}
		h := ap.selector.compute(p)
		id = g.ring[h%uint64(len(g.ring))]
	}
	m := (*ap.members.Load())[id]
	if m == nil {
		return nil
	}
	return m.bound
}
