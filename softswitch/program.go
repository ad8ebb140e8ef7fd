package softswitch

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Program is a compiled BMv2 JSON program together with its runtime state
// (table entries, counters, registers, action profiles). It is created by
// Compile and owned by one Switch; its structure never changes after Compile,
// only the state inside its tables and arrays.
type Program struct {
	headerTypes  []*headerType
	headers      []*header
	headerByName map[string]*header
	fields       []field
	fieldByName  map[string]int
	stacks       []*headerStack
	stackByName  map[string]*headerStack
	nVals        int
	nWide        int
	errorCodes   map[string]uint64

	actions      []*action
	actionByID   map[int]*action
	actionByName map[string]*action

	tables      []*table
	tableByName map[string]*table
	profiles    []*actionProfile
	profileByNm map[string]*actionProfile

	counters    []*counterArray
	counterByNm map[string]*counterArray
	registers   []*registerArray
	registerBy  map[string]*registerArray
	meters      []MeterInfo
	learnLists  []*learnList
	learnByID   map[int]*learnList
	fieldLists  map[int][]int
	calcs       map[string]*calculation

	parser          *parser
	deparser        []int // header ids in emit order
	ingress, egress *node
	verifyChecksums []*checksum
	updateChecksums []*checksum

	std stdFields
	// epoch starts the program's monotonic clock, which times entry hits
	// (hits.go).
	epoch time.Time
	// maxCalcBytes is the largest hash input without payload.
	maxCalcBytes int

	pool sync.Pool
	used atomic.Bool // set when a switch runs the program
}

// stdFields are the field ids of v1model's standard_metadata that the switch
// reads and writes itself (-1 when the program lacks one).
type stdFields struct {
	ingressPort, egressSpec, egressPort, instanceType, packetLength int
	mcastGrp, egressRid, checksumError, parserError                 int
}

type headerType struct {
	name   string
	fields []typeField
	bits   int
}

type typeField struct {
	name  string
	width int
}

type header struct {
	id       int
	name     string
	typ      *headerType
	metadata bool
	fields   []int // field ids
	bytes    int   // wire size (bits rounded up)
	stack    *headerStack
}

type headerStack struct {
	id      int
	name    string
	headers []int
}

// field is one header field. Fields of at most 64 bits live in
// packet.vals[slot]; wider ones in packet.wide[slot : slot+bytes].
type field struct {
	name   string
	header int
	width  int
	wide   bool
	slot   int
	bytes  int
	offset int // bit offset inside the header
}

// Compile parses and validates a BMv2 JSON program. Constructs the engine
// does not execute are rejected with an error that names them and wraps
// ErrUnsupported; malformed JSON wraps ErrInvalid.
func Compile(bmv2JSON []byte) (*Program, error) {
	var j jProgram
	if err := json.Unmarshal(bmv2JSON, &j); err != nil {
		return nil, fmt.Errorf("bmv2 json: %v: %w", err, ErrInvalid)
	}
	if len(j.Meta.Version) < 1 || j.Meta.Version[0] != 2 {
		return nil, fmt.Errorf("bmv2 json: format version %v, want 2.x: %w", j.Meta.Version, ErrUnsupported)
	}
	c := &compiler{p: &Program{epoch: time.Now()}, j: &j}
	if err := c.compile(); err != nil {
		return nil, fmt.Errorf("bmv2 json: %w", err)
	}
	p := c.p
	p.pool.New = func() any { return newPacket(p) }
	return p, nil
}

// maxArraySize bounds counter and register arrays (and table sizes), so a
// malformed program cannot make the loader allocate without limit.
const maxArraySize = 1 << 20

// maxFieldWidth bounds header fields, action parameters and constants, for
// the same reason.
const maxFieldWidth = 4096

// compiler holds what is needed while compiling one program.
type compiler struct {
	p *Program
	j *jProgram
}

func (c *compiler) compile() error {
	j, p := c.j, c.p
	for _, sec := range []struct {
		name string
		n    int
	}{
		{"header_union_types", len(j.HeaderUnionTypes)}, {"header_unions", len(j.HeaderUnions)},
		{"header_union_stacks", len(j.HeaderUnionStacks)}, {"parse_vsets", len(j.ParseVsets)},
		{"extern_instances", len(j.ExternInstances)},
	} {
		if sec.n > 0 {
			return fmt.Errorf("%s (%d declared): %w", sec.name, sec.n, ErrUnsupported)
		}
	}
	if err := c.compileHeaders(); err != nil {
		return err
	}
	p.errorCodes = map[string]uint64{}
	for _, e := range j.Errors {
		if len(e) == 2 {
			name, _ := e[0].(string)
			v, _ := e[1].(float64)
			p.errorCodes[name] = uint64(v)
		}
	}
	p.fieldLists = map[int][]int{}
	for _, fl := range j.FieldLists {
		ids, err := c.fieldIDs(fl.Elements)
		if err != nil {
			return fmt.Errorf("field list %q: %w", fl.Name, err)
		}
		p.fieldLists[fl.ID] = ids
	}
	p.learnByID = map[int]*learnList{}
	for _, ll := range j.LearnLists {
		ids, err := c.fieldIDs(ll.Elements)
		if err != nil {
			return fmt.Errorf("learn list %q: %w", ll.Name, err)
		}
		l := &learnList{id: ll.ID, name: ll.Name, fields: ids}
		for _, f := range ids {
			l.info = append(l.info, ParamInfo{Name: p.fields[f].name, Bitwidth: p.fields[f].width})
		}
		l.fieldsInfo()
		p.learnLists = append(p.learnLists, l)
		p.learnByID[ll.ID] = l
	}
	if err := c.compileExterns(); err != nil {
		return err
	}
	if err := c.compileActions(); err != nil {
		return err
	}
	if err := c.compilePipelines(); err != nil {
		return err
	}
	if err := c.compileParser(); err != nil {
		return err
	}
	if len(j.Deparsers) != 1 {
		return fmt.Errorf("%d deparsers, want 1: %w", len(j.Deparsers), ErrUnsupported)
	}
	for _, name := range j.Deparsers[0].Order {
		h, ok := p.headerByName[name]
		if !ok {
			return fmt.Errorf("deparser: unknown header %q: %w", name, ErrInvalid)
		}
		p.deparser = append(p.deparser, h.id)
	}
	return c.compileChecksums()
}

func (c *compiler) compileHeaders() error {
	j, p := c.j, c.p
	types := map[string]*headerType{}
	for _, jt := range j.HeaderTypes {
		ht := &headerType{name: jt.Name}
		for _, f := range jt.Fields {
			if len(f) < 2 {
				return fmt.Errorf("header type %q: malformed field %v: %w", jt.Name, f, ErrInvalid)
			}
			name, _ := f[0].(string)
			w, ok := f[1].(float64)
			if !ok {
				return fmt.Errorf("header type %q field %q: variable-length field: %w", jt.Name, name, ErrUnsupported)
			}
			if len(f) > 2 {
				if signed, _ := f[2].(bool); signed {
					return fmt.Errorf("header type %q field %q: signed field: %w", jt.Name, name, ErrUnsupported)
				}
			}
			if w <= 0 {
				return fmt.Errorf("header type %q field %q: width %v: %w", jt.Name, name, w, ErrInvalid)
			}
			if w > maxFieldWidth {
				return fmt.Errorf("header type %q field %q: width %v (at most %d supported): %w", jt.Name, name, w, maxFieldWidth, ErrUnsupported)
			}
			ht.fields = append(ht.fields, typeField{name: name, width: int(w)})
			ht.bits += int(w)
		}
		types[jt.Name] = ht
		p.headerTypes = append(p.headerTypes, ht)
	}
	p.headerByName = map[string]*header{}
	p.fieldByName = map[string]int{}
	byID := map[int]*header{}
	for _, jh := range j.Headers {
		ht, ok := types[jh.HeaderType]
		if !ok {
			return fmt.Errorf("header %q: unknown header type %q: %w", jh.Name, jh.HeaderType, ErrInvalid)
		}
		if !jh.Metadata && ht.bits%8 != 0 {
			return fmt.Errorf("header %q: %d bits is not whole bytes: %w", jh.Name, ht.bits, ErrUnsupported)
		}
		h := &header{id: len(p.headers), name: jh.Name, typ: ht, metadata: jh.Metadata, bytes: (ht.bits + 7) / 8}
		off := 0
		for _, tf := range ht.fields {
			f := field{name: jh.Name + "." + tf.name, header: h.id, width: tf.width, bytes: (tf.width + 7) / 8, offset: off}
			off += tf.width
			if tf.width > 64 {
				f.wide, f.slot = true, p.nWide
				p.nWide += f.bytes
			} else {
				f.slot = p.nVals
				p.nVals++
			}
			h.fields = append(h.fields, len(p.fields))
			p.fieldByName[f.name] = len(p.fields)
			p.fields = append(p.fields, f)
		}
		p.headers = append(p.headers, h)
		p.headerByName[h.name] = h
		byID[jh.ID] = h
	}
	p.stackByName = map[string]*headerStack{}
	for _, js := range j.HeaderStacks {
		s := &headerStack{id: len(p.stacks), name: js.Name}
		for _, id := range js.HeaderIDs {
			h, ok := byID[id]
			if !ok {
				return fmt.Errorf("header stack %q: unknown header id %d: %w", js.Name, id, ErrInvalid)
			}
			h.stack = s
			s.headers = append(s.headers, h.id)
		}
		if len(s.headers) == 0 {
			return fmt.Errorf("header stack %q has no headers: %w", js.Name, ErrInvalid)
		}
		for _, id := range s.headers {
			if p.headers[id].typ != p.headers[s.headers[0]].typ {
				return fmt.Errorf("header stack %q mixes header types: %w", js.Name, ErrInvalid)
			}
		}
		p.stacks = append(p.stacks, s)
		p.stackByName[s.name] = s
	}
	for _, a := range j.FieldAliases {
		if len(a) != 2 {
			continue
		}
		alias, _ := a[0].(string)
		target, _ := a[1].([]any)
		if len(target) != 2 {
			continue
		}
		h, _ := target[0].(string)
		f, _ := target[1].(string)
		if id, ok := p.fieldByName[h+"."+f]; ok {
			if _, exists := p.fieldByName[alias]; !exists {
				p.fieldByName[alias] = id
			}
		}
	}
	std := func(names ...string) int {
		for _, n := range names {
			if id, ok := p.fieldByName[n]; ok {
				return id
			}
		}
		return -1
	}
	p.std = stdFields{
		ingressPort:   std("standard_metadata.ingress_port"),
		egressSpec:    std("standard_metadata.egress_spec"),
		egressPort:    std("standard_metadata.egress_port"),
		instanceType:  std("standard_metadata.instance_type"),
		packetLength:  std("standard_metadata.packet_length"),
		mcastGrp:      std("standard_metadata.mcast_grp", "intrinsic_metadata.mcast_grp"),
		egressRid:     std("standard_metadata.egress_rid", "intrinsic_metadata.egress_rid"),
		checksumError: std("standard_metadata.checksum_error"),
		parserError:   std("standard_metadata.parser_error"),
	}
	for name, id := range map[string]int{"ingress_port": p.std.ingressPort, "egress_spec": p.std.egressSpec, "egress_port": p.std.egressPort, "instance_type": p.std.instanceType} {
		if id < 0 {
			return fmt.Errorf("standard_metadata.%s missing (not a v1model program?): %w", name, ErrUnsupported)
		}
		if p.fields[id].wide {
			return fmt.Errorf("standard_metadata.%s wider than 64 bits: %w", name, ErrUnsupported)
		}
	}
	return nil
}

// fieldRef resolves a ["header", "field"] reference.
func (c *compiler) fieldRef(raw json.RawMessage) (int, error) {
	h, f, err := unmarshalPair(raw)
	if err != nil {
		return 0, err
	}
	id, ok := c.p.fieldByName[h+"."+f]
	if !ok {
		return 0, fmt.Errorf("unknown field %s.%s: %w", h, f, ErrInvalid)
	}
	return id, nil
}

func (c *compiler) fieldIDs(elems []jTV) ([]int, error) {
	var ids []int
	for _, e := range elems {
		if e.Type != "field" {
			return nil, fmt.Errorf("element %v: only fields are supported: %w", e, ErrUnsupported)
		}
		id, err := c.fieldRef(e.Value)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (c *compiler) compileExterns() error {
	j, p := c.j, c.p
	p.counterByNm = map[string]*counterArray{}
	for _, jc := range j.CounterArrays {
		if jc.Size < 0 || jc.Size > maxArraySize {
			return fmt.Errorf("counter %q of %d cells (0..%d supported): %w", jc.Name, jc.Size, maxArraySize, ErrUnsupported)
		}
		ca := &counterArray{name: jc.Name, size: jc.Size}
		if jc.IsDirect {
			if jc.Binding == nil {
				return fmt.Errorf("direct counter %q has no table binding: %w", jc.Name, ErrInvalid)
			}
			ca.directTable = *jc.Binding
		} else {
			ca.cells = make([]counterCell, jc.Size)
		}
		p.counters = append(p.counters, ca)
		p.counterByNm[ca.name] = ca
	}
	p.registerBy = map[string]*registerArray{}
	for _, jr := range j.RegisterArrays {
		if jr.Size < 0 || jr.Size > maxArraySize {
			return fmt.Errorf("register %q of %d cells (0..%d supported): %w", jr.Name, jr.Size, maxArraySize, ErrUnsupported)
		}
		if jr.Bitwidth <= 0 {
			return fmt.Errorf("register %q of %d bits: %w", jr.Name, jr.Bitwidth, ErrInvalid)
		}
		if jr.Bitwidth > 64 {
			return fmt.Errorf("register %q of %d bits (more than 64): %w", jr.Name, jr.Bitwidth, ErrUnsupported)
		}
		r := &registerArray{name: jr.Name, width: jr.Bitwidth, size: jr.Size, cells: make([]atomicUint64, jr.Size)}
		p.registers = append(p.registers, r)
		p.registerBy[r.name] = r
	}
	for _, jm := range j.MeterArrays {
		mi := MeterInfo{Name: jm.Name, Size: jm.Size, Unit: jm.Type}
		if jm.IsDirect && jm.Binding != nil {
			mi.DirectTable = *jm.Binding
		}
		p.meters = append(p.meters, mi)
	}
	p.calcs = map[string]*calculation{}
	for _, jc := range j.Calculations {
		calc, err := c.compileCalculation(jc.Name, jc.Algo, jc.Input)
		if err != nil {
			return err
		}
		p.calcs[jc.Name] = calc
	}
	return nil
}

func (c *compiler) compileChecksums() error {
	for _, jc := range c.j.Checksums {
		if jc.Type != "" && jc.Type != "generic" && jc.Type != "ipv4" {
			return fmt.Errorf("checksum %q of type %q: %w", jc.Name, jc.Type, ErrUnsupported)
		}
		calc, ok := c.p.calcs[jc.Calculation]
		if !ok {
			return fmt.Errorf("checksum %q: unknown calculation %q: %w", jc.Name, jc.Calculation, ErrInvalid)
		}
		target, err := c.fieldRef(jc.Target)
		if err != nil {
			return fmt.Errorf("checksum %q: %w", jc.Name, err)
		}
		if c.p.fields[target].wide {
			return fmt.Errorf("checksum %q: target wider than 64 bits: %w", jc.Name, ErrUnsupported)
		}
		ck := &checksum{name: jc.Name, calc: calc, target: target}
		if jc.IfCond != nil {
			e, err := c.boolExpr(*jc.IfCond, nil)
			if err != nil {
				return fmt.Errorf("checksum %q condition: %w", jc.Name, err)
			}
			ck.cond = e
		}
		if jc.Verify == nil || *jc.Verify {
			c.p.verifyChecksums = append(c.p.verifyChecksums, ck)
		}
		if jc.Update == nil || *jc.Update {
			c.p.updateChecksums = append(c.p.updateChecksums, ck)
		}
	}
	return nil
}

func (c *compiler) compileActions() error {
	p := c.p
	p.actionByID = map[int]*action{}
	p.actionByName = map[string]*action{}
	for _, ja := range c.j.Actions {
		a := &action{id: ja.ID, name: ja.Name}
		nu, nw := 0, 0
		for _, rd := range ja.RuntimeData {
			if rd.Bitwidth <= 0 || rd.Bitwidth > maxFieldWidth {
				return fmt.Errorf("action %q parameter %q of %d bits: %w", ja.Name, rd.Name, rd.Bitwidth, ErrUnsupported)
			}
			pr := param{name: rd.Name, width: rd.Bitwidth}
			if rd.Bitwidth > 64 {
				pr.wide, pr.slot = true, nw
				nw++
			} else {
				pr.slot = nu
				nu++
			}
			a.params = append(a.params, pr)
		}
		a.nNarrow, a.nWide = nu, nw
		p.actions = append(p.actions, a)
		p.actionByID[a.id] = a
		if _, ok := p.actionByName[a.name]; !ok {
			p.actionByName[a.name] = a
		}
	}
	// Bodies are compiled after every action is known (primitives do not
	// call actions, but keep the two passes apart for clarity of errors).
	for i, ja := range c.j.Actions {
		a := p.actions[i]
		body, err := c.compilePrimitives(ja.Primitives, a)
		if err != nil {
			return fmt.Errorf("action %q: %w", a.name, err)
		}
		a.body = body
	}
	return nil
}

// info describes an action for the API.
func (a *action) info() ActionInfo {
	ai := ActionInfo{Name: a.name}
	for _, pr := range a.params {
		ai.Params = append(ai.Params, ParamInfo{Name: pr.name, Bitwidth: pr.width})
	}
	return ai
}

func (c *compiler) compilePipelines() error {
	p := c.p
	p.tableByName = map[string]*table{}
	p.profileByNm = map[string]*actionProfile{}
	for _, jp := range c.j.Pipelines {
		for _, jap := range jp.ActionProfiles {
			ap := &actionProfile{name: jap.Name, maxSize: jap.MaxSize}
			if jap.Selector != nil {
				calc, err := c.compileCalculation(jap.Name+" selector", jap.Selector.Algo, jap.Selector.Input)
				if err != nil {
					return fmt.Errorf("action selector %q: %w", jap.Name, err)
				}
				ap.selector = calc
				ap.algo = jap.Selector.Algo
			}
			ap.init()
			p.profiles = append(p.profiles, ap)
			p.profileByNm[ap.name] = ap
		}
	}
	for _, name := range []string{"ingress", "egress"} {
		var jp *jPipeline
		for i := range c.j.Pipelines {
			if c.j.Pipelines[i].Name == name {
				jp = &c.j.Pipelines[i]
			}
		}
		if jp == nil {
			return fmt.Errorf("pipeline %q missing (not a v1model program?): %w", name, ErrUnsupported)
		}
		n, err := c.compilePipeline(jp)
		if err != nil {
			return fmt.Errorf("pipeline %q: %w", name, err)
		}
		if name == "ingress" {
			p.ingress = n
		} else {
			p.egress = n
		}
	}
	if len(c.j.Pipelines) != 2 {
		return fmt.Errorf("%d pipelines, want ingress and egress: %w", len(c.j.Pipelines), ErrUnsupported)
	}
	for _, ca := range p.counters {
		if ca.directTable != "" {
			t, ok := p.tableByName[ca.directTable]
			if !ok {
				return fmt.Errorf("direct counter %q: unknown table %q: %w", ca.name, ca.directTable, ErrInvalid)
			}
			ca.size = t.maxSize
		}
	}
	return nil
}

// compilePipeline builds the control-flow graph of one pipeline.
func (c *compiler) compilePipeline(jp *jPipeline) (*node, error) {
	nodes := map[string]*node{}
	for i := range jp.Tables {
		nodes[jp.Tables[i].Name] = &node{name: jp.Tables[i].Name}
	}
	for i := range jp.Conditionals {
		nodes[jp.Conditionals[i].Name] = &node{name: jp.Conditionals[i].Name}
	}
	for i := range jp.ActionCalls {
		nodes[jp.ActionCalls[i].Name] = &node{name: jp.ActionCalls[i].Name}
	}
	next := func(name *string) (*node, error) {
		if name == nil {
			return nil, nil
		}
		n, ok := nodes[*name]
		if !ok {
			return nil, fmt.Errorf("unknown next node %q: %w", *name, ErrInvalid)
		}
		return n, nil
	}
	for i := range jp.Tables {
		jt := &jp.Tables[i]
		t, err := c.compileTable(jt)
		if err != nil {
			return nil, fmt.Errorf("table %q: %w", jt.Name, err)
		}
		c.p.tables = append(c.p.tables, t)
		c.p.tableByName[t.name] = t
		n := nodes[jt.Name]
		n.table = t
		_, hasHit := jt.NextTables["__HIT__"]
		_, hasMiss := jt.NextTables["__MISS__"]
		if hasHit || hasMiss {
			n.hitMiss = true
			if n.hit, err = next(jt.NextTables["__HIT__"]); err != nil {
				return nil, err
			}
			if n.miss, err = next(jt.NextTables["__MISS__"]); err != nil {
				return nil, err
			}
		} else {
			n.byAction = make([]*node, len(t.actions))
			maxID := 0
			for _, a := range c.p.actions {
				maxID = max(maxID, a.id)
			}
			n.byActID = make([]*node, maxID+1)
			if n.missNext, err = next(jt.BaseDefaultNext); err != nil {
				return nil, err
			}
			for k, a := range t.actions {
				nt, ok := jt.NextTables[a.name]
				if !ok {
					nt = jt.BaseDefaultNext
				}
				if n.byAction[k], err = next(nt); err != nil {
					return nil, err
				}
				n.byActID[a.id] = n.byAction[k]
			}
		}
	}
	for i := range jp.Conditionals {
		jc := &jp.Conditionals[i]
		n := nodes[jc.Name]
		e, err := c.boolExpr(jc.Expression, nil)
		if err != nil {
			return nil, fmt.Errorf("conditional %q: %w", jc.Name, err)
		}
		n.cond = e
		if n.trueNext, err = next(jc.TrueNext); err != nil {
			return nil, err
		}
		if n.falseNext, err = next(jc.FalseNext); err != nil {
			return nil, err
		}
	}
	for i := range jp.ActionCalls {
		jc := &jp.ActionCalls[i]
		n := nodes[jc.Name]
		a, ok := c.p.actionByID[jc.ActionID]
		if !ok {
			return nil, fmt.Errorf("action call %q: unknown action id %d: %w", jc.Name, jc.ActionID, ErrInvalid)
		}
		if len(a.params) > 0 {
			return nil, fmt.Errorf("action call %q: action %q takes parameters: %w", jc.Name, a.name, ErrInvalid)
		}
		n.call = a
		var err error
		if n.callNext, err = next(jc.NextNode); err != nil {
			return nil, err
		}
	}
	return next(jp.InitTable)
}

func (c *compiler) compileTable(jt *jTable) (*table, error) {
	p := c.p
	t := &table{name: jt.Name, maxSize: jt.MaxSize, supportTimeout: jt.SupportTimeout, epoch: p.epoch}
	if jt.DirectMeters != nil {
		return nil, fmt.Errorf("direct meter %q: %w", *jt.DirectMeters, ErrUnsupported)
	}
	if jt.MaxSize <= 0 {
		t.maxSize = 1024 // BMv2's default when the program states no size
	}
	if jt.MaxSize > maxArraySize {
		return nil, fmt.Errorf("size %d (at most %d supported): %w", jt.MaxSize, maxArraySize, ErrUnsupported)
	}
	for _, k := range jt.Key {
		kf := keyField{info: KeyFieldInfo{Name: k.Name}}
		switch k.MatchType {
		case "exact":
			kf.info.Kind = MatchExact
		case "lpm":
			kf.info.Kind = MatchLPM
		case "ternary":
			kf.info.Kind = MatchTernary
		case "range":
			kf.info.Kind = MatchRange
		case "optional":
			kf.info.Kind = MatchOptional
		case "valid":
			kf.info.Kind = MatchValid
		default:
			return nil, fmt.Errorf("key %q: match type %q: %w", k.Name, k.MatchType, ErrUnsupported)
		}
		if kf.info.Kind == MatchValid {
			name, err := unmarshalString(k.Target)
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k.Name, err)
			}
			h, ok := p.headerByName[name]
			if !ok {
				return nil, fmt.Errorf("key %q: unknown header %q: %w", k.Name, name, ErrInvalid)
			}
			kf.validHeader, kf.field, kf.info.Bitwidth = h.id, -1, 1
		} else {
			hn, fn, err := unmarshalPair(k.Target)
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k.Name, err)
			}
			if fn == "$valid$" {
				h, ok := p.headerByName[hn]
				if !ok {
					return nil, fmt.Errorf("key %q: unknown header %q: %w", k.Name, hn, ErrInvalid)
				}
				kf.validHeader, kf.field, kf.info.Bitwidth = h.id, -1, 1
			} else {
				id, err := c.fieldRef(k.Target)
				if err != nil {
					return nil, fmt.Errorf("key %q: %w", k.Name, err)
				}
				kf.field, kf.validHeader, kf.info.Bitwidth = id, -1, p.fields[id].width
			}
		}
		if kf.info.Name == "" {
			kf.info.Name = strings.Trim(string(k.Target), "[]\"")
		}
		kf.bytes = (kf.info.Bitwidth + 7) / 8
		if k.Mask != nil {
			m, err := hexBytes(*k.Mask, kf.bytes)
			if err != nil {
				return nil, fmt.Errorf("key %q mask: %w", k.Name, err)
			}
			kf.staticMask = m
		}
		t.keys = append(t.keys, kf)
	}
	if len(jt.ActionIDs) != len(jt.Actions) && len(jt.ActionIDs) > 0 {
		return nil, fmt.Errorf("action_ids and actions differ in length: %w", ErrInvalid)
	}
	for i, id := range jt.ActionIDs {
		a, ok := p.actionByID[id]
		if !ok {
			return nil, fmt.Errorf("unknown action id %d (%q): %w", id, jt.Actions[i], ErrInvalid)
		}
		t.actions = append(t.actions, a)
	}
	switch jt.Type {
	case "", "simple":
	case "indirect", "indirect_ws":
		ap, ok := p.profileByNm[jt.ActionProfile]
		if !ok {
			return nil, fmt.Errorf("unknown action profile %q: %w", jt.ActionProfile, ErrInvalid)
		}
		if jt.Type == "indirect_ws" && ap.selector == nil {
			return nil, fmt.Errorf("action profile %q has no selector: %w", ap.name, ErrInvalid)
		}
		t.profile = ap
		ap.tables = append(ap.tables, t)
		ap.actions = mergeActions(ap.actions, t.actions)
	default:
		return nil, fmt.Errorf("table type %q: %w", jt.Type, ErrUnsupported)
	}
	t.hidden = len(t.keys) == 0 && strings.HasPrefix(lastDotted(t.name), "tbl_")
	for _, ca := range p.counters {
		if ca.directTable == t.name {
			t.directCounter = ca.name
		}
	}
	if err := t.init(); err != nil {
		return nil, err
	}
	if de := jt.DefaultEntry; de != nil {
		a, ok := p.actionByID[de.ActionID]
		if !ok {
			return nil, fmt.Errorf("default entry: unknown action id %d: %w", de.ActionID, ErrInvalid)
		}
		call := ActionCall{Action: a.name}
		for i, s := range de.ActionData {
			if i >= len(a.params) {
				return nil, fmt.Errorf("default entry: too much action data for %q: %w", a.name, ErrInvalid)
			}
			b, err := hexBytes(s, (a.params[i].width+7)/8)
			if err != nil {
				return nil, fmt.Errorf("default entry of %q: %w", a.name, err)
			}
			call.Params = append(call.Params, b)
		}
		bound, err := t.bindDirect(a, call.Params)
		if err != nil {
			return nil, fmt.Errorf("default entry: %w", err)
		}
		t.initialDefault = bound
		t.initialDefaultCall = call
		t.constDefault = de.ActionConst || de.ActionEntryConst
		t.dflt.Store(bound)
	}
	if jt.Entries != nil {
		t.constEntries = true
		for i, je := range *jt.Entries {
			if err := t.addConstEntry(je, p); err != nil {
				return nil, fmt.Errorf("const entry %d: %w", i, err)
			}
		}
	}
	return t, nil
}

// lastDotted is the last component of a dotted name.
func lastDotted(s string) string {
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func mergeActions(have, add []*action) []*action {
	for _, a := range add {
		found := false
		for _, h := range have {
			if h == a {
				found = true
			}
		}
		if !found {
			have = append(have, a)
		}
	}
	sort.Slice(have, func(i, j int) bool { return have[i].id < have[j].id })
	return have
}

func (p *Program) table(name string) (*table, error) {
	t, ok := p.tableByName[trimDot(name)]
	if !ok {
		return nil, fmt.Errorf("table %q: %w", name, ErrNotFound)
	}
	return t, nil
}

// trimDot drops the leading dot of a P4Info name written with @name(".x"):
// p4c writes it without the dot in the BMv2 JSON.
func trimDot(name string) string {
	return strings.TrimPrefix(name, ".")
}
