package p4rt

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
)

// ErrInvalidEntity reports an entity that the P4Info forbids: a match kind
// that is not the field's, a missing exact field, a priority on a table
// that has none, an action the table does not list.
var ErrInvalidEntity = errors.New("invalid entity")

// MatchKind is the kind of one field match.
type MatchKind int

// The match kinds of P4Runtime (spec §9.1.1).
const (
	MatchExact MatchKind = iota + 1
	MatchLPM
	MatchTernary
	MatchRange
	MatchOptional
)

var matchKindNames = map[MatchKind]string{
	MatchExact: "exact", MatchLPM: "lpm", MatchTernary: "ternary", MatchRange: "range", MatchOptional: "optional",
}

// String returns the P4 name of the match kind.
func (k MatchKind) String() string {
	if s, ok := matchKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("MatchKind(%d)", int(k))
}

func kindOf(t p4configv1.MatchField_MatchType) MatchKind {
	switch t {
	case p4configv1.MatchField_EXACT:
		return MatchExact
	case p4configv1.MatchField_LPM:
		return MatchLPM
	case p4configv1.MatchField_TERNARY:
		return MatchTernary
	case p4configv1.MatchField_RANGE:
		return MatchRange
	case p4configv1.MatchField_OPTIONAL:
		return MatchOptional
	}
	return 0
}

// FieldMatch is the match on one key field, by name. Build it with Exact,
// LPM, Ternary, Range or Optional; DecodeTableEntry returns the same form, so
// entries read back compare equal to the ones that were built.
type FieldMatch struct {
	Field string
	Kind  MatchKind
	// Value is the exact, optional, LPM or ternary value.
	Value []byte
	// Mask is the ternary mask.
	Mask []byte
	// PrefixLen is the LPM prefix length in bits.
	PrefixLen int32
	// Low and High bound a range match, both included.
	Low, High []byte
}

// Exact matches field == value.
func Exact(field string, value []byte) FieldMatch {
	return FieldMatch{Field: field, Kind: MatchExact, Value: value}
}

// LPM matches the top prefixLen bits of field against value. Bits of value
// beyond the prefix are cleared when the entry is built. A prefix of 0 is
// "don't care": the field is left out of the entry, as the spec requires.
func LPM(field string, value []byte, prefixLen int32) FieldMatch {
	return FieldMatch{Field: field, Kind: MatchLPM, Value: value, PrefixLen: prefixLen}
}

// Ternary matches field & mask == value & mask. Value is masked when the
// entry is built; a zero mask is "don't care" and leaves the field out.
func Ternary(field string, value, mask []byte) FieldMatch {
	return FieldMatch{Field: field, Kind: MatchTernary, Value: value, Mask: mask}
}

// Range matches low <= field <= high. The full range of the field is "don't
// care" and leaves the field out.
func Range(field string, low, high []byte) FieldMatch {
	return FieldMatch{Field: field, Kind: MatchRange, Low: low, High: high}
}

// Optional matches field == value. To match any value, leave the field out.
func Optional(field string, value []byte) FieldMatch {
	return FieldMatch{Field: field, Kind: MatchOptional, Value: value}
}

// Param is one action parameter, by name.
type Param struct {
	Name  string
	Value []byte
}

// Arg returns the parameter name = value.
func Arg(name string, value []byte) Param { return Param{Name: name, Value: value} }

// TableAction is what a table entry does: an *ActionCall for a direct table,
// a MemberID or GroupID for a table implemented by an action profile, or an
// ActionSet (one-shot programming of an action selector).
type TableAction interface{ tableAction() }

// ActionCall is an action with its parameters, by name.
type ActionCall struct {
	Name   string
	Params []Param
}

// Action returns the call of action name with params. Every parameter of
// the action must be given; their order does not matter.
func Action(name string, params ...Param) *ActionCall {
	return &ActionCall{Name: name, Params: params}
}

// MemberID refers to an action profile member from a table entry.
type MemberID uint32

// GroupID refers to an action selector group from a table entry.
type GroupID uint32

// ActionSet is a one-shot action selector programming: the target creates
// the members and group implicitly (spec §9.2.3).
type ActionSet []WeightedAction

// WeightedAction is one action of an ActionSet.
type WeightedAction struct {
	Action *ActionCall
	Weight int32
	// WatchPort, when set, is a port whose liveness gates this action.
	WatchPort []byte
}

func (*ActionCall) tableAction() {}
func (MemberID) tableAction()    {}
func (GroupID) tableAction()     {}
func (ActionSet) tableAction()   {}

// TableEntry is a table entry by name, the input of BuildTableEntry and the
// output of DecodeTableEntry.
type TableEntry struct {
	Table string
	// Match holds one FieldMatch per key field that is not "don't care".
	// Exact fields can never be left out.
	Match []FieldMatch
	// Action is nil for a key-only entry (a DELETE, or a MODIFY of the
	// default entry that resets it to the program's default).
	Action TableAction
	// Priority orders overlapping entries of tables with ternary, range or
	// optional fields (higher wins) and must be > 0 there; it must be 0
	// elsewhere.
	Priority int32
	// IsDefault selects the table's default entry: Match and Priority must
	// be empty.
	IsDefault bool
	// IdleTimeout is the entry's TTL on a table with idle timeout support; 0
	// never expires.
	IdleTimeout time.Duration
	// Metadata is opaque controller data stored with the entry.
	Metadata []byte
}

// BuildTableEntry checks e against the P4Info and returns its P4Runtime
// form with canonical bytestrings and match fields in P4Info order. Every
// error names the table and the field, action or parameter at fault.
func (ix *Index) BuildTableEntry(e TableEntry) (*p4v1.TableEntry, error) {
	t, err := ix.tables.lookup(e.Table)
	if err != nil {
		return nil, err
	}
	out := &p4v1.TableEntry{
		TableId:         t.ID,
		Priority:        e.Priority,
		IsDefaultAction: e.IsDefault,
		IdleTimeoutNs:   int64(e.IdleTimeout),
		Metadata:        e.Metadata,
	}
	if e.IsDefault {
		if len(e.Match) != 0 || e.Priority != 0 {
			return nil, fmt.Errorf("table %q default entry: %w: it has no match fields and no priority", t.Name, ErrInvalidEntity)
		}
		if e.IdleTimeout != 0 {
			return nil, fmt.Errorf("table %q default entry: %w: it has no idle timeout", t.Name, ErrInvalidEntity)
		}
		if t.ConstDefaultActionID != 0 {
			return nil, fmt.Errorf("table %q default entry: %w: the program makes it constant", t.Name, ErrInvalidEntity)
		}
	} else {
		if out.Match, err = ix.buildMatch(t, e.Match); err != nil {
			return nil, err
		}
		switch {
		case t.NeedsPriority && e.Priority <= 0:
			return nil, fmt.Errorf("table %q: %w: priority %d, want > 0 (the table has ternary, range or optional fields)", t.Name, ErrInvalidEntity, e.Priority)
		case !t.NeedsPriority && e.Priority != 0:
			return nil, fmt.Errorf("table %q: %w: priority %d, want 0 (the table has only exact and lpm fields)", t.Name, ErrInvalidEntity, e.Priority)
		}
	}
	if e.IdleTimeout < 0 || (e.IdleTimeout != 0 && !t.IdleTimeout) {
		return nil, fmt.Errorf("table %q: %w: idle timeout %v (the table supports idle timeout: %t)", t.Name, ErrInvalidEntity, e.IdleTimeout, t.IdleTimeout)
	}
	if e.Action != nil {
		if out.Action, err = ix.buildTableAction(t, e.Action, e.IsDefault); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (ix *Index) buildMatch(t *TableInfo, matches []FieldMatch) ([]*p4v1.FieldMatch, error) {
	byID := make(map[uint32]*p4v1.FieldMatch, len(matches))
	for _, m := range matches {
		f, err := t.Field(m.Field)
		if err != nil {
			return nil, err
		}
		if _, dup := byID[f.ID]; dup {
			return nil, fmt.Errorf("table %q: %w: match field %q given twice", t.Name, ErrInvalidEntity, f.Name)
		}
		if want := kindOf(f.MatchType); m.Kind != want {
			return nil, fmt.Errorf("table %q: %w: match field %q is %v, not %v", t.Name, ErrInvalidEntity, f.Name, want, m.Kind)
		}
		fm, err := buildFieldMatch(f, m)
		if err != nil {
			return nil, fmt.Errorf("table %q: match field %q: %w", t.Name, f.Name, err)
		}
		byID[f.ID] = fm // nil for "don't care", which stays out of the entry
	}
	out := make([]*p4v1.FieldMatch, 0, len(matches))
	for _, f := range t.Fields {
		fm, given := byID[f.ID]
		if !given && f.MatchType == p4configv1.MatchField_EXACT {
			return nil, fmt.Errorf("table %q: %w: exact match field %q is missing", t.Name, ErrInvalidEntity, f.Name)
		}
		if fm != nil {
			out = append(out, fm)
		}
	}
	return out, nil
}

// buildFieldMatch returns the canonical match of m on field f, or nil when m
// is "don't care".
func buildFieldMatch(f *MatchFieldInfo, m FieldMatch) (*p4v1.FieldMatch, error) {
	w := f.Bitwidth
	switch m.Kind {
	case MatchExact, MatchOptional:
		v, err := Canonical(m.Value, w)
		if err != nil {
			return nil, err
		}
		if m.Kind == MatchExact {
			return &p4v1.FieldMatch{FieldId: f.ID, FieldMatchType: &p4v1.FieldMatch_Exact_{Exact: &p4v1.FieldMatch_Exact{Value: v}}}, nil
		}
		return &p4v1.FieldMatch{FieldId: f.ID, FieldMatchType: &p4v1.FieldMatch_Optional_{Optional: &p4v1.FieldMatch_Optional{Value: v}}}, nil
	case MatchLPM:
		if m.PrefixLen < 0 || m.PrefixLen > w {
			return nil, fmt.Errorf("%w: prefix length %d, width is %d", ErrOutOfRange, m.PrefixLen, w)
		}
		if _, err := Canonical(m.Value, w); err != nil {
			return nil, err
		}
		if m.PrefixLen == 0 {
			return nil, nil
		}
		v := and(m.Value, prefixMask(m.PrefixLen, w))
		return &p4v1.FieldMatch{FieldId: f.ID, FieldMatchType: &p4v1.FieldMatch_Lpm{Lpm: &p4v1.FieldMatch_LPM{Value: v, PrefixLen: m.PrefixLen}}}, nil
	case MatchTernary:
		if _, err := Canonical(m.Value, w); err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
		mask, err := Canonical(m.Mask, w)
		if err != nil {
			return nil, fmt.Errorf("mask: %w", err)
		}
		if isZero(mask) {
			return nil, nil
		}
		return &p4v1.FieldMatch{FieldId: f.ID, FieldMatchType: &p4v1.FieldMatch_Ternary_{Ternary: &p4v1.FieldMatch_Ternary{Value: and(m.Value, mask), Mask: mask}}}, nil
	case MatchRange:
		low, err := Canonical(m.Low, w)
		if err != nil {
			return nil, fmt.Errorf("low: %w", err)
		}
		high, err := Canonical(m.High, w)
		if err != nil {
			return nil, fmt.Errorf("high: %w", err)
		}
		if compareUint(low, high) > 0 {
			return nil, fmt.Errorf("%w: range low 0x%x > high 0x%x", ErrInvalidEntity, low, high)
		}
		if isZero(low) && allOnes(high, w) {
			return nil, nil
		}
		return &p4v1.FieldMatch{FieldId: f.ID, FieldMatchType: &p4v1.FieldMatch_Range_{Range: &p4v1.FieldMatch_Range{Low: low, High: high}}}, nil
	}
	return nil, fmt.Errorf("%w: match kind %v", ErrInvalidEntity, m.Kind)
}

func (ix *Index) buildTableAction(t *TableInfo, a TableAction, isDefault bool) (*p4v1.TableAction, error) {
	switch a := a.(type) {
	case *ActionCall:
		if t.ActionProfile != nil {
			return nil, fmt.Errorf("table %q: %w: it is implemented by action profile %q: use a MemberID, GroupID or ActionSet, not action %q",
				t.Name, ErrInvalidEntity, t.ActionProfile.Name, a.Name)
		}
		act, err := ix.buildAction(a)
		if err != nil {
			return nil, fmt.Errorf("table %q: %w", t.Name, err)
		}
		entry, asDefault := t.AllowsAction(act.ActionId)
		switch {
		case !entry && !asDefault:
			return nil, fmt.Errorf("table %q: %w: action %q is not one of the table's actions", t.Name, ErrInvalidEntity, a.Name)
		case isDefault && !asDefault:
			return nil, fmt.Errorf("table %q: %w: action %q is @tableonly, it cannot be the default", t.Name, ErrInvalidEntity, a.Name)
		case !isDefault && !entry:
			return nil, fmt.Errorf("table %q: %w: action %q is @defaultonly, it cannot be an entry's action", t.Name, ErrInvalidEntity, a.Name)
		}
		return &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: act}}, nil
	case MemberID, GroupID, ActionSet:
		ap := t.ActionProfile
		if ap == nil {
			return nil, fmt.Errorf("table %q: %w: it has direct actions, not an action profile (got %T)", t.Name, ErrInvalidEntity, a)
		}
		if isDefault {
			return nil, fmt.Errorf("table %q default entry: %w: the default of an indirect table is fixed", t.Name, ErrInvalidEntity)
		}
		switch a := a.(type) {
		case MemberID:
			return &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileMemberId{ActionProfileMemberId: uint32(a)}}, nil
		case GroupID:
			if !ap.WithSelector {
				return nil, fmt.Errorf("table %q: %w: action profile %q has no selector, so no groups", t.Name, ErrInvalidEntity, ap.Name)
			}
			return &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileGroupId{ActionProfileGroupId: uint32(a)}}, nil
		case ActionSet:
			if !ap.WithSelector {
				return nil, fmt.Errorf("table %q: %w: action profile %q has no selector, so no action sets", t.Name, ErrInvalidEntity, ap.Name)
			}
			set := &p4v1.ActionProfileActionSet{}
			for i, wa := range a {
				if wa.Action == nil {
					return nil, fmt.Errorf("table %q: %w: action set member %d has no action", t.Name, ErrInvalidEntity, i)
				}
				act, err := ix.buildAction(wa.Action)
				if err != nil {
					return nil, fmt.Errorf("table %q: action set member %d: %w", t.Name, i, err)
				}
				if entry, _ := t.AllowsAction(act.ActionId); !entry {
					return nil, fmt.Errorf("table %q: %w: action %q is not one of the table's actions", t.Name, ErrInvalidEntity, wa.Action.Name)
				}
				pa := &p4v1.ActionProfileAction{Action: act, Weight: wa.Weight}
				if wa.WatchPort != nil {
					pa.WatchKind = &p4v1.ActionProfileAction_WatchPort{WatchPort: trimZeros(wa.WatchPort)}
				}
				set.ActionProfileActions = append(set.ActionProfileActions, pa)
			}
			return &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileActionSet{ActionProfileActionSet: set}}, nil
		}
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("table %q: %w: action of type %T", t.Name, ErrInvalidEntity, a)
}

// BuildAction returns the P4Runtime form of an action call: every parameter
// present once, with a canonical value that fits its width, in P4Info order.
func (ix *Index) BuildAction(a *ActionCall) (*p4v1.Action, error) { return ix.buildAction(a) }

func (ix *Index) buildAction(a *ActionCall) (*p4v1.Action, error) {
	info, err := ix.actions.lookup(a.Name)
	if err != nil {
		return nil, err
	}
	values := make(map[uint32][]byte, len(a.Params))
	for _, p := range a.Params {
		pi, err := info.Param(p.Name)
		if err != nil {
			return nil, err
		}
		if _, dup := values[pi.ID]; dup {
			return nil, fmt.Errorf("action %q: %w: param %q given twice", info.Name, ErrInvalidEntity, p.Name)
		}
		v, err := Canonical(p.Value, pi.Bitwidth)
		if err != nil {
			return nil, fmt.Errorf("action %q: param %q: %w", info.Name, p.Name, err)
		}
		values[pi.ID] = v
	}
	out := &p4v1.Action{ActionId: info.ID, Params: make([]*p4v1.Action_Param, 0, len(info.Params))}
	for _, pi := range info.Params {
		v, ok := values[pi.ID]
		if !ok {
			return nil, fmt.Errorf("action %q: %w: param %q is missing", info.Name, ErrInvalidEntity, pi.Name)
		}
		out.Params = append(out.Params, &p4v1.Action_Param{ParamId: pi.ID, Value: v})
	}
	return out, nil
}

// ActionProfileMember is a member of an action profile by name.
type ActionProfileMember struct {
	Profile  string
	MemberID uint32
	// Action is nil for a key-only member (a DELETE).
	Action *ActionCall
}

// BuildActionProfileMember checks m against the P4Info: the action must be
// one that the tables sharing the profile allow.
func (ix *Index) BuildActionProfileMember(m ActionProfileMember) (*p4v1.ActionProfileMember, error) {
	ap, err := ix.actionProfiles.lookup(m.Profile)
	if err != nil {
		return nil, err
	}
	out := &p4v1.ActionProfileMember{ActionProfileId: ap.ID, MemberId: m.MemberID}
	if m.Action == nil {
		return out, nil
	}
	if out.Action, err = ix.buildAction(m.Action); err != nil {
		return nil, fmt.Errorf("action profile %q member %d: %w", ap.Name, m.MemberID, err)
	}
	for _, tid := range ap.TableIDs {
		t, err := ix.tables.lookupID(tid)
		if err != nil {
			return nil, fmt.Errorf("action profile %q: %w", ap.Name, err)
		}
		if entry, _ := t.AllowsAction(out.Action.ActionId); !entry {
			return nil, fmt.Errorf("action profile %q member %d: %w: action %q is not one of table %q's actions",
				ap.Name, m.MemberID, ErrInvalidEntity, m.Action.Name, t.Name)
		}
	}
	return out, nil
}

// ActionProfileGroup is a group of an action selector by name.
type ActionProfileGroup struct {
	Profile string
	GroupID uint32
	Members []GroupMember
	// MaxSize is the most members the group will ever hold; 0 lets the
	// target choose.
	MaxSize int32
}

// GroupMember is one member of an ActionProfileGroup.
type GroupMember struct {
	MemberID uint32
	// Weight 0 is sent as 1, the weight targets give an unweighted member,
	// so that the group reads back as it was built.
	Weight int32
	// WatchPort, when set, is a port whose liveness gates this member.
	WatchPort []byte
}

// BuildActionProfileGroup checks g against the P4Info: the profile must be a
// selector and a member may appear once.
func (ix *Index) BuildActionProfileGroup(g ActionProfileGroup) (*p4v1.ActionProfileGroup, error) {
	ap, err := ix.actionProfiles.lookup(g.Profile)
	if err != nil {
		return nil, err
	}
	if !ap.WithSelector {
		return nil, fmt.Errorf("action profile %q group %d: %w: the profile has no selector, so no groups", ap.Name, g.GroupID, ErrInvalidEntity)
	}
	if ap.MaxGroupSize > 0 && (len(g.Members) > int(ap.MaxGroupSize) || g.MaxSize > ap.MaxGroupSize) {
		return nil, fmt.Errorf("action profile %q group %d: %w: %d members (max_size %d), the profile allows %d",
			ap.Name, g.GroupID, ErrOutOfRange, len(g.Members), g.MaxSize, ap.MaxGroupSize)
	}
	out := &p4v1.ActionProfileGroup{ActionProfileId: ap.ID, GroupId: g.GroupID, MaxSize: g.MaxSize}
	seen := make(map[uint32]bool, len(g.Members))
	for _, m := range g.Members {
		if seen[m.MemberID] {
			return nil, fmt.Errorf("action profile %q group %d: %w: member %d given twice", ap.Name, g.GroupID, ErrInvalidEntity, m.MemberID)
		}
		seen[m.MemberID] = true
		weight := m.Weight
		if weight == 0 {
			weight = 1 // the spec gives 0 no meaning; 1 is every target's default
		}
		pm := &p4v1.ActionProfileGroup_Member{MemberId: m.MemberID, Weight: weight}
		if m.WatchPort != nil {
			pm.WatchKind = &p4v1.ActionProfileGroup_Member_WatchPort{WatchPort: trimZeros(m.WatchPort)}
		}
		out.Members = append(out.Members, pm)
	}
	return out, nil
}

// Replica is one copy made by a multicast group or clone session: the
// egress port (a bytestring, P4Runtime v1.5 `port`) and an instance number
// that tells copies to the same port apart (egress_rid in v1model).
type Replica struct {
	Port     []byte
	Instance uint32
}

// PortReplica returns the replica to numeric port with the given instance.
func PortReplica(port uint64, instance uint32) Replica {
	return Replica{Port: Uint(port), Instance: instance}
}

func buildReplicas(what string, replicas []Replica) ([]*p4v1.Replica, error) {
	type key struct {
		port     string
		instance uint32
	}
	seen := make(map[key]bool, len(replicas))
	out := make([]*p4v1.Replica, 0, len(replicas))
	for _, r := range replicas {
		if len(r.Port) == 0 {
			return nil, fmt.Errorf("%s: %w: replica instance %d has no port", what, ErrInvalidEntity, r.Instance)
		}
		port := trimZeros(r.Port)
		k := key{string(port), r.Instance}
		if seen[k] {
			return nil, fmt.Errorf("%s: %w: replica port 0x%x instance %d given twice", what, ErrInvalidEntity, port, r.Instance)
		}
		seen[k] = true
		out = append(out, &p4v1.Replica{PortKind: &p4v1.Replica_Port{Port: port}, Instance: r.Instance})
	}
	SortReplicas(out)
	return out, nil
}

// SortReplicas orders replicas by port, then instance: the order the
// builders emit. The replicas of a group are a set and targets return them
// in an order of their own (BMv2 does), so a reconciler sorts what it
// reads back before comparing it with proto.Equal.
func SortReplicas(replicas []*p4v1.Replica) {
	port := func(r *p4v1.Replica) []byte {
		if r.GetPort() != nil {
			return r.GetPort()
		}
		//lint:ignore SA1019 targets older than P4Runtime 1.4 still fill the numeric field
		return Uint(uint64(r.GetEgressPort()))
	}
	slices.SortStableFunc(replicas, func(a, b *p4v1.Replica) int {
		if c := compareUint(port(a), port(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.GetInstance(), b.GetInstance())
	})
}

// MulticastGroup returns the packet replication engine entry of multicast
// group id (non-zero) with the given replicas, each (port, instance) once.
func MulticastGroup(id uint32, replicas ...Replica) (*p4v1.PacketReplicationEngineEntry, error) {
	what := fmt.Sprintf("multicast group %d", id)
	if id == 0 {
		return nil, fmt.Errorf("%s: %w: id 0 is reserved", what, ErrInvalidEntity)
	}
	reps, err := buildReplicas(what, replicas)
	if err != nil {
		return nil, err
	}
	return &p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{
		MulticastGroupEntry: &p4v1.MulticastGroupEntry{MulticastGroupId: id, Replicas: reps},
	}}, nil
}

// CloneSession is a clone session: where cloned packets go.
type CloneSession struct {
	ID             uint32
	Replicas       []Replica
	ClassOfService uint32
	// PacketLengthBytes truncates clones to this many bytes; 0 keeps them
	// whole.
	PacketLengthBytes int32
}

// BuildCloneSession returns the packet replication engine entry of s.
func BuildCloneSession(s CloneSession) (*p4v1.PacketReplicationEngineEntry, error) {
	what := fmt.Sprintf("clone session %d", s.ID)
	if s.ID == 0 {
		return nil, fmt.Errorf("%s: %w: id 0 is reserved", what, ErrInvalidEntity)
	}
	if s.PacketLengthBytes < 0 {
		return nil, fmt.Errorf("%s: %w: packet length %d", what, ErrOutOfRange, s.PacketLengthBytes)
	}
	reps, err := buildReplicas(what, s.Replicas)
	if err != nil {
		return nil, err
	}
	return &p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_CloneSessionEntry{
		CloneSessionEntry: &p4v1.CloneSessionEntry{
			SessionId: s.ID, Replicas: reps, ClassOfService: s.ClassOfService, PacketLengthBytes: s.PacketLengthBytes,
		},
	}}, nil
}

// DigestConfig tunes how the target batches one digest's messages (spec
// §9.9).
type DigestConfig struct {
	// MaxTimeout is how long the target may hold a message to fill a list;
	// 0 sends each message at once.
	MaxTimeout time.Duration
	// MaxListSize caps the messages in one DigestList; 0 is no cap.
	MaxListSize int32
	// AckTimeout is how long the target suppresses a repeat of a message
	// that the client has not acknowledged; 0 never suppresses.
	AckTimeout time.Duration
}

// BuildDigestEntry returns the entry that enables digest with cfg (INSERT or
// MODIFY) or, with a zero cfg in a DELETE, disables it.
func (ix *Index) BuildDigestEntry(digest string, cfg DigestConfig) (*p4v1.DigestEntry, error) {
	d, err := ix.digests.lookup(digest)
	if err != nil {
		return nil, err
	}
	if cfg.MaxTimeout < 0 || cfg.AckTimeout < 0 || cfg.MaxListSize < 0 {
		return nil, fmt.Errorf("digest %q: %w: negative configuration %+v", d.Name, ErrOutOfRange, cfg)
	}
	return &p4v1.DigestEntry{DigestId: d.ID, Config: &p4v1.DigestEntry_Config{
		MaxTimeoutNs: int64(cfg.MaxTimeout), MaxListSize: cfg.MaxListSize, AckTimeoutNs: int64(cfg.AckTimeout),
	}}, nil
}

// AllIndices makes BuildCounterEntry and BuildMeterEntry address every
// index of the array (a wildcard read).
const AllIndices int64 = -1

// BuildCounterEntry returns the entry of counter at index, or of every
// index with AllIndices, for a Read.
func (ix *Index) BuildCounterEntry(counter string, index int64) (*p4v1.CounterEntry, error) {
	c, err := ix.counters.lookup(counter)
	if err != nil {
		return nil, err
	}
	out := &p4v1.CounterEntry{CounterId: c.ID}
	if index != AllIndices {
		if index < 0 || (c.Size > 0 && index >= c.Size) {
			return nil, fmt.Errorf("counter %q: %w: index %d, size %d", c.Name, ErrOutOfRange, index, c.Size)
		}
		out.Index = &p4v1.Index{Index: index}
	}
	return out, nil
}

// BuildDirectCounterEntry returns the direct counter entry of a table
// entry (built with BuildTableEntry), for a Read or a MODIFY that resets or
// sets the count. A table entry with no match and no default flag reads
// the counters of every entry of the table.
func (ix *Index) BuildDirectCounterEntry(entry *p4v1.TableEntry, data *p4v1.CounterData) (*p4v1.DirectCounterEntry, error) {
	t, err := ix.tables.lookupID(entry.GetTableId())
	if err != nil {
		return nil, err
	}
	if t.DirectCounter == nil {
		return nil, fmt.Errorf("table %q: %w: it has no direct counter", t.Name, ErrInvalidEntity)
	}
	return &p4v1.DirectCounterEntry{TableEntry: entry, Data: data}, nil
}

// BuildMeterEntry returns the entry of meter at index (or every index with
// AllIndices) with config cfg, nil for a Read or to reset the meter.
func (ix *Index) BuildMeterEntry(meter string, index int64, cfg *p4v1.MeterConfig) (*p4v1.MeterEntry, error) {
	m, err := ix.meters.lookup(meter)
	if err != nil {
		return nil, err
	}
	out := &p4v1.MeterEntry{MeterId: m.ID, Config: cfg}
	if index != AllIndices {
		if index < 0 || (m.Size > 0 && index >= m.Size) {
			return nil, fmt.Errorf("meter %q: %w: index %d, size %d", m.Name, ErrOutOfRange, index, m.Size)
		}
		out.Index = &p4v1.Index{Index: index}
	}
	return out, nil
}

// BuildRegisterEntry returns the entry of register at index (or every index
// with AllIndices), for a Read.
func (ix *Index) BuildRegisterEntry(register string, index int64) (*p4v1.RegisterEntry, error) {
	r, err := ix.registers.lookup(register)
	if err != nil {
		return nil, err
	}
	out := &p4v1.RegisterEntry{RegisterId: r.ID}
	if index != AllIndices {
		if index < 0 || (r.Size > 0 && index >= int64(r.Size)) {
			return nil, fmt.Errorf("register %q: %w: index %d, size %d", r.Name, ErrOutOfRange, index, r.Size)
		}
		out.Index = &p4v1.Index{Index: index}
	}
	return out, nil
}

// EntityMessage is any message that an Entity can carry.
type EntityMessage interface {
	*p4v1.TableEntry | *p4v1.ActionProfileMember | *p4v1.ActionProfileGroup |
		*p4v1.PacketReplicationEngineEntry | *p4v1.CounterEntry | *p4v1.DirectCounterEntry |
		*p4v1.MeterEntry | *p4v1.DirectMeterEntry | *p4v1.RegisterEntry | *p4v1.DigestEntry |
		*p4v1.ValueSetEntry | *p4v1.ExternEntry
}

// Entity wraps e in a p4.v1.Entity.
func Entity[E EntityMessage](e E) *p4v1.Entity {
	switch e := any(e).(type) {
	case *p4v1.TableEntry:
		return &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: e}}
	case *p4v1.ActionProfileMember:
		return &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: e}}
	case *p4v1.ActionProfileGroup:
		return &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileGroup{ActionProfileGroup: e}}
	case *p4v1.PacketReplicationEngineEntry:
		return &p4v1.Entity{Entity: &p4v1.Entity_PacketReplicationEngineEntry{PacketReplicationEngineEntry: e}}
	case *p4v1.CounterEntry:
		return &p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: e}}
	case *p4v1.DirectCounterEntry:
		return &p4v1.Entity{Entity: &p4v1.Entity_DirectCounterEntry{DirectCounterEntry: e}}
	case *p4v1.MeterEntry:
		return &p4v1.Entity{Entity: &p4v1.Entity_MeterEntry{MeterEntry: e}}
	case *p4v1.DirectMeterEntry:
		return &p4v1.Entity{Entity: &p4v1.Entity_DirectMeterEntry{DirectMeterEntry: e}}
	case *p4v1.RegisterEntry:
		return &p4v1.Entity{Entity: &p4v1.Entity_RegisterEntry{RegisterEntry: e}}
	case *p4v1.DigestEntry:
		return &p4v1.Entity{Entity: &p4v1.Entity_DigestEntry{DigestEntry: e}}
	case *p4v1.ValueSetEntry:
		return &p4v1.Entity{Entity: &p4v1.Entity_ValueSetEntry{ValueSetEntry: e}}
	case *p4v1.ExternEntry:
		return &p4v1.Entity{Entity: &p4v1.Entity_ExternEntry{ExternEntry: e}}
	}
	panic("unreachable: EntityMessage has no other types")
}

// Insert returns the update that inserts e.
func Insert[E EntityMessage](e E) *p4v1.Update {
	return &p4v1.Update{Type: p4v1.Update_INSERT, Entity: Entity(e)}
}

// Modify returns the update that modifies e.
func Modify[E EntityMessage](e E) *p4v1.Update {
	return &p4v1.Update{Type: p4v1.Update_MODIFY, Entity: Entity(e)}
}

// Delete returns the update that deletes e.
func Delete[E EntityMessage](e E) *p4v1.Update {
	return &p4v1.Update{Type: p4v1.Update_DELETE, Entity: Entity(e)}
}
