package p4asic_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/p4evpn/p4evpn/p4"
)

// bmv2Binary returns simple_switch_grpc: the wrapper /root/BMV2_READY
// names, else the one on PATH; it skips the test when there is neither.
func bmv2Binary(t *testing.T) string {
	t.Helper()
	if b, err := os.ReadFile("/root/BMV2_READY"); err == nil {
		if p := strings.TrimSpace(string(b)); p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	p, err := exec.LookPath("simple_switch_grpc")
	if err != nil {
		t.Skip("BMv2 not available (no /root/BMV2_READY and no simple_switch_grpc on PATH): BMv2 tests skipped")
	}
	return p
}

// startBMv2 runs simple_switch_grpc without a program and returns its
// P4Runtime address.
func startBMv2(t *testing.T) string {
	t.Helper()
	bin := bmv2Binary(t)
	if os.Geteuid() != 0 {
		t.Skip("simple_switch_grpc needs root: BMv2 tests skipped")
	}
	freePort := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	grpcPort := freePort()
	addr := fmt.Sprintf("127.0.0.1:%d", grpcPort)
	// A notification socket of its own, so that BMv2s of parallel tests
	// with the same device id do not collide.
	cmd := exec.Command(bin, "--no-p4", "--device-id", fmt.Sprint(deviceID), "--log-level", "off",
		"--notifications-addr", fmt.Sprintf("ipc://%s/bmv2-%d.ipc", t.TempDir(), grpcPort), "--", "--grpc-server-addr", addr, "--cpu-port", fmt.Sprint(p4.CPUPort))
	var logs strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(b) })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() //nolint:errcheck // killed on purpose
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // it may have exited
		<-done
		if t.Failed() {
			mu.Lock()
			t.Logf("simple_switch_grpc output:\n%s", logs.String())
			mu.Unlock()
		}
	})
	deadline := time.Now().Add(waitLimit)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case <-done:
			t.Fatalf("simple_switch_grpc exited before serving")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("simple_switch_grpc not serving at %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// The control-plane half of the softswitch tests on BMv2: every entity
// reads back as written, a restarted controller reconciles with zero
// writes, and a corrupted entry is repaired.
func TestBMv2ReadAndReconcile(t *testing.T) {
	addr := startBMv2(t)
	desired := richState()
	sw := newSwitch(t, addr, 1)
	if n := reconcile(t, sw, desired); n != len(desired) {
		t.Errorf("first reconcile wrote %d updates, want %d", n, len(desired))
	}
	if diff := gocmp.Diff(sortEntities(desired), read(t, sw), entityCmp); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
	sw.Close()
	sw = newSwitch(t, addr, 2)
	if n := reconcile(t, sw, desired); n != 0 {
		t.Errorf("reconcile after controller restart wrote %d updates, want 0", n)
	}
}
