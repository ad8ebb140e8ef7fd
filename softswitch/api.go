package softswitch

// This file is the control-plane surface of the switch: what a P4Runtime
// server (softswitch/p4rtserver) or a test needs to load a program, look at
// it by name, and manage its entities. Names are the fully qualified names p4c
// writes into the BMv2 JSON, which are also the names in the P4Info
// ("MyIngress.fib", "MyIngress.set_port"); the server maps P4Info ids to them.
//
// Concurrency model. Any number of goroutines may call these methods and feed
// frames at the same time. Control-plane writes are serialised per switch by
// one mutex; the packet path takes no lock. Every table entry, action-profile
// member and group, multicast group and clone session is an immutable value
// published with an atomic pointer store (read-copy-update): a packet sees
// either the old entry or the new one, never a mix, and a program swap is one
// atomic pointer store as well (packets in flight finish on the program they
// started with). Counters are updated with atomic adds; a counter read is a
// consistent (packets, bytes) pair per cell only up to one in-flight packet.

import (
	"errors"
	"fmt"
	"log/slog"
)

// Sentinel errors. Every error returned by this package wraps one of them
// (test with errors.Is), so a P4Runtime server can map it to a status code:
// ErrNotFound → NOT_FOUND, ErrExists → ALREADY_EXISTS, ErrTableFull →
// RESOURCE_EXHAUSTED, ErrInvalid → INVALID_ARGUMENT, ErrUnsupported →
// UNIMPLEMENTED (at load: INVALID_ARGUMENT), ErrNoProgram →
// FAILED_PRECONDITION, ErrConst → INVALID_ARGUMENT (P4Runtime says a const
// table or const default action cannot be written), ErrInUse →
// FAILED_PRECONDITION (a member or group still referenced).
var (
	ErrNotFound    = errors.New("not found")
	ErrExists      = errors.New("already exists")
	ErrTableFull   = errors.New("resource exhausted")
	ErrInvalid     = errors.New("invalid argument")
	ErrUnsupported = errors.New("unsupported")
	ErrNoProgram   = errors.New("no program loaded")
	ErrConst       = errors.New("entity is const")
	ErrInUse       = errors.New("still in use")
)

// MatchKind is the match kind of a table key field, as in the JSON.
type MatchKind uint8

// Match kinds. MatchValid is the P4_14 validity match; p4c never emits it for
// P4_16 (it matches on the hidden field $valid$ with exact instead).
const (
	MatchExact MatchKind = iota + 1
	MatchLPM
	MatchTernary
	MatchRange
	MatchOptional
	MatchValid
)

func (k MatchKind) String() string {
	switch k {
	case MatchExact:
		return "exact"
	case MatchLPM:
		return "lpm"
	case MatchTernary:
		return "ternary"
	case MatchRange:
		return "range"
	case MatchOptional:
		return "optional"
	case MatchValid:
		return "valid"
	}
	return fmt.Sprintf("MatchKind(%d)", uint8(k))
}

// KeyFieldInfo describes one field of a table key.
type KeyFieldInfo struct {
	// Name is the key element's name as p4c records it ("hdr.eth.dst"),
	// which is the match field name in the P4Info.
	Name     string
	Kind     MatchKind
	Bitwidth int
}

// TableInfo describes a match-action table of the loaded program.
type TableInfo struct {
	Name string
	Keys []KeyFieldInfo
	// Actions are the names of the actions an entry of this table may call.
	Actions []string
	// ActionProfile names the action profile or selector of an indirect
	// table; empty for a direct table.
	ActionProfile string
	// MaxSize is the number of entries the table holds; inserts beyond it
	// fail with ErrTableFull.
	MaxSize int
	// DirectCounter names the direct counter attached, if any.
	DirectCounter string
	// DirectMeter names the direct meter attached, if any.
	DirectMeter string
	// ConstDefault is true when the default action cannot be changed.
	ConstDefault bool
	// ConstEntries is true when the table's entries are fixed by the
	// program (P4 `const entries`); writes fail with ErrConst.
	ConstEntries bool
	// DefaultAction is the action the program installs as default.
	DefaultAction ActionCall
	// Hidden is true for tables p4c synthesised to call an action from a
	// control body (no key, const default): not visible to a controller.
	Hidden bool
	// NeedsPriority is true when entries carry a priority (ternary, range or
	// optional keys).
	NeedsPriority bool
	// SupportTimeout is true for a table compiled with support_timeout
	// (P4Info idle_timeout_behavior NOTIFY_CONTROL): its entries record
	// when packets hit them (Switch.LastHit).
	SupportTimeout bool
}

// ParamInfo is one action parameter.
type ParamInfo struct {
	Name     string
	Bitwidth int
}

// ActionInfo describes an action.
type ActionInfo struct {
	Name   string
	Params []ParamInfo
}

// ActionProfileInfo describes an action profile or, with a selector, an
// action selector.
type ActionProfileInfo struct {
	Name string
	// Tables are the tables that use it.
	Tables []string
	// MaxSize bounds the number of members.
	MaxSize int
	// WithSelector is true for an action selector (groups allowed).
	WithSelector bool
	// SelectorAlgo is the hash algorithm of the selector ("crc16", ...).
	SelectorAlgo string
}

// CounterInfo describes a counter array.
type CounterInfo struct {
	Name string
	// Size is the number of cells of an indirect counter; for a direct
	// counter it is the size of the table it is bound to.
	Size int
	// DirectTable names the table of a direct counter; empty if indirect.
	DirectTable string
}

// RegisterInfo describes a register array.
type RegisterInfo struct {
	Name     string
	Size     int
	Bitwidth int
}

// MeterInfo describes a meter array. Meters are listed so a server can check
// its P4Info, but a program whose actions execute a meter is rejected at load
// (ErrUnsupported).
type MeterInfo struct {
	Name        string
	Size        int
	DirectTable string
	// Unit is "bytes" or "packets".
	Unit string
}

// DigestInfo describes a digest (a BMv2 learn list). Name is the P4 struct
// type's name, which is the digest name in the P4Info. Field names are those
// of the fields p4c samples, often its temporaries ("tmp_7"): match fields
// to the P4Info's struct members by position and width.
type DigestInfo struct {
	Name   string
	Fields []ParamInfo
}

// HeaderTypeInfo describes a header type; a P4Runtime server checks its
// controller_packet_metadata (packet_in, packet_out) against these.
type HeaderTypeInfo struct {
	Name   string
	Fields []ParamInfo
}

// FieldMatch is the value of one key field in a table entry. Values are
// canonical big-endian byte strings (P4Runtime's bytestrings: leading zero
// bytes may be omitted, but the value must fit the field's width).
//
// How it is read depends on the key field's kind:
//   - exact: Value.
//   - lpm: Value and PrefixLen; a nil Value (or PrefixLen 0) is a wildcard.
//   - ternary: Value and Mask; both nil is a wildcard; a Value with a nil
//     Mask matches exactly (P4Runtime's optional match: p4c compiles
//     optional keys to ternary ones in the JSON).
//   - optional: Value; a nil Value is a wildcard.
//   - range: Value is the low bound and High the high bound, inclusive; both
//     nil is a wildcard.
//
// Entries read back carry the same form, with wildcards as nil values and
// values in the shortest canonical form.
type FieldMatch struct {
	Value     []byte
	Mask      []byte
	PrefixLen int
	High      []byte
}

// ActionCall is what a table entry does: a direct action with its
// parameters, or a reference to an action-profile member or group.
type ActionCall struct {
	// Action is the action's name; with Params, a direct action.
	Action string
	// Params are the action's parameter values in declaration order,
	// canonical big-endian.
	Params [][]byte
	// MemberID, when GroupID is 0 and Action empty, names an action-profile
	// member (indirect tables only).
	MemberID uint32
	// GroupID names an action-selector group (indirect tables only).
	GroupID uint32
	// IsMember distinguishes member 0 from "no member".
	IsMember bool
	// IsGroup distinguishes group 0 from "no group".
	IsGroup bool
}

// CounterData is one counter cell.
type CounterData struct {
	Packets uint64
	Bytes   uint64
}

// TableEntry is one entry of a table.
type TableEntry struct {
	// Match has one element per key field, in the order of TableInfo.Keys.
	Match []FieldMatch
	// Priority orders overlapping entries of tables with ternary, range or
	// optional keys, with P4Runtime's sense: a higher number wins. It must
	// be >0 for those tables and 0 otherwise.
	Priority int32
	Action   ActionCall
	// Counter is the direct counter cell; filled on reads, and written by
	// ModifyEntry only when SetCounter is true.
	Counter    CounterData
	SetCounter bool
}

// Member is an action-profile member: an action with its parameters.
type Member struct {
	ID     uint32
	Action string
	Params [][]byte
}

// GroupMember is a member of a selector group. Weight ≥1 repeats the member
// that many times in the hash ring, as BMv2's PI implementation does.
type GroupMember struct {
	ID     uint32
	Weight int
}

// Group is an action-selector group.
type Group struct {
	ID uint32
	// MaxSize bounds the sum of weights; 0 means no bound beyond the
	// profile's.
	MaxSize int
	Members []GroupMember
}

// Replica is one copy made by the packet replication engine: the egress port
// and the replication id the egress pipeline reads in
// standard_metadata.egress_rid.
type Replica struct {
	Port uint32
	Rid  uint16
}

// MulticastGroup is a multicast group of the packet replication engine.
type MulticastGroup struct {
	ID       uint32
	Replicas []Replica
}

// CloneSession is a clone (mirror) session: clones go to every replica;
// PacketLength, when non-zero, truncates each clone to that many bytes.
type CloneSession struct {
	ID             uint32
	Replicas       []Replica
	ClassOfService uint32
	PacketLength   int
}

// Digest is one digest message raised by a packet: the learn list's name and
// its field values in declaration order, canonical big-endian, each padded to
// the field's width in whole bytes.
type Digest struct {
	Name   string
	Fields [][]byte
}

// PacketIn is a frame the pipeline sent to the CPU port. Frame begins with the
// program's packet_in header (if it emits one); SplitControllerHeader parses
// it with the widths from the P4Info or HeaderTypeInfo.
type PacketIn struct {
	Frame []byte
}

// Port is a switch port: something that carries Ethernet frames. Read blocks
// until a frame is available (copying it into buf) or the port is closed
// (then it returns an error); Write transmits one frame and must not retain
// it. Implementations: in-memory links (NewLink), AF_PACKET sockets
// (OpenInterface).
type Port interface {
	Read(buf []byte) (int, error)
	Write(frame []byte) error
	Close() error
}

// TableInfos lists the program's tables, including hidden ones.
func (p *Program) TableInfos() []TableInfo {
	out := make([]TableInfo, 0, len(p.tables))
	for _, t := range p.tables {
		out = append(out, t.info())
	}
	return out
}

// Table describes one table by name.
func (p *Program) Table(name string) (TableInfo, error) {
	t, err := p.table(name)
	if err != nil {
		return TableInfo{}, err
	}
	return t.info(), nil
}

// ActionInfos lists the program's actions (one per name).
func (p *Program) ActionInfos() []ActionInfo {
	out := make([]ActionInfo, 0, len(p.actionByName))
	seen := make(map[string]bool)
	for _, a := range p.actions {
		if seen[a.name] {
			continue
		}
		seen[a.name] = true
		out = append(out, a.info())
	}
	return out
}

// Action describes one action by name.
func (p *Program) Action(name string) (ActionInfo, error) {
	a, ok := p.actionByName[trimDot(name)]
	if !ok {
		return ActionInfo{}, fmt.Errorf("action %q: %w", name, ErrNotFound)
	}
	return a.info(), nil
}

// ActionProfiles lists action profiles and selectors.
func (p *Program) ActionProfiles() []ActionProfileInfo {
	out := make([]ActionProfileInfo, 0, len(p.profiles))
	for _, ap := range p.profiles {
		out = append(out, ap.info())
	}
	return out
}

// Counters lists counter arrays, direct and indirect.
func (p *Program) Counters() []CounterInfo {
	out := make([]CounterInfo, 0, len(p.counters))
	for _, c := range p.counters {
		out = append(out, CounterInfo{Name: c.name, Size: c.size, DirectTable: c.directTable})
	}
	return out
}

// Registers lists register arrays.
func (p *Program) Registers() []RegisterInfo {
	out := make([]RegisterInfo, 0, len(p.registers))
	for _, r := range p.registers {
		out = append(out, RegisterInfo{Name: r.name, Size: r.size, Bitwidth: r.width})
	}
	return out
}

// Meters lists meter arrays.
func (p *Program) Meters() []MeterInfo {
	return append([]MeterInfo(nil), p.meters...)
}

// Digests lists the digests (learn lists).
func (p *Program) Digests() []DigestInfo {
	out := make([]DigestInfo, 0, len(p.learnLists))
	for _, l := range p.learnLists {
		out = append(out, DigestInfo{Name: l.name, Fields: append([]ParamInfo(nil), l.info...)})
	}
	return out
}

// HeaderTypes lists the program's header types.
func (p *Program) HeaderTypes() []HeaderTypeInfo {
	out := make([]HeaderTypeInfo, 0, len(p.headerTypes))
	for _, ht := range p.headerTypes {
		fs := make([]ParamInfo, len(ht.fields))
		for i, f := range ht.fields {
			fs[i] = ParamInfo{Name: f.name, Bitwidth: f.width}
		}
		out = append(out, HeaderTypeInfo{Name: ht.name, Fields: fs})
	}
	return out
}

// SplitControllerHeader parses a controller header (packet_in) of the given
// field widths from the front of frame. It returns each field's value,
// canonical big-endian padded to whole bytes, and the rest of the frame.
func SplitControllerHeader(widths []int, frame []byte) (fields [][]byte, payload []byte, err error) {
	total := 0
	for _, w := range widths {
		if w <= 0 {
			return nil, nil, fmt.Errorf("controller header field width %d: %w", w, ErrInvalid)
		}
		total += w
	}
	if total%8 != 0 {
		return nil, nil, fmt.Errorf("controller header of %d bits is not whole bytes: %w", total, ErrInvalid)
	}
	if len(frame) < total/8 {
		return nil, nil, fmt.Errorf("frame of %d bytes is shorter than the %d-byte controller header: %w", len(frame), total/8, ErrInvalid)
	}
	off := 0
	fields = make([][]byte, len(widths))
	for i, w := range widths {
		v := make([]byte, (w+7)/8)
		copyBits(v, frame, off, w)
		fields[i] = v
		off += w
	}
	return fields, frame[total/8:], nil
}

// BuildControllerHeader serialises a controller header (packet_out) of the
// given field widths and values (big-endian, any length that fits) in front
// of payload, for PacketOut.
func BuildControllerHeader(widths []int, values [][]byte, payload []byte) ([]byte, error) {
	if len(widths) != len(values) {
		return nil, fmt.Errorf("controller header has %d fields, got %d values: %w", len(widths), len(values), ErrInvalid)
	}
	total := 0
	for _, w := range widths {
		total += w
	}
	if total%8 != 0 {
		return nil, fmt.Errorf("controller header of %d bits is not whole bytes: %w", total, ErrInvalid)
	}
	out := make([]byte, total/8, total/8+len(payload))
	off := 0
	for i, w := range widths {
		if err := checkFits(values[i], w); err != nil {
			return nil, fmt.Errorf("controller header field %d: %w", i, err)
		}
		putBits(out, off, w, values[i])
		off += w
	}
	return append(out, payload...), nil
}

// Config configures a Switch.
type Config struct {
	// CPUPort is the port number of the CPU port: frames the pipeline sends
	// there are delivered as PacketIn, and PacketOut injects frames as if
	// received there. 0 disables it (as BMv2 without --cpu-port).
	CPUPort uint32
	// DropPort is the egress_spec value that drops (v1model: 511). 0 means
	// 511.
	DropPort uint32
	// DigestQueue is the capacity of the Digests channel (default 4096).
	// When it is full, new digests are dropped and counted in Stats.
	DigestQueue int
	// PacketInQueue is the capacity of the PacketIns channel (default 1024).
	PacketInQueue int
	// Logger receives load and runtime events; nil means slog.Default().
	Logger *slog.Logger
}

// Stats are switch-wide packet counters.
type Stats struct {
	// Received counts frames entering ingress (including packet-outs).
	Received uint64
	// Transmitted counts frames written to ports (including packet-ins).
	Transmitted uint64
	// Dropped counts frames dropped by the program (egress_spec = drop
	// port, or a multicast group with no replicas).
	Dropped uint64
	// NoProgram counts frames received while no program was loaded.
	NoProgram uint64
	// NoPort counts frames sent to a port number with no port attached.
	NoPort uint64
	// DigestsDropped counts digests lost because the Digests channel was
	// full.
	DigestsDropped uint64
	// PacketInsDropped counts packet-ins lost because the PacketIns channel
	// was full.
	PacketInsDropped uint64
	// PortErrors counts failed port writes.
	PortErrors uint64
}

// Load compiles a BMv2 JSON program and runs it (Compile then SetProgram).
// On error the running program is unchanged and the error names the first
// unsupported or malformed construct.
func (s *Switch) Load(bmv2JSON []byte) error {
	p, err := Compile(bmv2JSON)
	if err != nil {
		return err
	}
	return s.SetProgram(p)
}

// SetProgram makes a compiled program the running one, with P4Runtime's
// VERIFY_AND_COMMIT semantics: the forwarding state starts empty (tables hold
// only const entries and the program's default actions; counters and
// registers are zero; no action-profile members or groups) and multicast
// groups and clone sessions are deleted. Ports stay attached. Packets in
// flight finish on the program they started with. A Program runs on one
// switch, once: compile again to reload.
func (s *Switch) SetProgram(p *Program) error {
	if p == nil {
		return fmt.Errorf("nil program: %w", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !p.used.CompareAndSwap(false, true) {
		return fmt.Errorf("program already ran on a switch; compile it again: %w", ErrInvalid)
	}
	s.pre.reset()
	s.prog.Store(p)
	s.log.Info("softswitch: program running", "tables", len(p.tables), "actions", len(p.actions))
	return nil
}

// Program returns the loaded program for introspection.
func (s *Switch) Program() (*Program, error) {
	p := s.prog.Load()
	if p == nil {
		return nil, ErrNoProgram
	}
	return p, nil
}

// InsertEntry adds an entry to a table.
func (s *Switch) InsertEntry(tableName string, e TableEntry) error {
	return s.withTable(tableName, func(t *table) error { return t.insert(e) })
}

// ModifyEntry replaces the action of an existing entry (and its direct
// counter when e.SetCounter is true).
func (s *Switch) ModifyEntry(tableName string, e TableEntry) error {
	return s.withTable(tableName, func(t *table) error { return t.modify(e) })
}

// DeleteEntry removes the entry with the given match and priority.
func (s *Switch) DeleteEntry(tableName string, match []FieldMatch, priority int32) error {
	return s.withTable(tableName, func(t *table) error { return t.remove(match, priority) })
}

// Entry reads one entry, with its direct counter.
func (s *Switch) Entry(tableName string, match []FieldMatch, priority int32) (TableEntry, error) {
	var out TableEntry
	err := s.withTable(tableName, func(t *table) error {
		var err error
		out, err = t.get(match, priority)
		return err
	})
	return out, err
}

// Entries lists a table's entries (not the default entry), in insertion
// order for tables with priorities and unspecified order otherwise.
func (s *Switch) Entries(tableName string) ([]TableEntry, error) {
	var out []TableEntry
	err := s.withTable(tableName, func(t *table) error {
		out = t.list()
		return nil
	})
	return out, err
}

// DefaultEntry reads a table's default action.
func (s *Switch) DefaultEntry(tableName string) (ActionCall, error) {
	var out ActionCall
	err := s.withTable(tableName, func(t *table) error {
		out = t.defaultCall()
		return nil
	})
	return out, err
}

// SetDefaultEntry changes a table's default action; ErrConst when the
// program declared it const.
func (s *Switch) SetDefaultEntry(tableName string, a ActionCall) error {
	return s.withTable(tableName, func(t *table) error { return t.setDefault(a) })
}

// ResetDefaultEntry restores the default action the program declared.
func (s *Switch) ResetDefaultEntry(tableName string) error {
	return s.withTable(tableName, func(t *table) error { return t.resetDefault() })
}

// InsertMember adds a member to an action profile.
func (s *Switch) InsertMember(profile string, m Member) error {
	return s.withProfile(profile, func(ap *actionProfile) error { return ap.insertMember(m, false) })
}

// ModifyMember changes a member's action; tables that point at it see the
// change at once.
func (s *Switch) ModifyMember(profile string, m Member) error {
	return s.withProfile(profile, func(ap *actionProfile) error { return ap.insertMember(m, true) })
}

// DeleteMember removes a member; ErrInUse while a table entry or group
// references it.
func (s *Switch) DeleteMember(profile string, id uint32) error {
	return s.withProfile(profile, func(ap *actionProfile) error { return ap.deleteMember(id) })
}

// Members lists an action profile's members.
func (s *Switch) Members(profile string) ([]Member, error) {
	var out []Member
	err := s.withProfile(profile, func(ap *actionProfile) error {
		out = ap.listMembers()
		return nil
	})
	return out, err
}

// InsertGroup adds a group to an action selector.
func (s *Switch) InsertGroup(profile string, g Group) error {
	return s.withProfile(profile, func(ap *actionProfile) error { return ap.insertGroup(g, false) })
}

// ModifyGroup replaces a group's members.
func (s *Switch) ModifyGroup(profile string, g Group) error {
	return s.withProfile(profile, func(ap *actionProfile) error { return ap.insertGroup(g, true) })
}

// DeleteGroup removes a group; ErrInUse while a table entry references it.
func (s *Switch) DeleteGroup(profile string, id uint32) error {
	return s.withProfile(profile, func(ap *actionProfile) error { return ap.deleteGroup(id) })
}

// Groups lists an action selector's groups.
func (s *Switch) Groups(profile string) ([]Group, error) {
	var out []Group
	err := s.withProfile(profile, func(ap *actionProfile) error {
		out = ap.listGroups()
		return nil
	})
	return out, err
}

// ReadCounter reads one cell of an indirect counter.
func (s *Switch) ReadCounter(counter string, index int) (CounterData, error) {
	var out CounterData
	err := s.withCounter(counter, index, func(c *counterCell) { out = c.load() })
	return out, err
}

// WriteCounter sets one cell of an indirect counter.
func (s *Switch) WriteCounter(counter string, index int, d CounterData) error {
	return s.withCounter(counter, index, func(c *counterCell) { c.store(d) })
}

// ReadRegister reads one cell of a register array, big-endian in whole
// bytes of the register's width.
func (s *Switch) ReadRegister(register string, index int) ([]byte, error) {
	var out []byte
	err := s.withRegister(register, index, func(r *registerArray) error {
		out = uintBytes(r.cells[index].Load(), r.width)
		return nil
	})
	return out, err
}

// WriteRegister sets one cell of a register array.
func (s *Switch) WriteRegister(register string, index int, value []byte) error {
	return s.withRegister(register, index, func(r *registerArray) error {
		if err := checkFits(value, r.width); err != nil {
			return fmt.Errorf("register %q: %w", register, err)
		}
		r.cells[index].Store(bytesUint(value))
		return nil
	})
}

// InsertMulticastGroup adds a multicast group (id ≥1).
func (s *Switch) InsertMulticastGroup(g MulticastGroup) error {
	return s.pre.insertMulticast(g, false)
}

// ModifyMulticastGroup replaces a multicast group's replicas.
func (s *Switch) ModifyMulticastGroup(g MulticastGroup) error {
	return s.pre.insertMulticast(g, true)
}

// DeleteMulticastGroup removes a multicast group.
func (s *Switch) DeleteMulticastGroup(id uint32) error {
	return s.pre.deleteMulticast(id)
}

// MulticastGroups lists the multicast groups, by id.
func (s *Switch) MulticastGroups() []MulticastGroup {
	return s.pre.listMulticast()
}

// InsertCloneSession adds a clone session (id ≥1).
func (s *Switch) InsertCloneSession(c CloneSession) error {
	return s.pre.insertClone(c, false)
}

// ModifyCloneSession replaces a clone session.
func (s *Switch) ModifyCloneSession(c CloneSession) error {
	return s.pre.insertClone(c, true)
}

// DeleteCloneSession removes a clone session.
func (s *Switch) DeleteCloneSession(id uint32) error {
	return s.pre.deleteClone(id)
}

// CloneSessions lists the clone sessions, by id.
func (s *Switch) CloneSessions() []CloneSession {
	return s.pre.listClone()
}

// Digests delivers the digests packets raise, in order. The channel is
// closed by Close.
func (s *Switch) Digests() <-chan Digest { return s.digests }

// PacketIns delivers the frames the pipeline sends to the CPU port. The
// channel is closed by Close.
func (s *Switch) PacketIns() <-chan PacketIn { return s.packetIns }

// PacketOut injects a frame (beginning with the program's packet_out header,
// if any) as if it arrived on the CPU port, as BMv2 does.
func (s *Switch) PacketOut(frame []byte) error {
	if s.cfg.CPUPort == 0 {
		return fmt.Errorf("packet-out: no CPU port configured: %w", ErrInvalid)
	}
	s.Process(s.cfg.CPUPort, frame)
	return nil
}

// CPUPort is the CPU port number (0 if none).
func (s *Switch) CPUPort() uint32 { return s.cfg.CPUPort }
