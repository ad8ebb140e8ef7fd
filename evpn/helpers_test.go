package evpn

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/asic/memswitch"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// fakeClock is a manual Clock: timers fire only inside Advance, in order.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	ok := !t.fired && !t.stopped
	t.stopped = true
	return ok
}

// Advance moves time forward by d, firing due timers in time order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for {
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.fired && !t.stopped && !t.at.After(target) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		next.fired = true
		c.now = next.at
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.now = target
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool { return t.fired || t.stopped })
	c.mu.Unlock()
}

// scriptedSpeaker records what the PE originates; deliver, when set,
// receives every operation (the in-process route exchange).
type scriptedSpeaker struct {
	mu      sync.Mutex
	ops     []string
	current map[string]route.Path
	deliver func(announce bool, p route.Path)
}

func newSpeaker() *scriptedSpeaker {
	return &scriptedSpeaker{current: make(map[string]route.Path)}
}

// routeKey is an NLRI's BGP key: labels and the RT-2/RT-1 ESI excluded
// where RFC 7432 excludes them.
func routeKey(n route.NLRI) string {
	switch n := n.(type) {
	case route.MACIP:
		return fmt.Sprintf("2/%s/%s/%s", n.RD, n.MAC, n.IP)
	case route.EthernetAD:
		return fmt.Sprintf("1/%s/%s/%d", n.RD, n.ESI, n.EthernetTag)
	}
	return n.String()
}

func (s *scriptedSpeaker) Announce(_ context.Context, p route.Path) error {
	s.mu.Lock()
	s.ops = append(s.ops, "announce "+p.NLRI.String())
	s.current[routeKey(p.NLRI)] = p
	d := s.deliver
	s.mu.Unlock()
	if d != nil {
		d(true, p)
	}
	return nil
}

func (s *scriptedSpeaker) Withdraw(_ context.Context, n route.NLRI) error {
	s.mu.Lock()
	s.ops = append(s.ops, "withdraw "+n.String())
	delete(s.current, routeKey(n))
	d := s.deliver
	s.mu.Unlock()
	if d != nil {
		d(false, route.Path{NLRI: n})
	}
	return nil
}

// takeOps returns the operations since the last call.
func (s *scriptedSpeaker) takeOps() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ops
	s.ops = nil
	return o
}

// routes returns the currently announced routes of one type.
func (s *scriptedSpeaker) routes(t route.Type) []route.Path {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []route.Path
	for _, p := range s.current {
		if p.NLRI.RouteType() == t {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b route.Path) int { return cmp.Compare(a.NLRI.String(), b.NLRI.String()) })
	return out
}

func (s *scriptedSpeaker) macRoute(mac route.MAC) (route.Path, bool) {
	for _, p := range s.routes(route.TypeMACIP) {
		if p.NLRI.(route.MACIP).MAC == mac {
			return p, true
		}
	}
	return route.Path{}, false
}

// Test topology constants.
const (
	testASN  = 65000
	corePort = asic.PortID(100)
)

var (
	pe1Addr = netip.MustParseAddr("192.0.2.1")
	pe2Addr = netip.MustParseAddr("192.0.2.2")
	pe3Addr = netip.MustParseAddr("192.0.2.3")
	esi1    = route.MustESI("00:11:11:11:11:11:11:11:11:11")
	mac1    = route.MustMAC("02:00:00:00:00:01")
	mac2    = route.MustMAC("02:00:00:00:00:02")
)

type harness struct {
	t     *testing.T
	pe    *PE
	sw    *memswitch.Switch
	sp    *scriptedSpeaker
	clock *fakeClock
	ctx   context.Context
}

func newHarness(t *testing.T, routerID netip.Addr, mut func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, sw: memswitch.New(), sp: newSpeaker(), clock: newFakeClock(), ctx: context.Background()}
	cfg := Config{
		RouterID: routerID, ASN: testASN, Labels: LabelRange{First: 1000, Last: 1999},
		Core: Core{Port: corePort, SourceMAC: route.MustMAC("02:ff:00:00:00:aa"), NextHopMAC: route.MustMAC("02:ff:00:00:00:01"),
			TransportLabels: map[netip.Addr]uint32{pe2Addr: 16001}},
		Speaker: h.sp, Switch: h.sw, Clock: h.clock,
	}
	if mut != nil {
		mut(&cfg)
	}
	pe, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.pe = pe
	t.Cleanup(func() {
		// Every batch the PE wrote must have respected the switch's
		// contract (references exist, referenced entities stay).
		if c := pe.Counters(); c.SwitchWriteErrors != 0 {
			t.Errorf("the PE wrote %d batches the switch refused", c.SwitchWriteErrors)
		}
		_ = pe.Close()
	})
	return h
}

// singleHomed configures EVI 10 on bd 10 with AC 1 (port 1) and AC 2 (port 2).
func (h *harness) singleHomed() {
	h.t.Helper()
	h.must(h.pe.AddEVI(h.ctx, EVIConfig{ID: 10, BD: 10, ACs: []ACConfig{
		{ID: 1, Port: 1, VLAN: 10}, {ID: 2, Port: 2, VLAN: 10},
	}}))
}

// multiHomed configures segment esi1 and EVI 10 with AC 1 on it and AC 2
// single-homed.
func (h *harness) multiHomed(seg SegmentConfig) {
	h.t.Helper()
	seg.ESI = esi1
	h.must(h.pe.AddSegment(h.ctx, seg))
	h.must(h.pe.AddEVI(h.ctx, EVIConfig{ID: 10, BD: 10, ACs: []ACConfig{
		{ID: 1, Port: 1, VLAN: 10, ESI: esi1}, {ID: 2, Port: 2, VLAN: 10},
	}}))
}

func (h *harness) must(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) learn(mac route.MAC, ac asic.ACID) {
	h.t.Helper()
	h.must(h.pe.HandleSwitchEvent(h.ctx, asic.Event{Kind: asic.EventLearn, BD: 10, MAC: mac, AC: ac}))
}

func (h *harness) path(p route.Path) {
	h.t.Helper()
	h.must(h.pe.HandlePath(h.ctx, p))
}

func (h *harness) fdb(mac route.MAC) (asic.FDBEntry, bool) {
	e, ok := h.sw.Get(asic.FDBEntry{BD: 10, MAC: mac}.Key())
	if !ok {
		return asic.FDBEntry{}, false
	}
	return e.(asic.FDBEntry), true
}

// remoteRT is the route target of EVI 10 under the auto-derivation.
var remoteRT = route.AutoRouteTarget(testASN, 10)

func rd(addr netip.Addr, n uint16) route.RD { return route.AutoRD(addr, n) }

func macPath(from netip.Addr, mac route.MAC, esi route.ESI, label, seq uint32, sticky bool) route.Path {
	p := route.Path{
		NLRI:  route.MACIP{RD: rd(from, 10), ESI: esi, MAC: mac, Label1: label},
		Attrs: route.Attributes{NextHop: from, RouteTargets: []route.RouteTarget{remoteRT}},
	}
	if seq > 0 || sticky {
		p.Attrs.MACMobility = &route.MACMobility{Sequence: seq, Sticky: sticky}
	}
	return p
}

func perESPathFor(from netip.Addr, esi route.ESI, esiLabel uint32, singleActive bool) route.Path {
	return route.Path{
		NLRI: route.EthernetAD{RD: rd(from, 0), ESI: esi, EthernetTag: route.MaxEthernetTag},
		Attrs: route.Attributes{NextHop: from, RouteTargets: []route.RouteTarget{remoteRT},
			ESILabel: &route.ESILabel{Label: esiLabel, SingleActive: singleActive}},
	}
}

func perEVIPathFor(from netip.Addr, esi route.ESI, label uint32) route.Path {
	return route.Path{
		NLRI:  route.EthernetAD{RD: rd(from, 10), ESI: esi, Label: label},
		Attrs: route.Attributes{NextHop: from, RouteTargets: []route.RouteTarget{remoteRT}},
	}
}

func imetPathFor(from netip.Addr, label uint32) route.Path {
	return route.Path{
		NLRI: route.InclusiveMulticast{RD: rd(from, 10), OriginatorIP: from},
		Attrs: route.Attributes{NextHop: from, RouteTargets: []route.RouteTarget{remoteRT},
			PMSI: &route.PMSITunnel{TunnelType: route.TunnelTypeIngressReplication, Label: label, TunnelID: from}},
	}
}

func esPathFor(from netip.Addr, esi route.ESI, df *route.DFElection) route.Path {
	imp := esi.ESImportRT()
	return route.Path{
		NLRI:  route.EthernetSegment{RD: rd(from, 0), ESI: esi, OriginatorIP: from},
		Attrs: route.Attributes{NextHop: from, ESImport: &imp, DFElection: df},
	}
}

// forwarding renders a switch's state with every allocated id replaced by
// what it stands for (PE addresses, member lists), so that two switches
// programmed in different orders compare equal when they forward alike.
func forwarding(t *testing.T, sw *memswitch.Switch) []string {
	t.Helper()
	pes := make(map[asic.RemotePEID]string)
	for _, e := range sw.Entities(asic.KindRemotePE) {
		r := e.(asic.RemotePE)
		pes[r.ID] = r.Address.String()
	}
	segs := make(map[asic.SegmentID]string)
	for _, e := range sw.Entities(asic.KindSegment) {
		s := e.(asic.Segment)
		segs[s.ID] = fmt.Sprintf("seg(label %d sa %v)", s.ESILabel, s.SingleActive)
	}
	groups := make(map[asic.GroupID]string)
	for _, e := range sw.Entities(asic.KindAliasingGroup) {
		g := e.(asic.AliasingGroup)
		var m []string
		for _, id := range g.Members {
			m = append(m, pes[id])
		}
		groups[g.ID] = fmt.Sprintf("group%v sa %v", m, g.SingleActive)
	}
	var out []string
	for _, e := range sw.Entities(asic.KindFDBEntry) {
		f := e.(asic.FDBEntry)
		d := f.Dest.String()
		switch f.Dest.Kind {
		case asic.ToRemotePE:
			d = fmt.Sprintf("pe %s label %d", pes[f.Dest.PE], f.Dest.Label)
		case asic.ToAliasingGroup:
			d = groups[f.Dest.Group]
		}
		out = append(out, fmt.Sprintf("fdb bd %d %s -> %s pinned %v", f.BD, f.MAC, d, f.Pinned))
	}
	for _, e := range sw.Entities(asic.KindServiceLabel) {
		s := e.(asic.ServiceLabel)
		out = append(out, fmt.Sprintf("service bd %d %s label %d", s.BD, pes[s.PE], s.Label))
	}
	for _, e := range sw.Entities(asic.KindFloodGroup) {
		f := e.(asic.FloodGroup)
		var m []string
		for _, x := range f.Members {
			if x.AC != 0 {
				m = append(m, fmt.Sprintf("ac%d", x.AC))
			} else {
				m = append(m, fmt.Sprintf("%s/%d", pes[x.PE], x.BUMLabel))
			}
		}
		sort.Strings(m)
		out = append(out, fmt.Sprintf("flood bd %d %s", f.BD, strings.Join(m, ",")))
	}
	for _, e := range sw.Entities(asic.KindSegmentPeer) {
		s := e.(asic.SegmentPeer)
		out = append(out, fmt.Sprintf("segpeer %s %s esi-label %d", segs[s.Segment], pes[s.PE], s.ESILabel))
	}
	for _, e := range sw.Entities(asic.KindDFState) {
		s := e.(asic.DFState)
		out = append(out, fmt.Sprintf("df %s bd %d %v", segs[s.Segment], s.BD, s.DF))
	}
	sort.Strings(out)
	return out
}

func mustRT(s string) route.RouteTarget {
	rt, err := route.ParseRouteTarget(s)
	if err != nil {
		panic(err)
	}
	return rt
}
