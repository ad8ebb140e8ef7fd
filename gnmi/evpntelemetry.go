package gnmi

import (
	"net/netip"
	"slices"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn"
)

// Aliasing resolves the aliasing groups the PE forwards remote multihomed
// MACs through (RFC 7432 §8.4) into L2RIB next hops, from the forwarding
// state the PE wants (evpn.PE.DesiredState): each group's member PEs — the
// PEs that advertised the segment's per-ES and, for the EVI, per-EVI
// Ethernet A-D routes — each with the label of its per-EVI A-D route, the
// label the switch pushes toward it. Build it once per snapshot with
// NewAliasing; Groups answers per bridge domain.
type Aliasing struct {
	addrs  map[asic.RemotePEID]netip.Addr
	labels map[peBD]uint32
	groups []asic.AliasingGroup
}

type peBD struct {
	pe asic.RemotePEID
	bd asic.BridgeDomainID
}

// NewAliasing indexes the remote PEs, service labels and aliasing groups
// of desired.
func NewAliasing(desired []asic.Entity) *Aliasing {
	a := &Aliasing{addrs: map[asic.RemotePEID]netip.Addr{}, labels: map[peBD]uint32{}}
	for _, e := range desired {
		switch x := e.(type) {
		case asic.RemotePE:
			a.addrs[x.ID] = x.Address
		case asic.ServiceLabel:
			a.labels[peBD{x.PE, x.BD}] = x.Label
		case asic.AliasingGroup:
			a.groups = append(a.groups, x)
		}
	}
	return a
}

// Groups returns every aliasing group's next hops for bridge domain bd:
// the members in the group's order (a single-active segment's primary
// first), a member without a label for bd unresolved. The next hops carry
// no ESI: FromEVPNMAC sets the MAC's.
func (a *Aliasing) Groups(bd asic.BridgeDomainID) map[asic.GroupID][]L2NextHop {
	out := make(map[asic.GroupID][]L2NextHop, len(a.groups))
	for _, g := range a.groups {
		hops := make([]L2NextHop, 0, len(g.Members))
		for _, id := range g.Members {
			l := a.labels[peBD{id, bd}]
			hops = append(hops, L2NextHop{PeerIP: a.addrs[id], Label: l, Resolved: l != 0})
		}
		out[g.ID] = hops
	}
	return out
}

// FromEVPNMAC converts one row of evpn.PE.MACTable into the FIB entry and
// the L2RIB entry State publishes for it. vlan is the EVI's VLAN; acs names
// the attachment circuits (EVPNPlan.ACs); groups are the EVI's aliasing
// groups (Aliasing.Groups; nil when the EVI forwards through none). A MAC
// forwarded through an aliasing group gets every member of the group as a
// next hop, which State publishes as a next-hop group of the MAC's ESI.
func FromEVPNMAC(evi uint32, vlan uint16, m evpn.MACState, acs map[asic.ACID]ACRef, groups map[asic.GroupID][]L2NextHop) (MACEntry, L2RIBEntry) {
	fib := MACEntry{MAC: m.MAC, VLAN: vlan, EVI: evi, Static: m.Source == evpn.SourceStatic}
	prod := L2RIBProducer{SeqNumber: m.Sequence, ESI: m.ESI, Sticky: m.Sticky}
	if m.Frozen {
		// Duplicate detection froze it (RFC 7432 §15.1).
		prod.MobilityState = MobilityDuplicate
	}
	switch m.Source {
	case evpn.SourceLocal, evpn.SourceStatic:
		prod.Producer = ProducerLocal
		if m.Source == evpn.SourceStatic {
			prod.Producer = ProducerStatic
		}
		if ref, ok := acs[m.AC]; ok {
			fib.Interface, fib.Subinterface = ref.Interface, ref.Subinterface
			prod.NextHops = []L2NextHop{{Interface: ref.Interface, Subinterface: ref.Subinterface, ESI: m.ESI, Resolved: true}}
		}
	case evpn.SourceRemote:
		prod.Producer = ProducerBGP
		hop := L2NextHop{PeerIP: m.Peer, ESI: m.ESI, Resolved: m.Dest.Kind != asic.ToDrop}
		if m.Dest.Kind == asic.ToRemotePE {
			hop.Label = m.Dest.Label
		}
		prod.NextHops = []L2NextHop{hop}
		if members, ok := groups[m.Dest.Group]; ok && m.Dest.Kind == asic.ToAliasingGroup {
			prod.NextHops = slices.Clone(members)
			for i := range prod.NextHops {
				prod.NextHops[i].ESI = m.ESI
			}
			if len(members) == 0 {
				// Every PE of the segment withdrew: nothing to forward to.
				hop.Resolved = false
				prod.NextHops = []L2NextHop{hop}
			}
		}
		// A segment peer's MAC is forwarded on the local link (aliasing).
		if ref, ok := acs[m.AC]; ok && m.Dest.Kind == asic.ToAC {
			fib.Interface, fib.Subinterface = ref.Interface, ref.Subinterface
		}
	}
	rib := L2RIBEntry{MAC: m.MAC, VLAN: vlan, EVI: evi, Producers: []L2RIBProducer{prod}}
	return fib, rib
}

// SetEVPNSegment publishes the DF of every VLAN of an evpn segment under
// the Ethernet segment named es.
func (st *State) SetEVPNSegment(es string, s evpn.SegmentState) {
	for _, df := range s.DF {
		st.SetDesignatedForwarder(es, DesignatedForwarder{VLAN: df.VLAN, Address: df.DF, Local: df.Local})
	}
}
