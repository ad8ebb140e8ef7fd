package softswitch

import (
	"math/bits"
)

// v1model instance types (standard_metadata.instance_type), as BMv2's
// simple_switch numbers them.
const (
	instanceNormal       = 0
	instanceIngressClone = 1
	instanceEgressClone  = 2
	instanceRecirc       = 4
	instanceReplication  = 5
	instanceResubmit     = 6
)

// cloneValid marks cloneSession as set, so session 0 is usable (BMv2 does
// the same with a high bit).
const cloneValid = 1 << 31

// maxLoops bounds resubmit and recirculate chains and clone nesting.
const maxLoops = 16

// packet is the per-packet state: the parsed header vector and v1model's
// intrinsic registers. It is reused through Program.pool, so the packet path
// allocates nothing.
type packet struct {
	prog      *Program
	sw        *Switch
	vals      []uint64
	wide      []byte
	valid     []bool
	stackNext []int

	buf  []byte // owned copy of the input frame
	data []byte // the frame being parsed (buf, or a shared one for copies)
	off  int    // parser cursor in bytes: the payload starts here

	parseErr  uint64
	parseStop bool
	exit      bool

	assertFailed   bool
	learnID        int
	cloneSession   uint32
	cloneFieldList int
	resubmit       int
	recirculate    int
	truncate       int
	ingressLen     int
	lenReg         int
	depth          int

	key     []byte
	hashBuf []byte
	out     []byte
	rng     uint64
	noArgs  args
	scratch [2][8]byte
}

func newPacket(p *Program) any {
	pk := &packet{
		prog:      p,
		vals:      make([]uint64, p.nVals),
		wide:      make([]byte, p.nWide),
		valid:     make([]bool, len(p.headers)),
		stackNext: make([]int, len(p.stacks)),
		buf:       make([]byte, 0, 2048),
		out:       make([]byte, 0, 2048),
		hashBuf:   make([]byte, 0, 128),
		rng:       0x9e3779b97f4a7c15,
	}
	maxKey := 0
	for _, t := range p.tables {
		maxKey = max(maxKey, t.keyBytes)
	}
	pk.key = make([]byte, maxKey)
	pk.hashBuf = make([]byte, 0, max(128, maxKey, p.maxCalcBytes))
	return pk
}

// resetMetadata clears the header vector as BMv2 does for a new packet:
// metadata zeroed and valid, headers invalid.
func (p *packet) resetState() {
	clear(p.vals)
	clear(p.wide)
	for i, h := range p.prog.headers {
		p.valid[i] = h.metadata
	}
	clear(p.stackNext)
	p.off = 0
	p.parseErr, p.parseStop, p.exit = 0, false, false
	p.assertFailed = false
	p.learnID, p.cloneSession, p.cloneFieldList = 0, 0, 0
	p.resubmit, p.recirculate, p.truncate = 0, 0, 0
}

// copyFrom makes p a copy of q (the header vector and the frame it parsed),
// for replicas and clones.
func (p *packet) copyFrom(q *packet) {
	copy(p.vals, q.vals)
	copy(p.wide, q.wide)
	copy(p.valid, q.valid)
	copy(p.stackNext, q.stackNext)
	p.data, p.off = q.data, q.off
	p.parseErr, p.parseStop, p.exit = q.parseErr, false, false
	p.assertFailed = false
	p.learnID, p.cloneSession, p.cloneFieldList = 0, 0, 0
	p.resubmit, p.recirculate, p.truncate = 0, 0, 0
	p.ingressLen, p.lenReg = q.ingressLen, q.lenReg
	p.depth = q.depth + 1
	p.sw = q.sw
}

func (p *packet) parseFail(code uint64) {
	if !p.parseStop {
		p.parseErr, p.parseStop = code, true
	}
}

// extract reads header h at the cursor; false (and a parser error) when the
// frame is too short.
func (p *packet) extract(h int, tooShort uint64) bool {
	hd := p.prog.headers[h]
	if p.off+hd.bytes > len(p.data) {
		p.parseFail(tooShort)
		return false
	}
	base := p.off * 8
	for _, fid := range hd.fields {
		f := &p.prog.fields[fid]
		if f.wide {
			copyBits(p.wide[f.slot:f.slot+f.bytes], p.data, base+f.offset, f.width)
		} else {
			p.vals[f.slot] = readBits(p.data, base+f.offset, f.width)
		}
	}
	p.valid[h] = true
	p.off += hd.bytes
	return true
}

// emit appends header h to out.
func (p *packet) emit(out []byte, h int) []byte {
	hd := p.prog.headers[h]
	start := len(out)
	end := start + hd.bytes
	if cap(out) < end {
		out = append(out[:cap(out)], make([]byte, end-cap(out))...)
	}
	out = out[:end]
	clear(out[start:end])
	base := start * 8
	for _, fid := range hd.fields {
		f := &p.prog.fields[fid]
		if f.wide {
			putBits(out, base+f.offset, f.width, p.wide[f.slot:f.slot+f.bytes])
		} else {
			writeBits(out, base+f.offset, f.width, p.vals[f.slot])
		}
	}
	return out
}

func (p *packet) zeroHeader(h int) {
	for _, fid := range p.prog.headers[h].fields {
		f := &p.prog.fields[fid]
		if f.wide {
			clear(p.wide[f.slot : f.slot+f.bytes])
		} else {
			p.vals[f.slot] = 0
		}
	}
}

// addHeader is BMv2's add_header (setValid): a header becoming valid is
// zeroed and counts in the packet length.
func (p *packet) addHeader(h int) {
	if p.valid[h] {
		return
	}
	p.zeroHeader(h)
	p.valid[h] = true
	p.lenReg += p.prog.headers[h].bytes
}

func (p *packet) removeHeader(h int) {
	if !p.valid[h] {
		return
	}
	p.valid[h] = false
	p.lenReg -= p.prog.headers[h].bytes
}

// copyHeader is assign_header: values and validity.
func (p *packet) copyHeader(dst, src int) {
	df, sf := p.prog.headers[dst].fields, p.prog.headers[src].fields
	for i := range df {
		d, s := &p.prog.fields[df[i]], &p.prog.fields[sf[i]]
		if d.wide {
			copy(p.wide[d.slot:d.slot+d.bytes], p.wide[s.slot:s.slot+s.bytes])
		} else {
			p.vals[d.slot] = p.vals[s.slot]
		}
	}
	p.valid[dst] = p.valid[src]
}

// swapHeaders exchanges two headers' values and validity (BMv2's
// swap_values, used by push and pop).
func (p *packet) swapHeaders(a, b int) {
	af, bf := p.prog.headers[a].fields, p.prog.headers[b].fields
	for i := range af {
		x, y := &p.prog.fields[af[i]], &p.prog.fields[bf[i]]
		if x.wide {
			xs, ys := p.wide[x.slot:x.slot+x.bytes], p.wide[y.slot:y.slot+y.bytes]
			for k := range xs {
				xs[k], ys[k] = ys[k], xs[k]
			}
		} else {
			p.vals[x.slot], p.vals[y.slot] = p.vals[y.slot], p.vals[x.slot]
		}
	}
	p.valid[a], p.valid[b] = p.valid[b], p.valid[a]
}

// pushFront is P4_16's push_front as BMv2 implements it (StackP4_16).
func (p *packet) pushFront(s *headerStack, n int) {
	if n <= 0 {
		return
	}
	size := len(s.headers)
	p.stackNext[s.id] = min(size, p.stackNext[s.id]+n)
	for i := size - 1; i > n-1; i-- {
		p.swapHeaders(s.headers[i], s.headers[i-n])
	}
	for i := 0; i < min(size, n); i++ {
		if p.valid[s.headers[i]] {
			p.lenReg -= p.prog.headers[s.headers[i]].bytes
		}
		p.valid[s.headers[i]] = false
	}
}

// popFront is P4_16's pop_front as BMv2 implements it.
func (p *packet) popFront(s *headerStack, n int) {
	if n <= 0 {
		return
	}
	size := len(s.headers)
	p.stackNext[s.id] -= min(p.stackNext[s.id], n)
	i := 0
	if n < size {
		for ; i < size-n; i++ {
			p.swapHeaders(s.headers[i], s.headers[i+n])
		}
	}
	for ; i < size; i++ {
		p.valid[s.headers[i]] = false
	}
}

// random is a xorshift generator for modify_field_rng_uniform (v1model's
// random()); per packet state, so no lock.
func (p *packet) random() uint64 {
	x := p.rng
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	p.rng = x
	return bits.RotateLeft64(x, 11)
}

// setStd writes a standard_metadata field if the program has it.
func (p *packet) setStd(id int, v uint64) {
	if id >= 0 {
		f := &p.prog.fields[id]
		p.vals[f.slot] = v & widthMask(f.width)
	}
}

func (p *packet) getStd(id int) uint64 {
	if id < 0 {
		return 0
	}
	return p.vals[p.prog.fields[id].slot]
}

// node is one step of a pipeline's control flow: a table, a conditional or
// an action call.
type node struct {
	name string

	table    *table
	hitMiss  bool
	hit      *node
	miss     *node
	byAction []*node // indexed like table.actions
	byActID  []*node // by action id, for the packet path
	// missNext is where a miss with no default action goes when next
	// nodes are by action: the JSON's base_default_next, as BMv2's
	// set_next_node_miss_default.
	missNext *node

	cond      boolFn
	trueNext  *node
	falseNext *node

	call     *action
	callNext *node
}

// runPipeline executes a control from n until it ends or exit is called.
func (p *packet) runPipeline(n *node) {
	for n != nil && !p.exit {
		switch {
		case n.table != nil:
			n = p.applyTable(n)
		case n.cond != nil:
			if n.cond(p, nil) {
				n = n.trueNext
			} else {
				n = n.falseNext
			}
		default:
			n.call.run(p, &p.noArgs)
			n = n.callNext
		}
	}
}

// applyTable looks the packet up in the node's table, runs the action and
// returns the next node.
func (p *packet) applyTable(n *node) *node {
	t := n.table
	if len(t.keys) == 0 {
		// A keyless table (p4c's tbl_* wrappers of action calls) always
		// misses and runs its default action.
		b := t.dflt.Load()
		if b == nil {
			if n.hitMiss {
				return n.miss
			}
			return n.missNext
		}
		b.act.run(p, &b.args)
		if n.hitMiss {
			return n.miss
		}
		if id := b.act.id; id < len(n.byActID) {
			return n.byActID[id]
		}
		return nil
	}
	e := t.lookup(p)
	var b *boundAction
	hit := e != nil
	if hit {
		b = e.bound
		if e.counter != nil {
			e.counter.add(uint64(p.ingressLen))
		}
		if e.hits != nil {
			e.hits.touch(sinceEpoch(t.epoch))
		}
		if b.indirect {
			if b = t.profile.resolve(p, b); b == nil {
				hit = false
			}
		}
	}
	if !hit {
		b = t.dflt.Load()
	}
	if b != nil {
		b.act.run(p, &b.args)
	}
	if n.hitMiss {
		if hit {
			return n.hit
		}
		return n.miss
	}
	if b == nil {
		// A miss with no default action: BMv2 runs its empty
		// default_default_entry, whose next node is base_default_next
		// (MatchTableIndirect::lookup: p4c emits no default_entry for
		// tables with an action profile or selector).
		return n.missNext
	}
	if id := b.act.id; id < len(n.byActID) {
		return n.byActID[id]
	}
	return nil
}

// buildKey packs the table key of packet p into p.key.
func (t *table) buildKey(p *packet) []byte {
	key := p.key[:t.keyBytes]
	for i := range t.keys {
		k := &t.keys[i]
		seg := key[k.offset : k.offset+k.bytes]
		if k.field < 0 {
			if p.valid[k.validHeader] {
				seg[0] = 1
			} else {
				seg[0] = 0
			}
			continue
		}
		f := &p.prog.fields[k.field]
		if f.wide {
			copy(seg, p.wide[f.slot:f.slot+f.bytes])
		} else {
			v := p.vals[f.slot]
			for j := k.bytes - 1; j >= 0; j-- {
				seg[j] = byte(v)
				v >>= 8
			}
		}
		if k.staticMask != nil {
			for j := range seg {
				seg[j] &= k.staticMask[j]
			}
		}
	}
	return key
}

// lookup finds the entry matching packet p, or nil.
func (t *table) lookup(p *packet) *entry {
	if len(t.keys) == 0 {
		return nil
	}
	key := t.buildKey(p)
	switch t.kind {
	case tkExact:
		return t.exact.Load().find(key)
	case tkLPM:
		levels := *t.lpm.Load()
		if len(levels) == 0 {
			return nil
		}
		masked := p.hashBuf[:len(key)]
		for i := range levels {
			lv := &levels[i]
			for j := range key {
				masked[j] = key[j] & lv.mask[j]
			}
			if e := lv.index.find(masked); e != nil {
				return e
			}
		}
		return nil
	}
	for _, e := range *t.generic.Load() {
		if e.matches(key) {
			return e
		}
	}
	return nil
}

func (e *entry) matches(key []byte) bool {
	for j, m := range e.mask {
		if key[j]&m != e.key[j] {
			return false
		}
	}
	for _, r := range e.ranges {
		v := key[r.offset : r.offset+r.n]
		if string(v) < string(r.lo) || string(v) > string(r.hi) {
			return false
		}
	}
	return true
}
