package p4rtserver

import (
	"fmt"
	"slices"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
)

// pipeline is a forwarding pipeline config and the P4Runtime view of the
// state written for it. The server keeps this view itself (rather than
// reading the data plane back) so reads return exactly what was written, in
// canonical form, with the controller's metadata; the data plane is only asked
// for what it alone knows: counters.
type pipeline struct {
	schema *schema
	prog   Program
	config *p4v1.ForwardingPipelineConfig
	// dev is nil while the pipeline is saved but not committed: writes are
	// then recorded here and replayed into the device on COMMIT.
	dev Device

	tables    map[uint32]*tableStore
	members   map[uint32]map[uint32]*memberState // profile id → member id
	groups    map[uint32]map[uint32]*groupState  // profile id → group id
	mcast     map[uint32]*p4v1.MulticastGroupEntry
	clones    map[uint32]*p4v1.CloneSessionEntry
	digestCfg map[uint32]*p4v1.DigestEntry
	// pendingCounters and pendingCells hold counter values written before
	// COMMIT, to be replayed.
	pendingCounters map[string]Counts
	pendingCells    map[counterCell]Counts
}

type counterCell struct {
	name  string
	index int
}

type memberState struct {
	pb   *p4v1.ActionProfileMember
	call *ActionCall
	refs int // groups and table entries using it
}

type groupState struct {
	pb      *p4v1.ActionProfileGroup
	members []uint32
	refs    int // table entries using it
}

func newPipeline(sc *schema, prog Program, cfg *p4v1.ForwardingPipelineConfig) *pipeline {
	p := &pipeline{
		schema: sc, prog: prog, config: cfg,
		tables:          map[uint32]*tableStore{},
		members:         map[uint32]map[uint32]*memberState{},
		groups:          map[uint32]map[uint32]*groupState{},
		mcast:           map[uint32]*p4v1.MulticastGroupEntry{},
		clones:          map[uint32]*p4v1.CloneSessionEntry{},
		digestCfg:       map[uint32]*p4v1.DigestEntry{},
		pendingCounters: map[string]Counts{},
		pendingCells:    map[counterCell]Counts{},
	}
	for id, ti := range sc.tables {
		p.tables[id] = &tableStore{info: ti, entries: map[string]*storedEntry{}}
	}
	for id := range sc.profiles {
		p.members[id] = map[uint32]*memberState{}
		p.groups[id] = map[uint32]*groupState{}
	}
	return p
}

// device runs op on the data plane, unless the pipeline is only saved.
func (p *pipeline) device(op func(Device) error) error {
	if p.dev == nil {
		return nil
	}
	return deviceError(op(p.dev))
}

// commit makes a saved pipeline live on dev: it runs the program and
// replays every entity written since the save (spec §15 COMMIT).
func (p *pipeline) commit(dev Device) error {
	if err := dev.Run(p.prog); err != nil {
		return deviceError(fmt.Errorf("running the program: %w", err))
	}
	if err := p.adoptProgramEntries(dev); err != nil {
		return err
	}
	replay := func(what string, err error) error {
		if err != nil {
			return errorf(codes.Internal, "replaying %s into the committed pipeline: %w", what, err)
		}
		return nil
	}
	for pid, ms := range p.members {
		for _, id := range sortedKeys(ms) {
			m := ms[id]
			if err := replay("member", dev.InsertMember(p.schema.profiles[pid].name, id, m.call)); err != nil {
				return err
			}
		}
	}
	for pid, gs := range p.groups {
		for _, id := range sortedKeys(gs) {
			if err := replay("group", dev.InsertGroup(p.schema.profiles[pid].name, id, gs[id].members)); err != nil {
				return err
			}
		}
	}
	for _, ts := range p.tables {
		for k, e := range ts.entries {
			if e.program {
				continue
			}
			ent := *e.dev
			if c, ok := p.pendingCounters[k]; ok {
				ent.Counter, ent.SetCounter = c, true
			}
			if err := replay("table entry", dev.InsertEntry(ts.info.name, &ent)); err != nil {
				return err
			}
		}
		if ts.defaultEntry != nil {
			_, call, err := p.parseAction(ts.info, ts.defaultEntry.GetAction().GetAction(), true)
			if err == nil {
				err = dev.SetDefaultAction(ts.info.name, call)
			}
			if err := replay("default entry", err); err != nil {
				return err
			}
		}
	}
	for _, id := range sortedKeys(p.mcast) {
		reps, _ := replicas(p.mcast[id].GetReplicas(), "multicast group")
		if err := replay("multicast group", dev.InsertMulticastGroup(id, reps)); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(p.clones) {
		cs, _ := cloneSession(p.clones[id])
		if err := replay("clone session", dev.InsertCloneSession(id, cs)); err != nil {
			return err
		}
	}
	for c, v := range p.pendingCells {
		if err := replay("counter", dev.SetCounter(c.name, c.index, v)); err != nil {
			return err
		}
	}
	p.dev = dev
	p.pendingCounters = map[string]Counts{}
	p.pendingCells = map[counterCell]Counts{}
	return nil
}

// adoptProgramEntries stores the const and initial entries the program
// declares, so that reads return them (spec §9.1.4, §9.1.5).
func (p *pipeline) adoptProgramEntries(dev Device) error {
	for tid, ts := range p.tables {
		ti := ts.info
		if !ti.p.GetIsConstTable() && !ti.p.GetHasInitialEntries() {
			continue
		}
		es, err := dev.Entries(ti.name)
		if err != nil {
			return deviceError(fmt.Errorf("table %q: listing program entries: %w", ti.name, err))
		}
		for i := range es {
			e := &es[i]
			te := &p4v1.TableEntry{TableId: tid, Priority: e.Priority, IsConst: ti.p.GetIsConstTable()}
			for j, mv := range e.Key {
				if j >= len(ti.fields) {
					break
				}
				if fm := fieldMatchOf(ti, j, mv); fm != nil {
					te.Match = append(te.Match, fm)
				}
			}
			if e.Action != nil {
				a, err := p.actionOf(e.Action)
				if err != nil {
					return errorf(codes.InvalidArgument, "table %q: program entry: %w", ti.name, err)
				}
				te.Action = &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: a}}
			}
			_, _, k, err := parseMatch(ti, te)
			if err != nil {
				return errorf(codes.InvalidArgument, "table %q: program entry %d: %w", ti.name, i, err)
			}
			ts.entries[k] = newStored(te, e, true)
		}
	}
	return nil
}

// fieldMatchOf is the P4Runtime form of key field j of an entry read from
// the device; nil for a don't-care.
func fieldMatchOf(ti *tableInfo, j int, mv MatchValue) *p4v1.FieldMatch {
	mf := ti.fields[j]
	kind, _ := matchKind(mf)
	id := mf.GetId()
	switch kind {
	case MatchExact:
		return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Exact_{Exact: &p4v1.FieldMatch_Exact{Value: trimCanonical(mv.Value)}}}
	case MatchLPM:
		if mv.PrefixLen == 0 {
			return nil
		}
		return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Lpm{Lpm: &p4v1.FieldMatch_LPM{Value: trimCanonical(mv.Value), PrefixLen: mv.PrefixLen}}}
	case MatchTernary:
		if mv.Mask == nil || isZero(mv.Mask) {
			return nil
		}
		return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Ternary_{Ternary: &p4v1.FieldMatch_Ternary{Value: trimCanonical(mv.Value), Mask: trimCanonical(mv.Mask)}}}
	case MatchRange:
		if mv.Value == nil && mv.High == nil {
			return nil
		}
		if isZero(mv.Value) && isAllOnes(fixedWidth(trimCanonical(mv.High), mf.GetBitwidth()), mf.GetBitwidth()) {
			return nil
		}
		return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Range_{Range: &p4v1.FieldMatch_Range{Low: trimCanonical(mv.Value), High: trimCanonical(mv.High)}}}
	case MatchOptional:
		if mv.Value == nil || (ti.optionalAsTernary[j] && (mv.Mask == nil || isZero(mv.Mask))) {
			return nil
		}
		return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Optional_{Optional: &p4v1.FieldMatch_Optional{Value: trimCanonical(mv.Value)}}}
	}
	return nil
}

// actionOf is the P4Runtime form of an action call read from the device.
func (p *pipeline) actionOf(call *ActionCall) (*p4v1.Action, error) {
	for id, ai := range p.schema.actions {
		if ai.name != call.Name {
			continue
		}
		a := &p4v1.Action{ActionId: id}
		for i, v := range call.Args {
			if i < len(ai.params) {
				a.Params = append(a.Params, &p4v1.Action_Param{ParamId: ai.params[i].GetId(), Value: trimCanonical(v)})
			}
		}
		return a, nil
	}
	return nil, fmt.Errorf("action %q is not in the p4info", call.Name)
}

func sortedKeys[V any](m map[uint32]V) []uint32 {
	ks := make([]uint32, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// apply performs one update.
func (p *pipeline) apply(u *p4v1.Update) error {
	op := u.GetType()
	if op == p4v1.Update_UNSPECIFIED || p4v1.Update_Type_name[int32(op)] == "" {
		return errorf(codes.InvalidArgument, "update type %v is not INSERT, MODIFY or DELETE", op)
	}
	switch e := u.GetEntity().GetEntity().(type) {
	case *p4v1.Entity_TableEntry:
		return p.writeTableEntry(op, e.TableEntry)
	case *p4v1.Entity_ActionProfileMember:
		return p.writeMember(op, e.ActionProfileMember)
	case *p4v1.Entity_ActionProfileGroup:
		return p.writeGroup(op, e.ActionProfileGroup)
	case *p4v1.Entity_PacketReplicationEngineEntry:
		switch x := e.PacketReplicationEngineEntry.GetType().(type) {
		case *p4v1.PacketReplicationEngineEntry_MulticastGroupEntry:
			return p.writeMulticastGroup(op, x.MulticastGroupEntry)
		case *p4v1.PacketReplicationEngineEntry_CloneSessionEntry:
			return p.writeCloneSession(op, x.CloneSessionEntry)
		}
		return errorf(codes.InvalidArgument, "packet replication engine entry without a multicast group or clone session")
	case *p4v1.Entity_CounterEntry:
		return p.writeCounter(op, e.CounterEntry)
	case *p4v1.Entity_DirectCounterEntry:
		return p.writeDirectCounter(op, e.DirectCounterEntry)
	case *p4v1.Entity_DigestEntry:
		return p.writeDigestEntry(op, e.DigestEntry)
	case *p4v1.Entity_MeterEntry, *p4v1.Entity_DirectMeterEntry:
		return errorf(codes.NotFound, "meters: the pipeline has no meters")
	case *p4v1.Entity_RegisterEntry, *p4v1.Entity_ValueSetEntry, *p4v1.Entity_ExternEntry:
		return errorf(codes.Unimplemented, "entity %T cannot be written on this device", e)
	case nil:
		return errorf(codes.InvalidArgument, "update has no entity")
	}
	return errorf(codes.Unimplemented, "unknown entity type")
}

func (p *pipeline) profile(id uint32, what string) (*profileInfo, error) {
	pi, ok := p.schema.profiles[id]
	if !ok {
		return nil, errorf(codes.InvalidArgument, "%s: unknown action profile id %d", what, id)
	}
	return pi, nil
}

func (p *pipeline) writeMember(op p4v1.Update_Type, m *p4v1.ActionProfileMember) error {
	pi, err := p.profile(m.GetActionProfileId(), "action profile member")
	if err != nil {
		return err
	}
	pid := m.GetActionProfileId()
	old := p.members[pid][m.GetMemberId()]
	what := fmt.Sprintf("action profile %q member %d", pi.name, m.GetMemberId())
	var canon *p4v1.Action
	var call *ActionCall
	if op != p4v1.Update_DELETE {
		if m.GetAction() == nil {
			return errorf(codes.InvalidArgument, "%s: action is missing", what)
		}
		ai, ok := p.schema.actions[m.GetAction().GetActionId()]
		if !ok {
			return errorf(codes.InvalidArgument, "%s: unknown action id %d", what, m.GetAction().GetActionId())
		}
		if len(pi.tables) > 0 {
			if _, ok := pi.tables[0].actions[ai.p.GetPreamble().GetId()]; !ok {
				return errorf(codes.InvalidArgument, "%s: action %q is not an action of table %q", what, ai.name, pi.tables[0].name)
			}
		}
		if canon, call, err = parseActionParams(ai, m.GetAction()); err != nil {
			return err
		}
	}
	switch op {
	case p4v1.Update_INSERT:
		if old != nil {
			return errorf(codes.AlreadyExists, "%s already exists", what)
		}
		if size := pi.p.GetSize(); size > 0 && !pi.p.GetWithSelector() && int64(len(p.members[pid])) >= size {
			return errorf(codes.ResourceExhausted, "action profile %q is full (%d members)", pi.name, size)
		}
		if err := p.device(func(d Device) error { return d.InsertMember(pi.name, m.GetMemberId(), call) }); err != nil {
			return err
		}
		p.members[pid][m.GetMemberId()] = &memberState{pb: &p4v1.ActionProfileMember{ActionProfileId: pid, MemberId: m.GetMemberId(), Action: canon}, call: call}
	case p4v1.Update_MODIFY:
		if old == nil {
			return errorf(codes.NotFound, "%s does not exist", what)
		}
		if err := p.device(func(d Device) error { return d.ModifyMember(pi.name, m.GetMemberId(), call) }); err != nil {
			return err
		}
		p.members[pid][m.GetMemberId()] = &memberState{pb: &p4v1.ActionProfileMember{ActionProfileId: pid, MemberId: m.GetMemberId(), Action: canon}, call: call, refs: old.refs}
	case p4v1.Update_DELETE:
		if old == nil {
			return errorf(codes.NotFound, "%s does not exist", what)
		}
		if old.refs > 0 {
			return errorf(codes.FailedPrecondition, "%s is still used by %d groups or table entries", what, old.refs)
		}
		if err := p.device(func(d Device) error { return d.DeleteMember(pi.name, m.GetMemberId()) }); err != nil {
			return err
		}
		delete(p.members[pid], m.GetMemberId())
	}
	return nil
}

func (p *pipeline) writeGroup(op p4v1.Update_Type, g *p4v1.ActionProfileGroup) error {
	pi, err := p.profile(g.GetActionProfileId(), "action profile group")
	if err != nil {
		return err
	}
	pid := g.GetActionProfileId()
	what := fmt.Sprintf("action selector %q group %d", pi.name, g.GetGroupId())
	if !pi.p.GetWithSelector() {
		return errorf(codes.InvalidArgument, "%s: action profile %q has no selector, so no groups", what, pi.name)
	}
	old := p.groups[pid][g.GetGroupId()]
	var ids []uint32
	if op != p4v1.Update_DELETE {
		seen := map[uint32]bool{}
		for _, m := range g.GetMembers() {
			if seen[m.GetMemberId()] {
				return errorf(codes.InvalidArgument, "%s: member %d is listed twice (use weight to repeat a member)", what, m.GetMemberId())
			}
			seen[m.GetMemberId()] = true
			if _, ok := p.members[pid][m.GetMemberId()]; !ok {
				return errorf(codes.NotFound, "%s: member %d does not exist", what, m.GetMemberId())
			}
			if m.GetWeight() > 1 {
				return errorf(codes.Unimplemented, "%s: member %d has weight %d; this device supports weight 1 only", what, m.GetMemberId(), m.GetWeight())
			}
			if m.GetWeight() < 0 {
				return errorf(codes.InvalidArgument, "%s: member %d has negative weight %d", what, m.GetMemberId(), m.GetWeight())
			}
			if m.GetWatchKind() != nil {
				return errorf(codes.Unimplemented, "%s: member %d: watch ports are not supported", what, m.GetMemberId())
			}
			ids = append(ids, m.GetMemberId())
		}
		if max := pi.p.GetMaxGroupSize(); max > 0 {
			if g.GetMaxSize() > max {
				return errorf(codes.InvalidArgument, "%s: max_size %d exceeds the selector's max_group_size %d", what, g.GetMaxSize(), max)
			}
		}
		if g.GetMaxSize() < 0 {
			return errorf(codes.InvalidArgument, "%s: max_size %d is negative", what, g.GetMaxSize())
		}
		limit := g.GetMaxSize()
		if limit == 0 {
			limit = pi.p.GetMaxGroupSize()
		}
		if limit > 0 && int32(len(ids)) > limit {
			return errorf(codes.ResourceExhausted, "%s: %d members exceed max_size %d", what, len(ids), limit)
		}
	}
	canon := &p4v1.ActionProfileGroup{ActionProfileId: pid, GroupId: g.GetGroupId(), MaxSize: g.GetMaxSize()}
	for _, m := range g.GetMembers() {
		canon.Members = append(canon.Members, &p4v1.ActionProfileGroup_Member{MemberId: m.GetMemberId(), Weight: m.GetWeight()})
	}
	refMembers := func(ids []uint32, delta int) {
		for _, id := range ids {
			p.members[pid][id].refs += delta
		}
	}
	switch op {
	case p4v1.Update_INSERT:
		if old != nil {
			return errorf(codes.AlreadyExists, "%s already exists", what)
		}
		if err := p.device(func(d Device) error { return d.InsertGroup(pi.name, g.GetGroupId(), ids) }); err != nil {
			return err
		}
		refMembers(ids, 1)
		p.groups[pid][g.GetGroupId()] = &groupState{pb: canon, members: ids}
	case p4v1.Update_MODIFY:
		if old == nil {
			return errorf(codes.NotFound, "%s does not exist", what)
		}
		if g.GetMaxSize() != old.pb.GetMaxSize() {
			return errorf(codes.InvalidArgument, "%s: max_size cannot change from %d to %d", what, old.pb.GetMaxSize(), g.GetMaxSize())
		}
		if err := p.device(func(d Device) error { return d.ModifyGroup(pi.name, g.GetGroupId(), ids) }); err != nil {
			return err
		}
		refMembers(ids, 1)
		refMembers(old.members, -1)
		p.groups[pid][g.GetGroupId()] = &groupState{pb: canon, members: ids, refs: old.refs}
	case p4v1.Update_DELETE:
		if old == nil {
			return errorf(codes.NotFound, "%s does not exist", what)
		}
		if old.refs > 0 {
			return errorf(codes.FailedPrecondition, "%s is still used by %d table entries", what, old.refs)
		}
		if err := p.device(func(d Device) error { return d.DeleteGroup(pi.name, g.GetGroupId()) }); err != nil {
			return err
		}
		refMembers(old.members, -1)
		delete(p.groups[pid], g.GetGroupId())
	}
	return nil
}

// maxInstance is the largest replica instance (BMv2's egress_rid is 16 bits).
const maxInstance = 0xffff

// replicas validates the replicas of a multicast group or clone session.
func replicas(rs []*p4v1.Replica, what string) ([]Replica, error) {
	out := make([]Replica, 0, len(rs))
	seen := map[Replica]bool{}
	for i, r := range rs {
		var port uint32
		switch pk := r.GetPortKind().(type) {
		case *p4v1.Replica_Port:
			v, err := canonicalize(pk.Port, 32, func() string { return fmt.Sprintf("%s replica %d port", what, i) })
			if err != nil {
				return nil, err
			}
			for _, c := range v {
				port = port<<8 | uint32(c)
			}
		case *p4v1.Replica_EgressPort:
			port = replicaEgressPort(pk)
		default:
			return nil, errorf(codes.InvalidArgument, "%s replica %d: port is missing", what, i)
		}
		if r.GetInstance() > maxInstance {
			return nil, errorf(codes.InvalidArgument, "%s replica %d: instance %d exceeds %d", what, i, r.GetInstance(), maxInstance)
		}
		if len(r.GetBackupReplicas()) > 0 {
			return nil, errorf(codes.Unimplemented, "%s replica %d: backup replicas are not supported", what, i)
		}
		rep := Replica{Port: port, Instance: r.GetInstance()}
		if seen[rep] {
			return nil, errorf(codes.InvalidArgument, "%s: replica (port %d, instance %d) is listed twice", what, port, r.GetInstance())
		}
		seen[rep] = true
		out = append(out, rep)
	}
	return out, nil
}

// canonicalReplicas returns rs with canonical port bytestrings.
func canonicalReplicas(rs []*p4v1.Replica) []*p4v1.Replica {
	out := make([]*p4v1.Replica, len(rs))
	for i, r := range rs {
		c := &p4v1.Replica{Instance: r.GetInstance()}
		switch pk := r.GetPortKind().(type) {
		case *p4v1.Replica_Port:
			c.PortKind = &p4v1.Replica_Port{Port: trimCanonical(pk.Port)}
		case *p4v1.Replica_EgressPort:
			c.PortKind = newReplicaEgressPort(replicaEgressPort(pk))
		}
		out[i] = c
	}
	return out
}

func (p *pipeline) writeMulticastGroup(op p4v1.Update_Type, g *p4v1.MulticastGroupEntry) error {
	id := g.GetMulticastGroupId()
	what := fmt.Sprintf("multicast group %d", id)
	if id == 0 {
		return errorf(codes.InvalidArgument, "multicast group id 0 is reserved for wildcard reads")
	}
	old := p.mcast[id]
	var reps []Replica
	if op != p4v1.Update_DELETE {
		var err error
		if reps, err = replicas(g.GetReplicas(), what); err != nil {
			return err
		}
	}
	canon := &p4v1.MulticastGroupEntry{MulticastGroupId: id, Replicas: canonicalReplicas(g.GetReplicas()), Metadata: g.GetMetadata()}
	switch op {
	case p4v1.Update_INSERT:
		if old != nil {
			return errorf(codes.AlreadyExists, "%s already exists", what)
		}
		if err := p.device(func(d Device) error { return d.InsertMulticastGroup(id, reps) }); err != nil {
			return err
		}
		p.mcast[id] = canon
	case p4v1.Update_MODIFY:
		if old == nil {
			return errorf(codes.NotFound, "%s does not exist", what)
		}
		if err := p.device(func(d Device) error { return d.ModifyMulticastGroup(id, reps) }); err != nil {
			return err
		}
		p.mcast[id] = canon
	case p4v1.Update_DELETE:
		if old == nil {
			return errorf(codes.NotFound, "%s does not exist", what)
		}
		if err := p.device(func(d Device) error { return d.DeleteMulticastGroup(id) }); err != nil {
			return err
		}
		delete(p.mcast, id)
	}
	return nil
}

// cloneSession validates a clone session entry.
func cloneSession(c *p4v1.CloneSessionEntry) (CloneSession, error) {
	what := fmt.Sprintf("clone session %d", c.GetSessionId())
	reps, err := replicas(c.GetReplicas(), what)
	if err != nil {
		return CloneSession{}, err
	}
	if c.GetPacketLengthBytes() < 0 {
		return CloneSession{}, errorf(codes.InvalidArgument, "%s: packet_length_bytes %d is negative", what, c.GetPacketLengthBytes())
	}
	if c.GetClassOfService() > 7 {
		return CloneSession{}, errorf(codes.InvalidArgument, "%s: class_of_service %d exceeds 7", what, c.GetClassOfService())
	}
	return CloneSession{Replicas: reps, ClassOfService: c.GetClassOfService(), PacketLength: c.GetPacketLengthBytes()}, nil
}

func (p *pipeline) writeCloneSession(op p4v1.Update_Type, c *p4v1.CloneSessionEntry) error {
	id := c.GetSessionId()
	what := fmt.Sprintf("clone session %d", id)
	if id == 0 {
		return errorf(codes.InvalidArgument, "clone session id 0 is reserved for wildcard reads")
	}
	old := p.clones[id]
	var cs CloneSession
	if op != p4v1.Update_DELETE {
		var err error
		if cs, err = cloneSession(c); err != nil {
			return err
		}
	}
	canon := &p4v1.CloneSessionEntry{SessionId: id, Replicas: canonicalReplicas(c.GetReplicas()), ClassOfService: c.GetClassOfService(), PacketLengthBytes: c.GetPacketLengthBytes()}
	switch op {
	case p4v1.Update_INSERT:
		if old != nil {
			return errorf(codes.AlreadyExists, "%s already exists", what)
		}
		if err := p.device(func(d Device) error { return d.InsertCloneSession(id, cs) }); err != nil {
			return err
		}
		p.clones[id] = canon
	case p4v1.Update_MODIFY:
		if old == nil {
			return errorf(codes.NotFound, "%s does not exist", what)
		}
		if err := p.device(func(d Device) error { return d.ModifyCloneSession(id, cs) }); err != nil {
			return err
		}
		p.clones[id] = canon
	case p4v1.Update_DELETE:
		if old == nil {
			return errorf(codes.NotFound, "%s does not exist", what)
		}
		if err := p.device(func(d Device) error { return d.DeleteCloneSession(id) }); err != nil {
			return err
		}
		delete(p.clones, id)
	}
	return nil
}

func (p *pipeline) writeCounter(op p4v1.Update_Type, c *p4v1.CounterEntry) error {
	ci, ok := p.schema.counters[c.GetCounterId()]
	if !ok {
		return errorf(codes.InvalidArgument, "counter entry: unknown counter id %d", c.GetCounterId())
	}
	if op != p4v1.Update_MODIFY {
		return errorf(codes.InvalidArgument, "counter %q: counters can only be modified, not %v", ci.name, op)
	}
	if c.GetData() == nil {
		return nil // spec §9.4.2: an unset data leaves the counter as it is
	}
	v := Counts{Bytes: c.GetData().GetByteCount(), Packets: c.GetData().GetPacketCount()}
	first, last := int64(0), ci.p.GetSize()-1
	if c.GetIndex() != nil {
		i := c.GetIndex().GetIndex()
		if i < 0 {
			return errorf(codes.InvalidArgument, "counter %q: index %d is negative", ci.name, i)
		}
		if i >= ci.p.GetSize() {
			return errorf(codes.OutOfRange, "counter %q: index %d is outside 0..%d", ci.name, i, ci.p.GetSize()-1)
		}
		first, last = i, i
	}
	for i := first; i <= last; i++ {
		if p.dev == nil {
			p.pendingCells[counterCell{ci.name, int(i)}] = v
			continue
		}
		if err := p.device(func(d Device) error { return d.SetCounter(ci.name, int(i), v) }); err != nil {
			return err
		}
	}
	return nil
}

func (p *pipeline) writeDirectCounter(op p4v1.Update_Type, dc *p4v1.DirectCounterEntry) error {
	te := dc.GetTableEntry()
	ts, ok := p.tables[te.GetTableId()]
	if !ok {
		return errorf(codes.InvalidArgument, "direct counter entry: unknown table id %d", te.GetTableId())
	}
	ti := ts.info
	if ti.directCounter == 0 {
		return errorf(codes.InvalidArgument, "direct counter entry: table %q has no direct counter", ti.name)
	}
	if op != p4v1.Update_MODIFY {
		return errorf(codes.InvalidArgument, "table %q: direct counters can only be modified, not %v", ti.name, op)
	}
	if te.GetIsDefaultAction() {
		return errorf(codes.Unimplemented, "table %q: the direct counter of the default entry is not supported on this device", ti.name)
	}
	_, _, k, err := parseMatch(ti, te)
	if err != nil {
		return err
	}
	e := ts.entries[k]
	if e == nil {
		return errorf(codes.NotFound, "table %q: entry %s does not exist", ti.name, describeMatch(ti, te))
	}
	if dc.GetData() == nil {
		return nil
	}
	v := Counts{Bytes: dc.GetData().GetByteCount(), Packets: dc.GetData().GetPacketCount()}
	if p.dev == nil {
		p.pendingCounters[k] = v
		return nil
	}
	ent := *e.dev
	ent.Counter, ent.SetCounter = v, true
	return p.device(func(d Device) error { return d.ModifyEntry(ti.name, &ent) })
}

func (p *pipeline) writeDigestEntry(op p4v1.Update_Type, de *p4v1.DigestEntry) error {
	di, ok := p.schema.digests[de.GetDigestId()]
	if !ok {
		return errorf(codes.InvalidArgument, "digest entry: unknown digest id %d", de.GetDigestId())
	}
	old := p.digestCfg[de.GetDigestId()]
	what := fmt.Sprintf("digest %q", di.name)
	if op != p4v1.Update_DELETE {
		c := de.GetConfig()
		if c == nil {
			return errorf(codes.InvalidArgument, "%s: config is missing", what)
		}
		if c.GetMaxTimeoutNs() < 0 || c.GetMaxListSize() < 0 || c.GetAckTimeoutNs() < 0 {
			return errorf(codes.InvalidArgument, "%s: negative config value (max_timeout_ns %d, max_list_size %d, ack_timeout_ns %d)", what, c.GetMaxTimeoutNs(), c.GetMaxListSize(), c.GetAckTimeoutNs())
		}
	}
	switch op {
	case p4v1.Update_INSERT:
		if old != nil {
			return errorf(codes.AlreadyExists, "%s is already configured", what)
		}
	case p4v1.Update_MODIFY, p4v1.Update_DELETE:
		if old == nil {
			return errorf(codes.NotFound, "%s is not configured", what)
		}
	}
	if op == p4v1.Update_DELETE {
		delete(p.digestCfg, de.GetDigestId())
	} else {
		p.digestCfg[de.GetDigestId()] = &p4v1.DigestEntry{DigestId: de.GetDigestId(), Config: de.GetConfig()}
	}
	return nil
}
