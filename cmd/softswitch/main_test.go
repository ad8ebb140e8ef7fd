package main

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
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
	if _, err := st.Recv(); err == nil {
		t.Error("stream still open after shutdown")
	}
}
