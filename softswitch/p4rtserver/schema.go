package p4rtserver

import (
	"fmt"

	p4cfg "github.com/p4lang/p4runtime/go/p4/config/v1"
	"google.golang.org/grpc/codes"
)

// schema indexes a P4Info by id and ties every P4Info object to the program
// object of the same name. It is immutable once built.
type schema struct {
	info *p4cfg.P4Info

	tables         map[uint32]*tableInfo
	actions        map[uint32]*actionInfo
	profiles       map[uint32]*profileInfo
	counters       map[uint32]*counterInfo
	directCounters map[uint32]*tableInfo // direct counter id → its table
	digests        map[uint32]*digestInfo
	digestsByName  map[string]*digestInfo
	packetIn       *controllerHeader
	packetOut      *controllerHeader
}

type tableInfo struct {
	p              *p4cfg.Table
	name           string
	fields         []*p4cfg.MatchField
	fieldIndex     map[uint32]int // match field id → position in fields (key order)
	actions        map[uint32]p4cfg.ActionRef_Scope
	needsPriority  bool
	profile        *profileInfo // indirect tables
	directCounter  uint32       // direct counter id, 0 if none
	constDefault   bool
	idleTimeout    bool
	initialDefault *p4cfg.TableActionCall // P4Info initial_default_action, if any
	// optionalAsTernary[i] is true when key field i is optional in the
	// P4Info but ternary in the device config.
	optionalAsTernary []bool
}

type actionInfo struct {
	p          *p4cfg.Action
	name       string
	params     []*p4cfg.Action_Param
	paramIndex map[uint32]int
}

type profileInfo struct {
	p      *p4cfg.ActionProfile
	name   string
	tables []*tableInfo
}

type counterInfo struct {
	p    *p4cfg.Counter
	name string
}

type digestInfo struct {
	p      *p4cfg.Digest
	name   string
	widths []int32 // member widths, in order
}

type controllerHeader struct {
	p      *p4cfg.ControllerPacketMetadata
	fields []*p4cfg.ControllerPacketMetadata_Metadata
	index  map[uint32]int
	bits   int32
}

// ID prefixes of P4Info object ids (p4info.proto P4Ids.Prefix).
const (
	prefixAction           = 0x01
	prefixTable            = 0x02
	prefixActionProfile    = 0x11
	prefixCounter          = 0x12
	prefixDirectCounter    = 0x13
	prefixMeter            = 0x14
	prefixDirectMeter      = 0x15
	prefixControllerHeader = 0x04
	prefixDigest           = 0x17
)

// newSchema checks info for internal consistency and against the program's
// declarations (by name), and indexes it. Every error names the object and
// is INVALID_ARGUMENT.
func newSchema(info *p4cfg.P4Info, prog *ProgramSchema) (*schema, error) {
	if info == nil {
		return nil, errorf(codes.InvalidArgument, "p4info is missing")
	}
	s := &schema{
		info:           info,
		tables:         map[uint32]*tableInfo{},
		actions:        map[uint32]*actionInfo{},
		profiles:       map[uint32]*profileInfo{},
		counters:       map[uint32]*counterInfo{},
		directCounters: map[uint32]*tableInfo{},
		digests:        map[uint32]*digestInfo{},
		digestsByName:  map[string]*digestInfo{},
	}
	bad := func(format string, args ...any) error {
		return errorf(codes.InvalidArgument, "p4info does not match the device config: "+format, args...)
	}
	ids := map[uint32]string{}
	claim := func(id uint32, prefix uint32, kind, name string) error {
		if id == 0 {
			return errorf(codes.InvalidArgument, "p4info: %s %q has id 0", kind, name)
		}
		if id>>24 != prefix {
			return errorf(codes.InvalidArgument, "p4info: %s %q has id 0x%08x, whose prefix is not 0x%02x", kind, name, id, prefix)
		}
		if other, dup := ids[id]; dup {
			return errorf(codes.InvalidArgument, "p4info: id 0x%08x is used by both %s and %s %q", id, other, kind, name)
		}
		ids[id] = fmt.Sprintf("%s %q", kind, name)
		return nil
	}

	for _, a := range info.GetActions() {
		name := a.GetPreamble().GetName()
		if err := claim(a.GetPreamble().GetId(), prefixAction, "action", name); err != nil {
			return nil, err
		}
		pa, ok := prog.Actions[name]
		if !ok {
			return nil, bad("action %q is not in the device config", name)
		}
		ai := &actionInfo{p: a, name: name, params: a.GetParams(), paramIndex: map[uint32]int{}}
		if len(a.GetParams()) != len(pa.Params) {
			return nil, bad("action %q has %d params in p4info, %d in the device config", name, len(a.GetParams()), len(pa.Params))
		}
		for i, p := range a.GetParams() {
			if p.GetId() == 0 {
				return nil, errorf(codes.InvalidArgument, "p4info: action %q param %q has id 0", name, p.GetName())
			}
			if _, dup := ai.paramIndex[p.GetId()]; dup {
				return nil, errorf(codes.InvalidArgument, "p4info: action %q has two params with id %d", name, p.GetId())
			}
			if p.GetName() != pa.Params[i].Name || int(p.GetBitwidth()) != pa.Params[i].Width {
				return nil, bad("action %q param %d is %s bit<%d> in p4info, %s bit<%d> in the device config", name, i, p.GetName(), p.GetBitwidth(), pa.Params[i].Name, pa.Params[i].Width)
			}
			ai.paramIndex[p.GetId()] = i
		}
		s.actions[a.GetPreamble().GetId()] = ai
	}

	for _, ap := range info.GetActionProfiles() {
		name := ap.GetPreamble().GetName()
		if err := claim(ap.GetPreamble().GetId(), prefixActionProfile, "action profile", name); err != nil {
			return nil, err
		}
		pp, ok := prog.ActionProfiles[name]
		if !ok {
			return nil, bad("action profile %q is not in the device config", name)
		}
		if pp.Selector != ap.GetWithSelector() {
			return nil, bad("action profile %q: with_selector is %v in p4info, %v in the device config", name, ap.GetWithSelector(), pp.Selector)
		}
		s.profiles[ap.GetPreamble().GetId()] = &profileInfo{p: ap, name: name}
	}

	for _, t := range info.GetTables() {
		name := t.GetPreamble().GetName()
		if err := claim(t.GetPreamble().GetId(), prefixTable, "table", name); err != nil {
			return nil, err
		}
		pt, ok := prog.Tables[name]
		if !ok {
			return nil, bad("table %q is not in the device config", name)
		}
		ti := &tableInfo{
			p: t, name: name, fields: t.GetMatchFields(), fieldIndex: map[uint32]int{},
			actions:      map[uint32]p4cfg.ActionRef_Scope{},
			constDefault: t.GetConstDefaultActionId() != 0,
			idleTimeout:  t.GetIdleTimeoutBehavior() == p4cfg.Table_NOTIFY_CONTROL,
		}
		if len(t.GetMatchFields()) != len(pt.Keys) {
			return nil, bad("table %q has %d key fields in p4info, %d in the device config", name, len(t.GetMatchFields()), len(pt.Keys))
		}
		for i, mf := range t.GetMatchFields() {
			if mf.GetId() == 0 {
				return nil, errorf(codes.InvalidArgument, "p4info: table %q match field %q has id 0", name, mf.GetName())
			}
			if _, dup := ti.fieldIndex[mf.GetId()]; dup {
				return nil, errorf(codes.InvalidArgument, "p4info: table %q has two match fields with id %d", name, mf.GetId())
			}
			kind, err := matchKind(mf)
			if err != nil {
				return nil, errorf(codes.InvalidArgument, "p4info: table %q match field %q: %v", name, mf.GetName(), err)
			}
			k := pt.Keys[i]
			// p4c before BMv2 knew optional matches wrote them as ternary
			// in the JSON; the server then sends a full or empty mask.
			ternaryOptional := kind == MatchOptional && k.Kind == MatchTernary
			if mf.GetName() != k.Name || (kind != k.Kind && !ternaryOptional) || int(mf.GetBitwidth()) != k.Width {
				return nil, bad("table %q key field %d is %s %s bit<%d> in p4info, %s %s bit<%d> in the device config", name, i, mf.GetName(), kind, mf.GetBitwidth(), k.Name, k.Kind, k.Width)
			}
			if kind == MatchTernary || kind == MatchRange || kind == MatchOptional {
				ti.needsPriority = true
			}
			ti.fieldIndex[mf.GetId()] = i
			ti.optionalAsTernary = append(ti.optionalAsTernary, ternaryOptional)
		}
		progActions := map[string]bool{}
		for _, a := range pt.Actions {
			progActions[a] = true
		}
		for _, ref := range t.GetActionRefs() {
			ai, ok := s.actions[ref.GetId()]
			if !ok {
				return nil, errorf(codes.InvalidArgument, "p4info: table %q refers to unknown action id 0x%08x", name, ref.GetId())
			}
			if !progActions[ai.name] {
				return nil, bad("table %q: action %q is not an action of the table in the device config", name, ai.name)
			}
			ti.actions[ref.GetId()] = ref.GetScope()
		}
		if id := t.GetConstDefaultActionId(); id != 0 {
			if _, ok := ti.actions[id]; !ok {
				return nil, errorf(codes.InvalidArgument, "p4info: table %q: const default action 0x%08x is not one of its actions", name, id)
			}
		}
		if ida := t.GetInitialDefaultAction(); ida != nil {
			ti.initialDefault = ida
		}
		if id := t.GetImplementationId(); id != 0 {
			pi, ok := s.profiles[id]
			if !ok {
				return nil, errorf(codes.InvalidArgument, "p4info: table %q: implementation 0x%08x is not an action profile", name, id)
			}
			if pt.Profile != pi.name {
				return nil, bad("table %q is implemented by %q in p4info, by %q in the device config", name, pi.name, pt.Profile)
			}
			ti.profile = pi
			pi.tables = append(pi.tables, ti)
		} else if pt.Profile != "" {
			return nil, bad("table %q is direct in p4info, implemented by %q in the device config", name, pt.Profile)
		}
		s.tables[t.GetPreamble().GetId()] = ti
	}

	for _, pi := range s.profiles {
		for _, tid := range pi.p.GetTableIds() {
			if ti, ok := s.tables[tid]; !ok || ti.profile != pi {
				return nil, errorf(codes.InvalidArgument, "p4info: action profile %q lists table 0x%08x, which it does not implement", pi.name, tid)
			}
		}
	}

	for _, c := range info.GetCounters() {
		name := c.GetPreamble().GetName()
		if err := claim(c.GetPreamble().GetId(), prefixCounter, "counter", name); err != nil {
			return nil, err
		}
		pc, ok := prog.Counters[name]
		if !ok {
			return nil, bad("counter %q is not in the device config", name)
		}
		if int64(pc.Size) != c.GetSize() {
			return nil, bad("counter %q has size %d in p4info, %d in the device config", name, c.GetSize(), pc.Size)
		}
		s.counters[c.GetPreamble().GetId()] = &counterInfo{p: c, name: name}
	}

	for _, dc := range info.GetDirectCounters() {
		name := dc.GetPreamble().GetName()
		if err := claim(dc.GetPreamble().GetId(), prefixDirectCounter, "direct counter", name); err != nil {
			return nil, err
		}
		ti, ok := s.tables[dc.GetDirectTableId()]
		if !ok {
			return nil, errorf(codes.InvalidArgument, "p4info: direct counter %q: table 0x%08x is unknown", name, dc.GetDirectTableId())
		}
		if prog.Tables[ti.name].DirectCounter != name {
			return nil, bad("direct counter %q of table %q is not in the device config (it has %q)", name, ti.name, prog.Tables[ti.name].DirectCounter)
		}
		ti.directCounter = dc.GetPreamble().GetId()
		s.directCounters[dc.GetPreamble().GetId()] = ti
	}

	if len(info.GetMeters()) > 0 || len(info.GetDirectMeters()) > 0 {
		return nil, errorf(codes.InvalidArgument, "p4info: meters are not supported by this device (%d meters, %d direct meters)", len(info.GetMeters()), len(info.GetDirectMeters()))
	}
	if len(info.GetRegisters()) > 0 || len(info.GetValueSets()) > 0 || len(info.GetExterns()) > 0 {
		// Registers and value sets have no P4Runtime entities here; the
		// program may still use registers internally.
		for _, r := range info.GetValueSets() {
			return nil, errorf(codes.InvalidArgument, "p4info: value set %q is not supported by this device", r.GetPreamble().GetName())
		}
		for _, e := range info.GetExterns() {
			return nil, errorf(codes.InvalidArgument, "p4info: extern type %q is not supported by this device", e.GetExternTypeName())
		}
	}

	for _, d := range info.GetDigests() {
		name := d.GetPreamble().GetName()
		if err := claim(d.GetPreamble().GetId(), prefixDigest, "digest", name); err != nil {
			return nil, err
		}
		pd, ok := prog.Digests[name]
		if !ok {
			return nil, bad("digest %q is not in the device config", name)
		}
		widths, err := structWidths(info, d.GetTypeSpec())
		if err != nil {
			return nil, errorf(codes.InvalidArgument, "p4info: digest %q: %v", name, err)
		}
		if len(widths) != len(pd.Fields) {
			return nil, bad("digest %q has %d fields in p4info, %d in the device config", name, len(widths), len(pd.Fields))
		}
		for i, w := range widths {
			if int(w) != pd.Fields[i].Width {
				return nil, bad("digest %q field %d is bit<%d> in p4info, bit<%d> (%s) in the device config", name, i, w, pd.Fields[i].Width, pd.Fields[i].Name)
			}
		}
		di := &digestInfo{p: d, name: name, widths: widths}
		s.digests[d.GetPreamble().GetId()] = di
		s.digestsByName[name] = di
	}

	for _, cpm := range info.GetControllerPacketMetadata() {
		name := cpm.GetPreamble().GetName()
		if err := claim(cpm.GetPreamble().GetId(), prefixControllerHeader, "controller packet metadata", name); err != nil {
			return nil, err
		}
		h := &controllerHeader{p: cpm, fields: cpm.GetMetadata(), index: map[uint32]int{}}
		for i, m := range cpm.GetMetadata() {
			if m.GetBitwidth() <= 0 {
				return nil, errorf(codes.InvalidArgument, "p4info: controller header %q field %q: bitwidth %d (translated types are not supported)", name, m.GetName(), m.GetBitwidth())
			}
			h.index[m.GetId()] = i
			h.bits += m.GetBitwidth()
		}
		if h.bits%8 != 0 {
			return nil, errorf(codes.InvalidArgument, "p4info: controller header %q is %d bits, not a whole number of bytes", name, h.bits)
		}
		switch name {
		case "packet_in":
			s.packetIn = h
		case "packet_out":
			s.packetOut = h
		default:
			return nil, errorf(codes.InvalidArgument, "p4info: controller header %q: only packet_in and packet_out are supported", name)
		}
	}
	return s, nil
}

// matchKind maps a P4Info match type to a MatchKind.
func matchKind(mf *p4cfg.MatchField) (MatchKind, error) {
	switch mf.GetMatchType() {
	case p4cfg.MatchField_EXACT:
		return MatchExact, nil
	case p4cfg.MatchField_LPM:
		return MatchLPM, nil
	case p4cfg.MatchField_TERNARY:
		return MatchTernary, nil
	case p4cfg.MatchField_RANGE:
		return MatchRange, nil
	case p4cfg.MatchField_OPTIONAL:
		return MatchOptional, nil
	}
	if mf.GetOtherMatchType() != "" {
		return 0, fmt.Errorf("match type %q is not supported", mf.GetOtherMatchType())
	}
	return 0, fmt.Errorf("match type %v is not supported", mf.GetMatchType())
}

// structWidths returns the bitwidths of the members of a digest's struct (or
// single bitstring) type.
func structWidths(info *p4cfg.P4Info, ts *p4cfg.P4DataTypeSpec) ([]int32, error) {
	if bs := ts.GetBitstring(); bs != nil {
		w, err := bitstringWidth(bs)
		return []int32{w}, err
	}
	st := ts.GetStruct()
	if st == nil {
		return nil, fmt.Errorf("type %v is not supported (struct of bit<W> only)", ts)
	}
	spec, ok := info.GetTypeInfo().GetStructs()[st.GetName()]
	if !ok {
		return nil, fmt.Errorf("struct %q is not in type_info", st.GetName())
	}
	var out []int32
	for _, m := range spec.GetMembers() {
		bs := m.GetTypeSpec().GetBitstring()
		if bs == nil {
			return nil, fmt.Errorf("struct %q member %q: only bit<W> members are supported", st.GetName(), m.GetName())
		}
		w, err := bitstringWidth(bs)
		if err != nil {
			return nil, fmt.Errorf("struct %q member %q: %w", st.GetName(), m.GetName(), err)
		}
		out = append(out, w)
	}
	return out, nil
}

func bitstringWidth(bs *p4cfg.P4BitstringLikeTypeSpec) (int32, error) {
	if b := bs.GetBit(); b != nil {
		return b.GetBitwidth(), nil
	}
	return 0, fmt.Errorf("only bit<W> is supported, not %v", bs)
}
