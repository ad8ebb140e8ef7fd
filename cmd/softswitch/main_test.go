package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// startBinary builds cmd/softswitch, starts it with args plus a free gRPC
// port, and returns a client once it serves.
func startBinary(t *testing.T, args ...string) (p4v1.P4RuntimeClient, *exec.Cmd) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "softswitch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"--grpc-addr", "127.0.0.1:0", "--log-level", "info"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addrRE := regexp.MustCompile(`serving P4Runtime.* addr=(\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	var addr string
	select {
	case addr = <-found:
	case <-time.After(60 * time.Second):
		t.Fatal("softswitch did not report its address within 60s")
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return p4v1.NewP4RuntimeClient(cc), cmd
}

func TestBinaryServesP4Runtime(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go toolchain not on PATH: cannot build the binary")
	}
	client, cmd := startBinary(t, "--no-p4", "--device-id", "3")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	caps, err := client.Capabilities(ctx, &p4v1.CapabilitiesRequest{})
	if err != nil || caps.GetP4RuntimeApiVersion() != "1.5.0" {
		t.Fatalf("Capabilities: %v, %v; want 1.5.0", caps, err)
	}
	st, err := client.StreamChannel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{Arbitration: &p4v1.MasterArbitrationUpdate{
		DeviceId: 3, ElectionId: &p4v1.Uint128{Low: 1}}}}); err != nil {
		t.Fatal(err)
	}
	m, err := st.Recv()
	if err != nil || m.GetArbitration().GetStatus().GetCode() != int32(codes.OK) {
		t.Fatalf("arbitration: %v, %v; want OK", m, err)
	}
	rc, err := client.Read(ctx, &p4v1.ReadRequest{DeviceId: 3, Entities: []*p4v1.Entity{{Entity: &p4v1.Entity_TableEntry{TableEntry: &p4v1.TableEntry{}}}}})
	if err == nil {
		_, err = rc.Recv()
	}
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Read with no pipeline: %v, want FAILED_PRECONDITION", err)
	}
	if _, err := client.SetForwardingPipelineConfig(ctx, &p4v1.SetForwardingPipelineConfigRequest{DeviceId: 3, ElectionId: &p4v1.Uint128{Low: 1},
		Action: p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT,
		Config: &p4v1.ForwardingPipelineConfig{P4Info: nil, P4DeviceConfig: []byte("{}")}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad pipeline: %v, want INVALID_ARGUMENT", err)
	}

	// SIGTERM: a clean exit, which ends the stream.
	stopBinary(t, cmd)
	if _, err := st.Recv(); err == nil {
		t.Error("stream still open after shutdown")
	}
}

// stopBinary sends SIGTERM and expects a clean exit.
func stopBinary(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("softswitch did not exit within 30s of SIGTERM")
	}
}

// The binary started with a program and its P4Info serves that pipeline: a
// packet-out comes back as a packet-in through BMv2's packet_io test
// program, which sends every packet to the CPU port.
func TestBinaryWithProgram(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go toolchain not on PATH: cannot build the binary")
	}
	dir := "../../softswitch/p4rtserver/testdata/bmv2/"
	client, cmd := startBinary(t, "--cpu-port", "64", "--p4info", dir+"packet_io.proto.txt", dir+"packet_io.json")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := client.GetForwardingPipelineConfig(ctx, &p4v1.GetForwardingPipelineConfigRequest{DeviceId: 1, ResponseType: p4v1.GetForwardingPipelineConfigRequest_P4INFO_AND_COOKIE})
	if err != nil || len(cfg.GetConfig().GetP4Info().GetTables()) != 1 {
		t.Fatalf("GetForwardingPipelineConfig: %v, %v; want packet_io's P4Info", cfg, err)
	}
	st, err := client.StreamChannel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Arbitration{Arbitration: &p4v1.MasterArbitrationUpdate{
		DeviceId: 1, ElectionId: &p4v1.Uint128{Low: 1}}}}); err != nil {
		t.Fatal(err)
	}
	if m, err := st.Recv(); err != nil || m.GetArbitration().GetStatus().GetCode() != int32(codes.OK) {
		t.Fatalf("arbitration: %v, %v; want OK", m, err)
	}
	payload := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x90, 0}, make([]byte, 46)...)
	if err := st.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Packet{Packet: &p4v1.PacketOut{Payload: payload}}}); err != nil {
		t.Fatal(err)
	}
	m, err := st.Recv()
	if err != nil || !bytes.Equal(m.GetPacket().GetPayload(), payload) {
		t.Fatalf("packet-in: %v, %v; want the packet-out's payload", m, err)
	}
	stopBinary(t, cmd)
}

func TestFlags(t *testing.T) {
	tests := []struct {
		desc    string
		args    []string
		wantErr string
	}{
		{"bad port", []string{"--no-p4", "-i", "veth0"}, "PORT@IFACE"},
		{"bad port number", []string{"--no-p4", "-i", "x@veth0"}, "port number"},
		{"program and --no-p4", []string{"--no-p4", "a.json"}, "exclusive"},
		{"no program", []string{}, "--no-p4"},
		{"p4info without program", []string{"--no-p4", "--p4info", "a.txtpb"}, "needs the JSON"},
		{"bad log level", []string{"--no-p4", "--log-level", "loud"}, "--log-level"},
		{"missing interface", []string{"--no-p4", "-i", "1@no-such-iface0"}, "no-such-iface0"},
		{"missing program", []string{"/nonexistent/prog.json"}, "prog.json"},
		{"bad address", []string{"--no-p4", "--grpc-addr", "127.0.0.1:notaport"}, "--grpc-addr"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.wantErr)
			}
		})
	}
}
