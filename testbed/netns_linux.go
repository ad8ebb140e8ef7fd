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
// real interfaces, so ping and arping are the kernel's, and every PE port is
// a real interface in the PE's own namespace, so a PE runs on any
// P4Runtime target (netns_cabling_linux.go). BGP runs on loopback in the
// root namespace, as in-process; nothing is addressed outside these
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
	// PEs maps PE names to their namespaces (their ports pN, BMv2).
	PEs map[string]string `json:"pes,omitempty"`

	// kernelVLAN and kernelBond say whether the kernel has 8021q and
	// bonding (containers often lack them).
	kernelVLAN, kernelBond bool

	mu sync.Mutex // mu guards Namespaces, Hosts and PEs
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

// Exec runs args in the namespace of host (a host, or a PE: its ports and
// target), looked up in the running netns fabrics' state files, with the
// given standard streams.
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
		if n, ok := s.PEs[host]; ok {
			ns = append(ns, n)
		}
	}
	switch len(ns) {
	case 0:
		return fmt.Errorf("exec: no running netns fabric has a host or PE %q (state files in %s)", host, StateDir)
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
