package p4evpn

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/bgp"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
	"github.com/p4evpn/p4evpn/gnmi"
)

// publishedEVI is what the telemetry loop published for one EVI, to delete
// what disappears.
type publishedEVI struct {
	ni   string
	vlan uint16
	// macs holds when each MAC entered the table (gNMI's age counts from
	// it). evpn keeps no such time, so it is when this loop first saw the
	// MAC in the table: its events arrive as the PE changes.
	macs map[route.MAC]time.Time
	// groups are the EVI's aliasing groups as last published (nil while
	// no MAC of the EVI forwards through one). A group changes without a
	// MAC event (an A-D route rewrites it in place), so they are compared
	// again after route updates (recheckAliasing).
	groups map[asic.GroupID][]gnmi.L2NextHop
}

// telemetry is the state of the loop that feeds gNMI; only runTelemetry
// touches it.
type telemetry struct {
	d    *Daemon
	st   *gnmi.State
	evis map[uint32]*publishedEVI
	dfs  map[[2]any]bool // {segment name, vlan}
	// neighbors is the BGP neighbor state last published.
	neighbors map[netip.Addr]gnmi.BGPNeighborState
	// aliasing is the PE's aliasing groups read during the current pass
	// (onEvents, publishPE, recheckAliasing), which clears it first: one
	// read of the PE's whole state per pass, however many EVIs need it.
	aliasing *gnmi.Aliasing
}

// runTelemetry publishes the PE's state into the gNMI server: MAC table and
// L2RIB entries as the PE's events say they change (ON_CHANGE), DF per
// VLAN on elections, and on every TelemetryInterval (or at once after a
// peer event or a Set) BGP neighbor state and interface counters. Route
// updates are seen within bgpRefreshDelay: BGP neighbor state is read that
// often and, when it changed, published with the aliasing groups.
func (d *Daemon) runTelemetry(ctx context.Context) {
	if d.gnmiSrv == nil {
		return
	}
	t := &telemetry{d: d, st: d.gnmiSrv.State(), evis: map[uint32]*publishedEVI{}, dfs: map[[2]any]bool{},
		neighbors: map[netip.Addr]gnmi.BGPNeighborState{}}
	var events <-chan evpn.Event
	if d.pe != nil {
		var err error
		if events, err = d.pe.Subscribe(ctx, 8192); err != nil {
			d.log.Warn("telemetry: subscribe to the PE", "err", err)
		}
	}
	interval := d.cfg.Timers.TelemetryInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	// updates samples the neighbors' counters (one GoBGP call, however
	// many routes arrived), from the first time BGP state was read
	// (bgpRead) for the reason below.
	updates := time.NewTicker(bgpRefreshDelay)
	defer updates.Stop()
	bgpRead := false
	// BGP state is first read at the first tick or peer event: a GoBGP
	// call now could race with another speaker of the process starting
	// (GoBGP's StartBgp writes package variables its servers read).
	t.publishPE()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.poll(ctx)
			bgpRead = true
		case <-updates.C:
			if bgpRead && t.publishNeighbors(ctx) {
				t.recheckAliasing()
			}
		case <-d.kick:
			t.refresh(ctx)
			bgpRead = true
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			t.onEvents(ctx, ev, events)
		}
	}
}

// onEvents handles ev and every event already queued behind it, reading
// each touched EVI's MAC table once.
func (t *telemetry) onEvents(ctx context.Context, ev evpn.Event, events <-chan evpn.Event) {
	t.aliasing = nil
	dirty := map[uint32]map[route.MAC]bool{}
	segments := false
	add := func(ev evpn.Event) {
		switch ev.Kind {
		case evpn.EventDFElected:
			segments = true
		case evpn.EventMACAdded, evpn.EventMACRemoved, evpn.EventMACMoved, evpn.EventMACAged,
			evpn.EventMACDuplicate, evpn.EventMACUnfrozen, evpn.EventStickyConflict:
			if dirty[ev.EVI] == nil {
				dirty[ev.EVI] = map[route.MAC]bool{}
			}
			dirty[ev.EVI][ev.MAC] = true
		case evpn.EventSwitchWriteFailed:
			t.d.log.Warn("switch write failed", "err", ev.Err)
		}
	}
	add(ev)
	for more := true; more && len(dirty) < 1<<16; {
		select {
		case ev, ok := <-events:
			if !ok {
				more = false
				break
			}
			add(ev)
		default:
			more = false
		}
	}
	n := t.d.device.names()
	for id, macs := range dirty {
		t.publishEVI(n, id, macs)
	}
	if segments {
		t.publishSegments(n)
	}
}

// publishEVI publishes the given MACs of EVI id (all of them when only is
// nil) and deletes those the PE no longer has.
func (t *telemetry) publishEVI(n names, id uint32, only map[route.MAC]bool) {
	pub := t.evis[id]
	e, configured := n.evis[id]
	var table []evpn.MACState
	if configured {
		var err error
		if table, err = t.d.pe.MACTable(id); err != nil {
			configured = false
		}
	}
	if pub != nil && (!configured || pub.ni != e.name || pub.vlan != e.cfg.VLAN) {
		for mac := range pub.macs {
			t.st.DeleteMACEntry(pub.ni, mac, pub.vlan)
			t.st.DeleteL2RIBEntry(pub.ni, mac)
		}
		delete(t.evis, id)
		pub, only = nil, nil
	}
	if !configured {
		return
	}
	if pub == nil {
		pub = &publishedEVI{ni: e.name, vlan: e.cfg.VLAN, macs: map[route.MAC]time.Time{}}
		t.evis[id] = pub
	}
	pub.groups, only = t.aliasingGroups(e.cfg.BD, table, pub.groups, only)
	seen := make(map[route.MAC]bool, len(table))
	for _, m := range table {
		seen[m.MAC] = true
		if only != nil && !only[m.MAC] {
			continue
		}
		fib, rib := gnmi.FromEVPNMAC(id, pub.vlan, m, n.acs, pub.groups)
		since, ok := pub.macs[m.MAC]
		if !ok {
			since = time.Now() // the gNMI server's clock
		}
		fib.Since = since
		t.st.SetMACEntry(pub.ni, fib)
		if err := t.st.SetL2RIBEntry(pub.ni, rib); err != nil {
			t.d.log.Warn("telemetry: l2rib entry", "evi", id, "mac", m.MAC, "err", err)
		}
		pub.macs[m.MAC] = since
	}
	for mac := range pub.macs {
		if seen[mac] || (only != nil && !only[mac]) {
			continue
		}
		t.st.DeleteMACEntry(pub.ni, mac, pub.vlan)
		t.st.DeleteL2RIBEntry(pub.ni, mac)
		delete(pub.macs, mac)
	}
}

// aliasingGroups returns bd's aliasing groups when a MAC of table forwards
// through one (nil otherwise). When they differ from the groups last
// published (prev), every MAC is republished: only becomes nil.
func (t *telemetry) aliasingGroups(bd asic.BridgeDomainID, table []evpn.MACState, prev map[asic.GroupID][]gnmi.L2NextHop,
	only map[route.MAC]bool) (map[asic.GroupID][]gnmi.L2NextHop, map[route.MAC]bool) {
	if !slices.ContainsFunc(table, func(m evpn.MACState) bool { return m.Dest.Kind == asic.ToAliasingGroup }) {
		return nil, only
	}
	groups := t.aliasingSnapshot().Groups(bd)
	if !maps.EqualFunc(prev, groups, slices.Equal) {
		only = nil
	}
	return groups, only
}

func (t *telemetry) publishSegments(n names) {
	seen := map[[2]any]bool{}
	for _, s := range t.d.pe.Segments() {
		name, ok := n.segments[s.ESI]
		if !ok {
			continue
		}
		t.st.SetEVPNSegment(name, s)
		for _, df := range s.DF {
			seen[[2]any{name, df.VLAN}] = true
		}
	}
	for k := range t.dfs {
		if !seen[k] {
			t.st.DeleteDesignatedForwarder(k[0].(string), k[1].(uint16))
		}
	}
	t.dfs = seen
}

// refresh republishes everything.
func (t *telemetry) refresh(ctx context.Context) {
	t.publishPE()
	t.poll(ctx)
}

// publishPE republishes the MAC tables and the DFs.
func (t *telemetry) publishPE() {
	t.aliasing = nil
	if t.d.pe != nil {
		n := t.d.device.names()
		for id := range t.evis {
			if _, ok := n.evis[id]; !ok {
				t.publishEVI(n, id, nil)
			}
		}
		for id := range n.evis {
			t.publishEVI(n, id, nil)
		}
		t.publishSegments(n)
	}
}

// bgpRefreshDelay is how often the BGP neighbors' counters are read to
// notice route updates: they reach gNMI at most this late, at the cost of
// one GoBGP call per delay.
const bgpRefreshDelay = time.Second

// aliasingSnapshot returns the pass's aliasing groups, reading them from
// the PE the first time. DesiredState is the PE's whole forwarding state
// (22 ms with 100k MACs): it is read only for EVIs with multihomed remote
// MACs.
func (t *telemetry) aliasingSnapshot() *gnmi.Aliasing {
	if t.aliasing == nil {
		t.aliasing = gnmi.NewAliasing(t.d.pe.DesiredState())
	}
	return t.aliasing
}

// recheckAliasing republishes the MACs of the EVIs whose aliasing groups
// changed, reading the PE's state once for all of them and an EVI's MAC
// table only when its groups changed.
func (t *telemetry) recheckAliasing() {
	if t.d.pe == nil {
		return
	}
	t.aliasing = nil
	n := t.d.device.names()
	for id, pub := range t.evis {
		e, ok := n.evis[id]
		if pub.groups == nil || !ok {
			continue
		}
		if !maps.EqualFunc(pub.groups, t.aliasingSnapshot().Groups(e.cfg.BD), slices.Equal) {
			t.publishEVI(n, id, nil)
		}
	}
}

// poll publishes BGP neighbor state and interface counters, and
// republishes the MACs of EVIs whose aliasing groups changed.
func (t *telemetry) poll(ctx context.Context) {
	t.recheckAliasing()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t.publishNeighbors(ctx)
	if t.d.sw == nil {
		return
	}
	c, err := t.d.sw.Counters(ctx)
	if err != nil {
		t.d.log.Debug("telemetry: switch counters", "err", err)
		return
	}
	n := t.d.device.names()
	acPort := map[asic.ACID]uint32{}
	for _, e := range n.evis {
		for _, ac := range e.cfg.ACs {
			acPort[ac.ID] = uint32(ac.Port)
		}
	}
	perPort := map[uint32]asic.PacketCount{}
	for ac, pc := range c.ACs {
		if p, ok := acPort[ac]; ok {
			x := perPort[p]
			x.Packets += pc.Packets
			x.Bytes += pc.Bytes
			perPort[p] = x
		}
	}
	for _, p := range t.d.cfg.Ports {
		name := InterfaceName(p.ID)
		pc := perPort[p.ID]
		// No oper-status: a P4Runtime target reports no link state.
		t.st.SetInterface(gnmi.InterfaceState{Name: name, AdminStatus: "UP", Ifindex: p.ID,
			Counters: gnmi.InterfaceCounters{InPkts: pc.Packets, InOctets: pc.Bytes}})
	}
}

// publishNeighbors publishes the state and counters of every BGP neighbor
// whose state changed since last published (subscribers hear of changes
// only) and reports whether any did.
func (t *telemetry) publishNeighbors(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	nbs, err := t.d.speaker.Neighbors(ctx)
	if err != nil {
		t.d.log.Debug("telemetry: bgp neighbors", "err", err)
		return false
	}
	changed := false
	seen := make(map[netip.Addr]gnmi.BGPNeighborState, len(nbs))
	for _, nb := range nbs {
		st := neighborState(nb)
		seen[nb.Address] = st
		if prev, ok := t.neighbors[nb.Address]; !ok || !sameNeighborState(prev, st) {
			t.st.SetBGPNeighbor(DefaultInstance, BGPProtocol, st)
			changed = true
		}
	}
	for a := range t.neighbors {
		if _, ok := seen[a]; !ok {
			t.st.DeleteBGPNeighbor(DefaultInstance, BGPProtocol, a)
			changed = true
		}
	}
	t.neighbors = seen
	return changed
}

func sameNeighborState(a, b gnmi.BGPNeighborState) bool {
	ae, be := a.EVPN, b.EVPN
	a.EVPN, b.EVPN = nil, nil
	if a.LastEstablished.Equal(b.LastEstablished) {
		a.LastEstablished = b.LastEstablished // == would compare locations
	}
	if a != b || (ae == nil) != (be == nil) {
		return false
	}
	return ae == nil || (ae.Active == be.Active && ae.Received == be.Received && ae.ReceivedPrePolicy == be.ReceivedPrePolicy &&
		ae.Sent == be.Sent && (ae.Installed == nil) == (be.Installed == nil) && (ae.Installed == nil || *ae.Installed == *be.Installed))
}

func neighborState(nb bgp.NeighborState) gnmi.BGPNeighborState {
	est := nb.State == "established"
	transitions := uint64(nb.Flaps)
	if est {
		transitions++
	}
	return gnmi.BGPNeighborState{
		Address: nb.Address, SessionState: gnmi.SessionState(strings.ToUpper(string(nb.State))),
		EstablishedTransitions: transitions, LastEstablished: nb.EstablishedAt,
		UpdatesSent: nb.UpdatesSent, UpdatesReceived: nb.UpdatesReceived, NotificationsRecved: nb.NotificationsReceived,
		// No installed count: the PE does not count the routes it imports
		// per BGP neighbor (behind a route reflector every route comes from
		// one), and accepted is not installed.
		EVPN: &gnmi.AFISafiState{Active: est, Received: uint32(nb.Accepted), ReceivedPrePolicy: uint32(nb.Received),
			Sent: uint32(nb.Advertised)},
	}
}
