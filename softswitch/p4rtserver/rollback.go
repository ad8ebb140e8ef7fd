package p4rtserver

import (
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
)

// applyAll applies a ROLLBACK_ON_ERROR batch (spec §12.2): updates are
// applied in order until one fails; then the applied ones are undone in
// reverse order, so the batch is all-or-nothing (though not atomic for
// packets in between). The failed update reports its error; the others
// report ABORTED.
func (p *pipeline) applyAll(updates []*p4v1.Update) []error {
	errs := make([]error, len(updates))
	var undo [][]*p4v1.Update
	failed := -1
	for i, u := range updates {
		inv := p.inverse(u)
		if err := p.apply(u); err != nil {
			errs[i], failed = err, i
			break
		}
		undo = append(undo, inv)
	}
	if failed < 0 {
		return errs
	}
	for i := len(undo) - 1; i >= 0; i-- {
		for _, u := range undo[i] {
			if err := p.apply(u); err != nil {
				errs[i] = errorf(codes.Internal, "rolling back update %d failed, state may be partial: %w", i, err)
			}
		}
		if errs[i] == nil {
			errs[i] = errorf(codes.Aborted, "rolled back because update %d failed", failed)
		}
	}
	for i := failed + 1; i < len(updates); i++ {
		errs[i] = errorf(codes.Aborted, "not attempted because update %d failed", failed)
	}
	return errs
}

func upd(op p4v1.Update_Type, e *p4v1.Entity) []*p4v1.Update {
	return []*p4v1.Update{{Type: op, Entity: e}}
}

// inverse returns the updates that undo u, computed before u is applied. It
// returns nil when u would change nothing (it will fail).
func (p *pipeline) inverse(u *p4v1.Update) []*p4v1.Update {
	op := u.GetType()
	undoOf := func(exists bool, old *p4v1.Entity) []*p4v1.Update {
		switch {
		case op == p4v1.Update_INSERT && !exists:
			return upd(p4v1.Update_DELETE, u.GetEntity())
		case op == p4v1.Update_MODIFY && exists:
			return upd(p4v1.Update_MODIFY, old)
		case op == p4v1.Update_DELETE && exists:
			return upd(p4v1.Update_INSERT, old)
		}
		return nil
	}
	switch e := u.GetEntity().GetEntity().(type) {
	case *p4v1.Entity_TableEntry:
		ts, ok := p.tables[e.TableEntry.GetTableId()]
		if !ok {
			return nil
		}
		if e.TableEntry.GetIsDefaultAction() {
			old := ts.defaultEntry
			if old == nil {
				old = &p4v1.TableEntry{TableId: e.TableEntry.GetTableId(), IsDefaultAction: true}
			}
			return upd(p4v1.Update_MODIFY, tableEntity(old))
		}
		_, _, k, err := parseMatch(ts.info, e.TableEntry)
		if err != nil {
			return nil
		}
		old := ts.entries[k]
		if old == nil {
			return undoOf(false, nil)
		}
		te := shallowEntry(old.pb)
		if ts.info.directCounter != 0 {
			if c, err := p.entryCounter(ts.info, old); err == nil {
				te.CounterData = c
			}
		}
		return undoOf(true, tableEntity(te))
	case *p4v1.Entity_ActionProfileMember:
		m := p.members[e.ActionProfileMember.GetActionProfileId()][e.ActionProfileMember.GetMemberId()]
		if m == nil {
			return undoOf(false, nil)
		}
		return undoOf(true, &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: m.pb}})
	case *p4v1.Entity_ActionProfileGroup:
		g := p.groups[e.ActionProfileGroup.GetActionProfileId()][e.ActionProfileGroup.GetGroupId()]
		if g == nil {
			return undoOf(false, nil)
		}
		return undoOf(true, &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileGroup{ActionProfileGroup: g.pb}})
	case *p4v1.Entity_PacketReplicationEngineEntry:
		switch x := e.PacketReplicationEngineEntry.GetType().(type) {
		case *p4v1.PacketReplicationEngineEntry_MulticastGroupEntry:
			g := p.mcast[x.MulticastGroupEntry.GetMulticastGroupId()]
			return undoOf(g != nil, preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: g}}))
		case *p4v1.PacketReplicationEngineEntry_CloneSessionEntry:
			c := p.clones[x.CloneSessionEntry.GetSessionId()]
			return undoOf(c != nil, preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_CloneSessionEntry{CloneSessionEntry: c}}))
		}
	case *p4v1.Entity_DigestEntry:
		d := p.digestCfg[e.DigestEntry.GetDigestId()]
		return undoOf(d != nil, &p4v1.Entity{Entity: &p4v1.Entity_DigestEntry{DigestEntry: d}})
	case *p4v1.Entity_CounterEntry:
		if op != p4v1.Update_MODIFY {
			return nil
		}
		q := &p4v1.CounterEntry{CounterId: e.CounterEntry.GetCounterId(), Index: e.CounterEntry.GetIndex()}
		var cells readOut
		if err := p.readCounters(q, &cells); err != nil {
			return nil
		}
		var out []*p4v1.Update
		for _, c := range cells.ents {
			out = append(out, upd(p4v1.Update_MODIFY, c)...)
		}
		return out
	case *p4v1.Entity_DirectCounterEntry:
		if op != p4v1.Update_MODIFY {
			return nil
		}
		var cur readOut
		if err := p.readDirectCounters(&p4v1.DirectCounterEntry{TableEntry: e.DirectCounterEntry.GetTableEntry()}, &cur); err != nil || len(cur.ents) != 1 {
			return nil
		}
		return upd(p4v1.Update_MODIFY, cur.ents[0])
	}
	return nil
}
