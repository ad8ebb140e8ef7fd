package softswitch

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Hit tracking for idle timeouts. Entries of a table the program compiled
// with support_timeout (P4 `support_timeout = true`) remember when a packet
// last matched them, so a P4Runtime server can age them (idle_timeout_ns,
// IdleTimeoutNotification, time_since_last_hit). Tables without it pay
// nothing: their entries carry no clock and the packet path skips the check.
//
// The packet path stays lock-free and allocation-free: a hit reads the
// monotonic clock and stores it in the entry with one atomic store, and only
// when the stored time is older than hitGranularity, so an entry that many
// cores hit at line rate is written about once per granularity, not once
// per packet (no cache-line ping-pong between cores).

// hitGranularity is the resolution of last-hit times: a hit within this long
// of the recorded one is not recorded. Idle timeouts are meant for seconds
// to minutes (MAC ageing); 1ms is far below any useful TTL.
const hitGranularity = int64(time.Millisecond)

// hitClock is the last-hit time of one entry, in nanoseconds of the
// program's monotonic clock (since Program.epoch), 0 if never hit. A MODIFY
// publishes a new entry value sharing the same hitClock, so rewriting an
// entry's action keeps its hit history, as BMv2 does.
type hitClock struct {
	last atomic.Int64
}

// touch records a hit at now (program clock nanoseconds, > 0).
func (c *hitClock) touch(now int64) {
	if now-c.last.Load() >= hitGranularity {
		c.last.Store(now)
	}
}

// sinceEpoch is the program clock: nanoseconds since epoch, at least 1 so
// that 0 keeps meaning "never".
func sinceEpoch(epoch time.Time) int64 {
	return max(int64(time.Since(epoch)), 1)
}

// lastHit converts an entry's hit clock to a time (zero if never hit). The
// result carries a monotonic reading, so time.Since of it is exact.
func (t *table) lastHit(e *entry) time.Time {
	if e.hits == nil {
		return time.Time{}
	}
	ns := e.hits.last.Load()
	if ns == 0 {
		return time.Time{}
	}
	return t.epoch.Add(time.Duration(ns))
}

// LastHit reports when a packet last matched the entry with the given match
// and priority (zero time if none has since it was inserted), within
// hitGranularity. Only tables with TableInfo.SupportTimeout track hits; for
// others it fails with ErrInvalid naming the table.
func (s *Switch) LastHit(tableName string, match []FieldMatch, priority int32) (time.Time, error) {
	var out time.Time
	err := s.withTable(tableName, func(t *table) error {
		if !t.supportTimeout {
			return fmt.Errorf("table %q does not support idle timeouts (no support_timeout): hits are not tracked: %w", t.name, ErrInvalid)
		}
		e, err := t.lookupOwn(match, priority)
		if err != nil {
			return err
		}
		out = t.lastHit(e)
		return nil
	})
	return out, err
}
