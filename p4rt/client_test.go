package p4rt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// These tests drive the client against fakeTarget, for the arbitration,
// stream and error paths that a real target cannot be made to produce on
// demand (UNAVAILABLE on a Write, a malformed status, a crash between two
// messages). target_test.go runs the client against real targets.

// waitLimit bounds every wait for an asynchronous event; it is a safety net
// against hanging, not an assertion about speed.
const waitLimit = 20 * time.Second

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func unitPipeline(t testing.TB, deviceConfig string) *Pipeline {
	t.Helper()
	info, err := LoadP4Info("testdata/unit.p4info.txtpb")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPipeline(info, []byte(deviceConfig))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func connectTest(t testing.TB, addr string, opts ...Option) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	base := []Option{
		WithLogger(quietLogger()),
		WithReconnectBackoff(Backoff{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}),
		WithWriteRetry(Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 4}),
	}
	c, err := Connect(ctx, addr, append(base, opts...)...)
	if err != nil {
		t.Fatalf("Connect(%s): %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond until it holds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// awaitArbitration reads c's arbitration updates until one satisfies cond.
func awaitArbitration(t testing.TB, c *Client, what string, cond func(Arbitration) bool) Arbitration {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case a, ok := <-c.Arbitrations():
			if !ok {
				t.Fatalf("arbitration channel closed while waiting for %s", what)
			}
			if cond(a) {
				return a
			}
		case <-timeout:
			t.Fatalf("gave up waiting for %s; last state %+v", what, c.Arbitration())
		}
	}
}

func fibEntry(t testing.TB, ix *Index, bd, mac uint64) *p4v1.TableEntry {
	t.Helper()
	e, err := ix.BuildTableEntry(TableEntry{
		Table:  "ingress.fib",
		Match:  []FieldMatch{Exact("bd", Uint(bd)), Exact("hdr.ethernet.dst_addr", Uint(mac))},
		Action: Action("ingress.forward", Arg("port", Uint(1)), Arg("smac", Uint(1))),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestConnectWithoutElectionIDIsObserver(t *testing.T) {
	ft := startFakeTarget(t, "")
	c := connectTest(t, ft.addr)
	if a := c.Arbitration(); a.Primary || !a.Connected {
		t.Fatalf("observer: %+v, want connected backup", a)
	}
	err := c.Write(context.Background(), []*p4v1.Update{Insert(&p4v1.DigestEntry{DigestId: 1})})
	if !errors.Is(err, ErrNotPrimary) {
		t.Errorf("observer write error = %v, want ErrNotPrimary", err)
	}
	if err := c.SendPacketOut(context.Background(), []byte("x")); err == nil {
		t.Error("observer packet-out succeeded without a pipeline or primacy")
	}
}

func TestConnectDuplicateElectionIDFails(t *testing.T) {
	ft := startFakeTarget(t, "")
	connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 5}))
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, err := Connect(ctx, ft.addr, WithLogger(quietLogger()), WithElectionID(ElectionID{Low: 5}))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), ft.addr) {
		t.Errorf("second controller with the same id: error = %v, want InvalidArgument naming the target", err)
	}
}

func TestConnectRetriesUntilTargetListens(t *testing.T) {
	// Reserve an address, then start the target only after Connect began.
	ft := startFakeTarget(t, "")
	addr := ft.addr
	ft.stop()
	type result struct {
		c   *Client
		err error
	}
	done := make(chan result)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	go func() {
		c, err := Connect(ctx, addr, WithLogger(quietLogger()), WithElectionID(ElectionID{Low: 1}),
			WithReconnectBackoff(Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond}))
		done <- result{c, err}
	}()
	startFakeTarget(t, addr)
	r := <-done
	if r.err != nil {
		t.Fatalf("Connect: %v", r.err)
	}
	defer r.c.Close()
	if !r.c.IsPrimary() {
		t.Errorf("after late start: %+v, want primary", r.c.Arbitration())
	}

	// With nothing listening, Connect gives up when its context ends.
	r.c.Close()
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	_, err := Connect(short, "127.0.0.1:1", WithLogger(quietLogger()))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Connect to nothing: error = %v, want DeadlineExceeded naming the address", err)
	}
}

func TestWritePerUpdateErrorsAlignedWithInput(t *testing.T) {
	ft := startFakeTarget(t, "")
	c := connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 1}))
	p := unitPipeline(t, "v1")
	if _, err := c.SetPipeline(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	ix := c.Index()
	ctx := context.Background()
	if err := c.Write(ctx, []*p4v1.Update{Insert(fibEntry(t, ix, 1, 1)), Insert(fibEntry(t, ix, 1, 2))}); err != nil {
		t.Fatal(err)
	}
	updates := []*p4v1.Update{
		Insert(fibEntry(t, ix, 1, 3)), // new
		Insert(fibEntry(t, ix, 1, 1)), // exists
		Delete(fibEntry(t, ix, 9, 9)), // missing
		Modify(fibEntry(t, ix, 1, 2)), // exists
	}
	err := c.Write(ctx, updates)
	var werr *WriteError
	if !errors.As(err, &werr) {
		t.Fatalf("error = %v, want a *WriteError", err)
	}
	if len(werr.Updates) != len(updates) || werr.Failed != 2 {
		t.Fatalf("WriteError has %d updates, %d failed; want %d, 2", len(werr.Updates), werr.Failed, len(updates))
	}
	wantCodes := []codes.Code{codes.OK, codes.AlreadyExists, codes.NotFound, codes.OK}
	for i, want := range wantCodes {
		ue := werr.Updates[i]
		switch {
		case want == codes.OK && ue != nil:
			t.Errorf("update %d failed: %v", i, ue)
		case want != codes.OK && (ue == nil || ue.Code != want || ue.Index != i || ue.Update != updates[i]):
			t.Errorf("update %d: %+v, want code %v at index %d", i, ue, want, i)
		}
	}
	if ue := werr.Updates[1]; ue.Space != "fake" || ue.TargetCode != 506 || !strings.Contains(ue.Error(), "INSERT table ingress.fib {bd=0x01 hdr.ethernet.dst_addr=0x01} -> ingress.forward(0x01, 0x01): AlreadyExists") {
		t.Errorf("update 1 error = %q (space %q code %d)", ue.Error(), ue.Space, ue.TargetCode)
	}
	if status.Code(err) != codes.Unknown {
		t.Errorf("mixed failures: status.Code = %v, want Unknown", status.Code(err))
	}
	// A single failed update reports its own code.
	err = c.Write(ctx, []*p4v1.Update{Insert(fibEntry(t, ix, 1, 1))})
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("single duplicate insert: status.Code = %v (%v), want AlreadyExists", status.Code(err), err)
	}
	var ue *UpdateError
	if !errors.As(err, &ue) || ue.Index != 0 {
		t.Errorf("errors.As(*UpdateError) = %v", ue)
	}
}

func TestWriteBatchesAndStopsOnBatchFailure(t *testing.T) {
	ft := startFakeTarget(t, "")
	c := connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 1}), WithBatchSize(4))
	var batches []int
	failSecond := true
	ft.mu.Lock()
	ft.writeHook = func(req *p4v1.WriteRequest) error {
		batches = append(batches, len(req.GetUpdates()))
		if failSecond && len(batches) == 2 {
			return status.Error(codes.ResourceExhausted, "request too large")
		}
		return nil
	}
	ft.mu.Unlock()
	var updates []*p4v1.Update
	for i := range 10 {
		updates = append(updates, Insert(&p4v1.TableEntry{TableId: 1, Priority: int32(i + 1)}))
	}
	err := c.Write(context.Background(), updates)
	var werr *WriteError
	if !errors.As(err, &werr) {
		t.Fatalf("error = %v, want *WriteError", err)
	}
	if got := snapshot(ft, func() []int { return batches }); fmt.Sprint(got) != "[4 4]" {
		t.Errorf("batches sent = %v, want [4 4] (the third is not sent)", got)
	}
	for i, ue := range werr.Updates {
		var want codes.Code
		switch {
		case i < 4:
			want = codes.OK
		case i < 8:
			want = codes.ResourceExhausted
		default:
			want = codes.Aborted
		}
		got := codes.OK
		if ue != nil {
			got = ue.Code
		}
		if got != want {
			t.Errorf("update %d: code %v, want %v", i, got, want)
		}
	}
	// A per-call batch size overrides the client's.
	ft.mu.Lock()
	batches, failSecond = nil, false
	ft.mu.Unlock()
	if err := c.Write(context.Background(), updates[:7], BatchSize(3)); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(ft, func() []int { return batches }); fmt.Sprint(got) != "[3 3 1]" {
		t.Errorf("batches with BatchSize(3) = %v, want [3 3 1]", got)
	}
}

func TestWriteRetriesUnavailable(t *testing.T) {
	ft := startFakeTarget(t, "")
	c := connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 1}))
	calls := 0
	failures := 2
	ft.mu.Lock()
	ft.writeHook = func(*p4v1.WriteRequest) error {
		calls++
		if calls <= failures {
			return status.Error(codes.Unavailable, "busy")
		}
		return nil
	}
	ft.mu.Unlock()
	update := []*p4v1.Update{Insert(&p4v1.DigestEntry{DigestId: 1})}
	if err := c.Write(context.Background(), update); err != nil {
		t.Fatalf("write after two UNAVAILABLE: %v", err)
	}
	if got := snapshot(ft, func() int { return calls }); got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
	ft.mu.Lock()
	calls, failures = 0, 100
	ft.mu.Unlock()
	err := c.Write(context.Background(), update)
	if status.Code(err) != codes.Unavailable {
		t.Errorf("persistent UNAVAILABLE: error = %v, want Unavailable", err)
	}
	if got := snapshot(ft, func() int { return calls }); got != 4 {
		t.Errorf("attempts = %d, want the configured 4", got)
	}
}

func TestWriteStatusEdgeCases(t *testing.T) {
	ft := startFakeTarget(t, "")
	c := connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 1}))
	update := []*p4v1.Update{Insert(&p4v1.DigestEntry{DigestId: 1}), Insert(&p4v1.DigestEntry{DigestId: 2})}
	tests := []struct {
		desc      string
		hook      error
		wantCodes []codes.Code
	}{
		{
			desc:      "details count does not match the batch: the batch fails as a whole",
			hook:      perUpdateStatus([]*p4v1.Error{{CanonicalCode: int32(codes.Internal)}}),
			wantCodes: []codes.Code{codes.Unknown, codes.Unknown},
		},
		{
			desc:      "details with a non-UNKNOWN top code are still per update",
			hook:      withCode(perUpdateStatus([]*p4v1.Error{{CanonicalCode: int32(codes.OK)}, {CanonicalCode: int32(codes.OutOfRange), Message: "too wide"}}), codes.InvalidArgument),
			wantCodes: []codes.Code{codes.OK, codes.OutOfRange},
		},
		{
			desc:      "plain RPC error",
			hook:      status.Error(codes.FailedPrecondition, "no pipeline"),
			wantCodes: []codes.Code{codes.FailedPrecondition, codes.FailedPrecondition},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ft.mu.Lock()
			ft.writeHook = func(*p4v1.WriteRequest) error { return tc.hook }
			ft.mu.Unlock()
			err := c.Write(context.Background(), update)
			var werr *WriteError
			if !errors.As(err, &werr) {
				t.Fatalf("error = %v, want *WriteError", err)
			}
			for i, want := range tc.wantCodes {
				got := codes.OK
				if werr.Updates[i] != nil {
					got = werr.Updates[i].Code
				}
				if got != want {
					t.Errorf("update %d: code %v, want %v (%v)", i, got, want, werr.Updates[i])
				}
			}
		})
	}
	// Malformed updates are refused locally, the rest is sent.
	ft.mu.Lock()
	ft.writeHook = nil
	ft.mu.Unlock()
	err := c.Write(context.Background(), []*p4v1.Update{{Type: p4v1.Update_INSERT}, Insert(&p4v1.DigestEntry{DigestId: 3})})
	var werr *WriteError
	if !errors.As(err, &werr) || werr.Failed != 1 || werr.Updates[0].Code != codes.InvalidArgument || werr.Updates[1] != nil {
		t.Errorf("malformed update: %v", err)
	}
}

// withCode returns err's status with another top-level code.
func withCode(err error, code codes.Code) error {
	st := status.Convert(err).Proto()
	st.Code = int32(code)
	return status.ErrorProto(st)
}

func TestReadStreamsAndStopsEarly(t *testing.T) {
	ft := startFakeTarget(t, "")
	c := connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 1}))
	ctx := context.Background()
	if _, err := c.SetPipeline(ctx, unitPipeline(t, "v1")); err != nil {
		t.Fatal(err)
	}
	var updates []*p4v1.Update
	for i := range 10 {
		updates = append(updates, Insert(fibEntry(t, c.Index(), 1, uint64(i))))
	}
	if err := c.Write(ctx, updates); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadTableEntries(ctx, "ingress.fib")
	if err != nil || len(got) != 10 {
		t.Fatalf("ReadTableEntries = %d entries, %v; want 10", len(got), err)
	}
	n := 0
	for _, err := range c.Read(ctx, Entity(&p4v1.TableEntry{})) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 4 {
			break
		}
	}
	if n != 4 {
		t.Errorf("read %d entities before stopping, want 4", n)
	}
	if _, err := c.ReadTableEntries(ctx, "nope"); !errors.Is(err, ErrUnknownName) {
		t.Errorf("read of unknown table: %v", err)
	}
}

func TestStreamDigestPacketAndIdleTimeout(t *testing.T) {
	ft := startFakeTarget(t, "")
	c := connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 1}))
	ctx := context.Background()
	if _, err := c.SetPipeline(ctx, unitPipeline(t, "v1")); err != nil {
		t.Fatal(err)
	}
	bits := func(b ...byte) *p4v1.P4Data { return &p4v1.P4Data{Data: &p4v1.P4Data_Bitstring{Bitstring: b}} }
	ft.sendToPrimary(&p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_Digest{Digest: &p4v1.DigestList{
		DigestId: 385875969, ListId: 77,
		Data: []*p4v1.P4Data{{Data: &p4v1.P4Data_Struct{Struct: &p4v1.P4StructLike{Members: []*p4v1.P4Data{bits(7), bits(0xaa), bits(3)}}}}},
	}}})
	d := <-c.Digests()
	if mac, err := d.Messages[0].Uint("mac"); err != nil || d.Digest != "mac_learn_t" || d.ListID != 77 || mac != 0xaa {
		t.Errorf("digest = %+v, mac %#x, %v", d, mac, err)
	}
	waitFor(t, "digest ack", func() bool {
		return snapshot(ft, func() bool { return len(ft.digestAcks) == 1 })
	})
	if ack := snapshot(ft, func() *p4v1.DigestListAck { return ft.digestAcks[0] }); ack.GetDigestId() != 385875969 || ack.GetListId() != 77 {
		t.Errorf("ack = %v, want digest 385875969 list 77", ack)
	}

	ft.sendToPrimary(&p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_Packet{Packet: &p4v1.PacketIn{
		Payload: []byte("frame"), Metadata: []*p4v1.PacketMetadata{{MetadataId: 1, Value: []byte{4}}, {MetadataId: 2, Value: []byte{1}}},
	}}})
	pin := <-c.PacketIns()
	if port, err := pin.Uint("ingress_port"); err != nil || port != 4 || string(pin.Payload) != "frame" {
		t.Errorf("packet-in = %+v (port %d, %v)", pin, port, err)
	}

	if err := c.SendPacketOut(ctx, []byte("out"), Meta("egress_port", Uint(9))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "packet-out at the target", func() bool {
		return snapshot(ft, func() bool { return len(ft.packetOuts) == 1 })
	})
	want := &p4v1.PacketOut{Payload: []byte("out"), Metadata: []*p4v1.PacketMetadata{{MetadataId: 1, Value: []byte{9}}, {MetadataId: 2, Value: []byte{0}}}}
	if got := snapshot(ft, func() *p4v1.PacketOut { return ft.packetOuts[0] }); !proto.Equal(got, want) {
		t.Errorf("packet-out at target = %v, want %v", got, want)
	}

	entry := fibEntry(t, c.Index(), 1, 1)
	ft.sendToPrimary(&p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_IdleTimeoutNotification{
		IdleTimeoutNotification: &p4v1.IdleTimeoutNotification{TableEntry: []*p4v1.TableEntry{entry}, Timestamp: 42},
	}})
	idle := <-c.IdleTimeouts()
	if len(idle.Entries) != 1 || !proto.Equal(idle.Entries[0], entry) || idle.Timestamp.UnixNano() != 42 {
		t.Errorf("idle timeout = %+v", idle)
	}
	if s := c.Stats(); s.DigestLists != 1 || s.DigestAcks != 1 || s.PacketIns != 1 || s.IdleTimeouts != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestDigestNotAckedWhenReaderIsFull(t *testing.T) {
	ft := startFakeTarget(t, "")
	c := connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 1}), WithStreamBuffer(0))
	if _, err := c.SetPipeline(context.Background(), unitPipeline(t, "v1")); err != nil {
		t.Fatal(err)
	}
	ft.sendToPrimary(&p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_Digest{Digest: &p4v1.DigestList{DigestId: 385875969, ListId: 1}}})
	waitFor(t, "digest counted", func() bool { return c.Stats().DigestListsDropped == 1 })
	// An ack would be sent before the drop is counted: none arrived, and a
	// packet-out sent afterwards on the same stream arrives alone.
	if err := c.SendPacketOut(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "packet-out", func() bool { return snapshot(ft, func() int { return len(ft.packetOuts) }) == 1 })
	if acks := snapshot(ft, func() int { return len(ft.digestAcks) }); acks != 0 {
		t.Errorf("%d acks for a dropped digest list, want 0", acks)
	}
}

func TestReconnectRestoresPipelineAndDigests(t *testing.T) {
	ft := startFakeTarget(t, "")
	c := connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 1}))
	ctx := context.Background()
	p := unitPipeline(t, "v1")
	if _, err := c.SetPipeline(ctx, p); err != nil {
		t.Fatal(err)
	}
	digest, err := c.Index().BuildDigestEntry("mac_learn_t", DigestConfig{AckTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, []*p4v1.Update{Insert(digest)}); err != nil {
		t.Fatal(err)
	}

	// The target crashes and comes back empty at the same address.
	addr := ft.addr
	ft.stop()
	awaitArbitration(t, c, "disconnect", func(a Arbitration) bool { return !a.Connected })
	if err := c.Write(ctx, []*p4v1.Update{Modify(digest)}); !errors.Is(err, ErrNotPrimary) {
		t.Errorf("write while disconnected: %v, want ErrNotPrimary", err)
	}
	ft2 := startFakeTarget(t, addr)
	a := awaitArbitration(t, c, "primary again", func(a Arbitration) bool { return a.Primary })
	if a.Epoch != 2 {
		t.Errorf("epoch after reconnect = %d, want 2", a.Epoch)
	}
	// Primary is declared only after the restore: the new target already
	// has the pipeline and the digest.
	got := snapshot(ft2, func() []any {
		return []any{ft2.setPipelines, ft2.config.GetCookie().GetCookie(), ft2.store[fakeKey(Entity(digest))] != nil}
	})
	if fmt.Sprint(got) != fmt.Sprint([]any{1, p.Cookie, true}) {
		t.Errorf("restored target [pushes cookie digest] = %v, want [1 %d true]", got, p.Cookie)
	}
	if c.Stats().Reconnects != 1 {
		t.Errorf("reconnects = %d, want 1", c.Stats().Reconnects)
	}
}

func TestReconnectToTargetThatKeptState(t *testing.T) {
	ft := startFakeTarget(t, "")
	c := connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 1}))
	ctx := context.Background()
	if _, err := c.SetPipeline(ctx, unitPipeline(t, "v1")); err != nil {
		t.Fatal(err)
	}
	digest, _ := c.Index().BuildDigestEntry("mac_learn_t", DigestConfig{})
	if err := c.Write(ctx, []*p4v1.Update{Insert(digest)}); err != nil {
		t.Fatal(err)
	}
	// Only the stream breaks: the target keeps pipeline and digest, so the
	// restore neither pushes nor fails on the existing digest.
	ft.stop() // ends the streams; the fake's state survives in ft
	ft2 := startFakeTarget(t, ft.addr)
	ft2.mu.Lock()
	ft2.config, ft2.store, ft2.highest = ft.config, ft.store, ft.highest
	ft2.mu.Unlock()
	awaitArbitration(t, c, "primary again", func(a Arbitration) bool { return a.Primary && a.Epoch == 2 })
	got := snapshot(ft2, func() []int { return []int{ft2.setPipelines, len(ft2.writeRequests)} })
	// One INSERT answered ALREADY_EXISTS, then one MODIFY.
	if fmt.Sprint(got) != "[0 2]" {
		t.Errorf("restore against a target that kept state: [pushes writes] = %v, want [0 2]", got)
	}
}

func TestOptionsRejectBadValues(t *testing.T) {
	tests := []struct {
		desc    string
		opt     Option
		wantErr string
	}{
		{desc: "batch size", opt: WithBatchSize(0), wantErr: "batch size 0"},
		{desc: "write concurrency", opt: WithWriteConcurrency(0), wantErr: "write concurrency 0"},
		{desc: "write retry", opt: WithWriteRetry(Backoff{Initial: time.Second, Max: time.Millisecond, Attempts: 1}), wantErr: "write retry"},
		{desc: "write retry attempts", opt: WithWriteRetry(Backoff{Initial: time.Millisecond, Max: time.Second}), wantErr: "Attempts >= 1"},
		{desc: "reconnect backoff", opt: WithReconnectBackoff(Backoff{}), wantErr: "reconnect backoff"},
		{desc: "stream buffer", opt: WithStreamBuffer(-1), wantErr: "stream buffer -1"},
		{desc: "message size", opt: WithMaxMessageSize(1000), wantErr: "max message size 1000"},
		{desc: "election id file", opt: WithElectionIDFile(t.TempDir()+"/no/such/dir/id", ElectionID{}), wantErr: "election id"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			c, err := Connect(context.Background(), "127.0.0.1:1", tc.opt)
			if err == nil {
				c.Close()
				t.Fatal("Connect accepted the option")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestElectionIDFileAndWaitPrimary(t *testing.T) {
	ft := startFakeTarget(t, "")
	path := t.TempDir() + "/election-id"
	// Each controller start takes a higher id, so the newest one is primary.
	first := connectTest(t, ft.addr, WithElectionIDFile(path, ElectionID{}))
	second := connectTest(t, ft.addr, WithElectionIDFile(path, ElectionID{}))
	if got := second.Arbitration().ElectionID; got != (ElectionID{Low: 2}) {
		t.Errorf("second controller's id = %v, want 0:2", got)
	}
	if err := second.WaitPrimary(context.Background()); err != nil {
		t.Errorf("WaitPrimary of the newest controller: %v", err)
	}
	awaitArbitration(t, first, "first demoted", func(a Arbitration) bool { return !a.Primary })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := first.WaitPrimary(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "primary election id 0:2") {
		t.Errorf("WaitPrimary of a backup: %v, want DeadlineExceeded naming the primary's id", err)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	ft := startFakeTarget(t, "")
	c := connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 1}))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, ch := range map[string]func() bool{
		"packet-ins":    func() bool { _, ok := <-c.PacketIns(); return ok },
		"digests":       func() bool { _, ok := <-c.Digests(); return ok },
		"idle timeouts": func() bool { _, ok := <-c.IdleTimeouts(); return ok },
	} {
		if ch() {
			t.Errorf("%s channel delivered after Close", name)
		}
	}
	if err := c.Write(context.Background(), []*p4v1.Update{Insert(&p4v1.DigestEntry{DigestId: 1})}); !errors.Is(err, ErrNotPrimary) {
		t.Errorf("write after Close: %v, want ErrNotPrimary", err)
	}
	// The target sees the stream go and has no primary left.
	waitFor(t, "stream closed at the target", func() bool {
		return snapshot(ft, func() bool { return ft.primaryLocked() == nil })
	})
}

func TestWriteConcurrencyWithinAStep(t *testing.T) {
	ft := startFakeTarget(t, "")
	c := connectTest(t, ft.addr, WithElectionID(ElectionID{Low: 1}), WithBatchSize(2), WithWriteConcurrency(3))
	var (
		mu          sync.Mutex // mu guards inflight and most
		inflight    int
		most        int
		allArrived  = make(chan struct{})
		arrivedOnce sync.Once
	)
	ft.mu.Lock()
	ft.writeGate = func() {
		mu.Lock()
		inflight++
		most = max(most, inflight)
		if inflight == 3 {
			arrivedOnce.Do(func() { close(allArrived) })
		}
		mu.Unlock()
		// Hold each request until three are in flight together (or give
		// up, and let the assertion below fail).
		select {
		case <-allArrived:
		case <-time.After(waitLimit):
		}
		mu.Lock()
		inflight--
		mu.Unlock()
	}
	ft.mu.Unlock()
	var updates []*p4v1.Update
	for i := range 10 {
		updates = append(updates, Insert(&p4v1.TableEntry{TableId: 1, Priority: int32(i + 1)}))
	}
	if err := c.Write(context.Background(), updates); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if most != 3 {
		t.Errorf("at most %d requests in flight, want 3", most)
	}
	if n := snapshot(ft, func() int { return len(ft.store) }); n != 10 {
		t.Errorf("target holds %d entries, want 10", n)
	}
}
