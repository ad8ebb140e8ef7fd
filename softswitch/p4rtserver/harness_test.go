package p4rtserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	p4cfg "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
)

// target is a P4Runtime server under test.
type target struct {
	name     string
	client   p4v1.P4RuntimeClient
	deviceID uint64
	info     *p4cfg.P4Info
	config   []byte // device config for info
	ids
	// fake is the fake device and srv its server, nil for real data planes.
	fake *fakeDevice
	srv  *Server
	// raiseDigest makes the data plane raise digest mac_learn_t{mac, port};
	// s is the primary's stream (real data planes get a packet-out).
	raiseDigest func(s *session, mac, port byte)
}

const testDevice = 7

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startFake starts a Server on a fake device on 127.0.0.1:0.
func startFake(t testing.TB, opts ...Option) *target {
	t.Helper()
	dev := newFakeDevice()
	s := New(dev, append([]Option{WithDeviceID(testDevice), WithLogger(quietLogger())}, opts...)...)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		s.Close()
	})
	tg := &target{name: "fake", client: dial(t, lis.Addr().String()), deviceID: testDevice,
		info: loadP4Info(t, "testdata/proto.p4info.txtpb"), config: readFile(t, "testdata/proto.schema.json"), fake: dev, srv: s}
	tg.ids = lookupIDs(t, tg.info)
	tg.raiseDigest = func(_ *session, mac, port byte) {
		dev.raise(func(sink EventSink) { sink.Digest("mac_learn_t", [][]byte{{0, 0, 0, 0, 0, mac}, {0, port}}) })
	}
	return tg
}

func dial(t testing.TB, addr string) p4v1.P4RuntimeClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return p4v1.NewP4RuntimeClient(cc)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadP4Info(t testing.TB, path string) *p4cfg.P4Info {
	t.Helper()
	info := &p4cfg.P4Info{}
	if err := prototext.Unmarshal(readFile(t, path), info); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return info
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// session is an open StreamChannel.
type session struct {
	t      testing.TB
	stream p4v1.P4Runtime_StreamChannelClient
	msgs   chan *p4v1.StreamMessageResponse
	end    chan error
}

func openStream(t testing.TB, tg *target) *session {
	t.Helper()
	// No deadline: a stream lives as long as its test (benchmarks run
	// longer than ctxT allows).
	ctx, cancel := context.WithCancel(context.Background())
	st, err := tg.client.StreamChannel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := &session{t: t, stream: st, msgs: make(chan *p4v1.StreamMessageResponse, 1024), end: make(chan error, 1)}
	go func() {
		for {
			m, err := st.Recv()
			if err != nil {
				s.end <- err
				return
			}
			s.msgs <- m
		}
	}()
	t.Cleanup(cancel)
	return s
}

func (s *session) arbitrate(device uint64, role string, id *p4v1.Uint128) {
	s.t.Helper()
	m := &p4v1.MasterArbitrationUpdate{DeviceId: device, ElectionId: id}
	if role != "" {
		m.Role = &p4v1.Role{Name: role}
	}
	if err := s.stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{Arbitration: m}}); err != nil {
		s.t.Fatal(err)
	}
}

// next waits for the next stream message.
func (s *session) next() *p4v1.StreamMessageResponse {
	s.t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case err := <-s.end:
		s.t.Fatalf("stream ended: %v", err)
	case <-time.After(10 * time.Second):
		s.t.Fatal("no stream message within 10s")
	}
	return nil
}

// nextArbitration waits for an arbitration message, skipping others.
func (s *session) nextArbitration() *p4v1.MasterArbitrationUpdate {
	s.t.Helper()
	for {
		if a := s.next().GetArbitration(); a != nil {
			return a
		}
	}
}

// closed waits for the stream to end and returns its status code.
func (s *session) closed() codes.Code {
	s.t.Helper()
	select {
	case err := <-s.end:
		if err == io.EOF {
			return codes.OK
		}
		return status.Code(err)
	case <-time.After(10 * time.Second):
		s.t.Fatal("stream did not end within 10s")
	}
	return codes.OK
}

func eid(low uint64) *p4v1.Uint128 { return &p4v1.Uint128{Low: low} }

// primary opens a stream that becomes primary with election id 1000.
func primary(t testing.TB, tg *target) *session {
	t.Helper()
	s := openStream(t, tg)
	s.arbitrate(tg.deviceID, "", eid(1000))
	if got := s.nextArbitration().GetStatus().GetCode(); got != int32(codes.OK) {
		t.Fatalf("arbitration status %v, want OK", codes.Code(got))
	}
	return s
}

func (tg *target) setPipeline(t testing.TB, action p4v1.SetForwardingPipelineConfigRequest_Action, cfg *p4v1.ForwardingPipelineConfig) error {
	t.Helper()
	_, err := tg.client.SetForwardingPipelineConfig(ctxT(t), &p4v1.SetForwardingPipelineConfigRequest{
		DeviceId: tg.deviceID, ElectionId: eid(1000), Action: action, Config: cfg})
	return err
}

func (tg *target) pipelineConfig(cookie uint64) *p4v1.ForwardingPipelineConfig {
	return &p4v1.ForwardingPipelineConfig{P4Info: tg.info, P4DeviceConfig: tg.config, Cookie: &p4v1.ForwardingPipelineConfig_Cookie{Cookie: cookie}}
}

// ready commits the pipeline on tg and returns the primary's stream.
func ready(t testing.TB, tg *target) *session {
	t.Helper()
	s := primary(t, tg)
	if err := tg.setPipeline(t, p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT, tg.pipelineConfig(1)); err != nil {
		t.Fatalf("SetForwardingPipelineConfig: %v", err)
	}
	return s
}

// write sends updates as the primary and returns the per-update codes (nil
// when the batch succeeded) or the RPC-wide error.
func (tg *target) write(t testing.TB, updates ...*p4v1.Update) ([]codes.Code, error) {
	t.Helper()
	_, err := tg.client.Write(ctxT(t), &p4v1.WriteRequest{DeviceId: tg.deviceID, ElectionId: eid(1000), Updates: updates})
	return updateCodes(err)
}

// updateCodes splits a Write error into per-update codes.
func updateCodes(err error) ([]codes.Code, error) {
	if err == nil {
		return nil, nil
	}
	st := status.Convert(err)
	if st.Code() != codes.Unknown || len(st.Details()) == 0 {
		return nil, err
	}
	var out []codes.Code
	for _, d := range st.Details() {
		pe, ok := d.(*p4v1.Error)
		if !ok {
			return nil, errors.New("detail is not a p4.v1.Error")
		}
		out = append(out, codes.Code(pe.GetCanonicalCode()))
	}
	return out, nil
}

func (tg *target) mustWrite(t testing.TB, updates ...*p4v1.Update) {
	t.Helper()
	if _, err := tg.client.Write(ctxT(t), &p4v1.WriteRequest{DeviceId: tg.deviceID, ElectionId: eid(1000), Updates: updates}); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func (tg *target) read(t testing.TB, entities ...*p4v1.Entity) ([]*p4v1.Entity, error) {
	t.Helper()
	rc, err := tg.client.Read(ctxT(t), &p4v1.ReadRequest{DeviceId: tg.deviceID, Entities: entities})
	if err != nil {
		return nil, err
	}
	var out []*p4v1.Entity
	for {
		r, err := rc.Recv()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, r.GetEntities()...)
	}
}

func update(op p4v1.Update_Type, e *p4v1.Entity) *p4v1.Update {
	return &p4v1.Update{Type: op, Entity: e}
}

// ids are the P4Info ids of the test program's objects, looked up by name
// so the same tests run on p4c-compiled programs.
type ids struct {
	tFwd, tACL, tRoute, tECMP  uint32
	aSetPort, aDrop, aNoAction uint32
	pSel, cPort, dMacLearn     uint32
}

func lookupIDs(t testing.TB, info *p4cfg.P4Info) ids {
	t.Helper()
	byName := map[string]uint32{}
	for _, x := range info.GetTables() {
		byName[x.GetPreamble().GetName()] = x.GetPreamble().GetId()
	}
	for _, x := range info.GetActions() {
		byName[x.GetPreamble().GetName()] = x.GetPreamble().GetId()
	}
	for _, x := range info.GetActionProfiles() {
		byName[x.GetPreamble().GetName()] = x.GetPreamble().GetId()
	}
	for _, x := range info.GetCounters() {
		byName[x.GetPreamble().GetName()] = x.GetPreamble().GetId()
	}
	for _, x := range info.GetDigests() {
		byName[x.GetPreamble().GetName()] = x.GetPreamble().GetId()
	}
	get := func(name string) uint32 {
		id, ok := byName[name]
		if !ok {
			t.Fatalf("test program has no %q", name)
		}
		return id
	}
	return ids{
		tFwd: get("ingress.fwd"), tACL: get("ingress.acl"), tRoute: get("ingress.route"), tECMP: get("ingress.ecmp"),
		aSetPort: get("ingress.set_port"), aDrop: get("ingress.drop"), aNoAction: get("NoAction"),
		pSel: get("ingress.sel"), cPort: get("ingress.port_counter"), dMacLearn: get("mac_learn_t"),
	}
}

func exact(id uint32, v []byte) *p4v1.FieldMatch {
	return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Exact_{Exact: &p4v1.FieldMatch_Exact{Value: v}}}
}

func lpm(id uint32, v []byte, pl int32) *p4v1.FieldMatch {
	return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Lpm{Lpm: &p4v1.FieldMatch_LPM{Value: v, PrefixLen: pl}}}
}

func ternary(id uint32, v, m []byte) *p4v1.FieldMatch {
	return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Ternary_{Ternary: &p4v1.FieldMatch_Ternary{Value: v, Mask: m}}}
}

func rangeM(id uint32, lo, hi []byte) *p4v1.FieldMatch {
	return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Range_{Range: &p4v1.FieldMatch_Range{Low: lo, High: hi}}}
}

func optional(id uint32, v []byte) *p4v1.FieldMatch {
	return &p4v1.FieldMatch{FieldId: id, FieldMatchType: &p4v1.FieldMatch_Optional_{Optional: &p4v1.FieldMatch_Optional{Value: v}}}
}

func action(id uint32, params ...[]byte) *p4v1.TableAction {
	a := &p4v1.Action{ActionId: id}
	for i, p := range params {
		a.Params = append(a.Params, &p4v1.Action_Param{ParamId: uint32(i + 1), Value: p})
	}
	return &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: a}}
}

func entry(table uint32, prio int32, a *p4v1.TableAction, match ...*p4v1.FieldMatch) *p4v1.Entity {
	return tableEntity(&p4v1.TableEntry{TableId: table, Match: match, Priority: prio, Action: a})
}

func (tg *target) fwdEntry(mac byte, port []byte) *p4v1.Entity {
	return entry(tg.tFwd, 0, action(tg.aSetPort, port), exact(1, []byte{0x0a, 0, 0, 0, 0, mac}))
}
