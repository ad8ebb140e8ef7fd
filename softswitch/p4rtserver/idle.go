package p4rtserver

import (
	"context"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
)

// HitTracker is implemented by a Device that records when packets hit table
// entries. With it the server supports idle timeouts (spec §9.1.8, §16.4):
// IdleTimeoutNotification for entries idle for their idle_timeout_ns, and
// time_since_last_hit in reads. Without it, idle_timeout_ns is stored and
// read back but never fires, and time_since_last_hit reads are UNIMPLEMENTED.
type HitTracker interface {
	// LastHit is when a packet last matched the entry with e's key, zero if
	// never.
	LastHit(table string, e *Entry) (time.Time, error)
}

// idleFor is how long the entry has been idle at now, asking the device for
// its last hit only when the entry could have been idle for ttl: its idle
// time starts at the latest of its last write, its last idle notification
// and its last hit, so until ttl after idleFrom no hit can make it idle. A
// hit found moves idleFrom forward, so an entry that keeps being hit costs
// one device query per TTL, not one per scan (a table of 100k ageing MACs
// scanned every 100ms).
func (s *storedEntry) idleFor(ht HitTracker, table string, ttl int64, now time.Time) (time.Duration, error) {
	from := s.idleFrom.Load()
	if now.UnixNano()-from < ttl {
		return time.Duration(now.UnixNano() - from), nil
	}
	hit, err := ht.LastHit(table, s.dev)
	if err != nil {
		return 0, err
	}
	if !hit.IsZero() && hit.UnixNano() > from {
		from = hit.UnixNano()
		s.idleFrom.Store(from)
	}
	return time.Duration(now.UnixNano() - from), nil
}

// scanIdle reports, to every primary, the entries of the running pipeline
// that have been idle for at least their TTL, one notification per table,
// and restarts their idle time (spec §16.4).
func (s *Server) scanIdle(now time.Time) {
	ht, ok := s.dev.(HitTracker)
	if !ok {
		return
	}
	var notes []*p4v1.IdleTimeoutNotification
	s.mu.RLock()
	if p := s.running; p != nil {
		for _, id := range sortedKeys(p.tables) {
			ts := p.tables[id]
			if !ts.info.idleTimeout {
				continue
			}
			var note *p4v1.IdleTimeoutNotification
			for _, e := range ts.entries {
				ttl := e.pb.GetIdleTimeoutNs()
				if ttl <= 0 {
					continue
				}
				idle, err := e.idleFor(ht, ts.info.name, ttl, now)
				if err != nil {
					s.log.Debug("p4rtserver: idle scan: last hit unknown", "table", ts.info.name, "err", err)
					continue
				}
				if idle < time.Duration(ttl) {
					continue
				}
				e.idleFrom.Store(now.UnixNano())
				if note == nil {
					note = &p4v1.IdleTimeoutNotification{Timestamp: now.UnixNano()}
				}
				te := &p4v1.TableEntry{TableId: e.pb.GetTableId(), Match: e.pb.GetMatch(), Priority: e.pb.GetPriority(),
					Metadata: e.pb.GetMetadata(), IdleTimeoutNs: ttl}
				setControllerMetadata(te, controllerMetadata(e.pb))
				note.TableEntry = append(note.TableEntry, te)
			}
			if note != nil {
				notes = append(notes, note)
			}
		}
	}
	s.mu.RUnlock()
	for _, n := range notes {
		m := &p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_IdleTimeoutNotification{IdleTimeoutNotification: n}}
		for _, o := range s.arb.primaries() {
			o.offer(m)
		}
	}
}

// runIdle scans for idle entries every interval until ctx is done.
func (s *Server) runIdle(ctx context.Context, interval time.Duration) {
	if _, ok := s.dev.(HitTracker); !ok {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.scanIdle(now)
		}
	}
}

// sinceLastHit is the time_since_last_hit of a read entry.
func (p *pipeline) sinceLastHit(ti *tableInfo, e *storedEntry, now time.Time) (*p4v1.TableEntry_IdleTimeout, error) {
	if !ti.idleTimeout {
		return nil, errorf(codes.InvalidArgument, "read: table %q does not support idle timeout (time_since_last_hit)", ti.name)
	}
	ht, ok := p.dev.(HitTracker)
	if !ok {
		return nil, errorf(codes.Unimplemented, "read: time_since_last_hit: this device does not track hits")
	}
	hit, err := ht.LastHit(ti.name, e.dev)
	if err != nil {
		return nil, deviceError(err)
	}
	// The time since the entry was last hit or written (not since it was
	// last reported idle).
	since := time.Unix(0, e.written)
	if hit.After(since) {
		since = hit
	}
	return &p4v1.TableEntry_IdleTimeout{ElapsedNs: now.Sub(since).Nanoseconds()}, nil
}
