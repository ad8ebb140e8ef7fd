package testbed

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// NetnsBUM is scenario 2 with Linux hosts: from each sender's interface a
// broadcast (tagged with its VLAN where the kernel tags) leaves, and every
// host's interface counts the copies that arrive. The same checks as BUM.
func (f *Fabric) NetnsBUM(ctx context.Context, senders ...string) (*Result, error) {
	r := &Result{Name: "2. BUM with Linux hosts: broadcasts arrive once, in their EVI only"}
	taps, err := f.netnsTaps()
	if err != nil {
		return nil, err
	}
	defer closeTaps(taps)
	for i, s := range senders {
		if err := f.netnsBroadcast(ctx, r, taps, s, 0x88b6, []byte(fmt.Sprintf("netns-bum-%d-%s", i, s))); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// NetnsMultihoming is scenario 4 with Linux hosts: the kernel of mh (bonded
// over two PEs, the bond in the cable when the kernel has none) pings
// remote, so both PEs of its segment know it; remote's flows to mh spread
// over both links (aliasing) and arrive once; a broadcast from remote
// reaches mh once (DF); mh's broadcasts never come back (split horizon).
func (f *Fabric) NetnsMultihoming(ctx context.Context, mh, remote string) (*Result, error) {
	r := &Result{Name: fmt.Sprintf("4. all-active multihoming with Linux hosts: %s on two PEs, traffic from %s", mh, remote)}
	hm, hr := f.nsHosts[mh], f.nsHosts[remote]
	if hm == nil || hr == nil {
		return nil, fmt.Errorf("no netns hosts %q and %q", mh, remote)
	}
	spec, mspec := f.hostSpec(remote), f.hostSpec(mh)
	if len(mspec.Links) != 2 {
		return nil, fmt.Errorf("host %s has %d links, want 2 (a bond over two PEs)", mh, len(mspec.Links))
	}
	links := mspec.Links
	peR := f.PE(spec.Links[0].PE)
	if out, err := hm.Command(ctx, "ping", "-c", "2", "-i", "0.05", "-W", "2", hr.Addr.Addr().String()).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s cannot ping %s: %w\n%s", mh, remote, err, out)
	}
	mac := macOf(&Host{mac: hm.MAC})
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := waitUntil(wctx, func() bool {
		for _, l := range links {
			if _, ok := MACEntry(f.PE(l.PE), scenarioEVI, mac); !ok {
				return false
			}
		}
		m, ok := MACEntry(peR, scenarioEVI, mac)
		return ok && m.Dest.Kind == asic.ToAliasingGroup
	})
	cancel()
	m, _ := MACEntry(peR, scenarioEVI, mac)
	r.check(err == nil && !m.ESI.IsZero(), fmt.Sprintf("%s reaches %s through an aliasing group of its segment", peR.Name, mh), "entry %+v: %v", m, err)

	taps, err := f.netnsTaps()
	if err != nil {
		return nil, err
	}
	defer closeTaps(taps)
	// Aliasing: 32 flows (EtherTypes) of 8 frames each from remote's kernel
	// interface.
	const flows, per = 32, 8
	// Per link, the frames each PE port sends toward mh: the kernel's
	// count on the PE's interface, whichever target runs it.
	txCounts := func() ([]uint64, error) {
		var out []uint64
		for _, l := range links {
			n, err := f.linkTxPackets(l)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	}
	before, err := txCounts()
	if err != nil {
		return nil, err
	}
	taps[mh].take()
	tag := []byte("netns-aliasing")
	for i := range flows {
		fr := f.netnsFrame(hr, spec.VLAN, hm.MAC, uint16(0x9000+i), tag)
		for range per {
			if err := taps[remote].port.Write(fr); err != nil {
				return nil, fmt.Errorf("host %s: send: %w", remote, err)
			}
			// Paced as a host sends, not a burst at memory speed: BMv2
			// forwards some 40k frames/s and drops a burst beyond its
			// queues.
			time.Sleep(200 * time.Microsecond)
		}
	}
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	total := 0
	for _, fr := range taps[mh].take() {
		if bytes.Contains(fr, tag) {
			total++
		}
	}
	via, err := txCounts()
	if err != nil {
		return nil, err
	}
	for i := range via {
		via[i] -= before[i]
	}
	r.check(total == flows*per, fmt.Sprintf("all %d frames from %s reach %s's interface exactly once", flows*per, remote, mh), "%d arrived", total)
	r.check(len(via) == 2 && via[0] >= per && via[1] >= per, fmt.Sprintf("%s's flows to %s spread over both PEs (aliasing)", remote, mh), "per link %v", via)
	r.figure(fmt.Sprintf("frames per link of %s (%d flows)", mh, flows), "%s:%d %d, %s:%d %d",
		links[0].PE, links[0].Port, via[0], links[1].PE, links[1].Port, via[1])
	// DF, then split horizon: four EtherTypes, hashed onto both links.
	if err := f.netnsBroadcast(ctx, r, taps, remote, 0x88b6, []byte("netns-df-"+remote)); err != nil {
		return nil, err
	}
	for i := range 4 {
		if err := f.netnsBroadcast(ctx, r, taps, mh, uint16(0x88b7+i), []byte(fmt.Sprintf("netns-split-horizon-%d", i))); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// kernelPing is the summary of one run of the kernel's ping.
type kernelPing struct {
	Sent, Received int
	// Lost counts the echoes that got no reply while a later one did.
	// Trailing counts those after the last reply: in flight when SIGINT
	// stopped ping (a reply delayed past the next echo under load), or
	// lost for good; a scenario tells them apart by pinging again.
	Lost, Trailing int
	// Duplicates counts replies ping marked (DUP!): an echo or its reply
	// that arrived twice (a loop, a flood to two PEs).
	Duplicates int
	// LongestGap is the longest run of consecutive lost echoes.
	LongestGap int
	Summary    string // ping's statistics lines
}

// parseKernelPing reads ping's "N packets transmitted, M received" line
// and the icmp_seq of every reply.
func parseKernelPing(out string) (kernelPing, error) {
	p := kernelPing{Summary: out}
	if i := strings.Index(out, "---"); i >= 0 {
		p.Summary = strings.TrimSpace(out[i:])
	}
	answered := map[int]bool{}
	counted := false
	for _, line := range strings.Split(out, "\n") {
		if _, err := fmt.Sscanf(line, "%d packets transmitted, %d received", &p.Sent, &p.Received); err == nil {
			counted = true
			continue
		}
		if _, rest, ok := strings.Cut(line, "icmp_seq="); ok {
			var seq int
			if _, err := fmt.Sscanf(rest, "%d", &seq); err == nil && strings.Contains(line, "bytes from") {
				answered[seq] = true
				if strings.Contains(line, "(DUP!)") {
					p.Duplicates++
				}
			}
		}
	}
	if !counted {
		return p, fmt.Errorf("no packet counts in ping's output %q", out)
	}
	last := 0
	for seq := range answered {
		last = max(last, seq)
	}
	p.Trailing = p.Sent - last
	gap := 0
	for seq := 1; seq < last; seq++ { // iputils numbers from 1
		if answered[seq] {
			gap = 0
			continue
		}
		p.Lost++
		gap++
		p.LongestGap = max(p.LongestGap, gap)
	}
	return p, nil
}

// NetnsControllerRestart is scenario 6 with Linux hosts: the kernel of
// local pings remote every 10 ms (each echo crosses pe's data plane both
// ways) while pe's evpnd stops for down, starts again and reconciles; no
// echo may be lost, and the new evpnd reconciles without a P4Runtime write, as in
// ControllerRestart.
func (f *Fabric) NetnsControllerRestart(ctx context.Context, pe, local, remote string, down time.Duration) (*Result, error) {
	r := &Result{Name: fmt.Sprintf("6. controller restart with Linux hosts: evpnd on %s stops for %v under the kernel's ping", pe, down)}
	p, err := f.mustPE(pe)
	if err != nil {
		return nil, err
	}
	hl, hr := f.nsHosts[local], f.nsHosts[remote]
	if hl == nil || hr == nil {
		return nil, fmt.Errorf("no netns hosts %q and %q", local, remote)
	}
	to := hr.Addr.Addr().String()
	// Both hosts known everywhere (ARP and MACs) first.
	if out, err := hl.Command(ctx, "ping", "-c", "2", "-i", "0.05", "-W", "2", to).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s cannot ping %s before the restart: %w\n%s", local, remote, err, out)
	}
	// Every 10 ms until the new evpnd has reconciled (then SIGINT makes
	// ping print its counts); -w bounds it should the test die first.
	ping := hl.Command(ctx, "ping", "-i", "0.01", "-W", "1", "-w", "60", to)
	var out bytes.Buffer
	ping.Stdout, ping.Stderr = &out, &out
	if err := ping.Start(); err != nil {
		return nil, fmt.Errorf("host %s: ping: %w", local, err)
	}
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	if err := f.RestartController(ctx, pe, down); err != nil {
		ping.Process.Kill()
		ping.Wait()
		return nil, err
	}
	reconciled := waitReconciled(ctx, p)
	after := time.Since(t0)
	time.Sleep(200 * time.Millisecond) // echoes sent after reconciliation, too
	if err := ping.Process.Signal(os.Interrupt); err != nil {
		return nil, fmt.Errorf("host %s: stop ping: %w", local, err)
	}
	perr := ping.Wait()
	checkReconciled(r, p, reconciled, after)
	res, err := parseKernelPing(out.String())
	r.check(err == nil && res.Received > 1 && res.Lost == 0,
		fmt.Sprintf("%s pings %s every 10 ms across the restart: zero echoes lost (those after the last reply were in flight at SIGINT)", local, remote),
		"%d lost, %d of %d answered (ping: %v, parse: %v)\n%s", res.Lost, res.Received, res.Sent, perr, err, res.Summary)
	again, aerr := hl.Command(ctx, "ping", "-c", "5", "-i", "0.05", "-W", "2", to).CombinedOutput()
	r.check(aerr == nil && strings.Contains(string(again), " 0% packet loss"), fmt.Sprintf("%s still reaches %s after the restart: 5 of 5", local, remote), "%v\n%s", aerr, again)
	r.figure(local+" pings "+remote+" (kernel, 10 ms)", "%d sent, %d answered, %d lost, %d in flight at the end", res.Sent, res.Received, res.Lost, res.Trailing)
	return r, nil
}

// hostSpec is host name's topology entry (zero if none).
func (f *Fabric) hostSpec(name string) HostSpec {
	for _, hs := range f.topo.Hosts {
		if hs.Name == name {
			return hs
		}
	}
	return HostSpec{}
}

// NetnsMobility is scenario 3 with Linux hosts, as Mobility does it
// in-process: vm moves to port newPort of newPE, back home, and again, five
// moves (NetnsMove re-points its cable) while observer's kernel pings vm
// every 10 ms; after each move vm's kernel pings observer, its first frame
// at the new PE. Per move, observer's PE must point vm's MAC at the new PE
// with MAC mobility sequence +1, the PE vm left must follow, and no echo
// reply may arrive twice (no loop); the fifth move within the window must
// freeze the MAC (duplicate detection). Figures: per move, the time from
// vm's first frame at the new PE (stamped by its cable) to the observer
// PE's FIB event, and the echoes lost.
func (f *Fabric) NetnsMobility(ctx context.Context, vm, newPE string, newPort uint32, observer string) (*Result, error) {
	r := &Result{Name: fmt.Sprintf("3. VM mobility with Linux hosts: %s moves to %s and back, five times", vm, newPE)}
	hv, ho := f.nsHosts[vm], f.nsHosts[observer]
	if hv == nil || ho == nil {
		return nil, fmt.Errorf("no netns hosts %q and %q", vm, observer)
	}
	vspec, ospec := f.hostSpec(vm), f.hostSpec(observer)
	if len(vspec.Links) != 1 || len(ospec.Links) == 0 {
		return nil, fmt.Errorf("mobility needs a single-homed %s (it has %d links) and an observer", vm, len(vspec.Links))
	}
	home, homePort := f.PE(vspec.Links[0].PE), vspec.Links[0].Port
	obs, dst := f.PE(ospec.Links[0].PE), f.PE(newPE)
	if obs == nil || home == nil || dst == nil || obs == home || obs == dst || home == dst {
		return nil, fmt.Errorf("mobility needs the VM's PE, %s and the observer's PE to differ", newPE)
	}
	mac := macOf(&Host{mac: hv.MAC})
	to, back := hv.Addr.Addr().String(), ho.Addr.Addr().String()
	// The VM is known everywhere before it moves.
	if out, err := ho.Command(ctx, "ping", "-c", "2", "-i", "0.05", "-W", "2", to).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s cannot ping %s before the move: %w\n%s", observer, vm, err, out)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := waitUntil(wctx, func() bool { m, ok := MACEntry(obs, scenarioEVI, mac); return ok && m.Peer == home.RouterID() })
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
	lostTotal := 0
	for i, h := range hops {
		last := i == len(hops)-1
		mctx, stop := context.WithCancel(ctx)
		events, err := obs.EVPN().Subscribe(mctx, 1024)
		if err != nil {
			stop()
			return nil, err
		}
		// The new PE's own learn splits the time: data plane and evpnd
		// there, then BGP and the observer's PE.
		learned, err := h.pe.EVPN().Subscribe(mctx, 1024)
		if err != nil {
			stop()
			return nil, err
		}
		ping := ho.Command(mctx, "ping", "-i", "0.01", "-W", "1", "-w", "60", to)
		var out bytes.Buffer
		ping.Stdout, ping.Stderr = &out, &out
		if err := ping.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("host %s: ping: %w", observer, err)
		}
		time.Sleep(100 * time.Millisecond)
		firstFrame, err := f.netnsMove(vm, h.pe.Name, h.port)
		if err != nil {
			stop()
			ping.Wait()
			return nil, err
		}
		// vm's kernel speaks first at the new port: its ARP cache still
		// has observer, so an echo request is the first frame. It pings
		// every 20 ms until one reply (3 s at most) while the FIB event
		// is awaited: replies go to the old PE until observer's PE has
		// converged.
		vmPing := hv.Command(mctx, "ping", "-c", "1", "-i", "0.02", "-w", "3", back)
		var vmOut bytes.Buffer
		vmPing.Stdout, vmPing.Stderr = &vmOut, &vmOut
		if err := vmPing.Start(); err != nil {
			stop()
			ping.Wait()
			return nil, fmt.Errorf("host %s: ping: %w", vm, err)
		}
		var t1 time.Time
		wctx, cancel := context.WithTimeout(mctx, 5*time.Second)
		localc := make(chan time.Time, 1)
		go func() {
			t, _ := waitEvent(wctx, learned, func(ev evpn.Event) bool {
				return ev.MAC == mac && !ev.Peer.IsValid() && (ev.Kind == evpn.EventMACMoved || ev.Kind == evpn.EventMACAdded)
			})
			localc <- t
		}()
		if last {
			// The fifth move in the window: duplicate detection freezes
			// the MAC; where it stays is the PE's decision.
			_, err = waitUntil(wctx, func() bool { return f.frozenAt(mac) != "" })
		} else {
			t1, err = waitEvent(wctx, events, func(ev evpn.Event) bool {
				return ev.MAC == mac && ev.Peer == h.pe.RouterID() && (ev.Kind == evpn.EventMACMoved || ev.Kind == evpn.EventMACAdded)
			})
		}
		if last {
			cancel() // a frozen MAC may never be learned: stop waiting
		}
		tLocal := <-localc // the learn precedes the FIB event; wctx bounds it
		cancel()
		verr := vmPing.Wait()
		time.Sleep(200 * time.Millisecond) // echoes after convergence, too
		if err := ping.Process.Signal(os.Interrupt); err != nil {
			ping.Process.Kill()
		}
		ping.Wait()
		stop()
		res, perr := parseKernelPing(out.String())
		if last {
			frozen := f.frozenAt(mac)
			r.check(frozen != "", fmt.Sprintf("move %d within the window freezes %s (RFC 7432 §15.1: 5 moves in 180 s)", i+1, vm),
				"no PE reports it frozen: %v", err)
			var dups uint64
			for _, pe := range f.pes {
				if p := pe.EVPN(); p != nil {
					dups += p.Counters().DuplicateMACs
				}
			}
			r.figure("frozen at", "%s(duplicate MACs counted: %d)", frozen, dups)
			continue
		}
		r.check(verr == nil, fmt.Sprintf("move %d: %s, moved to %s, reaches %s (its kernel's ping is answered)", i+1, vm, h.pe.Name, observer), "%v\n%s", verr, vmOut.String())
		if err != nil {
			r.check(false, fmt.Sprintf("move %d: %s's FIB points %s at %s", i+1, obs.Name, vm, h.pe.Name), "%v", err)
			continue
		}
		first := firstFrame()
		if first.IsZero() {
			r.check(false, fmt.Sprintf("move %d: %s's cable relays its first frame to %s", i+1, vm, h.pe.Name), "no frame from %s after the move", vm)
			continue
		}
		m, _ := MACEntry(obs, scenarioEVI, mac)
		want := before.Sequence + uint32(i+1)
		r.check(m.Peer == h.pe.RouterID() && m.Sequence == want,
			fmt.Sprintf("move %d: %s's FIB points %s at %s with MAC mobility sequence %d", i+1, obs.Name, vm, h.pe.Name, want), "entry %+v", m)
		for _, pe := range []*PENode{home, dst} {
			if pe == h.pe {
				continue
			}
			m, ok := MACEntry(pe, scenarioEVI, mac)
			r.check(ok && m.Source == evpn.SourceRemote && m.Peer == h.pe.RouterID(),
				fmt.Sprintf("move %d: %s withdrew its local entry and follows %s", i+1, pe.Name, h.pe.Name), "entry %+v, present %v", m, ok)
		}
		r.check(perr == nil && res.Duplicates == 0 && res.Received > 0,
			fmt.Sprintf("move %d: %s's echoes to %s come back, none twice (no loop)", i+1, observer, vm), "%d answered, %d duplicates (parse: %v)\n%s", res.Received, res.Duplicates, perr, res.Summary)
		converge = append(converge, t1.Sub(first))
		lostTotal += res.Lost
		r.figure(fmt.Sprintf("move %d (%s): first frame at new PE -> %s FIB", i+1, h.pe.Name, obs.Name), "%s (%s learned it after %s); %d echoes lost of %d (10 ms), %d in flight at the end",
			ms(t1.Sub(first)), h.pe.Name, learnedAfter(first, tLocal), res.Lost, res.Sent, res.Trailing)
	}
	if len(converge) > 0 {
		var sum time.Duration
		for _, d := range converge {
			sum += d
		}
		r.figure("mean FIB convergence over the moves", "%s, %d echoes lost in all", ms(sum/time.Duration(len(converge))), lostTotal)
	}
	// A frozen MAC is no longer re-advertised: observer's PE keeps the
	// entry it had, whichever PE the VM now sits behind.
	m, ok := MACEntry(obs, scenarioEVI, mac)
	r.figure(fmt.Sprintf("after the freeze, %s's entry for %s", obs.Name, vm), "present %v, peer %s, sequence %d", ok, m.Peer, m.Sequence)
	return r, nil
}

// learnedAfter is the time from first to learned, "never" if zero.
func learnedAfter(first, learned time.Time) string {
	if learned.IsZero() {
		return "never"
	}
	return ms(learned.Sub(first))
}

// frozenAt names the PEs (space-separated, trailing space) that report mac
// frozen by duplicate detection, "" if none.
func (f *Fabric) frozenAt(mac route.MAC) string {
	frozen := ""
	for _, pe := range f.pes {
		if m, ok := MACEntry(pe, scenarioEVI, mac); ok && m.Frozen {
			frozen += pe.Name + " "
		}
	}
	return frozen
}

// NetnsKnownUnicast is scenario 1 with Linux hosts: a's and c's kernels
// resolve each other with ARP and ping both ways across their PEs' data
// planes and the LSR on veths; a's PE knows c's MAC from BGP only.
func (f *Fabric) NetnsKnownUnicast(ctx context.Context, a, c string) (*Result, error) {
	r := &Result{Name: fmt.Sprintf("1. known unicast with Linux hosts: %s <-> %s", a, c)}
	ha, hc := f.nsHosts[a], f.nsHosts[c]
	if ha == nil || hc == nil {
		return nil, fmt.Errorf("no netns hosts %q and %q", a, c)
	}
	peA, peC := f.PE(f.hostSpec(a).Links[0].PE), f.PE(f.hostSpec(c).Links[0].PE)
	coreA := LinkSpec{PE: peA.Name, Port: peA.config.Core.Port}
	txBefore, err := f.linkTxPackets(coreA)
	if err != nil {
		return nil, err
	}
	for _, p := range [][2]*NetnsHost{{ha, hc}, {hc, ha}} {
		out, err := p[0].Command(ctx, "ping", "-c", "5", "-i", "0.05", "-W", "2", p[1].Addr.Addr().String()).CombinedOutput()
		r.check(err == nil && strings.Contains(string(out), " 0% packet loss"), fmt.Sprintf("%s's kernel pings %s: 5 of 5 answered", p[0].Name, p[1].Name), "%v\n%s", err, out)
	}
	out, err := ha.Command(ctx, "ip", "neigh", "show", hc.Addr.Addr().String()).CombinedOutput()
	r.check(err == nil && strings.Contains(string(out), hc.MAC.String()), fmt.Sprintf("%s's ARP entry for %s is %s", a, c, hc.MAC), "%v: %s", err, out)
	m, ok := MACEntry(peA, scenarioEVI, macOf(&Host{mac: hc.MAC}))
	r.check(ok && m.Source == evpn.SourceRemote && m.Peer == peC.RouterID(),
		fmt.Sprintf("%s reaches %s through a MAC route from BGP toward %s", peA.Name, c, peC.Name), "entry %+v, present %v", m, ok)
	txAfter, err := f.linkTxPackets(coreA)
	if err != nil {
		return nil, err
	}
	r.check(txAfter-txBefore >= 5, fmt.Sprintf("the echoes leave %s by its core interface %s (a veth to the LSR)", peA.Name, portIface(coreA.Port)),
		"%d frames sent", txAfter-txBefore)
	return r, nil
}

// NetnsPEFailure is scenario 5 with Linux hosts: pe stops (StopPE: evpnd
// with a Hard Reset, its target, its interfaces down) while remote's kernel
// pings the dual-homed mh every 10 ms; mh stays reachable through its other
// PE. Figures: echoes lost, the longest gap, and the P4Runtime writes the
// remote PE made for the failure.
func (f *Fabric) NetnsPEFailure(ctx context.Context, pe, mh, remote string) (*Result, error) {
	r := &Result{Name: fmt.Sprintf("5. PE failure with Linux hosts: %s stops; %s stays reachable from %s", pe, mh, remote)}
	hm, hr := f.nsHosts[mh], f.nsHosts[remote]
	if hm == nil || hr == nil {
		return nil, fmt.Errorf("no netns hosts %q and %q", mh, remote)
	}
	if _, err := f.mustPE(pe); err != nil {
		return nil, err
	}
	peR := f.PE(f.hostSpec(remote).Links[0].PE)
	to := hm.Addr.Addr().String()
	if out, err := hr.Command(ctx, "ping", "-c", "2", "-i", "0.05", "-W", "2", to).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s cannot ping %s before the failure: %w\n%s", remote, mh, err, out)
	}
	ping := hr.Command(ctx, "ping", "-i", "0.01", "-W", "1", "-w", "60", to)
	var out bytes.Buffer
	ping.Stdout, ping.Stderr = &out, &out
	if err := ping.Start(); err != nil {
		return nil, fmt.Errorf("host %s: ping: %w", remote, err)
	}
	time.Sleep(300 * time.Millisecond)
	writes := P4RuntimeWrites(peR.Registry())
	serr := f.StopPE(pe)
	r.check(serr == nil, "stop "+pe, "%v", serr)
	time.Sleep(2 * time.Second)
	if err := ping.Process.Signal(os.Interrupt); err != nil {
		ping.Process.Kill()
	}
	ping.Wait()
	res, perr := parseKernelPing(out.String())
	r.check(perr == nil && res.Duplicates == 0, fmt.Sprintf("%s's echoes to %s: none answered twice", remote, mh), "%d duplicates (parse: %v)", res.Duplicates, perr)
	after, aerr := hr.Command(ctx, "ping", "-c", "5", "-i", "0.05", "-W", "2", to).CombinedOutput()
	r.check(aerr == nil && strings.Contains(string(after), " 0% packet loss"), fmt.Sprintf("%s pings %s after %s failed: 5 of 5", remote, mh, pe), "%v\n%s", aerr, after)
	r.figure(fmt.Sprintf("%s pings %s every 10 ms while %s fails", remote, mh, pe), "%d sent, %d answered, %d lost (longest gap %d), %d in flight at the end", res.Sent, res.Received, res.Lost, res.LongestGap, res.Trailing)
	r.figure(fmt.Sprintf("%s's P4Runtime writes for the failure", peR.Name), "%d write RPCs", P4RuntimeWrites(peR.Registry())-writes)
	return r, nil
}

// netnsDemoScenarios runs the scenarios with Linux hosts on the example
// fabric, the destructive ones (a frozen MAC, a failed PE) last.
func netnsDemoScenarios(ctx context.Context, f *Fabric, emit func(*Result, error) error) error {
	steps := []func() (*Result, error){
		func() (*Result, error) { return f.NetnsKnownUnicast(ctx, "A", "C") },
		func() (*Result, error) { return f.NetnsBUM(ctx, "A", "C", "D", "E") },
		func() (*Result, error) { return f.NetnsMultihoming(ctx, "B", "C") },
		func() (*Result, error) { return f.NetnsControllerRestart(ctx, "pe2", "D", "C", 200*time.Millisecond) },
		func() (*Result, error) { return f.NetnsMobility(ctx, "A", "pe3", 2, "D") },
		func() (*Result, error) { return f.NetnsPEFailure(ctx, "pe1", "B", "C") },
	}
	for _, s := range steps {
		if err := emit(s()); err != nil {
			return err
		}
	}
	return nil
}

// RunNetnsDemo is RunDemo with Linux hosts and every PE port a veth
// (root): topo (the example fabric) starts in network namespaces on
// opts.Target, every scenario runs, and the report goes to out as it goes.
func RunNetnsDemo(ctx context.Context, topo *Topology, log *slog.Logger, opts NetnsOptions, out io.Writer) (*Report, error) {
	rep := &Report{}
	start := time.Now()
	target := opts.Target
	if target == "" {
		target = TargetSoftswitch
	}
	fmt.Fprintf(out, "p4evpn testbed demo: fabric %q in network namespaces (Linux hosts, every PE port a veth, %s per PE)\n", topo.Name, target)
	f, err := StartNetnsFabric(ctx, topo, log, opts)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := f.WaitConverged(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "%sconverged in %s (BGP sessions, flood lists, DF elections)\n", f.Describe(), ms(time.Since(start)))
	for _, d := range f.Degraded() {
		fmt.Fprintf(out, "  note: %s\n", d)
	}
	fmt.Fprintln(out)
	err = netnsDemoScenarios(ctx, f, func(r *Result, err error) error {
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, r)
		fmt.Fprintln(out, r)
		return nil
	})
	if err != nil {
		return rep, err
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(out, "closing the fabric: %v\n", err)
	}
	checks := 0
	for _, r := range rep.Results {
		checks += len(r.Checks)
	}
	fmt.Fprintf(out, "\n%d scenarios, %d checks, %d failed, in %s\n", len(rep.Results), checks, rep.Failures(), time.Since(start).Round(100*time.Millisecond))
	return rep, nil
}
