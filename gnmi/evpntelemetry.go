package gnmi

import (
	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn"
)

// FromEVPNMAC converts one row of evpn.PE.MACTable into the FIB entry and
// the L2RIB entry State publishes for it. vlan is the EVI's VLAN; acs names
// the attachment circuits (EVPNPlan.ACs).
func FromEVPNMAC(evi uint32, vlan uint16, m evpn.MACState, acs map[asic.ACID]ACRef) (MACEntry, L2RIBEntry) {
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
