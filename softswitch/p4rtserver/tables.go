package p4rtserver

import (
	"encoding/binary"
	"strings"
	"sync/atomic"
	"time"

	p4cfg "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// tableStore is the P4Runtime view of one table: every entry a controller
// wrote, in canonical form, keyed by match and priority.
type tableStore struct {
	info    *tableInfo
	entries map[string]*storedEntry
	// defaultEntry is the default entry a controller set with MODIFY; nil
	// while it is the program's.
	defaultEntry *p4v1.TableEntry
}

// storedEntry is one entry. pb is canonical and never mutated after it is
// stored (a MODIFY stores a new one), so Reads may use it after unlocking.
type storedEntry struct {
	pb   *p4v1.TableEntry
	dev  *Entry
	size int // proto.Size(pb), for sizing Read responses
	// program marks an entry the program declared (const or initial): the
	// data plane has it from the start, so it is never replayed.
	program bool
	// written is when the entry was inserted or modified (Unix ns);
	// idleFrom is when its idle time last restarted (written, or the last
	// idle notification, or the last hit the idle scan found), updated by
	// the idle scan under the read lock.
	written  int64
	idleFrom atomic.Int64
}

// newStored builds a storedEntry written now.
func newStored(pb *p4v1.TableEntry, dev *Entry, program bool) *storedEntry {
	now := time.Now().UnixNano()
	e := &storedEntry{pb: pb, dev: dev, size: proto.Size(pb), program: program, written: now}
	e.idleFrom.Store(now)
	return e
}

// parsedEntry is a validated TableEntry.
type parsedEntry struct {
	key string
	pb  *p4v1.TableEntry // canonical, without counter data
	dev *Entry
}

// parseMatch validates the match and priority of te for table ti and returns
// the canonical match (in key order), the data-plane key, and the store key.
func parseMatch(ti *tableInfo, te *p4v1.TableEntry) ([]*p4v1.FieldMatch, []MatchValue, string, error) {
	name := ti.name
	n := len(ti.fields)
	given := make([]*p4v1.FieldMatch, n)
	for _, fm := range te.GetMatch() {
		i, ok := ti.fieldIndex[fm.GetFieldId()]
		if !ok {
			return nil, nil, "", errorf(codes.InvalidArgument, "table %q: unknown match field id %d", name, fm.GetFieldId())
		}
		if given[i] != nil {
			return nil, nil, "", errorf(codes.InvalidArgument, "table %q: match field %q given twice", name, ti.fields[i].GetName())
		}
		given[i] = fm
	}
	if ti.needsPriority {
		if te.GetPriority() <= 0 {
			return nil, nil, "", errorf(codes.InvalidArgument, "table %q: priority %d: entries of a table with ternary, range or optional keys need a priority > 0", name, te.GetPriority())
		}
	} else if te.GetPriority() != 0 {
		return nil, nil, "", errorf(codes.InvalidArgument, "table %q: priority %d given, but the table has only exact and lpm keys (priority must be 0)", name, te.GetPriority())
	}
	var canon []*p4v1.FieldMatch
	key := make([]MatchValue, n)
	var kb strings.Builder
	var scratch [8]byte
	put := func(b []byte) {
		kb.Write(binary.AppendUvarint(scratch[:0], uint64(len(b))))
		kb.Write(b)
	}
	for i, mf := range ti.fields {
		fm := given[i]
		w := mf.GetBitwidth()
		kind, _ := matchKind(mf)
		what := func() string { return "table " + quote(name) + " field " + quote(mf.GetName()) }
		kb.WriteByte(byte(i))
		if fm == nil {
			if kind == MatchExact {
				return nil, nil, "", errorf(codes.InvalidArgument, "%s: exact match field is missing", what())
			}
			kb.WriteByte(0)
			continue
		}
		kb.WriteByte(1)
		var c *p4v1.FieldMatch
		var err error
		switch kind {
		case MatchExact:
			m := fm.GetExact()
			if m == nil {
				return nil, nil, "", errorf(codes.InvalidArgument, "%s: field is exact, got %s", what(), matchTypeName(fm))
			}
			var v []byte
			if v, err = canonicalize(m.GetValue(), w, what); err != nil {
				return nil, nil, "", err
			}
			if len(v) == len(m.GetValue()) && len(fm.ProtoReflect().GetUnknown()) == 0 {
				c = fm // already canonical: the request is ours to keep
			} else {
				c = &p4v1.FieldMatch{FieldId: mf.GetId(), FieldMatchType: &p4v1.FieldMatch_Exact_{Exact: &p4v1.FieldMatch_Exact{Value: v}}}
			}
			key[i] = MatchValue{Value: v}
			put(v)
		case MatchLPM:
			m := fm.GetLpm()
			if m == nil {
				return nil, nil, "", errorf(codes.InvalidArgument, "%s: field is lpm, got %s", what(), matchTypeName(fm))
			}
			var v []byte
			if v, err = canonicalize(m.GetValue(), w, what); err != nil {
				return nil, nil, "", err
			}
			pl := m.GetPrefixLen()
			if pl <= 0 || pl > w {
				return nil, nil, "", errorf(codes.InvalidArgument, "%s: prefix length %d is outside 1..%d (omit the field for a don't-care match)", what(), pl, w)
			}
			fw := fixedWidth(v, w)
			mask := prefixMask(pl, w)
			if compareFixed(andBytes(fw, mask), fw) != 0 {
				return nil, nil, "", errorf(codes.InvalidArgument, "%s: value 0x%x has bits set beyond prefix length %d", what(), v, pl)
			}
			c = &p4v1.FieldMatch{FieldId: mf.GetId(), FieldMatchType: &p4v1.FieldMatch_Lpm{Lpm: &p4v1.FieldMatch_LPM{Value: v, PrefixLen: pl}}}
			key[i] = MatchValue{Value: v, PrefixLen: pl}
			put(v)
			kb.Write(binary.AppendUvarint(scratch[:0], uint64(pl)))
		case MatchTernary:
			m := fm.GetTernary()
			if m == nil {
				return nil, nil, "", errorf(codes.InvalidArgument, "%s: field is ternary, got %s", what(), matchTypeName(fm))
			}
			var v, mk []byte
			if v, err = canonicalize(m.GetValue(), w, func() string { return what() + " value" }); err != nil {
				return nil, nil, "", err
			}
			if mk, err = canonicalize(m.GetMask(), w, func() string { return what() + " mask" }); err != nil {
				return nil, nil, "", err
			}
			if isZero(mk) {
				return nil, nil, "", errorf(codes.InvalidArgument, "%s: mask is zero (omit the field for a don't-care match)", what())
			}
			fv, fmk := fixedWidth(v, w), fixedWidth(mk, w)
			if compareFixed(andBytes(fv, fmk), fv) != 0 {
				return nil, nil, "", errorf(codes.InvalidArgument, "%s: value 0x%x has bits outside mask 0x%x", what(), v, mk)
			}
			c = &p4v1.FieldMatch{FieldId: mf.GetId(), FieldMatchType: &p4v1.FieldMatch_Ternary_{Ternary: &p4v1.FieldMatch_Ternary{Value: v, Mask: mk}}}
			key[i] = MatchValue{Value: v, Mask: mk}
			put(v)
			put(mk)
		case MatchRange:
			m := fm.GetRange()
			if m == nil {
				return nil, nil, "", errorf(codes.InvalidArgument, "%s: field is range, got %s", what(), matchTypeName(fm))
			}
			var lo, hi []byte
			if lo, err = canonicalize(m.GetLow(), w, func() string { return what() + " low" }); err != nil {
				return nil, nil, "", err
			}
			if hi, err = canonicalize(m.GetHigh(), w, func() string { return what() + " high" }); err != nil {
				return nil, nil, "", err
			}
			flo, fhi := fixedWidth(lo, w), fixedWidth(hi, w)
			if compareFixed(flo, fhi) > 0 {
				return nil, nil, "", errorf(codes.InvalidArgument, "%s: low 0x%x is above high 0x%x", what(), lo, hi)
			}
			if isZero(lo) && isAllOnes(fhi, w) {
				return nil, nil, "", errorf(codes.InvalidArgument, "%s: range covers every value (omit the field for a don't-care match)", what())
			}
			c = &p4v1.FieldMatch{FieldId: mf.GetId(), FieldMatchType: &p4v1.FieldMatch_Range_{Range: &p4v1.FieldMatch_Range{Low: lo, High: hi}}}
			key[i] = MatchValue{Value: lo, High: hi}
			put(lo)
			put(hi)
		case MatchOptional:
			m := fm.GetOptional()
			if m == nil {
				return nil, nil, "", errorf(codes.InvalidArgument, "%s: field is optional, got %s", what(), matchTypeName(fm))
			}
			var v []byte
			if v, err = canonicalize(m.GetValue(), w, what); err != nil {
				return nil, nil, "", err
			}
			c = &p4v1.FieldMatch{FieldId: mf.GetId(), FieldMatchType: &p4v1.FieldMatch_Optional_{Optional: &p4v1.FieldMatch_Optional{Value: v}}}
			key[i] = MatchValue{Value: v}
			if ti.optionalAsTernary[i] {
				key[i].Mask = trimCanonical(prefixMask(w, w))
			}
			put(v)
		}
		canon = append(canon, c)
	}
	kb.Write(binary.BigEndian.AppendUint32(scratch[:0], uint32(te.GetPriority())))
	return canon, key, kb.String(), nil
}

// parseAction validates the action of a table entry (or member) against the
// table's actions. asDefault checks the scope for a default entry.
func (p *pipeline) parseAction(ti *tableInfo, a *p4v1.Action, asDefault bool) (*p4v1.Action, *ActionCall, error) {
	scope, ok := ti.actions[a.GetActionId()]
	if !ok {
		if ai, known := p.schema.actions[a.GetActionId()]; known {
			return nil, nil, errorf(codes.InvalidArgument, "table %q: action %q is not one of its actions", ti.name, ai.name)
		}
		return nil, nil, errorf(codes.InvalidArgument, "table %q: unknown action id %d", ti.name, a.GetActionId())
	}
	ai := p.schema.actions[a.GetActionId()]
	if asDefault && scope == p4cfg.ActionRef_TABLE_ONLY {
		return nil, nil, errorf(codes.PermissionDenied, "table %q: action %q is @tableonly and cannot be the default action", ti.name, ai.name)
	}
	if !asDefault && scope == p4cfg.ActionRef_DEFAULT_ONLY {
		return nil, nil, errorf(codes.PermissionDenied, "table %q: action %q is @defaultonly and cannot be used by an entry", ti.name, ai.name)
	}
	return parseActionParams(ai, a)
}

// parseActionParams validates the parameters of an action call.
func parseActionParams(ai *actionInfo, a *p4v1.Action) (*p4v1.Action, *ActionCall, error) {
	args := make([][]byte, len(ai.params))
	for _, prm := range a.GetParams() {
		i, ok := ai.paramIndex[prm.GetParamId()]
		if !ok {
			return nil, nil, errorf(codes.InvalidArgument, "action %q: unknown param id %d", ai.name, prm.GetParamId())
		}
		if args[i] != nil {
			return nil, nil, errorf(codes.InvalidArgument, "action %q: param %q given twice", ai.name, ai.params[i].GetName())
		}
		v, err := canonicalize(prm.GetValue(), ai.params[i].GetBitwidth(), func() string { return "action " + quote(ai.name) + " param " + quote(ai.params[i].GetName()) })
		if err != nil {
			return nil, nil, err
		}
		args[i] = v
	}
	// A request already canonical, in order, is kept as it is: gRPC hands
	// the server its own copy, and it saves allocations per entry.
	reuse := len(a.GetParams()) == len(args) && len(a.ProtoReflect().GetUnknown()) == 0
	for i, v := range args {
		if v == nil {
			return nil, nil, errorf(codes.InvalidArgument, "action %q: param %q is missing", ai.name, ai.params[i].GetName())
		}
		if reuse && (a.GetParams()[i].GetParamId() != ai.params[i].GetId() || len(a.GetParams()[i].GetValue()) != len(v)) {
			reuse = false
		}
	}
	if reuse {
		return a, &ActionCall{Name: ai.name, Args: args}, nil
	}
	canon := &p4v1.Action{ActionId: a.GetActionId()}
	for i, v := range args {
		canon.Params = append(canon.Params, &p4v1.Action_Param{ParamId: ai.params[i].GetId(), Value: v})
	}
	return canon, &ActionCall{Name: ai.name, Args: args}, nil
}

// parseTableAction validates te.action for an entry of ti; nil when unset.
func (p *pipeline) parseTableAction(ti *tableInfo, ta *p4v1.TableAction, dev *Entry) (*p4v1.TableAction, error) {
	switch x := ta.GetType().(type) {
	case *p4v1.TableAction_Action:
		if ti.profile != nil {
			return nil, errorf(codes.InvalidArgument, "table %q is indirect (action profile %q): give an action profile member or group id, not an action", ti.name, ti.profile.name)
		}
		canon, call, err := p.parseAction(ti, x.Action, false)
		if err != nil {
			return nil, err
		}
		dev.Action = call
		return &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: canon}}, nil
	case *p4v1.TableAction_ActionProfileMemberId:
		if ti.profile == nil {
			return nil, errorf(codes.InvalidArgument, "table %q is direct: give an action, not member id %d", ti.name, x.ActionProfileMemberId)
		}
		if _, ok := p.members[ti.profile.p.GetPreamble().GetId()][x.ActionProfileMemberId]; !ok {
			return nil, errorf(codes.NotFound, "table %q: member %d is not in action profile %q", ti.name, x.ActionProfileMemberId, ti.profile.name)
		}
		dev.Member, dev.IsMember = x.ActionProfileMemberId, true
		return ta, nil
	case *p4v1.TableAction_ActionProfileGroupId:
		if ti.profile == nil {
			return nil, errorf(codes.InvalidArgument, "table %q is direct: give an action, not group id %d", ti.name, x.ActionProfileGroupId)
		}
		if !ti.profile.p.GetWithSelector() {
			return nil, errorf(codes.InvalidArgument, "table %q: action profile %q has no selector, so no groups (group id %d)", ti.name, ti.profile.name, x.ActionProfileGroupId)
		}
		if _, ok := p.groups[ti.profile.p.GetPreamble().GetId()][x.ActionProfileGroupId]; !ok {
			return nil, errorf(codes.NotFound, "table %q: group %d is not in action selector %q", ti.name, x.ActionProfileGroupId, ti.profile.name)
		}
		dev.Group, dev.IsGroup = x.ActionProfileGroupId, true
		return ta, nil
	case *p4v1.TableAction_ActionProfileActionSet:
		return nil, errorf(codes.Unimplemented, "table %q: one-shot action selector programming (action_profile_action_set) is not supported; program members and groups", ti.name)
	case nil:
		return nil, nil
	}
	return nil, errorf(codes.InvalidArgument, "table %q: unknown table action type %T", ti.name, ta.GetType())
}

// parseTableEntry validates te for an update of type op.
func (p *pipeline) parseTableEntry(te *p4v1.TableEntry, op p4v1.Update_Type) (*tableStore, *parsedEntry, error) {
	ts, ok := p.tables[te.GetTableId()]
	if !ok {
		if te.GetTableId() == 0 {
			return nil, nil, errorf(codes.InvalidArgument, "table entry: table id is 0")
		}
		return nil, nil, errorf(codes.InvalidArgument, "table entry: unknown table id %d", te.GetTableId())
	}
	ti := ts.info
	if te.GetIsConst() {
		return nil, nil, errorf(codes.InvalidArgument, "table %q: is_const must be false in a write", ti.name)
	}
	// A DELETE considers only the key (spec §9.1): the rest is ignored.
	if op != p4v1.Update_DELETE {
		if te.GetMeterConfig() != nil || te.GetMeterCounterData() != nil {
			return nil, nil, errorf(codes.InvalidArgument, "table %q: meter config or meter counter data given, but the table has no direct meter", ti.name)
		}
		if te.GetTimeSinceLastHit() != nil {
			return nil, nil, errorf(codes.InvalidArgument, "table %q: time_since_last_hit must be unset in a write", ti.name)
		}
		if te.GetIdleTimeoutNs() != 0 && (!ti.idleTimeout || te.GetIsDefaultAction()) {
			return nil, nil, errorf(codes.InvalidArgument, "table %q: idle_timeout_ns %d given, but the %s does not support idle timeout", ti.name, te.GetIdleTimeoutNs(), map[bool]string{true: "default entry", false: "table"}[te.GetIsDefaultAction()])
		}
		if te.GetIdleTimeoutNs() < 0 {
			return nil, nil, errorf(codes.InvalidArgument, "table %q: idle_timeout_ns %d is negative", ti.name, te.GetIdleTimeoutNs())
		}
		if te.GetCounterData() != nil && ti.directCounter == 0 {
			return nil, nil, errorf(codes.InvalidArgument, "table %q: counter_data given, but the table has no direct counter", ti.name)
		}
	}
	if ti.p.GetIsConstTable() && !te.GetIsDefaultAction() {
		return nil, nil, errorf(codes.PermissionDenied, "table %q has const entries: they cannot be inserted, modified or deleted", ti.name)
	}
	if te.GetIsDefaultAction() {
		return ts, nil, nil // parsed by the default-entry path
	}
	if len(ti.fields) == 0 {
		return nil, nil, errorf(codes.InvalidArgument, "table %q has no key: only its default entry can be written (is_default_action)", ti.name)
	}
	match, key, k, err := parseMatch(ti, te)
	if err != nil {
		return nil, nil, err
	}
	pe := &parsedEntry{key: k, dev: &Entry{Key: key, Priority: te.GetPriority()}}
	pe.pb = &p4v1.TableEntry{
		TableId: te.GetTableId(), Match: match, Priority: te.GetPriority(),
		Metadata: te.GetMetadata(), IdleTimeoutNs: te.GetIdleTimeoutNs(),
	}
	setControllerMetadata(pe.pb, controllerMetadata(te))
	if op == p4v1.Update_DELETE {
		return ts, pe, nil
	}
	if pe.pb.Action, err = p.parseTableAction(ti, te.GetAction(), pe.dev); err != nil {
		return nil, nil, err
	}
	if pe.pb.Action == nil && op == p4v1.Update_INSERT {
		return nil, nil, errorf(codes.InvalidArgument, "table %q: INSERT without an action", ti.name)
	}
	return ts, pe, nil
}

// writeTableEntry applies one table entry update.
func (p *pipeline) writeTableEntry(op p4v1.Update_Type, te *p4v1.TableEntry) error {
	ts, pe, err := p.parseTableEntry(te, op)
	if err != nil {
		return err
	}
	if te.GetIsDefaultAction() {
		return p.writeDefaultEntry(ts, op, te)
	}
	ti := ts.info
	old := ts.entries[pe.key]
	switch op {
	case p4v1.Update_INSERT:
		if old != nil {
			return errorf(codes.AlreadyExists, "table %q: entry %s already exists", ti.name, describeMatch(ti, pe.pb))
		}
		if size := ti.p.GetSize(); size > 0 && int64(len(ts.entries)) >= size {
			return errorf(codes.ResourceExhausted, "table %q is full (%d entries)", ti.name, size)
		}
		if cd := te.GetCounterData(); cd != nil {
			pe.dev.Counter, pe.dev.SetCounter = Counts{Bytes: cd.GetByteCount(), Packets: cd.GetPacketCount()}, true
		}
		if err := p.device(func(d Device) error { return d.InsertEntry(ti.name, pe.dev) }); err != nil {
			return err
		}
		p.ref(ti, pe.dev, 1)
		pe.dev.SetCounter = false
		ts.entries[pe.key] = newStored(pe.pb, pe.dev, false)
		if p.dev == nil && te.GetCounterData() != nil {
			p.pendingCounters[pe.key] = Counts{Bytes: te.GetCounterData().GetByteCount(), Packets: te.GetCounterData().GetPacketCount()}
		}
	case p4v1.Update_MODIFY:
		if old == nil {
			return errorf(codes.NotFound, "table %q: entry %s does not exist", ti.name, describeMatch(ti, pe.pb))
		}
		if pe.pb.Action == nil {
			// An unset action keeps the entry's action (spec §9.1.2).
			pe.pb.Action = old.pb.GetAction()
			pe.dev.Action, pe.dev.Member, pe.dev.Group, pe.dev.IsMember, pe.dev.IsGroup = old.dev.Action, old.dev.Member, old.dev.Group, old.dev.IsMember, old.dev.IsGroup
		}
		if cd := te.GetCounterData(); cd != nil {
			pe.dev.Counter, pe.dev.SetCounter = Counts{Bytes: cd.GetByteCount(), Packets: cd.GetPacketCount()}, true
		}
		if err := p.device(func(d Device) error { return d.ModifyEntry(ti.name, pe.dev) }); err != nil {
			return err
		}
		p.ref(ti, pe.dev, 1)
		p.ref(ti, old.dev, -1)
		if p.dev == nil && pe.dev.SetCounter {
			p.pendingCounters[pe.key] = pe.dev.Counter
		}
		pe.dev.SetCounter = false
		ts.entries[pe.key] = newStored(pe.pb, pe.dev, old.program)
	case p4v1.Update_DELETE:
		if old == nil {
			return errorf(codes.NotFound, "table %q: entry %s does not exist", ti.name, describeMatch(ti, pe.pb))
		}
		if err := p.device(func(d Device) error { return d.DeleteEntry(ti.name, old.dev) }); err != nil {
			return err
		}
		p.ref(ti, old.dev, -1)
		delete(ts.entries, pe.key)
		delete(p.pendingCounters, pe.key)
	default:
		return errorf(codes.InvalidArgument, "table %q: update type %v", ti.name, op)
	}
	return nil
}

// writeDefaultEntry handles MODIFY of a table's default entry (spec §9.1.3).
func (p *pipeline) writeDefaultEntry(ts *tableStore, op p4v1.Update_Type, te *p4v1.TableEntry) error {
	ti := ts.info
	if op != p4v1.Update_MODIFY {
		return errorf(codes.InvalidArgument, "table %q: the default entry can only be modified, not %v", ti.name, op)
	}
	if len(te.GetMatch()) != 0 || te.GetPriority() != 0 {
		return errorf(codes.InvalidArgument, "table %q: a default entry has no match and priority 0", ti.name)
	}
	if ti.constDefault {
		return errorf(codes.PermissionDenied, "table %q: the default action is const", ti.name)
	}
	if ti.profile != nil {
		return errorf(codes.PermissionDenied, "table %q is indirect: its default entry is a constant NoAction (spec §9.1.3)", ti.name)
	}
	if te.GetCounterData() != nil {
		return errorf(codes.Unimplemented, "table %q: the direct counter of the default entry cannot be written on this device", ti.name)
	}
	if te.GetAction() == nil {
		if err := p.device(func(d Device) error { return d.SetDefaultAction(ti.name, nil) }); err != nil {
			return err
		}
		ts.defaultEntry = nil
		return nil
	}
	a := te.GetAction().GetAction()
	if a == nil {
		return errorf(codes.InvalidArgument, "table %q: the default entry of a direct table takes an action", ti.name)
	}
	canon, call, err := p.parseAction(ti, a, true)
	if err != nil {
		return err
	}
	if err := p.device(func(d Device) error { return d.SetDefaultAction(ti.name, call) }); err != nil {
		return err
	}
	ts.defaultEntry = &p4v1.TableEntry{
		TableId: te.GetTableId(), IsDefaultAction: true,
		Action:   &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: canon}},
		Metadata: te.GetMetadata(),
	}
	setControllerMetadata(ts.defaultEntry, controllerMetadata(te))
	return nil
}

// ref adjusts the reference counts of the member or group an entry uses.
func (p *pipeline) ref(ti *tableInfo, e *Entry, delta int) {
	if ti.profile == nil {
		return
	}
	pid := ti.profile.p.GetPreamble().GetId()
	if e.IsMember {
		if m := p.members[pid][e.Member]; m != nil {
			m.refs += delta
		}
	}
	if e.IsGroup {
		if g := p.groups[pid][e.Group]; g != nil {
			g.refs += delta
		}
	}
}

// programDefault is the default entry of ti as the program declares it.
func (p *pipeline) programDefault(ti *tableInfo) *p4v1.TableEntry {
	te := &p4v1.TableEntry{TableId: ti.p.GetPreamble().GetId(), IsDefaultAction: true}
	if ti.profile != nil {
		return te
	}
	call := p.prog.Schema().Tables[ti.name].DefaultAction
	if a, err := p.actionOf(&call); err == nil {
		te.Action = &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: a}}
	}
	return te
}

func matchTypeName(fm *p4v1.FieldMatch) string {
	switch fm.GetFieldMatchType().(type) {
	case *p4v1.FieldMatch_Exact_:
		return "exact"
	case *p4v1.FieldMatch_Lpm:
		return "lpm"
	case *p4v1.FieldMatch_Ternary_:
		return "ternary"
	case *p4v1.FieldMatch_Range_:
		return "range"
	case *p4v1.FieldMatch_Optional_:
		return "optional"
	case nil:
		return "no match value"
	}
	return "an unsupported match type"
}

// describeMatch renders an entry's key for error messages.
func describeMatch(ti *tableInfo, te *p4v1.TableEntry) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, fm := range te.GetMatch() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ti.fields[ti.fieldIndex[fm.GetFieldId()]].GetName())
		b.WriteByte('=')
		switch m := fm.GetFieldMatchType().(type) {
		case *p4v1.FieldMatch_Exact_:
			b.WriteString(hexStr(m.Exact.GetValue()))
		case *p4v1.FieldMatch_Lpm:
			b.WriteString(hexStr(m.Lpm.GetValue()) + "/" + itoa(int(m.Lpm.GetPrefixLen())))
		case *p4v1.FieldMatch_Ternary_:
			b.WriteString(hexStr(m.Ternary.GetValue()) + "&&&" + hexStr(m.Ternary.GetMask()))
		case *p4v1.FieldMatch_Range_:
			b.WriteString(hexStr(m.Range.GetLow()) + ".." + hexStr(m.Range.GetHigh()))
		case *p4v1.FieldMatch_Optional_:
			b.WriteString(hexStr(m.Optional.GetValue()))
		}
	}
	if te.GetPriority() != 0 {
		b.WriteString(" priority " + itoa(int(te.GetPriority())))
	}
	b.WriteByte('}')
	return b.String()
}

// isAllOnes reports whether the fixed-width value b has all of its low width
// bits set.
func isAllOnes(b []byte, width int32) bool {
	return compareFixed(b, prefixMask(width, width)) == 0
}
