package p4rt

import (
	"errors"
	"fmt"
	"os"
	"strings"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// ErrUnknownName reports a name (or id) that the pipeline's P4Info does not
// define. Builders return it instead of a zero id, which a target would
// reject far from the mistake, or worse, accept.
var ErrUnknownName = errors.New("unknown name")

// Index resolves the names of one P4Info to ids and widths, and back. It is
// built once per pipeline by NewIndex (every lookup is a map access, never a
// scan) and is immutable afterwards, so any number of goroutines may share it.
//
// Every lookup accepts an object's fully qualified name ("MyIngress.fib") or
// its alias ("fib") as p4c emits them; an alias that two objects of the same
// kind share resolves to neither and is reported as ambiguous.
type Index struct {
	p4info *p4configv1.P4Info

	tables         names[*TableInfo]
	actions        names[*ActionInfo]
	actionProfiles names[*ActionProfileInfo]
	counters       names[*CounterInfo]
	directCounters names[*DirectCounterInfo]
	meters         names[*MeterInfo]
	directMeters   names[*DirectMeterInfo]
	registers      names[*RegisterInfo]
	digests        names[*DigestInfo]
	packetMetadata names[*PacketMetadataInfo]
}

// TableInfo describes one table of the P4Info.
type TableInfo struct {
	ID    uint32
	Name  string
	Alias string
	// Fields are the match fields in P4Info (key) order.
	Fields []*MatchFieldInfo
	// NeedsPriority is true when a field is ternary, range or optional: the
	// target then orders entries by Priority, which must be set (> 0).
	NeedsPriority bool
	// ActionProfile is the table's implementation (action profile or
	// selector), nil for a table with direct actions.
	ActionProfile *ActionProfileInfo
	// DirectCounter and DirectMeter are the table's direct resources, if any.
	DirectCounter *DirectCounterInfo
	DirectMeter   *DirectMeterInfo
	// IdleTimeout is true when the table notifies the controller of idle
	// entries.
	IdleTimeout bool
	// Const is true for a table whose entries the program fixes.
	Const bool
	// ConstDefaultActionID is the action the program fixes as the default,
	// 0 when the default entry may be modified.
	ConstDefaultActionID uint32
	Size                 int64

	fieldByName map[string]*MatchFieldInfo
	fieldByID   map[uint32]*MatchFieldInfo
	// actionRefs is the set of actions the table allows, with their scope.
	actionRefs map[uint32]p4configv1.ActionRef_Scope
}

// MatchFieldInfo describes one match field of a table.
type MatchFieldInfo struct {
	ID        uint32
	Name      string
	Bitwidth  int32
	MatchType p4configv1.MatchField_MatchType
}

// ActionInfo describes one action and its parameters.
type ActionInfo struct {
	ID     uint32
	Name   string
	Alias  string
	Params []*ParamInfo

	paramByName map[string]*ParamInfo
	paramByID   map[uint32]*ParamInfo
}

// ParamInfo describes one action parameter.
type ParamInfo struct {
	ID       uint32
	Name     string
	Bitwidth int32
}

// ActionProfileInfo describes an action profile or, with WithSelector, an
// action selector.
type ActionProfileInfo struct {
	ID           uint32
	Name         string
	Alias        string
	WithSelector bool
	Size         int64
	MaxGroupSize int32
	TableIDs     []uint32
}

// CounterInfo describes an indexed counter array.
type CounterInfo struct {
	ID    uint32
	Name  string
	Alias string
	Unit  p4configv1.CounterSpec_Unit
	Size  int64
}

// DirectCounterInfo describes a counter attached to a table's entries.
type DirectCounterInfo struct {
	ID      uint32
	Name    string
	Alias   string
	Unit    p4configv1.CounterSpec_Unit
	TableID uint32
}

// MeterInfo describes an indexed meter array.
type MeterInfo struct {
	ID    uint32
	Name  string
	Alias string
	Unit  p4configv1.MeterSpec_Unit
	Size  int64
}

// DirectMeterInfo describes a meter attached to a table's entries.
type DirectMeterInfo struct {
	ID      uint32
	Name    string
	Alias   string
	Unit    p4configv1.MeterSpec_Unit
	TableID uint32
}

// RegisterInfo describes a register array.
type RegisterInfo struct {
	ID    uint32
	Name  string
	Alias string
	Size  int32
}

// DigestInfo describes a digest and, when its type is a struct or tuple of
// bitstrings (what p4c emits for v1model digest<T>), the fields of each
// digest message.
type DigestInfo struct {
	ID     uint32
	Name   string
	Alias  string
	Fields []DigestField
}

// DigestField is one member of a digest message. Bitwidth is 0 when the
// member is not a bitstring (a bool, a nested struct): its data is then left
// undecoded.
type DigestField struct {
	Name     string
	Bitwidth int32
}

// PacketMetadataInfo describes the controller header of packet-in
// ("packet_in") or packet-out ("packet_out") messages.
type PacketMetadataInfo struct {
	ID       uint32
	Name     string
	Alias    string
	Metadata []*MetadataFieldInfo

	byName map[string]*MetadataFieldInfo
	byID   map[uint32]*MetadataFieldInfo
}

// MetadataFieldInfo describes one field of a controller header.
type MetadataFieldInfo struct {
	ID       uint32
	Name     string
	Bitwidth int32
}

// names maps the names, aliases and ids of one kind of P4Info object.
type names[T any] struct {
	kind    string
	byName  map[string]T
	byAlias map[string]T
	byID    map[uint32]T
	// ambiguous holds aliases that more than one object uses.
	ambiguous map[string]bool
}

func newNames[T any](kind string) names[T] {
	return names[T]{
		kind: kind, byName: map[string]T{}, byAlias: map[string]T{}, byID: map[uint32]T{},
		ambiguous: map[string]bool{},
	}
}

func (n *names[T]) add(id uint32, name, alias string, v T) error {
	if id == 0 {
		return fmt.Errorf("p4info: %s %q has id 0", n.kind, name)
	}
	if name == "" {
		return fmt.Errorf("p4info: %s id %#x has no name", n.kind, id)
	}
	if _, dup := n.byID[id]; dup {
		return fmt.Errorf("p4info: %s %q: id %#x is used twice", n.kind, name, id)
	}
	if _, dup := n.byName[name]; dup {
		return fmt.Errorf("p4info: %s name %q is used twice", n.kind, name)
	}
	n.byID[id] = v
	n.byName[name] = v
	if alias != "" && alias != name {
		if _, dup := n.byAlias[alias]; dup {
			n.ambiguous[alias] = true
		}
		n.byAlias[alias] = v
	}
	return nil
}

// lookup resolves a full name first, then an alias that only one object
// uses.
func (n *names[T]) lookup(name string) (T, error) {
	if v, ok := n.byName[name]; ok {
		return v, nil
	}
	var zero T
	if n.ambiguous[name] {
		return zero, fmt.Errorf("%s %q: %w (an alias of several objects; use the full name)", n.kind, name, ErrUnknownName)
	}
	if v, ok := n.byAlias[name]; ok {
		return v, nil
	}
	return zero, fmt.Errorf("%s %q: %w", n.kind, name, ErrUnknownName)
}

func (n *names[T]) lookupID(id uint32) (T, error) {
	v, ok := n.byID[id]
	if !ok {
		var zero T
		return zero, fmt.Errorf("%s id %#x: %w", n.kind, id, ErrUnknownName)
	}
	return v, nil
}

// LoadP4Info reads a P4Info file: text format when the name ends in .txt,
// .txtpb or .pb.txt (what p4c --p4runtime-files writes for those suffixes),
// binary otherwise.
func LoadP4Info(path string) (*p4configv1.P4Info, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("p4info: %w", err)
	}
	info := &p4configv1.P4Info{}
	if strings.HasSuffix(path, ".txt") || strings.HasSuffix(path, ".txtpb") {
		err = prototext.Unmarshal(data, info)
	} else {
		err = proto.Unmarshal(data, info)
	}
	if err != nil {
		return nil, fmt.Errorf("p4info %s: %w", path, err)
	}
	return info, nil
}

// NewIndex builds the index of p4info. It fails on an inconsistent P4Info
// (duplicate ids or names, a table referring to an action or action profile
// that does not exist) so that such a pipeline is refused before any entity
// is built from it. The index keeps p4info; the caller must not modify it.
func NewIndex(p4info *p4configv1.P4Info) (*Index, error) {
	if p4info == nil {
		return nil, errors.New("p4info: nil")
	}
	ix := &Index{
		p4info:         p4info,
		tables:         newNames[*TableInfo]("table"),
		actions:        newNames[*ActionInfo]("action"),
		actionProfiles: newNames[*ActionProfileInfo]("action profile"),
		counters:       newNames[*CounterInfo]("counter"),
		directCounters: newNames[*DirectCounterInfo]("direct counter"),
		meters:         newNames[*MeterInfo]("meter"),
		directMeters:   newNames[*DirectMeterInfo]("direct meter"),
		registers:      newNames[*RegisterInfo]("register"),
		digests:        newNames[*DigestInfo]("digest"),
		packetMetadata: newNames[*PacketMetadataInfo]("controller packet metadata"),
	}
	for _, a := range p4info.GetActions() {
		if err := ix.addAction(a); err != nil {
			return nil, err
		}
	}
	for _, p := range p4info.GetActionProfiles() {
		pre := p.GetPreamble()
		info := &ActionProfileInfo{
			ID: pre.GetId(), Name: pre.GetName(), Alias: pre.GetAlias(),
			WithSelector: p.GetWithSelector(), Size: p.GetSize(), MaxGroupSize: p.GetMaxGroupSize(),
			TableIDs: p.GetTableIds(),
		}
		if err := ix.actionProfiles.add(info.ID, info.Name, info.Alias, info); err != nil {
			return nil, err
		}
	}
	for _, c := range p4info.GetCounters() {
		pre := c.GetPreamble()
		info := &CounterInfo{ID: pre.GetId(), Name: pre.GetName(), Alias: pre.GetAlias(), Unit: c.GetSpec().GetUnit(), Size: c.GetSize()}
		if err := ix.counters.add(info.ID, info.Name, info.Alias, info); err != nil {
			return nil, err
		}
	}
	for _, c := range p4info.GetDirectCounters() {
		pre := c.GetPreamble()
		info := &DirectCounterInfo{ID: pre.GetId(), Name: pre.GetName(), Alias: pre.GetAlias(), Unit: c.GetSpec().GetUnit(), TableID: c.GetDirectTableId()}
		if err := ix.directCounters.add(info.ID, info.Name, info.Alias, info); err != nil {
			return nil, err
		}
	}
	for _, m := range p4info.GetMeters() {
		pre := m.GetPreamble()
		info := &MeterInfo{ID: pre.GetId(), Name: pre.GetName(), Alias: pre.GetAlias(), Unit: m.GetSpec().GetUnit(), Size: m.GetSize()}
		if err := ix.meters.add(info.ID, info.Name, info.Alias, info); err != nil {
			return nil, err
		}
	}
	for _, m := range p4info.GetDirectMeters() {
		pre := m.GetPreamble()
		info := &DirectMeterInfo{ID: pre.GetId(), Name: pre.GetName(), Alias: pre.GetAlias(), Unit: m.GetSpec().GetUnit(), TableID: m.GetDirectTableId()}
		if err := ix.directMeters.add(info.ID, info.Name, info.Alias, info); err != nil {
			return nil, err
		}
	}
	for _, r := range p4info.GetRegisters() {
		pre := r.GetPreamble()
		info := &RegisterInfo{ID: pre.GetId(), Name: pre.GetName(), Alias: pre.GetAlias(), Size: r.GetSize()}
		if err := ix.registers.add(info.ID, info.Name, info.Alias, info); err != nil {
			return nil, err
		}
	}
	for _, d := range p4info.GetDigests() {
		pre := d.GetPreamble()
		info := &DigestInfo{ID: pre.GetId(), Name: pre.GetName(), Alias: pre.GetAlias(), Fields: digestFields(p4info, d.GetTypeSpec())}
		if err := ix.digests.add(info.ID, info.Name, info.Alias, info); err != nil {
			return nil, err
		}
	}
	for _, cpm := range p4info.GetControllerPacketMetadata() {
		if err := ix.addPacketMetadata(cpm); err != nil {
			return nil, err
		}
	}
	for _, t := range p4info.GetTables() {
		if err := ix.addTable(t); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

func (ix *Index) addAction(a *p4configv1.Action) error {
	pre := a.GetPreamble()
	info := &ActionInfo{
		ID: pre.GetId(), Name: pre.GetName(), Alias: pre.GetAlias(),
		paramByName: map[string]*ParamInfo{}, paramByID: map[uint32]*ParamInfo{},
	}
	for _, p := range a.GetParams() {
		pi := &ParamInfo{ID: p.GetId(), Name: p.GetName(), Bitwidth: p.GetBitwidth()}
		if _, dup := info.paramByID[pi.ID]; dup {
			return fmt.Errorf("p4info: action %q: param id %d is used twice", info.Name, pi.ID)
		}
		if _, dup := info.paramByName[pi.Name]; dup {
			return fmt.Errorf("p4info: action %q: param %q is declared twice", info.Name, pi.Name)
		}
		info.Params = append(info.Params, pi)
		info.paramByID[pi.ID] = pi
		info.paramByName[pi.Name] = pi
	}
	return ix.actions.add(info.ID, info.Name, info.Alias, info)
}

func (ix *Index) addPacketMetadata(cpm *p4configv1.ControllerPacketMetadata) error {
	pre := cpm.GetPreamble()
	info := &PacketMetadataInfo{
		ID: pre.GetId(), Name: pre.GetName(), Alias: pre.GetAlias(),
		byName: map[string]*MetadataFieldInfo{}, byID: map[uint32]*MetadataFieldInfo{},
	}
	for _, m := range cpm.GetMetadata() {
		mi := &MetadataFieldInfo{ID: m.GetId(), Name: m.GetName(), Bitwidth: m.GetBitwidth()}
		if _, dup := info.byID[mi.ID]; dup {
			return fmt.Errorf("p4info: controller header %q: metadata id %d is used twice", info.Name, mi.ID)
		}
		if _, dup := info.byName[mi.Name]; dup {
			return fmt.Errorf("p4info: controller header %q: metadata %q is declared twice", info.Name, mi.Name)
		}
		info.Metadata = append(info.Metadata, mi)
		info.byID[mi.ID] = mi
		info.byName[mi.Name] = mi
	}
	return ix.packetMetadata.add(info.ID, info.Name, info.Alias, info)
}

func (ix *Index) addTable(t *p4configv1.Table) error {
	pre := t.GetPreamble()
	info := &TableInfo{
		ID: pre.GetId(), Name: pre.GetName(), Alias: pre.GetAlias(),
		IdleTimeout: t.GetIdleTimeoutBehavior() == p4configv1.Table_NOTIFY_CONTROL,
		Const:       t.GetIsConstTable(), Size: t.GetSize(), ConstDefaultActionID: t.GetConstDefaultActionId(),
		fieldByName: map[string]*MatchFieldInfo{}, fieldByID: map[uint32]*MatchFieldInfo{},
		actionRefs: map[uint32]p4configv1.ActionRef_Scope{},
	}
	for _, f := range t.GetMatchFields() {
		fi := &MatchFieldInfo{ID: f.GetId(), Name: f.GetName(), Bitwidth: f.GetBitwidth(), MatchType: f.GetMatchType()}
		if _, dup := info.fieldByID[fi.ID]; dup {
			return fmt.Errorf("p4info: table %q: match field id %d is used twice", info.Name, fi.ID)
		}
		if _, dup := info.fieldByName[fi.Name]; dup {
			return fmt.Errorf("p4info: table %q: match field %q is declared twice", info.Name, fi.Name)
		}
		switch fi.MatchType {
		case p4configv1.MatchField_TERNARY, p4configv1.MatchField_RANGE, p4configv1.MatchField_OPTIONAL:
			info.NeedsPriority = true
		}
		info.Fields = append(info.Fields, fi)
		info.fieldByID[fi.ID] = fi
		info.fieldByName[fi.Name] = fi
	}
	for _, ref := range t.GetActionRefs() {
		if _, err := ix.actions.lookupID(ref.GetId()); err != nil {
			return fmt.Errorf("p4info: table %q refers to %w", info.Name, err)
		}
		info.actionRefs[ref.GetId()] = ref.GetScope()
	}
	if id := t.GetImplementationId(); id != 0 {
		ap, err := ix.actionProfiles.lookupID(id)
		if err != nil {
			return fmt.Errorf("p4info: table %q implementation: %w", info.Name, err)
		}
		info.ActionProfile = ap
	}
	for _, id := range t.GetDirectResourceIds() {
		if dc, ok := ix.directCounters.byID[id]; ok {
			info.DirectCounter = dc
		} else if dm, ok := ix.directMeters.byID[id]; ok {
			info.DirectMeter = dm
		}
		// Other direct resources are architecture-specific externs, which
		// this client does not program.
	}
	return ix.tables.add(info.ID, info.Name, info.Alias, info)
}

// digestFields flattens a digest's type to its members when it is a struct
// or tuple; other types yield no fields.
func digestFields(p4info *p4configv1.P4Info, spec *p4configv1.P4DataTypeSpec) []DigestField {
	width := func(s *p4configv1.P4DataTypeSpec) int32 {
		if bs := s.GetBitstring(); bs != nil {
			switch {
			case bs.GetBit() != nil:
				return bs.GetBit().GetBitwidth()
			case bs.GetInt() != nil:
				return bs.GetInt().GetBitwidth()
			}
		}
		return 0
	}
	var fields []DigestField
	switch {
	case spec.GetStruct() != nil:
		st := p4info.GetTypeInfo().GetStructs()[spec.GetStruct().GetName()]
		for _, m := range st.GetMembers() {
			fields = append(fields, DigestField{Name: m.GetName(), Bitwidth: width(m.GetTypeSpec())})
		}
	case spec.GetTuple() != nil:
		for i, m := range spec.GetTuple().GetMembers() {
			fields = append(fields, DigestField{Name: fmt.Sprint(i), Bitwidth: width(m)})
		}
	}
	return fields
}

// P4Info returns the P4Info the index was built from. It must not be
// modified.
func (ix *Index) P4Info() *p4configv1.P4Info { return ix.p4info }

// Table returns the table with the given name or alias.
func (ix *Index) Table(name string) (*TableInfo, error) { return ix.tables.lookup(name) }

// TableByID returns the table with the given id.
func (ix *Index) TableByID(id uint32) (*TableInfo, error) { return ix.tables.lookupID(id) }

// Action returns the action with the given name or alias.
func (ix *Index) Action(name string) (*ActionInfo, error) { return ix.actions.lookup(name) }

// ActionByID returns the action with the given id.
func (ix *Index) ActionByID(id uint32) (*ActionInfo, error) { return ix.actions.lookupID(id) }

// ActionProfile returns the action profile or selector with the given name
// or alias.
func (ix *Index) ActionProfile(name string) (*ActionProfileInfo, error) {
	return ix.actionProfiles.lookup(name)
}

// ActionProfileByID returns the action profile with the given id.
func (ix *Index) ActionProfileByID(id uint32) (*ActionProfileInfo, error) {
	return ix.actionProfiles.lookupID(id)
}

// Counter returns the indexed counter with the given name or alias.
func (ix *Index) Counter(name string) (*CounterInfo, error) { return ix.counters.lookup(name) }

// CounterByID returns the indexed counter with the given id.
func (ix *Index) CounterByID(id uint32) (*CounterInfo, error) { return ix.counters.lookupID(id) }

// DirectCounter returns the direct counter with the given name or alias.
func (ix *Index) DirectCounter(name string) (*DirectCounterInfo, error) {
	return ix.directCounters.lookup(name)
}

// Meter returns the indexed meter with the given name or alias.
func (ix *Index) Meter(name string) (*MeterInfo, error) { return ix.meters.lookup(name) }

// DirectMeter returns the direct meter with the given name or alias.
func (ix *Index) DirectMeter(name string) (*DirectMeterInfo, error) {
	return ix.directMeters.lookup(name)
}

// Register returns the register with the given name or alias.
func (ix *Index) Register(name string) (*RegisterInfo, error) { return ix.registers.lookup(name) }

// Digest returns the digest with the given name or alias.
func (ix *Index) Digest(name string) (*DigestInfo, error) { return ix.digests.lookup(name) }

// DigestByID returns the digest with the given id.
func (ix *Index) DigestByID(id uint32) (*DigestInfo, error) { return ix.digests.lookupID(id) }

// PacketMetadata returns the controller header with the given name
// ("packet_in" or "packet_out" in v1model programs).
func (ix *Index) PacketMetadata(name string) (*PacketMetadataInfo, error) {
	return ix.packetMetadata.lookup(name)
}

// Field returns the match field with the given name.
func (t *TableInfo) Field(name string) (*MatchFieldInfo, error) {
	f, ok := t.fieldByName[name]
	if !ok {
		return nil, fmt.Errorf("table %q: match field %q: %w", t.Name, name, ErrUnknownName)
	}
	return f, nil
}

// FieldByID returns the match field with the given id.
func (t *TableInfo) FieldByID(id uint32) (*MatchFieldInfo, error) {
	f, ok := t.fieldByID[id]
	if !ok {
		return nil, fmt.Errorf("table %q: match field id %d: %w", t.Name, id, ErrUnknownName)
	}
	return f, nil
}

// AllowsAction reports whether the table lists the action, and whether the
// action may be used for entries (not only as the default) and as the
// default action (not only for entries).
func (t *TableInfo) AllowsAction(id uint32) (entry, asDefault bool) {
	scope, ok := t.actionRefs[id]
	if !ok {
		return false, false
	}
	return scope != p4configv1.ActionRef_DEFAULT_ONLY, scope != p4configv1.ActionRef_TABLE_ONLY
}

// Param returns the parameter with the given name.
func (a *ActionInfo) Param(name string) (*ParamInfo, error) {
	p, ok := a.paramByName[name]
	if !ok {
		return nil, fmt.Errorf("action %q: param %q: %w", a.Name, name, ErrUnknownName)
	}
	return p, nil
}

// ParamByID returns the parameter with the given id.
func (a *ActionInfo) ParamByID(id uint32) (*ParamInfo, error) {
	p, ok := a.paramByID[id]
	if !ok {
		return nil, fmt.Errorf("action %q: param id %d: %w", a.Name, id, ErrUnknownName)
	}
	return p, nil
}

// Field returns the metadata field with the given name.
func (m *PacketMetadataInfo) Field(name string) (*MetadataFieldInfo, error) {
	f, ok := m.byName[name]
	if !ok {
		return nil, fmt.Errorf("%s metadata %q: %w", m.Name, name, ErrUnknownName)
	}
	return f, nil
}

// FieldByID returns the metadata field with the given id.
func (m *PacketMetadataInfo) FieldByID(id uint32) (*MetadataFieldInfo, error) {
	f, ok := m.byID[id]
	if !ok {
		return nil, fmt.Errorf("%s metadata id %d: %w", m.Name, id, ErrUnknownName)
	}
	return f, nil
}
