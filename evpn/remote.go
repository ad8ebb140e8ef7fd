package evpn

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// HandlePath takes one best path from the BGP speaker (new or replacing the
// path with the same NLRI key). Paths this PE originated — reflected back by
// a route reflector — are treated as a withdrawal of what was held under
// that key (RFC 4456), so a stale path cannot survive a MAC move.
func (pe *PE) HandlePath(ctx context.Context, p route.Path) error {
	if p.NLRI == nil {
		return errors.New("handle path: nil NLRI")
	}
	return pe.run(ctx, func() error { return pe.handlePath(p) })
}

// HandlePaths is HandlePath for a burst of paths (a BGP UPDATE storm after
// a session comes up): one lock hold and one switch batch for all of them.
// A path that fails is skipped; the errors are joined, each naming its
// route.
func (pe *PE) HandlePaths(ctx context.Context, paths []route.Path) error {
	return pe.run(ctx, func() error {
		var errs []error
		for _, p := range paths {
			if p.NLRI == nil {
				errs = append(errs, errors.New("handle path: nil NLRI"))
				continue
			}
			if err := pe.handlePath(p); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}

// Update is one BGP change in a burst for HandleUpdates: a new best path
// (Path, as for HandlePath) or the withdrawal of the path with Withdrawn's
// key (as for HandleWithdraw). Exactly one of Path.NLRI and Withdrawn is set.
type Update struct {
	// Path is the new best path; its NLRI is nil in a withdrawal.
	Path route.Path
	// Withdrawn is the withdrawn key; nil in an announcement.
	Withdrawn route.NLRI
}

// String names the update for errors and logs.
func (u Update) String() string {
	switch {
	case u.Path.NLRI != nil && u.Withdrawn == nil:
		return "announce " + u.Path.NLRI.String()
	case u.Withdrawn != nil && u.Path.NLRI == nil:
		return "withdraw " + u.Withdrawn.String()
	case u.Withdrawn != nil:
		return fmt.Sprintf("announce %s and withdraw %s", u.Path.NLRI, u.Withdrawn)
	}
	return "empty update"
}

// HandleUpdates is HandlePath and HandleWithdraw for a burst of BGP
// changes in their arrival order: one lock hold and one switch Write for
// all of them, so that a remote PE's failure seen as many withdrawals (a
// route reflector relays them one by one) costs a handful of switch
// operations instead of one per MAC (RFC 7432 §8.2). The outcome equals
// handling the updates one by one. An update that fails is skipped; the
// errors are joined, each naming its position and route.
func (pe *PE) HandleUpdates(ctx context.Context, updates []Update) error {
	return pe.run(ctx, func() error {
		var errs []error
		for i, u := range updates {
			var err error
			switch {
			case u.Path.NLRI != nil && u.Withdrawn != nil, u.Path.NLRI == nil && u.Withdrawn == nil:
				err = fmt.Errorf("handle update: %s: want exactly one of a path and a withdrawn NLRI", u)
			case u.Withdrawn != nil:
				err = pe.handleWithdraw(u.Withdrawn)
			default:
				err = pe.handlePath(u.Path)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("update %d: %w", i, err))
			}
		}
		return errors.Join(errs...)
	})
}

// HandleWithdraw takes the withdrawal of the path with n's key. The ESI and
// label fields of n are ignored: they are not part of the key.
func (pe *PE) HandleWithdraw(ctx context.Context, n route.NLRI) error {
	if n == nil {
		return errors.New("handle withdraw: nil NLRI")
	}
	return pe.run(ctx, func() error { return pe.handleWithdraw(n) })
}

// PeerDown removes every path whose next hop (or originator) is addr: the
// remote PE is gone (BGP session, BFD or next-hop tracking). Its per-ES A-D
// routes go first, so the aliasing groups drop it in one write per group
// before its MAC routes are cleaned up (RFC 7432 §8.2).
func (pe *PE) PeerDown(ctx context.Context, addr netip.Addr) error {
	return pe.run(ctx, func() error {
		r := pe.remotePEs[addr]
		var unref []*remotePE
		// The tunnel outlives this call's other removals; dropped last.
		defer func() {
			for _, p := range unref {
				pe.unrefPE(p)
			}
		}()
		var changed []*ethernetSegment
		for _, s := range pe.sortedSegments() {
			for rd, p := range s.perES {
				if p.pe == r && r != nil {
					delete(s.perES, rd)
					if !slices.Contains(changed, s) {
						changed = append(changed, s)
					}
					unref = append(unref, p.pe)
				}
			}
		}
		// Every aliasing group first: that is the failover.
		for _, s := range changed {
			pe.refreshSegmentGroups(s)
		}
		for _, s := range changed {
			pe.refreshSegmentPeers(s)
		}
		for _, s := range pe.sortedSegments() {
			for k := range s.esRoutes {
				if k.originator == addr {
					delete(s.esRoutes, k)
					if s.local != nil {
						pe.elect(s)
					}
				}
			}
		}
		if r == nil {
			return nil
		}
		for _, e := range pe.evis {
			for k, p := range e.perEVIAD {
				if p == r {
					pe.removePerEVI(e, k)
				}
			}
			for k, p := range e.imet {
				if p.pe == r {
					pe.removeIMET(e, k)
				}
			}
			for mac, me := range e.macs {
				for i := len(me.remotes) - 1; i >= 0; i-- {
					if me.remotes[i].pe == r {
						pe.removeMACPathAt(e, mac, me, i)
					}
				}
			}
		}
		return nil
	})
}

func (pe *PE) sortedSegments() []*ethernetSegment {
	out := make([]*ethernetSegment, 0, len(pe.segments))
	for _, s := range pe.segments {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *ethernetSegment) int { return slices.Compare(a.esi[:], b.esi[:]) })
	return out
}

func (pe *PE) isOwn(p route.Path) bool {
	id := pe.cfg.RouterID
	if p.Attrs.NextHop == id || p.Attrs.OriginatorID == id {
		return true
	}
	switch n := p.NLRI.(type) {
	case route.InclusiveMulticast:
		return n.OriginatorIP == id
	case route.EthernetSegment:
		return n.OriginatorIP == id
	}
	return false
}

func (pe *PE) handlePath(p route.Path) error {
	if pe.isOwn(p) {
		pe.counters.OwnRoutesIgnored++
		return pe.handleWithdraw(p.NLRI)
	}
	if err := checkLabels(p); err != nil {
		return err
	}
	switch n := p.NLRI.(type) {
	case route.EthernetAD:
		if !p.Attrs.NextHop.IsValid() {
			return fmt.Errorf("handle path %s: no next hop", n)
		}
		if n.PerES() {
			pe.addPerES(n, p.Attrs)
			return nil
		}
		pe.addPerEVI(n, p.Attrs)
		return nil
	case route.MACIP:
		if !p.Attrs.NextHop.IsValid() {
			return fmt.Errorf("handle path %s: no next hop", n)
		}
		pe.addMAC(n, p.Attrs)
		return nil
	case route.InclusiveMulticast:
		if p.Attrs.PMSI == nil || p.Attrs.PMSI.TunnelType != route.TunnelTypeIngressReplication {
			return fmt.Errorf("handle path %s: no ingress-replication PMSI tunnel attribute", n)
		}
		if !n.OriginatorIP.IsValid() {
			return fmt.Errorf("handle path %s: no originator IP", n)
		}
		pe.addIMET(n, p.Attrs)
		return nil
	case route.EthernetSegment:
		if !n.OriginatorIP.IsValid() {
			return fmt.Errorf("handle path %s: no originator IP", n)
		}
		pe.addES(n, p.Attrs)
		return nil
	}
	return fmt.Errorf("handle path %s: route type %v is not handled", p.NLRI, p.NLRI.RouteType())
}

// checkLabels refuses MPLS labels beyond 20 bits: p4evpn's core is MPLS,
// and such a value (a VXLAN VNI, or a codec error) cannot be pushed.
func checkLabels(p route.Path) error {
	var labels []uint32
	switch n := p.NLRI.(type) {
	case route.EthernetAD:
		labels = append(labels, n.Label)
	case route.MACIP:
		labels = append(labels, n.Label1, n.Label2)
	}
	if p.Attrs.PMSI != nil {
		labels = append(labels, p.Attrs.PMSI.Label)
	}
	if p.Attrs.ESILabel != nil {
		labels = append(labels, p.Attrs.ESILabel.Label)
	}
	for _, l := range labels {
		if l > route.MaxLabel {
			return fmt.Errorf("handle path %s: label %d does not fit 20 bits", p.NLRI, l)
		}
	}
	return nil
}

func (pe *PE) handleWithdraw(n route.NLRI) error {
	switch n := n.(type) {
	case route.EthernetAD:
		if n.PerES() {
			s := pe.segments[n.ESI]
			if s == nil {
				return nil
			}
			old, ok := s.perES[n.RD]
			if !ok {
				return nil
			}
			delete(s.perES, n.RD)
			pe.refreshSegmentGroups(s)
			pe.refreshSegmentPeers(s)
			pe.unrefPE(old.pe)
			return nil
		}
		for _, e := range pe.rdIndex[n.RD] {
			pe.removePerEVI(e, adKey{rd: n.RD, esi: n.ESI})
		}
	case route.MACIP:
		for _, e := range pe.rdIndex[n.RD] {
			pe.removeMACPath(e, n.MAC, n.RD, n.IP)
		}
	case route.InclusiveMulticast:
		for _, e := range pe.rdIndex[n.RD] {
			pe.removeIMET(e, imetKey{rd: n.RD, originator: n.OriginatorIP})
		}
	case route.EthernetSegment:
		s := pe.segments[n.ESI]
		if s == nil {
			return nil
		}
		k := imetKey{rd: n.RD, originator: n.OriginatorIP}
		if _, ok := s.esRoutes[k]; !ok {
			return nil
		}
		delete(s.esRoutes, k)
		// A lost candidate is re-elected at once: waiting only delays
		// recovery of the traffic it was DF for (RFC 8584 §2.1 applies
		// the timer to new candidates).
		if s.local != nil {
			pe.elect(s)
		}
	default:
		return fmt.Errorf("handle withdraw %s: route type %v is not handled", n, n.RouteType())
	}
	return nil
}

// targets returns the EVIs whose import route targets the path carries.
func (pe *PE) targets(a route.Attributes) []*evi {
	var out []*evi
	for _, rt := range a.RouteTargets {
		for _, e := range pe.rtIndex[rt] {
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	return out
}

// importInto records that routes with rd are imported into targets and
// removes the route under key from the EVIs it no longer targets.
func (pe *PE) importInto(rd route.RD, targets []*evi, remove func(*evi)) {
	for _, e := range pe.rdIndex[rd] {
		if !slices.Contains(targets, e) {
			remove(e)
		}
	}
	for _, e := range targets {
		if !slices.Contains(pe.rdIndex[rd], e) {
			pe.rdIndex[rd] = append(pe.rdIndex[rd], e)
		}
	}
	if len(targets) == 0 {
		pe.counters.RoutesNotImported++
	}
}

func (pe *PE) intern(rd route.RD) *route.RD {
	p := pe.rdIntern[rd]
	if p == nil {
		p = &rd
		pe.rdIntern[rd] = p
	}
	return p
}

// refPE returns the remote PE at addr, programming its tunnel on first use.
func (pe *PE) refPE(addr netip.Addr) *remotePE {
	r := pe.remotePEs[addr]
	if r == nil {
		id, ok := pe.adopted.remotePE(addr)
		if !ok || !pe.peIDs.take(id) {
			id, ok = pe.peIDs.get()
		}
		if !ok {
			// 16M tunnels: unreachable in practice; fail loudly.
			panic(fmt.Sprintf("evpn: out of remote PE ids adding %v", addr))
		}
		r = &remotePE{addr: addr, id: asic.RemotePEID(id)}
		pe.remotePEs[addr] = r
		pe.write(asic.Set(pe.remotePEEntity(r)))
	}
	r.refs++
	return r
}

// unrefPE drops one path's reference; the tunnel is deleted with the last.
// Callers unref after removing everything the path fed, so the delete comes
// after its referers in the batch.
func (pe *PE) unrefPE(r *remotePE) {
	if r.refs--; r.refs > 0 {
		return
	}
	delete(pe.remotePEs, r.addr)
	pe.write(asic.Delete(asic.RemotePE{ID: r.id}))
	pe.peIDs.put(uint32(r.id))
}

// Ethernet A-D per ES (RFC 7432 §8.2): membership of the remote segment,
// the ESI label and single-active flag. Imported regardless of route
// targets: it is keyed by ESI and costs one entry per PE and segment.
func (pe *PE) addPerES(n route.EthernetAD, a route.Attributes) {
	s := pe.segment(n.ESI)
	p := perESPath{pe: pe.refPE(a.NextHop)}
	if a.ESILabel != nil {
		p.esiLabel, p.singleActive = a.ESILabel.Label, a.ESILabel.SingleActive
	}
	old, had := s.perES[n.RD]
	s.perES[n.RD] = p
	pe.refreshSegmentGroups(s)
	pe.refreshSegmentPeers(s)
	if had {
		pe.unrefPE(old.pe)
	}
}

// Ethernet A-D per EVI (RFC 7432 §8.4): aliasing and backup membership of
// the PE for the segment in the EVI, and its label.
func (pe *PE) addPerEVI(n route.EthernetAD, a route.Attributes) {
	k := adKey{rd: n.RD, esi: n.ESI}
	targets := pe.targets(a)
	pe.importInto(n.RD, targets, func(e *evi) { pe.removePerEVI(e, k) })
	for _, e := range targets {
		r := pe.refPE(a.NextHop)
		old := e.perEVIAD[k]
		e.perEVIAD[k] = r
		e.perEVILabels[k] = n.Label
		pe.refreshServiceLabel(e, r)
		if old != nil && old != r {
			pe.refreshServiceLabel(e, old)
		}
		pe.refreshSegmentGroups(pe.segment(n.ESI))
		if old != nil {
			pe.unrefPE(old)
		}
	}
}

func (pe *PE) removePerEVI(e *evi, k adKey) {
	r := e.perEVIAD[k]
	if r == nil {
		return
	}
	delete(e.perEVIAD, k)
	delete(e.perEVILabels, k)
	pe.refreshServiceLabel(e, r)
	if s := pe.segments[k.esi]; s != nil {
		pe.refreshSegmentGroups(s)
	}
	pe.unrefPE(r)
}

// IMET (RFC 7432 §11): one ingress-replication copy per remote PE.
func (pe *PE) addIMET(n route.InclusiveMulticast, a route.Attributes) {
	k := imetKey{rd: n.RD, originator: n.OriginatorIP}
	targets := pe.targets(a)
	pe.importInto(n.RD, targets, func(e *evi) { pe.removeIMET(e, k) })
	for _, e := range targets {
		// FRR rewrites the PMSI tunnel id: the NLRI's originator names the PE.
		r := pe.refPE(n.OriginatorIP)
		old, had := e.imet[k]
		e.imet[k] = imetPath{pe: r, label: a.PMSI.Label}
		pe.refreshFlood(e)
		pe.refreshServiceLabel(e, r)
		if had {
			pe.unrefPE(old.pe)
		}
	}
}

func (pe *PE) removeIMET(e *evi, k imetKey) {
	old, ok := e.imet[k]
	if !ok {
		return
	}
	delete(e.imet, k)
	pe.refreshFlood(e)
	pe.refreshServiceLabel(e, old.pe)
	pe.unrefPE(old.pe)
}

// ES route (RFC 7432 §7.4, §8.5): a DF candidate for a local segment.
func (pe *PE) addES(n route.EthernetSegment, a route.Attributes) {
	s := pe.segment(n.ESI)
	k := imetKey{rd: n.RD, originator: n.OriginatorIP}
	var df *route.DFElection
	if a.DFElection != nil {
		c := *a.DFElection
		df = &c
	}
	old, had := s.esRoutes[k]
	s.esRoutes[k] = df
	if s.local != nil && (!had || !equalDF(old, df)) {
		pe.scheduleElection(s)
	}
}

func equalDF(a, b *route.DFElection) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// MAC/IP advertisement (RFC 7432 §9.2.2, §15).
func (pe *PE) addMAC(n route.MACIP, a route.Attributes) {
	targets := pe.targets(a)
	pe.importInto(n.RD, targets, func(e *evi) { pe.removeMACPath(e, n.MAC, n.RD, n.IP) })
	for _, e := range targets {
		rd := pe.intern(n.RD)
		p := remotePath{rd: rd, ip: n.IP, pe: pe.refPE(a.NextHop), label: n.Label1}
		if !n.ESI.IsZero() {
			p.seg = pe.segment(n.ESI)
		}
		if m := a.MACMobility; m != nil {
			p.seq, p.sticky = m.Sequence, m.Sticky
		}
		me := e.macs[n.MAC]
		if me == nil {
			me = &macEntry{}
			e.macs[n.MAC] = me
		}
		idx := -1
		for i := range me.remotes {
			if me.remotes[i].rd == rd && me.remotes[i].ip == n.IP {
				idx = i
				break
			}
		}
		pe.accountPath(e, p)
		if idx < 0 {
			me.remotes = append(me.remotes, p)
			pe.resolve(e, n.MAC, me)
			continue
		}
		old := me.remotes[idx]
		me.remotes[idx] = p
		pe.resolve(e, n.MAC, me)
		pe.unaccountPath(e, old)
		pe.unrefPE(old.pe)
	}
}

func (pe *PE) removeMACPath(e *evi, mac route.MAC, rd route.RD, ip netip.Addr) {
	me := e.macs[mac]
	if me == nil {
		return
	}
	rdp := pe.rdIntern[rd]
	for i := range me.remotes {
		if me.remotes[i].rd == rdp && me.remotes[i].ip == ip {
			pe.removeMACPathAt(e, mac, me, i)
			return
		}
	}
}

func (pe *PE) removeMACPathAt(e *evi, mac route.MAC, me *macEntry, i int) {
	old := me.remotes[i]
	me.remotes = slices.Delete(me.remotes, i, i+1)
	pe.resolve(e, mac, me)
	pe.unaccountPath(e, old)
	pe.unrefPE(old.pe)
}

// accountPath records what a MAC path contributes beyond its MAC: the label
// fallback statistics and the segment binding with its advertisers.
func (pe *PE) accountPath(e *evi, p remotePath) {
	st := e.peStats[p.pe]
	if st == nil {
		st = &peEVIStats{rt2Labels: make(map[uint32]int)}
		e.peStats[p.pe] = st
	}
	st.rt2Labels[p.label]++
	newLabel := st.rt2Labels[p.label] == 1
	var b *binding
	fresh := false
	if p.seg != nil {
		b = e.bindings[p.seg]
		if b == nil {
			b = &binding{seg: p.seg, evi: e, advertisers: make(map[*remotePE]int)}
			e.bindings[p.seg] = b
			p.seg.bindings[e] = b
			fresh = true
		}
		b.macs++
		b.advertisers[p.pe]++
		if fresh {
			b.group = pe.groupFor(p.seg, pe.members(b))
			b.group.bindings++
		}
	}
	if newLabel && pe.refreshServiceLabel(e, p.pe) {
		return // refreshed every group of e
	}
	if b != nil && !fresh && b.advertisers[p.pe] == 1 && b.group.singleActive {
		pe.refreshSegmentGroups(p.seg)
	}
}

func (pe *PE) unaccountPath(e *evi, p remotePath) {
	st := e.peStats[p.pe]
	st.rt2Labels[p.label]--
	goneLabel := st.rt2Labels[p.label] == 0
	if goneLabel {
		delete(st.rt2Labels, p.label)
	}
	if len(st.rt2Labels) == 0 {
		delete(e.peStats, p.pe)
	}
	if p.seg != nil {
		b := e.bindings[p.seg]
		b.macs--
		if b.advertisers[p.pe]--; b.advertisers[p.pe] == 0 {
			delete(b.advertisers, p.pe)
			if b.macs > 0 && b.group.singleActive {
				pe.refreshSegmentGroups(p.seg)
			}
		}
		if b.macs == 0 {
			delete(e.bindings, p.seg)
			delete(p.seg.bindings, e)
			pe.releaseGroup(b.group)
		}
	}
	if goneLabel {
		pe.refreshServiceLabel(e, p.pe)
	}
}
