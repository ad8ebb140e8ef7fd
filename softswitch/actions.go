package softswitch

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// action is a compiled action: its parameters and primitive sequence.
type action struct {
	id      int
	name    string
	params  []param
	nNarrow int
	nWide   int
	body    []step
}

type param struct {
	name  string
	width int
	wide  bool
	slot  int
}

// step is one primitive. f runs it; a step with f nil is a jump (BMv2's
// _jump and _jump_if_zero, which p4c emits for if statements in actions).
type step struct {
	f      func(p *packet, a *args)
	jumpTo int
	cond   valFn // jump when cond is nil or evaluates to 0
}

// run executes the action. exit stops it, as P4's exit statement does.
func (a *action) run(p *packet, ar *args) {
	body := a.body
	for i := 0; i < len(body); {
		s := &body[i]
		if s.f != nil {
			s.f(p, ar)
			if p.exit {
				return
			}
			i++
			continue
		}
		if s.cond == nil || s.cond(p, ar) == 0 {
			i = s.jumpTo
		} else {
			i++
		}
	}
}

// compilePrimitives compiles an action body (or a parser state's primitive
// calls when act has no parameters).
func (c *compiler) compilePrimitives(prims []jPrimitive, act *action) ([]step, error) {
	var out []step
	for i, pr := range prims {
		s, err := c.compilePrimitive(pr, act)
		if err != nil {
			return nil, fmt.Errorf("primitive %d (%s): %w", i, pr.Op, err)
		}
		if s.f == nil && (s.jumpTo < 0 || s.jumpTo > len(prims)) {
			return nil, fmt.Errorf("primitive %d (%s): jump to %d outside the action: %w", i, pr.Op, s.jumpTo, ErrInvalid)
		}
		out = append(out, s)
	}
	return out, nil
}

func (c *compiler) nparams(pr jPrimitive, n int) error {
	if len(pr.Parameters) != n {
		return fmt.Errorf("%d parameters, want %d: %w", len(pr.Parameters), n, ErrInvalid)
	}
	return nil
}

func (c *compiler) headerParam(t jTV, act *action) (int, error) {
	o, err := c.expr(t, act)
	if err != nil {
		return 0, err
	}
	if o.kind != kHeader || o.staticHeader < 0 {
		return 0, fmt.Errorf("%v: want a header known at load: %w", t, ErrUnsupported)
	}
	return o.staticHeader, nil
}

func (c *compiler) compilePrimitive(pr jPrimitive, act *action) (step, error) {
	p := c.p
	ps := pr.Parameters
	switch pr.Op {
	case "assign", "modify_field":
		if err := c.nparams(pr, 2); err != nil {
			return step{}, err
		}
		return c.compileAssign(ps[0], ps[1], act)
	case "assign_header", "copy_header":
		if err := c.nparams(pr, 2); err != nil {
			return step{}, err
		}
		dst, err := c.headerParam(ps[0], act)
		if err != nil {
			return step{}, err
		}
		src, err := c.headerParam(ps[1], act)
		if err != nil {
			return step{}, err
		}
		if p.headers[dst].typ != p.headers[src].typ {
			return step{}, fmt.Errorf("assign_header %q ← %q of another type: %w", p.headers[dst].name, p.headers[src].name, ErrInvalid)
		}
		return step{f: func(pk *packet, _ *args) { pk.copyHeader(dst, src) }}, nil
	case "assign_header_stack":
		if err := c.nparams(pr, 2); err != nil {
			return step{}, err
		}
		d, err := c.expr(ps[0], act)
		if err != nil {
			return step{}, err
		}
		s, err := c.expr(ps[1], act)
		if err != nil {
			return step{}, err
		}
		if d.kind != kStack || s.kind != kStack || len(d.stack.headers) != len(s.stack.headers) {
			return step{}, fmt.Errorf("assign_header_stack of mismatched stacks: %w", ErrInvalid)
		}
		ds, ss := d.stack, s.stack
		return step{f: func(pk *packet, _ *args) {
			for i := range ds.headers {
				pk.copyHeader(ds.headers[i], ss.headers[i])
			}
			pk.stackNext[ds.id] = pk.stackNext[ss.id]
		}}, nil
	case "add_header", "add_header_fast", "remove_header":
		if err := c.nparams(pr, 1); err != nil {
			return step{}, err
		}
		o, err := c.expr(ps[0], act)
		if err != nil {
			return step{}, err
		}
		if o.kind != kHeader {
			return step{}, fmt.Errorf("%v is not a header: %w", ps[0], ErrInvalid)
		}
		hf := o.h
		switch pr.Op {
		case "remove_header":
			return step{f: func(pk *packet, a *args) {
				if h := hf(pk, a); h >= 0 {
					pk.removeHeader(h)
				}
			}}, nil
		case "add_header_fast":
			return step{f: func(pk *packet, a *args) {
				if h := hf(pk, a); h >= 0 {
					pk.valid[h] = true
				}
			}}, nil
		}
		return step{f: func(pk *packet, a *args) {
			if h := hf(pk, a); h >= 0 {
				pk.addHeader(h)
			}
		}}, nil
	case "push", "pop":
		if err := c.nparams(pr, 2); err != nil {
			return step{}, err
		}
		so, err := c.expr(ps[0], act)
		if err != nil {
			return step{}, err
		}
		if so.kind != kStack {
			return step{}, fmt.Errorf("%v is not a header stack: %w", ps[0], ErrInvalid)
		}
		n, err := c.dataExpr(ps[1], act)
		if err != nil {
			return step{}, err
		}
		s, nv := so.stack, n.v
		if pr.Op == "push" {
			return step{f: func(pk *packet, a *args) { pk.pushFront(s, int(nv(pk, a))) }}, nil
		}
		return step{f: func(pk *packet, a *args) { pk.popFront(s, int(nv(pk, a))) }}, nil
	case "_jump":
		if err := c.nparams(pr, 1); err != nil {
			return step{}, err
		}
		o, err := c.dataExpr(ps[0], act)
		if err != nil || !o.isConst {
			return step{}, fmt.Errorf("_jump target is not a constant: %w", ErrUnsupported)
		}
		return step{jumpTo: int(o.c)}, nil
	case "_jump_if_zero":
		if err := c.nparams(pr, 2); err != nil {
			return step{}, err
		}
		cond, err := c.dataExpr(ps[0], act)
		if err != nil {
			return step{}, err
		}
		o, err := c.dataExpr(ps[1], act)
		if err != nil || !o.isConst {
			return step{}, fmt.Errorf("_jump_if_zero target is not a constant: %w", ErrUnsupported)
		}
		return step{jumpTo: int(o.c), cond: cond.v}, nil
	case "exit":
		return step{f: func(pk *packet, _ *args) { pk.exit = true }}, nil
	case "no_op":
		return step{f: func(*packet, *args) {}}, nil
	case "assume", "assert":
		if err := c.nparams(pr, 1); err != nil {
			return step{}, err
		}
		b, err := c.boolExpr(ps[0], act)
		if err != nil {
			return step{}, err
		}
		// BMv2 aborts the whole switch; the softswitch drops the packet
		// and logs, which keeps one bad packet from stopping the target.
		op := pr.Op
		return step{f: func(pk *packet, a *args) {
			if !b(pk, a) {
				pk.sw.log.Error("softswitch: "+op+" failed, dropping packet", "action", actName(act))
				pk.assertFailed = true
				pk.exit = true
			}
		}}, nil
	case "log_msg":
		if err := c.nparams(pr, 2); err != nil {
			return step{}, err
		}
		format, err := unmarshalString(ps[0].Value)
		if err != nil {
			return step{}, err
		}
		var elems []jTV
		if err := json.Unmarshal(ps[1].Value, &elems); err != nil {
			return step{}, fmt.Errorf("log_msg arguments: %w", ErrInvalid)
		}
		var vals []valFn
		for _, e := range elems {
			o, err := c.dataExpr(e, act)
			if err != nil {
				return step{}, fmt.Errorf("log_msg argument: %w", err)
			}
			vals = append(vals, o.v)
		}
		return step{f: func(pk *packet, a *args) {
			if !pk.sw.log.Enabled(pk.sw.ctx, slog.LevelDebug) {
				return
			}
			msg := format
			for _, v := range vals {
				msg = strings.Replace(msg, "{}", fmt.Sprint(v(pk, a)), 1)
			}
			pk.sw.log.Debug("softswitch: log_msg", "msg", msg)
		}}, nil
	case "mark_to_drop", "drop":
		es, mg, drop := p.fields[p.std.egressSpec].slot, -1, uint64(0)
		if p.std.mcastGrp >= 0 {
			mg = p.fields[p.std.mcastGrp].slot
		}
		_ = drop
		return step{f: func(pk *packet, _ *args) {
			pk.vals[es] = uint64(pk.sw.dropPort)
			if mg >= 0 {
				pk.vals[mg] = 0
			}
		}}, nil
	case "count":
		if err := c.nparams(pr, 2); err != nil {
			return step{}, err
		}
		name, err := unmarshalString(ps[0].Value)
		if err != nil {
			return step{}, err
		}
		ca, ok := p.counterByNm[name]
		if !ok || ca.directTable != "" {
			return step{}, fmt.Errorf("count on unknown or direct counter %q: %w", name, ErrInvalid)
		}
		idx, err := c.dataExpr(ps[1], act)
		if err != nil {
			return step{}, err
		}
		iv := idx.v
		return step{f: func(pk *packet, a *args) {
			i := iv(pk, a)
			if i < uint64(len(ca.cells)) {
				ca.cells[i].add(uint64(pk.ingressLen))
			}
		}}, nil
	case "register_read":
		if err := c.nparams(pr, 3); err != nil {
			return step{}, err
		}
		dst, err := c.lvalue(ps[0], act)
		if err != nil {
			return step{}, err
		}
		name, err := unmarshalString(ps[1].Value)
		if err != nil {
			return step{}, err
		}
		r, ok := p.registerBy[name]
		if !ok {
			return step{}, fmt.Errorf("unknown register %q: %w", name, ErrInvalid)
		}
		idx, err := c.dataExpr(ps[2], act)
		if err != nil {
			return step{}, err
		}
		if dst.wide {
			return step{}, fmt.Errorf("register_read into a field wider than 64 bits: %w", ErrUnsupported)
		}
		iv, set := idx.v, dst.set
		return step{f: func(pk *packet, a *args) {
			i := iv(pk, a)
			if i < uint64(len(r.cells)) {
				set(pk, a, r.cells[i].Load())
			} else {
				set(pk, a, 0)
			}
		}}, nil
	case "register_write":
		if err := c.nparams(pr, 3); err != nil {
			return step{}, err
		}
		name, err := unmarshalString(ps[0].Value)
		if err != nil {
			return step{}, err
		}
		r, ok := p.registerBy[name]
		if !ok {
			return step{}, fmt.Errorf("unknown register %q: %w", name, ErrInvalid)
		}
		idx, err := c.dataExpr(ps[1], act)
		if err != nil {
			return step{}, err
		}
		val, err := c.dataExpr(ps[2], act)
		if err != nil {
			return step{}, err
		}
		iv, vv, m := idx.v, val.v, widthMask(r.width)
		return step{f: func(pk *packet, a *args) {
			if i := iv(pk, a); i < uint64(len(r.cells)) {
				r.cells[i].Store(vv(pk, a) & m)
			}
		}}, nil
	case "modify_field_with_hash_based_offset":
		if err := c.nparams(pr, 4); err != nil {
			return step{}, err
		}
		dst, err := c.lvalue(ps[0], act)
		if err != nil {
			return step{}, err
		}
		if dst.wide {
			return step{}, fmt.Errorf("hash into a field wider than 64 bits: %w", ErrUnsupported)
		}
		base, err := c.dataExpr(ps[1], act)
		if err != nil {
			return step{}, err
		}
		name, err := unmarshalString(ps[2].Value)
		if err != nil {
			return step{}, err
		}
		calc, ok := p.calcs[name]
		if !ok {
			return step{}, fmt.Errorf("unknown calculation %q: %w", name, ErrInvalid)
		}
		size, err := c.dataExpr(ps[3], act)
		if err != nil {
			return step{}, err
		}
		bv, sv, set := base.v, size.v, dst.set
		return step{f: func(pk *packet, a *args) {
			sz := sv(pk, a)
			if sz == 0 {
				sz = 1
			}
			set(pk, a, calc.compute(pk)%sz+bv(pk, a))
		}}, nil
	case "modify_field_rng_uniform":
		if err := c.nparams(pr, 3); err != nil {
			return step{}, err
		}
		dst, err := c.lvalue(ps[0], act)
		if err != nil || dst.wide {
			return step{}, fmt.Errorf("random into %v: %w", ps[0], ErrUnsupported)
		}
		lo, err := c.dataExpr(ps[1], act)
		if err != nil {
			return step{}, err
		}
		hi, err := c.dataExpr(ps[2], act)
		if err != nil {
			return step{}, err
		}
		lv, hv, set := lo.v, hi.v, dst.set
		return step{f: func(pk *packet, a *args) {
			l, h := lv(pk, a), hv(pk, a)
			if h < l {
				set(pk, a, l)
				return
			}
			set(pk, a, l+pk.random()%(h-l+1))
		}}, nil
	case "generate_digest":
		if err := c.nparams(pr, 2); err != nil {
			return step{}, err
		}
		id, err := c.dataExpr(ps[1], act)
		if err != nil || !id.isConst {
			return step{}, fmt.Errorf("digest id is not a constant: %w", ErrUnsupported)
		}
		if _, ok := p.learnByID[int(id.c)]; !ok {
			return step{}, fmt.Errorf("digest of unknown learn list %d: %w", id.c, ErrInvalid)
		}
		lid := int(id.c)
		return step{f: func(pk *packet, _ *args) { pk.learnID = lid }}, nil
	case "clone_ingress_pkt_to_egress", "clone_egress_pkt_to_egress":
		if len(ps) != 1 && len(ps) != 2 {
			return step{}, fmt.Errorf("%d parameters: %w", len(ps), ErrInvalid)
		}
		sess, err := c.dataExpr(ps[0], act)
		if err != nil {
			return step{}, err
		}
		fl := 0
		if len(ps) == 2 {
			o, err := c.dataExpr(ps[1], act)
			if err != nil || !o.isConst {
				return step{}, fmt.Errorf("clone field list is not a constant: %w", ErrUnsupported)
			}
			fl = int(o.c)
		}
		sv := sess.v
		return step{f: func(pk *packet, a *args) {
			pk.cloneSession = uint32(sv(pk, a)&0xffff) | cloneValid
			pk.cloneFieldList = fl
		}}, nil
	case "resubmit", "recirculate":
		fl := 0
		if len(ps) == 1 {
			o, err := c.dataExpr(ps[0], act)
			if err != nil || !o.isConst {
				return step{}, fmt.Errorf("%s field list is not a constant: %w", pr.Op, ErrUnsupported)
			}
			fl = int(o.c)
		}
		if pr.Op == "resubmit" {
			return step{f: func(pk *packet, _ *args) { pk.resubmit = fl + 1 }}, nil
		}
		return step{f: func(pk *packet, _ *args) { pk.recirculate = fl + 1 }}, nil
	case "truncate":
		if err := c.nparams(pr, 1); err != nil {
			return step{}, err
		}
		n, err := c.dataExpr(ps[0], act)
		if err != nil {
			return step{}, err
		}
		nv := n.v
		return step{f: func(pk *packet, a *args) { pk.truncate = int(nv(pk, a)) }}, nil
	case "add_to_field", "subtract_from_field":
		if err := c.nparams(pr, 2); err != nil {
			return step{}, err
		}
		dst, err := c.lvalue(ps[0], act)
		if err != nil || dst.wide {
			return step{}, fmt.Errorf("%s on %v: %w", pr.Op, ps[0], ErrUnsupported)
		}
		cur, err := c.dataExpr(ps[0], act)
		if err != nil {
			return step{}, err
		}
		v, err := c.dataExpr(ps[1], act)
		if err != nil {
			return step{}, err
		}
		cv, vv, set := cur.v, v.v, dst.set
		if pr.Op == "add_to_field" {
			return step{f: func(pk *packet, a *args) { set(pk, a, cv(pk, a)+vv(pk, a)) }}, nil
		}
		return step{f: func(pk *packet, a *args) { set(pk, a, cv(pk, a)-vv(pk, a)) }}, nil
	}
	return step{}, fmt.Errorf("primitive %q: %w", pr.Op, ErrUnsupported)
}

func actName(a *action) string {
	if a == nil {
		return ""
	}
	return a.name
}

// compileAssign compiles dst = src.
func (c *compiler) compileAssign(dt, st jTV, act *action) (step, error) {
	dst, err := c.lvalue(dt, act)
	if err != nil {
		return step{}, err
	}
	src, err := c.expr(st, act)
	if err != nil {
		return step{}, err
	}
	if !dst.wide && dst.fieldSlot1 > 0 && src.kind == kData {
		// The common assignments, in one closure call.
		d, m := dst.fieldSlot1-1, widthMask(dst.width)
		switch {
		case src.isConst:
			k := src.c & m
			return step{f: func(pk *packet, _ *args) { pk.vals[d] = k }}, nil
		case src.fieldSlot1 > 0:
			sl := src.fieldSlot1 - 1
			return step{f: func(pk *packet, _ *args) { pk.vals[d] = pk.vals[sl] & m }}, nil
		case src.paramSlot1 > 0:
			sl := src.paramSlot1 - 1
			return step{f: func(pk *packet, a *args) { pk.vals[d] = a.u[sl] & m }}, nil
		}
		v := src.v
		return step{f: func(pk *packet, a *args) { pk.vals[d] = v(pk, a) & m }}, nil
	}
	if !dst.wide {
		switch src.kind {
		case kData:
			set, v := dst.set, src.v
			if src.isConst {
				k := src.c
				return step{f: func(pk *packet, a *args) { set(pk, a, k) }}, nil
			}
			return step{f: func(pk *packet, a *args) { set(pk, a, v(pk, a)) }}, nil
		case kBool:
			set, b := dst.set, src.b
			return step{f: func(pk *packet, a *args) {
				if b(pk, a) {
					set(pk, a, 1)
				} else {
					set(pk, a, 0)
				}
			}}, nil
		case kWide:
			set, w := dst.set, src.w
			return step{f: func(pk *packet, a *args) {
				b := w(pk, a)
				if len(b) > 8 {
					b = b[len(b)-8:]
				}
				set(pk, a, bytesUint(b))
			}}, nil
		}
		return step{}, fmt.Errorf("assignment of %v: %w", st, ErrUnsupported)
	}
	setW := dst.setW
	switch src.kind {
	case kWide:
		w := src.w
		return step{f: func(pk *packet, a *args) { setW(pk, a, w(pk, a)) }}, nil
	case kData:
		view := wideView(src)
		return step{f: func(pk *packet, a *args) {
			setW(pk, a, view(pk, a, &pk.scratch[0]))
		}}, nil
	}
	return step{}, fmt.Errorf("assignment of %v to a wide field: %w", st, ErrUnsupported)
}
