package p4evpn_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	p4evpn "github.com/p4evpn/p4evpn"
)

// pollUntil is waitFor with a finer poll, for the benchmarks that time
// what they wait for (the poll period bounds their resolution).
func pollUntil(tb testing.TB, what string, cond func() bool) time.Time {
	tb.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Now()
}

func reconciled(d *p4evpn.Daemon) func() bool {
	return func() bool { done, _, _ := d.Reconciled(); return done }
}

// BenchmarkControllerRestart restarts PE2's daemon on its live target, as
// SIGTERM and a new evpnd do, and reports how long each phase takes:
// close-ms (Daemon.Close: the Administrative Reset to the RR and the
// speaker's teardown), up-ms (the new Daemon's Start to its session with
// the RR Established) and reconciled-ms (Start to the restart
// reconciliation, which waits for restart-settle, 500 ms here, after the
// last BGP event).
func BenchmarkControllerRestart(b *testing.B) {
	f := startFabric(b)
	pe2 := f.pe[2]
	var closing, up, reconciling time.Duration
	for range b.N {
		t0 := time.Now()
		if err := pe2.Close(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		pe2 = start(b, peConfig(b, 2, ""), p4evpn.WithEmbeddedTarget(f.targets[2]), p4evpn.WithRegistry(prometheus.NewRegistry()))
		tUp := pollUntil(b, "PE2's session with the RR", established(pe2, 1))
		tRec := pollUntil(b, "PE2's restart reconciliation", reconciled(pe2))
		if _, n, err := pe2.Reconciled(); err != nil || n != 0 {
			b.Fatalf("reconciliation after the restart: %d updates, err %v; want 0 updates", n, err)
		}
		closing += t1.Sub(t0)
		up += tUp.Sub(t1)
		reconciling += tRec.Sub(t1)
		// The RR must see the session up too before the next round.
		pollUntil(b, "the RR's sessions", established(f.rr, 2))
	}
	n := float64(b.N)
	b.ReportMetric(float64(closing.Milliseconds())/n, "close-ms")
	b.ReportMetric(float64(up.Milliseconds())/n, "up-ms")
	b.ReportMetric(float64(reconciling.Milliseconds())/n, "reconciled-ms")
	b.ReportMetric(0, "ns/op")
}
