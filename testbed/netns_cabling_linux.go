package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	p4evpn "github.com/p4evpn/p4evpn"
	"github.com/p4evpn/p4evpn/softswitch"
)

// The cabling of a netns fabric. Every PE port is a real interface: PE pe
// has a namespace tb-F-pe holding one veth end per configured port, named
// p<N> after the port id, so that any P4Runtime target (the softswitch on
// AF_PACKET, BMv2) runs on them. The other ends are
//
//   - for the core port: in namespace tb-F-core, where the Go LSR reads them
//     (pe<i> for the i-th PE);
//   - for an access port cabled straight to a host: in the host's namespace
//     (a multihomed host whose kernel can bond, and tag if it must);
//   - for every other access port: in the patch panel tb-F-cables, named
//     pe<i>p<N>.
//
// A host not cabled straight has one veth, eth0, whose other end h<j> is in
// the panel; a cable (a Go relay in the panel) joins it to the panel ends
// of its PE links: it tags and untags the host's VLAN when the kernel has
// no 8021q, hashes over two links as a balance-xor bond (layer2) when the
// kernel has no bonding, and skips links that are down. A VM moves by
// re-pointing its cable to another panel port.

// Netns targets: what runs each PE's data plane in its namespace.
const (
	// TargetSoftswitch is the embedded softswitch on AF_PACKET sockets,
	// served over P4Runtime on loopback (the default).
	TargetSoftswitch = "softswitch"
	// TargetBMv2 is BMv2's simple_switch_grpc, with P4Runtime on a Unix
	// socket; evpnd pushes the pipeline to it.
	TargetBMv2 = "bmv2"
)

// NetnsOptions tunes a netns fabric.
type NetnsOptions struct {
	// Target is TargetSoftswitch (default when empty) or TargetBMv2.
	Target string
}

// netnsFabric is a netns fabric's namespaces and cabling.
type netnsFabric struct {
	opts NetnsOptions
	// bmv2Bin is simple_switch_grpc with TargetBMv2.
	bmv2Bin string
	// core holds the LSR's ends, patch the panel; peNS is each PE's
	// namespace by PE name. Handles are closed by closeHandles.
	core, patch netns.NsHandle
	peNS        map[string]netns.NsHandle
	// cables is the relay of each host that has one, fixed after setup.
	cables map[string]*cable
	// hostNS is each host's namespace by host name, for re-cabling.
	hostNS map[string]netns.NsHandle
	// degraded says what the cables do for the kernel.
	degraded []string

	// mu serializes re-cabling (NetnsMove) and guards panel, at and
	// closed. panel holds the panel end of each access port not cabled
	// straight to a host (a straight move takes one out and puts the one
	// left in); at is where each host cabled straight to a single PE port
	// is.
	mu     sync.Mutex
	panel  map[LinkSpec]*panelPort
	at     map[string]LinkSpec
	closed bool
	// wg tracks the panel's relays.
	wg sync.WaitGroup
}

// panelPort is the panel end of a PE access port.
type panelPort struct {
	spec  LinkSpec
	iface string
	port  softswitch.Port
	// cable is the cable plugged in, nil when none; down is set when the
	// PE fails (its carrier is lost).
	cable atomic.Pointer[cable]
	down  atomic.Bool
}

// cable is a host's relay in the panel.
type cable struct {
	host  string
	iface string
	// vlan is the tag the cable pushes and pops (0: the host's kernel
	// tags, or the host is untagged).
	vlan uint16
	port softswitch.Port
	// links are the panel ports the host's frames leave by.
	links atomic.Pointer[[]*panelPort]
	// armed is set by a move; the next frame from the host, the first at
	// its new port, stores its time in firstAt (Unix nanoseconds).
	armed   atomic.Bool
	firstAt atomic.Int64
}

// portIface is the interface of port id in a PE's namespace.
func portIface(id uint32) string { return fmt.Sprintf("p%d", id) }

// setupNetns creates the namespaces and veths of every PE, host, the core
// and the panel. Targets and relays start later (startNetnsTarget,
// startCabling).
func (f *Fabric) setupNetns(opts NetnsOptions) error {
	nf := &netnsFabric{opts: opts, core: netns.None(), patch: netns.None(), peNS: map[string]netns.NsHandle{},
		panel: map[LinkSpec]*panelPort{}, cables: map[string]*cable{}, hostNS: map[string]netns.NsHandle{}, at: map[string]LinkSpec{}}
	switch opts.Target {
	case "", TargetSoftswitch:
		nf.opts.Target = TargetSoftswitch
	case TargetBMv2:
		bin, err := BMv2Binary()
		if err != nil {
			return err
		}
		nf.bmv2Bin = bin
	default:
		return fmt.Errorf("netns target %q: want %s or %s", opts.Target, TargetSoftswitch, TargetBMv2)
	}
	// Checked before f.netns is set: Close must not remove another
	// fabric's state file.
	if _, err := os.Stat(statePath(f.topo.Name)); err == nil {
		return fmt.Errorf("fabric %s: %s exists: a netns fabric of that name runs or crashed (testbed down %s)", f.topo.Name, statePath(f.topo.Name), f.topo.Name)
	}
	f.nsf = nf
	f.netns = &netnsState{Fabric: f.topo.Name, Hosts: map[string]string{}, PEs: map[string]string{}}
	f.nsHosts = map[string]*NetnsHost{}
	// Namespace names must not collide: tb-F-core, tb-F-cables, one per PE
	// and per host.
	owner := map[string]string{"core": "the core", "cables": "the patch panel"}
	for _, pe := range f.topo.PEs {
		if err := claimName(owner, pe.Name, "PE "+pe.Name); err != nil {
			return err
		}
	}
	for _, hs := range f.topo.Hosts {
		if err := claimName(owner, hs.Name, "host "+hs.Name); err != nil {
			return err
		}
	}
	var err error
	if nf.patch, err = f.netns.newNamespace(nsName(f.topo.Name, "cables")); err != nil {
		return err
	}
	if err := f.netns.save(); err != nil {
		return err
	}
	if err := f.netns.probeKernel(nf.patch); err != nil {
		return err
	}
	if nf.core, err = f.netns.newNamespace(nsName(f.topo.Name, "core")); err != nil {
		return err
	}
	cfgs := make([]*pePorts, len(f.topo.PEs))
	for i, spec := range f.topo.PEs {
		ns, err := f.netns.newNamespace(nsName(f.topo.Name, spec.Name))
		if err != nil {
			return err
		}
		nf.peNS[spec.Name] = ns
		f.netns.mu.Lock()
		f.netns.PEs[spec.Name] = nsName(f.topo.Name, spec.Name)
		f.netns.mu.Unlock()
		cfg, err := f.topo.PEConfig(i)
		if err != nil {
			return err
		}
		cfgs[i] = &pePorts{core: cfg.Core.Port}
		for _, p := range cfg.Ports {
			cfgs[i].ports = append(cfgs[i].ports, p.ID)
		}
		if err := vethPair(ns, portIface(cfg.Core.Port), nf.core, fmt.Sprintf("pe%d", i+1), nil); err != nil {
			return fmt.Errorf("pe %s: core link: %w", spec.Name, err)
		}
	}
	if err := f.netns.save(); err != nil {
		return err
	}
	direct := map[LinkSpec]bool{}
	for j, hs := range f.topo.Hosts {
		h, err := f.setupNetnsHost(j, hs)
		if err != nil {
			return err
		}
		f.nsHosts[hs.Name] = h
		if nf.cables[hs.Name] == nil {
			for _, l := range hs.Links {
				direct[l] = true
			}
		}
	}
	// Every other access port ends in the panel.
	for i, spec := range f.topo.PEs {
		for _, id := range cfgs[i].ports {
			l := LinkSpec{PE: spec.Name, Port: id}
			if id == cfgs[i].core || direct[l] {
				continue
			}
			pp := &panelPort{spec: l, iface: fmt.Sprintf("pe%dp%d", i+1, id)}
			if err := vethPair(nf.peNS[spec.Name], portIface(id), nf.patch, pp.iface, nil); err != nil {
				return fmt.Errorf("pe %s port %d: %w", spec.Name, id, err)
			}
			nf.panel[l] = pp
		}
	}
	if !f.netns.kernelVLAN {
		nf.degraded = append(nf.degraded, "no 8021q in this kernel: tagged hosts send untagged, their cables tag and untag")
	}
	return f.netns.save()
}

// pePorts are a PE's port ids and which one is its core port.
type pePorts struct {
	ports []uint32
	core  uint32
}

// claimName records that namespace part name belongs to who, failing when
// another part (case-insensitively) has it.
func claimName(owner map[string]string, name, who string) error {
	k := strings.ToLower(name)
	if o, ok := owner[k]; ok {
		return fmt.Errorf("netns: %s and %s would share namespace part %q: rename one", who, o, k)
	}
	owner[k] = who
	return nil
}

// vethPair creates a veth pair, end nameA in nsA and end nameB (MAC macB
// when set) in nsB, both up, MTU 9000, without IPv6.
func vethPair(nsA netns.NsHandle, nameA string, nsB netns.NsHandle, nameB string, macB net.HardwareAddr) error {
	err := inNamespace(nsA, func() error {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nameA, MTU: 9000}, PeerName: nameB, PeerHardwareAddr: macB,
			PeerNamespace: netlink.NsFd(int(nsB))}
		if err := netlink.LinkAdd(v); err != nil {
			return fmt.Errorf("veth %s-%s: %w", nameA, nameB, err)
		}
		return upNoIPv6(nameA)
	})
	if err != nil {
		return err
	}
	return inNamespace(nsB, func() error { return upNoIPv6(nameB) })
}

// upNoIPv6 sets iface of the caller's namespace up with IPv6 off.
func upNoIPv6(iface string) error {
	disableIPv6(iface)
	l, err := netlink.LinkByName(iface)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("up %s: %w", iface, err)
	}
	return nil
}

// setupNetnsHost builds host hs's namespace (the j-th host) and its links:
// veths straight into its PEs' namespaces when the kernel does all it needs
// (a bond over two links, a VLAN), otherwise one veth to the panel and a
// cable.
func (f *Fabric) setupNetnsHost(j int, hs HostSpec) (*NetnsHost, error) {
	s, nf := f.netns, f.nsf
	name := nsName(f.topo.Name, hs.Name)
	hostNS, err := s.newNamespace(name)
	if err != nil {
		return nil, err
	}
	nf.hostNS[hs.Name] = hostNS // closed by closeHandles
	s.mu.Lock()
	s.Hosts[hs.Name] = name
	s.mu.Unlock()
	if err := s.save(); err != nil {
		return nil, err
	}
	mac := mustMAC(hs.MAC)
	kernelTags := hs.VLAN != 0 && s.kernelVLAN
	var hostEnds []string
	if (len(hs.Links) == 1 || s.kernelBond) && (hs.VLAN == 0 || kernelTags) {
		// The kernel does all the host needs: straight veths.
		if len(hs.Links) == 1 {
			nf.at[hs.Name] = hs.Links[0]
		}
		for i, l := range hs.Links {
			hostEnds = append(hostEnds, fmt.Sprintf("eth%d", i))
			if err := vethPair(nf.peNS[l.PE], portIface(l.Port), hostNS, hostEnds[i], mac); err != nil {
				return nil, fmt.Errorf("host %s: link to %s:%d: %w", hs.Name, l.PE, l.Port, err)
			}
		}
	} else {
		c := &cable{host: hs.Name, iface: fmt.Sprintf("h%d", j+1)}
		if hs.VLAN != 0 && !kernelTags {
			c.vlan = hs.VLAN
		}
		if len(hs.Links) >= 2 {
			nf.degraded = append(nf.degraded, fmt.Sprintf("host %s: no bonding in this kernel: one veth, a balance-xor bond (layer2) in its cable", hs.Name))
		}
		hostEnds = []string{"eth0"}
		if err := vethPair(nf.patch, c.iface, hostNS, "eth0", mac); err != nil {
			return nil, fmt.Errorf("host %s: %w", hs.Name, err)
		}
		nf.cables[hs.Name] = c
	}
	h := &NetnsHost{Name: hs.Name, Namespace: name, MAC: mac, Addr: netip.MustParsePrefix(hs.IP)}
	err = inNamespace(hostNS, func() error {
		disableIPv6("all")
		disableIPv6("default")
		if err := upNoIPv6("lo"); err != nil {
			return err
		}
		top := hostEnds[0]
		if len(hostEnds) >= 2 {
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
				if err := netlink.LinkSetDown(l); err != nil {
					return err
				}
				if err := netlink.LinkSetBondSlave(l, bond); err != nil {
					return fmt.Errorf("enslave %s: %w", e, err)
				}
				if err := netlink.LinkSetUp(l); err != nil {
					return err
				}
			}
			top = "bond0"
			if err := upNoIPv6(top); err != nil {
				return err
			}
		}
		if kernelTags {
			parent, err := netlink.LinkByName(top)
			if err != nil {
				return err
			}
			vname := fmt.Sprintf("%s.%d", top, hs.VLAN)
			v := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: vname, ParentIndex: parent.Attrs().Index}, VlanId: int(hs.VLAN)}
			if err := netlink.LinkAdd(v); err != nil {
				return fmt.Errorf("%s: %w", vname, err)
			}
			if err := upNoIPv6(vname); err != nil {
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
		return nil, fmt.Errorf("host %s: %w", hs.Name, err)
	}
	return h, nil
}

// startNetnsTarget starts pe's data plane in its namespace on its p<N>
// interfaces: the softswitch (served by an embedded P4Runtime target) or
// BMv2.
func (f *Fabric) startNetnsTarget(ctx context.Context, pe *PENode) error {
	ns := f.nsf.peNS[pe.Name]
	cfg := pe.config
	if f.nsf.opts.Target == TargetBMv2 {
		ports := make([]uint32, 0, len(cfg.Ports))
		for _, p := range cfg.Ports {
			ports = append(ports, p.ID)
		}
		b, err := startBMv2(ctx, f.nsf.bmv2Bin, ns, cfg.Target.DeviceID, ports, cfg.Target.CPUPort)
		if err != nil {
			return err
		}
		pe.bmv2 = b
		return nil
	}
	pe.engine = softswitch.New(softswitch.Config{CPUPort: cfg.Target.CPUPort, Logger: pe.log.With("component", "softswitch")})
	for _, p := range cfg.Ports {
		port, err := openInNamespace(ns, portIface(p.ID))
		if err != nil {
			return errors.Join(fmt.Errorf("port %d: %w", p.ID, err), pe.engine.Close())
		}
		if err := pe.engine.AddPort(p.ID, port, ""); err != nil {
			return errors.Join(err, port.Close(), pe.engine.Close())
		}
	}
	var err error
	if pe.target, err = p4evpn.NewEmbeddedTarget(pe.engine, "127.0.0.1:0", cfg.Target.DeviceID, pe.log); err != nil {
		return errors.Join(err, pe.engine.Close())
	}
	return nil
}

// startCabling attaches the PEs' core links to the LSR and starts the
// panel: a reader per panel port, a relay per cable.
func (f *Fabric) startCabling() error {
	nf := f.nsf
	for i, pe := range f.pes {
		port, err := openInNamespace(nf.core, fmt.Sprintf("pe%d", i+1))
		if err != nil {
			return fmt.Errorf("core link of %s: %w", pe.Name, err)
		}
		if err := f.lsr.AddPort(uint32(i+1), port, f.topo.TransportLabel(i), mustMAC(pe.config.Core.SourceMAC)); err != nil {
			return errors.Join(err, port.Close())
		}
	}
	nf.mu.Lock()
	defer nf.mu.Unlock()
	for _, pp := range nf.panel {
		if err := nf.openPanel(pp); err != nil {
			return err
		}
	}
	for _, hs := range f.topo.Hosts {
		c := nf.cables[hs.Name]
		if c == nil {
			continue
		}
		var links []*panelPort
		for _, l := range hs.Links {
			pp := nf.panel[l]
			pp.cable.Store(c)
			links = append(links, pp)
		}
		c.links.Store(&links)
		port, err := openInNamespace(nf.patch, c.iface)
		if err != nil {
			return fmt.Errorf("host %s: cable %s: %w", c.host, c.iface, err)
		}
		c.port = port
		nf.wg.Add(1)
		go nf.relayFromHost(c)
	}
	return nil
}

// openPanel opens pp's socket in the panel and starts its reader.
func (nf *netnsFabric) openPanel(pp *panelPort) error {
	port, err := openInNamespace(nf.patch, pp.iface)
	if err != nil {
		return fmt.Errorf("panel %s (%s:%d): %w", pp.iface, pp.spec.PE, pp.spec.Port, err)
	}
	pp.port = port
	nf.wg.Add(1)
	go nf.readPanel(pp)
	return nil
}

// readPanel hands each frame a PE sends out of pp to the cable plugged in,
// if any, until pp closes.
func (nf *netnsFabric) readPanel(pp *panelPort) {
	defer nf.wg.Done()
	buf := make([]byte, 9216)
	for {
		n, err := pp.port.Read(buf)
		if err != nil {
			return
		}
		c := pp.cable.Load()
		if c == nil || pp.down.Load() || n < 14 {
			continue
		}
		fr := buf[:n]
		if c.vlan != 0 {
			var ok bool
			if fr, ok = popTag(fr, c.vlan); !ok {
				continue // another VLAN: not the host's
			}
		}
		_ = c.port.Write(fr) // a full or closing host link drops, as a wire would
	}
}

// relayFromHost sends each frame of c's host out of one of its links that
// is up: balance-xor over the MACs and the EtherType (Linux's layer2
// xmit_hash_policy), so one flow keeps one link; it tags the frame when
// the cable tags.
func (nf *netnsFabric) relayFromHost(c *cable) {
	defer nf.wg.Done()
	buf := make([]byte, 9216)
	up := make([]*panelPort, 0, 4)
	for {
		n, err := c.port.Read(buf[:len(buf)-4])
		if err != nil {
			return
		}
		if n < 14 {
			continue
		}
		up = up[:0]
		for _, pp := range *c.links.Load() {
			if !pp.down.Load() {
				up = append(up, pp)
			}
		}
		if len(up) == 0 {
			continue
		}
		pp := up[int(buf[5]^buf[11]^buf[12]^buf[13])%len(up)]
		fr := buf[:n]
		if c.vlan != 0 {
			fr = pushTag(buf, n, c.vlan)
		}
		if c.armed.CompareAndSwap(true, false) {
			c.firstAt.Store(time.Now().UnixNano())
		}
		_ = pp.port.Write(fr)
	}
}

// pushTag inserts an 802.1Q tag with vlan after the MACs of the n-byte
// frame in buf, which has room for it.
func pushTag(buf []byte, n int, vlan uint16) []byte {
	copy(buf[16:n+4], buf[12:n])
	buf[12], buf[13] = 0x81, 0x00
	buf[14], buf[15] = byte(vlan>>8)&0x0f, byte(vlan)
	return buf[:n+4]
}

// popTag removes fr's 802.1Q tag in place when it carries vlan; ok is
// false for a frame of another VLAN or untagged.
func popTag(fr []byte, vlan uint16) ([]byte, bool) {
	if len(fr) < 18 || fr[12] != 0x81 || fr[13] != 0x00 || uint16(fr[14]&0x0f)<<8|uint16(fr[15]) != vlan {
		return fr, false
	}
	copy(fr[12:], fr[16:])
	return fr[:len(fr)-4], true
}

// netnsLinksDown is a failing PE's carrier loss: its panel ports go down
// (cables leave them) and its namespace's interfaces go down (a kernel
// bond's miimon sees the peer lose carrier).
func (f *Fabric) netnsLinksDown(pe *PENode) error {
	f.nsf.mu.Lock()
	for l, pp := range f.nsf.panel {
		if l.PE == pe.Name {
			pp.down.Store(true)
		}
	}
	f.nsf.mu.Unlock()
	return inNamespace(f.nsf.peNS[pe.Name], func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		var errs []error
		for _, l := range links {
			if l.Attrs().Name == "lo" {
				continue
			}
			if err := netlink.LinkSetDown(l); err != nil {
				errs = append(errs, fmt.Errorf("pe %s: down %s: %w", pe.Name, l.Attrs().Name, err))
			}
		}
		return errors.Join(errs...)
	})
}

// closeCabling closes the panel's sockets and waits for its relays.
func (nf *netnsFabric) closeCabling() error {
	nf.mu.Lock()
	defer nf.mu.Unlock()
	if nf.closed {
		return nil
	}
	nf.closed = true
	var errs []error
	for _, c := range nf.cables {
		if c.port != nil {
			errs = append(errs, c.port.Close())
		}
	}
	for _, pp := range nf.panel {
		if pp.port != nil {
			errs = append(errs, pp.port.Close())
		}
	}
	nf.wg.Wait()
	return errors.Join(errs...)
}

// closeHandles closes the namespace handles once (the namespaces stay
// until netnsState.remove).
func (nf *netnsFabric) closeHandles() {
	for _, h := range []*netns.NsHandle{&nf.core, &nf.patch} {
		if h.IsOpen() {
			h.Close() // sets it to None
		}
	}
	for _, m := range []map[string]netns.NsHandle{nf.peNS, nf.hostNS} {
		for name, h := range m {
			h.Close()
			delete(m, name)
		}
	}
}

// NetnsMove re-cables single-homed netns host name to port on PE pe, as a
// VM moves, and back again as often as asked. A host on a cable has it
// re-pointed to that port's panel end at once (the host keeps its
// interface and address, as a VM keeps its vNIC). A host cabled straight
// has its veth end swapped: its eth0 (the peer of its old PE port) goes to
// the panel, and the panel end of the new port comes into the host as eth0,
// with the host's MAC, VLAN interface and address. The host says nothing
// until its kernel next sends.
func (f *Fabric) NetnsMove(name, pe string, port uint32) error {
	_, err := f.netnsMove(name, pe, port)
	return err
}

// netnsMove is NetnsMove returning when the host's first frame reached its
// new PE: the time its cable stamps, or for a host cabled straight the
// time the move completed (zero until known).
func (f *Fabric) netnsMove(name, pe string, port uint32) (firstFrame func() time.Time, err error) {
	nf := f.nsf
	h := f.nsHosts[name]
	if nf == nil || h == nil {
		return nil, fmt.Errorf("move: no netns host %q", name)
	}
	if f.PE(pe) == nil {
		return nil, fmt.Errorf("move %s: no PE %q", name, pe)
	}
	if n := len(f.hostSpec(name).Links); n != 1 {
		return nil, fmt.Errorf("move %s: only a single-homed host moves (it has %d links)", name, n)
	}
	to := LinkSpec{PE: pe, Port: port}
	nf.mu.Lock()
	defer nf.mu.Unlock()
	if nf.closed {
		return nil, fmt.Errorf("move %s: fabric closed", name)
	}
	pp := nf.panel[to]
	if pp == nil {
		if to == nf.at[name] {
			done := time.Now()
			return func() time.Time { return done }, nil // already there
		}
		return nil, fmt.Errorf("move %s: %s has no free access port %d", name, pe, port)
	}
	if other := pp.cable.Load(); other != nil && other.host != name {
		return nil, fmt.Errorf("move %s: %s:%d already has host %s", name, pe, port, other.host)
	}
	if c := nf.cables[name]; c != nil {
		old := *c.links.Load()
		pp.cable.Store(c)
		c.firstAt.Store(0)
		c.armed.Store(true)
		c.links.Store(&[]*panelPort{pp})
		if old[0] != pp {
			old[0].cable.Store(nil)
		}
		return func() time.Time {
			if ns := c.firstAt.Load(); ns != 0 {
				return time.Unix(0, ns)
			}
			return time.Time{}
		}, nil
	}
	if err := f.swapStraight(h, pp); err != nil {
		return nil, fmt.Errorf("move %s: %w", name, err)
	}
	done := time.Now()
	return func() time.Time { return done }, nil
}

// swapStraight moves host h, cabled straight to one PE port, onto panel
// port pp: h's eth0 goes to the panel (named as that port's panel end, and
// read there like any free port), pp's end comes into h as eth0. Callers
// hold nf.mu.
func (f *Fabric) swapStraight(h *NetnsHost, pp *panelPort) error {
	nf := f.nsf
	hostNS := nf.hostNS[h.Name]
	old := nf.at[h.Name]
	oldIface := fmt.Sprintf("pe%dp%d", f.topo.peIndex(old.PE)+1, old.Port)
	vlan := f.hostSpec(h.Name).VLAN
	// The panel end stops being read; its reader ends with the socket.
	if err := pp.port.Close(); err != nil {
		return fmt.Errorf("panel %s: %w", pp.iface, err)
	}
	delete(nf.panel, pp.spec)
	// Into the host, under its panel name until eth0 is free.
	if err := inNamespace(nf.patch, func() error { return moveLink(pp.iface, hostNS) }); err != nil {
		return err
	}
	// The old link leaves: its VLAN interface and address go with it.
	if err := inNamespace(hostNS, func() error { return moveLink("eth0", nf.patch) }); err != nil {
		return err
	}
	if err := inNamespace(nf.patch, func() error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetName(l, oldIface); err != nil {
			return fmt.Errorf("rename eth0 to %s: %w", oldIface, err)
		}
		return upNoIPv6(oldIface)
	}); err != nil {
		return err
	}
	left := &panelPort{spec: old, iface: oldIface}
	if err := nf.openPanel(left); err != nil {
		return err
	}
	nf.panel[old] = left
	nf.at[h.Name] = pp.spec
	return inNamespace(hostNS, func() error {
		l, err := netlink.LinkByName(pp.iface)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetName(l, "eth0"); err != nil {
			return fmt.Errorf("rename %s to eth0: %w", pp.iface, err)
		}
		if err := netlink.LinkSetHardwareAddr(l, h.MAC); err != nil {
			return fmt.Errorf("eth0: MAC %s: %w", h.MAC, err)
		}
		if err := upNoIPv6("eth0"); err != nil {
			return err
		}
		top := "eth0"
		if vlan != 0 {
			top = fmt.Sprintf("eth0.%d", vlan)
			v := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: top, ParentIndex: l.Attrs().Index}, VlanId: int(vlan)}
			if err := netlink.LinkAdd(v); err != nil {
				return fmt.Errorf("%s: %w", top, err)
			}
			if err := upNoIPv6(top); err != nil {
				return err
			}
		}
		tl, err := netlink.LinkByName(top)
		if err != nil {
			return err
		}
		addr, err := netlink.ParseAddr(h.Addr.String())
		if err != nil {
			return err
		}
		return netlink.AddrAdd(tl, addr)
	})
}

// moveLink moves interface name of the caller's namespace into ns, down.
func moveLink(name string, ns netns.NsHandle) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetDown(l); err != nil {
		return fmt.Errorf("down %s: %w", name, err)
	}
	if err := netlink.LinkSetNsFd(l, int(ns)); err != nil {
		return fmt.Errorf("move %s to another namespace: %w", name, err)
	}
	return nil
}

// linkTxPackets is how many frames PE port l has sent: the kernel's count
// on its interface, whichever target runs it.
func (f *Fabric) linkTxPackets(l LinkSpec) (uint64, error) {
	var n uint64
	err := inNamespace(f.nsf.peNS[l.PE], func() error {
		link, err := netlink.LinkByName(portIface(l.Port))
		if err != nil {
			return fmt.Errorf("%s:%d: %w", l.PE, l.Port, err)
		}
		if link.Attrs().Statistics == nil {
			return fmt.Errorf("%s:%d: no interface statistics", l.PE, l.Port)
		}
		n = link.Attrs().Statistics.TxPackets
		return nil
	})
	return n, err
}
