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
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

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
	for _, ap := range aps {
		go func() {
			defer f.wg.Done()
			for {
				fr, err := ap.end.Recv(ctx)
				if err != nil {
					return
				}
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

// NetnsBUM is scenario 2 with Linux hosts: from each sender's interface a
// broadcast (tagged with its VLAN where the kernel tags) leaves, and every
// host's interface counts the copies that arrive. The same checks as BUM.
func (f *Fabric) NetnsBUM(ctx context.Context, senders ...string) (*Result, error) {
	r := &Result{Name: "2. BUM with Linux hosts: broadcasts arrive once, in their EVI only"}
	taps := map[string]*tap{}
	defer func() {
		for _, t := range taps {
			t.Close()
		}
	}()
	for _, hs := range f.topo.Hosts {
		h := f.nsHosts[hs.Name]
		iface := "eth0"
		if len(hs.Links) == 2 && f.netns.kernelBond {
			iface = "bond0"
		}
		t, err := openTap(h, iface)
		if err != nil {
			return nil, err
		}
		taps[hs.Name] = t
	}
	evi := map[string]uint16{}
	for _, hs := range f.topo.Hosts {
		evi[hs.Name] = hs.VLAN
	}
	for i, s := range senders {
		h := f.nsHosts[s]
		if h == nil {
			return nil, fmt.Errorf("no netns host %q", s)
		}
		vlan := evi[s]
		tag := []byte(fmt.Sprintf("netns-bum-%d-%s", i, s))
		frame := append(append([]byte(nil), broadcastMAC...), h.MAC...)
		if vlan != 0 && f.netns.kernelVLAN {
			frame = append(frame, 0x81, 0x00, byte(vlan>>8), byte(vlan))
		}
		frame = append(append(frame, 0x88, 0xb6), tag...)
		for len(frame) < 60 {
			frame = append(frame, 0)
		}
		for _, t := range taps {
			t.take()
		}
		if err := taps[s].port.Write(frame); err != nil {
			return nil, fmt.Errorf("host %s: send: %w", s, err)
		}
		select {
		case <-time.After(settle):
		case <-ctx.Done():
			return nil, ctx.Err()
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
			if hs.Name != s && evi[hs.Name] == vlan {
				w = 1
			}
			want = append(want, fmt.Sprintf("%s:%d", hs.Name, w))
			seen = append(seen, fmt.Sprintf("%s:%d", hs.Name, n))
		}
		r.check(strings.Join(want, " ") == strings.Join(seen, " "),
			fmt.Sprintf("a broadcast from %s (VLAN %d) reaches each other host of its EVI once, no host of another EVI, not %s itself", s, vlan, s),
			"copies %s, want %s", strings.Join(seen, " "), strings.Join(want, " "))
	}
	return r, nil
}
