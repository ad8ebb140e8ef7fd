package asic

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// Equal reports whether a and b are the same entity with the same contents.
// Nil and empty member lists are equal.
func Equal(a, b Entity) bool {
	switch x := a.(type) {
	case AliasingGroup:
		y, ok := b.(AliasingGroup)
		return ok && x.ID == y.ID && x.SingleActive == y.SingleActive && slices.Equal(x.Members, y.Members)
	case FloodGroup:
		y, ok := b.(FloodGroup)
		return ok && x.BD == y.BD && slices.Equal(x.Members, y.Members)
	}
	return a == b
}

// Diff returns the updates that turn current into desired: sets of what is
// missing or different in ascending Kind order, then deletions of what
// desired lacks in descending Kind order. Sets only reference entities of
// desired, which exist by the time they are written; a deleted entity's
// referers were deleted or re-pointed before it. So the result can be written
// as one batch without violating references. Identical states give no
// updates.
func Diff(current, desired []Entity) ([]Update, error) {
	have := make(map[Key]Entity, len(current))
	for _, e := range current {
		have[e.Key()] = e
	}
	want := make(map[Key]Entity, len(desired))
	for _, e := range desired {
		k := e.Key()
		if _, dup := want[k]; dup {
			return nil, fmt.Errorf("diff: desired state holds %s twice", k)
		}
		want[k] = e
	}
	var dels, sets []Update
	for k, e := range have {
		if _, ok := want[k]; !ok {
			dels = append(dels, Delete(e))
		}
	}
	for k, e := range want {
		if old, ok := have[k]; !ok || !Equal(old, e) {
			sets = append(sets, Set(e))
		}
	}
	byKey := func(desc bool) func(a, b Update) int {
		return func(a, b Update) int {
			ka, kb := a.Entity.Key(), b.Entity.Key()
			c := cmp.Compare(ka.Kind, kb.Kind)
			if desc {
				c = -c
			}
			if c != 0 {
				return c
			}
			if c = cmp.Compare(ka.A, kb.A); c != 0 {
				return c
			}
			if c = cmp.Compare(ka.B, kb.B); c != 0 {
				return c
			}
			return slices.Compare(ka.MAC[:], kb.MAC[:])
		}
	}
	slices.SortFunc(dels, byKey(true))
	slices.SortFunc(sets, byKey(false))
	return append(sets, dels...), nil
}

// Reconcile reads the switch, diffs it with desired and writes only the
// difference; it returns the number of updates written. Nothing changed
// means zero writes. A switch that lost its state gets everything replayed.
func Reconcile(ctx context.Context, sw Switch, desired []Entity) (int, error) {
	current, err := sw.Read(ctx)
	if err != nil {
		return 0, fmt.Errorf("reconcile: read switch: %w", err)
	}
	updates, err := Diff(current, desired)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	if len(updates) == 0 {
		return 0, nil
	}
	if err := sw.Write(ctx, updates); err != nil {
		return len(updates), fmt.Errorf("reconcile: write %d updates: %w", len(updates), err)
	}
	return len(updates), nil
}
