package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p4evpn/p4evpn/evpn/route"
)

// testLogWriter forwards log lines to t.Log until the test ends; GoBGP may
// still log from its goroutines after that.
type testLogWriter struct {
	t *testing.T
	// mu guards done.
	mu   sync.Mutex
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// freePort returns a TCP port that was free on addr a moment ago.
func freePort(t testing.TB, addr netip.Addr) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Fatalf("find a free port on %s: %v", addr, err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// fastTimers are the shortest RFC 4271 allows, so tests converge quickly.
func fastNeighbor(addr, local netip.Addr, port uint16, asn uint32) Neighbor {
	return Neighbor{
		Address: addr, Port: port, ASN: asn, LocalAddress: local,
		HoldTime: 9 * time.Second, KeepaliveInterval: 3 * time.Second, ConnectRetry: time.Second,
	}
}

// rrClient is a route reflector's neighbor entry for client a: passive, so
// the client (or a raw test peer) always opens the session.
func rrClient(a, rr netip.Addr) Neighbor {
	n := fastNeighbor(a, rr, 0, testASN)
	n.RouteReflectorClient, n.Passive = true, true
	return n
}

func startSpeaker(t testing.TB, log *slog.Logger, cfg Config) *Speaker {
	t.Helper()
	s, err := New(cfg, WithLogger(log))
	if err != nil {
		t.Fatalf("start speaker %s: %v", cfg.RouterID, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitEvent reads events until one satisfies match, failing the test if the
// deadline passes first. Every event read is returned, matching one last.
func waitEvent(t testing.TB, s *Speaker, what string, match func(Event) bool) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var seen []Event
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("%s: events closed while waiting", what)
			}
			seen = append(seen, ev)
			if match(ev) {
				return seen
			}
		case <-ctx.Done():
			t.Fatalf("%s: no matching event; saw %d: %v", what, len(seen), summarize(seen))
		}
	}
}

func summarize(evs []Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n  %s peer=%s %v %s", ev.Kind, ev.Peer, ev.Path.NLRI, ev.Reason)
	}
	return b.String()
}

// waitPeerUp waits for PeerUp from peer.
func waitPeerUp(t testing.TB, s *Speaker, peer netip.Addr) {
	t.Helper()
	waitEvent(t, s, fmt.Sprintf("%s: session to %s up", s.cfg.RouterID, peer), func(ev Event) bool {
		return ev.Kind == PeerUp && ev.Peer == peer
	})
}

// collectPaths reads events until want route keys have a PathAdd (or, with
// kind PathWithdraw, a withdrawal), returning the last event per key.
func collectPaths(t testing.TB, s *Speaker, kind EventKind, keys []route.NLRI) map[route.NLRI]Event {
	t.Helper()
	want := make(map[route.NLRI]bool, len(keys))
	for _, k := range keys {
		want[route.Key(k)] = true
	}
	got := make(map[route.NLRI]Event)
	waitEvent(t, s, fmt.Sprintf("%s: %d %s events", s.cfg.RouterID, len(keys), kind), func(ev Event) bool {
		if ev.Kind == kind && want[route.Key(ev.Path.NLRI)] {
			got[route.Key(ev.Path.NLRI)] = ev
		}
		return len(got) == len(want)
	})
	return got
}

// poll retries cond until it holds or 30 s pass.
func poll(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: condition not reached (last error %v)", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
