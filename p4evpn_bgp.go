package p4evpn

import (
	"context"
	"net/netip"
	"time"

	"github.com/p4evpn/p4evpn/bgp"
	"github.com/p4evpn/p4evpn/evpn"
)

// maxBatch bounds the path changes handed to the PE in one call, so that a
// full table arriving at once does not wait for its end to be installed.
const maxBatch = 1024

// runBGP is the one goroutine that hands the speaker's events to the PE, in
// the speaker's order: the PathAdds and PathWithdraws already queued go in
// one HandleUpdates call, so a burst (a table after a session comes up, a
// remote PE's failure relayed by a route reflector as one withdrawal per
// MAC) costs one switch Write instead of one per route. Session events
// flush the burst before them, keeping the order. A
// route reflector only drains them (the speaker never drops events, so an
// unread channel would hold GoBGP back).
//
// After a restart over live forwarding state it also decides when BGP has
// converged: every configured session up and, from each neighbor that
// negotiated graceful restart, its End-of-RIB (RFC 4724 §4.1: the
// restarting speaker defers its decisions until it has every peer's
// table); from a neighbor without graceful restart, RestartSettle without
// an event stands in for the marker; RestartDeadline at the latest. It then
// runs the PE's first Reconcile, which writes only the difference. Quiet
// alone is not enough: FRR holds its first update to a new session for a
// second or more, and a reconcile before it removed every remote route.
func (d *Daemon) runBGP(ctx context.Context) { d.feedBGP(ctx, d.speaker.Events()) }

// feedBGP is runBGP's loop over events, until ctx ends or events closes.
func (d *Daemon) feedBGP(ctx context.Context, events <-chan bgp.Event) {
	pending := d.pe != nil && d.adopting
	up := map[netip.Addr]bool{}
	// awaitingEoR holds the sessions up whose End-of-RIB has not come.
	awaitingEoR := map[netip.Addr]bool{}
	want := len(d.cfg.BGP.Neighbors)
	converged := func() bool { return len(up) >= want && len(awaitingEoR) == 0 }
	var settle, deadline <-chan time.Time
	var settleTimer *time.Timer
	if pending {
		deadlineTimer := time.NewTimer(d.cfg.Timers.RestartDeadline)
		defer deadlineTimer.Stop()
		deadline = deadlineTimer.C
		settleTimer = time.NewTimer(d.cfg.Timers.RestartSettle)
		defer settleTimer.Stop()
		settle = settleTimer.C
	}
	var batch []evpn.Update
	flush := func() {
		if len(batch) == 0 {
			return
		}
		d.log.Debug("bgp updates to the PE", "updates", len(batch))
		if err := d.pe.HandleUpdates(ctx, batch); err != nil && ctx.Err() == nil {
			d.log.Warn("bgp updates", "updates", len(batch), "err", err)
		}
		clear(batch) // the paths are the PE's now: do not pin them
		batch = batch[:0]
	}
	reconcile := func(why string) {
		flush()
		pending, settle, deadline = false, nil, nil
		n, err := d.pe.Reconcile(ctx)
		d.mu.Lock()
		d.reconciled = reconcileResult{Done: true, Updates: n, Err: err, At: time.Now()}
		d.mu.Unlock()
		if err != nil {
			d.log.Error("restart reconciliation failed", "updates", n, "err", err)
		} else {
			d.log.Info("restart reconciliation done", "trigger", why, "updates", n)
		}
		d.requestRefresh()
	}
	for {
		var ev bgp.Event
		var ok bool
		if len(batch) > 0 {
			select {
			case ev, ok = <-events:
			default:
				flush() // nothing more queued: hand the burst over
				continue
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case ev, ok = <-events:
			case <-settle:
				if converged() {
					reconcile("bgp settled")
				} else {
					settleTimer.Reset(d.cfg.Timers.RestartSettle)
				}
				continue
			case <-deadline:
				reconcile("deadline")
				continue
			}
		}
		if !ok {
			flush()
			return
		}
		if pending {
			settleTimer.Reset(d.cfg.Timers.RestartSettle)
		}
		if d.pe == nil {
			if ev.Kind == bgp.PeerUp || ev.Kind == bgp.PeerDown {
				d.log.Info("bgp session", "event", ev.Kind, "peer", ev.Peer, "reason", ev.Reason)
				d.requestRefresh()
			}
			continue
		}
		if ev.Kind == bgp.PathAdd || ev.Kind == bgp.PathWithdraw {
			u := evpn.Update{Path: ev.Path}
			if ev.Kind == bgp.PathWithdraw {
				u = evpn.Update{Withdrawn: ev.Path.NLRI}
			}
			batch = append(batch, u)
			if len(batch) >= maxBatch {
				flush()
			}
			continue
		}
		flush()
		var err error
		switch ev.Kind {
		case bgp.PeerUp:
			up[ev.Peer] = true
			if ev.EndOfRIBExpected {
				awaitingEoR[ev.Peer] = true
			}
			d.log.Info("bgp session up", "peer", ev.Peer, "asn", ev.PeerASN, "end_of_rib_expected", ev.EndOfRIBExpected)
			d.requestRefresh()
		case bgp.EndOfRIB:
			delete(awaitingEoR, ev.Peer)
			if pending && converged() {
				reconcile("end-of-rib")
			}
		case bgp.PeerDown:
			delete(up, ev.Peer)
			delete(awaitingEoR, ev.Peer)
			d.log.Warn("bgp session down", "peer", ev.Peer, "reason", ev.Reason)
			err = d.pe.PeerDown(ctx, ev.Peer)
			d.requestRefresh()
		}
		if err != nil && ctx.Err() == nil {
			d.log.Warn("bgp event", "event", ev.Kind, "peer", ev.Peer, "err", err)
		}
	}
}
