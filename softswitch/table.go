package softswitch

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"sync/atomic"
	"time"
)

// keyField is one compiled key element.
type keyField struct {
	info        KeyFieldInfo
	field       int // field id, or -1 for a validity match
	validHeader int // header id of a validity match, else -1
	bytes       int
	offset      int // byte offset in the packed key
	staticMask  []byte
}

type tableKind uint8

const (
	tkExact   tableKind = iota + 1 // exact keys only (or no key)
	tkLPM                          // exact keys and one lpm key
	tkGeneric                      // ternary, range or optional keys: priority scan
)

// table is a match-action table: its compiled key and its entries. Writers
// hold Switch.mu; packets read the published indexes without locks.
type table struct {
	name          string
	keys          []keyField
	keyBytes      int
	actions       []*action
	profile       *actionProfile
	maxSize       int
	directCounter string
	constDefault  bool
	constEntries  bool
	hidden        bool
	// supportTimeout is the JSON's support_timeout: entries track hits
	// (hits.go), timed by the program's clock that starts at epoch.
	supportTimeout bool
	epoch          time.Time
	kind           tableKind
	lpmKey         int // index of the lpm key field, tkLPM only

	initialDefault     *boundAction
	initialDefaultCall ActionCall
	dflt               atomic.Pointer[boundAction]

	exact   atomic.Pointer[hashIndex]
	lpm     atomic.Pointer[[]lpmLevel]
	generic atomic.Pointer[[]*entry]

	// entries maps an entry's identity to it; writer side only.
	entries map[string]*entry
	seq     uint64
}

// lpmLevel is one prefix length of an lpm table.
type lpmLevel struct {
	plen  int
	mask  []byte // applied to the whole packed key
	index *hashIndex
	count int
}

// entry is an immutable table entry; modify publishes a new one.
type entry struct {
	key      []byte // packed key; masked for lpm and generic tables
	mask     []byte // generic tables: full mask of the packed key
	ranges   []keyRange
	priority int32
	match    []FieldMatch
	bound    *boundAction
	counter  *counterCell
	hits     *hitClock // tables with supportTimeout only
	seq      uint64
	id       string
}

// keyRange is a range check on one key field of a generic table.
type keyRange struct {
	offset, n int
	lo, hi    []byte
}

// boundAction is an action with its arguments, or a reference to an action
// profile member or group.
type boundAction struct {
	act      *action
	args     args
	call     ActionCall
	indirect bool
	group    bool
	id       uint32
}

func (t *table) info() TableInfo {
	ti := TableInfo{
		Name: t.name, MaxSize: t.maxSize, DirectCounter: t.directCounter,
		ConstDefault: t.constDefault, ConstEntries: t.constEntries, Hidden: t.hidden,
		DefaultAction: t.initialDefaultCall, NeedsPriority: t.kind == tkGeneric,
		SupportTimeout: t.supportTimeout,
	}
	for _, k := range t.keys {
		ti.Keys = append(ti.Keys, k.info)
	}
	for _, a := range t.actions {
		ti.Actions = append(ti.Actions, a.name)
	}
	if t.profile != nil {
		ti.ActionProfile = t.profile.name
	}
	return ti
}

// init lays out the key and picks the lookup structure.
func (t *table) init() error {
	t.kind = tkExact
	nLPM := 0
	off := 0
	for i := range t.keys {
		k := &t.keys[i]
		k.offset = off
		off += k.bytes
		switch k.info.Kind {
		case MatchLPM:
			nLPM++
			t.lpmKey = i
		case MatchTernary, MatchRange, MatchOptional:
			t.kind = tkGeneric
		}
	}
	t.keyBytes = off
	if nLPM > 1 {
		return fmt.Errorf("%d lpm keys (at most one): %w", nLPM, ErrInvalid)
	}
	if nLPM == 1 && t.kind == tkExact {
		t.kind = tkLPM
	}
	t.entries = map[string]*entry{}
	t.exact.Store(newHashIndex(16))
	t.lpm.Store(&[]lpmLevel{})
	t.generic.Store(&[]*entry{})
	return nil
}

// actionByName finds an action this table may call.
func (t *table) action(name string) (*action, error) {
	acts := t.actions
	if t.profile != nil {
		acts = t.profile.actions
	}
	for _, a := range acts {
		if a.name == trimDot(name) {
			return a, nil
		}
	}
	return nil, fmt.Errorf("table %q: action %q is not one of its actions: %w", t.name, name, ErrInvalid)
}

// bindDirect checks an action's parameters and binds them.
func bindArgs(a *action, params [][]byte) (args, error) {
	if len(params) != len(a.params) {
		return args{}, fmt.Errorf("action %q takes %d parameters, got %d: %w", a.name, len(a.params), len(params), ErrInvalid)
	}
	ar := args{u: make([]uint64, a.nNarrow), w: make([][]byte, a.nWide)}
	for i, pr := range a.params {
		if err := checkFits(params[i], pr.width); err != nil {
			return args{}, fmt.Errorf("action %q parameter %q: %w", a.name, pr.name, err)
		}
		if pr.wide {
			ar.w[pr.slot] = padBytes(params[i], (pr.width+7)/8)
		} else {
			ar.u[pr.slot] = bytesUint(params[i])
		}
	}
	return ar, nil
}

func (t *table) bindDirect(a *action, params [][]byte) (*boundAction, error) {
	ar, err := bindArgs(a, params)
	if err != nil {
		return nil, err
	}
	call := ActionCall{Action: a.name}
	for _, p := range params {
		call.Params = append(call.Params, canonical(p))
	}
	return &boundAction{act: a, args: ar, call: call}, nil
}

// bind resolves an ActionCall for an entry of this table.
func (t *table) bind(c ActionCall) (*boundAction, error) {
	if t.profile != nil {
		switch {
		case c.Action != "":
			return nil, fmt.Errorf("table %q uses action profile %q: entries name a member or group, not action %q: %w", t.name, t.profile.name, c.Action, ErrInvalid)
		case c.IsGroup || c.GroupID != 0:
			if t.profile.selector == nil {
				return nil, fmt.Errorf("table %q: action profile %q has no selector, groups are not allowed: %w", t.name, t.profile.name, ErrInvalid)
			}
			if _, ok := (*t.profile.groups.Load())[c.GroupID]; !ok {
				return nil, fmt.Errorf("table %q: group %d of %q: %w", t.name, c.GroupID, t.profile.name, ErrNotFound)
			}
			return &boundAction{indirect: true, group: true, id: c.GroupID, call: ActionCall{GroupID: c.GroupID, IsGroup: true}}, nil
		default:
			if _, ok := (*t.profile.members.Load())[c.MemberID]; !ok {
				return nil, fmt.Errorf("table %q: member %d of %q: %w", t.name, c.MemberID, t.profile.name, ErrNotFound)
			}
			return &boundAction{indirect: true, id: c.MemberID, call: ActionCall{MemberID: c.MemberID, IsMember: true}}, nil
		}
	}
	if c.Action == "" {
		return nil, fmt.Errorf("table %q: entry names no action: %w", t.name, ErrInvalid)
	}
	a, err := t.action(c.Action)
	if err != nil {
		return nil, err
	}
	return t.bindDirect(a, c.Params)
}

// buildEntry validates a match and packs it.
func (t *table) buildEntry(match []FieldMatch, priority int32) (*entry, error) {
	if len(match) != len(t.keys) {
		return nil, fmt.Errorf("table %q has %d key fields, got %d: %w", t.name, len(t.keys), len(match), ErrInvalid)
	}
	if t.kind == tkGeneric {
		if priority <= 0 {
			return nil, fmt.Errorf("table %q needs a priority > 0, got %d: %w", t.name, priority, ErrInvalid)
		}
	} else if priority != 0 {
		return nil, fmt.Errorf("table %q takes no priority, got %d: %w", t.name, priority, ErrInvalid)
	}
	e := &entry{key: make([]byte, t.keyBytes), priority: priority, match: make([]FieldMatch, len(match))}
	if t.kind == tkGeneric {
		e.mask = make([]byte, t.keyBytes)
	}
	plen := -1
	for i, k := range t.keys {
		m := match[i]
		w := k.info.Bitwidth
		seg := e.key[k.offset : k.offset+k.bytes]
		var mseg []byte
		if e.mask != nil {
			mseg = e.mask[k.offset : k.offset+k.bytes]
		}
		full := padBytes(nil, k.bytes)
		for j := range full {
			full[j] = 0xff
		}
		full[0] &= byte(0xff >> (k.bytes*8 - w))
		bad := func(format string, a ...any) error {
			return fmt.Errorf("table %q key %q: %s: %w", t.name, k.info.Name, fmt.Sprintf(format, a...), ErrInvalid)
		}
		switch k.info.Kind {
		case MatchExact, MatchValid:
			if m.Value == nil {
				return nil, bad("exact match needs a value")
			}
			if err := checkFits(m.Value, w); err != nil {
				return nil, bad("%v", err)
			}
			copy(seg, padBytes(m.Value, k.bytes))
			if mseg != nil {
				copy(mseg, full)
			}
			e.match[i] = FieldMatch{Value: canonical(m.Value)}
		case MatchLPM:
			if m.Value == nil || m.PrefixLen == 0 {
				plen = 0
				if mseg != nil {
					clear(mseg)
				}
				break
			}
			if m.PrefixLen < 0 || m.PrefixLen > w {
				return nil, bad("prefix length %d outside 0..%d", m.PrefixLen, w)
			}
			if err := checkFits(m.Value, w); err != nil {
				return nil, bad("%v", err)
			}
			v := padBytes(m.Value, k.bytes)
			pm := prefixMask(k.bytes, w, m.PrefixLen)
			for j := range v {
				if v[j]&^pm[j] != 0 {
					return nil, bad("value 0x%x has bits beyond prefix /%d", m.Value, m.PrefixLen)
				}
			}
			copy(seg, v)
			if mseg != nil {
				copy(mseg, pm)
			}
			plen = m.PrefixLen
			e.match[i] = FieldMatch{Value: canonical(m.Value), PrefixLen: m.PrefixLen}
		case MatchTernary:
			if m.Value == nil && m.Mask == nil {
				break // wildcard: mask and value stay zero
			}
			if m.Mask == nil {
				// A value without a mask is P4Runtime's optional match,
				// which p4c turns into a ternary key in the JSON.
				m.Mask = full
			}
			if bitLen(m.Mask) == 0 {
				if bitLen(m.Value) != 0 {
					return nil, bad("value 0x%x has bits outside mask 0", m.Value)
				}
				break
			}
			if err := checkFits(m.Value, w); err != nil {
				return nil, bad("%v", err)
			}
			if err := checkFits(m.Mask, w); err != nil {
				return nil, bad("mask: %v", err)
			}
			v, mk := padBytes(m.Value, k.bytes), padBytes(m.Mask, k.bytes)
			for j := range v {
				if v[j]&^mk[j] != 0 {
					return nil, bad("value 0x%x has bits outside mask 0x%x", m.Value, m.Mask)
				}
			}
			copy(seg, v)
			copy(mseg, mk)
			e.match[i] = FieldMatch{Value: canonical(m.Value), Mask: canonical(m.Mask)}
		case MatchOptional:
			if m.Value == nil {
				break
			}
			if err := checkFits(m.Value, w); err != nil {
				return nil, bad("%v", err)
			}
			copy(seg, padBytes(m.Value, k.bytes))
			copy(mseg, full)
			e.match[i] = FieldMatch{Value: canonical(m.Value)}
		case MatchRange:
			if m.Value == nil && m.High == nil {
				break
			}
			lo, hi := m.Value, m.High
			if lo == nil {
				lo = []byte{0}
			}
			if hi == nil {
				hi = full
			}
			if err := checkFits(lo, w); err != nil {
				return nil, bad("low: %v", err)
			}
			if err := checkFits(hi, w); err != nil {
				return nil, bad("high: %v", err)
			}
			l, h := padBytes(lo, k.bytes), padBytes(hi, k.bytes)
			if bytes.Compare(l, h) > 0 {
				return nil, bad("range low 0x%x above high 0x%x", lo, hi)
			}
			e.ranges = append(e.ranges, keyRange{offset: k.offset, n: k.bytes, lo: l, hi: h})
			e.match[i] = FieldMatch{Value: canonical(lo), High: canonical(hi)}
		}
	}
	id := make([]byte, 0, 2*t.keyBytes+8)
	id = append(id, e.key...)
	id = append(id, e.mask...)
	for _, r := range e.ranges {
		id = append(id, r.lo...)
		id = append(id, r.hi...)
	}
	id = binary.BigEndian.AppendUint32(id, uint32(priority))
	if t.kind == tkLPM {
		id = binary.BigEndian.AppendUint32(id, uint32(plen))
	}
	e.id = string(id)
	if t.kind == tkLPM {
		e.priority = int32(plen) // the level an lpm entry lives on
	}
	return e, nil
}

// prefixMask is the mask of the first plen bits of a w-bit field in n bytes.
func prefixMask(n, w, plen int) []byte {
	m := make([]byte, n)
	pad := n*8 - w
	for i := 0; i < plen; i++ {
		j := pad + i
		m[j>>3] |= 1 << (7 - j&7)
	}
	return m
}

func (t *table) insert(te TableEntry) error {
	if t.constEntries {
		return fmt.Errorf("table %q has const entries: %w", t.name, ErrConst)
	}
	e, err := t.buildEntry(te.Match, te.Priority)
	if err != nil {
		return err
	}
	if _, ok := t.entries[e.id]; ok {
		return fmt.Errorf("table %q: entry %v: %w", t.name, te.Match, ErrExists)
	}
	if len(t.entries) >= t.maxSize {
		return fmt.Errorf("table %q is full (%d entries): %w", t.name, t.maxSize, ErrTableFull)
	}
	if e.bound, err = t.bind(te.Action); err != nil {
		return err
	}
	if t.directCounter != "" {
		e.counter = &counterCell{}
		if te.SetCounter {
			e.counter.store(te.Counter)
		}
	}
	if t.supportTimeout {
		e.hits = &hitClock{}
	}
	t.publishInsert(e)
	return nil
}

// publishInsert makes a new entry visible to packets.
func (t *table) publishInsert(e *entry) {
	t.seq++
	e.seq = t.seq
	if e.bound.indirect {
		t.profile.ref(e.bound, 1)
	}
	t.entries[e.id] = e
	switch t.kind {
	case tkExact:
		ix := t.exact.Load()
		if ix.full() {
			ix = ix.grown()
			ix.put(e)
			t.exact.Store(ix)
			return
		}
		ix.put(e)
	case tkLPM:
		levels := *t.lpm.Load()
		plen := int(e.priority)
		for i := range levels {
			if levels[i].plen == plen {
				if levels[i].index.full() {
					nl := append([]lpmLevel(nil), levels...)
					nl[i].index = nl[i].index.grown()
					nl[i].index.put(e)
					nl[i].count++
					t.lpm.Store(&nl)
					return
				}
				levels[i].index.put(e)
				levels[i].count++ // writer-only field
				return
			}
		}
		k := t.keys[t.lpmKey]
		mask := make([]byte, t.keyBytes)
		for j := range mask {
			mask[j] = 0xff
		}
		copy(mask[k.offset:], prefixMask(k.bytes, k.info.Bitwidth, plen))
		lv := lpmLevel{plen: plen, mask: mask, index: newHashIndex(16), count: 1}
		lv.index.put(e)
		nl := append(append([]lpmLevel(nil), levels...), lv)
		sort.Slice(nl, func(i, j int) bool { return nl[i].plen > nl[j].plen })
		t.lpm.Store(&nl)
	case tkGeneric:
		t.republishGeneric()
	}
}

// republishGeneric rebuilds the priority-ordered entry list (copy on write).
func (t *table) republishGeneric() {
	list := make([]*entry, 0, len(t.entries))
	for _, e := range t.entries {
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].priority != list[j].priority {
			return list[i].priority > list[j].priority
		}
		return list[i].seq < list[j].seq
	})
	t.generic.Store(&list)
}

func (t *table) lookupOwn(match []FieldMatch, priority int32) (*entry, error) {
	probe, err := t.buildEntry(match, priority)
	if err != nil {
		return nil, err
	}
	e, ok := t.entries[probe.id]
	if !ok {
		return nil, fmt.Errorf("table %q: entry %v priority %d: %w", t.name, match, priority, ErrNotFound)
	}
	return e, nil
}

func (t *table) modify(te TableEntry) error {
	if t.constEntries {
		return fmt.Errorf("table %q has const entries: %w", t.name, ErrConst)
	}
	old, err := t.lookupOwn(te.Match, te.Priority)
	if err != nil {
		return err
	}
	b, err := t.bind(te.Action)
	if err != nil {
		return err
	}
	e := *old
	e.bound = b
	if te.SetCounter && e.counter != nil {
		e.counter.store(te.Counter)
	}
	if b.indirect {
		t.profile.ref(b, 1)
	}
	if old.bound.indirect {
		t.profile.ref(old.bound, -1)
	}
	t.entries[e.id] = &e
	t.publishReplace(old, &e)
	return nil
}

func (t *table) publishReplace(old, e *entry) {
	switch t.kind {
	case tkExact:
		t.exact.Load().replace(old, e)
	case tkLPM:
		for _, lv := range *t.lpm.Load() {
			if lv.plen == int(old.priority) {
				lv.index.replace(old, e)
			}
		}
	case tkGeneric:
		t.republishGeneric()
	}
}

func (t *table) remove(match []FieldMatch, priority int32) error {
	if t.constEntries {
		return fmt.Errorf("table %q has const entries: %w", t.name, ErrConst)
	}
	old, err := t.lookupOwn(match, priority)
	if err != nil {
		return err
	}
	delete(t.entries, old.id)
	if old.bound.indirect {
		t.profile.ref(old.bound, -1)
	}
	switch t.kind {
	case tkExact:
		t.exact.Load().remove(old)
	case tkLPM:
		levels := *t.lpm.Load()
		for i := range levels {
			if levels[i].plen != int(old.priority) {
				continue
			}
			levels[i].index.remove(old)
			levels[i].count--
			if levels[i].count == 0 {
				nl := append(append([]lpmLevel(nil), levels[:i]...), levels[i+1:]...)
				t.lpm.Store(&nl)
			}
			break
		}
	case tkGeneric:
		t.republishGeneric()
	}
	return nil
}

func (t *table) toEntry(e *entry) TableEntry {
	te := TableEntry{Match: e.match, Action: e.bound.call}
	if t.kind == tkGeneric {
		te.Priority = e.priority
	}
	if e.counter != nil {
		te.Counter = e.counter.load()
	}
	return te
}

func (t *table) get(match []FieldMatch, priority int32) (TableEntry, error) {
	e, err := t.lookupOwn(match, priority)
	if err != nil {
		return TableEntry{}, err
	}
	return t.toEntry(e), nil
}

func (t *table) list() []TableEntry {
	es := make([]*entry, 0, len(t.entries))
	for _, e := range t.entries {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].seq < es[j].seq })
	out := make([]TableEntry, len(es))
	for i, e := range es {
		out[i] = t.toEntry(e)
	}
	return out
}

func (t *table) defaultCall() ActionCall {
	if b := t.dflt.Load(); b != nil {
		return b.call
	}
	return ActionCall{}
}

func (t *table) setDefault(c ActionCall) error {
	if t.constDefault {
		return fmt.Errorf("table %q: default action is const: %w", t.name, ErrConst)
	}
	b, err := t.bind(c)
	if err != nil {
		return err
	}
	if b.indirect {
		return fmt.Errorf("table %q: a default action through an action profile: %w", t.name, ErrUnsupported)
	}
	t.dflt.Store(b)
	return nil
}

func (t *table) resetDefault() error {
	if t.constDefault {
		return nil
	}
	t.dflt.Store(t.initialDefault)
	return nil
}

// addConstEntry installs one entry of the program's `entries`.
func (t *table) addConstEntry(je jConstEntry, p *Program) error {
	if len(je.MatchKey) != len(t.keys) {
		return fmt.Errorf("%d match fields, table has %d: %w", len(je.MatchKey), len(t.keys), ErrInvalid)
	}
	match := make([]FieldMatch, len(t.keys))
	for i, mk := range je.MatchKey {
		k := t.keys[i]
		var key string
		if len(mk.Key) > 0 {
			if err := json.Unmarshal(mk.Key, &key); err != nil {
				var b bool
				if json.Unmarshal(mk.Key, &b) == nil && b {
					key = "0x01"
				} else {
					key = "0x00"
				}
			}
		}
		var err error
		switch mk.MatchType {
		case "exact", "valid":
			match[i].Value, err = hexBytes(key, k.bytes)
		case "lpm":
			match[i].Value, err = hexBytes(key, k.bytes)
			match[i].PrefixLen = mk.PrefixLength
		case "ternary", "optional":
			if match[i].Value, err = hexBytes(key, k.bytes); err == nil {
				match[i].Mask, err = hexBytes(mk.Mask, k.bytes)
			}
			if k.info.Kind == MatchOptional && err == nil {
				if bitLen(match[i].Mask) == 0 {
					match[i] = FieldMatch{}
				} else {
					match[i].Mask = nil
				}
			}
		case "range":
			if match[i].Value, err = hexBytes(mk.Start, k.bytes); err == nil {
				match[i].High, err = hexBytes(mk.End, k.bytes)
			}
		default:
			err = fmt.Errorf("match type %q: %w", mk.MatchType, ErrUnsupported)
		}
		if err != nil {
			return fmt.Errorf("key %q: %w", k.info.Name, err)
		}
	}
	a, ok := p.actionByID[je.ActionEntry.ActionID]
	if !ok {
		return fmt.Errorf("unknown action id %d: %w", je.ActionEntry.ActionID, ErrInvalid)
	}
	var params [][]byte
	for i, s := range je.ActionEntry.ActionData {
		if i >= len(a.params) {
			return fmt.Errorf("too much action data for %q: %w", a.name, ErrInvalid)
		}
		b, err := hexBytes(s, (a.params[i].width+7)/8)
		if err != nil {
			return err
		}
		params = append(params, b)
	}
	// BMv2 priorities: a lower number wins; P4Runtime's: a higher one.
	prio := int32(0)
	if t.kind == tkGeneric {
		prio = int32(1<<24 - 1 - je.Priority)
	}
	e, err := t.buildEntry(match, prio)
	if err != nil {
		return err
	}
	if _, dup := t.entries[e.id]; dup {
		return fmt.Errorf("duplicate const entry %v: %w", match, ErrInvalid)
	}
	if e.bound, err = t.bindDirect(a, params); err != nil {
		return err
	}
	if t.directCounter != "" {
		e.counter = &counterCell{}
	}
	if t.supportTimeout {
		e.hits = &hitClock{}
	}
	t.publishInsert(e)
	return nil
}
