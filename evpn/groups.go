package evpn

import (
	"cmp"
	"slices"

	"github.com/p4evpn/p4evpn/asic"
)

// members computes the aliasing group a binding wants: the PEs that
// advertised the segment's per-ES A-D route (RFC 7432 §8.2: withdrawing it
// takes the PE out) and its per-EVI A-D route for the EVI with a usable
// label (§8.4), sorted by address. A single-active segment lists its
// primary first: the PE advertising the segment's MACs in the EVI
// (§14.1.1); the others are backups.
func (pe *PE) members(b *binding) groupWant {
	var w groupWant
	for _, p := range b.seg.perES {
		if p.singleActive {
			w.singleActive = true
		}
		if slices.Contains(w.members, p.pe) || b.evi.serviceLabels[p.pe] == 0 || !b.evi.hasPerEVI(b.seg, p.pe) {
			continue
		}
		w.members = append(w.members, p.pe)
	}
	slices.SortFunc(w.members, func(x, y *remotePE) int { return x.addr.Compare(y.addr) })
	if w.singleActive {
		for i, m := range w.members {
			if b.advertisers[m] > 0 {
				copy(w.members[1:i+1], w.members[:i])
				w.members[0] = m
				break
			}
		}
	}
	return w
}

type groupWant struct {
	members      []*remotePE
	singleActive bool
}

func (g *aliasGroup) is(w groupWant) bool {
	return g.singleActive == w.singleActive && slices.Equal(g.members, w.members)
}

func (e *evi) hasPerEVI(s *ethernetSegment, r *remotePE) bool {
	for k, p := range e.perEVIAD {
		if p == r && k.esi == s.esi {
			return true
		}
	}
	return false
}

// groupFor returns a group of segment s with exactly w's members, creating
// and programming one if none exists.
func (pe *PE) groupFor(s *ethernetSegment, w groupWant) *aliasGroup {
	for _, g := range s.groups {
		if g.is(w) {
			return g
		}
	}
	id, ok := pe.adopted.group(w)
	if !ok || !pe.groupIDs.take(id) {
		id, ok = pe.groupIDs.get()
	}
	if !ok {
		panic("evpn: out of aliasing group ids")
	}
	g := &aliasGroup{id: asic.GroupID(id), seg: s, members: w.members, singleActive: w.singleActive}
	s.groups = append(s.groups, g)
	pe.write(asic.Set(g.entity()))
	return g
}

// releaseGroup drops one binding's use of g, deleting it with the last.
func (pe *PE) releaseGroup(g *aliasGroup) {
	if g.bindings--; g.bindings > 0 {
		return
	}
	g.seg.groups = slices.DeleteFunc(g.seg.groups, func(x *aliasGroup) bool { return x == g })
	pe.write(asic.Delete(asic.AliasingGroup{ID: g.id}))
	pe.groupIDs.put(uint32(g.id))
}

// refreshSegmentGroups brings the aliasing groups of remote segment s in
// line with its routes. A group whose every binding wants the same new
// member list is rewritten in place: one update however many EVIs and MACs
// use it — this is mass withdrawal (RFC 7432 §8.2). Only a binding that
// diverges from the others of its group (a per-EVI change) moves to another
// group, re-pointing that EVI's MACs on the segment.
func (pe *PE) refreshSegmentGroups(s *ethernetSegment) {
	if len(s.bindings) == 0 {
		return
	}
	byGroup := make(map[*aliasGroup][]*binding)
	wants := make(map[*binding]groupWant, len(s.bindings))
	for _, b := range s.bindings {
		byGroup[b.group] = append(byGroup[b.group], b)
		wants[b] = pe.members(b)
	}
	for _, g := range slices.Clone(s.groups) {
		bs := byGroup[g]
		if len(bs) == 0 {
			continue
		}
		w0 := wants[bs[0]]
		uniform := true
		for _, b := range bs[1:] {
			if w := wants[b]; w.singleActive != w0.singleActive || !slices.Equal(w.members, w0.members) {
				uniform = false
				break
			}
		}
		if uniform {
			if !g.is(w0) {
				g.members, g.singleActive = w0.members, w0.singleActive
				pe.write(asic.Set(g.entity()))
			}
			continue
		}
		slices.SortFunc(bs, func(x, y *binding) int { return cmp.Compare(x.evi.id, y.evi.id) })
		for _, b := range bs {
			if w := wants[b]; !g.is(w) {
				pe.rebind(b, w)
			}
		}
	}
}

// rebind moves binding b to a group with w's members and re-points the
// EVI's MACs that forward through it.
func (pe *PE) rebind(b *binding, w groupWant) {
	old := b.group
	ng := pe.groupFor(b.seg, w)
	ng.bindings++
	b.group = ng
	for mac, me := range b.evi.macs {
		// Groups belong to one segment, so the old group's id names
		// exactly this binding's MACs in the EVI.
		if me.fwd.Kind == asic.ToAliasingGroup && me.fwd.Group == old.id {
			me.fwd.Group = ng.id
			pe.write(asic.Set(pe.fdbEntry(b.evi, mac, me)))
		}
	}
	pe.releaseGroup(old)
}

// serviceLabelFor is the label to push toward r for EVI e through an
// aliasing group: the label of r's per-EVI A-D route (RFC 7432 §8.4). A
// route reflector may have lost that label (FRR before 10 re-sends it as 0
// or as another route's label), so when r's MAC routes in e use another
// label, theirs wins; when the A-D label is 0 and r has no MAC route, its
// IMET label is the last resort. The second result names the source.
func (pe *PE) serviceLabelFor(e *evi, r *remotePE) (uint32, string) {
	var ad uint32
	has := false
	for k, p := range e.perEVIAD {
		if p != r {
			continue
		}
		has = true
		if l := e.perEVILabels[k]; l != 0 && (ad == 0 || l < ad) {
			ad = l
		}
	}
	if !has {
		return 0, ""
	}
	st := e.peStats[r]
	if ad != 0 && (st == nil || st.rt2Labels[ad] > 0) {
		return ad, "per-evi-ad"
	}
	if st != nil && len(st.rt2Labels) > 0 {
		var best uint32
		for l := range st.rt2Labels {
			if l != 0 && (best == 0 || l < best) {
				best = l
			}
		}
		if best != 0 {
			return best, "mac-route"
		}
	}
	if ad != 0 {
		return ad, "per-evi-ad"
	}
	var imet uint32
	for _, p := range e.imet {
		if p.pe == r && p.label != 0 && (imet == 0 || p.label < imet) {
			imet = p.label
		}
	}
	if imet != 0 {
		return imet, "imet"
	}
	return 0, "none"
}

// refreshServiceLabel reprograms r's service label for e; when it changed,
// e's aliasing groups are re-evaluated (a PE without a usable label is not
// a member) and it reports true.
func (pe *PE) refreshServiceLabel(e *evi, r *remotePE) bool {
	want, source := pe.serviceLabelFor(e, r)
	have := e.serviceLabels[r]
	if want == have {
		return false
	}
	switch {
	case want == 0:
		delete(e.serviceLabels, r)
		pe.write(asic.Delete(asic.ServiceLabel{PE: r.id, BD: e.bd}))
	default:
		e.serviceLabels[r] = want
		pe.write(asic.Set(asic.ServiceLabel{PE: r.id, BD: e.bd, Label: want}))
	}
	if source != "per-evi-ad" && source != "" {
		pe.counters.LabelFallbacks++
		pe.log.Warn("per-EVI A-D label unusable (lost by a route reflector?); using another label of the same PE",
			"evi", e.id, "remote_pe", r.addr.String(), "label", want, "source", source)
	}
	for s := range e.bindings {
		pe.refreshSegmentGroups(s)
	}
	return true
}

// refreshFlood reprograms e's flood group: its ACs, then one copy per
// remote PE with an IMET route for e (RFC 7432 §11.2).
func (pe *PE) refreshFlood(e *evi) {
	var ms []asic.FloodMember
	for _, ac := range e.acs {
		ms = append(ms, asic.FloodMember{AC: ac.cfg.ID})
	}
	labels := make(map[*remotePE]uint32)
	for _, p := range e.imet {
		if l, ok := labels[p.pe]; !ok || p.label < l {
			labels[p.pe] = p.label
		}
	}
	var remote []asic.FloodMember
	for r, l := range labels {
		remote = append(remote, asic.FloodMember{PE: r.id, BUMLabel: l})
	}
	slices.SortFunc(remote, func(a, b asic.FloodMember) int { return cmp.Compare(a.PE, b.PE) })
	ms = append(ms, remote...)
	if e.flood != nil && slices.Equal(ms, e.flood) {
		return
	}
	e.flood = ms
	pe.write(asic.Set(asic.FloodGroup{BD: e.bd, Members: slices.Clone(ms)}))
}

// refreshSegmentPeers reprograms the split-horizon peers of local segment
// s: each remote PE on it with the ESI label of its per-ES A-D route
// (RFC 7432 §8.3.1).
func (pe *PE) refreshSegmentPeers(s *ethernetSegment) {
	if s.local == nil {
		return
	}
	want := make(map[*remotePE]uint32)
	for _, p := range s.perES {
		if l, ok := want[p.pe]; !ok || p.esiLabel < l {
			want[p.pe] = p.esiLabel
		}
	}
	for r := range s.local.peers {
		if _, ok := want[r]; !ok {
			delete(s.local.peers, r)
			pe.write(asic.Delete(asic.SegmentPeer{Segment: s.local.id, PE: r.id}))
		}
	}
	for r, l := range want {
		if have, ok := s.local.peers[r]; !ok || have != l {
			s.local.peers[r] = l
			pe.write(asic.Set(asic.SegmentPeer{Segment: s.local.id, PE: r.id, ESILabel: l}))
		}
	}
}
