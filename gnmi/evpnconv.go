package gnmi

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// EVPNPlan is a Config in evpn/'s terms: what evpnd's Device hands to
// evpn.PE.AddSegment and AddEVI (and diffs to find RemoveEVI calls).
type EVPNPlan struct {
	Segments []evpn.SegmentConfig
	EVIs     []evpn.EVIConfig
	// DuplicateDetection holds each EVI's mac-mobility settings. OpenConfig
	// configures them per MAC-VRF; evpn.Config has one per PE, so evpnd
	// applies them when they agree and refuses the config otherwise.
	DuplicateDetection map[uint32]evpn.DuplicateDetection
	// ElectionWait holds each segment's election-wait-time (seconds: the
	// model gives no unit; RFC 7432 §8.5's timer is 3 s by default).
	ElectionWait map[route.ESI]time.Duration
	// ACs names each planned attachment circuit, for telemetry (FromEVPNMAC).
	ACs map[asic.ACID]ACRef
}

// ACRef is the interface and subinterface an attachment circuit is on.
type ACRef struct {
	Interface    string
	Subinterface uint32
}

// ACIDFor is the attachment-circuit ID the plan gives (port, VLAN): evpn
// allows one AC per port and VLAN, so the pair is a stable identity that
// does not shift when other ACs come and go.
func ACIDFor(port asic.PortID, vlan uint16) asic.ACID {
	return asic.ACID(uint32(port)<<12 | uint32(vlan))
}

// EVPN converts c into an EVPNPlan. ports maps interface names to switch
// ports. Each L2VSI network instance with an EVPN instance becomes one EVI
// (VLAN-based service; bridge domain = EVI number); each Ethernet segment
// with an explicit ESI becomes a segment. Everything evpn cannot express is
// an error naming the path.
func (c *Config) EVPN(ports map[string]asic.PortID) (*EVPNPlan, error) {
	plan := &EVPNPlan{DuplicateDetection: map[uint32]evpn.DuplicateDetection{}, ElectionWait: map[route.ESI]time.Duration{}, ACs: map[asic.ACID]ACRef{}}
	var errs []error
	segOf := map[string]route.ESI{} // "interface" or "interface.sub" -> ESI
	for _, name := range sortedKeys(c.EthernetSegments) {
		seg, err := c.segmentPlan(name, plan, segOf)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		plan.Segments = append(plan.Segments, seg)
	}
	for _, name := range sortedKeys(c.NetworkInstances) {
		ni := c.NetworkInstances[name]
		if ni.Type != NetworkInstanceL2VSI || len(ni.EVPNInstances) == 0 {
			continue
		}
		e, err := c.eviPlan(ni, ports, segOf, plan.ACs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		plan.EVIs = append(plan.EVIs, e)
		dd := evpn.DuplicateDetection{Moves: int(ni.FDB.MobilityThreshold()), Window: time.Duration(ni.FDB.MobilityWindow()) * time.Second}
		plan.DuplicateDetection[e.ID] = dd
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return plan, nil
}

func (c *Config) segmentPlan(name string, plan *EVPNPlan, segOf map[string]route.ESI) (evpn.SegmentConfig, error) {
	es := c.EthernetSegments[name]
	p := fmt.Sprintf("/ethernet-segments/ethernet-segment[name=%s]", name)
	if es.ESI == "" || es.ESI == "AUTO" {
		return evpn.SegmentConfig{}, fmt.Errorf("%s/config/esi: an auto-derived ESI is not supported by evpn yet; configure the 20 hex digits: %w", p, errInvalid)
	}
	esi, err := parseOCESI(es.ESI)
	if err != nil {
		return evpn.SegmentConfig{}, fmt.Errorf("%s/config/esi: %w: %w", p, err, errInvalid)
	}
	seg := evpn.SegmentConfig{ESI: esi, Redundancy: evpn.AllActive}
	if es.RedundancyMode == SingleActive {
		seg.Redundancy = evpn.SingleActive
	}
	switch es.DFElectionMethod {
	case "", DFDefault:
		seg.DF.Algorithm = route.DFModulo
	case DFHighestRandomWeight:
		seg.DF.Algorithm = route.DFHRW
	case DFPreference:
		seg.DF.Algorithm = route.DFPreference
		if es.Preference != nil {
			seg.DF.Preference = *es.Preference
		}
		seg.DF.NonRevertive = !es.IsRevertive()
	}
	if es.ElectionWaitTime != nil {
		plan.ElectionWait[esi] = time.Duration(*es.ElectionWaitTime) * time.Second
	}
	if es.Interface != "" {
		k := es.Interface
		if es.Subinterface != nil {
			k += "." + strconv.FormatUint(uint64(*es.Subinterface), 10)
		}
		segOf[k] = esi
	}
	return seg, nil
}

func (c *Config) eviPlan(ni *NetworkInstance, ports map[string]asic.PortID, segOf map[string]route.ESI, acs map[asic.ACID]ACRef) (evpn.EVIConfig, error) {
	p := fmt.Sprintf("/network-instances/network-instance[name=%s]", ni.Name)
	var id string
	var inst *EVPNInstance
	for k, v := range ni.EVPNInstances {
		id, inst = k, v
	}
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil || n < 1 || n > 0xFFFF {
		return evpn.EVIConfig{}, fmt.Errorf("%s/evpn/evpn-instances/evpn-instance[evi=%s]: evpn needs an EVI number in 1..65535 (it derives the type-1 RD): %w", p, id, errInvalid)
	}
	e := evpn.EVIConfig{ID: uint32(n), BD: asic.BridgeDomainID(n)}
	if inst.ServiceType != "" && inst.ServiceType != ServiceVLANBased {
		return e, fmt.Errorf("%s/evpn: service-type %s is not supported by evpn (VLAN_BASED only): %w", p, inst.ServiceType, errInvalid)
	}
	if inst.EncapsulationType == EncapsulationVXLAN || ni.EncapsulationType == EncapsulationVXLAN {
		return e, fmt.Errorf("%s: VXLAN encapsulation is not supported by evpn yet (MPLS only): %w", p, errInvalid)
	}
	rd := ni.RouteDistinguisher
	if inst.RouteDistinguisher != "" {
		rd = inst.RouteDistinguisher // the EVI's overrides the NI's; AUTO derives
	}
	if rd != "" && rd != "AUTO" {
		r, err := route.ParseRD(rd)
		if err != nil {
			return e, fmt.Errorf("%s: route distinguisher %q: %w: %w", p, rd, err, errInvalid)
		}
		e.RD = &r
	}
	imp, exp := ni.ImportRouteTargets, ni.ExportRouteTargets
	if len(inst.ImportRouteTargets) > 0 || len(inst.ExportRouteTargets) > 0 {
		imp, exp = inst.ImportRouteTargets, inst.ExportRouteTargets
	}
	if e.ImportRTs, err = parseRTs(imp); err != nil {
		return e, fmt.Errorf("%s: import route targets: %w", p, err)
	}
	if e.ExportRTs, err = parseRTs(exp); err != nil {
		return e, fmt.Errorf("%s: export route targets: %w", p, err)
	}
	if ni.FDB.MaximumEntries != nil {
		e.MACLimit = int(*ni.FDB.MaximumEntries)
	}
	vlans := make([]uint16, 0, len(ni.VLANs))
	for v := range ni.VLANs {
		vlans = append(vlans, v)
	}
	slices.Sort(vlans)
	if len(vlans) > 1 {
		return e, fmt.Errorf("%s/vlans: a VLAN-based EVI bridges one VLAN, got %v: %w", p, vlans, errInvalid)
	}
	if len(vlans) == 1 {
		e.VLAN = vlans[0]
	}
	for _, acName := range sortedKeys(ni.Interfaces) {
		ac := ni.Interfaces[acName]
		port, ok := ports[ac.Interface]
		if !ok {
			return e, fmt.Errorf("%s/interfaces/interface[id=%s]: interface %q is not a port of this switch: %w", p, acName, ac.Interface, errInvalid)
		}
		cfg := evpn.ACConfig{Port: port, ESI: segOf[ac.Interface]}
		ref := ACRef{Interface: ac.Interface}
		if ac.Subinterface != nil {
			ref.Subinterface = *ac.Subinterface
			sub := c.subinterface(ac.Interface, *ac.Subinterface)
			if sub == nil {
				return e, fmt.Errorf("%s/interfaces/interface[id=%s]: subinterface %d of %q does not exist: %w", p, acName, *ac.Subinterface, ac.Interface, errInvalid)
			}
			cfg.VLAN = sub.VLAN
			if esi, ok := segOf[ac.Interface+"."+strconv.FormatUint(uint64(*ac.Subinterface), 10)]; ok {
				cfg.ESI = esi
			}
		}
		cfg.ID = ACIDFor(port, cfg.VLAN)
		acs[cfg.ID] = ref
		e.ACs = append(e.ACs, cfg)
	}
	return e, nil
}

// parseRTs converts route-target leaf-list values; AUTO (alone) leaves the
// list empty, so evpn derives ASN:EVI (RFC 7432 §7.10.1).
func parseRTs(ss []string) ([]route.RouteTarget, error) {
	var out []route.RouteTarget
	for _, s := range ss {
		if s == "AUTO" {
			continue
		}
		rt, err := route.ParseRouteTarget(strings.TrimPrefix(s, "route-target:"))
		if err != nil {
			return nil, fmt.Errorf("%q: %w: %w", s, err, errInvalid)
		}
		out = append(out, rt)
	}
	return out, nil
}

func (c *Config) subinterface(name string, index uint32) *Subinterface {
	if ifc := c.Interfaces[name]; ifc != nil {
		return ifc.Subinterfaces[index]
	}
	return nil
}
