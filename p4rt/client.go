package p4rt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// ErrNotPrimary reports an operation that only the primary controller may
// do (Write, SetForwardingPipelineConfig, packet-out) attempted while this
// client is a backup or disconnected. The client refuses it before sending
// anything; errors wrapping it carry codes.PermissionDenied.
var ErrNotPrimary = errors.New("not the primary controller")

// errNotConnected reports a stream operation while the stream is down.
var errNotConnected = status.Error(codes.Unavailable, "p4rt: stream channel is not connected")

// Arbitration is the client's standing with the target for its (device,
// role), as the last MasterArbitrationUpdate reported it.
type Arbitration struct {
	// Connected is true while the stream channel is up.
	Connected bool
	// Primary is true when this client is the primary and may write. After
	// a reconnect it turns true only once the client has restored what it
	// had configured (pipeline, digests).
	Primary bool
	// ElectionID is this client's id; PrimaryElectionID the highest id the
	// target has seen (zero and HasPrimary false when it has seen none).
	ElectionID        ElectionID
	PrimaryElectionID ElectionID
	HasPrimary        bool
	// Status is the target's status for this client: OK for the primary,
	// AlreadyExists for a backup when there is a primary, NotFound when
	// there is none; Unavailable while disconnected.
	Status  codes.Code
	Message string
	// Epoch counts stream channels: it grows on every reconnect. A change
	// with Primary true means the target may have lost or kept state
	// while the client was away: the time to read back and reconcile.
	Epoch uint64
}

// Stats counts stream events since Connect.
type Stats struct {
	Reconnects          uint64
	PacketIns           uint64
	PacketInsDropped    uint64
	DigestLists         uint64
	DigestListsDropped  uint64
	DigestAcks          uint64
	IdleTimeouts        uint64
	IdleTimeoutsDropped uint64
	StreamErrors        uint64
}

// IdleTimeout is an idle timeout notification: entries not hit for their
// TTL.
type IdleTimeout struct {
	Entries   []*p4v1.TableEntry
	Timestamp time.Time
}

// Client is a P4Runtime client for one (device, role) on one target. It
// keeps the stream channel open, reconnecting with backoff, and tracks its
// arbitration. All methods are safe for concurrent use. Close releases
// everything, including the goroutines it started.
type Client struct {
	cfg  config
	conn *grpc.ClientConn
	rpc  p4v1.P4RuntimeClient
	log  *slog.Logger

	index atomic.Pointer[Index]
	// electionID is nil for a client that never wants to be primary; it
	// changes with SetElectionID.
	electionID atomic.Pointer[ElectionID]

	// ctx lives until Close; every stream is a child of it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// sendMu serializes Send on the stream, which gRPC does not allow
	// concurrently.
	sendMu sync.Mutex

	// mu guards stream, arb, arbSeq, pipeline and digestConfigs.
	mu     sync.Mutex
	stream p4v1.P4Runtime_StreamChannelClient
	arb    Arbitration
	// arbSeq counts arbitration changes, so that a restore that finishes
	// after a newer update does not overwrite it.
	arbSeq uint64
	// pipeline is the last pipeline SetPipeline installed, restored after
	// a reconnect if the target lost it.
	pipeline *Pipeline
	// digestConfigs are the digests enabled through Write, by digest id,
	// re-enabled after a reconnect.
	digestConfigs map[uint32]*p4v1.DigestEntry

	// pubMu serializes publishers of arbCh, which holds only the latest
	// state.
	pubMu     sync.Mutex
	arbCh     chan Arbitration
	packetIns chan *PacketIn
	digests   chan *DigestList
	idle      chan *IdleTimeout

	stats struct {
		reconnects, packetIns, packetInsDropped, digestLists, digestListsDropped, digestAcks,
		idleTimeouts, idleTimeoutsDropped, streamErrors atomic.Uint64
	}
	closeOnce sync.Once
}

// Connect dials the target at addr, opens the stream channel and arbitrates
// for (device, role) with the configured election id. It returns once the
// target has answered the arbitration, as primary or as backup; it retries
// while the target is unavailable, until ctx ends. Without WithElectionID
// the client never becomes primary: it can read and receive, not write.
func Connect(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	creds := insecure.NewCredentials()
	if cfg.tlsFiles != nil || cfg.tlsConfig != nil {
		tc, err := cfg.buildTLS()
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(tc)
	}
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		// gRPC's own reconnection backoff starts at 1s; align it with ours
		// so that a restarted target is found as soon as the stream retries.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: cfg.reconnect.Initial, Multiplier: 2, Jitter: 0.2, MaxDelay: cfg.reconnect.Max},
			MinConnectTimeout: 20 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cfg.maxMsgSize), grpc.MaxCallSendMsgSize(cfg.maxMsgSize)),
	}, cfg.dialOptions...)
	conn, err := grpc.NewClient(addr, dial...)
	if err != nil {
		return nil, fmt.Errorf("p4rt: dial %s: %w", addr, err)
	}
	c := &Client{
		cfg:  cfg,
		conn: conn,
		rpc:  p4v1.NewP4RuntimeClient(conn),
		log: cfg.logger.With("target", addr, "device_id", cfg.deviceID, "role", cfg.role,
			"election_id", cfg.electionIDString()),
		digestConfigs: map[uint32]*p4v1.DigestEntry{},
		arbCh:         make(chan Arbitration, 1),
		packetIns:     make(chan *PacketIn, cfg.streamBuffer),
		digests:       make(chan *DigestList, cfg.streamBuffer),
		idle:          make(chan *IdleTimeout, cfg.streamBuffer),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.electionID.Store(cfg.electionID)

	var stream p4v1.P4Runtime_StreamChannelClient
	var cancelStream context.CancelFunc
	var first *p4v1.MasterArbitrationUpdate
	delay := cfg.reconnect.Initial
	var lastErr error // the last failure that was not ctx's end
	for {
		stream, cancelStream, first, err = c.openStream(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			c.Close()
			if lastErr != nil {
				return nil, fmt.Errorf("p4rt: connect %s: %w (last error: %w)", addr, ctx.Err(), lastErr)
			}
			return nil, fmt.Errorf("p4rt: connect %s: %w", addr, ctx.Err())
		}
		if status.Code(err) != codes.Unavailable {
			c.Close()
			return nil, fmt.Errorf("p4rt: connect %s: %w", addr, err)
		}
		lastErr = err
		c.log.Debug("target unavailable, retrying", "err", err, "delay", delay)
		if !sleepCtx(ctx, delay) {
			c.Close()
			return nil, fmt.Errorf("p4rt: connect %s: %w (last error: %w)", addr, ctx.Err(), err)
		}
		delay = cfg.reconnect.next(delay)
	}
	c.mu.Lock()
	c.stream = stream
	c.arb.Epoch = 1
	c.mu.Unlock()
	c.handleArbitration(first)
	c.wg.Add(1)
	go c.run(stream, cancelStream)
	return c, nil
}

// openStream opens a stream channel, sends the arbitration request and
// waits for the target's first arbitration answer. Other messages that
// arrive first are dispatched as usual. ctx bounds the wait; the stream
// itself lives until its cancel function is called, Close, or a failure.
func (c *Client) openStream(ctx context.Context) (p4v1.P4Runtime_StreamChannelClient, context.CancelFunc, *p4v1.MasterArbitrationUpdate, error) {
	sctx, cancel := context.WithCancel(c.ctx)
	stop := context.AfterFunc(ctx, cancel)
	fail := func(err error) (p4v1.P4Runtime_StreamChannelClient, context.CancelFunc, *p4v1.MasterArbitrationUpdate, error) {
		stop()
		cancel()
		if ctx.Err() != nil {
			return nil, nil, nil, ctx.Err()
		}
		return nil, nil, nil, err
	}
	stream, err := c.rpc.StreamChannel(sctx)
	if err != nil {
		return fail(err)
	}
	if err := stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{
		Arbitration: c.arbitrationRequest(),
	}}); err != nil {
		if errors.Is(err, io.EOF) {
			_, err = stream.Recv() // the real error
		}
		return fail(fmt.Errorf("send arbitration: %w", err))
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return fail(err)
		}
		if arb := msg.GetArbitration(); arb != nil {
			// From here on the stream outlives ctx.
			if !stop() {
				return fail(ctx.Err())
			}
			return stream, cancel, arb, nil
		}
		c.dispatch(msg)
	}
}

func (c *Client) arbitrationRequest() *p4v1.MasterArbitrationUpdate {
	req := &p4v1.MasterArbitrationUpdate{DeviceId: c.cfg.deviceID}
	if c.cfg.role != "" {
		req.Role = &p4v1.Role{Name: c.cfg.role}
	}
	req.ElectionId = c.electionIDProto()
	return req
}

// electionIDProto returns the election id to put in requests, nil when
// unset.
func (c *Client) electionIDProto() *p4v1.Uint128 {
	if id := c.electionID.Load(); id != nil {
		return id.proto()
	}
	return nil
}

// run receives from the stream until it fails, then reconnects with backoff
// until Close.
func (c *Client) run(stream p4v1.P4Runtime_StreamChannelClient, cancelStream context.CancelFunc) {
	defer c.wg.Done()
	for {
		var err error
		for {
			var msg *p4v1.StreamMessageResponse
			if msg, err = stream.Recv(); err != nil {
				break
			}
			c.dispatch(msg)
		}
		cancelStream()
		if c.ctx.Err() != nil {
			return
		}
		c.log.Warn("stream channel lost, reconnecting", "err", err)
		c.stats.reconnects.Add(1)
		c.mu.Lock()
		c.stream = nil
		c.arbSeq++
		c.arb.Connected, c.arb.Primary = false, false
		c.arb.Status, c.arb.Message = codes.Unavailable, err.Error()
		arb := c.arb
		c.mu.Unlock()
		c.publish(arb)

		delay := c.cfg.reconnect.Initial
		var first *p4v1.MasterArbitrationUpdate
		for {
			if !sleepCtx(c.ctx, delay) {
				return
			}
			if stream, cancelStream, first, err = c.openStream(c.ctx); err == nil {
				break
			}
			if c.ctx.Err() != nil {
				return
			}
			level := slog.LevelDebug
			if status.Code(err) != codes.Unavailable {
				level = slog.LevelWarn // refused, not absent: worth an operator's eye
			}
			c.log.Log(c.ctx, level, "reconnect failed", "err", err, "delay", delay)
			delay = c.cfg.reconnect.next(delay)
		}
		c.log.Info("stream channel re-established")
		c.mu.Lock()
		c.stream = stream
		c.arb.Epoch++
		c.mu.Unlock()
		c.handleArbitration(first)
	}
}

// dispatch handles one message from the target.
func (c *Client) dispatch(msg *p4v1.StreamMessageResponse) {
	switch u := msg.GetUpdate().(type) {
	case *p4v1.StreamMessageResponse_Arbitration:
		c.handleArbitration(u.Arbitration)
	case *p4v1.StreamMessageResponse_Packet:
		c.stats.packetIns.Add(1)
		pin, err := c.decodePacketIn(u.Packet)
		if err != nil {
			c.log.Warn("dropping undecodable packet-in", "err", err)
			c.stats.packetInsDropped.Add(1)
			return
		}
		select {
		case c.packetIns <- pin:
		default:
			c.stats.packetInsDropped.Add(1)
		}
	case *p4v1.StreamMessageResponse_Digest:
		c.stats.digestLists.Add(1)
		c.handleDigest(u.Digest)
	case *p4v1.StreamMessageResponse_IdleTimeoutNotification:
		c.stats.idleTimeouts.Add(1)
		n := &IdleTimeout{Entries: u.IdleTimeoutNotification.GetTableEntry(), Timestamp: time.Unix(0, u.IdleTimeoutNotification.GetTimestamp())}
		select {
		case c.idle <- n:
		default:
			c.stats.idleTimeoutsDropped.Add(1)
		}
	case *p4v1.StreamMessageResponse_Error:
		c.stats.streamErrors.Add(1)
		e := u.Error
		c.log.Warn("stream error from target", "code", codes.Code(e.GetCanonicalCode()), "message", e.GetMessage(),
			"space", e.GetSpace(), "target_code", e.GetCode(), "details", fmt.Sprintf("%T", e.GetDetails()))
	default:
		c.log.Debug("ignoring stream message", "type", fmt.Sprintf("%T", u))
	}
}

func (c *Client) decodePacketIn(p *p4v1.PacketIn) (*PacketIn, error) {
	if ix := c.Index(); ix != nil {
		return ix.DecodePacketIn(p)
	}
	// Without a pipeline there are no names: keep ids as names.
	out := &PacketIn{Payload: p.GetPayload()}
	for _, m := range p.GetMetadata() {
		out.Metadata = append(out.Metadata, NamedValue{Name: fmt.Sprint(m.GetMetadataId()), Value: m.GetValue()})
	}
	return out, nil
}

// handleDigest delivers a digest list and acknowledges it. A list the
// caller has no room for is dropped unacknowledged: the target then
// regenerates those digests after their ack timeout instead of suppressing
// them, so nothing is lost for good.
func (c *Client) handleDigest(l *p4v1.DigestList) {
	ix := c.Index()
	if ix == nil {
		c.log.Warn("dropping digest list: no pipeline", "digest_id", l.GetDigestId(), "list_id", l.GetListId())
		c.stats.digestListsDropped.Add(1)
		return
	}
	dl, err := ix.DecodeDigestList(l)
	if err != nil {
		c.log.Warn("dropping undecodable digest list", "err", err)
		c.stats.digestListsDropped.Add(1)
		return
	}
	select {
	case c.digests <- dl:
	default:
		c.stats.digestListsDropped.Add(1)
		return
	}
	err = c.send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_DigestAck{
		DigestAck: &p4v1.DigestListAck{DigestId: l.GetDigestId(), ListId: l.GetListId()},
	}})
	if err != nil {
		c.log.Warn("digest ack not sent", "digest", dl.Digest, "list_id", dl.ListID, "err", err)
		return
	}
	c.stats.digestAcks.Add(1)
}

func (c *Client) handleArbitration(u *p4v1.MasterArbitrationUpdate) {
	code := codes.Code(u.GetStatus().GetCode())
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return // closed: the state stays "client closed"
	}
	wasPrimary := c.arb.Primary
	c.arbSeq++
	seq := c.arbSeq
	c.arb.Connected = true
	id := c.electionID.Load()
	c.arb.ElectionID = ElectionID{}
	if id != nil {
		c.arb.ElectionID = *id
	}
	c.arb.HasPrimary = u.GetElectionId() != nil
	c.arb.PrimaryElectionID = electionIDOf(u.GetElectionId())
	c.arb.Status, c.arb.Message = code, u.GetStatus().GetMessage()
	primary := code == codes.OK && id != nil
	restore := primary && !wasPrimary && (c.pipeline != nil || len(c.digestConfigs) > 0) && c.arb.Epoch > 1
	c.arb.Primary = primary && !restore
	arb := c.arb
	c.mu.Unlock()
	c.log.Info("arbitration", "primary", primary, "status", code, "primary_election_id", arb.PrimaryElectionID, "epoch", arb.Epoch)
	if !restore {
		c.publish(arb)
		return
	}
	// Restoring writes to the target: leave the receive loop free for the
	// answers and for newer arbitration updates.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.restore(seq)
	}()
}

// restore re-applies the pipeline and digest configuration after a
// reconnect, then declares the client primary unless a newer arbitration
// update arrived meanwhile.
func (c *Client) restore(seq uint64) {
	c.mu.Lock()
	p := c.pipeline
	digests := make([]*p4v1.DigestEntry, 0, len(c.digestConfigs))
	for _, d := range c.digestConfigs {
		digests = append(digests, d)
	}
	c.mu.Unlock()
	ctx := c.ctx
	if p != nil {
		pushed, err := c.setPipeline(ctx, p, true)
		if err != nil {
			c.log.Error("restoring pipeline after reconnect", "err", err)
		} else if pushed {
			c.log.Info("target had lost the pipeline: pushed it again", "cookie", p.Cookie)
		}
	}
	for _, d := range digests {
		err := c.writeUnchecked(ctx, []*p4v1.Update{Insert(d)})
		if status.Code(err) == codes.AlreadyExists {
			err = c.writeUnchecked(ctx, []*p4v1.Update{Modify(d)})
		}
		if err != nil {
			c.log.Error("restoring digest configuration after reconnect", "digest_id", d.GetDigestId(), "err", err)
		}
	}
	c.mu.Lock()
	if c.arbSeq != seq {
		c.mu.Unlock()
		return // a newer update has been handled and published
	}
	c.arb.Primary = true
	arb := c.arb
	c.mu.Unlock()
	c.publish(arb)
}

// publish makes a the state that Arbitrations delivers next, replacing an
// undelivered older one.
func (c *Client) publish(a Arbitration) {
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	select {
	case <-c.arbCh:
	default:
	}
	c.arbCh <- a
}

// send sends one message on the current stream.
func (c *Client) send(msg *p4v1.StreamMessageRequest) error {
	c.mu.Lock()
	s := c.stream
	c.mu.Unlock()
	if s == nil {
		return errNotConnected
	}
	c.sendMu.Lock()
	err := s.Send(msg)
	c.sendMu.Unlock()
	if errors.Is(err, io.EOF) {
		return errNotConnected // the receive loop sees the cause and reconnects
	}
	return err
}

// SetElectionID changes the client's election id and re-arbitrates on the
// open stream: how a backup takes over (with an id above the primary's) or
// a primary steps down (below another controller's). The outcome arrives on
// Arbitrations. While the stream is down the new id is kept for the next
// reconnection, and the error says the stream was not reachable.
func (c *Client) SetElectionID(ctx context.Context, id ElectionID) error {
	c.electionID.Store(&id)
	if err := ctx.Err(); err != nil {
		return err
	}
	err := c.send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{Arbitration: c.arbitrationRequest()}})
	if err != nil {
		return fmt.Errorf("p4rt: re-arbitrate with election id %v: %w", id, err)
	}
	return nil
}

// Arbitration returns the client's current standing.
func (c *Client) Arbitration() Arbitration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.arb
}

// IsPrimary reports whether the client may write.
func (c *Client) IsPrimary() bool { return c.Arbitration().Primary }

// Arbitrations delivers the client's standing each time it changes. It
// holds only the latest state: a slow reader sees the newest, not every
// intermediate one. It is closed by Close.
func (c *Client) Arbitrations() <-chan Arbitration { return c.arbCh }

// WaitPrimary blocks until the client is primary or ctx ends.
func (c *Client) WaitPrimary(ctx context.Context) error {
	for {
		if c.IsPrimary() {
			return nil
		}
		select {
		case <-ctx.Done():
			a := c.Arbitration()
			return fmt.Errorf("p4rt: waiting to become primary (status %v, primary election id %v): %w", a.Status, a.PrimaryElectionID, ctx.Err())
		case <-c.ctx.Done():
			return errors.New("p4rt: client closed")
		case <-time.After(10 * time.Millisecond):
			// Arbitrations may be consumed by someone else: poll the state.
		}
	}
}

// PacketIns delivers packets the target sends to the controller. When the
// reader falls behind by more than the stream buffer, packets are dropped
// and counted in Stats. It is closed by Close.
func (c *Client) PacketIns() <-chan *PacketIn { return c.packetIns }

// Digests delivers digest lists; each is acknowledged once it is queued
// here. It is closed by Close.
func (c *Client) Digests() <-chan *DigestList { return c.digests }

// IdleTimeouts delivers idle timeout notifications. It is closed by Close.
func (c *Client) IdleTimeouts() <-chan *IdleTimeout { return c.idle }

// SendPacketOut sends payload to the target's CPU port handling with the
// packet_out controller header fields given by name. Only the primary may
// send. ctx is checked before sending; gRPC's stream Send itself cannot be
// cancelled without tearing the stream down.
func (c *Client) SendPacketOut(ctx context.Context, payload []byte, metadata ...NamedValue) error {
	ix := c.Index()
	if ix == nil {
		return errors.New("p4rt: packet-out: no pipeline: call SetPipeline or UsePipeline first")
	}
	po, err := ix.BuildPacketOut(payload, metadata...)
	if err != nil {
		return fmt.Errorf("p4rt: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !c.IsPrimary() {
		return notPrimaryError("packet-out", c.Arbitration())
	}
	if err := c.send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Packet{Packet: po}}); err != nil {
		return fmt.Errorf("p4rt: packet-out: %w", err)
	}
	return nil
}

// Stats returns the stream counters.
func (c *Client) Stats() Stats {
	return Stats{
		Reconnects:          c.stats.reconnects.Load(),
		PacketIns:           c.stats.packetIns.Load(),
		PacketInsDropped:    c.stats.packetInsDropped.Load(),
		DigestLists:         c.stats.digestLists.Load(),
		DigestListsDropped:  c.stats.digestListsDropped.Load(),
		DigestAcks:          c.stats.digestAcks.Load(),
		IdleTimeouts:        c.stats.idleTimeouts.Load(),
		IdleTimeoutsDropped: c.stats.idleTimeoutsDropped.Load(),
		StreamErrors:        c.stats.streamErrors.Load(),
	}
}

// Index returns the index of the pipeline in use, nil before SetPipeline,
// UsePipeline or FetchPipeline.
func (c *Client) Index() *Index { return c.index.Load() }

// Capabilities returns the P4Runtime API version the target implements.
func (c *Client) Capabilities(ctx context.Context) (string, error) {
	resp, err := c.rpc.Capabilities(ctx, &p4v1.CapabilitiesRequest{DeviceId: c.cfg.deviceID})
	if err != nil {
		return "", fmt.Errorf("p4rt: capabilities: %w", err)
	}
	return resp.GetP4RuntimeApiVersion(), nil
}

// Close closes the stream channel (the target then elects another primary)
// and the connection, waits for the client's goroutines, and closes the
// delivery channels.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.arbSeq++ // a restore in flight must not declare the client primary
		c.arb.Connected, c.arb.Primary = false, false
		c.arb.Status, c.arb.Message = codes.Unavailable, "client closed"
		c.mu.Unlock()
		c.cancel()
		c.wg.Wait()
		err = c.conn.Close()
		close(c.arbCh)
		close(c.packetIns)
		close(c.digests)
		close(c.idle)
	})
	return err
}

// notPrimaryError returns an error wrapping ErrNotPrimary with code
// PermissionDenied, naming the operation and the client's standing.
func notPrimaryError(op string, a Arbitration) error {
	return &codedError{
		code: codes.PermissionDenied,
		err: fmt.Errorf("p4rt: %s: %w (connected %t, arbitration status %v, primary election id %v)",
			op, ErrNotPrimary, a.Connected, a.Status, a.PrimaryElectionID),
	}
}

// codedError is an error that also reports a gRPC code to status.Code.
type codedError struct {
	code codes.Code
	err  error
}

func (e *codedError) Error() string              { return e.err.Error() }
func (e *codedError) Unwrap() error              { return e.err }
func (e *codedError) GRPCStatus() *status.Status { return status.New(e.code, e.err.Error()) }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// TLSFiles names PEM files for a TLS connection.
type TLSFiles struct {
	// CAFile verifies the target's certificate; empty uses the system
	// roots.
	CAFile string
	// CertFile and KeyFile, when set, authenticate the client (mutual
	// TLS).
	CertFile, KeyFile string
	// ServerName overrides the name checked in the target's certificate.
	ServerName string
}

func (cfg *config) buildTLS() (*tls.Config, error) {
	if cfg.tlsConfig != nil {
		return cfg.tlsConfig.Clone(), nil
	}
	f := cfg.tlsFiles
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("p4rt: TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("p4rt: TLS CA %s: no PEM certificate found", f.CAFile)
		}
		tc.RootCAs = pool
	}
	if f.CertFile != "" || f.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("p4rt: TLS client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
