//go:build linux

package softswitch

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// vethPair creates a veth pair in a new network namespace and opens both
// ends as ports. The sockets keep working in that namespace after the
// thread returns to its own.
func vethPair(t *testing.T) (*InterfacePort, *InterfacePort) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_NET_RAW) for a network namespace and AF_PACKET")
	}
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
			t.Errorf("restore namespace: %v", err)
		}
		ns.Close()
	}()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ssw-a", MTU: 9000}, PeerName: "ssw-b"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	for _, n := range []string{"ssw-a", "ssw-b"} {
		l, err := netlink.LinkByName(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	a, err := OpenInterface("ssw-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenInterface("ssw-b")
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// readFrame reads frames until one with the given source MAC arrives (the
// kernel may send its own, e.g. IPv6 router solicitations).
func readFrame(t *testing.T, p *InterfacePort, src []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 9000)
		for {
			n, err := p.Read(buf)
			if err != nil {
				return
			}
			if n >= 12 && bytes.Equal(buf[6:12], src) {
				got <- append([]byte(nil), buf[:n]...)
				return
			}
		}
	}()
	select {
	case f := <-got:
		return f
	case <-ctx.Done():
		t.Fatal("no frame on the interface")
		return nil
	}
}

func TestInterfacePortCarriesFramesAndVLANTags(t *testing.T) {
	a, b := vethPair(t)
	src := []byte{0x02, 0, 0, 0, 0, 0x0a}
	untagged := append([]byte{0x02, 0, 0, 0, 0, 0x0b}, src...)
	untagged = append(untagged, 0x88, 0xb5, 'h', 'e', 'l', 'l', 'o')
	untagged = append(untagged, make([]byte, 60-len(untagged))...)
	tagged := append(append([]byte{}, untagged[:12]...), 0x81, 0x00, 0x20, 0x64)
	tagged = append(tagged, untagged[12:]...)
	for _, tc := range []struct {
		desc  string
		frame []byte
	}{
		{desc: "untagged", frame: untagged},
		{desc: "802.1Q tag, pcp 1 vid 100 (stripped by the kernel, restored from PACKET_AUXDATA)", frame: tagged},
	} {
		if err := a.Write(tc.frame); err != nil {
			t.Fatalf("%s: write: %v", tc.desc, err)
		}
		if got := readFrame(t, b, src); !bytes.Equal(got, tc.frame) {
			t.Errorf("%s: read %x, want %x", tc.desc, got, tc.frame)
		}
	}
}
