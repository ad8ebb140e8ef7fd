package p4evpn

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/config"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
	"github.com/p4evpn/p4evpn/gnmi"
)

// The YAML file is the startup configuration; gNMI then edits it live. The
// gNMI model names ports "eth<id>" and an attachment circuit's subinterface
// by its VLAN (0: untagged); a MAC-VRF's network instance is the EVI's name.

// InterfaceName is the gNMI interface name of switch port id.
func InterfaceName(id uint32) string { return "eth" + strconv.FormatUint(uint64(id), 10) }

// Names of the BGP instance in gNMI (OpenConfig: an unnamed default
// instance is DEFAULT).
const (
	DefaultInstance = "DEFAULT"
	BGPProtocol     = "BGP"
)

// plannedSegment is a segment with its gNMI name.
type plannedSegment struct {
	name string
	cfg  evpn.SegmentConfig
}

// plannedEVI is an EVI with its network instance's name.
type plannedEVI struct {
	name string
	cfg  evpn.EVIConfig
}

// startupPlan is the YAML file's EVPN configuration, in file order.
type startupPlan struct {
	segments []plannedSegment
	evis     []plannedEVI
}

// effectiveDuplicateDetection is the PE-wide RFC 7432 §15.1 setting with
// the defaults filled in, so that EVIs from the file and from gNMI compare
// equal when they mean the same.
func effectiveDuplicateDetection(t config.Timers) evpn.DuplicateDetection {
	dd := evpn.DuplicateDetection{Moves: t.DuplicateMoves, Window: t.DuplicateWindow, Recovery: t.DuplicateRecovery}
	if dd.Moves == 0 {
		dd.Moves = evpn.DefaultDupMoves
	}
	if dd.Window == 0 {
		dd.Window = evpn.DefaultDupWindow
	}
	return dd
}

func newStartupPlan(c *config.Config) (startupPlan, error) {
	var p startupPlan
	segs, err := c.SegmentConfigs()
	if err != nil {
		return p, err
	}
	for i, s := range segs {
		p.segments = append(p.segments, plannedSegment{name: c.Segments[i].Name, cfg: s})
	}
	evis, err := c.EVIConfigs()
	if err != nil {
		return p, err
	}
	dd := effectiveDuplicateDetection(c.Timers)
	for i, e := range evis {
		e.DuplicateDetection = dd
		p.evis = append(p.evis, plannedEVI{name: c.EVIs[i].Name, cfg: e})
	}
	return p, nil
}

// GNMIConfig converts the YAML file into the OpenConfig running config the
// gNMI server starts with: the ports as interfaces with one subinterface
// per attachment circuit VLAN, each EVI as an L2VSI network instance, the
// Ethernet segments, and the BGP neighbors under the DEFAULT instance.
// What OpenConfig cannot say (a double-tagged AC, static MACs, per-AC MAC
// limits, a bridge domain other than the EVI) stays in effect and is kept
// across gNMI Sets that leave the EVI alone.
func GNMIConfig(c *config.Config) (*gnmi.Config, error) {
	out := &gnmi.Config{
		Interfaces:       map[string]*gnmi.Interface{},
		NetworkInstances: map[string]*gnmi.NetworkInstance{},
		EthernetSegments: map[string]*gnmi.EthernetSegment{},
	}
	yes := true
	for _, p := range c.Ports {
		n := InterfaceName(p.ID)
		out.Interfaces[n] = &gnmi.Interface{Name: n, Type: "ethernetCsmacd", Enabled: &yes, Description: p.Kind,
			Subinterfaces: map[uint32]*gnmi.Subinterface{}}
	}
	b := &gnmi.BGP{Identifier: BGPProtocol, Name: BGPProtocol, AS: c.ASN, RouterID: c.RouterID, Neighbors: map[string]*gnmi.BGPNeighbor{}}
	for _, n := range c.BGP.Neighbors {
		peerAS := n.ASN
		if peerAS == 0 {
			peerAS = c.ASN
		}
		typ := "INTERNAL"
		if peerAS != c.ASN {
			typ = "EXTERNAL"
		}
		nb := &gnmi.BGPNeighbor{Address: n.Address, PeerAS: peerAS, PeerType: typ, Enabled: &yes, LocalAddress: n.LocalAddress,
			AFISafis: map[string]*gnmi.BGPAFISafi{"L2VPN_EVPN": {Name: "L2VPN_EVPN", Enabled: &yes}}}
		if n.Passive {
			nb.PassiveMode = &yes
		}
		b.Neighbors[n.Address] = nb
	}
	out.NetworkInstances[DefaultInstance] = &gnmi.NetworkInstance{Name: DefaultInstance, Type: gnmi.NetworkInstanceDefault,
		RouterID: c.RouterID, BGP: map[string]*gnmi.BGP{BGPProtocol: b}}
	if c.Mode == config.ModeRouteReflector {
		return out, nil
	}

	// Each segment's interface: the port of its ACs, narrowed to the AC's
	// subinterface unless every AC of the port is on the segment.
	type acAt struct {
		port uint32
		vlan uint16
	}
	segACs := map[string][]acAt{}
	portACs := map[uint32]int{}
	for _, e := range c.EVIs {
		for _, ac := range e.ACs {
			if ac.InnerVLAN != 0 {
				continue
			}
			portACs[ac.Port]++
			if ac.Segment != "" {
				segACs[ac.Segment] = append(segACs[ac.Segment], acAt{ac.Port, ac.VLAN})
			}
		}
	}
	dd := effectiveDuplicateDetection(c.Timers)
	for _, e := range c.EVIs {
		id := strconv.FormatUint(uint64(e.ID), 10)
		ni := &gnmi.NetworkInstance{Name: e.Name, Type: gnmi.NetworkInstanceL2VSI, EncapsulationType: gnmi.EncapsulationMPLS,
			VLANs: map[uint16]*gnmi.VLAN{}, Interfaces: map[string]*gnmi.NetworkInstanceInterface{},
			EVPNInstances: map[string]*gnmi.EVPNInstance{id: {EVI: id, EncapsulationType: gnmi.EncapsulationMPLS, ServiceType: gnmi.ServiceVLANBased}}}
		if e.RD != "" && e.RD != "auto" {
			ni.RouteDistinguisher = e.RD
		}
		ni.ImportRouteTargets = append(append([]string(nil), e.RouteTargets...), e.ImportRTs...)
		ni.ExportRouteTargets = append(append([]string(nil), e.RouteTargets...), e.ExportRTs...)
		if e.MACLimit > 0 {
			if e.MACLimit > 0xFFFF {
				return nil, fmt.Errorf("evis %d: mac-limit %d: OpenConfig's maximum-entries is 16 bits", e.ID, e.MACLimit)
			}
			m := uint16(e.MACLimit)
			ni.FDB.MaximumEntries = &m
		}
		w := uint16(dd.Window.Seconds())
		th := uint8(min(dd.Moves, 255))
		ni.FDB.MACMobilityWindow, ni.FDB.MACMobilityThreshold = &w, &th
		sameVLAN := true
		for _, ac := range e.ACs {
			if ac.VLAN != 0 && ac.VLAN != e.VLAN {
				sameVLAN = false
			}
		}
		if sameVLAN {
			ni.VLANs[e.VLAN] = &gnmi.VLAN{ID: e.VLAN}
		}
		for _, ac := range e.ACs {
			if ac.InnerVLAN != 0 {
				continue // not expressible: kept by the device
			}
			ifn := InterfaceName(ac.Port)
			ifc := out.Interfaces[ifn]
			sub := uint32(ac.VLAN)
			ifc.Subinterfaces[sub] = &gnmi.Subinterface{Index: sub, VLAN: ac.VLAN}
			acName := fmt.Sprintf("%s.%d", ifn, sub)
			ni.Interfaces[acName] = &gnmi.NetworkInstanceInterface{ID: acName, Interface: ifn, Subinterface: &sub}
		}
		out.NetworkInstances[e.Name] = ni
	}
	segs, err := c.SegmentConfigs()
	if err != nil {
		return nil, err
	}
	for i, s := range c.Segments {
		sc := segs[i]
		es := &gnmi.EthernetSegment{Name: s.Name, ESI: hex.EncodeToString(sc.ESI[:]), RedundancyMode: gnmi.AllActive}
		switch sc.ESI.Type() {
		case route.ESIType0Operator:
			es.ESIType = gnmi.ESIType0Operator
		case route.ESIType3MAC:
			es.ESIType = gnmi.ESIType3MAC
		default:
			return nil, fmt.Errorf("ethernet-segments %s: esi %s of type %d: OpenConfig only takes AUTO for it, which gNMI's EVPN mapping does not support; use a type 0 or 3 ESI (or no gnmi)", s.Name, s.ESI, sc.ESI.Type())
		}
		if sc.Redundancy == evpn.SingleActive {
			es.RedundancyMode = gnmi.SingleActive
		}
		switch sc.DF.Algorithm {
		case route.DFHRW:
			es.DFElectionMethod = gnmi.DFHighestRandomWeight
		case route.DFPreference:
			es.DFElectionMethod = gnmi.DFPreference
			pref, rev := sc.DF.Preference, !sc.DF.NonRevertive
			es.Preference, es.Revertive = &pref, &rev
			if sc.ElectionTimer > 0 {
				wt := uint32(sc.ElectionTimer.Seconds())
				es.ElectionWaitTime = &wt
			}
		default:
			es.DFElectionMethod = gnmi.DFDefault
		}
		acs := segACs[s.Name]
		if len(acs) > 0 {
			port := acs[0].port
			for _, a := range acs {
				if a.port != port {
					return nil, fmt.Errorf("ethernet-segments %s: its attachment circuits are on ports %d and %d; OpenConfig ties a segment to one interface", s.Name, port, a.port)
				}
			}
			es.Interface = InterfaceName(port)
			if len(acs) != portACs[port] {
				if len(acs) > 1 {
					return nil, fmt.Errorf("ethernet-segments %s: %d of the %d attachment circuits of port %d are on it; OpenConfig ties a segment to a whole interface or one subinterface", s.Name, len(acs), portACs[port], port)
				}
				sub := uint32(acs[0].vlan)
				es.Subinterface = &sub
			}
		}
		out.EthernetSegments[s.Name] = es
	}
	return out, nil
}

// portMap names the switch's ports for gnmi.Config.EVPN.
func portMap(c *config.Config) map[string]asic.PortID {
	m := make(map[string]asic.PortID, len(c.Ports))
	for _, p := range c.Ports {
		m[InterfaceName(p.ID)] = asic.PortID(p.ID)
	}
	return m
}
