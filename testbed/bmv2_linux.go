package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// BMv2Binary finds BMv2's simple_switch_grpc on PATH. The error says how
// to get one.
func BMv2Binary() (string, error) {
	p, err := exec.LookPath("simple_switch_grpc")
	if err != nil {
		return "", errors.New("BMv2 target: simple_switch_grpc is not on PATH; build BMv2 with PI (p4lang/behavioral-model, p4lang/PI) from their public sources, or use the softswitch target")
	}
	return p, nil
}

// bmv2Process is one PE's simple_switch_grpc, running in the PE's
// namespace on its p<N> interfaces, serving P4Runtime on a Unix socket
// (the PE's namespace has its own loopback; a socket file is reachable
// from evpnd in any namespace).
type bmv2Process struct {
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	// mu guards logs.
	mu   sync.Mutex
	logs strings.Builder
}

// bmv2Start bounds how long simple_switch_grpc may take to serve.
const bmv2Start = 20 * time.Second

// startBMv2 runs bin in namespace ns with ports (port N on interface pN)
// and waits until it serves P4Runtime. It starts with no pipeline: evpnd
// pushes it.
func startBMv2(ctx context.Context, bin string, ns netns.NsHandle, deviceID uint64, ports []uint32, cpuPort uint32) (*bmv2Process, error) {
	dir, err := os.MkdirTemp("", "tb-bmv2-")
	if err != nil {
		return nil, err
	}
	b := &bmv2Process{dir: dir, done: make(chan struct{})}
	args := []string{"--no-p4", "--device-id", fmt.Sprint(deviceID), "--log-level", "off",
		"--notifications-addr", "ipc://" + filepath.Join(dir, "notifications.ipc")}
	for _, p := range ports {
		args = append(args, "-i", fmt.Sprintf("%d@%s", p, portIface(p)))
	}
	args = append(args, "--", "--grpc-server-addr", b.Address(), "--cpu-port", fmt.Sprint(cpuPort))
	b.cmd = exec.Command(bin, args...)
	b.cmd.Stdout = writerFunc(func(p []byte) (int, error) { b.mu.Lock(); defer b.mu.Unlock(); return b.logs.Write(p) })
	b.cmd.Stderr = b.cmd.Stdout
	// Started from a thread in ns, the process is born there.
	if err := inNamespace(ns, b.cmd.Start); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { b.cmd.Wait(); close(b.done) }() //nolint:errcheck // killed on purpose
	sock := filepath.Join(dir, "p4rt.sock")
	deadline := time.NewTimer(bmv2Start)
	defer deadline.Stop()
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return b, nil
		}
		select {
		case <-b.done:
			err := fmt.Errorf("simple_switch_grpc exited before serving: %s", b.output())
			return nil, errors.Join(err, b.Close())
		case <-deadline.C:
			err := fmt.Errorf("simple_switch_grpc not serving at %s after %v: %s", sock, bmv2Start, b.output())
			return nil, errors.Join(err, b.Close())
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), b.Close())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Address is the P4Runtime address for evpnd's target.address.
func (b *bmv2Process) Address() string { return "unix://" + filepath.Join(b.dir, "p4rt.sock") }

func (b *bmv2Process) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.logs.String())
}

// Close kills simple_switch_grpc (a failing switch gives no notice) and
// removes its directory.
func (b *bmv2Process) Close() error {
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-b.done
	return os.RemoveAll(b.dir)
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }
