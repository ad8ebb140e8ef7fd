package testbed

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// A scenario drives the fabric through one of the seed's claims and
// records what it checked and what it measured. Checks are facts
// (a frame arrived, an entry points at a PE); figures are measurements
// (milliseconds, frames lost) that are reported, never asserted.

// Result is one scenario's outcome.
type Result struct {
	Name    string
	Checks  []Check
	Figures []Figure
}

// Check is one verified fact.
type Check struct {
	What string
	OK   bool
	// Detail says what was seen when the check failed.
	Detail string
}

// Figure is one measurement.
type Figure struct {
	Name  string
	Value string
}

// Failed returns the checks that failed.
func (r *Result) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

func (r *Result) check(ok bool, what string, detail string, args ...any) {
	c := Check{What: what, OK: ok}
	if !ok {
		c.Detail = fmt.Sprintf(detail, args...)
	}
	r.Checks = append(r.Checks, c)
}

func (r *Result) figure(name, format string, args ...any) {
	r.Figures = append(r.Figures, Figure{Name: name, Value: fmt.Sprintf(format, args...)})
}

// String formats the result as a report section.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s\n", r.Name)
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  [%s] %s", mark, c.What)
		if !c.OK {
			fmt.Fprintf(&b, ": %s", c.Detail)
		}
		b.WriteByte('\n')
	}
	for _, f := range r.Figures {
		fmt.Fprintf(&b, "  %-52s %s\n", f.Name+":", f.Value)
	}
	return b.String()
}

// The scenarios' EVI and timing.
const (
	scenarioEVI = 100
	// settle is how long a scenario waits for frames that must NOT arrive
	// (a duplicate, a leak): long against the in-process path's
	// microseconds.
	settle = 300 * time.Millisecond
	// streamInterval paces measurement streams.
	streamInterval = 2 * time.Millisecond
)

func (f *Fabric) mustHost(name string) (*FabricHost, error) {
	h := f.Host(name)
	if h == nil {
		return nil, fmt.Errorf("no host %q in the topology", name)
	}
	return h, nil
}

func (f *Fabric) mustPE(name string) (*PENode, error) {
	pe := f.PE(name)
	if pe == nil || pe.EVPN() == nil {
		return nil, fmt.Errorf("no running PE %q", name)
	}
	return pe, nil
}

func macOf(h *Host) route.MAC {
	var m route.MAC
	copy(m[:], h.MAC())
	return m
}

// MACEntry returns PE pe's MAC-VRF entry for mac in evi.
func MACEntry(pe *PENode, evi uint32, mac route.MAC) (evpn.MACState, bool) {
	p := pe.EVPN()
	if p == nil {
		return evpn.MACState{}, false
	}
	table, err := p.MACTable(evi)
	if err != nil {
		return evpn.MACState{}, false
	}
	for _, m := range table {
		if m.MAC == mac {
			return m, true
		}
	}
	return evpn.MACState{}, false
}

// waitUntil polls cond every 2 ms until it holds or ctx ends; it returns
// when it held.
func waitUntil(ctx context.Context, cond func() bool) (time.Time, error) {
	for {
		if cond() {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// waitEvent waits for an event on ch that match accepts and returns when
// it arrived.
func waitEvent(ctx context.Context, ch <-chan evpn.Event, match func(evpn.Event) bool) (time.Time, error) {
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return time.Time{}, fmt.Errorf("event stream ended")
			}
			if match(ev) {
				return time.Now(), nil
			}
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// KnownUnicast is scenario 1: host a (on one PE) and host c (on another)
// resolve each other with ARP and ping; each PE holds the other's MAC as a
// remote entry learned from BGP, pointing at the right PE.
func (f *Fabric) KnownUnicast(ctx context.Context, a, c string) (*Result, error) {
	r := &Result{Name: fmt.Sprintf("1. known unicast %s <-> %s across PEs", a, c)}
	ha, err := f.mustHost(a)
	if err != nil {
		return nil, err
	}
	hc, err := f.mustHost(c)
	if err != nil {
		return nil, err
	}
	peA, peC := f.hostPE(ha), f.hostPE(hc)
	if peA == nil || peC == nil || peA == peC {
		return nil, fmt.Errorf("hosts %s and %s must sit on two different running PEs", a, c)
	}
	_, known := MACEntry(peA, scenarioEVI, macOf(hc.Host))
	r.check(!known, fmt.Sprintf("%s holds no entry for %s before %s speaks (no flooding-based learning)", peA.Name, c, c), "it does")

	// c announces itself; time until a's PE installs it from BGP.
	events, err := peA.EVPN().Subscribe(ctx, 256)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := hc.GratuitousARP(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	t1, err := waitEvent(wctx, events, func(ev evpn.Event) bool {
		return ev.MAC == macOf(hc.Host) && ev.Peer == peC.RouterID()
	})
	cancel()
	if err != nil {
		r.check(false, fmt.Sprintf("%s installs %s's MAC from BGP", peA.Name, c), "%v", err)
	} else {
		r.figure(fmt.Sprintf("%s's first frame at %s -> %s FIB entry", c, peC.Name, peA.Name), "%s", ms(t1.Sub(t0)))
	}

	res, err := ha.Ping(ctx, hc.Addr().Addr(), 10, 10*time.Millisecond, 2*time.Second)
	r.check(err == nil && res.Received == res.Sent && res.Sent == 10, fmt.Sprintf("%s pings %s: 10/10 replies", a, c), "%+v, err %v", res, err)
	if mac, ok := ha.Neighbor(hc.Addr().Addr()); true {
		r.check(ok && bytes.Equal(mac, hc.MAC()), fmt.Sprintf("%s's ARP resolves %s to %s", a, hc.Addr().Addr(), hc.MAC()), "got %v, %v", mac, ok)
	}
	if len(res.RTTs) > 0 {
		var sum time.Duration
		for _, d := range res.RTTs {
			sum += d
		}
		r.figure("ping RTT (mean of "+fmt.Sprint(len(res.RTTs))+")", "%s", ms(sum/time.Duration(len(res.RTTs))))
	}
	for _, side := range []struct {
		pe     *PENode
		h      *FabricHost
		remote *PENode
	}{{peA, hc, peC}, {peC, ha, peA}} {
		m, ok := MACEntry(side.pe, scenarioEVI, macOf(side.h.Host))
		r.check(ok && m.Source == evpn.SourceRemote && m.Peer == side.remote.RouterID() && m.Dest.Kind == asic.ToRemotePE,
			fmt.Sprintf("%s holds %s as a remote MAC from BGP, toward %s", side.pe.Name, side.h.Name(), side.remote.Name),
			"entry %+v, present %v", m, ok)
	}
	return r, nil
}

// hostPE is the PE of a single-homed host's link.
func (f *Fabric) hostPE(h *FabricHost) *PENode {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.links) != 1 {
		return nil
	}
	return h.links[0].pe
}

// clearRecords empties every host's record of received frames.
func (f *Fabric) clearRecords() {
	for _, h := range f.hosts {
		h.Received()
	}
}

// copies counts, per host, the frames it recorded whose payload starts with
// tag.
func (f *Fabric) copies(tag []byte) map[string]int {
	out := map[string]int{}
	for name, h := range f.hosts {
		for _, fr := range h.Received() {
			if bytes.HasPrefix(fr.Payload, tag) {
				out[name]++
			}
		}
	}
	return out
}

// evi returns the EVI of a host: the one whose AC carries its VLAN on its
// first link.
func (f *Fabric) hostEVI(h *FabricHost) uint32 {
	h.mu.Lock()
	ap := h.links[0]
	h.mu.Unlock()
	for _, e := range ap.pe.config.EVIs {
		for _, ac := range e.ACs {
			if ac.Port == ap.num && ac.VLAN == h.vlan {
				return e.ID
			}
		}
	}
	return 0
}

// broadcastOnce sends one tagged broadcast from sender and checks that
// every other host of its EVI got exactly one copy and nobody else any.
func (f *Fabric) broadcastOnce(r *Result, sender string, tag string) error {
	h, err := f.mustHost(sender)
	if err != nil {
		return err
	}
	evi := f.hostEVI(h)
	f.clearRecords()
	if err := h.SendBroadcast(0x88b6, []byte(tag)); err != nil {
		return err
	}
	time.Sleep(settle)
	got := f.copies([]byte(tag))
	var want, seen []string
	for name, o := range f.hosts {
		n := 0
		if name != sender && f.hostEVI(o) == evi {
			n = 1
		}
		want = append(want, fmt.Sprintf("%s:%d", name, n))
		seen = append(seen, fmt.Sprintf("%s:%d", name, got[name]))
	}
	sortStrings(want)
	sortStrings(seen)
	r.check(strings.Join(want, " ") == strings.Join(seen, " "),
		fmt.Sprintf("a broadcast from %s (EVI %d) reaches each other host of EVI %d once, no host of another EVI, not %s itself", sender, evi, evi, sender),
		"copies %s, want %s", strings.Join(seen, " "), strings.Join(want, " "))
	return nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// BUM is scenario 2: a broadcast from each named host reaches every other
// host of its EVI exactly once (no duplicates from ingress replication, no
// loop), never a host of another EVI; afterwards the core is silent.
func (f *Fabric) BUM(ctx context.Context, senders ...string) (*Result, error) {
	r := &Result{Name: "2. BUM: broadcasts arrive once, in their EVI only"}
	before := f.lsr.Stats()
	for i, s := range senders {
		if err := f.broadcastOnce(r, s, fmt.Sprintf("bum-%d-%s", i, s)); err != nil {
			return nil, err
		}
	}
	mid := f.lsr.Stats()
	time.Sleep(settle)
	after := f.lsr.Stats()
	r.check(after.Forwarded == mid.Forwarded, "no frame keeps circulating in the core afterwards (no loop)",
		"the LSR forwarded %d frames while every host was silent", after.Forwarded-mid.Forwarded)
	r.figure("core frames for the broadcasts (ingress replication)", "%d", mid.Forwarded-before.Forwarded)
	r.check(after.UnknownLabel == before.UnknownLabel && after.NotMPLS == before.NotMPLS, "every core frame carried a known transport label",
		"unknown label %d, not MPLS %d", after.UnknownLabel-before.UnknownLabel, after.NotMPLS-before.NotMPLS)
	return r, ctx.Err()
}

// Multihoming is scenario 4: host mh is cabled to two PEs on one all-active
// segment; remote host remote sends it many flows: they spread over both
// PEs (aliasing); a broadcast from remote reaches mh once (only the DF
// forwards it); a broadcast from mh never comes back to it (split horizon).
func (f *Fabric) Multihoming(ctx context.Context, mh, remote string) (*Result, error) {
	r := &Result{Name: fmt.Sprintf("4. all-active multihoming: %s on two PEs, traffic from %s", mh, remote)}
	hm, err := f.mustHost(mh)
	if err != nil {
		return nil, err
	}
	hr, err := f.mustHost(remote)
	if err != nil {
		return nil, err
	}
	if len(hm.links) != 2 {
		return nil, fmt.Errorf("host %s is not multihomed", mh)
	}
	peR := f.hostPE(hr)
	// DF per PE of the segment.
	for _, ap := range hm.links {
		for _, s := range ap.pe.EVPN().Segments() {
			for _, df := range s.DF {
				if df.EVI == scenarioEVI {
					r.figure(fmt.Sprintf("%s: DF for segment %s, EVI %d", ap.pe.Name, s.ESI, df.EVI), "%s (local: %v)", df.DF, df.Local)
				}
			}
		}
	}
	// mh speaks so that its MAC is learned and advertised with its ESI.
	if err := hm.GratuitousARP(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = waitUntil(wctx, func() bool {
		for _, ap := range hm.links {
			if _, ok := MACEntry(ap.pe, scenarioEVI, macOf(hm.Host)); !ok {
				return false
			}
		}
		m, ok := MACEntry(peR, scenarioEVI, macOf(hm.Host))
		return ok && m.Dest.Kind == asic.ToAliasingGroup
	})
	cancel()
	m, _ := MACEntry(peR, scenarioEVI, macOf(hm.Host))
	r.check(err == nil && !m.ESI.IsZero(), fmt.Sprintf("%s reaches %s through an aliasing group of its segment", peR.Name, mh),
		"entry %+v: %v", m, err)

	// Aliasing: 32 flows (EtherTypes) of 8 frames each.
	f.clearRecords()
	const flows, per = 32, 8
	for i := range flows {
		for range per {
			if err := hr.SendFrameTo(hm.MAC(), layers.EthernetType(0x9000+i), []byte("aliasing")); err != nil {
				return nil, err
			}
		}
	}
	time.Sleep(settle)
	via := map[string]int{}
	total := 0
	for _, fr := range hm.Received() {
		if bytes.HasPrefix(fr.Payload, []byte("aliasing")) {
			via[fr.Via]++
			total++
		}
	}
	links := hm.Links()
	r.check(total == flows*per, fmt.Sprintf("all %d frames from %s reach %s exactly once", flows*per, remote, mh), "%d arrived", total)
	r.check(via[links[0]] > 0 && via[links[1]] > 0, fmt.Sprintf("%s's flows to %s spread over both PEs (aliasing)", remote, mh),
		"per link %v", via)
	r.figure(fmt.Sprintf("frames per link of %s (%d flows)", mh, flows), "%s %d, %s %d", links[0], via[links[0]], links[1], via[links[1]])

	// DF: a broadcast from the remote host arrives once; split horizon: mh's
	// own broadcast never returns, whichever link it left by.
	if err := f.broadcastOnce(r, remote, "df-"+remote); err != nil {
		return nil, err
	}
	for i := range 4 {
		// Four EtherTypes: the bond hashes some onto each link.
		f.clearRecords()
		et := layers.EthernetType(0x88b7 + i)
		if err := hm.SendBroadcast(et, []byte("split-horizon")); err != nil {
			return nil, err
		}
		time.Sleep(settle / 2)
		got := f.copies([]byte("split-horizon"))
		r.check(got[mh] == 0 && got[remote] == 1, fmt.Sprintf("%s's broadcast (EtherType %#x) never echoes back to it; %s gets it once", mh, uint16(et), remote),
			"copies %v", got)
	}
	return r, nil
}

// Mobility is scenario 3 (the seed's figure 4): host vm moves from its PE
// to port newPort of PE newPE and announces itself; its MAC is re-advertised
// with sequence number +1, the old PE withdraws, and observer's FIB points
// at the new PE. It measures the time from the host's first frame at the
// new PE to observer's FIB update, and the frames a stream from observer's
// host lost. Then it moves the host back, and keeps moving it until the
// duplicate detection (5 moves in 180 s) freezes the MAC.
func (f *Fabric) Mobility(ctx context.Context, vm, newPE string, newPort uint32, observerHost string) (*Result, error) {
	r := &Result{Name: fmt.Sprintf("3. VM mobility (seed fig. 4): %s moves to %s", vm, newPE)}
	hv, err := f.mustHost(vm)
	if err != nil {
		return nil, err
	}
	ho, err := f.mustHost(observerHost)
	if err != nil {
		return nil, err
	}
	obs := f.hostPE(ho)
	home := f.hostPE(hv)
	homePort := hv.links[0].num
	dst := f.PE(newPE)
	if obs == nil || home == nil || dst == nil || obs == home || obs == dst || home == dst {
		return nil, fmt.Errorf("mobility needs the VM's PE, %s and the observer's PE to differ", newPE)
	}
	mac := macOf(hv.Host)
	// The VM is known everywhere before it moves.
	if err := hv.GratuitousARP(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = waitUntil(wctx, func() bool { m, ok := MACEntry(obs, scenarioEVI, mac); return ok && m.Peer == home.RouterID() })
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%s never learned %s at %s: %w", obs.Name, vm, home.Name, err)
	}
	before, _ := MACEntry(obs, scenarioEVI, mac)

	type hop struct {
		pe   *PENode
		port uint32
	}
	hops := []hop{{dst, newPort}, {home, homePort}, {dst, newPort}, {home, homePort}, {dst, newPort}}
	var converge []time.Duration
	lostTotal, dupTotal := 0, 0
	for i, h := range hops {
		last := i == len(hops)-1
		events, err := obs.EVPN().Subscribe(ctx, 1024)
		if err != nil {
			return nil, err
		}
		stream := StartStream(ho.Host, hv.Host, 0x88b8, streamInterval)
		time.Sleep(50 * time.Millisecond)
		if err := f.Move(vm, h.pe.Name, h.port); err != nil {
			return nil, err
		}
		t0 := time.Now()
		if err := hv.GratuitousARP(); err != nil {
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		t1, err := waitEvent(wctx, events, func(ev evpn.Event) bool {
			return ev.MAC == mac && ev.Peer == h.pe.RouterID() && (ev.Kind == evpn.EventMACMoved || ev.Kind == evpn.EventMACAdded)
		})
		cancel()
		time.Sleep(100 * time.Millisecond)
		res := stream.Stop(100 * time.Millisecond)
		if last {
			// The fifth move in the window: duplicate detection freezes the
			// MAC; where it stays is the PE's decision.
			frozen := ""
			for _, pe := range f.pes {
				if m, ok := MACEntry(pe, scenarioEVI, mac); ok && m.Frozen {
					frozen += pe.Name + " "
				}
			}
			r.check(frozen != "", fmt.Sprintf("move %d within the window freezes %s (RFC 7432 §15.1: 5 moves in 180 s)", i+1, vm),
				"no PE reports it frozen")
			var dups uint64
			for _, pe := range f.pes {
				if p := pe.EVPN(); p != nil {
					dups += p.Counters().DuplicateMACs
				}
			}
			r.figure("frozen at", "%s(duplicate MACs counted: %d)", frozen, dups)
			continue
		}
		if err != nil {
			r.check(false, fmt.Sprintf("move %d: %s's FIB points %s at %s", i+1, obs.Name, vm, h.pe.Name), "%v", err)
			continue
		}
		converge = append(converge, t1.Sub(t0))
		lostTotal += res.Lost
		dupTotal += res.Duplicates
		m, _ := MACEntry(obs, scenarioEVI, mac)
		want := before.Sequence + uint32(i+1)
		r.check(m.Peer == h.pe.RouterID() && m.Sequence == want,
			fmt.Sprintf("move %d: %s's FIB points %s at %s with MAC mobility sequence %d", i+1, obs.Name, vm, h.pe.Name, want),
			"entry %+v", m)
		for _, pe := range []*PENode{home, dst} {
			if pe == h.pe {
				continue
			}
			m, ok := MACEntry(pe, scenarioEVI, mac)
			r.check(ok && m.Source == evpn.SourceRemote && m.Peer == h.pe.RouterID(),
				fmt.Sprintf("move %d: %s withdrew its local entry and follows %s", i+1, pe.Name, h.pe.Name), "entry %+v, present %v", m, ok)
		}
		r.check(res.Duplicates == 0, fmt.Sprintf("move %d: no frame of %s's stream arrives twice (no loop)", i+1, observerHost), "%s", res)
		r.figure(fmt.Sprintf("move %d (%s): first frame at new PE -> %s FIB", i+1, h.pe.Name, obs.Name), "%s; stream %s", ms(t1.Sub(t0)), res)
	}
	if len(converge) > 0 {
		var sum time.Duration
		for _, d := range converge {
			sum += d
		}
		r.figure("mean FIB convergence over the moves", "%s, %d frames lost in all (%v interval)", ms(sum/time.Duration(len(converge))), lostTotal, streamInterval)
	}
	return r, nil
}

// ControllerRestart is scenario 6: PE pe's evpnd stops and starts again
// while streams run both ways between a host on it and a host elsewhere;
// the data plane keeps forwarding, and the new evpnd, finding the state it
// wants already in the switch, writes nothing.
func (f *Fabric) ControllerRestart(ctx context.Context, pe, local, remote string, down time.Duration) (*Result, error) {
	r := &Result{Name: fmt.Sprintf("6. controller restart: evpnd on %s stops for %v under steady traffic", pe, down)}
	p, err := f.mustPE(pe)
	if err != nil {
		return nil, err
	}
	hl, err := f.mustHost(local)
	if err != nil {
		return nil, err
	}
	hr, err := f.mustHost(remote)
	if err != nil {
		return nil, err
	}
	// Both hosts known everywhere first.
	if res, err := hl.Ping(ctx, hr.Addr().Addr(), 2, 10*time.Millisecond, 2*time.Second); err != nil || res.Received != 2 {
		return nil, fmt.Errorf("%s cannot ping %s before the restart: %+v, %v", local, remote, res, err)
	}
	out := StartStream(hl.Host, hr.Host, 0x88c0, streamInterval)
	in := StartStream(hr.Host, hl.Host, 0x88c1, streamInterval)
	time.Sleep(200 * time.Millisecond)
	t0 := time.Now()
	if err := f.RestartController(ctx, pe, down); err != nil {
		out.Stop(0)
		in.Stop(0)
		return nil, err
	}
	reconciled := waitReconciled(ctx, p)
	reconciledAfter := time.Since(t0)
	time.Sleep(200 * time.Millisecond)
	out.Halt()
	in.Halt()
	ro, ri := out.Stop(100*time.Millisecond), in.Stop(0)
	checkReconciled(r, p, reconciled, reconciledAfter)
	r.check(ro.Lost == 0, fmt.Sprintf("%s -> %s (leaves through %s's data plane): zero frames lost", local, remote, pe), "%s", ro)
	r.check(ri.Lost == 0, fmt.Sprintf("%s -> %s (needs the remote PEs to keep %s's routes): zero frames lost", remote, local, pe), "%s", ri)
	r.figure(local+" -> "+remote, "%s", ro)
	r.figure(remote+" -> "+local, "%s", ri)
	return r, nil
}

// waitReconciled waits (30 s at most) for the restarted evpnd of p to finish
// reconciling with its switch.
func waitReconciled(ctx context.Context, p *PENode) error {
	d := p.Daemon()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := waitUntil(wctx, func() bool { done, _, _ := d.Reconciled(); return done })
	return err
}

// checkReconciled adds the checks and figures of a restarted evpnd that
// should find its switch already as it wants it: reconciliation done, no
// update, no P4Runtime write. waitErr is waitReconciled's answer.
func checkReconciled(r *Result, p *PENode, waitErr error, after time.Duration) {
	done, updates, rerr := p.Daemon().Reconciled()
	r.check(waitErr == nil && done && rerr == nil, "the new evpnd adopts the switch state and reconciles", "done %v, err %v, wait %v", done, rerr, waitErr)
	r.check(updates == 0, "reconciliation finds nothing to change (0 updates)", "%d updates", updates)
	w := P4RuntimeWrites(p.Registry())
	r.check(w == 0, "the restarted evpnd makes zero P4Runtime writes", "%d writes", w)
	r.figure("restart to reconciliation done", "%s", ms(after))
	r.figure("P4Runtime writes by the new evpnd", "%d (reconciliation updates %d)", w, updates)
}

// PEFailure is scenario 5: PE pe stops (evpnd, target and softswitch; its
// cables go dark); a multihomed host keeps being reachable from a remote
// host through the other PE of its segment once the remote PEs have removed
// the failed PE (mass withdrawal). It measures the outage and frames lost.
func (f *Fabric) PEFailure(ctx context.Context, pe, mh, remote string) (*Result, error) {
	r := &Result{Name: fmt.Sprintf("5. PE failure: %s stops; %s stays reachable through its other PE", pe, mh)}
	if _, err := f.mustPE(pe); err != nil {
		return nil, err
	}
	hm, err := f.mustHost(mh)
	if err != nil {
		return nil, err
	}
	hr, err := f.mustHost(remote)
	if err != nil {
		return nil, err
	}
	peR := f.hostPE(hr)
	if err := hm.GratuitousARP(); err != nil {
		return nil, err
	}
	// Behind the multihomed host sit virtualMACs more stations (VMs behind
	// a hypervisor's bond): the failure must cost the remote PE writes per
	// segment, not per MAC.
	for i := range virtualMACs {
		src := route.MAC{0x02, 0x00, 0x5e, 0x10, byte(i >> 8), byte(i)}
		if err := hm.sendAs(src, hr.MAC(), []byte("vm")); err != nil {
			return nil, err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = waitUntil(wctx, func() bool {
		m, ok := MACEntry(peR, scenarioEVI, macOf(hm.Host))
		if !ok || m.Dest.Kind != asic.ToAliasingGroup {
			return false
		}
		table, err := peR.EVPN().MACTable(scenarioEVI)
		if err != nil {
			return false
		}
		behind := 0
		for _, e := range table {
			if e.ESI == m.ESI {
				behind++
			}
		}
		return behind >= virtualMACs+1
	})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%s never reached %s and its %d stations through its segment: %w", peR.Name, mh, virtualMACs, err)
	}
	// Eight flows toward the multihomed host, so that aliasing sends some
	// through the PE that fails; one flow back.
	var streams []*Stream
	for i := range 8 {
		streams = append(streams, StartStream(hr.Host, hm.Host, layers.EthernetType(0x88d0+i), streamInterval))
	}
	back := StartStream(hm.Host, hr.Host, 0x88e0, streamInterval)
	time.Sleep(300 * time.Millisecond)
	macsBefore := 0
	if p := peR.EVPN(); p != nil {
		for _, e := range p.EVIs() {
			macsBefore += e.MACs
		}
	}
	writesBefore := P4RuntimeWrites(peR.Registry())
	t0 := time.Now()
	if err := f.StopPE(pe); err != nil {
		r.check(false, "stop "+pe, "%v", err)
	}
	// Converged when the remote PE's entry for the host no longer lists
	// the failed PE: wait for the streams instead, which is what matters.
	time.Sleep(1500 * time.Millisecond)
	for _, s := range streams {
		s.Halt()
	}
	back.Halt()
	time.Sleep(100 * time.Millisecond)
	var to StreamResult
	var lastLoss time.Time
	for _, s := range streams {
		res := s.Stop(0)
		to.Sent += res.Sent
		to.Received += res.Received
		to.Lost += res.Lost
		to.Duplicates += res.Duplicates
		to.LongestOutage = max(to.LongestOutage, res.LongestOutage)
		if res.LastLoss.After(lastLoss) {
			lastLoss = res.LastLoss
		}
	}
	from := back.Stop(0)
	r.check(to.Duplicates == 0, fmt.Sprintf("%s -> %s: no duplicates", remote, mh), "%s", to)
	m, ok := MACEntry(peR, scenarioEVI, macOf(hm.Host))
	r.check(ok, fmt.Sprintf("%s still reaches %s after %s failed", peR.Name, mh, pe), "entry %+v present %v", m, ok)
	// Traffic after convergence flows.
	res, perr := hr.Ping(ctx, hm.Addr().Addr(), 5, 10*time.Millisecond, time.Second)
	r.check(perr == nil && res.Received == 5, fmt.Sprintf("%s pings %s after the failure: 5/5", remote, mh), "%+v, %v", res, perr)
	if !lastLoss.IsZero() {
		r.figure(fmt.Sprintf("%s -> %s outage after %s stopped", remote, mh, pe), "%s (last lost frame sent %s after the stop)", ms(to.LongestOutage), ms(lastLoss.Sub(t0)))
	}
	r.figure(fmt.Sprintf("%s -> %s (8 flows)", remote, mh), "%s", to)
	r.figure(fmt.Sprintf("%s's P4Runtime writes for the failure (mass withdrawal)", peR.Name), "%d write RPCs; %d MACs in its FIB, %d behind %s's segment",
		P4RuntimeWrites(peR.Registry())-writesBefore, macsBefore, virtualMACs+1, mh)
	r.figure(fmt.Sprintf("%s -> %s (bond fails over)", mh, remote), "%s", from)
	return r, nil
}

// virtualMACs is how many stations PEFailure puts behind the multihomed
// host.
const virtualMACs = 200

// sendAs transmits one frame from src (a station behind the host) to dst
// on the host's VLAN, through its bond.
func (fh *FabricHost) sendAs(src route.MAC, dst []byte, payload []byte) error {
	frame := append(append([]byte(nil), dst...), src[:]...)
	if fh.vlan != 0 {
		frame = append(frame, 0x81, 0x00, byte(fh.vlan>>8), byte(fh.vlan))
	}
	frame = append(append(frame, 0x88, 0xb5), payload...)
	for len(frame) < 60 {
		frame = append(frame, 0)
	}
	return fh.transmit(frame)
}

// P4RuntimeWrites counts the P4Runtime write RPCs recorded in reg: the
// observations of p4asic's write latency histogram (a histogram with no
// observation exports nothing, which is zero writes).
func P4RuntimeWrites(reg *prometheus.Registry) uint64 {
	if reg == nil {
		return 0
	}
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != "p4asic_write_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}
