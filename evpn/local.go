package evpn

import (
	"context"
	"fmt"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// HandleSwitchEvent takes one data-plane event: a learn (new station or a
// station seen on another AC), activity that keeps a local MAC from ageing,
// or the switch's report that a learned MAC went idle (Config.SwitchAgeing).
func (pe *PE) HandleSwitchEvent(ctx context.Context, ev asic.Event) error {
	return pe.run(ctx, func() error {
		e := pe.bds[ev.BD]
		if e == nil {
			return fmt.Errorf("switch event for %s: bridge domain %d is not an EVI's", ev.MAC, ev.BD)
		}
		switch ev.Kind {
		case asic.EventLearn:
			return pe.learn(e, ev.MAC, ev.AC)
		case asic.EventActivity:
			if me := e.macs[ev.MAC]; me != nil && me.local != nil {
				me.local.lastSeen = pe.cfg.Clock.Now()
			}
			return nil
		case asic.EventIdle:
			if me := e.learned[ev.MAC]; me != nil {
				pe.counters.Aged++
				pe.publishMAC(EventMACAged, e, ev.MAC, me)
				pe.removeLocal(e, ev.MAC, me, "idle in the switch")
			}
			return nil
		}
		return fmt.Errorf("switch event for %s in bridge domain %d: unknown kind %d", ev.MAC, ev.BD, ev.Kind)
	})
}

// learn installs or moves a locally learned MAC (RFC 7432 §9.1, §15.1).
func (pe *PE) learn(e *evi, mac route.MAC, acID asic.ACID) error {
	ac := pe.acs[acID]
	if ac == nil || ac.evi != e {
		return fmt.Errorf("learn %s in evi %d: attachment circuit %d is not one of the EVI's", mac, e.id, acID)
	}
	if mac[0]&1 == 1 || mac.IsZero() {
		return fmt.Errorf("learn %s in evi %d: not a unicast station address", mac, e.id)
	}
	now := pe.cfg.Clock.Now()
	me := e.macs[mac]
	if me != nil && me.frozen() {
		pe.counters.FrozenLearnDrops++
		return nil
	}
	if me != nil && me.local != nil {
		lm := me.local
		if lm.ac == ac {
			lm.lastSeen = now
			return nil
		}
		if lm.static {
			pe.counters.StickyConflicts++
			return nil
		}
		// A move between local ACs: same PE, so no new sequence number,
		// but the route's ESI may change.
		if lm.ac.seg != ac.seg {
			pe.withdrawMAC(e, mac, me)
		}
		lm.ac.localMACs--
		ac.localMACs++
		lm.ac, lm.lastSeen = ac, now
		pe.resolve(e, mac, me)
		return nil
	}
	eviFull := e.macLimit > 0 && e.localMACs >= e.macLimit
	acFull := ac.cfg.MACLimit > 0 && ac.localMACs >= ac.cfg.MACLimit
	if eviFull || acFull {
		pe.counters.MACLimitDrops++
		e.limitDrops++
		if acFull {
			ac.limitDrops++
		}
		pe.publish(Event{Kind: EventMACLimit, EVI: e.id, MAC: mac, AC: acID})
		return nil
	}
	if me == nil {
		me = &macEntry{}
		e.macs[mac] = me
	}
	lm := &localMAC{ac: ac, lastSeen: now}
	if best := me.bestRemote(); best >= 0 {
		r := me.remotes[best]
		switch {
		case r.seg != nil && r.seg == ac.seg:
			lm.seq = r.seq
		case r.sticky:
			// A sticky MAC never moves (RFC 7432 §15.2).
			pe.counters.StickyConflicts++
			pe.publish(Event{Kind: EventStickyConflict, EVI: e.id, MAC: mac, AC: acID, Peer: r.pe.addr})
			return nil
		default:
			lm.seq = me.maxRemoteSeq() + 1
		}
	}
	me.local = lm
	e.learned[mac] = me
	e.localMACs++
	ac.localMACs++
	pe.counters.Learned++
	pe.resolve(e, mac, me)
	return nil
}

// addStatic installs a configured MAC (RFC 7432 §15.2).
func (pe *PE) addStatic(e *evi, sm StaticMAC) {
	me := e.macs[sm.MAC]
	if me == nil {
		me = &macEntry{}
		e.macs[sm.MAC] = me
	}
	if me.local != nil {
		pe.withdrawMAC(e, sm.MAC, me)
		pe.dropLocal(e, sm.MAC, me)
	}
	me.local = &localMAC{ac: pe.acs[sm.AC], static: true, seq: me.maxRemoteSeq()}
	pe.resolve(e, sm.MAC, me)
}

// dropLocal forgets the local presence of a MAC (its route is withdrawn by
// the caller).
func (pe *PE) dropLocal(e *evi, mac route.MAC, me *macEntry) {
	if me.local == nil {
		return
	}
	if !me.local.static {
		e.localMACs--
		me.local.ac.localMACs--
		delete(e.learned, mac)
	}
	me.local = nil
	me.advertised = false
}

// removeLocal withdraws and forgets a local MAC, falling back to a remote
// route for it if one exists.
func (pe *PE) removeLocal(e *evi, mac route.MAC, me *macEntry, why string) {
	pe.withdrawMAC(e, mac, me)
	pe.dropLocal(e, mac, me)
	pe.log.Debug("local MAC removed", "evi", e.id, "mac", mac.String(), "reason", why)
	pe.resolve(e, mac, me)
}

// ageSweep removes local MACs without activity for MACAgeing and re-arms
// itself; it runs every MACAgeing/10, so a MAC lives between MACAgeing and
// 1.1 × MACAgeing after its last frame.
func (pe *PE) ageSweep() {
	now := pe.cfg.Clock.Now()
	for _, e := range pe.evis {
		for mac, me := range e.learned {
			if now.Sub(me.local.lastSeen) < pe.cfg.MACAgeing {
				continue
			}
			pe.counters.Aged++
			pe.publishMAC(EventMACAged, e, mac, me)
			pe.removeLocal(e, mac, me, "aged")
		}
	}
	pe.after(pe.cfg.MACAgeing/10, pe.ageSweep)
}
