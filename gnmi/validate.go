package gnmi

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Validate checks what the YANG schema says beyond single leaves (mandatory
// leaves, leafrefs, when guards, ESI type rules) and what p4evpn requires of
// a PE config (one EVI per MAC-VRF, an AC in one MAC-VRF only). Each problem
// names its path; all are reported together.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %w", path, fmt.Sprintf(format, args...), errInvalid))
	}
	for name, ifc := range c.Interfaces {
		p := fmt.Sprintf("/interfaces/interface[name=%s]", name)
		if ifc.Name != name {
			bad(p, "config/name %q differs from the key", ifc.Name)
		}
		for idx, sub := range ifc.Subinterfaces {
			if sub.Index != idx {
				bad(fmt.Sprintf("%s/subinterfaces/subinterface[index=%d]", p, idx), "config/index %d differs from the key", sub.Index)
			}
		}
	}
	acOwner := map[string]string{} // "interface.sub" -> NI name
	eviOwner := map[uint32]string{}
	for _, name := range sortedKeys(c.NetworkInstances) {
		c.validateNetworkInstance(name, acOwner, eviOwner, bad)
	}
	esiOwner := map[string]string{}
	for _, name := range sortedKeys(c.EthernetSegments) {
		c.validateEthernetSegment(name, esiOwner, bad)
	}
	return errors.Join(errs...)
}

func (c *Config) validateNetworkInstance(name string, acOwner map[string]string, eviOwner map[uint32]string, bad func(string, string, ...any)) {
	ni := c.NetworkInstances[name]
	p := fmt.Sprintf("/network-instances/network-instance[name=%s]", name)
	if ni.Name != name {
		bad(p, "config/name %q differs from the key", ni.Name)
	}
	switch ni.Type {
	case "":
		bad(p+"/config/type", "mandatory leaf is missing")
	case NetworkInstanceL2VSI, NetworkInstanceDefault:
	default:
		bad(p+"/config/type", "type %s is not supported by p4evpn (L2VSI for a MAC-VRF, DEFAULT_INSTANCE for BGP)", ni.Type)
	}
	if ni.Type == NetworkInstanceDefault {
		if ni.EncapsulationType != "" || ni.LabelAllocationMode != "" || ni.ControlWord != nil {
			bad(p+"/encapsulation", "exists only when type is not DEFAULT_INSTANCE")
		}
		if len(ni.EVPNInstances) > 0 {
			bad(p+"/evpn", "exists only for L2VSI or L3VRF")
		}
	}
	if len(ni.EVPNInstances) > 1 {
		bad(p+"/evpn/evpn-instances", "a MAC-VRF has one EVPN instance, got %d", len(ni.EVPNInstances))
	}
	for id, e := range ni.EVPNInstances {
		ep := fmt.Sprintf("%s/evpn/evpn-instances/evpn-instance[evi=%s]", p, id)
		if e.EVI != id {
			bad(ep, "config/evi %q differs from the key", e.EVI)
		}
		n, err := strconv.ParseUint(id, 10, 32)
		if err != nil || n < 1 || n > 1<<24-1 {
			bad(ep, "evi %q is not a number in 1..16777215", id)
			continue
		}
		if other, dup := eviOwner[uint32(n)]; dup {
			bad(ep, "evi %d is already used by network-instance %s", n, other)
		}
		eviOwner[uint32(n)] = name
	}
	for id, v := range ni.VLANs {
		if v.ID != id {
			bad(fmt.Sprintf("%s/vlans/vlan[vlan-id=%d]", p, id), "config/vlan-id %d differs from the key", v.ID)
		}
	}
	for _, id := range sortedKeys(ni.Interfaces) {
		ac := ni.Interfaces[id]
		ap := fmt.Sprintf("%s/interfaces/interface[id=%s]", p, id)
		if ac.ID != id {
			bad(ap, "config/id %q differs from the key", ac.ID)
		}
		if ac.Interface == "" {
			bad(ap+"/config/interface", "an attachment circuit needs an interface")
			continue
		}
		ifc, ok := c.Interfaces[ac.Interface]
		if !ok {
			bad(ap+"/config/interface", "interface %q does not exist under /interfaces", ac.Interface)
			continue
		}
		key := ac.Interface
		if ac.Subinterface != nil {
			sub, ok := ifc.Subinterfaces[*ac.Subinterface]
			if !ok {
				bad(ap+"/config/subinterface", "subinterface %d of %q does not exist", *ac.Subinterface, ac.Interface)
				continue
			}
			if len(ni.VLANs) > 0 && sub.VLAN != 0 && ni.VLANs[sub.VLAN] == nil {
				bad(ap, "subinterface %s.%d matches VLAN %d, which is not in this network-instance's vlans", ac.Interface, *ac.Subinterface, sub.VLAN)
			}
			key = fmt.Sprintf("%s.%d", ac.Interface, *ac.Subinterface)
		}
		if other, dup := acOwner[key]; dup {
			bad(ap, "%s is already an attachment circuit of network-instance %s", key, other)
		}
		acOwner[key] = name
	}
	for pn, b := range ni.BGP {
		if b.Name != pn {
			bad(fmt.Sprintf("%s/protocols/protocol[identifier=BGP][name=%s]", p, pn), "config/name %q differs from the key", b.Name)
		}
	}
}

func (c *Config) validateEthernetSegment(name string, esiOwner map[string]string, bad func(string, string, ...any)) {
	es := c.EthernetSegments[name]
	p := fmt.Sprintf("/ethernet-segments/ethernet-segment[name=%s]", name)
	if es.Name != name {
		bad(p, "config/name %q differs from the key", es.Name)
	}
	typ := es.ESIType
	if typ == "" {
		typ = ESIType0Operator // the model's default
	}
	typeNum := slices.Index(esiTypes, string(typ))
	switch {
	case es.ESI == "" && typ == ESIType0Operator:
		bad(p+"/config/esi", "a TYPE_0_OPERATOR_CONFIGURED segment needs an explicit esi")
	case es.ESI == "AUTO" && typ == ESIType0Operator:
		bad(p+"/config/esi", "AUTO is not allowed for TYPE_0_OPERATOR_CONFIGURED")
	case es.ESI != "" && es.ESI != "AUTO" && (typ == ESIType1LACP || typ == ESIType2Bridge):
		bad(p+"/config/esi", "%s must use AUTO, got %q", typ, es.ESI)
	case es.ESI != "" && es.ESI != "AUTO":
		esi, err := parseOCESI(es.ESI)
		if err != nil {
			bad(p+"/config/esi", "%v", err)
			break
		}
		if int(esi.Type()) != typeNum {
			bad(p+"/config/esi", "esi %s has type octet %d, but esi-type is %s", es.ESI, esi.Type(), typ)
		}
		if esi.IsZero() {
			bad(p+"/config/esi", "the zero esi is reserved for single-homed sites")
		}
		k := strings.ToLower(es.ESI)
		if other, dup := esiOwner[k]; dup {
			bad(p+"/config/esi", "esi %s is already used by ethernet-segment %s", es.ESI, other)
		}
		esiOwner[k] = name
	}
	if es.Interface != "" {
		ifc, ok := c.Interfaces[es.Interface]
		switch {
		case !ok:
			bad(p+"/config/interface", "interface %q does not exist under /interfaces", es.Interface)
		case es.Subinterface != nil && ifc.Subinterfaces[*es.Subinterface] == nil:
			bad(p+"/config/subinterface", "subinterface %d of %q does not exist", *es.Subinterface, es.Interface)
		}
	}
	if es.DFElectionMethod != DFPreference && (es.Preference != nil || es.Revertive != nil || es.ElectionWaitTime != nil) {
		bad(p+"/df-election/config", "preference, revertive and election-wait-time exist only when df-election-method is PREFERENCE")
	}
}

// IsRevertive reports the revertive setting, true by the model's default.
func (es *EthernetSegment) IsRevertive() bool {
	return es.Revertive == nil || *es.Revertive
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
