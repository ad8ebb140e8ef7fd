package p4evpn_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	p4evpn "github.com/p4evpn/p4evpn"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
	"github.com/p4evpn/p4evpn/p4"
)

// TestRestartKeepsRemoteFIB restarts PE2's daemon over its live target
// (Close: Cease with the RFC 8538 N bit, so the evpnd reflector keeps PE2's
// routes as a graceful-restart helper) while PE1 watches host B's MAC,
// learned behind PE2 before the restart. The restarted PE2 advertises B
// again before its session comes up, so the reflector's End-of-RIB sweep
// finds B's route refreshed: PE1 never hears a withdrawal of B (no
// mac-removed or mac-moved event from PE1's evpn, which any RR withdrawal
// would cause), PE1's FDB, read over P4Runtime all along, never lacks B,
// and PE2 still writes nothing to its switch. Before, PE2 advertised B
// only at its first reconciliation, after the sweep had withdrawn it
// fabric-wide. A MAC learned by PE2 after the restart (C), installed at
// PE1, is the sentinel: the reflector sends PE1 its updates in order, so
// a withdrawal of B would have come before it.
//
// FRR 8.4.4 as the reflector cannot pass this: it keeps a restarting
// neighbor's routes only for the families its FOREACH_AFI_SAFI_NSF loop
// walks (SAFIs up to MPLS VPN, so not l2vpn evpn; show bgp neighbors says
// "Remote GR Mode: Helper" for the PEs), and withdraws PE2's routes as
// soon as the session closes, before any restarted PE2 could refresh them.
func TestRestartKeepsRemoteFIB(t *testing.T) {
	f := startFabric(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	hostB := host(t, "B", f.engines[2].access[1], macB.String(), "10.0.0.2/24", 100)
	if err := hostB.GratuitousARP(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "PE1 to install B's MAC from BGP", func() bool {
		m, ok := macEntry(f.pe[1], 100, macB)
		return ok && m.Source == evpn.SourceRemote
	})
	waitFor(t, "PE1's FIB to hold B's MAC", func() bool { return fdbHas(t, ctx, f.pe[1], macB) })
	// PE2 has programmed PE1's inclusive multicast route (its tunnel, in
	// the Write that also holds the flood entries): a Close in the middle
	// of that Write would leave the restart real work to do.
	waitFor(t, "PE2 to program its tunnel to PE1", func() bool {
		tbl, err := f.pe[2].Table(ctx, p4.TableTunnelPort)
		return err == nil && len(tbl.Entries) > 0
	})
	rrReportedAll(t, f.rr)

	w := watchMAC(t, f.pe[1], macB)
	if err := f.pe[2].Close(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	pe2 := start(t, peConfig(t, 2, ""), p4evpn.WithEmbeddedTarget(f.targets[2]), p4evpn.WithRegistry(reg))
	waitFor(t, "PE2's restart reconciliation", reconciled(pe2))
	if done, n, err := pe2.Reconciled(); !done || err != nil || n != 0 {
		t.Errorf("PE2's restart reconciliation: done %v, %d updates, err %v; want 0 updates", done, n, err)
	}
	if wr := writes(t, reg); wr != 0 {
		t.Errorf("the restarted PE2 made %d P4Runtime writes, want 0", wr)
	}

	macC := route.MustMAC("02:00:00:00:cc:03")
	hostC := host(t, "C", f.engines[2].access[1], macC.String(), "10.0.0.3/24", 100)
	if err := hostC.GratuitousARP(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "PE1 to install the sentinel MAC C", func() bool {
		m, ok := macEntry(f.pe[1], 100, macC)
		return ok && m.Source == evpn.SourceRemote
	})
	events, polls, misses := w.stop()

	if len(events) != 0 {
		t.Errorf("PE1's evpn reported %v for B across PE2's restart, want nothing: the reflector withdrew B's route", events)
	}
	if misses != 0 {
		t.Errorf("PE1's %s lacked B's MAC in %d of %d reads across PE2's restart, want 0", p4.TableFDB, misses, polls)
	}
	if polls == 0 {
		t.Error("PE1's FDB was never read during the restart")
	}
	if c := f.pe[1].PE().Counters(); c.EventsDropped != 0 {
		t.Errorf("PE1 dropped %d events to slow subscribers: the watch may have missed one", c.EventsDropped)
	}
	if m, ok := macEntry(pe2, 100, macB); !ok || m.Source != evpn.SourceLocal {
		t.Errorf("after the restart PE2's entry for B = %+v, %v; want the adopted local MAC", m, ok)
	}
	if m, ok := macEntry(f.pe[1], 100, macB); !ok || m.Source != evpn.SourceRemote {
		t.Errorf("after the restart PE1's entry for B = %+v, %v; want the remote MAC", m, ok)
	}
}

// macWatch records what a PE's evpn reports of one MAC going away, and
// reads the PE's FDB over P4Runtime in a loop, counting the reads that
// lack the MAC.
type macWatch struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// mu guards events, polls and misses.
	mu     sync.Mutex
	events []string
	polls  int
	misses int
}

func watchMAC(t *testing.T, d *p4evpn.Daemon, mac route.MAC) *macWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := d.PE().Subscribe(ctx, 4096)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w := &macWatch{cancel: cancel}
	t.Cleanup(func() { w.stop() })
	w.wg.Add(2)
	go func() {
		defer w.wg.Done()
		for ev := range ch {
			if ev.MAC != mac {
				continue
			}
			switch ev.Kind {
			case evpn.EventMACRemoved, evpn.EventMACMoved, evpn.EventMACAged:
				w.mu.Lock()
				w.events = append(w.events, fmt.Sprintf("%v (peer %v)", ev.Kind, ev.Peer))
				w.mu.Unlock()
			}
		}
	}()
	go func() {
		defer w.wg.Done()
		for ctx.Err() == nil {
			fdb, err := d.Table(ctx, p4.TableFDB)
			if err != nil {
				// Only the watch's end cancels the read.
				if ctx.Err() == nil {
					w.mu.Lock()
					w.events = append(w.events, "FDB read failed: "+err.Error())
					w.mu.Unlock()
				}
				return
			}
			found := false
			for _, e := range fdb.Entries {
				for _, v := range e.Match {
					found = found || v == mac.String()
				}
			}
			w.mu.Lock()
			w.polls++
			if !found {
				w.misses++
			}
			w.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return w
}

// stop ends the watch and returns what it saw.
func (w *macWatch) stop() (events []string, polls, misses int) {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.events, w.polls, w.misses
}
