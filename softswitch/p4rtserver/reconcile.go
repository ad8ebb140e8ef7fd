package p4rtserver

import (
	"fmt"
	"maps"
	"slices"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
)

// adopt copies the forwarding state of old into p (not yet committed),
// translating P4Info ids by name, for RECONCILE_AND_COMMIT (spec §15): table
// entries, default entries, members, groups, multicast groups, clone
// sessions, digest configs, and counter values. Any object the new program
// cannot hold (a table, action, field or param gone, a width narrowed) makes
// it fail with an error naming it.
func (p *pipeline) adopt(old *pipeline) error {
	tr := &translator{old: old.schema, new: p.schema}
	fail := func(what string, err error) error {
		return errorf(codes.InvalidArgument, "RECONCILE_AND_COMMIT cannot preserve %s: %w", what, err)
	}
	apply := func(what string, u *p4v1.Update) error {
		if err := p.apply(u); err != nil {
			return fail(what, err)
		}
		return nil
	}
	for _, pid := range sortedKeys(old.members) {
		for _, id := range sortedKeys(old.members[pid]) {
			m := old.members[pid][id].pb
			what := fmt.Sprintf("member %d of %q", id, old.schema.profiles[pid].name)
			npid, err := tr.profile(pid)
			if err != nil {
				return fail(what, err)
			}
			a, err := tr.action(m.GetAction())
			if err != nil {
				return fail(what, err)
			}
			if err := apply(what, &p4v1.Update{Type: p4v1.Update_INSERT, Entity: &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{
				ActionProfileMember: &p4v1.ActionProfileMember{ActionProfileId: npid, MemberId: id, Action: a}}}}); err != nil {
				return err
			}
		}
	}
	for _, pid := range sortedKeys(old.groups) {
		for _, id := range sortedKeys(old.groups[pid]) {
			g := old.groups[pid][id].pb
			what := fmt.Sprintf("group %d of %q", id, old.schema.profiles[pid].name)
			npid, err := tr.profile(pid)
			if err != nil {
				return fail(what, err)
			}
			ng := &p4v1.ActionProfileGroup{ActionProfileId: npid, GroupId: id, Members: g.GetMembers(), MaxSize: g.GetMaxSize()}
			if err := apply(what, &p4v1.Update{Type: p4v1.Update_INSERT, Entity: &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileGroup{ActionProfileGroup: ng}}}); err != nil {
				return err
			}
		}
	}
	for _, tid := range sortedKeys(old.tables) {
		ts := old.tables[tid]
		what := fmt.Sprintf("table %q", ts.info.name)
		if len(ts.entries) == 0 && ts.defaultEntry == nil {
			continue
		}
		if ts.info.p.GetIsConstTable() {
			continue // the new program brings its own const entries
		}
		nti, err := tr.table(tid)
		if err != nil {
			return fail(what, err)
		}
		for _, k := range slices.Sorted(maps.Keys(ts.entries)) {
			e := ts.entries[k]
			if e.program {
				continue // the new program brings its own initial entries
			}
			te, err := tr.tableEntry(e.pb, nti)
			if err != nil {
				return fail(what+" entry "+describeMatch(ts.info, e.pb), err)
			}
			if ts.info.directCounter != 0 && nti.directCounter != 0 {
				if te.CounterData, err = old.entryCounter(ts.info, e); err != nil {
					return fail(what, err)
				}
			}
			if err := apply(what, &p4v1.Update{Type: p4v1.Update_INSERT, Entity: tableEntity(te)}); err != nil {
				return err
			}
		}
		if d := ts.defaultEntry; d != nil {
			a, err := tr.action(d.GetAction().GetAction())
			if err != nil {
				return fail(what+" default entry", err)
			}
			nd := &p4v1.TableEntry{TableId: nti.p.GetPreamble().GetId(), IsDefaultAction: true, Action: &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: a}},
				Metadata: d.GetMetadata()}
			setControllerMetadata(nd, controllerMetadata(d))
			if err := apply(what+" default entry", &p4v1.Update{Type: p4v1.Update_MODIFY, Entity: tableEntity(nd)}); err != nil {
				return err
			}
		}
	}
	for _, id := range sortedKeys(old.mcast) {
		if err := apply(fmt.Sprintf("multicast group %d", id), &p4v1.Update{Type: p4v1.Update_INSERT, Entity: preEntity(&p4v1.PacketReplicationEngineEntry{
			Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: old.mcast[id]}})}); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(old.clones) {
		if err := apply(fmt.Sprintf("clone session %d", id), &p4v1.Update{Type: p4v1.Update_INSERT, Entity: preEntity(&p4v1.PacketReplicationEngineEntry{
			Type: &p4v1.PacketReplicationEngineEntry_CloneSessionEntry{CloneSessionEntry: old.clones[id]}})}); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(old.digestCfg) {
		name := old.schema.digests[id].name
		nd, ok := p.schema.digestsByName[name]
		if !ok {
			return fail(fmt.Sprintf("digest %q", name), fmt.Errorf("not in the new p4info"))
		}
		p.digestCfg[nd.p.GetPreamble().GetId()] = &p4v1.DigestEntry{DigestId: nd.p.GetPreamble().GetId(), Config: old.digestCfg[id].GetConfig()}
	}
	// Indirect counters keep their values where the new program has a
	// counter of the same name; cells beyond its size are dropped.
	newCounters := map[string]*counterInfo{}
	for _, ci := range p.schema.counters {
		newCounters[ci.name] = ci
	}
	for _, ci := range old.schema.counters {
		nci := newCounters[ci.name]
		if nci == nil || old.dev == nil {
			continue
		}
		for i := int64(0); i < min(ci.p.GetSize(), nci.p.GetSize()); i++ {
			c, err := old.dev.Counter(ci.name, int(i))
			if err != nil {
				return fail(fmt.Sprintf("counter %q", ci.name), deviceError(err))
			}
			if c != (Counts{}) {
				p.pendingCells[counterCell{ci.name, int(i)}] = c
			}
		}
	}
	return nil
}

// translator maps P4Info ids of one schema to another by name.
type translator struct{ old, new *schema }

func (tr *translator) profile(id uint32) (uint32, error) {
	name := tr.old.profiles[id].name
	for nid, pi := range tr.new.profiles {
		if pi.name == name {
			return nid, nil
		}
	}
	return 0, fmt.Errorf("action profile %q is not in the new p4info", name)
}

func (tr *translator) table(id uint32) (*tableInfo, error) {
	name := tr.old.tables[id].name
	for _, ti := range tr.new.tables {
		if ti.name == name {
			return ti, nil
		}
	}
	return nil, fmt.Errorf("table %q is not in the new p4info", name)
}

// action translates an action call; widths are checked when it is applied.
func (tr *translator) action(a *p4v1.Action) (*p4v1.Action, error) {
	oai := tr.old.actions[a.GetActionId()]
	for nid, nai := range tr.new.actions {
		if nai.name != oai.name {
			continue
		}
		out := &p4v1.Action{ActionId: nid}
		for _, prm := range a.GetParams() {
			pname := oai.params[oai.paramIndex[prm.GetParamId()]].GetName()
			found := false
			for _, np := range nai.params {
				if np.GetName() == pname {
					out.Params = append(out.Params, &p4v1.Action_Param{ParamId: np.GetId(), Value: prm.GetValue()})
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("action %q has no param %q in the new p4info", oai.name, pname)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("action %q is not in the new p4info", oai.name)
}

func (tr *translator) tableEntry(te *p4v1.TableEntry, nti *tableInfo) (*p4v1.TableEntry, error) {
	oti := tr.old.tables[te.GetTableId()]
	out := shallowEntry(te)
	out.TableId = nti.p.GetPreamble().GetId()
	out.Match = nil
	for _, fm := range te.GetMatch() {
		fname := oti.fields[oti.fieldIndex[fm.GetFieldId()]].GetName()
		var nid uint32
		for _, nf := range nti.fields {
			if nf.GetName() == fname {
				nid = nf.GetId()
			}
		}
		if nid == 0 {
			return nil, fmt.Errorf("match field %q is not in the new table", fname)
		}
		nfm := &p4v1.FieldMatch{FieldId: nid, FieldMatchType: fm.GetFieldMatchType()}
		out.Match = append(out.Match, nfm)
	}
	if a := te.GetAction().GetAction(); a != nil {
		na, err := tr.action(a)
		if err != nil {
			return nil, err
		}
		out.Action = &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: na}}
	}
	return out, nil
}
