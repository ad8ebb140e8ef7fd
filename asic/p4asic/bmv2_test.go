package p4asic_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/softswitch"
)

// bmv2Binary returns simple_switch_grpc: the wrapper /root/BMV2_READY
// names, else the one on PATH; it skips the test when there is neither.
func bmv2Binary(t testing.TB) string {
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

// startBMv2Rig runs simple_switch_grpc in a network namespace of its own
// with the test PE's ports on veth pairs, whose other ends the test opens
// (AF_PACKET); P4Runtime is on a Unix socket, since loopback in that
// namespace is not the test's.
func startBMv2Rig(t testing.TB) *rig {
	t.Helper()
	bin := bmv2Binary(t)
	if os.Geteuid() != 0 {
		t.Skip("BMv2 with veth ports needs root: BMv2 tests skipped")
	}
	dir := t.TempDir()
	sock := dir + "/p4rt.sock"
	bp := &bmv2Ports{ports: map[uint32]*softswitch.InterfacePort{}, frames: map[uint32]chan []byte{}}
	var cmd *exec.Cmd
	func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			t.Fatal(err)
		}
		defer orig.Close()
		ns, err := netns.New()
		if err != nil {
			t.Skipf("cannot create a network namespace: %v", err)
		}
		defer func() {
			if err := netns.Set(orig); err != nil {
				t.Fatalf("restore namespace: %v", err)
			}
			ns.Close()
		}()
		args := []string{"--no-p4", "--device-id", fmt.Sprint(deviceID), "--log-level", "off",
			"--notifications-addr", "ipc://" + dir + "/notifications.ipc"}
		for _, p := range testPorts {
			sw, test := fmt.Sprintf("bm%d", p), fmt.Sprintf("tp%d", p)
			if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: sw, MTU: 9000}, PeerName: test}); err != nil {
				t.Fatalf("veth %s: %v", sw, err)
			}
			for _, n := range []string{sw, test} {
				l, err := netlink.LinkByName(n)
				if err != nil {
					t.Fatal(err)
				}
				// No IPv6 on the links: the kernel's own frames (router
				// solicitations, MLD) would be counted as drops. The
				// thread is in the new namespace, so /proc/sys/net is its.
				if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+n+"/disable_ipv6", []byte("1"), 0); err != nil {
					t.Logf("disable IPv6 on %s: %v", n, err)
				}
				if err := netlink.LinkSetUp(l); err != nil {
					t.Fatal(err)
				}
			}
			port, err := softswitch.OpenInterface(test)
			if err != nil {
				t.Fatal(err)
			}
			bp.ports[p] = port
			args = append(args, "-i", fmt.Sprintf("%d@%s", p, sw))
		}
		args = append(args, "--", "--grpc-server-addr", "unix://"+sock, "--cpu-port", fmt.Sprint(p4.CPUPort))
		// Started from this thread, the process inherits its namespace.
		cmd = exec.Command(bin, args...)
		var logs strings.Builder
		var mu sync.Mutex
		cmd.Stdout = writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(b) })
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			mu.Lock()
			defer mu.Unlock()
			if t.Failed() {
				t.Logf("simple_switch_grpc output:\n%s", logs.String())
			}
		})
	}()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() //nolint:errcheck // killed on purpose
	bp.start()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // it may have exited
		<-done
		bp.close()
	})
	deadline := time.Now().Add(waitLimit)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatal("simple_switch_grpc exited before serving")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("simple_switch_grpc not serving at %s", sock)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &rig{t: t, name: "bmv2", addr: "unix://" + sock, dp: bp, stop: func() {}}
}

// bmv2Ports are the test's ends of BMv2's veth pairs. One goroutine per
// port reads frames into a channel, keeping only this test's frames (tagged
// or MPLS: the kernel sends its own IPv6 frames on the links).
type bmv2Ports struct {
	ports  map[uint32]*softswitch.InterfacePort
	frames map[uint32]chan []byte
	wg     sync.WaitGroup
}

func (b *bmv2Ports) start() {
	for p, port := range b.ports {
		ch := make(chan []byte, 1024)
		b.frames[p] = ch
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			buf := make([]byte, 9000)
			for {
				n, err := port.Read(buf)
				if err != nil {
					return
				}
				if n < 14 {
					continue
				}
				switch uint16(buf[12])<<8 | uint16(buf[13]) {
				case 0x8100, 0x88a8, 0x8847:
					select {
					case ch <- append([]byte(nil), buf[:n]...):
					default:
					}
				}
			}
		}()
	}
}

func (b *bmv2Ports) close() {
	for _, p := range b.ports {
		p.Close()
	}
	b.wg.Wait()
}

func (b *bmv2Ports) write(port uint32, frame []byte) error { return b.ports[port].Write(frame) }

func (b *bmv2Ports) read(ctx context.Context, port uint32) ([]byte, error) {
	select {
	case f := <-b.frames[port]:
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *bmv2Ports) tryRead(port uint32) ([]byte, bool) {
	select {
	case f := <-b.frames[port]:
		return f, true
	default:
		return nil, false
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
