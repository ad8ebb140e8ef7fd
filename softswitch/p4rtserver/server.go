package p4rtserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// APIVersion is the P4Runtime version this server implements.
const APIVersion = "1.5.0"

// Server is a P4Runtime server for one device.
//
// Concurrency model. mu is a readers-writer lock over the P4Runtime view of
// the device (the pipeline and every entity written through P4Runtime):
// Write and SetForwardingPipelineConfig hold it exclusively, Read and
// GetForwardingPipelineConfig hold it shared, so Writes are strictly
// serializable and a Read sees a Write either wholly or not at all (spec
// §12.1, §13.4). The packet path never takes mu: the device publishes each
// change atomically (see Device), and the packet-in/packet-out path reads the
// controller header layout through an atomic pointer. Stream messages are
// queued per controller and sent by one goroutine per stream.
type Server struct {
	p4v1.UnimplementedP4RuntimeServer

	dev      Device
	log      *slog.Logger
	deviceID uint64
	queue    int
	idleScan time.Duration
	grpcOpts []grpc.ServerOption

	arb     *arbiter
	digests *digester

	mu      sync.RWMutex // mu guards running and pending
	running *pipeline    // the committed pipeline, nil before the first commit
	pending *pipeline    // saved by VERIFY_AND_SAVE and not yet committed

	// headers is the controller header layout of the running pipeline, for
	// the packet path.
	headers atomic.Pointer[schema]

	streamDropped  atomic.Uint64 // data messages dropped for slow controllers
	nextController atomic.Uint64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the event loop, the digest loop, Serve's gRPC servers

	gmu    sync.Mutex // gmu guards grpcs and closed
	grpcs  []*grpc.Server
	closed bool
}

// Option configures a Server.
type Option func(*Server)

// WithDeviceID sets the P4Runtime device id (default 1).
func WithDeviceID(id uint64) Option { return func(s *Server) { s.deviceID = id } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithStreamQueue sets how many packet-ins, digest lists and idle
// notifications may wait for one slow controller before new ones are dropped
// (default 1024).
func WithStreamQueue(n int) Option { return func(s *Server) { s.queue = n } }

// WithIdleScan sets how often entries are checked for idle timeouts
// (default 100ms); it bounds how late an IdleTimeoutNotification can be.
func WithIdleScan(d time.Duration) Option { return func(s *Server) { s.idleScan = d } }

// WithGRPCOptions adds options to the gRPC servers Serve creates.
func WithGRPCOptions(o ...grpc.ServerOption) Option {
	return func(s *Server) { s.grpcOpts = append(s.grpcOpts, o...) }
}

// New returns a server for dev. It starts delivering dev's events at once;
// Close stops it.
func New(dev Device, opts ...Option) *Server {
	s := &Server{dev: dev, log: slog.Default(), deviceID: 1, queue: 1024, idleScan: 100 * time.Millisecond}
	for _, o := range opts {
		o(s)
	}
	s.log = s.log.With("device_id", s.deviceID)
	s.arb = newArbiter(s.deviceID)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.digests = newDigester(s.log, s.arb.primaries)
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		s.digests.run(s.ctx)
	}()
	go func() {
		defer s.wg.Done()
		s.runIdle(s.ctx, s.idleScan)
	}()
	go func() {
		defer s.wg.Done()
		if err := dev.Serve(s.ctx, (*eventSink)(s)); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("p4rtserver: device event loop ended", "err", err)
		}
	}()
	return s
}

// Serve answers P4Runtime on lis until ctx is done or Close is called. It
// may be called for several listeners.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	opts := append([]grpc.ServerOption{grpc.MaxRecvMsgSize(256 << 20)}, s.grpcOpts...)
	g := grpc.NewServer(opts...)
	p4v1.RegisterP4RuntimeServer(g, s)
	s.gmu.Lock()
	if s.closed {
		s.gmu.Unlock()
		return errors.New("p4rtserver: server is closed")
	}
	s.grpcs = append(s.grpcs, g)
	s.wg.Add(1)
	s.gmu.Unlock()
	defer s.wg.Done()
	stop := context.AfterFunc(ctx, g.Stop)
	defer stop()
	s.log.Info("p4rtserver: serving P4Runtime", "addr", lis.Addr().String())
	if err := g.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("p4rtserver: serving on %s: %w", lis.Addr(), err)
	}
	return nil
}

// Close stops every gRPC server (ending open streams), stops event delivery
// and waits for the server's goroutines.
func (s *Server) Close() error {
	s.gmu.Lock()
	s.closed = true
	gs := s.grpcs
	s.grpcs = nil
	s.gmu.Unlock()
	for _, g := range gs {
		g.Stop()
	}
	s.cancel()
	s.wg.Wait()
	return nil
}

// Capabilities reports the API version (spec §17).
func (s *Server) Capabilities(_ context.Context, req *p4v1.CapabilitiesRequest) (*p4v1.CapabilitiesResponse, error) {
	if req.GetDeviceId() != 0 && req.GetDeviceId() != s.deviceID {
		return nil, rpcError(s.unknownDevice(req.GetDeviceId()))
	}
	return &p4v1.CapabilitiesResponse{P4RuntimeApiVersion: APIVersion}, nil
}

func (s *Server) unknownDevice(id uint64) error {
	return errorf(codes.NotFound, "unknown device id %d (this server is device %d)", id, s.deviceID)
}

// Stats are counters of the server's queues.
type Stats struct {
	// StreamDropped counts packet-ins, digest lists and idle notifications
	// dropped because a controller did not read its stream fast enough.
	StreamDropped uint64
	// DigestsDropped counts data plane digest messages dropped before
	// batching because the digest queue was full.
	DigestsDropped uint64
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{StreamDropped: s.streamDropped.Load(), DigestsDropped: s.digests.dropped.Load()}
}

// active is the pipeline Reads and Writes refer to: the saved one after
// VERIFY_AND_SAVE, else the running one. Callers hold mu.
func (s *Server) active() *pipeline {
	if s.pending != nil {
		return s.pending
	}
	return s.running
}
