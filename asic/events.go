package asic

import (
	"context"
	"sync"
)

// EventFanout delivers data-plane events to the channels Switch.Events
// hands out. Every implementation shares it, so the contract holds the same
// everywhere: Publish never blocks (an event for a full channel is dropped
// and counted), a channel closes when its context ends or the fan-out
// closes. The zero value is ready to use.
type EventFanout struct {
	// OnDrop, when set before first use, is called for every dropped event
	// (for a metric).
	OnDrop func()

	// mu guards subs, dropped and closed.
	mu      sync.Mutex
	subs    map[*eventSub]struct{}
	dropped uint64
	closed  bool
}

type eventSub struct {
	ch   chan Event
	stop func() bool
}

// Subscribe returns a channel of buffer events that closes when ctx ends or
// Close is called. It reports false after Close.
func (f *EventFanout) Subscribe(ctx context.Context, buffer int) (<-chan Event, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, false
	}
	if f.subs == nil {
		f.subs = make(map[*eventSub]struct{})
	}
	sub := &eventSub{ch: make(chan Event, buffer)}
	f.subs[sub] = struct{}{}
	sub.stop = context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.remove(sub)
	})
	return sub.ch, true
}

func (f *EventFanout) remove(sub *eventSub) {
	if _, ok := f.subs[sub]; ok {
		delete(f.subs, sub)
		close(sub.ch)
	}
}

// Publish hands ev to every subscriber without ever blocking.
func (f *EventFanout) Publish(ev Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for sub := range f.subs {
		select {
		case sub.ch <- ev:
		default:
			f.dropped++
			if f.OnDrop != nil {
				f.OnDrop()
			}
		}
	}
}

// Dropped returns how many events found a subscriber's channel full.
func (f *EventFanout) Dropped() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

// Close closes every subscription; later Subscribes report false. It is
// idempotent.
func (f *EventFanout) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for sub := range f.subs {
		sub.stop()
		f.remove(sub)
	}
}
