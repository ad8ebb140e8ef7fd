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
// then the difference is written in one batch, and the local MACs the
// switch holds are adopted. Call Adopt after New and before configuring
// anything. Segment ids and labels are reproduced by configuring segments
// and EVIs in the same order as before.
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
	a := &adoption{holding: true, peIDs: make(map[netip.Addr]uint32), groups: make(map[string]uint32), labels: make(map[asic.BridgeDomainID][2]uint32)}
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
	pe.log.Info("adopted the switch's ids", "tunnels", len(a.peIDs), "groups", len(a.groups), "bridge_domains", len(a.labels))
	return nil
}

// adoptLocalMACs takes the switch's local FDB entries this PE does not
// know — MACs a previous run learned — as learned now, unless a remote
// route claims the MAC (then it moved while the PE was down, and the
// remote route wins). Called with mu held.
func (pe *PE) adoptLocalMACs(current []asic.Entity) int {
	n := 0
	for _, ent := range current {
		f, ok := ent.(asic.FDBEntry)
		if !ok || f.Dest.Kind != asic.ToAC || f.Pinned {
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
