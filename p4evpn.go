// Package p4evpn is evpnd, the EVPN provider-edge daemon, as one object built
// from its parts: a Daemon reads a config.Config and runs the BGP speaker
// (bgp/), the PE logic (evpn/), the switch (asic/p4asic over P4Runtime, on
// the embedded softswitch or a remote target), the gNMI server (gnmi/) and
// the Prometheus and operator HTTP endpoints, and wires them together:
//
//	bgp events ──────────────► evpn.PE ──► asic.Switch ──► P4Runtime target
//	switch events (learns) ──►   │
//	gNMI Set ──► ApplyConfig ──► │ (AddEVI, RemoveEVI, AddSegment, ...)
//	evpn events, bgp state, switch counters ──► gNMI State, /metrics, /api
//
// In route-reflector mode the Daemon is a control-plane-only reflector: a
// BGP speaker with route-reflector clients, no switch.
//
// A Daemon restarted on a switch that already holds forwarding state adopts
// it (evpn.PE.Adopt) and reconciles once BGP has settled, writing only the
// difference: the data plane keeps forwarding throughout. A P4Runtime
// stream that breaks and comes back (a restarted target) is reconciled too.
//
// # Several daemons in one process
//
// The in-process testbed runs several Daemons in one process. GoBGP's
// StartBgp writes package variables (table.SelectionOptions) that every
// GoBGP server reads while it handles updates or ListPeer, so under the race
// detector start every speaker before sessions carry routes (start the
// route reflector last), and restart a daemon as a process, not in-process.
// A Daemon calls GoBGP only on BGP events, on a telemetry tick (first one
// after TelemetryInterval), a /metrics scrape or an API request.
package p4evpn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/asic/p4asic"
	"github.com/p4evpn/p4evpn/bgp"
	"github.com/p4evpn/p4evpn/config"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/gnmi"
	"github.com/p4evpn/p4evpn/p4rt"
	"github.com/p4evpn/p4evpn/softswitch"
)

// Option adjusts how New builds a Daemon.
type Option func(*options)

type options struct {
	logger   *slog.Logger
	registry *prometheus.Registry
	engine   *softswitch.Switch
	target   *EmbeddedTarget
	sw       asic.Switch
	clock    evpn.Clock
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegistry registers the Daemon's metrics (and p4asic's) on r instead
// of a registry of its own; /metrics serves r.
func WithRegistry(r *prometheus.Registry) Option { return func(o *options) { o.registry = r } }

// WithSoftswitch runs the embedded target on this engine instead of a new
// one: the caller has attached its ports (in-memory links) and keeps
// owning it. The Daemon serves it over P4Runtime and pushes the program
// unless the engine's P4Runtime server already runs it.
func WithSoftswitch(sw *softswitch.Switch) Option { return func(o *options) { o.engine = sw } }

// WithEmbeddedTarget uses a caller-owned embedded target, which outlives
// the Daemon: restarting a Daemon on it is a controller restart, and the
// new Daemon adopts the forwarding state (see EmbeddedTarget).
func WithEmbeddedTarget(t *EmbeddedTarget) Option { return func(o *options) { o.target = t } }

// WithSwitch bypasses P4Runtime: the PE programs sw directly (unit tests
// on asic/memswitch). The caller owns sw.
func WithSwitch(sw asic.Switch) Option { return func(o *options) { o.sw = sw } }

// WithClock sets the PE's clock (ageing, DF election, duplicate detection).
func WithClock(c evpn.Clock) Option { return func(o *options) { o.clock = c } }

// Daemon is one evpnd: a PE or a route reflector.
type Daemon struct {
	cfg  *config.Config
	opts options
	log  *slog.Logger
	reg  *prometheus.Registry

	bgpCfg bgp.Config
	peCfg  evpn.Config
	// startup is the YAML config as gNMI's running config.
	startup *gnmi.Config
	// plan is the startup EVPN configuration (from the YAML, with its AC ids).
	plan startupPlan

	// Set by Start, read-only afterwards.
	target     *EmbeddedTarget
	ownsTarget bool
	engine     *softswitch.Switch
	ownsEngine bool
	p4sw       *p4asic.Switch
	sw         asic.Switch
	speaker    *bgp.Speaker
	pe         *evpn.PE
	device     *device
	gnmiSrv    *gnmi.Server
	gnmiLis    net.Listener
	httpSrv    *http.Server
	httpLis    net.Listener
	hostPorts  map[uint32]*softswitch.MemPort
	coll       *collector
	adopting   bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
	// kick asks the telemetry loop for a full refresh (after a Set, a peer
	// event, a reconciliation).
	kick chan struct{}

	shutdownOnce sync.Once
	shutdownErr  error
	// exitOnce closes exit, which POST /api/shutdown uses to ask the
	// command to exit once the Daemon has left service.
	exitOnce sync.Once
	exit     chan struct{}

	// mu guards started, closed, reconciled and targetResyncs.
	mu            sync.Mutex
	started       bool
	closed        bool
	reconciled    reconcileResult
	targetResyncs int
}

// reconcileResult records the restart reconciliation.
type reconcileResult struct {
	Done    bool
	Updates int
	Err     error
	At      time.Time
}

// New checks cfg and builds a Daemon; it does no I/O. Start runs it.
func New(cfg *config.Config, opts ...Option) (*Daemon, error) {
	if cfg == nil {
		return nil, errors.New("p4evpn: nil config")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("p4evpn: config: %w", err)
	}
	d := &Daemon{cfg: cfg, kick: make(chan struct{}, 1), exit: make(chan struct{})}
	for _, o := range opts {
		o(&d.opts)
	}
	d.log = d.opts.logger
	if d.log == nil {
		d.log = slog.Default()
	}
	d.log = d.log.With("evpnd", cfg.Name)
	d.reg = d.opts.registry
	if d.reg == nil {
		d.reg = prometheus.NewRegistry()
	}
	n := 0
	for _, set := range []bool{d.opts.engine != nil, d.opts.target != nil, d.opts.sw != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("p4evpn: give at most one of WithSoftswitch, WithEmbeddedTarget and WithSwitch")
	}
	if n > 0 && cfg.Mode == config.ModeRouteReflector {
		return nil, errors.New("p4evpn: a route reflector has no switch; WithSoftswitch, WithEmbeddedTarget and WithSwitch do not apply")
	}
	if n > 0 && cfg.Target.Address != "" {
		return nil, fmt.Errorf("p4evpn: target.address %q names a remote target; WithSoftswitch, WithEmbeddedTarget and WithSwitch replace it: remove one", cfg.Target.Address)
	}
	var err error
	if d.bgpCfg, err = cfg.BGPConfig(); err != nil {
		return nil, fmt.Errorf("p4evpn: %w", err)
	}
	if cfg.Mode == config.ModePE {
		if d.peCfg, err = cfg.PEConfig(); err != nil {
			return nil, fmt.Errorf("p4evpn: %w", err)
		}
		if d.plan, err = newStartupPlan(cfg); err != nil {
			return nil, fmt.Errorf("p4evpn: %w", err)
		}
	}
	if cfg.GNMI.Listen != "" {
		if d.startup, err = GNMIConfig(cfg); err != nil {
			return nil, fmt.Errorf("p4evpn: the config as OpenConfig (gnmi.listen is set): %w", err)
		}
		if err := d.startup.Validate(); err != nil {
			return nil, fmt.Errorf("p4evpn: the config as OpenConfig (gnmi.listen is set): %w", err)
		}
	}
	return d, nil
}

// Config is the Daemon's startup configuration.
func (d *Daemon) Config() *config.Config { return d.cfg }

// PE is the EVPN logic; nil in route-reflector mode or before Start.
func (d *Daemon) PE() *evpn.PE { return d.pe }

// Speaker is the BGP speaker; nil before Start.
func (d *Daemon) Speaker() *bgp.Speaker { return d.speaker }

// Softswitch is the embedded engine; nil with a remote target, WithSwitch,
// or in route-reflector mode.
func (d *Daemon) Softswitch() *softswitch.Switch { return d.engine }

// Switch is the asic.Switch the PE programs (p4asic unless WithSwitch).
func (d *Daemon) Switch() asic.Switch { return d.sw }

// P4Switch is the P4Runtime switch, for its p4rt client; nil WithSwitch.
func (d *Daemon) P4Switch() *p4asic.Switch { return d.p4sw }

// EmbeddedTarget is the embedded P4Runtime target, nil with a remote target.
func (d *Daemon) EmbeddedTarget() *EmbeddedTarget { return d.target }

// GNMI is the gNMI server; nil when gnmi.listen is empty.
func (d *Daemon) GNMI() *gnmi.Server { return d.gnmiSrv }

// Registry is where the Daemon's metrics are registered.
func (d *Daemon) Registry() *prometheus.Registry { return d.reg }

// HostPort returns the host end of in-memory port id of an engine the
// Daemon created itself (ports the config lists and target.interfaces does
// not map); nil otherwise.
func (d *Daemon) HostPort(id uint32) *softswitch.MemPort { return d.hostPorts[id] }

// GNMIAddr is the gNMI server's bound address; nil when not serving.
func (d *Daemon) GNMIAddr() net.Addr {
	if d.gnmiLis == nil {
		return nil
	}
	return d.gnmiLis.Addr()
}

// MetricsAddr is the bound address of /metrics and the operator API; nil
// when not serving.
func (d *Daemon) MetricsAddr() net.Addr {
	if d.httpLis == nil {
		return nil
	}
	return d.httpLis.Addr()
}

// P4RuntimeAddr is the embedded P4Runtime server's address; nil with a
// remote target or WithSwitch.
func (d *Daemon) P4RuntimeAddr() net.Addr {
	if d.target == nil {
		return nil
	}
	return d.target.Addr()
}

// Reconciled reports whether the restart reconciliation ran, with how many
// updates it wrote. A Daemon that started on an empty switch has nothing to
// reconcile and reports done with 0 updates.
func (d *Daemon) Reconciled() (done bool, updates int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reconciled.Done, d.reconciled.Updates, d.reconciled.Err
}

// Start connects to the switch (pushing the pipeline or adopting what the
// target holds), configures the PE, starts BGP, gNMI and the HTTP
// endpoints. It returns once everything is serving; on error everything
// started is stopped again. ctx bounds the start only.
func (d *Daemon) Start(ctx context.Context) (err error) {
	d.mu.Lock()
	if d.started || d.closed {
		d.mu.Unlock()
		return errors.New("p4evpn: Start called twice or after Close")
	}
	d.started = true
	d.mu.Unlock()
	runCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	defer func() {
		if err != nil {
			d.shutdown()
		}
	}()
	if d.cfg.Mode == config.ModePE {
		if err := d.startSwitch(ctx); err != nil {
			return err
		}
	}
	bgpCfg := d.bgpCfg
	if gr := bgpCfg.GracefulRestart; gr != nil && d.adopting {
		c := *gr
		c.Restarting = true
		bgpCfg.GracefulRestart = &c
	}
	// The sessions start once the PE has originated its startup routes
	// (inclusive multicast, Ethernet segment and A-D routes, and on a
	// restart the MAC routes of the local MACs adopted from the switch):
	// a restarting speaker dials at once and sends End-of-RIB right after
	// the neighbor's, and a helper then deletes every route of ours that
	// the UPDATEs before it did not refresh.
	neighbors := bgpCfg.Neighbors
	bgpCfg.Neighbors = nil
	if d.speaker, err = bgp.New(bgpCfg, bgp.WithLogger(d.log.With("component", "bgp"))); err != nil {
		return fmt.Errorf("p4evpn: bgp: %w", err)
	}
	if d.cfg.Mode == config.ModePE {
		if err := d.startPE(ctx, runCtx); err != nil {
			return err
		}
	}
	for _, n := range neighbors {
		if err := d.speaker.AddNeighbor(ctx, n); err != nil {
			return fmt.Errorf("p4evpn: bgp: %w", err)
		}
	}
	d.device = newDevice(d)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.runBGP(runCtx)
	}()
	if err := d.startGNMI(); err != nil {
		return err
	}
	coll := newCollector(d)
	if err := d.reg.Register(coll); err != nil {
		return fmt.Errorf("p4evpn: register metrics: %w", err)
	}
	d.coll = coll
	if err := d.startHTTP(); err != nil {
		return err
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.runTelemetry(runCtx)
	}()
	d.log.Info("evpnd started", "mode", d.cfg.Mode, "router_id", d.cfg.RouterID, "asn", d.cfg.ASN,
		"gnmi", addrString(d.GNMIAddr()), "metrics", addrString(d.MetricsAddr()), "p4runtime", addrString(d.P4RuntimeAddr()),
		"adopting", d.adopting)
	return nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// startSwitch builds the switch: WithSwitch's, a remote P4Runtime target,
// or the embedded one.
func (d *Daemon) startSwitch(ctx context.Context) error {
	if d.opts.sw != nil {
		d.sw = d.opts.sw
		return d.checkAdopt(ctx)
	}
	addr := d.cfg.Target.Address
	if addr == "" {
		if err := d.startEmbedded(); err != nil {
			return err
		}
		addr = d.target.Addr().String()
	}
	eid, err := electionID(d.cfg.Target)
	if err != nil {
		return fmt.Errorf("p4evpn: %w", err)
	}
	popts := []p4asic.Option{
		p4asic.WithAddress(addr), p4asic.WithDeviceID(d.cfg.Target.DeviceID), p4asic.WithElectionID(eid),
		p4asic.WithLogger(d.log), p4asic.WithRegistry(d.reg), p4asic.WithCPUPort(d.cfg.Target.CPUPort),
		p4asic.WithClientOptions(p4rt.WithReconnectBackoff(p4rt.Backoff{Initial: 50 * time.Millisecond, Max: 2 * time.Second})),
		p4asic.WithLearningDelay(d.cfg.Target.DigestDelay()),
	}
	if d.cfg.Target.P4Info != "" {
		popts = append(popts, p4asic.WithPipelineFiles(d.cfg.Target.P4Info, d.cfg.Target.JSON))
	}
	if d.p4sw, err = p4asic.New(ctx, popts...); err != nil {
		return fmt.Errorf("p4evpn: switch at %s: %w", addr, err)
	}
	d.sw = d.p4sw
	return d.checkAdopt(ctx)
}

// checkAdopt decides whether this start is a restart over live forwarding
// state: the switch holds entities a previous run wrote.
func (d *Daemon) checkAdopt(ctx context.Context) error {
	ents, err := d.sw.Read(ctx)
	if err != nil {
		return fmt.Errorf("p4evpn: read the switch: %w", err)
	}
	for _, e := range ents {
		if _, isPort := e.(asic.Port); !isPort {
			d.adopting = true
			break
		}
	}
	return nil
}

// startEmbedded serves the embedded engine over P4Runtime on loopback.
func (d *Daemon) startEmbedded() error {
	if d.opts.target != nil {
		d.target, d.engine = d.opts.target, d.opts.target.Softswitch()
		return nil
	}
	d.engine = d.opts.engine
	if d.engine == nil {
		d.engine = softswitch.New(softswitch.Config{CPUPort: d.cfg.Target.CPUPort, Logger: d.log.With("component", "softswitch")})
		d.ownsEngine = true
		d.hostPorts = map[uint32]*softswitch.MemPort{}
		for _, p := range d.cfg.Ports {
			var port softswitch.Port
			if name, ok := d.cfg.Target.Interfaces[p.ID]; ok {
				ip, err := softswitch.OpenInterface(name)
				if err != nil {
					return fmt.Errorf("p4evpn: target.interfaces[%d]: %w", p.ID, err)
				}
				port = ip
			} else {
				a, b := softswitch.NewLink(1024)
				port, d.hostPorts[p.ID] = a, b
			}
			if err := d.engine.AddPort(p.ID, port, ""); err != nil {
				return fmt.Errorf("p4evpn: port %d: %w", p.ID, err)
			}
		}
	}
	if _, err := d.engine.Program(); err == nil {
		// A new P4Runtime server knows nothing of what the engine holds, so
		// the pipeline push resets it: keep an EmbeddedTarget across
		// daemon restarts instead (WithEmbeddedTarget).
		d.log.Warn("the softswitch already runs a program; a new P4Runtime server in front of it resets its forwarding state")
	}
	t, err := NewEmbeddedTarget(d.engine, "127.0.0.1:0", d.cfg.Target.DeviceID, d.log)
	if err != nil {
		return fmt.Errorf("p4evpn: %w", err)
	}
	d.target, d.ownsTarget = t, true
	return nil
}

// electionID is the configured id, the next value of the election id
// file, or the time: a restarted evpnd must outrank its previous run
// (P4Runtime §5), which wall-clock nanoseconds do unless the clock steps
// back.
func electionID(t config.Target) (p4rt.ElectionID, error) {
	switch {
	case t.ElectionID != 0:
		return p4rt.ElectionID{Low: t.ElectionID}, nil
	case t.ElectionIDFile != "":
		var last uint64
		b, err := os.ReadFile(t.ElectionIDFile)
		switch {
		case err == nil:
			if last, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err != nil {
				return p4rt.ElectionID{}, fmt.Errorf("target.election-id-file %s: %q is not a number: %w", t.ElectionIDFile, b, err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return p4rt.ElectionID{}, fmt.Errorf("target.election-id-file: %w", err)
		}
		next := last + 1
		tmp := t.ElectionIDFile + ".tmp"
		if err := os.MkdirAll(filepath.Dir(t.ElectionIDFile), 0o755); err != nil {
			return p4rt.ElectionID{}, fmt.Errorf("target.election-id-file: %w", err)
		}
		if err := os.WriteFile(tmp, []byte(strconv.FormatUint(next, 10)+"\n"), 0o644); err != nil {
			return p4rt.ElectionID{}, fmt.Errorf("target.election-id-file: %w", err)
		}
		if err := os.Rename(tmp, t.ElectionIDFile); err != nil {
			return p4rt.ElectionID{}, fmt.Errorf("target.election-id-file: %w", err)
		}
		return p4rt.ElectionID{Low: next}, nil
	}
	return p4rt.ElectionID{Low: uint64(time.Now().UnixNano())}, nil
}

// startPE builds the PE, adopts the switch's state on a restart, feeds it
// the switch's events and configures the startup segments and EVIs.
func (d *Daemon) startPE(ctx, runCtx context.Context) error {
	cfg := d.peCfg
	cfg.Speaker, cfg.Switch, cfg.Clock = d.speaker, d.sw, d.opts.clock
	cfg.Logger = d.log.With("component", "evpn")
	pe, err := evpn.New(cfg)
	if err != nil {
		return fmt.Errorf("p4evpn: evpn: %w", err)
	}
	d.pe = pe
	if d.adopting {
		if err := pe.Adopt(ctx); err != nil {
			return fmt.Errorf("p4evpn: %w", err)
		}
	} else {
		d.mu.Lock()
		d.reconciled = reconcileResult{Done: true, At: time.Now()}
		d.mu.Unlock()
	}
	events, err := d.sw.Events(runCtx)
	if err != nil {
		return fmt.Errorf("p4evpn: switch events: %w", err)
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for ev := range events {
			if err := pe.HandleSwitchEvent(runCtx, ev); err != nil && runCtx.Err() == nil {
				d.log.Warn("switch event", "kind", ev.Kind, "bd", ev.BD, "mac", ev.MAC, "ac", ev.AC, "err", err)
			}
		}
	}()
	if d.p4sw != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.watchTarget(runCtx)
		}()
	}
	// Segments before the EVIs whose ACs use them, in file order: a
	// restart reproduces the segment ids and labels (evpn.PE.Adopt).
	for _, s := range d.plan.segments {
		if err := pe.AddSegment(ctx, s.cfg); err != nil {
			return fmt.Errorf("p4evpn: ethernet-segments %s: %w", s.name, err)
		}
	}
	for _, e := range d.plan.evis {
		if err := pe.AddEVI(ctx, e.cfg); err != nil {
			return fmt.Errorf("p4evpn: evis %d: %w", e.cfg.ID, err)
		}
	}
	return nil
}

// watchTarget reconciles the switch each time the P4Runtime stream comes
// back after a break: the target may have restarted with empty tables. A
// break before the restart reconciliation is left to it.
func (d *Daemon) watchTarget(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.p4sw.Resynced():
		}
		if done, _, _ := d.Reconciled(); !done {
			continue
		}
		n, err := d.pe.Reconcile(ctx)
		d.mu.Lock()
		d.targetResyncs++
		d.mu.Unlock()
		if err != nil {
			d.log.Error("reconciliation after the target came back failed", "updates", n, "err", err)
			continue
		}
		d.log.Warn("the P4Runtime target came back; switch reconciled", "updates", n)
	}
}

// TargetResyncs counts the reconciliations run because the P4Runtime
// stream to the target broke and came back.
func (d *Daemon) TargetResyncs() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.targetResyncs
}

// Close stops the Daemon and waits for its goroutines: a controller
// restart. The switch keeps its forwarding state (a restart adopts it) and
// the PE withdraws nothing: the BGP session's end withdraws the routes at
// the neighbors, unless they keep them for graceful restart (with the RFC
// 8538 N bit, Close's Cease/Administrative Reset has them do so for the
// restart time). Shutdown instead takes the Daemon out of service.
func (d *Daemon) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	err := d.shutdown()
	d.log.Info("evpnd stopped")
	return err
}

// Shutdown takes the Daemon out of service for good, then stops it as
// Close does. Every BGP neighbor gets Cease/Peer De-configured, which
// RFC 8538 makes a Hard Reset: neighbors, graceful-restart helpers
// included, delete this daemon's routes at once and tell the rest of the
// fabric, so remote PEs stop sending traffic here without waiting for the
// restart time that Close (a controller restart) has them keep the routes
// for. Shutdown returns when the sessions are gone and the Daemon is
// closed; ctx bounds the wait for the sessions (the Daemon is closed even
// when ctx ends first, and Shutdown returns ctx's error). The switch keeps
// its forwarding state, as after Close.
func (d *Daemon) Shutdown(ctx context.Context) error {
	err := d.leaveService(ctx)
	return errors.Join(err, d.Close())
}

// leaveService is Shutdown's first half: the BGP sessions end with a Hard
// Reset (bgp.Speaker.Shutdown) while the rest of the Daemon keeps running,
// so that POST /api/shutdown can answer once the routes are withdrawn.
func (d *Daemon) leaveService(ctx context.Context) error {
	d.mu.Lock()
	running := d.started && !d.closed && d.speaker != nil
	d.mu.Unlock()
	if !running {
		return errors.New("p4evpn: leave service: the daemon is not running")
	}
	d.log.Warn("leaving service: BGP neighbors withdraw this daemon's routes now (Hard Reset)")
	done := make(chan error, 1)
	// The speaker's Close, which stop calls, waits for this Shutdown to
	// finish, so the goroutine never outlives the Daemon.
	go func() { done <- d.speaker.Shutdown() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("p4evpn: leave service: %w", err)
		}
		d.log.Info("left service: every BGP session ended with a Hard Reset")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("p4evpn: leave service: sessions not all ended: %w", ctx.Err())
	}
}

// ExitRequested is closed when an operator has taken the Daemon out of
// service through the operator API (POST /api/shutdown) and asks the
// process to exit: the command then calls Shutdown, which finishes the
// job, and exits.
func (d *Daemon) ExitRequested() <-chan struct{} { return d.exit }

// shutdown stops what Start started, in reverse order, once.
func (d *Daemon) shutdown() error {
	d.shutdownOnce.Do(func() { d.shutdownErr = d.stop() })
	return d.shutdownErr
}

func (d *Daemon) stop() error {
	var errs []error
	if d.cancel != nil {
		d.cancel()
	}
	if d.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		errs = append(errs, d.httpSrv.Shutdown(ctx))
		cancel()
	}
	if d.gnmiSrv != nil {
		d.gnmiSrv.Close()
	}
	if d.pe != nil {
		errs = append(errs, d.pe.Close())
	}
	if d.speaker != nil {
		errs = append(errs, d.speaker.Close())
	}
	d.wg.Wait()
	if d.p4sw != nil {
		errs = append(errs, d.p4sw.Close())
	}
	if d.target != nil && d.ownsTarget {
		errs = append(errs, d.target.Close())
	}
	if d.engine != nil && d.ownsEngine {
		errs = append(errs, d.engine.Close())
	}
	if d.coll != nil {
		d.reg.Unregister(d.coll)
	}
	return errors.Join(errs...)
}

// requestRefresh asks the telemetry loop for a full refresh without
// blocking.
func (d *Daemon) requestRefresh() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}
