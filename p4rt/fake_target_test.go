package p4rt

import (
	"context"
	"net"
	"sync"
	"testing"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// fakeTarget is a FAKE P4Runtime server, for the client's stream,
// arbitration and error-path tests only: it implements arbitration (highest
// election id ever seen is primary), a key-value store of entities with
// spec error codes, the pipeline cookie, and lets tests inject Write
// failures and stream messages. It executes no pipeline. The tests that
// prove the client against a real target are in target_test.go.
type fakeTarget struct {
	p4v1.UnimplementedP4RuntimeServer
	t    testing.TB
	srv  *grpc.Server
	addr string
	done chan struct{} // closed when Serve has returned

	// mu guards every field below.
	mu      sync.Mutex
	highest *p4v1.Uint128
	streams map[*fakeStream]bool
	config  *p4v1.ForwardingPipelineConfig
	store   map[string]*p4v1.Entity
	// writeHook, when set, answers Write instead of the store.
	writeHook func(*p4v1.WriteRequest) error
	// writeGate, when set, runs at the start of every Write without the
	// lock, so that a test can hold concurrent Writes at a barrier.
	writeGate     func()
	writeRequests []*p4v1.WriteRequest
	setPipelines  int
	packetOuts    []*p4v1.PacketOut
	digestAcks    []*p4v1.DigestListAck
	streamsOpened int
}

type fakeStream struct {
	stream     p4v1.P4Runtime_StreamChannelServer
	sendMu     sync.Mutex
	election   *p4v1.Uint128 // nil until arbitration; unset id stays nil
	arbitrated bool
}

// startFakeTarget serves a fake on 127.0.0.1:0, or on addr when it is not
// empty (to restart a target at the same address).
func startFakeTarget(t testing.TB, addr string, opts ...grpc.ServerOption) *fakeTarget {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ft := &fakeTarget{
		t: t, srv: grpc.NewServer(opts...), addr: lis.Addr().String(),
		streams: map[*fakeStream]bool{}, store: map[string]*p4v1.Entity{},
	}
	p4v1.RegisterP4RuntimeServer(ft.srv, ft)
	ft.done = make(chan struct{})
	go func() {
		defer close(ft.done)
		ft.srv.Serve(lis) //nolint:errcheck // Serve returns when stopped
	}()
	t.Cleanup(ft.stop)
	return ft
}

// stop kills the server and every stream at once, like a target crash, and
// returns once the address is free again.
func (ft *fakeTarget) stop() {
	ft.srv.Stop()
	<-ft.done
}

func greater(a, b *p4v1.Uint128) bool {
	return a.GetHigh() > b.GetHigh() || (a.GetHigh() == b.GetHigh() && a.GetLow() > b.GetLow())
}

func (ft *fakeTarget) StreamChannel(stream p4v1.P4Runtime_StreamChannelServer) error {
	fs := &fakeStream{stream: stream}
	ft.mu.Lock()
	ft.streams[fs] = true
	ft.streamsOpened++
	ft.mu.Unlock()
	defer func() {
		ft.mu.Lock()
		wasPrimary := ft.isPrimaryLocked(fs)
		delete(ft.streams, fs)
		if wasPrimary {
			ft.notifyAllLocked()
		}
		ft.mu.Unlock()
	}()
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil
		}
		ft.mu.Lock()
		switch u := req.GetUpdate().(type) {
		case *p4v1.StreamMessageRequest_Arbitration:
			for other := range ft.streams {
				if other != fs && u.Arbitration.GetElectionId() != nil && proto.Equal(other.election, u.Arbitration.GetElectionId()) {
					ft.mu.Unlock()
					return grpcstatus.Error(codes.InvalidArgument, "election id in use")
				}
			}
			fs.election, fs.arbitrated = u.Arbitration.GetElectionId(), true
			if fs.election != nil && (ft.highest == nil || !greater(ft.highest, fs.election)) {
				ft.highest = fs.election
				ft.notifyAllLocked()
			} else {
				ft.notifyLocked(fs)
			}
		case *p4v1.StreamMessageRequest_Packet:
			ft.packetOuts = append(ft.packetOuts, u.Packet)
		case *p4v1.StreamMessageRequest_DigestAck:
			ft.digestAcks = append(ft.digestAcks, u.DigestAck)
		}
		ft.mu.Unlock()
	}
}

func (ft *fakeTarget) isPrimaryLocked(fs *fakeStream) bool {
	return fs.election != nil && ft.highest != nil && proto.Equal(fs.election, ft.highest)
}

func (ft *fakeTarget) primaryLocked() *fakeStream {
	for fs := range ft.streams {
		if ft.isPrimaryLocked(fs) {
			return fs
		}
	}
	return nil
}

func (ft *fakeTarget) notifyAllLocked() {
	for fs := range ft.streams {
		if fs.arbitrated {
			ft.notifyLocked(fs)
		}
	}
}

func (ft *fakeTarget) notifyLocked(fs *fakeStream) {
	st := &status.Status{Code: int32(codes.OK)}
	switch {
	case ft.isPrimaryLocked(fs):
	case ft.primaryLocked() != nil:
		st = &status.Status{Code: int32(codes.AlreadyExists), Message: "a primary is connected"}
	default:
		st = &status.Status{Code: int32(codes.NotFound), Message: "no primary"}
	}
	fs.send(&p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_Arbitration{Arbitration: &p4v1.MasterArbitrationUpdate{
		DeviceId: 1, ElectionId: ft.highest, Status: st,
	}}})
}

func (fs *fakeStream) send(msg *p4v1.StreamMessageResponse) {
	fs.sendMu.Lock()
	defer fs.sendMu.Unlock()
	fs.stream.Send(msg) //nolint:errcheck // a dead stream's handler is ending
}

// sendToPrimary sends msg on the primary's stream and reports whether there
// was one.
func (ft *fakeTarget) sendToPrimary(msg *p4v1.StreamMessageResponse) bool {
	ft.mu.Lock()
	fs := ft.primaryLocked()
	ft.mu.Unlock()
	if fs == nil {
		return false
	}
	fs.send(msg)
	return true
}

func (ft *fakeTarget) Write(_ context.Context, req *p4v1.WriteRequest) (*p4v1.WriteResponse, error) {
	ft.mu.Lock()
	gate := ft.writeGate
	ft.mu.Unlock()
	if gate != nil {
		gate()
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.writeRequests = append(ft.writeRequests, req)
	if ft.highest == nil || !proto.Equal(req.GetElectionId(), ft.highest) || ft.primaryLocked() == nil {
		return nil, grpcstatus.Error(codes.PermissionDenied, "not primary")
	}
	if ft.writeHook != nil {
		return &p4v1.WriteResponse{}, ft.writeHook(req)
	}
	errs := make([]*p4v1.Error, len(req.GetUpdates()))
	failed := false
	for i, u := range req.GetUpdates() {
		key := fakeKey(u.GetEntity())
		_, exists := ft.store[key]
		code := codes.OK
		switch {
		case u.GetType() == p4v1.Update_INSERT && exists:
			code = codes.AlreadyExists
		case u.GetType() != p4v1.Update_INSERT && !exists:
			code = codes.NotFound
		case u.GetType() == p4v1.Update_DELETE:
			delete(ft.store, key)
		default:
			ft.store[key] = u.GetEntity()
		}
		errs[i] = &p4v1.Error{CanonicalCode: int32(code)}
		if code != codes.OK {
			failed = true
			errs[i].Message = "fake: " + code.String()
			errs[i].Space, errs[i].Code = "fake", int32(500+code)
		}
	}
	if !failed {
		return &p4v1.WriteResponse{}, nil
	}
	return nil, perUpdateStatus(errs)
}

// perUpdateStatus builds the UNKNOWN status with one p4.v1.Error per update
// that the spec prescribes for a batch with failures.
func perUpdateStatus(errs []*p4v1.Error) error {
	st := &status.Status{Code: int32(codes.Unknown), Message: "write failure"}
	for _, e := range errs {
		a, err := anypb.New(e)
		if err != nil {
			panic(err)
		}
		st.Details = append(st.Details, a)
	}
	return grpcstatus.ErrorProto(st)
}

func fakeKey(e *p4v1.Entity) string {
	switch x := e.GetEntity().(type) {
	case *p4v1.Entity_TableEntry:
		return "t" + TableEntryKey(x.TableEntry)
	case *p4v1.Entity_DigestEntry:
		return "d" + string(Uint(uint64(x.DigestEntry.GetDigestId())))
	}
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(e)
	return "x" + string(b)
}

func (ft *fakeTarget) Read(req *p4v1.ReadRequest, stream p4v1.P4Runtime_ReadServer) error {
	ft.mu.Lock()
	var out []*p4v1.Entity
	for _, e := range ft.store {
		if e.GetTableEntry() != nil && req.GetEntities()[0].GetTableEntry() != nil {
			out = append(out, e)
		}
	}
	ft.mu.Unlock()
	// Several responses, to exercise the client's streaming.
	for len(out) > 0 {
		n := min(len(out), 3)
		if err := stream.Send(&p4v1.ReadResponse{Entities: out[:n]}); err != nil {
			return err
		}
		out = out[n:]
	}
	return nil
}

func (ft *fakeTarget) SetForwardingPipelineConfig(_ context.Context, req *p4v1.SetForwardingPipelineConfigRequest) (*p4v1.SetForwardingPipelineConfigResponse, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if ft.highest == nil || !proto.Equal(req.GetElectionId(), ft.highest) {
		return nil, grpcstatus.Error(codes.PermissionDenied, "not primary")
	}
	ft.setPipelines++
	ft.config = req.GetConfig()
	clear(ft.store)
	return &p4v1.SetForwardingPipelineConfigResponse{}, nil
}

func (ft *fakeTarget) GetForwardingPipelineConfig(_ context.Context, req *p4v1.GetForwardingPipelineConfigRequest) (*p4v1.GetForwardingPipelineConfigResponse, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if ft.config == nil {
		return nil, grpcstatus.Error(codes.FailedPrecondition, "no pipeline")
	}
	cfg := &p4v1.ForwardingPipelineConfig{Cookie: ft.config.GetCookie()}
	if req.GetResponseType() != p4v1.GetForwardingPipelineConfigRequest_COOKIE_ONLY {
		cfg.P4Info = ft.config.GetP4Info()
	}
	return &p4v1.GetForwardingPipelineConfigResponse{Config: cfg}, nil
}

func (ft *fakeTarget) Capabilities(context.Context, *p4v1.CapabilitiesRequest) (*p4v1.CapabilitiesResponse, error) {
	return &p4v1.CapabilitiesResponse{P4RuntimeApiVersion: "1.5.0"}, nil
}

// snapshot returns a copy of a field under the lock.
func snapshot[T any](ft *fakeTarget, get func() T) T {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return get()
}
