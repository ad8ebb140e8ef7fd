package p4asic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/p4rt"
)

// config is what the options set.
type config struct {
	addr        string
	client      *p4rt.Client
	deviceID    uint64
	electionID  p4rt.ElectionID
	hasElection bool
	p4infoPath  string
	jsonPath    string
	logger      *slog.Logger
	batchSize   int
	registry    prometheus.Registerer
	cpuPort     uint32
	digest      p4rt.DigestConfig
	eventBuffer int
	dialOpts    []p4rt.Option
}

// Option configures New.
type Option func(*config) error

// WithAddress connects to the P4Runtime target at addr (host:port).
func WithAddress(addr string) Option {
	return func(c *config) error {
		if addr == "" {
			return errors.New("empty target address")
		}
		c.addr = addr
		return nil
	}
}

// WithClient uses an existing, connected p4rt client instead of dialing.
// The Switch does not close it: its owner does, after the Switch's Close.
func WithClient(cl *p4rt.Client) Option {
	return func(c *config) error {
		if cl == nil {
			return errors.New("nil p4rt client")
		}
		c.client = cl
		return nil
	}
}

// WithDeviceID sets the P4Runtime device id (default 1).
func WithDeviceID(id uint64) Option {
	return func(c *config) error { c.deviceID = id; return nil }
}

// WithElectionID sets the election id. It must grow across controller
// restarts (see p4rt.ElectionID); without it the switch can read but not
// write.
func WithElectionID(id p4rt.ElectionID) Option {
	return func(c *config) error { c.electionID, c.hasElection = id, true; return nil }
}

// WithPipelineFiles uses the P4Info (text or binary) and BMv2 JSON files at
// these paths instead of the program embedded from p4/build.
func WithPipelineFiles(p4info, bmv2JSON string) Option {
	return func(c *config) error {
		if p4info == "" || bmv2JSON == "" {
			return fmt.Errorf("pipeline files %q, %q: both are needed", p4info, bmv2JSON)
		}
		c.p4infoPath, c.jsonPath = p4info, bmv2JSON
		return nil
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}

// WithBatchSize sets how many P4Runtime updates go in one WriteRequest
// (default p4rt.DefaultBatchSize).
func WithBatchSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("batch size %d: must be at least 1", n)
		}
		c.batchSize = n
		return nil
	}
}

// WithRegistry registers the switch's metrics on r. Without it the metrics
// are kept but not exported.
func WithRegistry(r prometheus.Registerer) Option {
	return func(c *config) error { c.registry = r; return nil }
}

// WithCPUPort sets the port the program sends packet-ins to (default
// p4.CPUPort); a Port of kind asic.PortCPU must have this id.
func WithCPUPort(port uint32) Option {
	return func(c *config) error {
		if port == 0 || port >= 1<<p4.PortBits {
			return fmt.Errorf("cpu port %d: must be 1-%d", port, 1<<p4.PortBits-1)
		}
		c.cpuPort = port
		return nil
	}
}

// WithLearningDelay sets how long the target may hold learned MACs to
// batch them into one digest list (default 1ms; lists of up to 100, a
// repeat suppressed for 1s unless acknowledged). Zero asks for each MAC at
// once, in lists of one: BMv2 reads a max_timeout_ns of 0 as "no timeout"
// and would hold samples until a list is full, and its PI server raises any
// other value below 100ms to 100ms.
func WithLearningDelay(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("learning delay %v is negative", d)
		}
		c.digest.MaxTimeout = d
		if d == 0 {
			c.digest.MaxListSize = 1
		}
		return nil
	}
}

// WithEventBuffer sets the capacity of each Events channel (default 4096);
// events beyond it are dropped and counted.
func WithEventBuffer(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("event buffer %d: must be at least 1", n)
		}
		c.eventBuffer = n
		return nil
	}
}

// WithClientOptions passes options to p4rt.Connect when the switch dials
// (TLS, reconnect backoff, ...).
func WithClientOptions(opts ...p4rt.Option) Option {
	return func(c *config) error { c.dialOpts = append(c.dialOpts, opts...); return nil }
}

// Switch is an asic.Switch on a P4Runtime target running p4/evpn.p4.
type Switch struct {
	cfg      config
	log      *slog.Logger
	client   *p4rt.Client
	ownsConn bool
	ix       *p4rt.Index
	names    *names
	metrics  *metrics

	// writeMu serialises Write and Read: the view must not change under a
	// Read that replaces it, nor two Writes interleave their translations.
	writeMu sync.Mutex
	// mu guards view.
	mu   sync.Mutex
	view *view

	events asic.EventFanout
	closed atomic.Bool

	resynced chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New connects to the target (or uses the given client), makes p4/evpn.p4
// (or the given files) its pipeline unless it already runs it (a restarted
// controller keeps the target's tables), enables the learning digest, and
// reads the target's tables into the switch's view. It returns once the
// client is primary, or fails when ctx ends first.
func New(ctx context.Context, opts ...Option) (*Switch, error) {
	cfg := config{deviceID: 1, batchSize: p4rt.DefaultBatchSize, cpuPort: p4.CPUPort, eventBuffer: 4096,
		digest: p4rt.DigestConfig{MaxTimeout: time.Millisecond, MaxListSize: 100, AckTimeout: time.Second}}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("p4asic: %w", err)
		}
	}
	if (cfg.addr == "") == (cfg.client == nil) {
		return nil, errors.New("p4asic: give exactly one of WithAddress and WithClient")
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	pipeline, err := loadPipeline(cfg)
	if err != nil {
		return nil, fmt.Errorf("p4asic: %w", err)
	}
	nm, err := resolveNames(pipeline.Index)
	if err != nil {
		return nil, fmt.Errorf("p4asic: pipeline does not fit p4/contract.go: %w", err)
	}
	m, err := newMetrics(cfg.registry)
	if err != nil {
		return nil, fmt.Errorf("p4asic: %w", err)
	}
	s := &Switch{cfg: cfg, log: cfg.logger.With("component", "p4asic"), ix: pipeline.Index, names: nm, metrics: m,
		view: newView(), resynced: make(chan struct{}, 1)}
	s.events.OnDrop = m.eventsDropped.Inc
	if cfg.client != nil {
		s.client = cfg.client
	} else {
		copts := append([]p4rt.Option{p4rt.WithDeviceID(cfg.deviceID), p4rt.WithLogger(cfg.logger),
			p4rt.WithBatchSize(cfg.batchSize)}, cfg.dialOpts...)
		if cfg.hasElection {
			copts = append(copts, p4rt.WithElectionID(cfg.electionID))
		}
		if s.client, err = p4rt.Connect(ctx, cfg.addr, copts...); err != nil {
			m.unregister(cfg.registry)
			return nil, fmt.Errorf("p4asic: connect %s: %w", cfg.addr, err)
		}
		s.ownsConn = true
	}
	if err := s.start(ctx, pipeline); err != nil {
		if s.ownsConn {
			s.client.Close()
		}
		m.unregister(cfg.registry)
		return nil, err
	}
	return s, nil
}

func loadPipeline(cfg config) (*p4rt.Pipeline, error) {
	if cfg.p4infoPath != "" {
		p, err := p4rt.LoadPipeline(cfg.p4infoPath, cfg.jsonPath)
		if err != nil {
			return nil, fmt.Errorf("load pipeline %s, %s: %w", cfg.p4infoPath, cfg.jsonPath, err)
		}
		return p, nil
	}
	info, err := p4.EVPNP4Info()
	if err != nil {
		return nil, err
	}
	p, err := p4rt.NewPipeline(info, p4.EVPNJSON())
	if err != nil {
		return nil, fmt.Errorf("embedded evpn.p4 pipeline: %w", err)
	}
	return p, nil
}

func (s *Switch) start(ctx context.Context, pipeline *p4rt.Pipeline) error {
	if err := s.client.WaitPrimary(ctx); err != nil {
		return fmt.Errorf("p4asic: wait to be primary: %w", err)
	}
	pushed, err := s.client.SetPipeline(ctx, pipeline)
	if err != nil {
		return fmt.Errorf("p4asic: set pipeline: %w", err)
	}
	s.log.Info("pipeline ready", "pushed", pushed, "cookie", pipeline.Cookie)
	d, err := s.ix.BuildDigestEntry(p4.DigestMACLearn, s.cfg.digest)
	if err != nil {
		return fmt.Errorf("p4asic: learning digest: %w", err)
	}
	if err := s.client.Write(ctx, []*p4v1.Update{p4rt.Insert(d)}); err != nil {
		if status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("p4asic: enable learning digest: %w", err)
		}
		if err := s.client.Write(ctx, []*p4v1.Update{p4rt.Modify(d)}); err != nil {
			return fmt.Errorf("p4asic: configure learning digest: %w", err)
		}
	}
	if _, err := s.Read(ctx); err != nil {
		return fmt.Errorf("p4asic: read the target's state: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.serveStream(runCtx)
	}()
	return nil
}

// Client returns the p4rt client the switch writes through, for packet-in
// and packet-out and for tests that inspect the target.
func (s *Switch) Client() *p4rt.Client { return s.client }

// serveStream turns digests and idle timeouts into events and notes target
// restarts, until ctx ends or the client closes its channels.
func (s *Switch) serveStream(ctx context.Context) {
	digests, idles, arbs := s.client.Digests(), s.client.IdleTimeouts(), s.client.Arbitrations()
	epoch := s.client.Arbitration().Epoch
	for {
		select {
		case <-ctx.Done():
			return
		case l, ok := <-digests:
			if !ok {
				return
			}
			s.handleDigest(l)
		case n, ok := <-idles:
			if !ok {
				return
			}
			s.handleIdle(n)
		case a, ok := <-arbs:
			if !ok {
				return
			}
			if a.Primary && a.Epoch != epoch {
				epoch = a.Epoch
				s.resync(ctx, a.Epoch)
			}
		}
	}
}

// resync re-reads the target after the stream came back: the target may
// have restarted and lost its tables, and Write must not go on trusting a
// view of entries that are gone (it would accept entities whose references
// no longer exist). Then it tells the caller to reconcile.
func (s *Switch) resync(ctx context.Context, epoch uint64) {
	ents, err := s.Read(ctx)
	if err != nil {
		s.log.Warn("re-reading the target after reconnecting failed: the view is stale until the next Read",
			"epoch", epoch, "err", err)
		s.markStale()
	} else {
		s.log.Info("re-read the target after reconnecting", "epoch", epoch, "entities", len(ents))
	}
	select {
	case s.resynced <- struct{}{}:
	default:
	}
}

// Resynced receives a value (coalesced) each time the P4Runtime stream came
// back after a break and the switch re-read the target into its view: the
// target may have restarted and lost its tables, so the caller should
// reconcile (evpn.PE.Reconcile).
func (s *Switch) Resynced() <-chan struct{} { return s.resynced }

func (s *Switch) handleDigest(l *p4rt.DigestList) {
	if l.Digest != p4.DigestMACLearn {
		s.log.Debug("ignoring digest", "digest", l.Digest)
		return
	}
	for i := range l.Messages {
		m := &l.Messages[i]
		bd, err1 := m.Uint(p4.DigestFieldBD)
		ac, err2 := m.Uint(p4.DigestFieldAC)
		raw, ok := m.Value(p4.DigestFieldMAC)
		mac, err3 := macFromBytes(raw)
		if err := errors.Join(err1, err2, err3); err != nil || !ok {
			s.log.Warn("malformed learning digest", "err", err, "list", l.ListID)
			continue
		}
		s.publish(asic.Event{Kind: asic.EventLearn, BD: asic.BridgeDomainID(bd), MAC: mac, AC: asic.ACID(ac)})
	}
}

func (s *Switch) handleIdle(n *p4rt.IdleTimeout) {
	for _, te := range n.Entries {
		e, err := s.ix.DecodeTableEntry(te)
		if err != nil || e.Table != p4.TableSourceMAC {
			continue
		}
		bd, mac, err := bdMACKey(e.Match)
		if err != nil {
			s.log.Warn("malformed idle timeout notification", "err", err)
			continue
		}
		ev := asic.Event{Kind: asic.EventIdle, BD: bd, MAC: mac}
		s.mu.Lock()
		if f, ok := s.view.fdb[fdbKey{bd, mac}]; ok && f.Dest.Kind == asic.ToAC {
			ev.AC = f.Dest.AC
		}
		s.mu.Unlock()
		s.publish(ev)
	}
}

// publish hands ev to every subscriber without ever blocking.
func (s *Switch) publish(ev asic.Event) { s.events.Publish(ev) }

// Events implements asic.Switch.
func (s *Switch) Events(ctx context.Context) (<-chan asic.Event, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	ch, ok := s.events.Subscribe(ctx, s.cfg.eventBuffer)
	if !ok {
		return nil, errClosed
	}
	return ch, nil
}

// DroppedEvents returns how many events found a subscriber's channel full.
func (s *Switch) DroppedEvents() uint64 { return s.events.Dropped() }

var errClosed = errors.New("p4asic: switch closed")

// Close implements asic.Switch: it stops event delivery, closes every
// subscription, takes the metrics off the registry and, when the switch
// dialed it, closes the P4Runtime connection. The target keeps its tables.
func (s *Switch) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.events.Close()
	s.cancel()
	s.wg.Wait()
	s.metrics.unregister(s.cfg.registry)
	if s.ownsConn {
		return s.client.Close()
	}
	return nil
}

func (s *Switch) isClosed() bool { return s.closed.Load() }

// Counters implements asic.Switch: bridge domains and ACs count the frames
// they received (ingress.bd_in, ingress.ac_in); drops are the pipeline's
// drop counters mapped onto asic's reasons (split horizon counts both the
// ES and the core split horizon).
func (s *Switch) Counters(ctx context.Context) (asic.Counters, error) {
	if s.isClosed() {
		return asic.Counters{}, errClosed
	}
	out := asic.Counters{BridgeDomains: map[asic.BridgeDomainID]asic.PacketCount{},
		ACs: map[asic.ACID]asic.PacketCount{}, Drops: map[asic.DropReason]uint64{}}
	read := func(name string, f func(index int64, c asic.PacketCount)) error {
		cells, err := s.client.ReadCounters(ctx, name, p4rt.AllIndices)
		if err != nil {
			return fmt.Errorf("p4asic: read counter %s: %w", name, err)
		}
		for _, c := range cells {
			d := c.GetData()
			if d.GetPacketCount() == 0 && d.GetByteCount() == 0 {
				continue
			}
			f(c.GetIndex().GetIndex(), asic.PacketCount{Packets: uint64(d.GetPacketCount()), Bytes: uint64(d.GetByteCount())})
		}
		return nil
	}
	if err := read(p4.CounterBDIn, func(i int64, c asic.PacketCount) { out.BridgeDomains[asic.BridgeDomainID(i)] = c }); err != nil {
		return asic.Counters{}, err
	}
	if err := read(p4.CounterACIn, func(i int64, c asic.PacketCount) { out.ACs[asic.ACID(i)] = c }); err != nil {
		return asic.Counters{}, err
	}
	drops := func(i int64, c asic.PacketCount) {
		var r asic.DropReason
		switch p4.DropReason(i) {
		case p4.DropSplitHorizon, p4.DropCoreSplitHorizon:
			r = asic.DropSplitHorizon
		case p4.DropNonDF:
			r = asic.DropNonDF
		case p4.DropPinnedMove:
			r = asic.DropPinnedMove
		case p4.DropACUnknown, p4.DropLabelUnknown, p4.DropESILabelUnknown, p4.DropAliasingGroupUnknown,
			p4.DropTunnelUnknown, p4.DropRemoteLabelUnknown, p4.DropTunnelEncapUnknown, p4.DropPortUnconfigured:
			r = asic.DropNoRoute
		default:
			return
		}
		out.Drops[r] += c.Packets
	}
	if err := read(p4.CounterDropsIn, drops); err != nil {
		return asic.Counters{}, err
	}
	if err := read(p4.CounterDropsOut, drops); err != nil {
		return asic.Counters{}, err
	}
	return out, nil
}

// DropCounts reads the pipeline's drop counters by the program's own
// reasons, finer than asic.Counters.Drops: for diagnostics and tests.
func (s *Switch) DropCounts(ctx context.Context) (map[p4.DropReason]uint64, error) {
	out := map[p4.DropReason]uint64{}
	for _, name := range []string{p4.CounterDropsIn, p4.CounterDropsOut} {
		cells, err := s.client.ReadCounters(ctx, name, p4rt.AllIndices)
		if err != nil {
			return nil, fmt.Errorf("p4asic: read counter %s: %w", name, err)
		}
		for _, c := range cells {
			if n := c.GetData().GetPacketCount(); n > 0 {
				out[p4.DropReason(c.GetIndex().GetIndex())] += uint64(n)
			}
		}
	}
	return out, nil
}

var _ asic.Switch = (*Switch)(nil)
