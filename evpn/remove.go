package evpn

import (
	"context"
	"fmt"
	"slices"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// RemoveEVI deconfigures an EVI: it withdraws the routes the EVI
// originated, forgets the routes imported into it and removes its forwarding
// state from the switch. Segments keep existing; their routes are withdrawn
// when no EVI uses them any more.
func (pe *PE) RemoveEVI(ctx context.Context, id uint32) error {
	return pe.run(ctx, func() error {
		e := pe.evis[id]
		if e == nil {
			return fmt.Errorf("remove evi %d: not configured", id)
		}
		segs := make([]*ethernetSegment, 0)
		for _, ac := range e.acs {
			if ac.seg != nil && !slices.Contains(segs, ac.seg) {
				segs = append(segs, ac.seg)
			}
		}
		for _, s := range segs {
			if s.local.up {
				pe.withdraw(pe.perEVIRoute(s, e).NLRI)
			}
		}
		pe.withdraw(route3Key(pe, e))
		e.removing = true
		for mac, me := range e.macs {
			if me.local != nil {
				pe.withdrawMAC(e, mac, me)
				pe.dropLocal(e, mac, me)
			}
			for len(me.remotes) > 0 {
				pe.removeMACPathAt(e, mac, me, len(me.remotes)-1)
			}
			if e.macs[mac] == me {
				pe.resolve(e, mac, me)
			}
		}
		for k := range e.perEVIAD {
			pe.removePerEVI(e, k)
		}
		for k := range e.imet {
			pe.removeIMET(e, k)
		}
		pe.write(asic.Delete(asic.FloodGroup{BD: e.bd}))
		for _, s := range segs {
			if _, ok := s.local.dfInstalled[e]; ok {
				pe.write(asic.Delete(asic.DFState{Segment: s.local.id, BD: e.bd}))
			}
			delete(s.local.dfInstalled, e)
			delete(s.local.elected, e)
		}
		for _, ac := range e.acs {
			pe.write(asic.Delete(asic.AttachmentCircuit{ID: ac.cfg.ID}))
			delete(pe.acs, ac.cfg.ID)
			if ac.seg != nil {
				ac.seg.local.acs = slices.DeleteFunc(ac.seg.local.acs, func(x *attachment) bool { return x == ac })
			}
		}
		pe.write(asic.Delete(asic.BridgeDomain{ID: e.bd}))
		for _, s := range segs {
			if len(s.evis()) == 0 {
				pe.withdraw(pe.perESRoute(s, nil).NLRI)
				pe.withdraw(pe.esRoute(s).NLRI)
				pe.stopTimer(s.local.timer)
				s.local.timer = nil
			} else if s.local.up {
				pe.announce(pe.perESRoute(s, s.evis()))
			}
		}
		for _, rt := range e.importRTs {
			pe.rtIndex[rt] = slices.DeleteFunc(pe.rtIndex[rt], func(x *evi) bool { return x == e })
			if len(pe.rtIndex[rt]) == 0 {
				delete(pe.rtIndex, rt)
			}
		}
		for rd, evis := range pe.rdIndex {
			if evis = slices.DeleteFunc(evis, func(x *evi) bool { return x == e }); len(evis) == 0 {
				delete(pe.rdIndex, rd)
			} else {
				pe.rdIndex[rd] = evis
			}
		}
		delete(pe.evis, e.id)
		delete(pe.bds, e.bd)
		pe.labels.put(e.unicastLabel)
		pe.labels.put(e.bumLabel)
		return nil
	})
}

// RemoveSegment deconfigures a local segment no EVI uses any more (remove
// those first): it deletes the segment's split-horizon state and returns its
// ESI label. What remote PEs advertise for the ESI is kept.
func (pe *PE) RemoveSegment(ctx context.Context, esi route.ESI) error {
	return pe.run(ctx, func() error {
		s := pe.segments[esi]
		if s == nil || s.local == nil {
			return fmt.Errorf("remove segment %s: not configured", esi)
		}
		if evis := s.evis(); len(evis) > 0 {
			return fmt.Errorf("remove segment %s: still used by evi %d", esi, evis[0].id)
		}
		pe.stopTimer(s.local.timer)
		for r := range s.local.peers {
			pe.write(asic.Delete(asic.SegmentPeer{Segment: s.local.id, PE: r.id}))
		}
		pe.write(asic.Delete(asic.Segment{ID: s.local.id}))
		pe.segIDs.put(uint32(s.local.id))
		pe.labels.put(s.local.esiLabel)
		s.local = nil
		return nil
	})
}
