package testbed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	p4evpn "github.com/p4evpn/p4evpn"
	"github.com/p4evpn/p4evpn/bgp"
	"github.com/p4evpn/p4evpn/config"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
	"github.com/p4evpn/p4evpn/softswitch"
)

// Fabric is a running in-process testbed: an evpnd Daemon per PE, each on
// its own softswitch engine (served over P4Runtime by an embedded target
// the Fabric owns, so a controller can restart under a live data plane),
// route reflectors, the LSR core, and Go hosts on in-memory links.
type Fabric struct {
	topo *Topology
	log  *slog.Logger
	lsr  *LSR
	rrs  []*routeReflector
	pes  []*PENode
	// hosts by name; fixed after Start.
	hosts map[string]*FabricHost
	// netns mode (nil in-process): what was created (for Down), the
	// hosts, and the namespaces, patch panel and cables.
	netns   *netnsState
	nsHosts map[string]*NetnsHost
	nsf     *netnsFabric

	// runCtx lives until Close (cancel): relays started after Start use it.
	runCtx context.Context
	cancel context.CancelFunc
	// wg tracks the access-port readers.
	wg sync.WaitGroup
}

// PENode is one PE of a running Fabric.
type PENode struct {
	Name   string
	Index  int
	config *config.Config
	log    *slog.Logger
	engine *softswitch.Switch
	target *p4evpn.EmbeddedTarget
	access map[uint32]*accessPort
	// bmv2 is the PE's simple_switch_grpc in netns mode with the BMv2
	// target (engine and target are nil then).
	bmv2 *bmv2Process

	// mu guards daemon, registry and stopped.
	mu       sync.Mutex
	daemon   *p4evpn.Daemon
	registry *prometheus.Registry
	stopped  bool
}

// accessPort is the host end of a PE access port.
type accessPort struct {
	pe   *PENode
	num  uint32
	name string
	end  *softswitch.MemPort

	// mu guards host and down.
	mu   sync.Mutex
	host *FabricHost
	down bool
}

// FabricHost is a host of the fabric and the links it is cabled to.
type FabricHost struct {
	*Host
	// mu guards links.
	mu    sync.Mutex
	links []*accessPort
}

type routeReflector struct {
	spec   RouteReflector
	daemon *p4evpn.Daemon
	frr    *FRR
}

// StartFabric starts topo in-process: route reflectors, then PEs (each
// with its softswitch cabled to the LSR), then hosts. It returns once every
// part runs; WaitConverged waits for BGP. On error, what started is
// stopped again.
func StartFabric(ctx context.Context, topo *Topology, log *slog.Logger) (*Fabric, error) {
	return startFabric(ctx, topo, log, nil)
}

// StartNetnsFabric starts topo with every port a Linux interface: each PE
// is a network namespace (tb-FABRIC-PE) holding a veth end per port (pN)
// and its target (the softswitch on AF_PACKET, or simple_switch_grpc); the
// LSR reads the PEs' core links in tb-FABRIC-core; each host is a namespace
// (tb-FABRIC-HOST) whose link runs through a cable relay in the patch panel
// tb-FABRIC-cables, or straight into its PEs when the kernel bonds for it.
// It needs root. Close deletes every namespace, also after a failed start;
// a state file under StateDir lets Down clean up after a crash.
func StartNetnsFabric(ctx context.Context, topo *Topology, log *slog.Logger, opts NetnsOptions) (*Fabric, error) {
	if err := NetnsAvailable(); err != nil {
		return nil, err
	}
	return startFabric(ctx, topo, log, &opts)
}

// startFabric starts topo in-process, or in netns mode when nsOpts is set.
func startFabric(ctx context.Context, topo *Topology, log *slog.Logger, nsOpts *NetnsOptions) (_ *Fabric, err error) {
	if log == nil {
		log = slog.Default()
	}
	f := &Fabric{topo: topo, log: log, hosts: map[string]*FabricHost{}}
	f.lsr = NewLSR(mustMAC(topo.Core.MAC), log)
	runCtx, cancel := context.WithCancel(context.Background())
	f.runCtx, f.cancel = runCtx, cancel
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if nsOpts != nil {
		if err := f.setupNetns(*nsOpts); err != nil {
			return nil, err
		}
	}
	for i := range topo.PEs {
		pe, err := f.startPE(ctx, i)
		if err != nil {
			return nil, err
		}
		f.pes = append(f.pes, pe)
		if f.nsf != nil {
			continue
		}
		for _, ap := range pe.access {
			f.wg.Add(1)
			go f.readAccess(runCtx, ap)
		}
	}
	if f.nsf != nil {
		if err := f.startCabling(); err != nil {
			return nil, err
		}
	}
	// Reflectors last: no session can establish, and no speaker process
	// updates, while another GoBGP speaker of this process runs StartBgp,
	// which writes GoBGP's package-level route selection options (a data
	// race under -race otherwise).
	for i, spec := range topo.RouteReflectors {
		rr := &routeReflector{spec: spec}
		f.rrs = append(f.rrs, rr)
		switch spec.Kind {
		case KindFRR:
			if rr.frr, err = StartFRR(ctx, topo, i, log); err != nil {
				return nil, err
			}
		default:
			cfg, err := topo.RRConfig(i)
			if err != nil {
				return nil, err
			}
			d, err := p4evpn.New(cfg, p4evpn.WithLogger(log))
			if err != nil {
				return nil, fmt.Errorf("route reflector %s: %w", spec.Name, err)
			}
			if err := d.Start(ctx); err != nil {
				return nil, fmt.Errorf("route reflector %s: %w", spec.Name, err)
			}
			rr.daemon = d
		}
	}
	if f.nsf != nil {
		return f, nil
	}
	for _, hs := range topo.Hosts {
		if _, err := f.addHost(hs); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Degraded lists what netns mode could not build as the topology asks
// (a kernel without bonding or 8021q: the cables do it), empty in-process.
func (f *Fabric) Degraded() []string {
	if f.nsf == nil {
		return nil
	}
	return append([]string(nil), f.nsf.degraded...)
}

// NetnsHost returns host name of a netns fabric, nil if none.
func (f *Fabric) NetnsHost(name string) *NetnsHost { return f.nsHosts[name] }

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err) // validated by ParseTopology
	}
	return m
}

func (f *Fabric) startPE(ctx context.Context, i int) (*PENode, error) {
	cfg, err := f.topo.PEConfig(i)
	if err != nil {
		return nil, err
	}
	if len(cfg.Target.Interfaces) > 0 || cfg.Target.Address != "" {
		return nil, fmt.Errorf("pes[%d] %s: target.address and target.interfaces do not apply in-process: the testbed builds the softswitch", i, cfg.Name)
	}
	pe := &PENode{Name: f.topo.PEs[i].Name, Index: i, config: cfg, log: f.log.With("pe", f.topo.PEs[i].Name), access: map[uint32]*accessPort{}}
	if f.nsf != nil {
		if err := f.startNetnsTarget(ctx, pe); err != nil {
			return nil, fmt.Errorf("pe %s: %w", pe.Name, err)
		}
	} else if err := f.startMemTarget(pe); err != nil {
		return nil, fmt.Errorf("pe %s: %w", pe.Name, err)
	}
	if err := pe.startDaemon(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("pe %s: %w", pe.Name, err), pe.closeTarget())
	}
	return pe, nil
}

// startMemTarget builds pe's softswitch on in-memory links: the core port
// to the LSR, the access ports to Go hosts.
func (f *Fabric) startMemTarget(pe *PENode) error {
	cfg := pe.config
	pe.engine = softswitch.New(softswitch.Config{CPUPort: cfg.Target.CPUPort, Logger: pe.log.With("component", "softswitch")})
	for _, p := range cfg.Ports {
		a, b := softswitch.NewLink(1024)
		if err := pe.engine.AddPort(p.ID, a, ""); err != nil {
			return errors.Join(err, pe.engine.Close())
		}
		if p.Kind == "core" {
			if err := f.lsr.AddPort(uint32(pe.Index+1), b, f.topo.TransportLabel(pe.Index), mustMAC(cfg.Core.SourceMAC)); err != nil {
				return errors.Join(err, pe.engine.Close())
			}
			continue
		}
		pe.access[p.ID] = &accessPort{pe: pe, num: p.ID, name: fmt.Sprintf("%s:%d", pe.Name, p.ID), end: b}
	}
	var err error
	if pe.target, err = p4evpn.NewEmbeddedTarget(pe.engine, "127.0.0.1:0", cfg.Target.DeviceID, pe.log); err != nil {
		return errors.Join(err, pe.engine.Close())
	}
	return nil
}

// closeTarget stops pe's target: the embedded P4Runtime server and its
// softswitch, or BMv2.
func (pe *PENode) closeTarget() error {
	var errs []error
	if pe.target != nil {
		errs = append(errs, pe.target.Close())
	}
	if pe.engine != nil {
		errs = append(errs, pe.engine.Close())
	}
	if pe.bmv2 != nil {
		errs = append(errs, pe.bmv2.Close())
	}
	return errors.Join(errs...)
}

// startDaemon starts an evpnd on the PE's target with a fresh registry.
func (pe *PENode) startDaemon(ctx context.Context) error {
	reg := prometheus.NewRegistry()
	cfg := *pe.config
	opts := []p4evpn.Option{p4evpn.WithLogger(pe.log), p4evpn.WithRegistry(reg)}
	if pe.bmv2 != nil {
		// A remote target: the daemon pushes the pipeline itself. BMv2's
		// PI raises any learning digest delay below 100ms to 100ms, so
		// learns go at once instead (config target.learning-digest-delay).
		cfg.Target.Address = pe.bmv2.Address()
		if cfg.Target.LearningDigestDelay == nil {
			zero := time.Duration(0)
			cfg.Target.LearningDigestDelay = &zero
		}
	} else {
		opts = append(opts, p4evpn.WithEmbeddedTarget(pe.target))
	}
	d, err := p4evpn.New(&cfg, opts...)
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	pe.mu.Lock()
	pe.daemon, pe.registry = d, reg
	pe.mu.Unlock()
	return nil
}

// Daemon is the PE's running evpnd; nil while stopped.
func (pe *PENode) Daemon() *p4evpn.Daemon {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return pe.daemon
}

// Registry is the running evpnd's metrics registry.
func (pe *PENode) Registry() *prometheus.Registry {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return pe.registry
}

// RouterID is the PE's address.
func (pe *PENode) RouterID() netip.Addr { return pe.config.RouterIDAddr() }

// Config is the PE's evpnd config as the testbed completed it.
func (pe *PENode) Config() *config.Config { return pe.config }

// Softswitch is the PE's engine; nil when the PE runs on BMv2.
func (pe *PENode) Softswitch() *softswitch.Switch { return pe.engine }

// EVPN is the running evpnd's PE logic; nil while stopped.
func (pe *PENode) EVPN() *evpn.PE {
	if d := pe.Daemon(); d != nil {
		return d.PE()
	}
	return nil
}

// Stopped reports whether StopPE took the PE down.
func (pe *PENode) Stopped() bool {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return pe.stopped
}

func (f *Fabric) readAccess(ctx context.Context, ap *accessPort) {
	defer f.wg.Done()
	for {
		fr, err := ap.end.Recv(ctx)
		if err != nil {
			return
		}
		ap.mu.Lock()
		h, down := ap.host, ap.down
		ap.mu.Unlock()
		if h != nil && !down {
			h.DeliverVia(ap.name, fr)
		}
	}
}

func (f *Fabric) addHost(hs HostSpec) (*FabricHost, error) {
	fh := &FabricHost{}
	for _, l := range hs.Links {
		pe := f.pes[f.topo.peIndex(l.PE)]
		ap := pe.access[l.Port]
		ap.mu.Lock()
		busy := ap.host != nil
		ap.host = fh
		ap.mu.Unlock()
		if busy {
			return nil, fmt.Errorf("host %s: port %s already has a host", hs.Name, ap.name)
		}
		fh.links = append(fh.links, ap)
	}
	prefix := netip.MustParsePrefix(hs.IP)
	h, err := NewHost(hs.Name, mustMAC(hs.MAC), prefix, hs.VLAN, fh.transmit, f.log)
	if err != nil {
		return nil, err
	}
	fh.Host = h
	f.hosts[hs.Name] = fh
	return fh, nil
}

// transmit sends on one of the host's links: a bond in balance-xor mode
// hashes the frame's MACs and EtherType over the links that are up (Linux's
// layer2 xmit_hash_policy), so one flow always takes one link and a link
// that goes down is left at once (miimon with no delay).
func (fh *FabricHost) transmit(frame []byte) error {
	fh.mu.Lock()
	var up []*accessPort
	for _, ap := range fh.links {
		ap.mu.Lock()
		if !ap.down {
			up = append(up, ap)
		}
		ap.mu.Unlock()
	}
	fh.mu.Unlock()
	if len(up) == 0 {
		return errors.New("no link up")
	}
	ap := up[0]
	if len(up) > 1 && len(frame) >= 14 {
		hash := int(frame[5]^frame[11]) ^ int(frame[12]) ^ int(frame[13])
		ap = up[hash%len(up)]
	}
	return ap.end.Write(frame)
}

// Links names the ports the host is cabled to ("pe1:2").
func (fh *FabricHost) Links() []string {
	fh.mu.Lock()
	defer fh.mu.Unlock()
	var out []string
	for _, ap := range fh.links {
		out = append(out, ap.name)
	}
	return out
}

// Topology is the fabric's topology.
func (f *Fabric) Topology() *Topology { return f.topo }

// LSR is the fabric's core.
func (f *Fabric) LSR() *LSR { return f.lsr }

// PEs lists the PEs in topology order.
func (f *Fabric) PEs() []*PENode { return f.pes }

// PE returns the PE named name, nil if none.
func (f *Fabric) PE(name string) *PENode {
	for _, pe := range f.pes {
		if pe.Name == name {
			return pe
		}
	}
	return nil
}

// Host returns the host named name, nil if none.
func (f *Fabric) Host(name string) *FabricHost { return f.hosts[name] }

// FRR returns route reflector name's FRR process, nil unless kind frr.
func (f *Fabric) FRR(name string) *FRR {
	for _, rr := range f.rrs {
		if rr.spec.Name == name {
			return rr.frr
		}
	}
	return nil
}

// Move re-cables single-homed host name to port on PE pe, as a VM moves:
// from now on it sends and receives only there. The host says nothing;
// call GratuitousARP to announce itself, as a hypervisor does.
func (f *Fabric) Move(name, pe string, port uint32) error {
	fh := f.hosts[name]
	if fh == nil {
		return fmt.Errorf("move: no host %q", name)
	}
	p := f.PE(pe)
	if p == nil {
		return fmt.Errorf("move %s: no PE %q", name, pe)
	}
	ap := p.access[port]
	if ap == nil {
		return fmt.Errorf("move %s: %s has no access port %d", name, pe, port)
	}
	fh.mu.Lock()
	defer fh.mu.Unlock()
	if len(fh.links) != 1 {
		return fmt.Errorf("move %s: only a single-homed host moves (it has %d links)", name, len(fh.links))
	}
	ap.mu.Lock()
	busy := ap.host != nil && ap.host != fh
	if !busy {
		ap.host = fh
	}
	ap.mu.Unlock()
	if busy {
		return fmt.Errorf("move %s: port %s already has a host", name, ap.name)
	}
	old := fh.links[0]
	if old != ap {
		old.mu.Lock()
		old.host = nil
		old.mu.Unlock()
	}
	fh.links = []*accessPort{ap}
	return nil
}

// RestartController closes PE pe's evpnd, leaving its softswitch and
// P4Runtime target running (the data plane forwards on), and starts a new
// evpnd on them, which adopts the forwarding state. down is how long the
// controller stays away.
func (f *Fabric) RestartController(ctx context.Context, pe string, down time.Duration) error {
	p := f.PE(pe)
	if p == nil {
		return fmt.Errorf("restart: no PE %q", pe)
	}
	d := p.Daemon()
	if d == nil {
		return fmt.Errorf("restart %s: stopped", pe)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("restart %s: close: %w", pe, err)
	}
	p.mu.Lock()
	p.daemon = nil
	p.mu.Unlock()
	select {
	case <-time.After(down):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := p.startDaemon(ctx); err != nil {
		return fmt.Errorf("restart %s: %w", pe, err)
	}
	return nil
}

// StopPE fails PE pe: its evpnd, its P4Runtime target and its switch
// stop, its core cable is pulled and its access links go down (a bond
// leaves them; in netns mode the PE's interfaces lose carrier).
func (f *Fabric) StopPE(pe string) error {
	p := f.PE(pe)
	if p == nil {
		return fmt.Errorf("stop: no PE %q", pe)
	}
	return f.stopPE(p, true)
}

// stopPE stops pe once; failure (StopPE, not Close) also takes its links
// down and pulls its core cable first, as a dying PE does.
func (f *Fabric) stopPE(pe *PENode, failure bool) error {
	pe.mu.Lock()
	if pe.stopped {
		pe.mu.Unlock()
		return nil
	}
	pe.stopped = true
	d := pe.daemon
	pe.daemon = nil
	pe.mu.Unlock()
	for _, ap := range pe.access {
		ap.mu.Lock()
		ap.down = true
		ap.mu.Unlock()
	}
	var errs []error
	if failure {
		if f.nsf != nil {
			errs = append(errs, f.netnsLinksDown(pe))
		}
		if err := f.lsr.DetachPort(uint32(pe.Index + 1)); err != nil {
			errs = append(errs, err)
		}
	}
	if d != nil {
		// A failed PE's routes go at once (Hard Reset): with graceful
		// restart and the RFC 8538 N bit, Close alone would have the
		// reflector keep them for the restart time, as it would for a PE
		// that went silent, and the fabric has no IGP or BFD to tell the
		// remote PEs that the next hop died.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, d.Shutdown(ctx))
		cancel()
	}
	errs = append(errs, pe.closeTarget())
	for _, ap := range pe.access {
		errs = append(errs, ap.end.Close())
	}
	return errors.Join(errs...)
}

// Close stops everything: hosts, PEs, route reflectors, the core, and in
// netns mode the cables and every namespace.
func (f *Fabric) Close() error {
	var errs []error
	if f.cancel != nil {
		f.cancel()
	}
	for _, h := range f.hosts {
		h.Close()
	}
	for _, pe := range f.pes {
		errs = append(errs, f.stopPE(pe, false))
	}
	if f.nsf != nil {
		errs = append(errs, f.nsf.closeCabling())
	}
	f.wg.Wait()
	for _, rr := range f.rrs {
		if rr.daemon != nil {
			errs = append(errs, rr.daemon.Close())
		}
		if rr.frr != nil {
			errs = append(errs, rr.frr.Close())
		}
	}
	errs = append(errs, f.lsr.Close())
	if f.netns != nil {
		if f.nsf != nil {
			f.nsf.closeHandles()
		}
		errs = append(errs, f.netns.remove())
	}
	return errors.Join(errs...)
}

// WaitConverged waits until every running PE has all its BGP sessions
// established, every EVI floods to every other running PE that serves it,
// and every multihomed segment has elected its DFs; evpnd route reflectors
// must have their sessions up too.
func (f *Fabric) WaitConverged(ctx context.Context) error {
	for {
		why := f.notConverged(ctx)
		if why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fabric not converged: %s: %w", why, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (f *Fabric) notConverged(ctx context.Context) string {
	gone := map[netip.Addr]bool{}
	for _, pe := range f.pes {
		if pe.Stopped() {
			gone[pe.RouterID()] = true
		}
	}
	for _, rr := range f.rrs {
		if rr.daemon != nil {
			if why := sessionsDown(ctx, rr.spec.Name, rr.daemon.Speaker(), gone); why != "" {
				return why
			}
		}
	}
	// Which running PEs serve each EVI.
	serving := map[uint32]int{}
	for _, pe := range f.pes {
		if pe.Stopped() {
			continue
		}
		for _, e := range pe.config.EVIs {
			serving[e.ID]++
		}
	}
	// Which running PEs attach each Ethernet segment, and the DF each
	// elected per (segment, EVI): a segment has converged when every PE
	// counts all of them as candidates and they agree on the DF.
	attached := map[string]int{}
	for _, pe := range f.pes {
		if pe.Stopped() {
			continue
		}
		for _, sg := range pe.config.Segments {
			if e, err := route.ParseESI(sg.ESI); err == nil {
				attached[e.String()]++
			}
		}
	}
	type segEVI struct {
		esi string
		evi uint32
	}
	elected := map[segEVI]netip.Addr{}
	for _, pe := range f.pes {
		d := pe.Daemon()
		if pe.Stopped() || d == nil {
			continue
		}
		if why := sessionsDown(ctx, pe.Name, d.Speaker(), nil); why != "" {
			return why
		}
		for _, sg := range d.PE().Segments() {
			esi := sg.ESI.String()
			if len(sg.Candidates) != attached[esi] {
				return fmt.Sprintf("%s: segment %s has %d DF candidates, want %d", pe.Name, esi, len(sg.Candidates), attached[esi])
			}
			for _, df := range sg.DF {
				k := segEVI{esi, df.EVI}
				if other, ok := elected[k]; ok && other != df.DF {
					return fmt.Sprintf("%s: segment %s EVI %d elected %s, another PE %s", pe.Name, esi, df.EVI, df.DF, other)
				}
				elected[k] = df.DF
			}
		}
		for _, e := range d.PE().EVIs() {
			if len(e.FloodPEs) != serving[e.ID]-1 {
				return fmt.Sprintf("%s floods EVI %d to %d PEs, want %d", pe.Name, e.ID, len(e.FloodPEs), serving[e.ID]-1)
			}
		}
		for _, s := range d.PE().Segments() {
			for _, df := range s.DF {
				if !df.DF.IsValid() {
					return fmt.Sprintf("%s: segment %s has no DF for EVI %d yet", pe.Name, s.ESI, df.EVI)
				}
			}
		}
	}
	return ""
}

// sessionsDown names a session of s that is not established, skipping
// neighbors in gone (stopped PEs).
func sessionsDown(ctx context.Context, name string, s *bgp.Speaker, gone map[netip.Addr]bool) string {
	nbs, err := s.Neighbors(ctx)
	if err != nil {
		return fmt.Sprintf("%s: %v", name, err)
	}
	for _, nb := range nbs {
		if nb.State != bgp.StateEstablished && !gone[nb.Address] {
			return fmt.Sprintf("%s: session to %s is %s", name, nb.Address, nb.State)
		}
	}
	return ""
}
