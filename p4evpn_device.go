package p4evpn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"sync"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/bgp"
	"github.com/p4evpn/p4evpn/config"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
	"github.com/p4evpn/p4evpn/gnmi"
)

// device is the gnmi.Device of a Daemon: it applies a gNMI Set to the
// running PE as the difference between the EVPN configuration in effect and
// the one the Set asks for, all or nothing.
type device struct {
	d *Daemon

	// mu guards applied.
	mu      sync.Mutex
	applied evpnState
}

// evpnState is the EVPN configuration in effect, as the PE was given it.
type evpnState struct {
	segments map[route.ESI]plannedSegment
	// segOrder is the order segments were added in (a restart adds them in
	// the same order to reproduce their ids).
	segOrder []route.ESI
	evis     map[uint32]plannedEVI
}

func (s evpnState) clone() evpnState {
	return evpnState{segments: maps.Clone(s.segments), segOrder: slices.Clone(s.segOrder), evis: maps.Clone(s.evis)}
}

func newDevice(d *Daemon) *device {
	st := evpnState{segments: map[route.ESI]plannedSegment{}, evis: map[uint32]plannedEVI{}}
	for _, s := range d.plan.segments {
		st.segments[s.cfg.ESI] = s
		st.segOrder = append(st.segOrder, s.cfg.ESI)
	}
	for _, e := range d.plan.evis {
		st.evis[e.cfg.ID] = e
	}
	return &device{d: d, applied: st}
}

// names is what telemetry needs to name the PE's objects in gNMI.
type names struct {
	evis     map[uint32]plannedEVI
	segments map[route.ESI]string
	acs      map[asic.ACID]gnmi.ACRef
}

func (dv *device) names() names {
	dv.mu.Lock()
	defer dv.mu.Unlock()
	n := names{evis: maps.Clone(dv.applied.evis), segments: map[route.ESI]string{}, acs: map[asic.ACID]gnmi.ACRef{}}
	for esi, s := range dv.applied.segments {
		n.segments[esi] = s.name
	}
	for _, e := range dv.applied.evis {
		for _, ac := range e.cfg.ACs {
			n.acs[ac.ID] = gnmi.ACRef{Interface: InterfaceName(uint32(ac.Port)), Subinterface: uint32(ac.VLAN)}
		}
	}
	return n
}

// ApplyConfig implements gnmi.Device.
func (dv *device) ApplyConfig(ctx context.Context, prev, next *gnmi.Config) error {
	d := dv.d
	var ports map[string]asic.PortID
	if d.pe != nil {
		ports = portMap(d.cfg)
	}
	plan, err := next.EVPN(ports)
	if err != nil {
		return err
	}
	if d.pe == nil && (len(plan.EVIs) > 0 || len(plan.Segments) > 0) {
		return errors.New("this evpnd is a route reflector: it has no switch for MAC-VRFs or Ethernet segments")
	}
	dv.mu.Lock()
	defer dv.mu.Unlock()
	bgpSteps, err := dv.applyBGP(ctx, prev, next)
	if err != nil {
		return err
	}
	if d.pe != nil {
		want := dv.normalize(next, plan)
		if err := dv.apply(ctx, dv.applied, want); err != nil {
			return errors.Join(err, undo(ctx, d, bgpSteps))
		}
		dv.applied = want
	}
	d.requestRefresh()
	return nil
}

// bgpOf returns the BGP protocol of the DEFAULT instance, or nil.
func bgpOf(c *gnmi.Config) *gnmi.BGP {
	if ni := c.NetworkInstances[DefaultInstance]; ni != nil {
		return ni.BGP[BGPProtocol]
	}
	return nil
}

// neighbors returns the sessions c configures. A neighbor the file also
// configures keeps what OpenConfig does not carry (port, password, timers);
// a new one gets GoBGP's defaults and, on a route reflector, is a client.
func (dv *device) neighbors(c *gnmi.Config) (map[netip.Addr]bgp.Neighbor, error) {
	out := map[netip.Addr]bgp.Neighbor{}
	b := bgpOf(c)
	if b == nil {
		return out, nil
	}
	p := fmt.Sprintf("/network-instances/network-instance[name=%s]/protocols/protocol[identifier=BGP][name=%s]/bgp", DefaultInstance, BGPProtocol)
	if (b.AS != 0 && b.AS != dv.d.cfg.ASN) || (b.RouterID != "" && b.RouterID != dv.d.cfg.RouterID) {
		return nil, fmt.Errorf("%s/global/config: as %d router-id %q: evpnd takes its AS and router id (%d, %s) from its file", p, b.AS, b.RouterID, dv.d.cfg.ASN, dv.d.cfg.RouterID)
	}
	for key, g := range b.Neighbors {
		if g.Enabled != nil && !*g.Enabled {
			continue
		}
		addr, err := netip.ParseAddr(key)
		if err != nil {
			return nil, fmt.Errorf("%s/neighbors/neighbor[neighbor-address=%s]: not an IP address", p, key)
		}
		n := bgp.Neighbor{Address: addr, ASN: dv.d.cfg.ASN, RouteReflectorClient: dv.d.cfg.Mode == config.ModeRouteReflector}
		for _, f := range dv.d.bgpCfg.Neighbors {
			if f.Address == addr {
				n = f
			}
		}
		if g.PeerAS != 0 {
			n.ASN = g.PeerAS
		}
		if g.LocalAddress != "" {
			if n.LocalAddress, err = netip.ParseAddr(g.LocalAddress); err != nil {
				return nil, fmt.Errorf("%s/neighbors/neighbor[neighbor-address=%s]/transport/config/local-address: %q is not an IP address", p, key, g.LocalAddress)
			}
		}
		if g.PassiveMode != nil {
			n.Passive = *g.PassiveMode
		}
		out[addr] = n
	}
	return out, nil
}

// applyBGP adds, deletes and replaces BGP sessions; it returns the undo
// steps of what it did (run them in reverse on a later failure).
func (dv *device) applyBGP(ctx context.Context, prev, next *gnmi.Config) ([]step, error) {
	before, err := dv.neighbors(prev)
	if err != nil {
		return nil, err
	}
	after, err := dv.neighbors(next)
	if err != nil {
		return nil, err
	}
	speaker := dv.d.speaker
	var done []step
	fail := func(err error) ([]step, error) {
		undo(ctx, dv.d, done)
		return nil, err
	}
	for _, addr := range slices.SortedFunc(maps.Keys(before), netip.Addr.Compare) {
		old := before[addr]
		if n, ok := after[addr]; ok && reflect.DeepEqual(n, old) {
			continue
		}
		if err := speaker.DeleteNeighbor(ctx, addr); err != nil {
			return fail(fmt.Errorf("delete bgp neighbor %s: %w", addr, err))
		}
		done = append(done, step{what: "delete neighbor " + addr.String(), undo: func(ctx context.Context) error { return speaker.AddNeighbor(ctx, old) }})
	}
	for _, addr := range slices.SortedFunc(maps.Keys(after), netip.Addr.Compare) {
		n := after[addr]
		if old, ok := before[addr]; ok && reflect.DeepEqual(n, old) {
			continue
		}
		if err := speaker.AddNeighbor(ctx, n); err != nil {
			return fail(fmt.Errorf("/network-instances/network-instance[name=%s]/protocols/protocol[identifier=BGP][name=%s]/bgp/neighbors/neighbor[neighbor-address=%s]: %w", DefaultInstance, BGPProtocol, addr, err))
		}
		done = append(done, step{what: "add neighbor " + addr.String(), undo: func(ctx context.Context) error { return speaker.DeleteNeighbor(ctx, addr) }})
	}
	return done, nil
}

// undo runs the undo steps in reverse, logging what cannot be undone.
func undo(ctx context.Context, d *Daemon, done []step) error {
	uctx := context.WithoutCancel(ctx)
	var errs []error
	for i := len(done) - 1; i >= 0; i-- {
		if err := done[i].undo(uctx); err != nil {
			d.log.Error("gnmi set: undo failed; the PE differs from the running config", "step", done[i].what, "err", err)
			errs = append(errs, fmt.Errorf("undo %s: %w", done[i].what, err))
		}
	}
	return errors.Join(errs...)
}

// normalize turns a gNMI plan into the PE's terms, keeping what the
// running configuration has and OpenConfig cannot say: an EVI keeps its
// bridge domain, its ACs keep their ids, MAC limits and static MACs when
// they stay on the same port and VLAN, double-tagged ACs stay; a segment
// keeps its election timer unless one is configured.
func (dv *device) normalize(next *gnmi.Config, plan *gnmi.EVPNPlan) evpnState {
	cur := dv.applied
	out := evpnState{segments: map[route.ESI]plannedSegment{}, evis: map[uint32]plannedEVI{}}
	segNames := sortedKeys(next.EthernetSegments)
	for i, s := range plan.Segments {
		if w, ok := plan.ElectionWait[s.ESI]; ok {
			s.ElectionTimer = w
		}
		if old, ok := cur.segments[s.ESI]; ok && s.ElectionTimer == 0 {
			s.ElectionTimer = old.cfg.ElectionTimer
		}
		out.segments[s.ESI] = plannedSegment{name: segNames[i], cfg: s}
	}
	// Kept segments keep their position; new ones follow in name order.
	for _, esi := range cur.segOrder {
		if _, ok := out.segments[esi]; ok {
			out.segOrder = append(out.segOrder, esi)
		}
	}
	for _, s := range plan.Segments {
		if !slices.Contains(out.segOrder, s.ESI) {
			out.segOrder = append(out.segOrder, s.ESI)
		}
	}
	var niNames []string
	for _, n := range sortedKeys(next.NetworkInstances) {
		if ni := next.NetworkInstances[n]; ni.Type == gnmi.NetworkInstanceL2VSI && len(ni.EVPNInstances) > 0 {
			niNames = append(niNames, n)
		}
	}
	recovery := effectiveDuplicateDetection(dv.d.cfg.Timers).Recovery
	for i, e := range plan.EVIs {
		e.DuplicateDetection = plan.DuplicateDetection[e.ID]
		e.DuplicateDetection.Recovery = recovery
		if old, ok := cur.evis[e.ID]; ok {
			o := old.cfg
			e.BD = o.BD
			if e.VLAN == 0 {
				e.VLAN = o.VLAN
			}
			oldAC := map[[2]uint32]evpn.ACConfig{}
			for _, ac := range o.ACs {
				oldAC[[2]uint32{uint32(ac.Port), uint32(ac.VLAN)}] = ac
			}
			remap := map[asic.ACID]asic.ACID{}
			for j, ac := range e.ACs {
				if prev, ok := oldAC[[2]uint32{uint32(ac.Port), uint32(ac.VLAN)}]; ok && prev.InnerVLAN == 0 {
					remap[prev.ID] = prev.ID
					e.ACs[j].ID, e.ACs[j].MACLimit = prev.ID, prev.MACLimit
				}
			}
			for _, ac := range o.ACs {
				if ac.InnerVLAN != 0 {
					e.ACs = append(e.ACs, ac)
					remap[ac.ID] = ac.ID
				}
			}
			for _, sm := range o.StaticMACs {
				if _, ok := remap[sm.AC]; ok {
					e.StaticMACs = append(e.StaticMACs, sm)
				}
			}
		}
		out.evis[e.ID] = plannedEVI{name: niNames[i], cfg: e}
	}
	dv.allocateACIDs(out)
	return out
}

// maxACID is the largest AC id the pipeline takes (p4asic: an AC's id is
// its 14-bit egress replication id).
const maxACID = 1<<14 - 1

// allocateACIDs gives every AC that is not in effect yet the smallest id
// no AC uses, instead of gnmi.ACIDFor's port<<12|VLAN, which does not fit
// 14 bits from port 4 on. The ids of ACs in effect are never reused within
// one Set, so a removal and an addition cannot collide in the switch.
func (dv *device) allocateACIDs(st evpnState) {
	used := map[asic.ACID]bool{}
	running := map[[3]uint32]asic.ACID{}
	for _, e := range dv.applied.evis {
		for _, ac := range e.cfg.ACs {
			used[ac.ID] = true
			running[[3]uint32{e.cfg.ID, uint32(ac.Port), uint32(ac.VLAN)<<16 | uint32(ac.InnerVLAN)}] = ac.ID
		}
	}
	next := asic.ACID(1)
	for _, id := range slices.Sorted(maps.Keys(st.evis)) {
		e := st.evis[id]
		for j, ac := range e.cfg.ACs {
			if rid, ok := running[[3]uint32{id, uint32(ac.Port), uint32(ac.VLAN)<<16 | uint32(ac.InnerVLAN)}]; ok && rid == ac.ID {
				continue
			}
			for used[next] && next <= maxACID {
				next++
			}
			// Past maxACID the PE refuses the AC, and the Set fails.
			e.cfg.ACs[j].ID = next
			used[next] = true
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := slices.Collect(maps.Keys(m))
	sort.Strings(out)
	return out
}

// step is one applied change and how to undo it.
type step struct {
	what string
	undo func(context.Context) error
}

// apply changes the PE from cur to want: EVIs that go or change are
// removed, then segments that go or change (with the EVIs using them),
// then segments and EVIs are added; the import policy follows. Any error
// undoes the steps taken, in reverse.
func (dv *device) apply(ctx context.Context, cur, want evpnState) (err error) {
	pe, speaker := dv.d.pe, dv.d.speaker
	var done []step
	defer func() {
		if err != nil {
			// Undo with a context of its own: the Set's may be what failed.
			err = errors.Join(err, undo(ctx, dv.d, done))
		}
	}()
	changedSeg := map[route.ESI]bool{}
	for esi, s := range cur.segments {
		if w, ok := want.segments[esi]; !ok || !reflect.DeepEqual(w.cfg, s.cfg) {
			changedSeg[esi] = true
		}
	}
	usesChanged := func(e evpn.EVIConfig) bool {
		for _, ac := range e.ACs {
			if changedSeg[ac.ESI] {
				return true
			}
		}
		return false
	}
	var removeEVIs, addEVIs []uint32
	for id, e := range cur.evis {
		if w, ok := want.evis[id]; !ok || !reflect.DeepEqual(w.cfg, e.cfg) || usesChanged(e.cfg) {
			removeEVIs = append(removeEVIs, id)
		}
	}
	for id, w := range want.evis {
		if e, ok := cur.evis[id]; !ok || slices.Contains(removeEVIs, id) || !reflect.DeepEqual(w.cfg, e.cfg) {
			addEVIs = append(addEVIs, id)
		}
	}
	slices.Sort(removeEVIs)
	slices.Sort(addEVIs)
	newSeg := false
	for esi := range want.segments {
		if _, ok := cur.segments[esi]; !ok {
			newSeg = true
		}
	}
	if len(removeEVIs) == 0 && len(addEVIs) == 0 && len(changedSeg) == 0 && !newSeg {
		return nil
	}
	// kept is cur without what is removed: the import policy while the
	// changes are under way, so that an EVI added back with route targets
	// it had before gets its routes delivered again.
	kept := cur.clone()
	for _, id := range removeEVIs {
		old := cur.evis[id]
		if err := pe.RemoveEVI(ctx, id); err != nil {
			return fmt.Errorf("remove evi %d (%s): %w", id, old.name, err)
		}
		delete(kept.evis, id)
		done = append(done, step{what: fmt.Sprintf("remove evi %d", id), undo: func(ctx context.Context) error { return pe.AddEVI(ctx, old.cfg) }})
	}
	for _, esi := range slices.Backward(cur.segOrder) {
		if !changedSeg[esi] {
			continue
		}
		old := cur.segments[esi]
		if err := pe.RemoveSegment(ctx, esi); err != nil {
			return fmt.Errorf("remove ethernet segment %s (%s): %w", old.name, esi, err)
		}
		delete(kept.segments, esi)
		done = append(done, step{what: "remove segment " + old.name, undo: func(ctx context.Context) error { return pe.AddSegment(ctx, old.cfg) }})
	}
	if len(removeEVIs) > 0 || len(changedSeg) > 0 {
		if err := speaker.SetImportPolicy(ctx, importPolicy(dv.d.cfg.ASN, kept)); err != nil {
			return fmt.Errorf("bgp import policy: %w", err)
		}
		done = append(done, step{what: "narrow the import policy", undo: func(ctx context.Context) error {
			return speaker.SetImportPolicy(ctx, importPolicy(dv.d.cfg.ASN, cur))
		}})
	}
	for _, esi := range want.segOrder {
		if _, ok := kept.segments[esi]; ok {
			continue
		}
		s := want.segments[esi]
		if err := pe.AddSegment(ctx, s.cfg); err != nil {
			return fmt.Errorf("/ethernet-segments/ethernet-segment[name=%s]: %w", s.name, err)
		}
		done = append(done, step{what: "add segment " + s.name, undo: func(ctx context.Context) error { return pe.RemoveSegment(ctx, esi) }})
	}
	for _, id := range addEVIs {
		e := want.evis[id]
		if err := pe.AddEVI(ctx, e.cfg); err != nil {
			return fmt.Errorf("/network-instances/network-instance[name=%s]: %w", e.name, err)
		}
		done = append(done, step{what: fmt.Sprintf("add evi %d", id), undo: func(ctx context.Context) error { return pe.RemoveEVI(ctx, id) }})
	}
	if err := speaker.SetImportPolicy(ctx, importPolicy(dv.d.cfg.ASN, want)); err != nil {
		return fmt.Errorf("bgp import policy: %w", err)
	}
	dv.d.log.Info("gnmi set applied", "evis_removed", removeEVIs, "evis_added", addEVIs, "segments_changed", len(changedSeg))
	return nil
}

// importPolicy is what a PE with this configuration imports: its EVIs'
// route targets (ASN:EVI by default) and its segments' ES-import targets.
func importPolicy(asn uint32, st evpnState) bgp.ImportPolicy {
	var p bgp.ImportPolicy
	seen := map[route.RouteTarget]bool{}
	ids := slices.Sorted(maps.Keys(st.evis))
	for _, id := range ids {
		e := st.evis[id].cfg
		rts := e.ImportRTs
		if len(rts) == 0 {
			rts = []route.RouteTarget{route.AutoRouteTarget(asn, e.ID)}
		}
		for _, rt := range rts {
			if !seen[rt] {
				seen[rt] = true
				p.RouteTargets = append(p.RouteTargets, rt)
			}
		}
	}
	for _, esi := range st.segOrder {
		p.ESImport = append(p.ESImport, esi.ESImportRT())
	}
	return p
}
