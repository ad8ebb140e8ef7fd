package p4rtserver

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// fakeDevice is a Device for the protocol-layer tests: it keeps what the
// server programs and lets a test raise packets to the CPU and digests. Its
// device config is a JSON ProgramSchema (testdata/proto.schema.json). The
// softswitch engine and BMv2 are tested through the same suite elsewhere.
type fakeDevice struct {
	mu       sync.Mutex // mu guards the fields below
	running  *fakeProgram
	entries  map[string]map[string]*Entry
	defaults map[string]*ActionCall
	direct   map[string]Counts
	cells    map[string]Counts
	mcast    map[uint32][]Replica
	clones   map[uint32]CloneSession
	outs     [][]byte

	events chan func(EventSink)
}

type fakeProgram struct{ schema *ProgramSchema }

func (p *fakeProgram) Schema() *ProgramSchema { return p.schema }

func newFakeDevice() *fakeDevice {
	d := &fakeDevice{events: make(chan func(EventSink), 64)}
	d.reset()
	return d
}

func (d *fakeDevice) reset() {
	d.entries = map[string]map[string]*Entry{}
	d.defaults = map[string]*ActionCall{}
	d.direct = map[string]Counts{}
	d.cells = map[string]Counts{}
	d.mcast = map[uint32][]Replica{}
	d.clones = map[uint32]CloneSession{}
}

func (d *fakeDevice) Load(cfg []byte) (Program, error) {
	var s ProgramSchema
	if err := json.Unmarshal(cfg, &s); err != nil {
		return nil, fmt.Errorf("parsing program: %w", err)
	}
	if len(s.Tables) == 0 {
		return nil, fmt.Errorf("program has no tables: %w", ErrInvalid)
	}
	return &fakeProgram{&s}, nil
}

func (d *fakeDevice) Run(p Program) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running = p.(*fakeProgram)
	d.reset()
	return nil
}

func fakeKey(e *Entry) string { return fmt.Sprintf("%x/%d", e.Key, e.Priority) }

func (d *fakeDevice) InsertEntry(t string, e *Entry) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.entries[t] == nil {
		d.entries[t] = map[string]*Entry{}
	}
	if d.entries[t][fakeKey(e)] != nil {
		return fmt.Errorf("table %s: %w", t, ErrExists)
	}
	d.entries[t][fakeKey(e)] = e
	if e.SetCounter {
		d.direct[t+fakeKey(e)] = e.Counter
	}
	return nil
}

func (d *fakeDevice) ModifyEntry(t string, e *Entry) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.entries[t][fakeKey(e)] == nil {
		return fmt.Errorf("table %s: %w", t, ErrNotFound)
	}
	d.entries[t][fakeKey(e)] = e
	if e.SetCounter {
		d.direct[t+fakeKey(e)] = e.Counter
	}
	return nil
}

func (d *fakeDevice) DeleteEntry(t string, e *Entry) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.entries[t][fakeKey(e)] == nil {
		return fmt.Errorf("table %s: %w", t, ErrNotFound)
	}
	delete(d.entries[t], fakeKey(e))
	delete(d.direct, t+fakeKey(e))
	return nil
}

func (d *fakeDevice) EntryCounter(t string, e *Entry) (Counts, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.direct[t+fakeKey(e)], nil
}

func (d *fakeDevice) Entries(t string) ([]Entry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Entry
	for _, e := range d.entries[t] {
		out = append(out, *e)
	}
	return out, nil
}

// LastHit makes the fake a HitTracker whose entries are never hit.
func (d *fakeDevice) LastHit(string, *Entry) (time.Time, error) { return time.Time{}, nil }

func (d *fakeDevice) SetDefaultAction(t string, a *ActionCall) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.defaults[t] = a
	return nil
}

func (d *fakeDevice) InsertMember(string, uint32, *ActionCall) error { return nil }
func (d *fakeDevice) ModifyMember(string, uint32, *ActionCall) error { return nil }
func (d *fakeDevice) DeleteMember(string, uint32) error              { return nil }
func (d *fakeDevice) InsertGroup(string, uint32, []uint32) error     { return nil }
func (d *fakeDevice) ModifyGroup(string, uint32, []uint32) error     { return nil }
func (d *fakeDevice) DeleteGroup(string, uint32) error               { return nil }

func (d *fakeDevice) InsertMulticastGroup(g uint32, r []Replica) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mcast[g] = r
	return nil
}
func (d *fakeDevice) ModifyMulticastGroup(g uint32, r []Replica) error {
	return d.InsertMulticastGroup(g, r)
}
func (d *fakeDevice) DeleteMulticastGroup(g uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.mcast, g)
	return nil
}
func (d *fakeDevice) InsertCloneSession(id uint32, s CloneSession) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clones[id] = s
	return nil
}
func (d *fakeDevice) ModifyCloneSession(id uint32, s CloneSession) error {
	return d.InsertCloneSession(id, s)
}
func (d *fakeDevice) DeleteCloneSession(id uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.clones, id)
	return nil
}

func (d *fakeDevice) Counter(name string, i int) (Counts, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cells[fmt.Sprint(name, i)], nil
}

func (d *fakeDevice) SetCounter(name string, i int, c Counts) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cells[fmt.Sprint(name, i)] = c
	return nil
}

func (d *fakeDevice) PacketOut(frame []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.outs = append(d.outs, append([]byte(nil), frame...))
	// Loop the packet back to the CPU, as a program that reflects
	// packet-outs would: the test sees it as a packet-in.
	d.events <- func(s EventSink) { s.ToCPU(frame) }
	return nil
}

func (d *fakeDevice) Serve(ctx context.Context, sink EventSink) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-d.events:
			ev(sink)
		}
	}
}

// raise runs ev on the device's event loop.
func (d *fakeDevice) raise(ev func(EventSink)) { d.events <- ev }

func (d *fakeDevice) packetOuts() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.outs...)
}
