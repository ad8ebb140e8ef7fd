package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// peerDownMessage is what GoBGP v3.37.0 logs (fsm.go) when a session leaves
// Established, with the neighbor address in "Key" and the cause in "Reason".
// Its watch API reports the state change without the cause, and only after
// the server has withdrawn the neighbor's paths; this record is written on
// the session goroutine before the server hears of the change.
const peerDownMessage = "Peer Down"

// sessionFreedMessage is what GoBGP v3.37.0 logs (server.go, Serve) once a
// deleted neighbor's session goroutines have all returned, with the neighbor
// address in "Key".
const sessionFreedMessage = "freed fsm.h"

// slogAdapter makes a *slog.Logger satisfy GoBGP's logger interface,
// remembers the last session-down reason per neighbor, and notes neighbors
// whose session went down or whose session goroutines GoBGP has freed.
type slogAdapter struct {
	log *slog.Logger
	// onPeerDown is called for every peerDownMessage; when it returns
	// false the reason is kept for takeDownReason. It must not block.
	onPeerDown func(neighbor, reason string) bool

	// mu guards level, downReason, down, freed and changed.
	mu         sync.Mutex
	level      gobgplog.LogLevel
	downReason map[string]string
	down       map[string]bool
	freed      map[string]bool
	// changed is closed and replaced whenever a session goes down or is
	// freed.
	changed chan struct{}
}

func newSlogAdapter(l *slog.Logger, onPeerDown func(neighbor, reason string) bool) *slogAdapter {
	a := &slogAdapter{log: l, onPeerDown: onPeerDown, downReason: make(map[string]string),
		down: make(map[string]bool), freed: make(map[string]bool), changed: make(chan struct{})}
	// GoBGP asks GetLevel before building expensive debug records.
	a.level = gobgplog.InfoLevel
	if l.Enabled(context.Background(), slog.LevelDebug) {
		a.level = gobgplog.DebugLevel
	}
	return a
}

// takeDownReason returns and forgets the last recorded down reason for a
// neighbor address.
func (a *slogAdapter) takeDownReason(neighbor string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.downReason[neighbor]
	delete(a.downReason, neighbor)
	return r
}

func (a *slogAdapter) attrs(fields gobgplog.Fields) []any {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, 0, 2*len(keys)+2)
	out = append(out, slog.String("component", "gobgp"))
	for _, k := range keys {
		v := fields[k]
		if s, ok := v.(fmt.Stringer); ok {
			v = s.String()
		}
		out = append(out, slog.Any(k, v))
	}
	return out
}

func (a *slogAdapter) emit(level slog.Level, msg string, fields gobgplog.Fields) {
	if !a.log.Enabled(context.Background(), level) {
		return
	}
	a.log.Log(context.Background(), level, msg, a.attrs(fields)...)
}

// Panic logs and panics: GoBGP calls it only on internal logic errors.
func (a *slogAdapter) Panic(msg string, fields gobgplog.Fields) {
	a.emit(slog.LevelError, msg, fields)
	panic("gobgp: " + msg)
}

// Fatal logs and panics rather than exiting the process, so a deferred
// cleanup still runs; GoBGP calls it only on internal logic errors.
func (a *slogAdapter) Fatal(msg string, fields gobgplog.Fields) {
	a.emit(slog.LevelError, msg, fields)
	panic("gobgp: " + msg)
}

// Error logs at error level.
func (a *slogAdapter) Error(msg string, fields gobgplog.Fields) {
	a.emit(slog.LevelError, msg, fields)
}

// Warn logs at warning level.
func (a *slogAdapter) Warn(msg string, fields gobgplog.Fields) {
	a.emit(slog.LevelWarn, msg, fields)
}

// Info logs at info level and records session-down reasons.
func (a *slogAdapter) Info(msg string, fields gobgplog.Fields) {
	if msg == peerDownMessage {
		key, _ := fields["Key"].(string)
		reason, _ := fields["Reason"].(string)
		if key != "" {
			kept := a.onPeerDown(key, reason)
			a.mu.Lock()
			if !kept {
				a.downReason[key] = reason
			}
			a.down[key] = true
			a.signalLocked()
			a.mu.Unlock()
		}
	}
	a.emit(slog.LevelInfo, msg, fields)
}

// Debug logs at debug level and notes freed sessions.
func (a *slogAdapter) Debug(msg string, fields gobgplog.Fields) {
	if msg == sessionFreedMessage {
		if key, _ := fields["Key"].(string); key != "" {
			a.mu.Lock()
			a.freed[key] = true
			a.signalLocked()
			a.mu.Unlock()
		}
	}
	a.emit(slog.LevelDebug, msg, fields)
}

// signalLocked wakes the waiters of sessionSignal; mu is held.
func (a *slogAdapter) signalLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// expectDown forgets that the neighbor's session went down, before it is
// made to go down (again).
func (a *slogAdapter) expectDown(neighbor string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.down, neighbor)
}

// sessionDown reports whether the neighbor's session has left Established
// since expectDown.
func (a *slogAdapter) sessionDown(neighbor string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.down[neighbor]
}

// expectFree forgets that the neighbor's session was freed, before the
// neighbor is deleted (again).
func (a *slogAdapter) expectFree(neighbor string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.freed, neighbor)
}

// sessionFreed reports whether GoBGP has freed the neighbor's session
// goroutines since it was last deleted.
func (a *slogAdapter) sessionFreed(neighbor string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.freed[neighbor]
}

// sessionSignal returns a channel closed at the next session that goes
// down or is freed.
func (a *slogAdapter) sessionSignal() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.changed
}

// SetLevel is called by GoBGP's SetLogLevel API; the slog handler still
// filters by its own level.
func (a *slogAdapter) SetLevel(level gobgplog.LogLevel) {
	a.mu.Lock()
	a.level = level
	a.mu.Unlock()
}

// GetLevel reports the level GoBGP should assume.
func (a *slogAdapter) GetLevel() gobgplog.LogLevel {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.level
}
