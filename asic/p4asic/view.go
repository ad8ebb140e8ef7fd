package p4asic

import (
	"fmt"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/p4"
)

// Replica ids: an AC's replica uses the AC id (14 bits, so below
// firstPERID); a remote PE's replica in a flood group gets an id of its own
// from firstPERID up, since one PE is in many bridge domains' groups with a
// different BUM label in each.
const (
	firstPERID = 1 << p4.AttachmentCircuitBits
	maxRID     = 1<<p4.EgressRIDBits - 1
)

// ridKey names a remote PE's replica in one bridge domain's flood group.
type ridKey struct {
	bd asic.BridgeDomainID
	pe asic.RemotePEID
}

// acMatch is an AC's key in ingress.attachment_circuit.
type acMatch struct {
	port         asic.PortID
	outer, inner uint16
}

// view is the controller's copy of what the target holds: the entities, who
// references them, and the ids and keys allocated for them. Write checks
// references against it and derives entries from it; Read replaces it.
type view struct {
	// ents holds every entity but FDB entries, which fdb holds unboxed:
	// they are most of the view.
	ents map[asic.Key]asic.Entity
	fdb  map[fdbKey]asic.FDBEntry
	refs map[asic.Key]int
	// rids holds the replica id of each remote PE in each flood group.
	rids    map[ridKey]uint32
	ridUsed map[uint32]bool
	nextRID uint32
	// members counts the aliasing groups forwarding through each PE: its
	// selector member exists while the count is positive.
	members map[asic.RemotePEID]int
	// Owners of the keys two entities could otherwise both claim.
	serviceLabels map[uint32]asic.BridgeDomainID
	esiLabels     map[uint32]asic.SegmentID
	acKeys        map[acMatch]asic.ACID
	// stale is set when a write failed half-way: the view may differ from
	// the target until the next Read.
	stale bool
}

func newView() *view {
	return &view{
		ents: make(map[asic.Key]asic.Entity), fdb: make(map[fdbKey]asic.FDBEntry), refs: make(map[asic.Key]int),
		rids: make(map[ridKey]uint32), ridUsed: make(map[uint32]bool), nextRID: firstPERID,
		members:       make(map[asic.RemotePEID]int),
		serviceLabels: make(map[uint32]asic.BridgeDomainID),
		esiLabels:     make(map[uint32]asic.SegmentID),
		acKeys:        make(map[acMatch]asic.ACID),
	}
}

// fdbKey is an FDB entry's key.
type fdbKey struct {
	bd  asic.BridgeDomainID
	mac asic.MAC
}

// lookup returns the entity with key k.
func (v *view) lookup(k asic.Key) (asic.Entity, bool) {
	if k.Kind == asic.KindFDBEntry {
		f, ok := v.fdb[fdbKey{asic.BridgeDomainID(k.A), k.MAC}]
		if !ok {
			return nil, false
		}
		return f, true
	}
	e, ok := v.ents[k]
	return e, ok
}

// has reports whether an entity with key k exists, without boxing.
func (v *view) has(k asic.Key) bool {
	if k.Kind == asic.KindFDBEntry {
		_, ok := v.fdb[fdbKey{asic.BridgeDomainID(k.A), k.MAC}]
		return ok
	}
	_, ok := v.ents[k]
	return ok
}

// store puts e under its key.
func (v *view) store(e asic.Entity) {
	if f, ok := e.(asic.FDBEntry); ok {
		v.fdb[fdbKey{f.BD, f.MAC}] = f
		return
	}
	v.ents[e.Key()] = e
}

// remove deletes the entity with key k.
func (v *view) remove(k asic.Key) {
	if k.Kind == asic.KindFDBEntry {
		delete(v.fdb, fdbKey{asic.BridgeDomainID(k.A), k.MAC})
		return
	}
	delete(v.ents, k)
}

func (v *view) segment(id asic.SegmentID) (asic.Segment, bool) {
	e, ok := v.ents[asic.Segment{ID: id}.Key()].(asic.Segment)
	return e, ok
}

func (v *view) ac(id asic.ACID) (asic.AttachmentCircuit, bool) {
	e, ok := v.ents[asic.AttachmentCircuit{ID: id}.Key()].(asic.AttachmentCircuit)
	return e, ok
}

func (v *view) remotePE(id asic.RemotePEID) (asic.RemotePE, bool) {
	e, ok := v.ents[asic.RemotePE{ID: id}.Key()].(asic.RemotePE)
	return e, ok
}

// isDF reports whether this PE forwards for (segment, bd): a DFState with
// DF set exists.
func (v *view) isDF(seg asic.SegmentID, bd asic.BridgeDomainID) bool {
	d, ok := v.ents[asic.DFState{Segment: seg, BD: bd}.Key()].(asic.DFState)
	return ok && d.DF
}

// blocked reports whether ac passes no traffic: it is on a single-active
// segment for whose bridge domain this PE is not the DF (RFC 7432 14.1.1).
func (v *view) blocked(ac asic.AttachmentCircuit) bool {
	if ac.Segment == 0 {
		return false
	}
	s, ok := v.segment(ac.Segment)
	return ok && s.SingleActive && !v.isDF(ac.Segment, ac.BD)
}

// rid returns the replica id of m in bd's flood group; PE replicas must
// have been allocated.
func (v *view) rid(bd asic.BridgeDomainID, m asic.FloodMember) (uint32, error) {
	if m.AC != 0 {
		return uint32(m.AC), nil
	}
	r, ok := v.rids[ridKey{bd, m.PE}]
	if !ok {
		return 0, fmt.Errorf("flood group %d: no replica id for pe %d", bd, m.PE)
	}
	return r, nil
}

func (v *view) allocRID(k ridKey) (uint32, error) {
	if r, ok := v.rids[k]; ok {
		return r, nil
	}
	for range maxRID - firstPERID + 1 {
		r := v.nextRID
		v.nextRID++
		if v.nextRID > maxRID {
			v.nextRID = firstPERID
		}
		if !v.ridUsed[r] {
			v.ridUsed[r] = true
			v.rids[k] = r
			return r, nil
		}
	}
	return 0, fmt.Errorf("flood group %d, pe %d: all %d replica ids for remote PEs are in use", k.bd, k.pe, maxRID-firstPERID+1)
}

func (v *view) freeRID(k ridKey) {
	if r, ok := v.rids[k]; ok {
		delete(v.ridUsed, r)
		delete(v.rids, k)
	}
}

// forwarding returns the members of g that carry traffic: Members[0] of a
// single-active group, all of them otherwise.
func forwarding(g asic.AliasingGroup) []asic.RemotePEID {
	if g.SingleActive && len(g.Members) > 1 {
		return g.Members[:1]
	}
	return g.Members
}

// put stores e (replacing old, if any) and maintains references and
// ownership. It returns the aliasing members that came into use and went
// out of use, in that order of writing.
func (v *view) put(e asic.Entity) (added, removed []asic.RemotePEID) {
	k := e.Key()
	old, had := v.lookup(k)
	if had {
		removed = v.release(old, e)
	}
	for _, r := range references(e, &[2]asic.Key{}) {
		v.refs[r]++
	}
	v.store(e)
	switch x := e.(type) {
	case asic.BridgeDomain:
		if x.UnicastLabel != 0 {
			v.serviceLabels[x.UnicastLabel] = x.ID
		}
		if x.BUMLabel != 0 {
			v.serviceLabels[x.BUMLabel] = x.ID
		}
	case asic.Segment:
		v.esiLabels[x.ESILabel] = x.ID
	case asic.AttachmentCircuit:
		v.acKeys[acMatch{x.Port, x.VLAN, x.InnerVLAN}] = x.ID
	case asic.AliasingGroup:
		for _, m := range forwarding(x) {
			if v.members[m]++; v.members[m] == 1 {
				added = append(added, m)
			}
		}
		// A member released and taken again stays: neither write it nor
		// delete it.
		both := intersect(removed, added)
		removed, added = subtract(removed, both), subtract(added, both)
	}
	return added, removed
}

// release undoes what put did for old. next is the entity replacing it (nil
// for a delete), so that rids still in use survive.
func (v *view) release(old asic.Entity, next asic.Entity) (removed []asic.RemotePEID) {
	for _, r := range references(old, &[2]asic.Key{}) {
		if v.refs[r]--; v.refs[r] <= 0 {
			delete(v.refs, r)
		}
	}
	v.remove(old.Key())
	switch x := old.(type) {
	case asic.BridgeDomain:
		delete(v.serviceLabels, x.UnicastLabel)
		delete(v.serviceLabels, x.BUMLabel)
	case asic.Segment:
		delete(v.esiLabels, x.ESILabel)
	case asic.AttachmentCircuit:
		delete(v.acKeys, acMatch{x.Port, x.VLAN, x.InnerVLAN})
	case asic.AliasingGroup:
		for _, m := range forwarding(x) {
			if v.members[m]--; v.members[m] <= 0 {
				delete(v.members, m)
				removed = append(removed, m)
			}
		}
	case asic.FloodGroup:
		keep := map[asic.RemotePEID]bool{}
		if n, ok := next.(asic.FloodGroup); ok {
			for _, m := range n.Members {
				keep[m.PE] = true
			}
		}
		for _, m := range x.Members {
			if m.PE != 0 && !keep[m.PE] {
				v.freeRID(ridKey{x.BD, m.PE})
			}
		}
	}
	return removed
}

// subtract returns a without the elements of b.
func subtract(a, b []asic.RemotePEID) []asic.RemotePEID {
	var out []asic.RemotePEID
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x == y
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}

// intersect returns the elements of a that are in b.
func intersect(a, b []asic.RemotePEID) []asic.RemotePEID {
	return subtract(a, subtract(a, b))
}

// references is asic.References without an allocation for FDB entries, the
// bulk of every large write; buf holds the result.
func references(e asic.Entity, buf *[2]asic.Key) []asic.Key {
	f, ok := e.(asic.FDBEntry)
	if !ok {
		return asic.References(e)
	}
	buf[0] = asic.Key{Kind: asic.KindBridgeDomain, A: uint32(f.BD)}
	switch f.Dest.Kind {
	case asic.ToAC:
		buf[1] = asic.Key{Kind: asic.KindAttachmentCircuit, A: uint32(f.Dest.AC)}
	case asic.ToRemotePE:
		buf[1] = asic.Key{Kind: asic.KindRemotePE, A: uint32(f.Dest.PE)}
	case asic.ToAliasingGroup:
		buf[1] = asic.Key{Kind: asic.KindAliasingGroup, A: uint32(f.Dest.Group)}
	default:
		return buf[:1]
	}
	return buf[:2]
}
