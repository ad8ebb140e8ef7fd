package evpn

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// adoption is what a previous run left in the switch: the ids and labels a
// restarted PE reuses so that, once BGP has converged, Reconcile finds
// nothing to change and no entry is rewritten under traffic.
type adoption struct {
	// holding keeps the PE from writing to the switch until the first
	// Reconcile: the switch forwards with the previous run's state while
	// BGP reconverges, and is then corrected in one batch.
	holding bool
	peIDs   map[netip.Addr]uint32
	groups  map[string]uint32
	labels  map[asic.BridgeDomainID][2]uint32
	// fdb holds the switch's local FDB entries by bridge domain until the
	// EVI owning the domain is configured: AddEVI learns them again and
	// advertises them before any BGP session is up, so a restarting
	// speaker's first UPDATEs, ahead of its End-of-RIB, refresh the MAC
	// routes its graceful-restart helpers hold stale (RFC 4724 §4.1), and
	// no remote PE withdraws them.
	fdb map[asic.BridgeDomainID][]asic.FDBEntry
	// macs are the MACs AddEVI adopted, for the first Reconcile to check
	// against the switch and the converged routes.
	macs []adoptedMAC
	// elections are the local segments whose DF election waits for the
	// first Reconcile: until BGP has converged the candidate list is
	// partial (a reflector may send its table a second or more after the
	// session comes up), and an election on part of it would flip the DF
	// state the switch still forwards with.
	elections map[*ethernetSegment]bool
}

// adoptedMAC is a local MAC taken from the switch at a restart.
type adoptedMAC struct {
	evi   *evi
	mac   route.MAC
	entry *macEntry
	local *localMAC
}

func (a *adoption) remotePE(addr netip.Addr) (uint32, bool) {
	if a == nil {
		return 0, false
	}
	id, ok := a.peIDs[addr]
	return id, ok
}

func (a *adoption) group(w groupWant) (uint32, bool) {
	if a == nil {
		return 0, false
	}
	addrs := make([]netip.Addr, len(w.members))
	for i, m := range w.members {
		addrs[i] = m.addr
	}
	id, ok := a.groups[groupKey(addrs, w.singleActive)]
	return id, ok
}

func (a *adoption) bdLabels(bd asic.BridgeDomainID) ([2]uint32, bool) {
	if a == nil {
		return [2]uint32{}, false
	}
	l, ok := a.labels[bd]
	return l, ok
}

func groupKey(members []netip.Addr, singleActive bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v", singleActive)
	for _, m := range members {
		b.WriteByte('/')
		b.WriteString(m.String())
	}
	return b.String()
}

// Adopt prepares a restart without traffic loss. It reads what a previous
// run of the PE left in the switch and reuses its tunnel and aliasing-group
// ids and the bridge domains' labels (which remote PEs still use) for the
// same addresses, member lists and bridge domains; and it holds every switch
// write back until the first Reconcile, which the daemon calls once BGP has
// converged: meanwhile the switch forwards with the previous run's state,
// then the difference is written in one batch. The local MACs the switch
// holds are learned again as AddEVI configures their EVI, and advertised
// at once: start the BGP sessions after the EVIs, so that the MAC routes
// are in the first UPDATEs, before End-of-RIB. Call Adopt after New and
// before configuring anything. Segment ids and labels are reproduced by
// configuring segments and EVIs in the same order as before.
//
// An adopted MAC is advertised with sequence number 0: the switch does not
// hold the number the previous run advertised, and BGP cannot give it back
// in time. GoBGP as a reflector sends no route back to the peer it came
// from; FRR does, with our own ORIGINATOR_ID (dropped, RFC 4456), but only
// after our session is up, and waiting for it would hold back the very
// UPDATEs that must precede our End-of-RIB. Zero is safe while the MAC
// stays here: the route's NLRI is the previous run's, so it replaces the
// stale path at the helpers and receivers whatever its sequence; every PE
// that had the MAC before withdrew its own route when ours won (RFC 7432
// §15.1); and a PE that learns it while our route is known advertises a
// higher number. A MAC that moved while this PE was down is advertised by
// its new PE above the previous run's number, so with at least 1, and
// wins: the adopted MAC is withdrawn and its FDB entry points at the new PE
// (written by the first Reconcile), as for any move. Until that Reconcile
// an adopted MAC also yields to a remote route with an equal or lower
// number on another segment: a PE that learned the MAC after the helpers
// had dropped our routes (down longer than their restart time) advertises
// 0. If that PE's address is the higher, it yields to our route in the same
// exchange (§15.1 ties go to the lower address) and the MAC is advertised
// by nobody until the host's next frame, which that PE learns again.
func (pe *PE) Adopt(ctx context.Context) error {
	ents, err := pe.cfg.Switch.Read(ctx)
	if err != nil {
		return fmt.Errorf("adopt: read switch: %w", err)
	}
	pe.mu.Lock()
	defer pe.mu.Unlock()
	if pe.closed {
		return ErrClosed
	}
	if len(pe.evis) > 0 || len(pe.remotePEs) > 0 {
		return errors.New("adopt: the PE already has EVIs or routes; adopt before configuring it")
	}
	a := &adoption{holding: true, peIDs: make(map[netip.Addr]uint32), groups: make(map[string]uint32),
		labels: make(map[asic.BridgeDomainID][2]uint32), fdb: make(map[asic.BridgeDomainID][]asic.FDBEntry)}
	addr := make(map[asic.RemotePEID]netip.Addr)
	var groups []asic.AliasingGroup
	for _, e := range ents {
		switch x := e.(type) {
		case asic.RemotePE:
			a.peIDs[x.Address] = uint32(x.ID)
			addr[x.ID] = x.Address
		case asic.BridgeDomain:
			a.labels[x.ID] = [2]uint32{x.UnicastLabel, x.BUMLabel}
		case asic.AliasingGroup:
			groups = append(groups, x)
		case asic.FDBEntry:
			if pe.learnedEntry(x) {
				a.fdb[x.BD] = append(a.fdb[x.BD], x)
			}
		}
	}
	for _, g := range groups {
		ms := make([]netip.Addr, 0, len(g.Members))
		for _, id := range g.Members {
			ms = append(ms, addr[id])
		}
		a.groups[groupKey(ms, g.SingleActive)] = uint32(g.ID)
	}
	pe.adopted = a
	pe.log.Info("adopted the switch's ids", "tunnels", len(a.peIDs), "groups", len(a.groups), "bridge_domains", len(a.labels),
		"fdb_bridge_domains", len(a.fdb))
	return nil
}

// learnedEntry reports whether an FDB entry the switch holds can be a MAC a
// previous run learned on an AC: it points at an AC, is not pinned (static
// or frozen MACs are), and, when the switch ages the MACs, carries the idle
// timeout (an entry without one forwards a multihoming peer's MAC on this
// PE's own link to the shared segment).
func (pe *PE) learnedEntry(f asic.FDBEntry) bool {
	if f.Dest.Kind != asic.ToAC || f.Pinned {
		return false
	}
	return !pe.cfg.SwitchAgeing || f.IdleTimeout != 0
}

// adoptEVIMACs learns the local MACs the switch held at Adopt for the
// bridge domain of EVI e, just configured, and advertises them. Called with
// mu held.
func (pe *PE) adoptEVIMACs(e *evi) {
	a := pe.adopted
	if a == nil || !a.holding {
		return
	}
	fdb := a.fdb[e.bd]
	delete(a.fdb, e.bd)
	n := 0
	for _, f := range fdb {
		ac := pe.acs[f.Dest.AC]
		if ac == nil || ac.evi != e || e.macs[f.MAC] != nil {
			continue
		}
		if pe.learn(e, f.MAC, ac.cfg.ID) != nil {
			continue
		}
		if me := e.macs[f.MAC]; me != nil && me.local != nil {
			me.local.adopted = true
			a.macs = append(a.macs, adoptedMAC{evi: e, mac: f.MAC, entry: me, local: me.local})
			n++
		}
	}
	if n > 0 {
		pe.log.Info("adopted local MACs from the switch", "evi", e.id, "macs", n)
	}
}

// confirmAdoptedMACs runs at the first Reconcile, BGP converged, over the
// MACs AddEVI adopted and that are still as adopted. One the switch no
// longer holds went idle while the PE started: it is removed. Without
// switch ageing, one that a multihoming peer advertises on the same segment
// may be the peer's MAC, which the previous run forwarded on its own link
// to the segment: it is left to the peer's route, as a MAC that is not
// adopted would be (remote PEs keep it through the peer's route, on the
// same aliasing group). Called with mu held.
func (pe *PE) confirmAdoptedMACs(current []asic.Entity) {
	held := make(map[asic.BridgeDomainID]map[route.MAC]bool)
	for _, ent := range current {
		if f, ok := ent.(asic.FDBEntry); ok && pe.learnedEntry(f) {
			if held[f.BD] == nil {
				held[f.BD] = make(map[route.MAC]bool)
			}
			held[f.BD][f.MAC] = true
		}
	}
	for _, am := range pe.adopted.macs {
		e, me := am.evi, am.entry
		if pe.evis[e.id] != e || e.macs[am.mac] != me || me.local != am.local {
			continue
		}
		me.local.adopted = false
		switch {
		case !held[e.bd][am.mac]:
			pe.removeLocal(e, am.mac, me, "gone from the switch before the first reconciliation")
		case !pe.cfg.SwitchAgeing && me.local.ac.seg != nil && me.hasRemoteOn(me.local.ac.seg):
			pe.removeLocal(e, am.mac, me, "advertised by a multihoming peer on the same segment")
		}
	}
	pe.adopted.macs, pe.adopted.fdb = nil, nil
}

// adoptLocalMACs takes the switch's local FDB entries this PE does not
// know as learned now, unless a remote route claims the MAC (then it moved
// while the PE was down, and the remote route wins): MACs the switch
// learned after Adopt read it, whose learn events came before their EVI
// was configured. Called with mu held.
func (pe *PE) adoptLocalMACs(current []asic.Entity) int {
	n := 0
	for _, ent := range current {
		f, ok := ent.(asic.FDBEntry)
		if !ok || !pe.learnedEntry(f) {
			continue
		}
		e := pe.bds[f.BD]
		ac := pe.acs[f.Dest.AC]
		if e == nil || ac == nil || ac.evi != e {
			continue
		}
		if me := e.macs[route.MAC(f.MAC)]; me != nil {
			continue
		}
		if pe.learn(e, f.MAC, ac.cfg.ID) == nil {
			n++
		}
	}
	return n
}
