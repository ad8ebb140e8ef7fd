package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/p4evpn/p4evpn/evpn/route"
)

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// PathAdd: a new best path for a route key, or a changed one.
	PathAdd EventKind = iota + 1
	// PathWithdraw: the route key has no acceptable path any more.
	PathWithdraw
	// PeerUp: a session reached Established.
	PeerUp
	// PeerDown: a session left Established; Reason says why.
	PeerDown
	// EndOfRIB: the neighbor finished sending its routes after the session
	// came up (RFC 4724 End-of-RIB). GoBGP exchanges End-of-RIB only on
	// sessions with graceful restart, so a daemon waiting for convergence
	// should configure it.
	EndOfRIB
)

func (k EventKind) String() string {
	switch k {
	case PathAdd:
		return "path-add"
	case PathWithdraw:
		return "path-withdraw"
	case PeerUp:
		return "peer-up"
	case PeerDown:
		return "peer-down"
	case EndOfRIB:
		return "end-of-rib"
	}
	return "event-" + strconv.Itoa(int(k))
}

// Event is one change the speaker reports to evpn/.
type Event struct {
	Kind EventKind
	// Path is the new best path for PathAdd. For PathWithdraw only its route
	// key (route.Key(Path.NLRI)) is meaningful.
	Path route.Path
	// Peer is the BGP neighbor the path came from (for a route reflector's
	// client that is the reflector), or the neighbor whose session changed.
	// The originating PE of a path is Path.Attrs.OriginatorID when set, else
	// Path.Attrs.NextHop or the NLRI's originator IP.
	Peer    netip.Addr
	PeerASN uint32
	// EndOfRIBExpected, on PeerUp, says that the neighbor will send
	// End-of-RIB for l2vpn-evpn once it has sent its routes: both sides
	// advertised graceful restart (RFC 4724 §2). A daemon
	// waiting for the whole table waits for that marker, not for quiet:
	// some speakers (FRR) hold their first update a second or more.
	EndOfRIBExpected bool
	// Reason is GoBGP's cause for PeerDown: "hold-timer-expired",
	// "read-failed", "graceful-restart", "notification-received code 6(cease)
	// subcode 3(peer deconfigured)", ...
	Reason string
}

// Speaker is a BGP speaker for l2vpn-evpn built on a GoBGP server.
type Speaker struct {
	cfg     Config
	log     *slog.Logger
	glog    *slogAdapter
	srv     *server.BgpServer
	nextHop netip.Addr
	// routerID is cfg.RouterID as GoBGP prints it, for ORIGINATOR_ID checks.
	routerID string

	events     chan Event
	stopWatch  context.CancelFunc
	done       chan struct{}
	closeOnce  sync.Once
	senderDone chan struct{}

	// cbMu is held (read) by every GoBGP watch callback; Close takes it for
	// writing to wait for callbacks in flight and set closed.
	cbMu   sync.RWMutex
	closed bool

	// mu guards imports, emitted, announced, suspect and stats. It may be
	// held while calling GoBGP's server loop, so it is taken only on
	// goroutines that loop never waits for: callers and GoBGP's watcher
	// goroutine (which GoBGP feeds through an unbounded queue).
	mu      sync.Mutex
	imports importSet
	// emitted maps each route key with a reported best path to the
	// neighbor it came from.
	emitted map[route.NLRI]netip.Addr
	// announced holds the keys this speaker currently originates.
	announced map[route.NLRI]struct{}
	// suspect holds keys this speaker withdrew; a neighbor may still hold a
	// path for them that GoBGP never replaced (see ownReflection).
	suspect map[route.NLRI]struct{}
	stats   Stats

	// qmu guards established, peerASNs and queue. It is taken after mu and
	// never held while calling anything else, so GoBGP's session goroutines
	// can take it from the log hook.
	qmu  sync.Mutex
	wake *sync.Cond
	// established records which neighbors were reported up.
	established map[string]bool
	// peerASNs is each configured neighbor's AS, for events GoBGP's log
	// hook reports without one.
	peerASNs map[netip.Addr]uint32
	// queue holds events not yet handed to the Events channel.
	queue []Event
}

// Stats counts what the speaker did with GoBGP's reports.
type Stats struct {
	// DecodeErrors counts paths GoBGP accepted that p4evpn could not decode
	// (route types 5+, malformed values); each is logged.
	DecodeErrors uint64
	// Filtered counts best paths dropped by the import policy.
	Filtered uint64
	// StaleReflections counts best paths suppressed because the neighbor
	// had since replaced them with this speaker's own route (RFC 4456
	// ORIGINATOR_ID loop), which GoBGP ignores instead of applying.
	StaleReflections uint64
	// UnknownExtCommunities counts extended communities p4evpn ignores.
	UnknownExtCommunities uint64
}

type importSet struct {
	all bool
	rts map[route.RouteTarget]struct{}
	es  map[route.MAC]struct{}
}

func newImportSet(p ImportPolicy) importSet {
	s := importSet{all: p.All, rts: make(map[route.RouteTarget]struct{}), es: make(map[route.MAC]struct{})}
	for _, t := range p.RouteTargets {
		s.rts[t] = struct{}{}
	}
	for _, m := range p.ESImport {
		s.es[m] = struct{}{}
	}
	return s
}

func (s importSet) match(p route.Path) bool {
	if s.all {
		return true
	}
	if p.NLRI.RouteType() == route.TypeEthernetSegment {
		if p.Attrs.ESImport == nil {
			return false
		}
		_, ok := s.es[*p.Attrs.ESImport]
		return ok
	}
	for _, t := range p.Attrs.RouteTargets {
		if _, ok := s.rts[t]; ok {
			return true
		}
	}
	return false
}

// New starts a speaker: the GoBGP server, its listener if ListenPort is set,
// and the configured neighbors. Close stops it.
func New(cfg Config, opts ...Option) (*Speaker, error) {
	o := options{logger: slog.Default(), eventBuffer: 1024}
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("bgp config: %w", err)
	}
	s := &Speaker{
		cfg:         cfg,
		log:         o.logger.With("bgp.router_id", cfg.RouterID.String()),
		nextHop:     cfg.NextHop,
		routerID:    cfg.RouterID.String(),
		events:      make(chan Event, o.eventBuffer),
		done:        make(chan struct{}),
		senderDone:  make(chan struct{}),
		imports:     newImportSet(cfg.Import),
		emitted:     make(map[route.NLRI]netip.Addr),
		announced:   make(map[route.NLRI]struct{}),
		suspect:     make(map[route.NLRI]struct{}),
		established: make(map[string]bool),
		peerASNs:    make(map[netip.Addr]uint32),
	}
	s.wake = sync.NewCond(&s.qmu)
	if !s.nextHop.IsValid() {
		s.nextHop = cfg.RouterID
	}
	s.glog = newSlogAdapter(s.log, s.onPeerDownLog)
	s.srv = server.NewBgpServer(server.LoggerOption(s.glog), server.IdleHoldTimeOption(cfg.IdleHoldTime))
	// GoBGP's Serve loop has no exit: after Close it stays parked on its
	// channels (a GoBGP v3 limitation), holding no sockets.
	go s.srv.Serve()

	ctx := context.Background()
	global := &api.Global{
		Asn:             cfg.ASN,
		RouterId:        cfg.RouterID.String(),
		ListenPort:      -1,
		ListenAddresses: []string{"0.0.0.0"},
	}
	if cfg.ListenPort != 0 {
		global.ListenPort = int32(cfg.ListenPort)
		if cfg.ListenAddress.IsValid() {
			global.ListenAddresses = []string{cfg.ListenAddress.String()}
		}
	}
	if gr := cfg.GracefulRestart; gr != nil {
		global.GracefulRestart = &api.GracefulRestart{
			Enabled:      true,
			RestartTime:  uint32(gr.RestartTime / time.Second),
			HelperOnly:   gr.HelperOnly,
			DeferralTime: uint32(gr.DeferralTime / time.Second),
			// GoBGP reads the N bit per neighbor; the global flag only
			// keeps ListPeer/GetBgp consistent with it.
			NotificationEnabled: gr.Notification,
		}
	}
	if err := s.srv.StartBgp(ctx, &api.StartBgpRequest{Global: global}); err != nil {
		s.srv.Stop()
		return nil, fmt.Errorf("start BGP (router id %s, AS %d, port %d): %w", cfg.RouterID, cfg.ASN, cfg.ListenPort, err)
	}

	watchCtx, cancel := context.WithCancel(context.Background())
	s.stopWatch = cancel
	err := s.srv.WatchEvent(watchCtx, &api.WatchEventRequest{
		Peer: &api.WatchEventRequest_Peer{},
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{
			{Type: api.WatchEventRequest_Table_Filter_BEST, Init: true},
			{Type: api.WatchEventRequest_Table_Filter_EOR},
		}},
	}, s.onWatchEvent)
	if err != nil {
		cancel()
		s.srv.Stop()
		return nil, fmt.Errorf("watch GoBGP events: %w", err)
	}
	go s.sendLoop()

	for _, n := range cfg.Neighbors {
		if err := s.AddNeighbor(ctx, n); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Events returns the channel of path and peer events, in the order GoBGP
// produced them. It is closed by Close. The consumer must keep reading:
// events queue up inside the speaker (without bound) while it does not.
func (s *Speaker) Events() <-chan Event { return s.events }

// Close stops the GoBGP server, stops event delivery, waits for the
// speaker's goroutines and closes Events. Every neighbor gets a Cease: with
// GracefulRestart.Notification, Cease/Administrative Reset, which keeps this
// speaker's routes at neighbors that negotiated RFC 8538 for the restart
// time, as a process restart wants; otherwise Cease/Peer De-configured,
// which withdraws them.
func (s *Speaker) Close() error { return s.close(true) }

// Shutdown is Close for a speaker that leaves for good (taken out of
// service, or a PE failure drill): every neighbor gets Cease/Peer
// De-configured, a Hard Reset under RFC 8538, and deletes this speaker's
// routes at once instead of keeping them for the restart time. After the
// first of Close and Shutdown, both do nothing.
func (s *Speaker) Shutdown() error { return s.close(false) }

// close is Close (keepRoutes) or Shutdown.
func (s *Speaker) close(keepRoutes bool) error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.stopWatch()
		s.cbMu.Lock()
		s.closed = true
		s.cbMu.Unlock()
		if gr := s.cfg.GracefulRestart; keepRoutes && gr != nil && gr.Notification {
			s.resetSessionsAndWait()
		}
		s.deleteNeighborsAndWait()
		s.srv.Stop()
		s.qmu.Lock()
		s.wake.Broadcast()
		s.qmu.Unlock()
		<-s.senderDone
		close(s.events)
	})
	return nil
}

// closeGrace bounds how long Close waits for GoBGP's session goroutines.
const closeGrace = 10 * time.Second

// deleteNeighborsAndWait removes every neighbor and waits until GoBGP has
// freed each one's session goroutines. GoBGP's StopBgp clears the global
// configuration while those goroutines may still be parsing an UPDATE that
// reads it (a data race in GoBGP v3.37.0); with no neighbors left, StopBgp
// has nothing to race with. GoBGP reports a freed session only in its
// "freed fsm.h" log record, which the log adapter passes on.
func (s *Speaker) deleteNeighborsAndWait() {
	var addrs []string
	if err := s.srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) {
		addrs = append(addrs, p.GetConf().GetNeighborAddress())
	}); err != nil {
		s.log.Warn("close: cannot list neighbors", "err", err)
		return
	}
	for _, a := range addrs {
		s.glog.expectFree(a)
		if err := s.srv.DeletePeer(context.Background(), &api.DeletePeerRequest{Address: a}); err != nil {
			s.log.Warn("close: cannot delete neighbor", "neighbor", a, "err", err)
		}
	}
	deadline := time.NewTimer(closeGrace)
	defer deadline.Stop()
	for _, a := range addrs {
		for !s.glog.sessionFreed(a) {
			select {
			case <-s.glog.sessionSignal():
			case <-deadline.C:
				s.log.Warn("close: GoBGP did not free a neighbor's session in time", "neighbor", a, "wait", closeGrace)
				return
			}
		}
	}
}

// restartCommunication is the Shutdown Communication (RFC 9003) Close
// sends with its Administrative Reset, for the neighbor's logs.
const restartCommunication = "p4evpn speaker restarting"

// resetSessionsAndWait ends every established session with Cease/
// Administrative Reset and waits until each has left Established. GoBGP's
// DeletePeer and StopBgp send Cease/Peer De-configured, which GoBGP (as RFC
// 8538 §5.1 suggests) rewrites to Hard Reset on sessions with the N bit, so
// the neighbor deletes the routes; Administrative Reset is the one Cease
// GoBGP leaves alone. Deleting a neighbor only once its session is down
// keeps DeletePeer from sending its own Cease on that session. GoBGP waits
// the neighbor's IdleHoldTimeAfterReset (ConnectRetry, at least 1 s) before
// reconnecting, far longer than the delete that follows takes.
func (s *Speaker) resetSessionsAndWait() {
	// Forget earlier session losses of every neighbor before listing the
	// established ones: a session that the neighbor ends between the list
	// and the reset (a reflector closing at the same time) is then seen
	// down instead of awaited until closeGrace.
	if err := s.srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) {
		s.glog.expectDown(p.GetConf().GetNeighborAddress())
	}); err != nil {
		s.log.Warn("close: cannot list neighbors", "err", err)
		return
	}
	var addrs []string
	if err := s.srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) {
		if p.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
			addrs = append(addrs, p.GetConf().GetNeighborAddress())
		}
	}); err != nil {
		s.log.Warn("close: cannot list neighbors", "err", err)
		return
	}
	for _, a := range addrs {
		if err := s.srv.ResetPeer(context.Background(), &api.ResetPeerRequest{Address: a, Communication: restartCommunication}); err != nil {
			s.log.Warn("close: cannot reset neighbor", "neighbor", a, "err", err)
		}
	}
	deadline := time.NewTimer(closeGrace)
	defer deadline.Stop()
	// The log hook misses a loss it reported before expectDown, which
	// GoBGP's server loop may still show as Established in the list
	// above: poll the server's state too.
	poll := time.NewTicker(closePoll)
	defer poll.Stop()
	for _, a := range addrs {
		for !s.glog.sessionDown(a) && s.sessionEstablished(a) {
			select {
			case <-s.glog.sessionSignal():
			case <-poll.C:
			case <-deadline.C:
				s.log.Warn("close: a neighbor's session did not go down in time", "neighbor", a, "wait", closeGrace)
				return
			}
		}
	}
}

// closePoll is how often Close reads GoBGP's session states while it
// waits for sessions to go down.
const closePoll = 50 * time.Millisecond

// sessionEstablished reports whether GoBGP's server loop records the
// neighbor's session as Established.
func (s *Speaker) sessionEstablished(addr string) bool {
	up := false
	err := s.srv.ListPeer(context.Background(), &api.ListPeerRequest{Address: addr}, func(p *api.Peer) {
		up = p.GetState().GetSessionState() == api.PeerState_ESTABLISHED
	})
	return err == nil && up
}

// sendLoop hands queued events to the Events channel. It is the only
// sender, so the order in which state changes queued events is the order
// the consumer sees, and no lock is held while the consumer is slow (the
// consumer may call Announce while handling an event).
func (s *Speaker) sendLoop() {
	defer close(s.senderDone)
	for {
		s.qmu.Lock()
		for len(s.queue) == 0 {
			select {
			case <-s.done:
				s.qmu.Unlock()
				return
			default:
			}
			s.wake.Wait()
		}
		batch := s.queue
		s.queue = nil
		s.qmu.Unlock()
		for _, ev := range batch {
			select {
			case s.events <- ev:
			case <-s.done:
				return
			}
		}
	}
}

// enqueue appends events to the queue the sender drains. Callers that
// change path state hold mu, so events leave in the order of those changes.
func (s *Speaker) enqueue(evs ...Event) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	s.enqueueLocked(evs...)
}

// enqueueLocked is enqueue with qmu held.
func (s *Speaker) enqueueLocked(evs ...Event) {
	if len(evs) == 0 {
		return
	}
	s.queue = append(s.queue, evs...)
	s.wake.Signal()
}

// AddNeighbor configures a session at run time.
func (s *Speaker) AddNeighbor(ctx context.Context, n Neighbor) error {
	if err := n.validate(); err != nil {
		return fmt.Errorf("add neighbor: %w", err)
	}
	if n.Password != "" {
		if err := checkTCPMD5(); err != nil {
			return fmt.Errorf("add neighbor %s with an MD5 password: %w", n.Address, err)
		}
	}
	if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: s.apiPeer(n)}); err != nil {
		return fmt.Errorf("add neighbor %s AS %d: %w", n.Address, n.ASN, err)
	}
	s.qmu.Lock()
	s.peerASNs[n.Address] = n.ASN
	s.qmu.Unlock()
	return nil
}

// DeleteNeighbor removes a session (the neighbor gets a Cease
// notification); its paths are withdrawn.
func (s *Speaker) DeleteNeighbor(ctx context.Context, addr netip.Addr) error {
	if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr.String()}); err != nil {
		return fmt.Errorf("delete neighbor %s: %w", addr, err)
	}
	return nil
}

func seconds(d time.Duration) uint64 { return uint64(math.Ceil(d.Seconds())) }

func (s *Speaker) apiPeer(n Neighbor) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: n.Address.String(),
			PeerAsn:         n.ASN,
			AuthPassword:    n.Password,
		},
		Transport: &api.Transport{RemotePort: uint32(n.Port), PassiveMode: n.Passive},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:          seconds(n.HoldTime),
			KeepaliveInterval: seconds(n.KeepaliveInterval),
			ConnectRetry:      seconds(n.ConnectRetry),
			// GoBGP waits this long before reconnecting after an
			// administrative reset (30 s by default); tie it to the retry
			// timer.
			IdleHoldTimeAfterReset: seconds(n.ConnectRetry),
		}},
		AfiSafis: []*api.AfiSafi{{
			Config: &api.AfiSafiConfig{Family: evpnFamily, Enabled: true},
		}},
	}
	if n.LocalAddress.IsValid() {
		p.Transport.LocalAddress = n.LocalAddress.String()
	}
	if n.RouteReflectorClient {
		cid := s.cfg.ClusterID
		if !cid.IsValid() {
			cid = s.cfg.RouterID
		}
		p.RouteReflector = &api.RouteReflector{RouteReflectorClient: true, RouteReflectorClusterId: cid.String()}
	}
	if n.EBGPMultihopTTL > 0 {
		p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(n.EBGPMultihopTTL)}
	}
	if gr := s.cfg.GracefulRestart; gr != nil {
		p.GracefulRestart = &api.GracefulRestart{
			Enabled:             true,
			RestartTime:         uint32(gr.RestartTime / time.Second),
			HelperOnly:          gr.HelperOnly,
			LocalRestarting:     gr.Restarting,
			DeferralTime:        uint32(gr.DeferralTime / time.Second),
			NotificationEnabled: gr.Notification,
		}
		p.AfiSafis[0].MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
	}
	return p
}

// Announce originates p, replacing any path this speaker originated for the
// same route key. A zero next hop means Config.NextHop. GoBGP itself still
// applies two RFC 7432 §15 rules to type-2 routes: it adds a MAC Mobility
// community (sequence one above the highest it knows for the MAC) to a route
// announced without one while another PE advertises the MAC, and it refuses
// a route whose sequence is lower than one it knows.
func (s *Speaker) Announce(ctx context.Context, p route.Path) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return errClosed
	}
	ap, err := encodePath(p, s.nextHop)
	if err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	key := route.Key(p.NLRI)
	s.mu.Lock()
	s.announced[key] = struct{}{}
	s.mu.Unlock()
	if _, err := s.srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: ap}); err != nil {
		return fmt.Errorf("announce %s: %w", p.NLRI, err)
	}
	return nil
}

// Withdraw stops originating the route with n's key. Withdrawing a route
// that is not announced is not an error.
func (s *Speaker) Withdraw(ctx context.Context, n route.NLRI) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return errClosed
	}
	ap, err := encodeWithdrawal(n, s.nextHop)
	if err != nil {
		return fmt.Errorf("withdraw: %w", err)
	}
	key := route.Key(n)
	s.mu.Lock()
	_, was := s.announced[key]
	delete(s.announced, key)
	if was {
		s.suspect[key] = struct{}{}
	}
	s.mu.Unlock()
	if err := s.srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: evpnFamily, Path: ap}); err != nil {
		return fmt.Errorf("withdraw %s: %w", n, err)
	}
	return nil
}

// SetImportPolicy replaces the import policy and reports the difference:
// PathAdd for best paths that now match and were not reported, PathWithdraw
// for reported ones that no longer match.
func (s *Speaker) SetImportPolicy(ctx context.Context, p ImportPolicy) error {
	if s.isClosed() {
		return errClosed
	}
	// Hold mu across the RIB snapshot so no best-path event is processed
	// between the snapshot and the policy change; events GoBGP queued
	// before the snapshot are applied afterwards under the new policy and
	// only move the reported state closer to the RIB.
	s.mu.Lock()
	defer s.mu.Unlock()
	var best []decodedPath
	err := s.srv.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: evpnFamily}, func(d *api.Destination) {
		for _, ap := range d.GetPaths() {
			if !ap.GetBest() {
				continue
			}
			if dp, err := decodePath(ap); err == nil && !dp.local {
				best = append(best, dp)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("set import policy: list RIB: %w", err)
	}
	s.imports = newImportSet(p)
	for _, dp := range best {
		key := route.Key(dp.NLRI)
		_, had := s.emitted[key]
		switch match := s.imports.match(dp.Path); {
		case match && !had:
			s.emitted[key] = dp.neighbor
			s.enqueue(Event{Kind: PathAdd, Path: dp.Path, Peer: dp.neighbor, PeerASN: dp.peerASN})
		case !match && had:
			delete(s.emitted, key)
			s.enqueue(Event{Kind: PathWithdraw, Path: route.Path{NLRI: dp.NLRI}, Peer: dp.neighbor, PeerASN: dp.peerASN})
		}
	}
	return nil
}

func (s *Speaker) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// onWatchEvent runs on GoBGP's watcher goroutine, one call at a time.
func (s *Speaker) onWatchEvent(r *api.WatchEventResponse) {
	s.cbMu.RLock()
	defer s.cbMu.RUnlock()
	if s.closed {
		return
	}
	switch ev := r.GetEvent().(type) {
	case *api.WatchEventResponse_Peer:
		s.onPeerEvent(ev.Peer)
	case *api.WatchEventResponse_Table:
		for _, p := range ev.Table.GetPaths() {
			s.onBestPath(p)
		}
	}
}

func (s *Speaker) onPeerEvent(pe *api.WatchEventResponse_PeerEvent) {
	if pe.GetType() != api.WatchEventResponse_PeerEvent_STATE {
		return
	}
	st := pe.GetPeer().GetState()
	addr := st.GetNeighborAddress()
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		s.log.Warn("peer event without a valid neighbor address", "neighbor", addr)
		return
	}
	up := st.GetSessionState() == api.PeerState_ESTABLISHED
	// Asked before taking qmu: GoBGP's session goroutines take qmu
	// (onPeerDownLog) and its server loop answers ListPeer.
	eor := up && s.endOfRIBExpected(addr)
	s.qmu.Lock()
	defer s.qmu.Unlock()
	was := s.established[addr]
	switch {
	case up && !was:
		s.established[addr] = true
		s.log.Info("BGP session up", "neighbor", addr, "peer_asn", st.GetPeerAsn(), "end_of_rib_expected", eor)
		s.enqueueLocked(Event{Kind: PeerUp, Peer: ip, PeerASN: st.GetPeerAsn(), EndOfRIBExpected: eor})
	case !up && was:
		// The log hook did not report this loss (see onPeerDownLog).
		delete(s.established, addr)
		reason := s.glog.takeDownReason(addr)
		if reason == "" {
			reason = "session state " + st.GetSessionState().String()
		}
		s.log.Info("BGP session down", "neighbor", addr, "peer_asn", st.GetPeerAsn(), "reason", reason)
		s.enqueueLocked(Event{Kind: PeerDown, Peer: ip, PeerASN: st.GetPeerAsn(), Reason: reason})
	}
}

// endOfRIBExpected says whether the neighbor at addr negotiated graceful
// restart with this speaker (both advertise the capability), and so sends
// End-of-RIB after its initial update. It asks GoBGP's server loop, which never waits for
// the watcher goroutine this runs on.
func (s *Speaker) endOfRIBExpected(addr string) bool {
	if s.cfg.GracefulRestart == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	expected := false
	err := s.srv.ListPeer(ctx, &api.ListPeerRequest{Address: addr}, func(p *api.Peer) {
		// The capability itself, tuples or not: a helper-only speaker
		// lists no address family in it and still sends End-of-RIB.
		for _, c := range p.GetState().GetRemoteCap() {
			if c.MessageIs(&api.GracefulRestartCapability{}) {
				expected = true
			}
		}
	})
	if err != nil {
		s.log.Warn("graceful restart state of a neighbor", "neighbor", addr, "err", err)
		return false
	}
	return expected
}

// onPeerDownLog runs on GoBGP's session goroutine when it logs a session
// leaving Established, before GoBGP's server withdraws the neighbor's paths.
// Reporting PeerDown here puts it ahead of those withdrawals, so evpn/ can
// act on the whole neighbor at once. It reports only a session already
// reported up; otherwise the watch event reports it in order. It returns
// whether it reported.
func (s *Speaker) onPeerDownLog(neighbor, reason string) bool {
	ip, err := netip.ParseAddr(neighbor)
	if err != nil {
		return false
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if !s.established[neighbor] {
		return false
	}
	delete(s.established, neighbor)
	s.log.Info("BGP session down", "neighbor", neighbor, "reason", reason)
	s.enqueueLocked(Event{Kind: PeerDown, Peer: ip, PeerASN: s.peerASNs[ip], Reason: reason})
	return true
}

func (s *Speaker) onBestPath(ap *api.Path) {
	if ap.GetFamily().GetAfi() != api.Family_AFI_L2VPN || ap.GetFamily().GetSafi() != api.Family_SAFI_EVPN {
		return
	}
	if ap.GetNlri() == nil { // End-of-RIB marker
		ip, err := netip.ParseAddr(ap.GetNeighborIp())
		if err != nil {
			s.log.Warn("End-of-RIB without a valid neighbor address", "neighbor", ap.GetNeighborIp())
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.enqueue(Event{Kind: EndOfRIB, Peer: ip, PeerASN: ap.GetSourceAsn()})
		return
	}
	dp, err := decodePath(ap)
	if err != nil {
		s.mu.Lock()
		s.stats.DecodeErrors++
		s.mu.Unlock()
		s.log.Warn("cannot decode EVPN path from GoBGP; ignored", "neighbor", ap.GetNeighborIp(), "err", err)
		return
	}
	key := route.Key(dp.NLRI)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.UnknownExtCommunities += uint64(dp.unknownExt)
	prev, had := s.emitted[key]
	withdraw := func() {
		if had {
			delete(s.emitted, key)
			s.enqueue(Event{Kind: PathWithdraw, Path: route.Path{NLRI: dp.NLRI}, Peer: prev})
		}
	}
	if dp.withdraw {
		// No path left for the key at all.
		withdraw()
		if _, ours := s.announced[key]; !ours {
			delete(s.suspect, key)
		}
		return
	}
	if dp.local {
		// Our own path won: a remote path we reported is no longer best.
		withdraw()
		return
	}
	if !s.imports.match(dp.Path) {
		s.stats.Filtered++
		withdraw()
		return
	}
	_, ours := s.announced[key]
	_, sus := s.suspect[key]
	if ours || sus {
		stale, err := s.ownReflection(dp.neighbor, key)
		switch {
		case err != nil:
			s.log.Warn("cannot check neighbor's Adj-RIB-In for a reflection of our own route; reporting the path", "neighbor", dp.neighbor, "route", dp.NLRI, "err", err)
		case stale:
			s.stats.StaleReflections++
			s.log.Info("neighbor replaced this path with our own route (ORIGINATOR_ID is ours); treating it as withdrawn", "neighbor", dp.neighbor, "route", dp.NLRI)
			withdraw()
			return
		default:
			delete(s.suspect, key)
		}
	}
	s.emitted[key] = dp.neighbor
	s.enqueue(Event{Kind: PathAdd, Path: dp.Path, Peer: dp.neighbor, PeerASN: dp.peerASN})
}

// ownReflection reports whether the neighbor's latest path for key carries
// this speaker's router id as ORIGINATOR_ID.
//
// GoBGP ignores such an update (RFC 4456 §8) but also leaves the neighbor's
// previous path for the key in its RIB, so after this speaker withdraws its
// own route that stale path becomes best. FRR reflects routes back to their
// originator, so this happens whenever two PEs advertise the same key (same
// RD) and the MAC moves (FRR.md). The neighbor's Adj-RIB-In in GoBGP does hold
// the ignored update, so the check reads it. It costs a scan of that
// neighbor's routes of the key's type, and runs only for keys this speaker
// originates or withdrew.
func (s *Speaker) ownReflection(neighbor netip.Addr, key route.NLRI) (bool, error) {
	typeName := map[route.Type]string{
		route.TypeEthernetAD:         "a-d",
		route.TypeMACIP:              "macadv",
		route.TypeInclusiveMulticast: "multicast",
		route.TypeEthernetSegment:    "esi",
	}[key.RouteType()]
	var stale, found bool
	var decodeErr error
	err := s.srv.ListPath(context.Background(), &api.ListPathRequest{
		TableType: api.TableType_ADJ_IN,
		Name:      neighbor.String(),
		Family:    evpnFamily,
		Prefixes:  []*api.TableLookupPrefix{{Prefix: typeName}},
	}, func(d *api.Destination) {
		for _, ap := range d.GetPaths() {
			if found {
				return
			}
			n, err := decodeNLRI(ap.GetNlri())
			if err != nil {
				decodeErr = err
				continue
			}
			if route.Key(n) != key {
				continue
			}
			found = true
			attrs, _, err := decodeAttributes(ap.GetPattrs())
			if err != nil {
				decodeErr = err
				return
			}
			stale = attrs.OriginatorID.IsValid() && attrs.OriginatorID.String() == s.routerID
		}
	})
	if err != nil {
		return false, err
	}
	if !found && decodeErr != nil {
		return false, decodeErr
	}
	return stale, nil
}

// Stats returns counters of the event layer.
func (s *Speaker) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// SessionState is a BGP FSM state (RFC 4271 §8.2.2).
type SessionState string

// Session states.
const (
	StateIdle        SessionState = "idle"
	StateConnect     SessionState = "connect"
	StateActive      SessionState = "active"
	StateOpenSent    SessionState = "opensent"
	StateOpenConfirm SessionState = "openconfirm"
	StateEstablished SessionState = "established"
)

// NeighborState is a session's state for telemetry.
type NeighborState struct {
	Address  netip.Addr
	ASN      uint32
	RouterID netip.Addr
	State    SessionState
	// AdminDown is set when the session is administratively shut down.
	AdminDown bool
	// EstablishedAt is when the session last reached Established (zero if
	// never); Uptime is the time since then while established.
	EstablishedAt time.Time
	Uptime        time.Duration
	// Flaps counts transitions out of Established.
	Flaps uint32
	// Received, Accepted and Advertised count l2vpn-evpn paths: in the
	// Adj-RIB-In, accepted by policy (and not ORIGINATOR_ID loops), and
	// sent to the neighbor.
	Received, Accepted, Advertised uint64
	// UpdatesReceived, UpdatesSent and NotificationsReceived count messages.
	UpdatesReceived, UpdatesSent, NotificationsReceived uint64
}

// Neighbors returns the state of every configured session. The table can
// lag a PeerDown event briefly: PeerDown is reported from GoBGP's session
// goroutine, before GoBGP's server loop records the new state.
func (s *Speaker) Neighbors(ctx context.Context) ([]NeighborState, error) {
	var out []NeighborState
	var bad error
	err := s.srv.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		st := p.GetState()
		addr, err := netip.ParseAddr(st.GetNeighborAddress())
		if err != nil {
			bad = fmt.Errorf("neighbor address %q: %w", st.GetNeighborAddress(), err)
			return
		}
		n := NeighborState{
			Address:               addr,
			ASN:                   st.GetPeerAsn(),
			State:                 sessionState(st.GetSessionState()),
			AdminDown:             st.GetAdminState() != api.PeerState_UP,
			Flaps:                 st.GetFlops(),
			UpdatesReceived:       st.GetMessages().GetReceived().GetUpdate(),
			UpdatesSent:           st.GetMessages().GetSent().GetUpdate(),
			NotificationsReceived: st.GetMessages().GetReceived().GetNotification(),
		}
		if id, err := netip.ParseAddr(st.GetRouterId()); err == nil && !id.IsUnspecified() {
			n.RouterID = id
		}
		if up := p.GetTimers().GetState().GetUptime(); up != nil && up.GetSeconds() > 0 {
			n.EstablishedAt = up.AsTime()
			if n.State == StateEstablished {
				n.Uptime = time.Since(n.EstablishedAt)
			}
		}
		for _, af := range p.GetAfiSafis() {
			if af.GetState().GetFamily().GetAfi() == api.Family_AFI_L2VPN && af.GetState().GetFamily().GetSafi() == api.Family_SAFI_EVPN {
				n.Received = af.GetState().GetReceived()
				n.Accepted = af.GetState().GetAccepted()
				n.Advertised = af.GetState().GetAdvertised()
			}
		}
		out = append(out, n)
	})
	if err != nil {
		return nil, fmt.Errorf("list neighbors: %w", err)
	}
	return out, bad
}

func sessionState(s api.PeerState_SessionState) SessionState {
	switch s {
	case api.PeerState_IDLE:
		return StateIdle
	case api.PeerState_CONNECT:
		return StateConnect
	case api.PeerState_ACTIVE:
		return StateActive
	case api.PeerState_OPENSENT:
		return StateOpenSent
	case api.PeerState_OPENCONFIRM:
		return StateOpenConfirm
	case api.PeerState_ESTABLISHED:
		return StateEstablished
	}
	return SessionState(s.String())
}

// RIBState summarizes the l2vpn-evpn Loc-RIB for telemetry.
type RIBState struct {
	// Destinations and Paths count route keys and paths in GoBGP's RIB,
	// local and received.
	Destinations, Paths uint64
	// Reported counts route keys with a best path reported as PathAdd.
	Reported int
	Stats    Stats
}

// RIB returns the RIB summary.
func (s *Speaker) RIB(ctx context.Context) (RIBState, error) {
	t, err := s.srv.GetTable(ctx, &api.GetTableRequest{TableType: api.TableType_GLOBAL, Family: evpnFamily})
	if err != nil {
		return RIBState{}, fmt.Errorf("RIB summary: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return RIBState{Destinations: t.GetNumDestination(), Paths: t.GetNumPath(), Reported: len(s.emitted), Stats: s.stats}, nil
}

// errClosed is returned by calls after Close.
var errClosed = errors.New("bgp speaker closed")
