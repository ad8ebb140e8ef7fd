package p4rtserver

import (
	"context"
	"net"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/protobuf/proto"

	"github.com/p4evpn/p4evpn/softswitch"
)

// Idle timeouts on the softswitch engine, end to end over gRPC (spec
// §9.1.8, §16.4): testdata/proto.p4's ingress.route has support_timeout, the
// engine records hits, the server scans them. An entry no frame hits is
// reported once idle for its TTL; an entry frames keep hitting is not, until
// they stop; time_since_last_hit reads what the engine recorded.

// idleEngine serves a softswitch running testdata/proto.p4, scanning for idle
// entries every scan, with ports 1-3 attached.
func idleEngine(t *testing.T, scan time.Duration) (*target, *session, map[uint32]*softswitch.MemPort) {
	t.Helper()
	sw := softswitch.New(softswitch.Config{CPUPort: 255, Logger: quietLogger()})
	t.Cleanup(func() { sw.Close() })
	ports := map[uint32]*softswitch.MemPort{}
	for _, p := range []uint32{1, 2, 3} {
		a, b := softswitch.NewLink(64)
		if err := sw.AddPort(p, a, ""); err != nil {
			t.Fatal(err)
		}
		ports[p] = b
	}
	srv := New(NewEngineDevice(sw), WithDeviceID(testDevice), WithLogger(quietLogger()), WithIdleScan(scan))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		srv.Close()
	})
	tg := compiledTarget(t, "engine", lis.Addr().String())
	return tg, ready(t, tg), ports
}

// ipv4Frame is an Ethernet frame carrying an IPv4 header to dst.
func ipv4Frame(dst [4]byte) []byte {
	f := []byte{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,
		0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1}
	f = append(f, dst[:]...)
	return append(f, make([]byte, 26)...)
}

func TestEngineIdleTimeout(t *testing.T) {
	tg, s, ports := idleEngine(t, 5*time.Millisecond)
	const (
		ttlIdle = 30 * time.Millisecond  // never hit: reported soon
		ttlBusy = 300 * time.Millisecond // hit every few ms until we stop
	)
	idle := &p4v1.TableEntry{TableId: tg.tRoute, Match: []*p4v1.FieldMatch{lpm(1, []byte{10, 9, 0, 0}, 16)},
		Action: action(tg.aSetPort, []byte{2}), IdleTimeoutNs: int64(ttlIdle)}
	busy := &p4v1.TableEntry{TableId: tg.tRoute, Match: []*p4v1.FieldMatch{lpm(1, []byte{10, 8, 0, 0}, 16)},
		Action: action(tg.aSetPort, []byte{2}), IdleTimeoutNs: int64(ttlBusy), Metadata: []byte("busy")}
	inserted := time.Now()
	tg.mustWrite(t, update(p4v1.Update_INSERT, tableEntity(idle)), update(p4v1.Update_INSERT, tableEntity(busy)))

	// The busy entry's frames, each confirmed out of port 2 before the next.
	hitBusy := func() time.Time {
		t.Helper()
		sent := time.Now()
		if err := ports[1].Write(ipv4Frame([4]byte{10, 8, 1, 1})); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := ports[2].Recv(ctx); err != nil {
			t.Fatalf("frame to 10.8.1.1 not forwarded: %v", err)
		}
		return sent
	}
	// reportedAs is e as a notification m reports it, nil if m does not.
	reportedAs := func(m *p4v1.StreamMessageResponse, e *p4v1.TableEntry) *p4v1.TableEntry {
		for _, got := range m.GetIdleTimeoutNotification().GetTableEntry() {
			if len(got.GetMatch()) == 1 && proto.Equal(got.GetMatch()[0], e.GetMatch()[0]) {
				return got
			}
		}
		return nil
	}
	reported := func(m *p4v1.StreamMessageResponse, e *p4v1.TableEntry) bool { return reportedAs(m, e) != nil }

	// Keep hitting the busy entry for three of its TTLs; meanwhile the idle
	// one is reported and the busy one is not. The assertion on the busy
	// entry holds only if no gap between its hits reached its TTL (a
	// stalled test machine); the test measures that instead of assuming it.
	var idleNote *p4v1.TableEntry
	busyReported := false
	lastSent, maxGap := hitBusy(), time.Duration(0)
	for idleNote == nil || time.Since(inserted) < 3*ttlBusy {
		sent := hitBusy()
		maxGap = max(maxGap, sent.Sub(lastSent))
		lastSent = sent
		for drained := false; !drained; {
			select {
			case m := <-s.msgs:
				if idleNote == nil {
					idleNote = reportedAs(m, idle)
				}
				busyReported = busyReported || reported(m, busy)
			default:
				drained = true
			}
		}
		time.Sleep(2 * time.Millisecond)
		if time.Since(inserted) > 10*time.Second {
			t.Fatal("no idle notification for the entry no frame hits within 10s")
		}
	}
	if want := (&p4v1.TableEntry{TableId: idle.TableId, Match: idle.Match, IdleTimeoutNs: idle.IdleTimeoutNs}); !proto.Equal(idleNote, want) {
		t.Errorf("idle notification reports %v, want %v", idleNote, want)
	}
	switch {
	case maxGap >= ttlBusy:
		t.Logf("the machine stalled %v between hits (TTL %v): not asserting the busy entry stayed quiet", maxGap, ttlBusy)
	case busyReported:
		t.Errorf("the entry hit every few ms (largest gap %v) was reported idle before its TTL %v", maxGap, ttlBusy)
	}

	// time_since_last_hit: the never-hit entry has been idle at least its
	// TTL (it was reported); the busy one no longer than since its last
	// frame (within the engine's 1ms hit granularity).
	readElapsed := func(e *p4v1.TableEntry) time.Duration {
		t.Helper()
		q := &p4v1.TableEntry{TableId: e.TableId, Match: e.Match, TimeSinceLastHit: &p4v1.TableEntry_IdleTimeout{}}
		got, err := tg.read(t, tableEntity(q))
		if err != nil || len(got) != 1 {
			t.Fatalf("read %v with time_since_last_hit: %v, %v", e.Match, got, err)
		}
		h := got[0].GetTableEntry().GetTimeSinceLastHit()
		if h == nil {
			t.Fatalf("read %v: no time_since_last_hit", e.Match)
		}
		return time.Duration(h.GetElapsedNs())
	}
	if got := readElapsed(idle); got < ttlIdle {
		t.Errorf("time_since_last_hit of the entry never hit = %v, want ≥ its TTL %v", got, ttlIdle)
	}
	got := readElapsed(busy)
	if bound := time.Since(lastSent) + time.Millisecond; got < 0 || got > bound {
		t.Errorf("time_since_last_hit of the busy entry = %v, want within [0, %v] (since its last frame)", got, bound)
	}

	// Frames stop: the busy entry is reported, with its metadata.
	for {
		if got := reportedAs(s.next(), busy); got != nil {
			want := &p4v1.TableEntry{TableId: busy.TableId, Match: busy.Match, IdleTimeoutNs: busy.IdleTimeoutNs, Metadata: busy.Metadata}
			if !proto.Equal(got, want) {
				t.Errorf("notification reports %v, want %v", got, want)
			}
			break
		}
	}
}
