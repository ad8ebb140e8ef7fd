package testbed

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netns"

	"github.com/p4evpn/p4evpn/evpn"
)

// TestNetnsFabric runs the example fabric with Linux hosts in network
// namespaces: the kernel's ARP and ping across the PEs' softswitches on
// AF_PACKET veths, a Linux bond for the dual-homed host; the remote MACs
// come from BGP; A moves from pe1 to pe3 and pe2 follows with sequence+1;
// the bonded B's segment spreads C's flows over both PEs,
// delivers BUM once and never echoes B's own; pe2's evpnd restarts under a 10 ms ping without losing an
// echo or writing to its switch; when pe1 fails, C still reaches the dual-homed B (the
// ping's loss is logged, not asserted). Every namespace is gone after Close.
func TestNetnsFabric(t *testing.T) {
	if err := NetnsAvailable(); err != nil {
		t.Skip(err)
	}
	n := testNet()
	topo, err := DemoTopology(n, KindEvpnd)
	if err != nil {
		t.Fatal(err)
	}
	topo.Name = fmt.Sprintf("t%d", n) // namespaces tb-tN-*, unique per run like the addresses
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := StartNetnsFabric(ctx, topo, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			f.Close()
		}
	})
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to string }{{"A", "C"}, {"B", "D"}, {"D", "A"}} {
		h, peer := f.NetnsHost(tc.from), f.NetnsHost(tc.to)
		out, err := h.Command(ctx, "ping", "-c", "5", "-i", "0.05", "-W", "2", peer.Addr.Addr().String()).CombinedOutput()
		if err != nil || !strings.Contains(string(out), " 0% packet loss") {
			t.Errorf("%s pings %s: %v\n%s", tc.from, tc.to, err, out)
		}
	}
	// The kernel's ARP entry on A for C is C's MAC.
	out, err := f.NetnsHost("A").Command(ctx, "ip", "neigh", "show", "10.0.0.3").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "02:00:00:00:00:0c") {
		t.Errorf("A's neighbour entry for C: %v\n%s", err, out)
	}
	// Isolation: E (EVI 200) cannot reach EVI 100.
	if out, err := f.NetnsHost("E").Command(ctx, "ping", "-c", "2", "-W", "1", "10.0.0.3").CombinedOutput(); err == nil {
		t.Errorf("E (EVI 200) reached C (EVI 100):\n%s", out)
	}
	m, ok := MACEntry(f.PE("pe1"), 100, macOf(&Host{mac: f.NetnsHost("C").MAC}))
	if !ok || m.Source != evpn.SourceRemote || m.Peer != f.PE("pe3").RouterID() {
		t.Errorf("pe1's entry for C = %+v, %v; want a remote MAC from BGP toward pe3", m, ok)
	}
	// BUM through Linux interfaces.
	r, err := f.NetnsBUM(ctx, "A", "C", "D", "E")
	report(t, r, err)
	// All-active multihoming of the bonded B, seen from C's interface.
	r, err = f.NetnsMultihoming(ctx, "B", "C")
	report(t, r, err)
	// A moves from pe1 to pe3's free port 2, seen from D on pe2.
	r, err = f.NetnsMobility(ctx, "A", "pe3", 2, "D")
	report(t, r, err)
	// Controller restart under the kernel's ping (graceful restart keeps
	// pe2's routes at the reflector): nothing lost, nothing written.
	r, err = f.NetnsControllerRestart(ctx, "pe2", "D", "C", 200*time.Millisecond)
	report(t, r, err)
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	// PE failure with the kernel's ping: pe1 stops under a ping from C to
	// the dual-homed B, which stays reachable through pe2.
	ping := f.NetnsHost("C").Command(ctx, "ping", "-c", "300", "-i", "0.01", "-W", "1", "10.0.0.2")
	var pingOut strings.Builder
	ping.Stdout, ping.Stderr = &pingOut, &pingOut
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := f.StopPE("pe1"); err != nil {
		t.Errorf("StopPE: %v", err)
	}
	ping.Wait()
	stats := pingOut.String()
	if i := strings.Index(stats, "---"); i >= 0 {
		stats = stats[i:]
	}
	t.Logf("C pings B every 10 ms while pe1 fails:\n%s", stats)
	out, err = f.NetnsHost("C").Command(ctx, "ping", "-c", "3", "-i", "0.05", "-W", "2", "10.0.0.2").CombinedOutput()
	if err != nil || !strings.Contains(string(out), " 0% packet loss") {
		t.Errorf("C pings B after pe1 failed: %v\n%s", err, out)
	}
	names := []string{nsName(topo.Name, "switch"), nsName(topo.Name, "A"), nsName(topo.Name, "B")}
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	closed = true
	for _, n := range names {
		if h, err := netns.GetFromName(n); err == nil {
			h.Close()
			t.Errorf("namespace %s survives Close", n)
		}
	}
	if _, err := os.Stat(statePath(topo.Name)); err == nil {
		t.Errorf("state file %s survives Close", statePath(topo.Name))
	}
}

// TestParseKernelPing: an echo unanswered before the last is lost; the
// last one, in flight when SIGINT stopped ping, is not.
func TestParseKernelPing(t *testing.T) {
	reply := func(seq int) string {
		return fmt.Sprintf("64 bytes from 10.0.0.3: icmp_seq=%d ttl=64 time=0.5 ms\n", seq)
	}
	for _, tc := range []struct {
		desc    string
		out     string
		want    kernelPing
		wantErr bool
	}{
		{desc: "all answered", out: reply(1) + reply(2) + reply(3) + "--- s ---\n3 packets transmitted, 3 received, 0% packet loss\n",
			want: kernelPing{Sent: 3, Received: 3}},
		{desc: "last in flight", out: reply(1) + reply(2) + "--- s ---\n3 packets transmitted, 2 received, 33% packet loss\n",
			want: kernelPing{Sent: 3, Received: 2}},
		{desc: "one lost", out: reply(1) + reply(3) + "--- s ---\n3 packets transmitted, 2 received, 33% packet loss\n",
			want: kernelPing{Sent: 3, Received: 2, Lost: 1}},
		{desc: "no counts", out: reply(1), wantErr: true},
	} {
		got, err := parseKernelPing(tc.out)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err %v, want error %v", tc.desc, err, tc.wantErr)
			continue
		}
		if tc.wantErr {
			continue
		}
		got.Summary = ""
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.desc, diff)
		}
	}
}
