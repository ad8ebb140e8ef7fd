package softswitch

import (
	"encoding/json"
	"fmt"
)

// parser is the compiled v1model parser.
type parser struct {
	start *pstate
}

type pstate struct {
	name  string
	ops   []func(p *packet)
	keys  []pkey
	trans []ptrans
}

type pkey struct {
	v     valFn
	bytes int
}

type ptrans struct {
	value, mask uint64
	dflt        bool
	next        *pstate // nil: accept
}

// maxParserStates bounds a parse (BMv2 has no bound; a program whose parser
// loops without consuming input would otherwise hang the switch).
const maxParserStates = 1024

func (c *compiler) compileParser() error {
	if len(c.j.Parsers) != 1 {
		return fmt.Errorf("%d parsers, want 1: %w", len(c.j.Parsers), ErrUnsupported)
	}
	jp := c.j.Parsers[0]
	states := map[string]*pstate{}
	for _, js := range jp.ParseStates {
		states[js.Name] = &pstate{name: js.Name}
	}
	for _, js := range jp.ParseStates {
		st := states[js.Name]
		for i, op := range js.ParserOps {
			f, err := c.parserOp(op)
			if err != nil {
				return fmt.Errorf("parser state %q op %d (%s): %w", js.Name, i, op.Op, err)
			}
			st.ops = append(st.ops, f)
		}
		total := 0
		for _, k := range js.TransitionKey {
			o, err := c.expr(k, nil)
			if err != nil {
				return fmt.Errorf("parser state %q select key %v: %w", js.Name, k, err)
			}
			if o.kind != kData {
				return fmt.Errorf("parser state %q select key %v wider than 64 bits: %w", js.Name, k, ErrUnsupported)
			}
			n := (o.width + 7) / 8
			if n == 0 {
				n = 1
			}
			st.keys = append(st.keys, pkey{v: o.v, bytes: n})
			total += n
		}
		if total > 8 {
			return fmt.Errorf("parser state %q select key of %d bytes (more than 8): %w", js.Name, total, ErrUnsupported)
		}
		for _, jt := range js.Transitions {
			var t ptrans
			typ := jt.Type
			if typ == "" {
				typ = "hexstr"
				if jt.Value != nil && *jt.Value == "default" {
					typ = "default"
				}
			}
			switch typ {
			case "default":
				t.dflt = true
			case "hexstr":
				if jt.Value == nil {
					return fmt.Errorf("parser state %q: transition without value: %w", js.Name, ErrInvalid)
				}
				v, err := hexUint(*jt.Value)
				if err != nil {
					return fmt.Errorf("parser state %q transition: %w", js.Name, err)
				}
				t.value, t.mask = v, ^uint64(0)
				if jt.Mask != nil {
					m, err := hexUint(*jt.Mask)
					if err != nil {
						return fmt.Errorf("parser state %q transition mask: %w", js.Name, err)
					}
					t.mask = m
				}
				t.value &= t.mask
			default:
				return fmt.Errorf("parser state %q: transition type %q: %w", js.Name, typ, ErrUnsupported)
			}
			if jt.NextState != nil {
				n, ok := states[*jt.NextState]
				if !ok {
					return fmt.Errorf("parser state %q: unknown next state %q: %w", js.Name, *jt.NextState, ErrInvalid)
				}
				t.next = n
			}
			st.trans = append(st.trans, t)
		}
	}
	start, ok := states[jp.InitState]
	if !ok {
		return fmt.Errorf("parser: unknown init state %q: %w", jp.InitState, ErrInvalid)
	}
	c.p.parser = &parser{start: start}
	return nil
}

func (c *compiler) parserOp(op jParserOp) (func(p *packet), error) {
	prm := make([]jTV, len(op.Parameters))
	for i, raw := range op.Parameters {
		if op.Op == "primitive" {
			break
		}
		if err := json.Unmarshal(raw, &prm[i]); err != nil {
			return nil, fmt.Errorf("parameter %s: %w", raw, ErrInvalid)
		}
	}
	prog := c.p
	tooShort := prog.errorCodes["PacketTooShort"]
	switch op.Op {
	case "extract":
		if len(prm) != 1 {
			return nil, fmt.Errorf("extract with %d parameters: %w", len(prm), ErrInvalid)
		}
		name, err := unmarshalString(prm[0].Value)
		if err != nil {
			return nil, err
		}
		switch prm[0].Type {
		case "regular":
			h, ok := prog.headerByName[name]
			if !ok {
				return nil, fmt.Errorf("extract of unknown header %q: %w", name, ErrInvalid)
			}
			id := h.id
			return func(p *packet) { p.extract(id, tooShort) }, nil
		case "stack":
			s, ok := prog.stackByName[name]
			if !ok {
				return nil, fmt.Errorf("extract of unknown header stack %q: %w", name, ErrInvalid)
			}
			oob := prog.errorCodes["StackOutOfBounds"]
			return func(p *packet) {
				i := p.stackNext[s.id]
				if i >= len(s.headers) {
					p.parseFail(oob)
					return
				}
				if p.extract(s.headers[i], tooShort) {
					p.stackNext[s.id] = i + 1
				}
			}, nil
		}
		return nil, fmt.Errorf("extract of type %q: %w", prm[0].Type, ErrUnsupported)
	case "set":
		if len(prm) != 2 {
			return nil, fmt.Errorf("set with %d parameters: %w", len(prm), ErrInvalid)
		}
		s, err := c.compileAssign(prm[0], prm[1], nil)
		if err != nil {
			return nil, err
		}
		f := s.f
		return func(p *packet) { f(p, nil) }, nil
	case "verify":
		if len(prm) != 2 {
			return nil, fmt.Errorf("verify with %d parameters: %w", len(prm), ErrInvalid)
		}
		b, err := c.boolExpr(prm[0], nil)
		if err != nil {
			return nil, err
		}
		e, err := c.dataExpr(prm[1], nil)
		if err != nil {
			return nil, err
		}
		ev := e.v
		return func(p *packet) {
			if !b(p, nil) {
				p.parseFail(ev(p, nil))
			}
		}, nil
	case "advance", "shift":
		if len(prm) != 1 {
			return nil, fmt.Errorf("%s with %d parameters: %w", op.Op, len(prm), ErrInvalid)
		}
		n, err := c.dataExpr(prm[0], nil)
		if err != nil {
			return nil, err
		}
		nv, unit := n.v, 1
		if op.Op == "advance" {
			unit = 8 // advance counts bits, shift bytes
		}
		return func(p *packet) {
			k := int(nv(p, nil))
			if unit == 8 {
				k /= 8
			}
			if p.off+k > len(p.data) {
				p.parseFail(tooShort)
				return
			}
			p.off += k
		}, nil
	case "primitive":
		if len(op.Parameters) != 1 {
			return nil, fmt.Errorf("primitive with %d parameters: %w", len(op.Parameters), ErrInvalid)
		}
		var pr jPrimitive
		if err := json.Unmarshal(op.Parameters[0], &pr); err != nil {
			return nil, fmt.Errorf("primitive %s: %w", op.Parameters[0], ErrInvalid)
		}
		s, err := c.compilePrimitive(pr, nil)
		if err != nil {
			return nil, err
		}
		if s.f == nil {
			return nil, fmt.Errorf("jump in a parser: %w", ErrUnsupported)
		}
		f := s.f
		return func(p *packet) { f(p, nil) }, nil
	}
	return nil, fmt.Errorf("parser op %q: %w", op.Op, ErrUnsupported)
}

// parse runs the parser from the start state.
func (pr *parser) parse(p *packet) {
	st := pr.start
	for n := 0; st != nil; n++ {
		if n == maxParserStates {
			p.parseFail(p.prog.errorCodes["ParserTimeout"])
			return
		}
		for _, op := range st.ops {
			op(p)
			if p.parseStop {
				return
			}
		}
		var key uint64
		for _, k := range st.keys {
			key = key<<(8*k.bytes) | k.v(p, nil)&widthMask(8*k.bytes)
		}
		if p.parseStop { // a lookahead beyond the packet
			return
		}
		var next *pstate
		matched := false
		for i := range st.trans {
			t := &st.trans[i]
			if t.dflt || key&t.mask == t.value {
				next, matched = t.next, true
				break
			}
		}
		if !matched {
			p.parseFail(p.prog.errorCodes["NoMatch"])
			return
		}
		st = next
	}
}
