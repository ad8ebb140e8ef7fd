// Package memswitch is an in-memory asic.Switch for unit tests of evpn/ and
// of anything else that drives the switch: it enforces the interface's
// contract (references must exist, referenced entities cannot be deleted,
// updates are idempotent) and records every update, so a test can assert
// both the resulting state and the operations that produced it.
package memswitch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/p4evpn/p4evpn/asic"
)

// Switch is the in-memory asic.Switch. The zero value is not usable; call New.
type Switch struct {
	// mu guards every field from entities to closed; events locks itself.
	mu       sync.Mutex
	entities map[asic.Key]asic.Entity
	refCount map[asic.Key]int
	log      []asic.Update
	batches  int
	updates  int
	counters asic.Counters
	closed   bool

	events asic.EventFanout
}

// New returns an empty switch.
func New() *Switch {
	return &Switch{
		entities: make(map[asic.Key]asic.Entity),
		refCount: make(map[asic.Key]int),
	}
}

var errClosed = errors.New("memswitch: closed")

// Write implements asic.Switch.
func (s *Switch) Write(ctx context.Context, updates []asic.Update) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	s.batches++
	var errs []error
	for i, u := range updates {
		s.updates++
		s.log = append(s.log, u)
		if err := s.apply(u); err != nil {
			if errs == nil {
				errs = make([]error, len(updates))
			}
			errs[i] = err
		}
	}
	if errs != nil {
		return &asic.WriteError{Errors: errs}
	}
	return nil
}

func (s *Switch) apply(u asic.Update) error {
	k := u.Entity.Key()
	switch u.Op {
	case asic.OpSet:
		for _, r := range asic.References(u.Entity) {
			if _, ok := s.entities[r]; !ok {
				return fmt.Errorf("set %s: %s: %w", k, r, asic.ErrMissingReference)
			}
		}
		if old, ok := s.entities[k]; ok {
			s.unref(old)
		}
		for _, r := range asic.References(u.Entity) {
			s.refCount[r]++
		}
		s.entities[k] = u.Entity
		return nil
	case asic.OpDelete:
		old, ok := s.entities[k]
		if !ok {
			return nil
		}
		if n := s.refCount[k]; n > 0 {
			return fmt.Errorf("delete %s: %d referers: %w", k, n, asic.ErrStillReferenced)
		}
		s.unref(old)
		delete(s.entities, k)
		return nil
	}
	return fmt.Errorf("update %s: unknown op %v", k, u.Op)
}

func (s *Switch) unref(e asic.Entity) {
	for _, r := range asic.References(e) {
		if s.refCount[r]--; s.refCount[r] <= 0 {
			delete(s.refCount, r)
		}
	}
}

// Read implements asic.Switch.
func (s *Switch) Read(ctx context.Context) ([]asic.Entity, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	out := make([]asic.Entity, 0, len(s.entities))
	for _, e := range s.entities {
		out = append(out, e)
	}
	return out, nil
}

// Events implements asic.Switch. The channel holds 64 events; Inject drops
// and counts beyond that.
func (s *Switch) Events(ctx context.Context) (<-chan asic.Event, error) {
	ch, ok := s.events.Subscribe(ctx, 64)
	if !ok {
		return nil, errClosed
	}
	return ch, nil
}

// Inject delivers a data-plane event to every subscriber, as a digest
// would; it never blocks.
func (s *Switch) Inject(ev asic.Event) { s.events.Publish(ev) }

// Counters implements asic.Switch; it returns what SetCounters stored.
func (s *Switch) Counters(ctx context.Context) (asic.Counters, error) {
	if err := ctx.Err(); err != nil {
		return asic.Counters{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters, nil
}

// SetCounters sets what Counters returns.
func (s *Switch) SetCounters(c asic.Counters) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters = c
}

// Close implements asic.Switch; it closes every event subscription.
func (s *Switch) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.events.Close()
	return nil
}

// Get returns the entity stored under k.
func (s *Switch) Get(k asic.Key) (asic.Entity, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entities[k]
	return e, ok
}

// Entities returns the stored entities of one kind, sorted by key.
func (s *Switch) Entities(kind asic.Kind) []asic.Entity {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []asic.Entity
	for k, e := range s.entities {
		if k.Kind == kind {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b asic.Entity) int { return compareKeys(a.Key(), b.Key()) })
	return out
}

func compareKeys(a, b asic.Key) int {
	if a.Kind != b.Kind {
		return int(a.Kind) - int(b.Kind)
	}
	if a.A != b.A {
		if a.A < b.A {
			return -1
		}
		return 1
	}
	if a.B != b.B {
		if a.B < b.B {
			return -1
		}
		return 1
	}
	return slices.Compare(a.MAC[:], b.MAC[:])
}

// Len returns the number of stored entities.
func (s *Switch) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entities)
}

// TakeLog returns the updates written since the last call, and clears the log.
func (s *Switch) TakeLog() []asic.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	log := s.log
	s.log = nil
	return log
}

// Stats returns the number of Write calls and of updates they carried.
func (s *Switch) Stats() (batches, updates int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches, s.updates
}

// DroppedEvents returns how many injected events found a subscriber's
// channel full.
func (s *Switch) DroppedEvents() int { return int(s.events.Dropped()) }

var _ asic.Switch = (*Switch)(nil)
