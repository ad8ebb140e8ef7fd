package p4rt

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The client against real P4Runtime targets over gRPC on loopback: the
// softswitch (cmd/softswitch, built once per test binary and run as a
// process, since p4rt may not import softswitch/) and BMv2's
// simple_switch_grpc when it is on PATH. Both run testdata/p4rt_test.p4,
// compiled by p4c into testdata/p4rt_test.{json,p4info.txtpb}.

const (
	testProgramJSON   = "testdata/p4rt_test.json"
	testProgramP4Info = "testdata/p4rt_test.p4info.txtpb"
	testDeviceID      = 1
	testCPUPort       = 255
)

// testProgram loads the compiled test program, skipping the test when it
// has not been compiled.
func testProgram(t testing.TB) *Pipeline {
	t.Helper()
	for _, f := range []string{testProgramJSON, testProgramP4Info} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("test program not compiled (%v): run p4c-bm2-ss on testdata/p4rt_test.p4 as its header says", err)
		}
	}
	p, err := LoadPipeline(testProgramP4Info, testProgramJSON)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// target is a P4Runtime target process.
type target struct {
	name string
	addr string
	cmd  *exec.Cmd
	// logs collects the process's output, shown when a test fails.
	logs *syncBuffer
	done chan struct{} // closed when the process has exited
}

type syncBuffer struct {
	mu sync.Mutex // mu guards b
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// kill ends the process at once, like a crash, and waits for it.
func (tg *target) kill() {
	tg.cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // it may have exited
	<-tg.done
}

var softswitchBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// softswitchBinary builds cmd/softswitch once per test binary, or returns
// $P4RT_SOFTSWITCH, a softswitch binary built beforehand (to test against
// another version than the working tree's).
func softswitchBinary(t testing.TB) string {
	t.Helper()
	if path := os.Getenv("P4RT_SOFTSWITCH"); path != "" {
		return path
	}
	b := &softswitchBuild
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "p4rt-softswitch"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "softswitch")
		out, err := exec.Command("go", "build", "-o", b.path, "github.com/p4evpn/p4evpn/cmd/softswitch").CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build cmd/softswitch: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if softswitchBuild.dir != "" {
		os.RemoveAll(softswitchBuild.dir)
	}
	os.Exit(code)
}

var servingRE = regexp.MustCompile(`serving P4Runtime.* addr=(\S+)`)

// startSoftswitch runs the softswitch without a program at addr
// ("127.0.0.1:0" for any port) and returns once it is serving.
func startSoftswitch(t testing.TB, addr string) *target {
	t.Helper()
	cmd := exec.Command(softswitchBinary(t), "--no-p4", "--grpc-addr", addr,
		"--device-id", fmt.Sprint(testDeviceID), "--cpu-port", fmt.Sprint(testCPUPort), "--log-level", "info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{name: "softswitch", cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		defer close(tg.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(tg.logs, sc.Text())
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr) //nolint:errcheck // draining a pipe of a dying process
		cmd.Wait()                  //nolint:errcheck // killed on purpose
	}()
	t.Cleanup(func() {
		tg.kill()
		if t.Failed() {
			t.Logf("softswitch output:\n%s", tg.logs.String())
		}
	})
	select {
	case tg.addr = <-found:
	case <-tg.done:
		t.Fatalf("softswitch exited before serving:\n%s", tg.logs.String())
	case <-time.After(waitLimit):
		t.Fatalf("softswitch not serving:\n%s", tg.logs.String())
	}
	return tg
}

// startBMv2 runs simple_switch_grpc without a program, or skips.
func startBMv2(t testing.TB) *target {
	t.Helper()
	bin, err := exec.LookPath("simple_switch_grpc")
	if err != nil {
		t.Skip("simple_switch_grpc is not on PATH: BMv2 tests skipped")
	}
	if os.Geteuid() != 0 {
		t.Skip("simple_switch_grpc needs root: BMv2 tests skipped")
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	// Its own notification socket, so that instances do not collide.
	notify := "ipc://" + filepath.Join(t.TempDir(), "bmv2-notifications.ipc")
	cmd := exec.Command(bin, "--no-p4", "--device-id", fmt.Sprint(testDeviceID), "--log-level", "off",
		"--notifications-addr", notify, "--",
		"--grpc-server-addr", addr, "--cpu-port", fmt.Sprint(testCPUPort))
	tg := &target{name: "bmv2", addr: addr, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = tg.logs, tg.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(tg.done)
		cmd.Wait() //nolint:errcheck // killed on purpose
	}()
	t.Cleanup(func() {
		tg.kill()
		if t.Failed() {
			t.Logf("simple_switch_grpc output:\n%s", tg.logs.String())
		}
	})
	return tg
}

// forEachTarget runs fn with the test program against a fresh softswitch
// and, where available, a fresh BMv2.
func forEachTarget(t *testing.T, fn func(t *testing.T, tg *target, p *Pipeline)) {
	t.Run("softswitch", func(t *testing.T) {
		p := testProgram(t)
		fn(t, startSoftswitch(t, "127.0.0.1:0"), p)
	})
	t.Run("bmv2", func(t *testing.T) {
		p := testProgram(t)
		fn(t, startBMv2(t), p)
	})
}

// primaryWithProgram connects as primary with the given election id and
// installs the test program.
func primaryWithProgram(t testing.TB, tg *target, p *Pipeline, id uint64, opts ...Option) *Client {
	t.Helper()
	c := connectTest(t, tg.addr, append([]Option{WithDeviceID(testDeviceID), WithElectionID(ElectionID{Low: id})}, opts...)...)
	mustSetPipeline(t, c, p)
	return c
}

// mustSetPipeline pushes p and reports whether the target needed it.
func mustSetPipeline(t testing.TB, c *Client, p *Pipeline) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	pushed, err := c.SetPipeline(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	return pushed
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}
