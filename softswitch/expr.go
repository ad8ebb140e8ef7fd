package softswitch

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Expressions compile to closures over the per-packet state. Values of at
// most 64 bits are uint64s (BMv2 computes with unbounded integers; p4c masks
// every result to its P4 width, so 64-bit modular arithmetic gives the same
// answer for operands of at most 64 bits). Wider values (IPv6 addresses) are
// byte views and support copy and (in)equality only; other operations on
// them are rejected at load.

// args are an action's runtime data (a table entry's parameters).
type args struct {
	u []uint64
	w [][]byte
}

type (
	valFn  func(p *packet, a *args) uint64
	boolFn func(p *packet, a *args) bool
	wideFn func(p *packet, a *args) []byte
	hdrFn  func(p *packet, a *args) int
)

type opKind uint8

const (
	kData opKind = iota + 1
	kBool
	kWide
	kHeader
	kStack
)

// operand is a compiled expression.
type operand struct {
	kind  opKind
	v     valFn
	b     boolFn
	w     wideFn
	h     hdrFn
	stack *headerStack
	width int // of data or wide values; 0 when unknown
	// isConst and c hold a constant data value.
	isConst bool
	c       uint64
	// staticHeader is the header id when h is known at load, else -1.
	staticHeader int
	// fieldSlot+1 and paramSlot+1 name a plain narrow field or action
	// parameter (0: neither), so assignments can skip a closure call.
	fieldSlot1, paramSlot1 int
}

func constData(v uint64, width int) operand {
	return operand{kind: kData, v: func(*packet, *args) uint64 { return v }, width: width, isConst: true, c: v, staticHeader: -1}
}

// expr compiles a type value object in the context of action act (nil
// outside actions).
func (c *compiler) expr(t jTV, act *action) (operand, error) {
	p := c.p
	switch t.Type {
	case "field":
		h, f, err := unmarshalPair(t.Value)
		if err != nil {
			return operand{}, err
		}
		if f == "$valid$" {
			hd, ok := p.headerByName[h]
			if !ok {
				return operand{}, fmt.Errorf("unknown header %q: %w", h, ErrInvalid)
			}
			id := hd.id
			return operand{kind: kData, width: 1, staticHeader: -1, v: func(p *packet, _ *args) uint64 {
				if p.valid[id] {
					return 1
				}
				return 0
			}}, nil
		}
		id, err := c.fieldRef(t.Value)
		if err != nil {
			return operand{}, err
		}
		return c.fieldOperand(id), nil
	case "hexstr":
		s, err := unmarshalString(t.Value)
		if err != nil {
			return operand{}, err
		}
		bi, err := parseHexstr(s)
		if err != nil {
			return operand{}, err
		}
		if bi.Sign() >= 0 && bi.BitLen() > 64 {
			n := (bi.BitLen() + 7) / 8
			b := bi.FillBytes(make([]byte, n))
			return operand{kind: kWide, width: n * 8, staticHeader: -1, w: func(*packet, *args) []byte { return b }}, nil
		}
		v, err := hexUint(s)
		if err != nil {
			return operand{}, err
		}
		return constData(v, t.Bitwidth), nil
	case "bool":
		var b bool
		if err := json.Unmarshal(t.Value, &b); err != nil {
			return operand{}, fmt.Errorf("bool %s: %w", t.Value, ErrInvalid)
		}
		return operand{kind: kBool, staticHeader: -1, b: func(*packet, *args) bool { return b }}, nil
	case "runtime_data", "local":
		var i int
		if err := json.Unmarshal(t.Value, &i); err != nil {
			return operand{}, fmt.Errorf("%s index %s: %w", t.Type, t.Value, ErrInvalid)
		}
		if act == nil || i < 0 || i >= len(act.params) {
			return operand{}, fmt.Errorf("%s %d outside an action with that parameter: %w", t.Type, i, ErrInvalid)
		}
		pr := act.params[i]
		slot := pr.slot
		if pr.wide {
			return operand{kind: kWide, width: pr.width, staticHeader: -1, w: func(_ *packet, a *args) []byte { return a.w[slot] }}, nil
		}
		return operand{kind: kData, width: pr.width, staticHeader: -1, paramSlot1: slot + 1, v: func(_ *packet, a *args) uint64 { return a.u[slot] }}, nil
	case "header":
		name, err := unmarshalString(t.Value)
		if err != nil {
			return operand{}, err
		}
		h, ok := p.headerByName[name]
		if !ok {
			return operand{}, fmt.Errorf("unknown header %q: %w", name, ErrInvalid)
		}
		id := h.id
		return operand{kind: kHeader, staticHeader: id, h: func(*packet, *args) int { return id }}, nil
	case "header_stack":
		name, err := unmarshalString(t.Value)
		if err != nil {
			return operand{}, err
		}
		s, ok := p.stackByName[name]
		if !ok {
			return operand{}, fmt.Errorf("unknown header stack %q: %w", name, ErrInvalid)
		}
		return operand{kind: kStack, stack: s, staticHeader: -1}, nil
	case "stack_field":
		sn, fn, err := unmarshalPair(t.Value)
		if err != nil {
			return operand{}, err
		}
		s, ok := p.stackByName[sn]
		if !ok {
			return operand{}, fmt.Errorf("unknown header stack %q: %w", sn, ErrInvalid)
		}
		off := -1
		h0 := p.headers[s.headers[0]]
		for i, tf := range h0.typ.fields {
			if tf.name == fn {
				off = i
			}
		}
		if off < 0 {
			return operand{}, fmt.Errorf("header stack %q has no field %q: %w", sn, fn, ErrInvalid)
		}
		last := func(p *packet, _ *args) int {
			i := p.stackNext[s.id] - 1
			if i < 0 {
				i = 0
			}
			return s.headers[i]
		}
		return c.accessField(operand{kind: kHeader, h: last, staticHeader: -1}, off, h0)
	case "lookahead":
		var v []int
		if err := json.Unmarshal(t.Value, &v); err != nil || len(v) != 2 {
			return operand{}, fmt.Errorf("lookahead %s: %w", t.Value, ErrInvalid)
		}
		off, w := v[0], v[1]
		if w > 64 {
			return operand{}, fmt.Errorf("lookahead of %d bits (more than 64): %w", w, ErrUnsupported)
		}
		return operand{kind: kData, width: w, staticHeader: -1, v: func(p *packet, _ *args) uint64 {
			start := p.off*8 + off
			if start+w > len(p.data)*8 {
				p.parseFail(p.prog.errorCodes["PacketTooShort"])
				return 0
			}
			return readBits(p.data, start, w)
		}}, nil
	case "register":
		var v []json.RawMessage
		if err := json.Unmarshal(t.Value, &v); err != nil || len(v) != 2 {
			return operand{}, fmt.Errorf("register reference %s: %w", t.Value, ErrInvalid)
		}
		name, err := unmarshalString(v[0])
		if err != nil {
			return operand{}, err
		}
		r, ok := p.registerBy[name]
		if !ok {
			return operand{}, fmt.Errorf("unknown register %q: %w", name, ErrInvalid)
		}
		var idx jTV
		if err := json.Unmarshal(v[1], &idx); err != nil {
			return operand{}, fmt.Errorf("register %q index: %w", name, ErrInvalid)
		}
		io, err := c.dataExpr(idx, act)
		if err != nil {
			return operand{}, err
		}
		iv := io.v
		return operand{kind: kData, width: r.width, staticHeader: -1, v: func(p *packet, a *args) uint64 {
			i := iv(p, a)
			if i >= uint64(len(r.cells)) {
				return 0
			}
			return r.cells[i].Load()
		}}, nil
	case "expression":
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(t.Value, &probe); err != nil {
			return operand{}, fmt.Errorf("expression %s: %w", t.Value, ErrInvalid)
		}
		if _, ok := probe["op"]; !ok {
			var inner jTV
			if err := json.Unmarshal(t.Value, &inner); err != nil {
				return operand{}, fmt.Errorf("expression %s: %w", t.Value, ErrInvalid)
			}
			return c.expr(inner, act)
		}
		var e jExpr
		if err := json.Unmarshal(t.Value, &e); err != nil {
			return operand{}, fmt.Errorf("expression %s: %w", t.Value, ErrInvalid)
		}
		return c.op(e, act)
	}
	return operand{}, fmt.Errorf("operand type %q: %w", t.Type, ErrUnsupported)
}

func (c *compiler) fieldOperand(id int) operand {
	f := c.p.fields[id]
	slot, n := f.slot, f.bytes
	if f.wide {
		return operand{kind: kWide, width: f.width, staticHeader: -1, w: func(p *packet, _ *args) []byte { return p.wide[slot : slot+n] }}
	}
	return operand{kind: kData, width: f.width, staticHeader: -1, fieldSlot1: slot + 1, v: func(p *packet, _ *args) uint64 { return p.vals[slot] }}
}

// accessField reads field number off of a header chosen at run time.
func (c *compiler) accessField(h operand, off int, proto *header) (operand, error) {
	if h.staticHeader >= 0 {
		return c.fieldOperand(c.p.headers[h.staticHeader].fields[off]), nil
	}
	if off < 0 || off >= len(proto.fields) {
		return operand{}, fmt.Errorf("field offset %d of header type %q: %w", off, proto.typ.name, ErrInvalid)
	}
	pf := c.p.fields[proto.fields[off]]
	if pf.wide {
		return operand{}, fmt.Errorf("run-time indexed access to %d-bit field %q: %w", pf.width, pf.name, ErrUnsupported)
	}
	hf, prog := h.h, c.p
	return operand{kind: kData, width: pf.width, staticHeader: -1, v: func(p *packet, a *args) uint64 {
		hid := hf(p, a)
		if hid < 0 {
			return 0
		}
		return p.vals[prog.fields[prog.headers[hid].fields[off]].slot]
	}}, nil
}

func (c *compiler) sub(raw json.RawMessage, act *action) (operand, error) {
	var t jTV
	if err := json.Unmarshal(raw, &t); err != nil {
		return operand{}, fmt.Errorf("operand %s: %w", raw, ErrInvalid)
	}
	return c.expr(t, act)
}

func (c *compiler) dataExpr(t jTV, act *action) (operand, error) {
	o, err := c.expr(t, act)
	if err != nil {
		return o, err
	}
	if o.kind == kBool {
		// BMv2 converts only explicitly (b2d), but primitive arguments
		// such as log_msg values may be booleans.
		b := o.b
		return operand{kind: kData, width: 1, staticHeader: -1, v: func(p *packet, a *args) uint64 {
			if b(p, a) {
				return 1
			}
			return 0
		}}, nil
	}
	if o.kind != kData {
		return o, fmt.Errorf("%v: want a value of at most 64 bits: %w", t, ErrUnsupported)
	}
	return o, nil
}

func (c *compiler) boolExpr(t jTV, act *action) (boolFn, error) {
	o, err := c.expr(t, act)
	if err != nil {
		return nil, err
	}
	switch o.kind {
	case kBool:
		return o.b, nil
	case kData:
		v := o.v
		return func(p *packet, a *args) bool { return v(p, a) != 0 }, nil
	}
	return nil, fmt.Errorf("%v: want a boolean: %w", t, ErrInvalid)
}

func (c *compiler) op(e jExpr, act *action) (operand, error) {
	var l, r operand
	var err error
	if len(e.Left) > 0 && string(e.Left) != "null" && e.Op != "access_field" {
		if l, err = c.sub(e.Left, act); err != nil {
			return operand{}, err
		}
	}
	if len(e.Right) > 0 && string(e.Right) != "null" && e.Op != "access_field" && e.Op != "two_comp_mod" {
		if r, err = c.sub(e.Right, act); err != nil {
			return operand{}, err
		}
	}
	data2 := func() error {
		if l.kind != kData || r.kind != kData {
			return fmt.Errorf("operator %q on operands wider than 64 bits or not data: %w", e.Op, ErrUnsupported)
		}
		return nil
	}
	width := max(l.width, r.width)
	lv, rv := l.v, r.v
	switch e.Op {
	case "+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^":
		if l.kind == 0 && e.Op == "-" { // unary minus
			l, lv = constData(0, r.width), func(*packet, *args) uint64 { return 0 }
		}
		if err := data2(); err != nil {
			return operand{}, err
		}
		var f valFn
		switch e.Op {
		case "+":
			f = func(p *packet, a *args) uint64 { return lv(p, a) + rv(p, a) }
		case "-":
			f = func(p *packet, a *args) uint64 { return lv(p, a) - rv(p, a) }
		case "*":
			f = func(p *packet, a *args) uint64 { return lv(p, a) * rv(p, a) }
		case "/":
			f = func(p *packet, a *args) uint64 {
				d := rv(p, a)
				if d == 0 {
					return 0
				}
				return lv(p, a) / d
			}
		case "%":
			f = func(p *packet, a *args) uint64 {
				d := rv(p, a)
				if d == 0 {
					return 0
				}
				return lv(p, a) % d
			}
		case "<<":
			f = func(p *packet, a *args) uint64 { return lv(p, a) << rv(p, a) }
		case ">>":
			f = func(p *packet, a *args) uint64 { return lv(p, a) >> rv(p, a) }
		case "&":
			if r.isConst {
				m := r.c
				f = func(p *packet, a *args) uint64 { return lv(p, a) & m }
			} else {
				f = func(p *packet, a *args) uint64 { return lv(p, a) & rv(p, a) }
			}
		case "|":
			f = func(p *packet, a *args) uint64 { return lv(p, a) | rv(p, a) }
		case "^":
			f = func(p *packet, a *args) uint64 { return lv(p, a) ^ rv(p, a) }
		}
		return operand{kind: kData, v: f, width: width, staticHeader: -1}, nil
	case "~":
		if r.kind != kData {
			return operand{}, fmt.Errorf("operator ~ on a non-data operand: %w", ErrUnsupported)
		}
		return operand{kind: kData, width: r.width, staticHeader: -1, v: func(p *packet, a *args) uint64 { return ^rv(p, a) }}, nil
	case "==", "!=":
		eq := e.Op == "=="
		switch {
		case l.kind == kData && r.kind == kData:
			if r.isConst {
				k := r.c
				if eq {
					return boolOp(func(p *packet, a *args) bool { return lv(p, a) == k }), nil
				}
				return boolOp(func(p *packet, a *args) bool { return lv(p, a) != k }), nil
			}
			if eq {
				return boolOp(func(p *packet, a *args) bool { return lv(p, a) == rv(p, a) }), nil
			}
			return boolOp(func(p *packet, a *args) bool { return lv(p, a) != rv(p, a) }), nil
		case l.kind == kBool && r.kind == kBool:
			lb, rb := l.b, r.b
			return boolOp(func(p *packet, a *args) bool { return (lb(p, a) == rb(p, a)) == eq }), nil
		case (l.kind == kWide || l.kind == kData) && (r.kind == kWide || r.kind == kData):
			lw, rw := wideView(l), wideView(r)
			return boolOp(func(p *packet, a *args) bool {
				return equalPadded(lw(p, a, &p.scratch[0]), rw(p, a, &p.scratch[1])) == eq
			}), nil
		}
		return operand{}, fmt.Errorf("operator %q on mismatched operands: %w", e.Op, ErrUnsupported)
	case "<", "<=", ">", ">=":
		if err := data2(); err != nil {
			return operand{}, err
		}
		switch e.Op {
		case "<":
			return boolOp(func(p *packet, a *args) bool { return lv(p, a) < rv(p, a) }), nil
		case "<=":
			return boolOp(func(p *packet, a *args) bool { return lv(p, a) <= rv(p, a) }), nil
		case ">":
			return boolOp(func(p *packet, a *args) bool { return lv(p, a) > rv(p, a) }), nil
		default:
			return boolOp(func(p *packet, a *args) bool { return lv(p, a) >= rv(p, a) }), nil
		}
	case "and", "or":
		if l.kind != kBool || r.kind != kBool {
			return operand{}, fmt.Errorf("operator %q on non-booleans: %w", e.Op, ErrInvalid)
		}
		lb, rb := l.b, r.b
		if e.Op == "and" {
			return boolOp(func(p *packet, a *args) bool { return lb(p, a) && rb(p, a) }), nil
		}
		return boolOp(func(p *packet, a *args) bool { return lb(p, a) || rb(p, a) }), nil
	case "not":
		if r.kind != kBool {
			return operand{}, fmt.Errorf("operator not on a non-boolean: %w", ErrInvalid)
		}
		rb := r.b
		return boolOp(func(p *packet, a *args) bool { return !rb(p, a) }), nil
	case "valid":
		if r.kind != kHeader {
			return operand{}, fmt.Errorf("valid() of a non-header: %w", ErrInvalid)
		}
		hf := r.h
		if id := r.staticHeader; id >= 0 {
			return boolOp(func(p *packet, _ *args) bool { return p.valid[id] }), nil
		}
		return boolOp(func(p *packet, a *args) bool {
			id := hf(p, a)
			return id >= 0 && p.valid[id]
		}), nil
	case "d2b":
		if r.kind != kData {
			return operand{}, fmt.Errorf("d2b of a non-data value: %w", ErrInvalid)
		}
		return boolOp(func(p *packet, a *args) bool { return rv(p, a) != 0 }), nil
	case "b2d":
		if r.kind != kBool {
			return operand{}, fmt.Errorf("b2d of a non-boolean: %w", ErrInvalid)
		}
		rb := r.b
		return operand{kind: kData, width: 1, staticHeader: -1, v: func(p *packet, a *args) uint64 {
			if rb(p, a) {
				return 1
			}
			return 0
		}}, nil
	case "?":
		cond, err := c.sub(e.Cond, act)
		if err != nil {
			return operand{}, err
		}
		if cond.kind != kBool {
			return operand{}, fmt.Errorf("condition of ?: is not boolean: %w", ErrInvalid)
		}
		cb := cond.b
		switch {
		case l.kind == kData && r.kind == kData:
			return operand{kind: kData, width: width, staticHeader: -1, v: func(p *packet, a *args) uint64 {
				if cb(p, a) {
					return lv(p, a)
				}
				return rv(p, a)
			}}, nil
		case l.kind == kBool && r.kind == kBool:
			lb, rb := l.b, r.b
			return boolOp(func(p *packet, a *args) bool {
				if cb(p, a) {
					return lb(p, a)
				}
				return rb(p, a)
			}), nil
		}
		return operand{}, fmt.Errorf("?: on operands wider than 64 bits: %w", ErrUnsupported)
	case "two_comp_mod":
		if l.kind != kData {
			return operand{}, fmt.Errorf("two_comp_mod of a non-data value: %w", ErrUnsupported)
		}
		w, err := c.sub(e.Right, act)
		if err != nil {
			return operand{}, err
		}
		if !w.isConst || w.c > 64 {
			return operand{}, fmt.Errorf("two_comp_mod to a width that is not a constant ≤64: %w", ErrUnsupported)
		}
		m := widthMask(int(w.c))
		return operand{kind: kData, width: int(w.c), staticHeader: -1, v: func(p *packet, a *args) uint64 { return lv(p, a) & m }}, nil
	case "dereference_header_stack":
		if l.kind != kStack || r.kind != kData {
			return operand{}, fmt.Errorf("dereference_header_stack of %v[%v]: %w", l.kind, r.kind, ErrInvalid)
		}
		s := l.stack
		if r.isConst {
			if r.c >= uint64(len(s.headers)) {
				return operand{}, fmt.Errorf("header stack %q index %d out of range: %w", s.name, r.c, ErrInvalid)
			}
			id := s.headers[r.c]
			return operand{kind: kHeader, staticHeader: id, h: func(*packet, *args) int { return id }}, nil
		}
		return operand{kind: kHeader, staticHeader: -1, h: func(p *packet, a *args) int {
			i := rv(p, a)
			if i >= uint64(len(s.headers)) {
				return -1
			}
			return s.headers[i]
		}}, nil
	case "access_field":
		h, err := c.sub(e.Left, act)
		if err != nil {
			return operand{}, err
		}
		if h.kind != kHeader {
			return operand{}, fmt.Errorf("access_field of a non-header: %w", ErrInvalid)
		}
		var off int
		if err := json.Unmarshal(e.Right, &off); err != nil {
			return operand{}, fmt.Errorf("access_field offset %s: %w", e.Right, ErrInvalid)
		}
		proto := c.p.headers[0]
		if h.staticHeader >= 0 {
			proto = c.p.headers[h.staticHeader]
		} else if l, ok := headerStackOf(c, e.Left); ok {
			proto = c.p.headers[l.headers[0]]
		}
		if off < 0 || off >= len(proto.fields) {
			return operand{}, fmt.Errorf("access_field offset %d of header %q: %w", off, proto.name, ErrInvalid)
		}
		return c.accessField(h, off, proto)
	case "last_stack_index", "size_stack":
		if r.kind != kStack {
			return operand{}, fmt.Errorf("%s of a non-stack: %w", e.Op, ErrInvalid)
		}
		id := r.stack.id
		if e.Op == "size_stack" {
			return operand{kind: kData, width: 32, staticHeader: -1, v: func(p *packet, _ *args) uint64 { return uint64(p.stackNext[id]) }}, nil
		}
		return operand{kind: kData, width: 32, staticHeader: -1, v: func(p *packet, _ *args) uint64 { return uint64(p.stackNext[id] - 1) }}, nil
	}
	return operand{}, fmt.Errorf("operator %q: %w", e.Op, ErrUnsupported)
}

// headerStackOf finds the stack under a dereference_header_stack expression,
// to learn the header type of a run-time indexed access.
func headerStackOf(c *compiler, raw json.RawMessage) (*headerStack, bool) {
	var t jTV
	if json.Unmarshal(raw, &t) != nil || t.Type != "expression" {
		return nil, false
	}
	var e jExpr
	if json.Unmarshal(t.Value, &e) != nil || e.Op != "dereference_header_stack" {
		return nil, false
	}
	var l jTV
	if json.Unmarshal(e.Left, &l) != nil || l.Type != "header_stack" {
		return nil, false
	}
	name, err := unmarshalString(l.Value)
	if err != nil {
		return nil, false
	}
	s, ok := c.p.stackByName[name]
	return s, ok
}

func boolOp(f boolFn) operand { return operand{kind: kBool, b: f, staticHeader: -1} }

// wideView turns a data or wide operand into a byte view; data values are
// written into the caller's scratch array so no allocation happens.
func wideView(o operand) func(p *packet, a *args, scratch *[8]byte) []byte {
	if o.kind == kWide {
		w := o.w
		return func(p *packet, a *args, _ *[8]byte) []byte { return w(p, a) }
	}
	v := o.v
	return func(p *packet, a *args, s *[8]byte) []byte {
		x := v(p, a)
		for i := 7; i >= 0; i-- {
			s[i] = byte(x)
			x >>= 8
		}
		return s[:]
	}
}

// equalPadded compares two big-endian values of possibly different lengths.
func equalPadded(a, b []byte) bool {
	for len(a) > len(b) {
		if a[0] != 0 {
			return false
		}
		a = a[1:]
	}
	for len(b) > len(a) {
		if b[0] != 0 {
			return false
		}
		b = b[1:]
	}
	return bytes.Equal(a, b)
}

// lvalue is a compiled assignment target.
type lvalue struct {
	width int
	wide  bool
	// fieldSlot1 is the slot+1 of a plain narrow field (0: not one).
	fieldSlot1 int
	set        func(p *packet, a *args, v uint64)
	setW       func(p *packet, a *args, v []byte)
}

func (c *compiler) lvalue(t jTV, act *action) (lvalue, error) {
	switch t.Type {
	case "field":
		_, f, err := unmarshalPair(t.Value)
		if err != nil {
			return lvalue{}, err
		}
		if f == "$valid$" {
			return lvalue{}, fmt.Errorf("assignment to read-only %s: %w", t.Value, ErrInvalid)
		}
		id, err := c.fieldRef(t.Value)
		if err != nil {
			return lvalue{}, err
		}
		return c.fieldLvalue(id), nil
	case "expression":
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(t.Value, &probe); err != nil {
			return lvalue{}, fmt.Errorf("lvalue %s: %w", t.Value, ErrInvalid)
		}
		if _, ok := probe["op"]; !ok {
			var inner jTV
			if err := json.Unmarshal(t.Value, &inner); err != nil {
				return lvalue{}, fmt.Errorf("lvalue %s: %w", t.Value, ErrInvalid)
			}
			return c.lvalue(inner, act)
		}
		var e jExpr
		if err := json.Unmarshal(t.Value, &e); err != nil || e.Op != "access_field" {
			return lvalue{}, fmt.Errorf("lvalue expression %s: %w", t.Value, ErrUnsupported)
		}
		h, err := c.sub(e.Left, act)
		if err != nil {
			return lvalue{}, err
		}
		var off int
		if err := json.Unmarshal(e.Right, &off); err != nil {
			return lvalue{}, fmt.Errorf("access_field offset %s: %w", e.Right, ErrInvalid)
		}
		if h.kind != kHeader {
			return lvalue{}, fmt.Errorf("access_field of a non-header: %w", ErrInvalid)
		}
		if h.staticHeader >= 0 {
			hd := c.p.headers[h.staticHeader]
			if off < 0 || off >= len(hd.fields) {
				return lvalue{}, fmt.Errorf("field offset %d of header %q: %w", off, hd.name, ErrInvalid)
			}
			return c.fieldLvalue(hd.fields[off]), nil
		}
		s, ok := headerStackOf(c, e.Left)
		if !ok {
			return lvalue{}, fmt.Errorf("run-time header lvalue %s: %w", t.Value, ErrUnsupported)
		}
		proto := c.p.headers[s.headers[0]]
		if off < 0 || off >= len(proto.fields) {
			return lvalue{}, fmt.Errorf("field offset %d of header %q: %w", off, proto.name, ErrInvalid)
		}
		pf := c.p.fields[proto.fields[off]]
		if pf.wide {
			return lvalue{}, fmt.Errorf("run-time indexed write to %d-bit field %q: %w", pf.width, pf.name, ErrUnsupported)
		}
		hf, prog, m := h.h, c.p, widthMask(pf.width)
		return lvalue{width: pf.width, set: func(p *packet, a *args, v uint64) {
			hid := hf(p, a)
			if hid < 0 {
				return
			}
			p.vals[prog.fields[prog.headers[hid].fields[off]].slot] = v & m
		}}, nil
	}
	return lvalue{}, fmt.Errorf("lvalue of type %q: %w", t.Type, ErrUnsupported)
}

func (c *compiler) fieldLvalue(id int) lvalue {
	f := c.p.fields[id]
	slot, n, m := f.slot, f.bytes, widthMask(f.width)
	if f.wide {
		return lvalue{width: f.width, wide: true, setW: func(p *packet, _ *args, v []byte) {
			dst := p.wide[slot : slot+n]
			copyRightAligned(dst, v)
		}}
	}
	return lvalue{width: f.width, fieldSlot1: slot + 1, set: func(p *packet, _ *args, v uint64) { p.vals[slot] = v & m }}
}

// copyRightAligned copies big-endian v into dst, truncating or zero-extending
// on the left.
func copyRightAligned(dst, v []byte) {
	if len(v) >= len(dst) {
		copy(dst, v[len(v)-len(dst):])
		return
	}
	k := len(dst) - len(v)
	clear(dst[:k])
	copy(dst[k:], v)
}
