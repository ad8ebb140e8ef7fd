package gnmi

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// State is the device's way to publish telemetry: typed values in,
// notifications in the cache out, so Get and every subscription see them.
// Each Set method replaces the whole object (leaves it no longer has are
// deleted); each Delete method removes it. Safe for concurrent use.
type State struct {
	srv *Server

	// mu guards objects and nextHops, and orders publications of one
	// object so the cache sees them in call order.
	mu       sync.Mutex
	objects  map[string]*object
	nextHops *nextHopTable
}

// object is what was last published for one typed value: its base path and
// the relative paths of its leaves, to delete the ones a new version lacks.
type object struct {
	base []*gpb.PathElem
	rels [][]*gpb.PathElem
	// release drops the object's references to shared next hops.
	release func()
}

// relLeaf is a leaf relative to an object's base.
type relLeaf struct {
	rel []*gpb.PathElem
	val *gpb.TypedValue
	// since, when not zero, makes the leaf an age: the whole seconds from
	// since to the notification's timestamp (val is then unset).
	since time.Time
}

// rel builds a leaf at the keyless relative path names.
func (st *State) rel(val *gpb.TypedValue, names ...string) relLeaf {
	return relLeaf{rel: st.path(names...), val: val}
}

// path builds keyless elements from the server's shared ones.
func (st *State) path(names ...string) []*gpb.PathElem {
	out := make([]*gpb.PathElem, len(names))
	for i, n := range names {
		out[i] = st.srv.name(n)
	}
	return out
}

// setObject publishes leaves under base as the new version of object key;
// callers hold st.mu.
func (st *State) setObject(key string, base []*gpb.PathElem, leaves []relLeaf, release func()) {
	if st.objects == nil {
		st.objects = map[string]*object{}
	}
	n := &gpb.Notification{Timestamp: st.srv.timestamp()}
	next := &object{base: base, rels: make([][]*gpb.PathElem, len(leaves)), release: release}
	for i, l := range leaves {
		full := append(slices.Clone(base), l.rel...)
		next.rels[i] = l.rel
		val := l.val
		if !l.since.IsZero() {
			val = uintVal(uint64(max(0, time.Unix(0, n.Timestamp).Sub(l.since)) / time.Second))
		}
		n.Update = append(n.Update, &gpb.Update{Path: &gpb.Path{Elem: full}, Val: val})
	}
	if prev := st.objects[key]; prev != nil {
		// Objects are small: the set difference is computed when a new
		// version arrives rather than kept as a map per object.
		kept := make(map[string]bool, len(leaves))
		for _, r := range next.rels {
			kept[FormatPath(r)] = true
		}
		for _, r := range prev.rels {
			if !kept[FormatPath(r)] {
				n.Delete = append(n.Delete, &gpb.Path{Elem: append(slices.Clone(prev.base), r...)})
			}
		}
		if prev.release != nil {
			prev.release()
		}
	}
	st.objects[key] = next
	st.srv.publish(n)
}

// deleteObject removes every leaf of object key; callers hold st.mu.
func (st *State) deleteObject(key string) {
	prev := st.objects[key]
	if prev == nil {
		return
	}
	delete(st.objects, key)
	if prev.release != nil {
		prev.release()
	}
	n := &gpb.Notification{Timestamp: st.srv.timestamp()}
	for _, r := range prev.rels {
		n.Delete = append(n.Delete, &gpb.Path{Elem: append(slices.Clone(prev.base), r...)})
	}
	st.srv.publish(n)
}

func (st *State) niElems(ni string, names ...string) []*gpb.PathElem {
	return append([]*gpb.PathElem{st.srv.name("network-instances"), elem("network-instance", "name", ni)}, st.path(names...)...)
}

func u64(x uint64) string { return strconv.FormatUint(x, 10) }

// SetMACEntry publishes a MAC-VRF FIB entry.
func (st *State) SetMACEntry(ni string, e MACEntry) {
	base := append(st.niElems(ni, "fdb", "mac-table", "entries"),
		elem("entry", "mac-address", e.MAC.String(), "vlan", u64(uint64(e.VLAN))))
	typ := "DYNAMIC"
	if e.Static {
		typ = "STATIC"
	}
	leaves := []relLeaf{
		st.rel(stringVal(e.MAC.String()), "state", "mac-address"),
		st.rel(uintVal(uint64(e.VLAN)), "state", "vlan"),
		st.rel(stringVal(typ), "state", "entry-type"),
	}
	if !e.Since.IsZero() {
		leaves = append(leaves, relLeaf{rel: st.path("state", "age"), since: e.Since})
	}
	if e.EVI != 0 {
		leaves = append(leaves, st.rel(uintVal(uint64(e.EVI)), "state", "evi"))
	}
	if e.Interface != "" {
		leaves = append(leaves,
			st.rel(stringVal(e.Interface), "interface", "interface-ref", "state", "interface"),
			st.rel(uintVal(uint64(e.Subinterface)), "interface", "interface-ref", "state", "subinterface"))
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.setObject(macKey(ni, e.MAC, e.VLAN), base, leaves, nil)
}

// DeleteMACEntry removes a MAC-VRF FIB entry.
func (st *State) DeleteMACEntry(ni string, mac route.MAC, vlan uint16) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.deleteObject(macKey(ni, mac, vlan))
}

func macKey(ni string, mac route.MAC, vlan uint16) string {
	return fmt.Sprintf("mac|%s|%s|%d", ni, mac, vlan)
}

// SetL2RIBEntry publishes an L2RIB MAC entry with its producers and their
// next hops.
func (st *State) SetL2RIBEntry(ni string, e L2RIBEntry) error {
	seen := map[Producer]bool{}
	for _, p := range e.Producers {
		switch p.Producer {
		case ProducerLocal, ProducerStatic, ProducerBGP:
		default:
			return fmt.Errorf("gnmi: L2RIB entry %s in %s: producer %q is not LOCAL, STATIC or BGP", e.MAC, ni, p.Producer)
		}
		if seen[p.Producer] {
			return fmt.Errorf("gnmi: L2RIB entry %s in %s: producer %s appears twice", e.MAC, ni, p.Producer)
		}
		seen[p.Producer] = true
		switch p.MobilityState {
		case "", MobilityFrozen, MobilityDuplicate:
		default:
			return fmt.Errorf("gnmi: L2RIB entry %s in %s: mobility state %q is not FROZEN or DUPLICATE", e.MAC, ni, p.MobilityState)
		}
	}
	base := append(st.niElems(ni, "fdb", "l2rib", "mac-table", "entries"), elem("entry", "mac-address", e.MAC.String()))
	leaves := []relLeaf{st.rel(stringVal(e.MAC.String()), "state", "mac-address")}
	if e.VLAN != 0 {
		leaves = append(leaves, st.rel(uintVal(uint64(e.VLAN)), "state", "vlan"))
	}
	if e.EVI != 0 {
		leaves = append(leaves, st.rel(uintVal(uint64(e.EVI)), "state", "evi"))
	}
	if e.L2VNI != 0 {
		leaves = append(leaves, st.rel(uintVal(uint64(e.L2VNI)), "state", "l2-vni"))
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var refs []func()
	for _, p := range e.Producers {
		pe := []*gpb.PathElem{st.srv.name("producers"), elem("producer", "producer", string(p.Producer)), st.srv.name("state")}
		add := func(v *gpb.TypedValue, name string) {
			leaves = append(leaves, relLeaf{rel: append(slices.Clone(pe), elem(name)), val: v})
		}
		add(stringVal(string(p.Producer)), "producer")
		add(uintVal(uint64(p.SeqNumber)), "seq-number")
		add(boolVal(p.Sticky), "sticky")
		if p.MobilityState != "" {
			add(stringVal(string(p.MobilityState)), "mobility-state")
		}
		if !p.ESI.IsZero() {
			add(stringVal(formatOCESI(p.ESI)), "esi")
		}
		switch len(p.NextHops) {
		case 0:
		case 1:
			idx := st.nextHops.acquireHop(st, ni, p.NextHops[0])
			refs = append(refs, func() { st.nextHops.releaseHop(st, ni, p.NextHops[0]) })
			add(uintVal(idx), "next-hop")
		default:
			id := st.nextHops.acquireGroup(st, ni, p.ESI, p.NextHops)
			refs = append(refs, func() { st.nextHops.releaseGroup(st, ni, p.ESI, p.NextHops) })
			leaves = append(leaves, relLeaf{rel: append(slices.Clone(pe), st.srv.name("next-hop-group")), val: &gpb.TypedValue{
				Value: &gpb.TypedValue_LeaflistVal{LeaflistVal: &gpb.ScalarArray{Element: []*gpb.TypedValue{uintVal(id)}}}}})
		}
	}
	release := func() {
		for _, r := range refs {
			r()
		}
	}
	st.setObject("l2rib|"+ni+"|"+e.MAC.String(), base, leaves, release)
	return nil
}

// DeleteL2RIBEntry removes an L2RIB MAC entry and releases its next hops.
func (st *State) DeleteL2RIBEntry(ni string, mac route.MAC) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.deleteObject("l2rib|" + ni + "|" + mac.String())
}

// SetDesignatedForwarder publishes the DF of Ethernet segment es for a VLAN.
func (st *State) SetDesignatedForwarder(es string, df DesignatedForwarder) {
	base := []*gpb.PathElem{st.srv.name("ethernet-segments"), elem("ethernet-segment", "name", es),
		st.srv.name("designated-forwarders"), elem("designated-forwarder", "vlan", u64(uint64(df.VLAN)))}
	leaves := []relLeaf{
		st.rel(uintVal(uint64(df.VLAN)), "state", "vlan"),
		st.rel(boolVal(df.Local), "state", "local"),
	}
	if df.Address.IsValid() {
		leaves = append(leaves, st.rel(stringVal(df.Address.String()), "state", "df-address"))
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.setObject(fmt.Sprintf("df|%s|%d", es, df.VLAN), base, leaves, nil)
}

// DeleteDesignatedForwarder removes the DF of es for vlan.
func (st *State) DeleteDesignatedForwarder(es string, vlan uint16) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.deleteObject(fmt.Sprintf("df|%s|%d", es, vlan))
}

func (st *State) bgpNeighborBase(ni, protocol string, addr netip.Addr) []*gpb.PathElem {
	return []*gpb.PathElem{st.srv.name("network-instances"), elem("network-instance", "name", ni), st.srv.name("protocols"),
		elem("protocol", "identifier", "BGP", "name", protocol), st.srv.name("bgp"), st.srv.name("neighbors"),
		elem("neighbor", "neighbor-address", addr.String())}
}

// SetBGPNeighbor publishes the session state and prefix counts of a
// neighbor of BGP instance protocol in network instance ni.
func (st *State) SetBGPNeighbor(ni, protocol string, n BGPNeighborState) {
	leaves := []relLeaf{
		st.rel(stringVal(string(n.SessionState)), "state", "session-state"),
		st.rel(uintVal(n.EstablishedTransitions), "state", "established-transitions"),
		st.rel(uintVal(n.UpdatesSent), "state", "messages", "sent", "UPDATE"),
		st.rel(uintVal(n.NotificationsSent), "state", "messages", "sent", "NOTIFICATION"),
		st.rel(uintVal(n.UpdatesReceived), "state", "messages", "received", "UPDATE"),
		st.rel(uintVal(n.NotificationsRecved), "state", "messages", "received", "NOTIFICATION"),
	}
	if !n.LastEstablished.IsZero() {
		leaves = append(leaves, st.rel(uintVal(uint64(n.LastEstablished.UnixNano())), "state", "last-established"))
	}
	if n.LocalPort != 0 {
		leaves = append(leaves, st.rel(uintVal(uint64(n.LocalPort)), "transport", "state", "local-port"))
	}
	if n.RemotePort != 0 {
		leaves = append(leaves, st.rel(uintVal(uint64(n.RemotePort)), "transport", "state", "remote-port"))
	}
	if n.RemoteAddress.IsValid() {
		leaves = append(leaves, st.rel(stringVal(n.RemoteAddress.String()), "transport", "state", "remote-address"))
	}
	if n.NegotiatedHoldTime != 0 {
		leaves = append(leaves, st.rel(uintVal(uint64(n.NegotiatedHoldTime)), "timers", "state", "negotiated-hold-time"))
	}
	if a := n.EVPN; a != nil {
		af := []*gpb.PathElem{st.srv.name("afi-safis"), elem("afi-safi", "afi-safi-name", "L2VPN_EVPN"), st.srv.name("state")}
		add := func(v *gpb.TypedValue, names ...string) {
			leaves = append(leaves, relLeaf{rel: append(slices.Clone(af), st.path(names...)...), val: v})
		}
		add(boolVal(a.Active), "active")
		add(uintVal(uint64(a.Received)), "prefixes", "received")
		add(uintVal(uint64(a.ReceivedPrePolicy)), "prefixes", "received-pre-policy")
		add(uintVal(uint64(a.Sent)), "prefixes", "sent")
		if a.Installed != nil {
			add(uintVal(uint64(*a.Installed)), "prefixes", "installed")
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.setObject("bgp|"+ni+"|"+protocol+"|"+n.Address.String(), st.bgpNeighborBase(ni, protocol, n.Address), leaves, nil)
}

// DeleteBGPNeighbor removes the published state of a neighbor (its config
// mirrors stay while it is configured).
func (st *State) DeleteBGPNeighbor(ni, protocol string, addr netip.Addr) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.deleteObject("bgp|" + ni + "|" + protocol + "|" + addr.String())
}

// SetInterface publishes a port's status and counters.
func (st *State) SetInterface(s InterfaceState) {
	base := []*gpb.PathElem{st.srv.name("interfaces"), elem("interface", "name", s.Name)}
	var leaves []relLeaf
	if s.OperStatus != "" {
		leaves = append(leaves, st.rel(stringVal(s.OperStatus), "state", "oper-status"))
	}
	if s.AdminStatus != "" {
		leaves = append(leaves, st.rel(stringVal(s.AdminStatus), "state", "admin-status"))
	}
	if s.Ifindex != 0 {
		leaves = append(leaves, st.rel(uintVal(uint64(s.Ifindex)), "state", "ifindex"))
	}
	c := s.Counters
	for _, kv := range []struct {
		name string
		v    uint64
	}{
		{"in-octets", c.InOctets}, {"in-pkts", c.InPkts}, {"in-unicast-pkts", c.InUnicastPkts},
		{"in-broadcast-pkts", c.InBroadcastPkts}, {"in-multicast-pkts", c.InMulticastPkts},
		{"in-errors", c.InErrors}, {"in-discards", c.InDiscards},
		{"out-octets", c.OutOctets}, {"out-pkts", c.OutPkts}, {"out-unicast-pkts", c.OutUnicastPkts},
		{"out-broadcast-pkts", c.OutBroadcastPkts}, {"out-multicast-pkts", c.OutMulticastPkts},
		{"out-discards", c.OutDiscards}, {"out-errors", c.OutErrors},
	} {
		leaves = append(leaves, st.rel(uintVal(kv.v), "state", "counters", kv.name))
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.setObject("if|"+s.Name, base, leaves, nil)
}

// DeleteInterface removes a port's published state.
func (st *State) DeleteInterface(name string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.deleteObject("if|" + name)
}

// nextHopTable interns the L2RIB's shared next hops and next-hop groups per
// network instance, with reference counts; State.mu guards it.
type nextHopTable struct {
	hops   map[hopKey]*hopRef
	groups map[string]*groupRef
	nextID map[string]uint64 // per NI: the next index or group id
}

type hopKey struct {
	ni  string
	hop L2NextHop
}

type hopRef struct {
	index uint64
	refs  int
}

type groupRef struct {
	id   uint64
	refs int
}

func newNextHopTable() *nextHopTable {
	return &nextHopTable{hops: map[hopKey]*hopRef{}, groups: map[string]*groupRef{}, nextID: map[string]uint64{}}
}

func (t *nextHopTable) allocate(ni string) uint64 {
	t.nextID[ni]++
	return t.nextID[ni]
}

func (t *nextHopTable) acquireHop(st *State, ni string, h L2NextHop) uint64 {
	k := hopKey{ni: ni, hop: h}
	if r := t.hops[k]; r != nil {
		r.refs++
		return r.index
	}
	r := &hopRef{index: t.allocate(ni), refs: 1}
	t.hops[k] = r
	base := append(st.niElems(ni, "fdb", "l2rib", "mac-table", "next-hops"), elem("next-hop", "index", u64(r.index)))
	leaves := []relLeaf{st.rel(uintVal(r.index), "state", "index"), st.rel(boolVal(h.Resolved), "state", "resolved")}
	if h.PeerIP.IsValid() {
		leaves = append(leaves, st.rel(stringVal(h.PeerIP.String()), "state", "peer-ip"))
	}
	if h.Label != 0 {
		leaves = append(leaves, st.rel(uintVal(uint64(h.Label)), "state", "label"))
	}
	if !h.ESI.IsZero() {
		leaves = append(leaves, st.rel(stringVal(formatOCESI(h.ESI)), "state", "esi"))
	}
	if h.Interface != "" {
		leaves = append(leaves, st.rel(stringVal(h.Interface), "state", "interface"),
			st.rel(uintVal(uint64(h.Subinterface)), "state", "subinterface"))
	}
	st.setObject(fmt.Sprintf("nh|%s|%d", ni, r.index), base, leaves, nil)
	return r.index
}

func (t *nextHopTable) releaseHop(st *State, ni string, h L2NextHop) {
	k := hopKey{ni: ni, hop: h}
	r := t.hops[k]
	if r == nil {
		return
	}
	if r.refs--; r.refs == 0 {
		delete(t.hops, k)
		st.deleteObject(fmt.Sprintf("nh|%s|%d", ni, r.index))
	}
}

func groupKey(ni string, esi route.ESI, hops []L2NextHop) string {
	parts := make([]string, len(hops))
	for i, h := range hops {
		parts[i] = fmt.Sprintf("%v", h)
	}
	slices.Sort(parts)
	return ni + "|" + esi.String() + "|" + strings.Join(parts, ",")
}

func (t *nextHopTable) acquireGroup(st *State, ni string, esi route.ESI, hops []L2NextHop) uint64 {
	k := groupKey(ni, esi, hops)
	if r := t.groups[k]; r != nil {
		r.refs++
		return r.id
	}
	r := &groupRef{id: t.allocate(ni), refs: 1}
	t.groups[k] = r
	typ := "BASE_ECMP"
	base := append(st.niElems(ni, "fdb", "l2rib", "mac-table", "next-hop-groups"), elem("next-hop-group", "id", u64(r.id)))
	leaves := []relLeaf{st.rel(uintVal(r.id), "state", "id")}
	if !esi.IsZero() {
		typ = "ESI"
		leaves = append(leaves, st.rel(stringVal(formatOCESI(esi)), "state", "esi"))
	}
	leaves = append(leaves, st.rel(stringVal(typ), "state", "type"))
	for _, h := range hops {
		idx := t.acquireHop(st, ni, h)
		leaves = append(leaves, relLeaf{rel: []*gpb.PathElem{st.srv.name("next-hops"), elem("next-hop", "index", u64(idx)), st.srv.name("state"), st.srv.name("index")}, val: uintVal(idx)})
	}
	st.setObject("nhg|"+k, base, leaves, nil)
	return r.id
}

func (t *nextHopTable) releaseGroup(st *State, ni string, esi route.ESI, hops []L2NextHop) {
	k := groupKey(ni, esi, hops)
	r := t.groups[k]
	if r == nil {
		return
	}
	if r.refs--; r.refs == 0 {
		delete(t.groups, k)
		st.deleteObject("nhg|" + k)
		for _, h := range hops {
			t.releaseHop(st, ni, h)
		}
	}
}
