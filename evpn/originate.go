package evpn

import (
	"github.com/p4evpn/p4evpn/evpn/route"
)

// segmentRD is the RD of this PE's ES and per-ES A-D routes: RouterID:0
// (RFC 7432 §7.9 type 1; EVI numbers start at 1 so it never collides).
func (pe *PE) segmentRD() route.RD { return route.AutoRD(pe.cfg.RouterID, 0) }

func (pe *PE) attrs(rts []route.RouteTarget) route.Attributes {
	return route.Attributes{NextHop: pe.cfg.RouterID, RouteTargets: rts}
}

// originateIMET announces the EVI's inclusive multicast route with its BUM
// label for ingress replication (RFC 7432 §11.1).
func (pe *PE) originateIMET(e *evi) {
	a := pe.attrs(e.exportRTs)
	a.PMSI = &route.PMSITunnel{TunnelType: route.TunnelTypeIngressReplication, Label: e.bumLabel, TunnelID: pe.cfg.RouterID}
	pe.announce(route.Path{NLRI: route3Key(pe, e), Attrs: a})
}

// route3Key is the key of the EVI's IMET route.
func route3Key(pe *PE, e *evi) route.NLRI {
	return route.InclusiveMulticast{RD: e.rd, OriginatorIP: pe.cfg.RouterID}
}

func (pe *PE) esRoute(s *ethernetSegment) route.Path {
	imp := s.esi.ESImportRT()
	a := pe.attrs(nil)
	a.ESImport = &imp
	a.DFElection = &route.DFElection{Algorithm: s.local.cfg.DF.Algorithm}
	if s.local.cfg.DF.Algorithm == route.DFPreference {
		a.DFElection.Preference = s.local.advPref
		a.DFElection.DontPreempt = s.local.advDP
	}
	return route.Path{NLRI: route.EthernetSegment{RD: pe.segmentRD(), ESI: s.esi, OriginatorIP: pe.cfg.RouterID}, Attrs: a}
}

func (pe *PE) perESRoute(s *ethernetSegment, evis []*evi) route.Path {
	var rts []route.RouteTarget
	for _, e := range evis {
		for _, rt := range e.exportRTs {
			if !containsRT(rts, rt) {
				rts = append(rts, rt)
			}
		}
	}
	a := pe.attrs(rts)
	a.ESILabel = &route.ESILabel{SingleActive: s.local.cfg.Redundancy == SingleActive, Label: s.local.esiLabel}
	return route.Path{NLRI: route.EthernetAD{RD: pe.segmentRD(), ESI: s.esi, EthernetTag: route.MaxEthernetTag}, Attrs: a}
}

func (pe *PE) perEVIRoute(s *ethernetSegment, e *evi) route.Path {
	return route.Path{
		NLRI:  route.EthernetAD{RD: e.rd, ESI: s.esi, Label: e.unicastLabel},
		Attrs: pe.attrs(e.exportRTs),
	}
}

func containsRT(rts []route.RouteTarget, rt route.RouteTarget) bool {
	for _, r := range rts {
		if r == rt {
			return true
		}
	}
	return false
}

// originateSegment announces the ES route (RFC 7432 §7.4), the per-ES A-D
// route with the ESI label (§8.2, §8.3) and a per-EVI A-D route per EVI on
// the segment (§8.4), when the segment is up and has ACs.
func (pe *PE) originateSegment(s *ethernetSegment) {
	evis := s.evis()
	if !s.local.up || len(evis) == 0 {
		return
	}
	pe.announce(pe.esRoute(s))
	pe.announce(pe.perESRoute(s, evis))
	for _, e := range evis {
		pe.announce(pe.perEVIRoute(s, e))
	}
}

// withdrawSegment withdraws what originateSegment announced; the per-ES A-D
// withdrawal first, since it is what remote PEs act on for mass withdrawal.
func (pe *PE) withdrawSegment(s *ethernetSegment) {
	evis := s.evis()
	if len(evis) == 0 {
		return
	}
	pe.withdraw(pe.perESRoute(s, evis).NLRI)
	for _, e := range evis {
		pe.withdraw(pe.perEVIRoute(s, e).NLRI)
	}
	pe.withdraw(pe.esRoute(s).NLRI)
}

func (pe *PE) macRoute(e *evi, mac route.MAC, lm *localMAC) route.Path {
	n := route.MACIP{RD: e.rd, MAC: mac, Label1: e.unicastLabel}
	if lm.ac.seg != nil {
		n.ESI = lm.ac.seg.esi
	}
	a := pe.attrs(e.exportRTs)
	if lm.seq > 0 || lm.static {
		a.MACMobility = &route.MACMobility{Sequence: lm.seq, Sticky: lm.static}
	}
	return route.Path{NLRI: n, Attrs: a}
}

// advertiseMAC announces a local MAC's route unless it is frozen; a no-op
// when the route already went out with the same sequence (a change of
// segment withdraws first, so it goes out again).
func (pe *PE) advertiseMAC(e *evi, mac route.MAC, me *macEntry) {
	if me.local == nil || me.frozen() || e.removing {
		return
	}
	if me.advertised && me.advertisedSeq == me.local.seq {
		return
	}
	me.advertised, me.advertisedSeq = true, me.local.seq
	pe.announce(pe.macRoute(e, mac, me.local))
}

// withdrawMAC withdraws the local MAC route if one went out.
func (pe *PE) withdrawMAC(e *evi, mac route.MAC, me *macEntry) {
	if !me.advertised || me.local == nil {
		me.advertised = false
		return
	}
	me.advertised = false
	pe.withdraw(pe.macRoute(e, mac, me.local).NLRI)
}
