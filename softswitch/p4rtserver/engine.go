package p4rtserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/p4evpn/p4evpn/softswitch"
)

// EngineDevice is the softswitch engine as a Device. It is a HitTracker, so
// idle timeouts work on it.
type EngineDevice struct {
	sw *softswitch.Switch
}

var _ HitTracker = (*EngineDevice)(nil)

// NewEngineDevice adapts sw. The server owns delivery of sw's packet-ins and
// digests: nothing else may read sw.PacketIns or sw.Digests.
func NewEngineDevice(sw *softswitch.Switch) *EngineDevice { return &EngineDevice{sw: sw} }

// engineProgram is a compiled BMv2 JSON program.
type engineProgram struct {
	json   []byte
	schema *ProgramSchema
}

func (p *engineProgram) Schema() *ProgramSchema { return p.schema }

// engineErr gives an engine error the sentinel the server maps to a code.
func engineErr(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range []struct{ engine, ours error }{
		{softswitch.ErrNotFound, ErrNotFound},
		{softswitch.ErrExists, ErrExists},
		{softswitch.ErrTableFull, ErrFull},
		{softswitch.ErrInUse, ErrInUse},
		{softswitch.ErrInvalid, ErrInvalid},
		{softswitch.ErrConst, ErrInvalid},
		{softswitch.ErrNoProgram, ErrNoProgram},
		{softswitch.ErrUnsupported, ErrUnsupported},
	} {
		if errors.Is(err, m.engine) {
			return fmt.Errorf("%w: %w", m.ours, err)
		}
	}
	return err
}

// Load compiles the BMv2 JSON and describes it.
func (d *EngineDevice) Load(cfg []byte) (Program, error) {
	prog, err := softswitch.Compile(cfg)
	if err != nil {
		return nil, err
	}
	s := &ProgramSchema{
		Tables:         map[string]*TableSchema{},
		Actions:        map[string]*ActionSchema{},
		ActionProfiles: map[string]*ProfileSchema{},
		Counters:       map[string]*CounterSchema{},
		Digests:        map[string]*DigestSchema{},
	}
	for _, t := range prog.TableInfos() {
		if t.Hidden {
			continue
		}
		ts := &TableSchema{Actions: t.Actions, Profile: t.ActionProfile, DirectCounter: t.DirectCounter, Size: t.MaxSize,
			ConstEntries: t.ConstEntries, ConstDefault: t.ConstDefault,
			DefaultAction: ActionCall{Name: t.DefaultAction.Action, Args: t.DefaultAction.Params}}
		for _, k := range t.Keys {
			if k.Kind == softswitch.MatchValid {
				return nil, fmt.Errorf("table %q: valid match kind is not supported by P4Runtime: %w", t.Name, ErrUnsupported)
			}
			ts.Keys = append(ts.Keys, KeySchema{Name: k.Name, Kind: MatchKind(k.Kind), Width: k.Bitwidth})
		}
		s.Tables[t.Name] = ts
	}
	for _, a := range prog.ActionInfos() {
		as := &ActionSchema{}
		for _, p := range a.Params {
			as.Params = append(as.Params, FieldSchema{Name: p.Name, Width: p.Bitwidth})
		}
		s.Actions[a.Name] = as
	}
	for _, ap := range prog.ActionProfiles() {
		s.ActionProfiles[ap.Name] = &ProfileSchema{Size: ap.MaxSize, Selector: ap.WithSelector}
	}
	for _, c := range prog.Counters() {
		if c.DirectTable == "" {
			s.Counters[c.Name] = &CounterSchema{Size: c.Size}
		}
	}
	for _, dg := range prog.Digests() {
		ds := &DigestSchema{}
		for _, f := range dg.Fields {
			ds.Fields = append(ds.Fields, FieldSchema{Name: f.Name, Width: f.Bitwidth})
		}
		s.Digests[dg.Name] = ds
	}
	return &engineProgram{json: cfg, schema: s}, nil
}

// Run loads the program into the switch and clears the switch state that
// outlives a program in the engine (multicast groups, clone sessions), so
// the new pipeline starts empty as P4Runtime requires.
func (d *EngineDevice) Run(p Program) error {
	ep, ok := p.(*engineProgram)
	if !ok {
		return fmt.Errorf("program %T was not loaded by this device: %w", p, ErrInvalid)
	}
	if err := d.sw.Load(ep.json); err != nil {
		return engineErr(err)
	}
	for _, g := range d.sw.MulticastGroups() {
		if err := d.sw.DeleteMulticastGroup(g.ID); err != nil {
			return engineErr(err)
		}
	}
	for _, c := range d.sw.CloneSessions() {
		if err := d.sw.DeleteCloneSession(c.ID); err != nil {
			return engineErr(err)
		}
	}
	return nil
}

func engineMatch(key []MatchValue) []softswitch.FieldMatch {
	out := make([]softswitch.FieldMatch, len(key))
	for i, k := range key {
		out[i] = softswitch.FieldMatch{Value: k.Value, Mask: k.Mask, PrefixLen: int(k.PrefixLen), High: k.High}
	}
	return out
}

func engineEntry(e *Entry) softswitch.TableEntry {
	te := softswitch.TableEntry{Match: engineMatch(e.Key), Priority: e.Priority,
		Counter:    softswitch.CounterData{Packets: uint64(e.Counter.Packets), Bytes: uint64(e.Counter.Bytes)},
		SetCounter: e.SetCounter}
	switch {
	case e.Action != nil:
		te.Action = softswitch.ActionCall{Action: e.Action.Name, Params: e.Action.Args}
	case e.IsMember:
		te.Action = softswitch.ActionCall{MemberID: e.Member, IsMember: true}
	case e.IsGroup:
		te.Action = softswitch.ActionCall{GroupID: e.Group, IsGroup: true}
	}
	return te
}

// InsertEntry implements Device.
func (d *EngineDevice) InsertEntry(table string, e *Entry) error {
	return engineErr(d.sw.InsertEntry(table, engineEntry(e)))
}

// ModifyEntry implements Device.
func (d *EngineDevice) ModifyEntry(table string, e *Entry) error {
	return engineErr(d.sw.ModifyEntry(table, engineEntry(e)))
}

// DeleteEntry implements Device.
func (d *EngineDevice) DeleteEntry(table string, e *Entry) error {
	return engineErr(d.sw.DeleteEntry(table, engineMatch(e.Key), e.Priority))
}

// LastHit implements HitTracker: the engine records hits in the entries of
// tables compiled with support_timeout (P4Info NOTIFY_CONTROL), to within a
// millisecond.
func (d *EngineDevice) LastHit(table string, e *Entry) (time.Time, error) {
	at, err := d.sw.LastHit(table, engineMatch(e.Key), e.Priority)
	return at, engineErr(err)
}

// EntryCounter implements Device.
func (d *EngineDevice) EntryCounter(table string, e *Entry) (Counts, error) {
	te, err := d.sw.Entry(table, engineMatch(e.Key), e.Priority)
	if err != nil {
		return Counts{}, engineErr(err)
	}
	return Counts{Bytes: int64(te.Counter.Bytes), Packets: int64(te.Counter.Packets)}, nil
}

// Entries lists the entries the program put in a table (const and initial
// entries), in the server's form.
func (d *EngineDevice) Entries(table string) ([]Entry, error) {
	es, err := d.sw.Entries(table)
	if err != nil {
		return nil, engineErr(err)
	}
	out := make([]Entry, len(es))
	for i, te := range es {
		key := make([]MatchValue, len(te.Match))
		for j, m := range te.Match {
			key[j] = MatchValue{Value: m.Value, Mask: m.Mask, PrefixLen: int32(m.PrefixLen), High: m.High}
		}
		out[i] = Entry{Key: key, Priority: te.Priority}
		switch {
		case te.Action.IsMember:
			out[i].Member, out[i].IsMember = te.Action.MemberID, true
		case te.Action.IsGroup:
			out[i].Group, out[i].IsGroup = te.Action.GroupID, true
		default:
			out[i].Action = &ActionCall{Name: te.Action.Action, Args: te.Action.Params}
		}
	}
	return out, nil
}

// SetDefaultAction implements Device.
func (d *EngineDevice) SetDefaultAction(table string, a *ActionCall) error {
	if a == nil {
		return engineErr(d.sw.ResetDefaultEntry(table))
	}
	return engineErr(d.sw.SetDefaultEntry(table, softswitch.ActionCall{Action: a.Name, Params: a.Args}))
}

// InsertMember implements Device.
func (d *EngineDevice) InsertMember(profile string, member uint32, a *ActionCall) error {
	return engineErr(d.sw.InsertMember(profile, softswitch.Member{ID: member, Action: a.Name, Params: a.Args}))
}

// ModifyMember implements Device.
func (d *EngineDevice) ModifyMember(profile string, member uint32, a *ActionCall) error {
	return engineErr(d.sw.ModifyMember(profile, softswitch.Member{ID: member, Action: a.Name, Params: a.Args}))
}

// DeleteMember implements Device.
func (d *EngineDevice) DeleteMember(profile string, member uint32) error {
	return engineErr(d.sw.DeleteMember(profile, member))
}

func engineGroup(group uint32, members []uint32) softswitch.Group {
	g := softswitch.Group{ID: group}
	for _, m := range members {
		g.Members = append(g.Members, softswitch.GroupMember{ID: m, Weight: 1})
	}
	return g
}

// InsertGroup implements Device.
func (d *EngineDevice) InsertGroup(profile string, group uint32, members []uint32) error {
	return engineErr(d.sw.InsertGroup(profile, engineGroup(group, members)))
}

// ModifyGroup implements Device.
func (d *EngineDevice) ModifyGroup(profile string, group uint32, members []uint32) error {
	return engineErr(d.sw.ModifyGroup(profile, engineGroup(group, members)))
}

// DeleteGroup implements Device.
func (d *EngineDevice) DeleteGroup(profile string, group uint32) error {
	return engineErr(d.sw.DeleteGroup(profile, group))
}

func engineReplicas(rs []Replica) []softswitch.Replica {
	out := make([]softswitch.Replica, len(rs))
	for i, r := range rs {
		out[i] = softswitch.Replica{Port: r.Port, Rid: uint16(r.Instance)}
	}
	return out
}

// InsertMulticastGroup implements Device.
func (d *EngineDevice) InsertMulticastGroup(group uint32, rs []Replica) error {
	return engineErr(d.sw.InsertMulticastGroup(softswitch.MulticastGroup{ID: group, Replicas: engineReplicas(rs)}))
}

// ModifyMulticastGroup implements Device.
func (d *EngineDevice) ModifyMulticastGroup(group uint32, rs []Replica) error {
	return engineErr(d.sw.ModifyMulticastGroup(softswitch.MulticastGroup{ID: group, Replicas: engineReplicas(rs)}))
}

// DeleteMulticastGroup implements Device.
func (d *EngineDevice) DeleteMulticastGroup(group uint32) error {
	return engineErr(d.sw.DeleteMulticastGroup(group))
}

func engineClone(id uint32, s CloneSession) softswitch.CloneSession {
	return softswitch.CloneSession{ID: id, Replicas: engineReplicas(s.Replicas), ClassOfService: s.ClassOfService, PacketLength: int(s.PacketLength)}
}

// InsertCloneSession implements Device.
func (d *EngineDevice) InsertCloneSession(id uint32, s CloneSession) error {
	return engineErr(d.sw.InsertCloneSession(engineClone(id, s)))
}

// ModifyCloneSession implements Device.
func (d *EngineDevice) ModifyCloneSession(id uint32, s CloneSession) error {
	return engineErr(d.sw.ModifyCloneSession(engineClone(id, s)))
}

// DeleteCloneSession implements Device.
func (d *EngineDevice) DeleteCloneSession(id uint32) error {
	return engineErr(d.sw.DeleteCloneSession(id))
}

// Counter implements Device.
func (d *EngineDevice) Counter(name string, index int) (Counts, error) {
	c, err := d.sw.ReadCounter(name, index)
	if err != nil {
		return Counts{}, engineErr(err)
	}
	return Counts{Bytes: int64(c.Bytes), Packets: int64(c.Packets)}, nil
}

// SetCounter implements Device.
func (d *EngineDevice) SetCounter(name string, index int, c Counts) error {
	return engineErr(d.sw.WriteCounter(name, index, softswitch.CounterData{Bytes: uint64(c.Bytes), Packets: uint64(c.Packets)}))
}

// PacketOut implements Device.
func (d *EngineDevice) PacketOut(frame []byte) error {
	return engineErr(d.sw.PacketOut(frame))
}

// Serve forwards the switch's packet-ins and digests to sink until ctx is
// done or the switch is closed.
func (d *EngineDevice) Serve(ctx context.Context, sink EventSink) error {
	pins, digests := d.sw.PacketIns(), d.sw.Digests()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case p, ok := <-pins:
			if !ok {
				return nil
			}
			sink.ToCPU(p.Frame)
		case dg, ok := <-digests:
			if !ok {
				return nil
			}
			sink.Digest(dg.Name, dg.Fields)
		}
	}
}
