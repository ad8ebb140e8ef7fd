package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/softswitch"
)

// Network-namespace mode: every host is a Linux network namespace with
// real interfaces (a veth per link, a balance-xor bond over two for a
// multihomed host, a VLAN interface on top when the host is tagged), so
// ping and arping are the kernel's. The switch ends of the veths live in
// one namespace of the fabric's own, where each PE's softswitch opens them
// with AF_PACKET; PE core ports stay on in-memory links to the LSR, and
// BGP runs on loopback as in-process. Nothing is addressed outside these
// namespaces.

// StateDir holds the state files of netns fabrics, for `testbed down`.
const StateDir = "/run/p4evpn-testbed"

// netnsState is what a netns fabric created, in creation order.
type netnsState struct {
	// Fabric is the topology's name; Namespaces are named namespaces
	// (/run/netns/NAME) the fabric created.
	Fabric     string            `json:"fabric"`
	Namespaces []string          `json:"namespaces"`
	Hosts      map[string]string `json:"hosts"` // host name → namespace

	// kernelVLAN and kernelBond say whether the kernel has 8021q and
	// bonding (containers often lack them).
	kernelVLAN, kernelBond bool

	mu sync.Mutex // mu guards Namespaces and Hosts
}

// NetnsAvailable says whether this process can build namespaces.
func NetnsAvailable() error {
	if os.Geteuid() != 0 {
		return errors.New("network-namespace mode needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)")
	}
	return nil
}

// nsName is the namespace of one part of fabric fabric.
func nsName(fabric, part string) string { return "tb-" + fabric + "-" + strings.ToLower(part) }

// inNamespace runs f with the calling goroutine's OS thread in ns, as
// CNI's ns.Do does. It runs on a goroutine of its own whose thread stays
// locked: if switching back fails, the thread dies with the goroutine
// instead of leaking a foreign namespace into the Go scheduler.
func inNamespace(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("current namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter namespace: %w", err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("back to the original namespace: %w", err))
			return // the thread stays locked and exits with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// newNamespace creates named namespace name without moving any thread of
// ours into it for longer than the creation.
func (s *netnsState) newNamespace(name string) (netns.NsHandle, error) {
	var h netns.NsHandle
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		h, err = netns.NewNamed(name) // moves this thread into it
		if err != nil {
			errc <- fmt.Errorf("namespace %s: %w", name, err)
			if netns.Set(orig) == nil {
				runtime.UnlockOSThread()
			}
			return
		}
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("namespace %s: back to the original namespace: %w", name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		return netns.None(), err
	}
	s.mu.Lock()
	s.Namespaces = append(s.Namespaces, name)
	s.mu.Unlock()
	return h, nil
}

// remove deletes every namespace the fabric created (their interfaces go
// with them) and the state file.
func (s *netnsState) remove() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for i := len(s.Namespaces) - 1; i >= 0; i-- {
		if err := netns.DeleteNamed(s.Namespaces[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", s.Namespaces[i], err))
		}
	}
	s.Namespaces = nil
	if err := os.Remove(statePath(s.Fabric)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func statePath(fabric string) string { return filepath.Join(StateDir, fabric+".json") }

func (s *netnsState) save() error {
	s.mu.Lock()
	b, err := json.MarshalIndent(s, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(StateDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(statePath(s.Fabric), b, 0o644)
}

// states reads the state files of netns fabrics: the one named fabric, or
// every one when fabric is empty.
func states(fabric string) ([]*netnsState, error) {
	paths := []string{statePath(fabric)}
	if fabric == "" {
		var err error
		if paths, err = filepath.Glob(filepath.Join(StateDir, "*.json")); err != nil {
			return nil, err
		}
	}
	var out []*netnsState
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("fabric state: %w", err)
		}
		s := &netnsState{}
		if err := json.Unmarshal(b, s); err != nil {
			return nil, fmt.Errorf("fabric state %s: %w", p, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// Down removes the namespaces of netns fabric fabric (every netns fabric
// when empty) from their state files: after `testbed up` was killed, or to
// stop one from another shell. It returns the fabrics removed.
func Down(fabric string) ([]string, error) {
	ss, err := states(fabric)
	if err != nil {
		return nil, err
	}
	var names []string
	var errs []error
	for _, s := range ss {
		names = append(names, s.Fabric)
		errs = append(errs, s.remove())
	}
	return names, errors.Join(errs...)
}

// Exec runs args in the namespace of host, looked up in the running netns
// fabrics' state files, with the given standard streams.
func Exec(ctx context.Context, host string, args []string, stdout, stderr *os.File) error {
	ss, err := states("")
	if err != nil {
		return err
	}
	var ns []string
	for _, s := range ss {
		if n, ok := s.Hosts[host]; ok {
			ns = append(ns, n)
		}
	}
	switch len(ns) {
	case 0:
		return fmt.Errorf("exec: no running netns fabric has a host %q (state files in %s)", host, StateDir)
	case 1:
	default:
		return fmt.Errorf("exec: host %q is in several fabrics: %v", host, ns)
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns[0]}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	return cmd.Run()
}

// NetnsHost is a host of a netns fabric: a namespace.
type NetnsHost struct {
	Name      string
	Namespace string
	MAC       net.HardwareAddr
	Addr      netip.Prefix
	// Interface is the host's addressed interface (eth0, bond0, eth0.100).
	Interface string
}

// Command returns cmd to run args in the host's namespace.
func (h *NetnsHost) Command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Namespace}, args...)...)
}

// setupNetnsHost builds host hs's namespace and cables its links: a veth per
// link, the host end in the host's namespace, the switch end in the switch
// namespace swNS under name "<pe>p<port>". It returns the switch-end names
// per link.
func (f *Fabric) setupNetnsHost(hs HostSpec) (*NetnsHost, []string, error) {
	s := f.netns
	name := nsName(f.topo.Name, hs.Name)
	hostNS, err := s.newNamespace(name)
	if err != nil {
		return nil, nil, err
	}
	defer hostNS.Close()
	s.mu.Lock()
	s.Hosts[hs.Name] = name
	s.mu.Unlock()
	if err := s.save(); err != nil {
		return nil, nil, err
	}
	mac := mustMAC(hs.MAC)
	links := hs.Links
	bondInCable := len(links) == 2 && !s.kernelBond
	if bondInCable {
		// One veth to the host; the bond runs in the cable (cableBond).
		f.degraded = append(f.degraded, fmt.Sprintf("host %s: no bonding in this kernel: one veth, balance-xor bond in the testbed", hs.Name))
		links = []LinkSpec{{PE: "bond", Port: uint32(len(f.cableBonds) + 1)}}
	}
	var swEnds []string
	var hostEnds []string
	for i, l := range links {
		hostEnd := fmt.Sprintf("eth%d", i)
		swEnd := fmt.Sprintf("%sp%d", l.PE, l.Port)
		tmp := fmt.Sprintf("tbh%d%s", i, hs.Name)
		if len(tmp) > 15 {
			tmp = tmp[:15]
		}
		// Created in the switch namespace, the host end then moves.
		err := inNamespace(f.swNS, func() error {
			veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: swEnd, MTU: 9000}, PeerName: tmp, PeerHardwareAddr: mac}
			if err := netlink.LinkAdd(veth); err != nil {
				return fmt.Errorf("veth %s: %w", swEnd, err)
			}
			peer, err := netlink.LinkByName(tmp)
			if err != nil {
				return err
			}
			if err := netlink.LinkSetNsFd(peer, int(hostNS)); err != nil {
				return fmt.Errorf("move %s to %s: %w", tmp, name, err)
			}
			sw, err := netlink.LinkByName(swEnd)
			if err != nil {
				return err
			}
			disableIPv6(swEnd)
			return netlink.LinkSetUp(sw)
		})
		if err != nil {
			return nil, nil, fmt.Errorf("host %s: %w", hs.Name, err)
		}
		swEnds = append(swEnds, swEnd)
		hostEnds = append(hostEnds, hostEnd)
		if err := inNamespace(hostNS, func() error {
			link, err := netlink.LinkByName(tmp)
			if err != nil {
				return err
			}
			return netlink.LinkSetName(link, hostEnd)
		}); err != nil {
			return nil, nil, fmt.Errorf("host %s: %w", hs.Name, err)
		}
	}
	if bondInCable {
		f.cableBonds = append(f.cableBonds, &cableBond{host: hs.Name, end: swEnds[0], links: hs.Links, vlan: hs.VLAN})
		swEnds = nil
	}
	h := &NetnsHost{Name: hs.Name, Namespace: name, MAC: mac, Addr: netip.MustParsePrefix(hs.IP)}
	err = inNamespace(hostNS, func() error {
		disableIPv6("all")
		disableIPv6("default")
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		top := hostEnds[0]
		if len(hostEnds) == 2 && f.netns.kernelBond {
			bond := netlink.NewLinkBond(netlink.LinkAttrs{Name: "bond0", HardwareAddr: mac, MTU: 9000})
			bond.Mode = netlink.BOND_MODE_BALANCE_XOR
			bond.XmitHashPolicy = netlink.BOND_XMIT_HASH_POLICY_LAYER2
			bond.Miimon = 100
			if err := netlink.LinkAdd(bond); err != nil {
				return fmt.Errorf("bond0: %w", err)
			}
			for _, e := range hostEnds {
				l, err := netlink.LinkByName(e)
				if err != nil {
					return err
				}
				if err := netlink.LinkSetBondSlave(l, bond); err != nil {
					return fmt.Errorf("enslave %s: %w", e, err)
				}
			}
			top = "bond0"
		}
		for _, e := range append(hostEnds, top) {
			l, err := netlink.LinkByName(e)
			if err != nil {
				return err
			}
			if err := netlink.LinkSetUp(l); err != nil {
				return fmt.Errorf("up %s: %w", e, err)
			}
		}
		if hs.VLAN != 0 && f.netns.kernelVLAN {
			parent, err := netlink.LinkByName(top)
			if err != nil {
				return err
			}
			vname := fmt.Sprintf("%s.%d", top, hs.VLAN)
			v := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: vname, ParentIndex: parent.Attrs().Index}, VlanId: int(hs.VLAN)}
			if err := netlink.LinkAdd(v); err != nil {
				return fmt.Errorf("%s: %w", vname, err)
			}
			if err := netlink.LinkSetUp(v); err != nil {
				return err
			}
			top = vname
		}
		l, err := netlink.LinkByName(top)
		if err != nil {
			return err
		}
		addr, err := netlink.ParseAddr(hs.IP)
		if err != nil {
			return err
		}
		h.Interface = top
		return netlink.AddrAdd(l, addr)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("host %s: %w", hs.Name, err)
	}
	return h, swEnds, nil
}

// disableIPv6 keeps a namespace's interfaces from sending router and
// neighbour solicitations: noise in frame counts. Best effort; the caller's
// thread is in the namespace.
func disableIPv6(iface string) {
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+iface+"/disable_ipv6", []byte("1"), 0o644)
}

// openInNamespace opens AF_PACKET on iface inside ns: the socket stays bound
// to that namespace's interface whichever thread uses it afterwards.
func openInNamespace(ns netns.NsHandle, iface string) (softswitch.Port, error) {
	var p softswitch.Port
	err := inNamespace(ns, func() error {
		ip, err := softswitch.OpenInterface(iface)
		if err != nil {
			return err
		}
		p = ip
		return nil
	})
	return p, err
}

// probeKernel finds out, in the switch namespace, whether the kernel can
// make VLAN interfaces and bonds.
func (s *netnsState) probeKernel(ns netns.NsHandle) error {
	return inNamespace(ns, func() error {
		d := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "tbprobe0"}, PeerName: "tbprobe2"}
		if err := netlink.LinkAdd(d); err != nil {
			return fmt.Errorf("probe: veth: %w", err)
		}
		defer netlink.LinkDel(d)
		parent, err := netlink.LinkByName("tbprobe0")
		if err != nil {
			return err
		}
		v := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: "tbprobe0.1", ParentIndex: parent.Attrs().Index}, VlanId: 1}
		if netlink.LinkAdd(v) == nil {
			s.kernelVLAN = true
			netlink.LinkDel(v)
		}
		b := netlink.NewLinkBond(netlink.LinkAttrs{Name: "tbprobe1"})
		if netlink.LinkAdd(b) == nil {
			s.kernelBond = true
			netlink.LinkDel(b)
		}
		return nil
	})
}

// taggingPort puts a host's 802.1Q tag on in the cable when the kernel
// cannot make VLAN interfaces: the host sends untagged, the PE sees the tag
// the topology gives the host, and frames toward the host lose it again.
type taggingPort struct {
	softswitch.Port
	vlan uint16
}

func (p taggingPort) Read(buf []byte) (int, error) {
	for {
		n, err := p.Port.Read(buf)
		if err != nil {
			return n, err
		}
		if n < 14 || n+4 > len(buf) {
			continue // runt or no room for the tag: a NIC would drop it too
		}
		copy(buf[16:n+4], buf[12:n])
		buf[12], buf[13] = 0x81, 0x00
		buf[14], buf[15] = byte(p.vlan>>8)&0x0f, byte(p.vlan)
		return n + 4, nil
	}
}

func (p taggingPort) Write(frame []byte) error {
	if len(frame) >= 18 && frame[12] == 0x81 && frame[13] == 0x00 && uint16(frame[14]&0x0f)<<8|uint16(frame[15]) == p.vlan {
		out := make([]byte, 0, len(frame)-4)
		out = append(append(out, frame[:12]...), frame[16:]...)
		return p.Port.Write(out)
	}
	return p.Port.Write(frame)
}

// cableBond is a multihomed Linux host's bond, run by the testbed when the
// kernel has no bonding: the host has one veth; frames from it leave by one
// of its PE links (balance-xor, layer2 hash over the links that are up),
// frames from either PE go to it.
type cableBond struct {
	host  string
	end   string
	links []LinkSpec
	vlan  uint16
	port  softswitch.Port
	// delivered counts, per link, the frames the PEs sent to the host.
	delivered []atomic.Uint64
}

// startCableBond opens the bond's veth and runs its two directions until
// the fabric closes.
func (f *Fabric) startCableBond(ctx context.Context, b *cableBond) error {
	port, err := openInNamespace(f.swNS, b.end)
	if err != nil {
		return fmt.Errorf("host %s: bond %s: %w", b.host, b.end, err)
	}
	if b.vlan != 0 && !f.netns.kernelVLAN {
		port = taggingPort{Port: port, vlan: b.vlan}
	}
	b.port = port
	b.delivered = make([]atomic.Uint64, len(b.links))
	var aps []*accessPort
	for _, l := range b.links {
		aps = append(aps, f.PE(l.PE).access[l.Port])
	}
	f.wg.Add(1 + len(aps))
	go func() {
		defer f.wg.Done()
		buf := make([]byte, 9216)
		for {
			n, err := port.Read(buf)
			if err != nil {
				return
			}
			var up []*accessPort
			for _, ap := range aps {
				ap.mu.Lock()
				if !ap.down {
					up = append(up, ap)
				}
				ap.mu.Unlock()
			}
			if len(up) == 0 || n < 14 {
				continue
			}
			fr := buf[:n]
			ap := up[int(fr[5]^fr[11]^fr[12]^fr[13])%len(up)]
			_ = ap.end.Write(fr)
		}
	}()
	for i, ap := range aps {
		go func() {
			defer f.wg.Done()
			for {
				fr, err := ap.end.Recv(ctx)
				if err != nil {
					return
				}
				b.delivered[i].Add(1)
				_ = port.Write(fr)
			}
		}()
	}
	return nil
}

// tap is an AF_PACKET socket on a netns host's interface: scenarios send
// raw frames from the host and count what reaches it, as they do with Go
// hosts in-process.
type tap struct {
	port softswitch.Port
	done chan struct{}

	// mu guards frames.
	mu     sync.Mutex
	frames [][]byte
}

// openTap opens a tap on iface in h's namespace and records every frame
// that arrives until Close.
func openTap(h *NetnsHost, iface string) (*tap, error) {
	ns, err := netns.GetFromName(h.Namespace)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", h.Name, err)
	}
	defer ns.Close()
	p, err := openInNamespace(ns, iface)
	if err != nil {
		return nil, fmt.Errorf("host %s: tap on %s: %w", h.Name, iface, err)
	}
	t := &tap{port: p, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		buf := make([]byte, 9216)
		for {
			n, err := p.Read(buf)
			if err != nil {
				return
			}
			t.mu.Lock()
			if len(t.frames) < maxRecorded {
				t.frames = append(t.frames, append([]byte(nil), buf[:n]...))
			}
			t.mu.Unlock()
		}
	}()
	return t, nil
}

// take returns the recorded frames and clears the record.
func (t *tap) take() [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.frames
	t.frames = nil
	return out
}

func (t *tap) Close() error {
	err := t.port.Close()
	<-t.done
	return err
}

// netnsTaps opens a tap on every host's addressed link (below its VLAN
// interface, on the link it moved to if it moved): the caller closes them.
func (f *Fabric) netnsTaps() (map[string]*tap, error) {
	taps := map[string]*tap{}
	for _, hs := range f.topo.Hosts {
		h := f.nsHosts[hs.Name]
		iface, _, _ := strings.Cut(h.Interface, ".") // eth0.100 → eth0
		t, err := openTap(h, iface)
		if err != nil {
			closeTaps(taps)
			return nil, err
		}
		taps[hs.Name] = t
	}
	return taps, nil
}

func closeTaps(taps map[string]*tap) {
	for _, t := range taps {
		t.Close()
	}
}

// netnsFrame is a frame from host h to dst with EtherType et carrying tag,
// 802.1Q-tagged with the host's VLAN where the kernel tags (the cable does
// otherwise).
func (f *Fabric) netnsFrame(h *NetnsHost, vlan uint16, dst net.HardwareAddr, et uint16, tag []byte) []byte {
	frame := append(append([]byte(nil), dst...), h.MAC...)
	if vlan != 0 && f.netns.kernelVLAN {
		frame = append(frame, 0x81, 0x00, byte(vlan>>8), byte(vlan))
	}
	frame = append(append(frame, byte(et>>8), byte(et)), tag...)
	for len(frame) < 60 {
		frame = append(frame, 0)
	}
	return frame
}

// netnsBroadcast sends a broadcast carrying tag from sender's tap and
// checks that each other host of its EVI gets it once, no other host, not
// the sender.
func (f *Fabric) netnsBroadcast(ctx context.Context, r *Result, taps map[string]*tap, sender string, et uint16, tag []byte) error {
	h := f.nsHosts[sender]
	if h == nil {
		return fmt.Errorf("no netns host %q", sender)
	}
	evi := map[string]uint16{}
	for _, hs := range f.topo.Hosts {
		evi[hs.Name] = hs.VLAN
	}
	vlan := evi[sender]
	for _, t := range taps {
		t.take()
	}
	if err := taps[sender].port.Write(f.netnsFrame(h, vlan, broadcastMAC, et, tag)); err != nil {
		return fmt.Errorf("host %s: send: %w", sender, err)
	}
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	var want, seen []string
	for _, hs := range f.topo.Hosts {
		n := 0
		for _, fr := range taps[hs.Name].take() {
			if bytes.Contains(fr, tag) {
				n++
			}
		}
		w := 0
		if hs.Name != sender && evi[hs.Name] == vlan {
			w = 1
		}
		want = append(want, fmt.Sprintf("%s:%d", hs.Name, w))
		seen = append(seen, fmt.Sprintf("%s:%d", hs.Name, n))
	}
	r.check(strings.Join(want, " ") == strings.Join(seen, " "),
		fmt.Sprintf("a broadcast from %s (VLAN %d, EtherType %#x) reaches each other host of its EVI once, no host of another EVI, not %s itself", sender, vlan, et, sender),
		"copies %s, want %s", strings.Join(seen, " "), strings.Join(want, " "))
	return nil
}

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
	var bond *cableBond
	for _, b := range f.cableBonds {
		if b.host == mh {
			bond = b
		}
	}
	if bond == nil {
		return nil, fmt.Errorf("host %s has no bond in the cable (a kernel bond or a single link): no per-link counts", mh)
	}
	var spec HostSpec
	for _, hs := range f.topo.Hosts {
		if hs.Name == remote {
			spec = hs
		}
	}
	peR := f.PE(spec.Links[0].PE)
	if out, err := hm.Command(ctx, "ping", "-c", "2", "-i", "0.05", "-W", "2", hr.Addr.Addr().String()).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s cannot ping %s: %w\n%s", mh, remote, err, out)
	}
	mac := macOf(&Host{mac: hm.MAC})
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := waitUntil(wctx, func() bool {
		for _, l := range bond.links {
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
	before := make([]uint64, len(bond.delivered))
	for i := range bond.delivered {
		before[i] = bond.delivered[i].Load()
	}
	taps[mh].take()
	tag := []byte("netns-aliasing")
	for i := range flows {
		fr := f.netnsFrame(hr, spec.VLAN, hm.MAC, uint16(0x9000+i), tag)
		for range per {
			if err := taps[remote].port.Write(fr); err != nil {
				return nil, fmt.Errorf("host %s: send: %w", remote, err)
			}
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
	via := make([]uint64, len(bond.delivered))
	for i := range bond.delivered {
		via[i] = bond.delivered[i].Load() - before[i]
	}
	r.check(total == flows*per, fmt.Sprintf("all %d frames from %s reach %s's interface exactly once", flows*per, remote, mh), "%d arrived", total)
	r.check(len(via) == 2 && via[0] > 0 && via[1] > 0, fmt.Sprintf("%s's flows to %s spread over both PEs (aliasing)", remote, mh), "per link %v", via)
	r.figure(fmt.Sprintf("frames per link of %s (%d flows)", mh, flows), "%s:%d %d, %s:%d %d",
		bond.links[0].PE, bond.links[0].Port, via[0], bond.links[1].PE, bond.links[1].Port, via[1])
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
	// Lost counts the echoes before the last one that got no reply: ping
	// stopped by SIGINT may leave its last echo in flight, not lost.
	Lost    int
	Summary string // ping's statistics lines
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
			}
		}
	}
	if !counted {
		return p, fmt.Errorf("no packet counts in ping's output %q", out)
	}
	for seq := 1; seq < p.Sent; seq++ { // iputils numbers from 1
		if !answered[seq] {
			p.Lost++
		}
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
	r.check(err == nil && res.Sent > 1 && res.Lost == 0,
		fmt.Sprintf("%s pings %s every 10 ms across the restart: zero echoes lost (the last may be in flight at SIGINT)", local, remote),
		"%d lost, %d of %d answered (ping: %v, parse: %v)\n%s", res.Lost, res.Received, res.Sent, perr, err, res.Summary)
	r.figure(local+" pings "+remote+" (kernel, 10 ms)", "%d sent, %d answered, %d lost", res.Sent, res.Received, res.Lost)
	return r, nil
}

// NetnsMove re-cables single-homed netns host name to port on PE pe, as a
// VM moves: a new veth from that port (a one-link cable relay onto the
// PE's in-memory access port) appears in the host, the host's address
// moves onto it and its old link goes down. The host says nothing until
// its kernel next sends.
func (f *Fabric) NetnsMove(name, pe string, port uint32) error {
	h := f.nsHosts[name]
	if h == nil {
		return fmt.Errorf("move: no netns host %q", name)
	}
	p := f.PE(pe)
	if p == nil {
		return fmt.Errorf("move %s: no PE %q", name, pe)
	}
	if p.access[port] == nil {
		return fmt.Errorf("move %s: %s has no free access port %d", name, pe, port)
	}
	var spec HostSpec
	for _, hs := range f.topo.Hosts {
		if hs.Name == name {
			spec = hs
		}
	}
	if len(spec.Links) != 1 {
		return fmt.Errorf("move %s: only a single-homed host moves (it has %d links)", name, len(spec.Links))
	}
	hostNS, err := netns.GetFromName(h.Namespace)
	if err != nil {
		return fmt.Errorf("move %s: %w", name, err)
	}
	defer hostNS.Close()
	swEnd := fmt.Sprintf("%sp%d", pe, port)
	link := fmt.Sprintf("to%sp%d", pe, port) // the host's new interface
	tmp := "tbm" + link
	if len(tmp) > 15 {
		tmp = tmp[:15]
	}
	err = inNamespace(f.swNS, func() error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: swEnd, MTU: 9000}, PeerName: tmp, PeerHardwareAddr: h.MAC}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("veth %s: %w", swEnd, err)
		}
		peer, err := netlink.LinkByName(tmp)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetNsFd(peer, int(hostNS)); err != nil {
			return fmt.Errorf("move %s to %s: %w", tmp, h.Namespace, err)
		}
		sw, err := netlink.LinkByName(swEnd)
		if err != nil {
			return err
		}
		disableIPv6(swEnd)
		return netlink.LinkSetUp(sw)
	})
	if err != nil {
		return fmt.Errorf("move %s: %w", name, err)
	}
	relay := &cableBond{host: name, end: swEnd, links: []LinkSpec{{PE: pe, Port: port}}, vlan: spec.VLAN}
	if err := f.startCableBond(f.runCtx, relay); err != nil {
		return fmt.Errorf("move %s: %w", name, err)
	}
	f.cableBonds = append(f.cableBonds, relay)
	oldLink, _, _ := strings.Cut(h.Interface, ".")
	top := link
	err = inNamespace(hostNS, func() error {
		l, err := netlink.LinkByName(tmp)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetName(l, link); err != nil {
			return err
		}
		disableIPv6(link)
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
		if spec.VLAN != 0 && f.netns.kernelVLAN {
			top = fmt.Sprintf("%s.%d", link, spec.VLAN)
			v := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: top, ParentIndex: l.Attrs().Index}, VlanId: int(spec.VLAN)}
			if err := netlink.LinkAdd(v); err != nil {
				return fmt.Errorf("%s: %w", top, err)
			}
			if err := netlink.LinkSetUp(v); err != nil {
				return err
			}
		}
		old, err := netlink.LinkByName(oldLink)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetDown(old); err != nil {
			return fmt.Errorf("down %s: %w", oldLink, err)
		}
		addr, err := netlink.ParseAddr(h.Addr.String())
		if err != nil {
			return err
		}
		nl, err := netlink.LinkByName(top)
		if err != nil {
			return err
		}
		return netlink.AddrAdd(nl, addr) // the old link's went down with it
	})
	if err != nil {
		return fmt.Errorf("move %s: %w", name, err)
	}
	h.Interface = top
	return nil
}

// NetnsMobility is scenario 3 with Linux hosts, one move: vm's link goes
// from its PE to port newPort of newPE (NetnsMove) while observer's kernel
// pings vm every 10 ms; vm's kernel then pings observer (its first frames
// at the new PE). observer's PE must point vm's MAC at newPE with MAC
// mobility sequence +1, the old PE must follow newPE, and observer reaches
// vm again. The time from vm's first ping to the FIB update and the echoes
// lost across the move are figures (the time includes starting ping).
func (f *Fabric) NetnsMobility(ctx context.Context, vm, newPE string, newPort uint32, observer string) (*Result, error) {
	r := &Result{Name: fmt.Sprintf("3. VM mobility with Linux hosts: %s moves to %s", vm, newPE)}
	hv, ho := f.nsHosts[vm], f.nsHosts[observer]
	if hv == nil || ho == nil {
		return nil, fmt.Errorf("no netns hosts %q and %q", vm, observer)
	}
	var home, obs *PENode
	for _, hs := range f.topo.Hosts {
		switch hs.Name {
		case vm:
			home = f.PE(hs.Links[0].PE)
		case observer:
			obs = f.PE(hs.Links[0].PE)
		}
	}
	dst := f.PE(newPE)
	if obs == nil || home == nil || dst == nil || obs == home || obs == dst || home == dst {
		return nil, fmt.Errorf("mobility needs the VM's PE, %s and the observer's PE to differ", newPE)
	}
	mac := macOf(&Host{mac: hv.MAC})
	// The VM is known everywhere before it moves.
	if out, err := ho.Command(ctx, "ping", "-c", "2", "-i", "0.05", "-W", "2", hv.Addr.Addr().String()).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s cannot ping %s before the move: %w\n%s", observer, vm, err, out)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := waitUntil(wctx, func() bool { m, ok := MACEntry(obs, scenarioEVI, mac); return ok && m.Peer == home.RouterID() })
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%s never learned %s at %s: %w", obs.Name, vm, home.Name, err)
	}
	before, _ := MACEntry(obs, scenarioEVI, mac)

	ping := ho.Command(ctx, "ping", "-i", "0.01", "-W", "1", "-w", "60", hv.Addr.Addr().String())
	var out bytes.Buffer
	ping.Stdout, ping.Stderr = &out, &out
	if err := ping.Start(); err != nil {
		return nil, fmt.Errorf("host %s: ping: %w", observer, err)
	}
	stopPing := func() (kernelPing, error) {
		if err := ping.Process.Signal(os.Interrupt); err != nil {
			ping.Process.Kill()
		}
		ping.Wait()
		return parseKernelPing(out.String())
	}
	time.Sleep(200 * time.Millisecond)
	if err := f.NetnsMove(vm, newPE, newPort); err != nil {
		stopPing()
		return nil, err
	}
	vmPing := hv.Command(ctx, "ping", "-c", "3", "-i", "0.05", "-W", "2", ho.Addr.Addr().String())
	var vmOut bytes.Buffer
	vmPing.Stdout, vmPing.Stderr = &vmOut, &vmOut
	t0 := time.Now()
	if err := vmPing.Start(); err != nil {
		stopPing()
		return nil, fmt.Errorf("host %s: ping: %w", vm, err)
	}
	wctx, cancel = context.WithTimeout(ctx, 5*time.Second)
	t1, err := waitUntil(wctx, func() bool { m, ok := MACEntry(obs, scenarioEVI, mac); return ok && m.Peer == dst.RouterID() })
	cancel()
	verr := vmPing.Wait()
	r.check(verr == nil, fmt.Sprintf("%s, moved, pings %s", vm, observer), "%v\n%s", verr, vmOut.String())
	time.Sleep(300 * time.Millisecond)
	res, perr := stopPing()
	m, _ := MACEntry(obs, scenarioEVI, mac)
	want := before.Sequence + 1
	r.check(err == nil && m.Peer == dst.RouterID() && m.Sequence == want,
		fmt.Sprintf("%s's FIB points %s at %s with MAC mobility sequence %d", obs.Name, vm, dst.Name, want), "entry %+v, wait %v", m, err)
	mh, ok := MACEntry(home, scenarioEVI, mac)
	r.check(ok && mh.Source == evpn.SourceRemote && mh.Peer == dst.RouterID(),
		fmt.Sprintf("%s withdrew its local entry and follows %s", home.Name, dst.Name), "entry %+v, present %v", mh, ok)
	after, aerr := ho.Command(ctx, "ping", "-c", "5", "-i", "0.05", "-W", "2", hv.Addr.Addr().String()).CombinedOutput()
	r.check(aerr == nil && strings.Contains(string(after), " 0% packet loss"), fmt.Sprintf("%s reaches %s at %s", observer, vm, dst.Name), "%v\n%s", aerr, after)
	if err == nil {
		r.figure(fmt.Sprintf("%s's first ping at %s -> %s FIB", vm, dst.Name, obs.Name), "%s", ms(t1.Sub(t0)))
	}
	r.figure(fmt.Sprintf("%s pings %s every 10 ms across the move", observer, vm), "%d sent, %d answered, %d lost (parse: %v)", res.Sent, res.Received, res.Lost, perr)
	return r, nil
}
