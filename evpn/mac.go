package evpn

import (
	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

func (me *macEntry) frozen() bool { return me.mob != nil && me.mob.frozen }

// bestRemote returns the index of the preferred remote path: sticky first
// (RFC 7432 §15.2), then the highest sequence number, then the lowest PE
// address (§15.1); -1 when there is none.
func (me *macEntry) bestRemote() int {
	best := -1
	for i := range me.remotes {
		if best < 0 || betterRemote(me.remotes[i], me.remotes[best]) {
			best = i
		}
	}
	return best
}

func betterRemote(a, b remotePath) bool {
	if a.sticky != b.sticky {
		return a.sticky
	}
	if a.seq != b.seq {
		return a.seq > b.seq
	}
	if c := a.pe.addr.Compare(b.pe.addr); c != 0 {
		return c < 0
	}
	return a.label < b.label
}

func (me *macEntry) maxRemoteSeq() uint32 {
	var s uint32
	for _, r := range me.remotes {
		s = max(s, r.seq)
	}
	return s
}

// remoteBeatsLocal decides RFC 7432 §15 between a local MAC and the best
// remote route for it.
func (pe *PE) remoteBeatsLocal(lm *localMAC, r remotePath) bool {
	switch {
	case lm.ac.seg != nil && lm.ac.seg == r.seg:
		// Same segment: the peer learned it on the shared link (§14.1).
		return false
	case lm.static:
		if r.sticky {
			pe.counters.StickyConflicts++
		}
		return false
	case r.sticky, lm.adopted:
		// An adopted MAC's sequence number is not the one the previous
		// run advertised: any remote route on another segment means
		// the MAC moved while the PE was down (see Adopt).
		return true
	case r.seq != lm.seq:
		return r.seq > lm.seq
	}
	// Equal sequence numbers: the PE with the lower address wins (§15.1).
	return r.pe.addr.Less(pe.cfg.RouterID)
}

// ownerValid reports whether the MAC's current owner still backs it.
func (me *macEntry) ownerValid() bool {
	if !me.hasOwner {
		return false
	}
	if me.ownerPE == nil {
		return me.local != nil
	}
	for _, r := range me.remotes {
		if r.pe == me.ownerPE {
			return true
		}
	}
	return false
}

// resolve decides where a MAC lives now, programs its FDB entry and its
// local advertisement, and records moves. It deletes the entry when nothing
// backs it any more.
func (pe *PE) resolve(e *evi, mac route.MAC, me *macEntry) {
	if me.local == nil && len(me.remotes) == 0 {
		if me.hasOwner {
			pe.write(asic.Delete(asic.FDBEntry{BD: e.bd, MAC: mac}))
			pe.publishMAC(EventMACRemoved, e, mac, me)
		}
		if me.mob != nil {
			pe.stopTimer(me.mob.timer)
		}
		delete(e.macs, mac)
		return
	}
	// A frozen MAC stays where it was frozen while that still exists.
	if me.frozen() && me.ownerValid() {
		if !me.pinned {
			me.pinned = true
			pe.write(asic.Set(pe.fdbEntry(e, mac, me)))
		}
		return
	}
	best := me.bestRemote()
	if me.local != nil && best >= 0 && pe.remoteBeatsLocal(me.local, me.remotes[best]) {
		pe.withdrawMAC(e, mac, me)
		pe.dropLocal(e, mac, me)
	}
	var (
		dest     asic.Destination
		ownerPE  *remotePE
		ownerSeg *ethernetSegment
		pinned   bool
	)
	if lm := me.local; lm != nil {
		dest = asic.Destination{Kind: asic.ToAC, AC: lm.ac.cfg.ID}
		ownerSeg, pinned = lm.ac.seg, lm.static
		if best >= 0 && me.remotes[best].seg == lm.ac.seg && lm.ac.seg != nil {
			// Keep the sequence the segment's peers use (§15.1 counts
			// moves between segments, not within one).
			lm.seq = max(lm.seq, me.remotes[best].seq)
		}
	} else {
		r := me.remotes[best]
		ownerPE, ownerSeg, pinned = r.pe, r.seg, r.sticky
		switch ac := r.seg.acIn(e); {
		case ac != nil:
			// A peer on a local segment learned it: forward on our own
			// link to the segment (RFC 7432 §14.1 all-active).
			dest = asic.Destination{Kind: asic.ToAC, AC: ac.cfg.ID}
		case r.seg != nil:
			dest = asic.Destination{Kind: asic.ToAliasingGroup, Group: e.bindings[r.seg].group.id}
		default:
			dest = asic.Destination{Kind: asic.ToRemotePE, PE: r.pe.id, Label: r.label}
		}
	}
	if me.hasOwner && !e.removing && isMove(me.ownerPE, me.ownerSeg, ownerPE, ownerSeg) {
		pe.recordMove(e, mac, me)
	}
	pinned = pinned || me.frozen()
	idle := pe.cfg.SwitchAgeing && me.local != nil && !me.local.static
	added := !me.hasOwner
	if added || dest != me.fwd || pinned != me.pinned || idle != me.idle {
		me.fwd, me.pinned, me.idle = dest, pinned, idle
		pe.write(asic.Set(pe.fdbEntry(e, mac, me)))
	}
	me.ownerPE, me.ownerSeg, me.hasOwner = ownerPE, ownerSeg, true
	if added {
		pe.publishMAC(EventMACAdded, e, mac, me)
	}
	pe.advertiseMAC(e, mac, me)
}

// fdbEntry is the FDB entry the switch holds for a MAC.
func (pe *PE) fdbEntry(e *evi, mac route.MAC, me *macEntry) asic.FDBEntry {
	f := asic.FDBEntry{BD: e.bd, MAC: mac, Dest: me.fwd, Pinned: me.pinned}
	if me.idle {
		f.IdleTimeout = pe.cfg.MACAgeing
	}
	return f
}

// isMove reports whether a MAC changed PE other than within one segment.
func isMove(fromPE *remotePE, fromSeg *ethernetSegment, toPE *remotePE, toSeg *ethernetSegment) bool {
	if fromSeg != nil && fromSeg == toSeg {
		return false
	}
	return fromPE != toPE
}

// recordMove counts a MAC move and freezes the MAC when it moved
// the EVI's DuplicateDetection.Moves times within Window (RFC 7432 §15.1).
func (pe *PE) recordMove(e *evi, mac route.MAC, me *macEntry) {
	pe.counters.MACMoves++
	pe.publishMAC(EventMACMoved, e, mac, me)
	if me.mob == nil {
		me.mob = &mobility{}
	}
	m := me.mob
	if m.frozen {
		return
	}
	now := pe.cfg.Clock.Now()
	cut := now.Add(-e.dup.Window)
	keep := m.moves[:0]
	for _, t := range m.moves {
		if t.After(cut) {
			keep = append(keep, t)
		}
	}
	m.moves = append(keep, now)
	if len(m.moves) < e.dup.Moves {
		return
	}
	m.frozen = true
	pe.counters.DuplicateMACs++
	pe.withdrawMAC(e, mac, me)
	pe.publishMAC(EventMACDuplicate, e, mac, me)
	pe.log.Warn("duplicate MAC detected: frozen, no longer advertised", "evi", e.id, "mac", mac.String(),
		"moves", len(m.moves), "window", e.dup.Window)
	if d := e.dup.Recovery; d > 0 {
		m.timer = pe.after(d, func() { pe.unfreeze(e, mac, me) })
	}
}

// unfreeze ends a duplicate MAC's freeze after the recovery time.
func (pe *PE) unfreeze(e *evi, mac route.MAC, me *macEntry) {
	if e.macs[mac] != me || !me.frozen() {
		return
	}
	me.mob = nil
	pe.publishMAC(EventMACUnfrozen, e, mac, me)
	if me.local != nil && len(me.remotes) > 0 {
		// Re-assert the local MAC above every remote route (§15.1).
		me.local.seq = max(me.local.seq, me.maxRemoteSeq()+1)
	}
	pe.resolve(e, mac, me)
}
