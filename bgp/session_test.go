package bgp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"

	"github.com/p4evpn/p4evpn/evpn/route"
)

// TestGracefulRestartHelperKeepsRoutes: a neighbor that negotiated graceful
// restart (RFC 4724) drops its TCP session without a NOTIFICATION; the
// speaker reports PeerDown but keeps the neighbor's routes (stale) instead of
// withdrawing them, then takes the neighbor back.
func TestGracefulRestartHelperKeepsRoutes(t *testing.T) {
	log := testLogger(t)
	rrAddr := netip.MustParseAddr("127.0.32.1")
	peAddr := netip.MustParseAddr("127.0.32.2")
	rawAddr := netip.MustParseAddr("127.0.32.9")
	port := freePort(t, rrAddr)
	rr := startSpeaker(t, log.With("node", "rr"), Config{
		RouterID: rrAddr, ASN: testASN, ListenAddress: rrAddr, ListenPort: port,
		Neighbors:       []Neighbor{rrClient(peAddr, rrAddr), rrClient(rawAddr, rrAddr)},
		GracefulRestart: &GracefulRestart{RestartTime: 30 * time.Second, HelperOnly: true},
		Import:          ImportPolicy{All: true},
	})
	pe := startSpeaker(t, log.With("node", "pe"), Config{
		RouterID: peAddr, ASN: testASN,
		Neighbors:       []Neighbor{fastNeighbor(rrAddr, peAddr, port, testASN)},
		GracefulRestart: &GracefulRestart{RestartTime: 30 * time.Second},
	})
	waitPeerUp(t, rr, peAddr)
	// Both ends have graceful restart, so the RR ends its (empty) initial
	// table transfer with End-of-RIB.
	waitEvent(t, pe, "End-of-RIB from the RR", func(ev Event) bool { return ev.Kind == EndOfRIB && ev.Peer == rrAddr })

	gr := bgp.NewCapGracefulRestart(false, false, 60, []*bgp.CapGracefulRestartTuple{bgp.NewCapGracefulRestartTuple(bgp.RF_EVPN, true)})
	raw := dialRaw(t, netip.AddrPortFrom(rawAddr, 0), netip.AddrPortFrom(rrAddr, port), gr)
	waitPeerUp(t, rr, rawAddr)
	nh := netip.MustParseAddr("127.0.32.200")
	raw.send(t, update(attrOrigin, attrASPath, attrRT, mpReach(nh, rawMACIP(1, 0, nil, 0))))
	key := route.MACIP{RD: route.RD{Admin: route.Admin{ASN: testASN}, Assigned: 1}, MAC: route.MAC{0, 0, 0x5e, 0, 0x53, 1}}
	waitEvent(t, rr, "raw peer's route", func(ev Event) bool { return ev.Kind == PathAdd && route.Key(ev.Path.NLRI) == key })

	raw.conn.Close() // no NOTIFICATION: a restart, not a shutdown
	evs := waitEvent(t, rr, "raw peer down", func(ev Event) bool { return ev.Kind == PeerDown && ev.Peer == rawAddr })
	t.Logf("PeerDown reason %q", evs[len(evs)-1].Reason)
	// GoBGP handles the peer going down in one step; any withdrawal would be
	// queued before the sentinel's event.
	seen := waitSentinel(t, pe, rr, 1)
	for _, ev := range seen {
		if ev.Kind == PathWithdraw && route.Key(ev.Path.NLRI) == key {
			t.Fatalf("helper withdrew %s when the neighbor restarted", key)
		}
	}
	if _, ok := reported(t, rr, key); !ok {
		t.Errorf("route %s is not reported any more", key)
	}

	// The neighbor comes back and re-sends its route and End-of-RIB.
	raw = dialRaw(t, netip.AddrPortFrom(rawAddr, 0), netip.AddrPortFrom(rrAddr, port), gr)
	waitPeerUp(t, rr, rawAddr)
	raw.send(t, update(attrOrigin, attrASPath, attrRT, mpReach(nh, rawMACIP(1, 0, nil, 0))))
	eor, err := bgp.NewEndOfRib(bgp.RF_EVPN).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	raw.send(t, eor)
	waitEvent(t, rr, "End-of-RIB from the restarted neighbor", func(ev Event) bool { return ev.Kind == EndOfRIB && ev.Peer == rawAddr })
	waitSentinel(t, pe, rr, 2)
	if _, ok := reported(t, rr, key); !ok {
		t.Errorf("route %s lost after the neighbor came back", key)
	}
}

// waitSentinel is sentinel returning the events read meanwhile.
func waitSentinel(t *testing.T, pe, rr *Speaker, n byte) []Event {
	t.Helper()
	p := route.Path{
		NLRI:  route.MACIP{RD: route.AutoRD(pe.cfg.RouterID, uint16(n)), MAC: route.MAC{2, 0, 0, 0, 0, n}, Label1: 16},
		Attrs: route.Attributes{RouteTargets: []route.RouteTarget{testRT}},
	}
	if err := pe.Announce(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return waitEvent(t, rr, "sentinel", func(ev Event) bool {
		return ev.Kind == PathAdd && route.Key(ev.Path.NLRI) == route.Key(p.NLRI)
	})
}

// TestModuleListenersArePlainTCP: go.mod's "godebug multipathtcp=0" keeps
// the module's binaries and tests on plain TCP listeners, the only ones that
// take a TCP MD5 key. Go 1.24+ otherwise listens with Multipath TCP.
func TestModuleListenersArePlainTCP(t *testing.T) {
	if v := os.Getenv("GODEBUG"); v != "" {
		t.Skipf("GODEBUG=%q set in the environment overrides go.mod", v)
	}
	var lc net.ListenConfig
	if lc.MultipathTCP() {
		t.Error("Go listeners default to Multipath TCP here: go.mod lacks godebug multipathtcp=0, so TCP MD5 fails on MPTCP kernels")
	}
}

// TestMD5Session: both ends configured with the same TCP MD5 password
// (RFC 2385) establish the session, on the module's default (plain TCP)
// listeners.
func TestMD5Session(t *testing.T) {
	if err := checkTCPMD5(); err != nil {
		t.Skipf("TCP MD5 unavailable here (kernel without TCP_MD5SIG, or listeners on Multipath TCP): %v", err)
	}
	log := testLogger(t)
	a := netip.MustParseAddr("127.0.33.1")
	b := netip.MustParseAddr("127.0.33.2")
	port := freePort(t, a)
	na := fastNeighbor(b, a, 0, testASN)
	na.Password, na.Passive = "p4evpn-md5", true
	sa := startSpeaker(t, log.With("node", "a"), Config{RouterID: a, ASN: testASN, ListenAddress: a, ListenPort: port, Neighbors: []Neighbor{na}})
	nb := fastNeighbor(a, b, port, testASN)
	nb.Password = "p4evpn-md5"
	startSpeaker(t, log.With("node", "b"), Config{RouterID: b, ASN: testASN, Neighbors: []Neighbor{nb}})
	waitPeerUp(t, sa, b)
}

// TestMD5RefusedWhereGoCannotApplyIt: with Go's default Multipath TCP
// listeners (on kernels with MPTCP; what a binary of another module without
// the godebug setting gets), New refuses an MD5 password with an error that
// says how to fix it, instead of GoBGP's silent dead session.
func TestMD5RefusedWhereGoCannotApplyIt(t *testing.T) {
	t.Setenv("GODEBUG", "multipathtcp=2") // Go's default: MPTCP listeners
	if checkTCPMD5() == nil {
		t.Skip("listeners take MD5 keys here (no MPTCP in the kernel); TestMD5Session covers it")
	}
	n := fastNeighbor(netip.MustParseAddr("127.0.33.2"), netip.Addr{}, 0, testASN)
	n.Password = "p4evpn-md5"
	_, err := New(Config{RouterID: netip.MustParseAddr("127.0.33.1"), ASN: testASN, Neighbors: []Neighbor{n}}, WithLogger(testLogger(t)))
	if err == nil || !strings.Contains(err.Error(), "multipathtcp=0") {
		t.Fatalf("New with an MD5 password it cannot apply: err %v, want one naming multipathtcp=0", err)
	}
}

// TestEBGPSession: PEs in different ASes exchange EVPN routes directly; the
// route arrives with the originator's next hop and no ORIGINATOR_ID.
func TestEBGPSession(t *testing.T) {
	log := testLogger(t)
	a := netip.MustParseAddr("127.0.34.1")
	b := netip.MustParseAddr("127.0.34.2")
	port := freePort(t, a)
	na := fastNeighbor(b, a, 0, 65002)
	na.Passive = true
	sa := startSpeaker(t, log.With("node", "a"), Config{RouterID: a, ASN: 65001, ListenAddress: a, ListenPort: port,
		Neighbors: []Neighbor{na}, Import: ImportPolicy{RouteTargets: []route.RouteTarget{testRT}}})
	sb := startSpeaker(t, log.With("node", "b"), Config{RouterID: b, ASN: 65002,
		Neighbors: []Neighbor{fastNeighbor(a, b, port, 65001)}, Import: ImportPolicy{RouteTargets: []route.RouteTarget{testRT}}})
	waitPeerUp(t, sa, b)
	p := samplePaths(b)[2]
	if err := sb.Announce(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	evs := waitEvent(t, sa, "route over eBGP", func(ev Event) bool { return ev.Kind == PathAdd })
	ev := evs[len(evs)-1]
	want := p
	want.Attrs.NextHop = b
	if diff := cmp.Diff(want, ev.Path, pathOpts); diff != "" {
		t.Errorf("eBGP path (-want +got):\n%s", diff)
	}
	if ev.PeerASN != 65002 {
		t.Errorf("peer AS %d, want 65002", ev.PeerASN)
	}
}

// TestHoldTimerExpiryIsReported: a neighbor that goes silent (a dead PE whose
// TCP session stays open) is reported down when the negotiated 3 s hold time
// expires, and its routes are withdrawn after the PeerDown (GoBGP itself
// withdraws them before it reports the state change).
func TestHoldTimerExpiryIsReported(t *testing.T) {
	log := testLogger(t)
	sAddr := netip.MustParseAddr("127.0.35.1")
	rawAddr := netip.MustParseAddr("127.0.35.9")
	port := freePort(t, sAddr)
	n := fastNeighbor(rawAddr, sAddr, 0, testASN)
	n.Passive = true
	s := startSpeaker(t, log, Config{RouterID: sAddr, ASN: testASN, ListenAddress: sAddr, ListenPort: port,
		Neighbors: []Neighbor{n}, Import: ImportPolicy{All: true}})
	raw := dialRawHold(t, netip.AddrPortFrom(rawAddr, 0), netip.AddrPortFrom(sAddr, port), 3)
	raw.send(t, update(attrOrigin, attrASPath, attrRT, mpReach(netip.MustParseAddr("127.0.35.200"), rawMACIP(1, 0, nil, 0))))
	key := route.MACIP{RD: route.RD{Admin: route.Admin{ASN: testASN}, Assigned: 1}, MAC: route.MAC{0, 0, 0x5e, 0, 0x53, 1}}
	waitEvent(t, s, "route from the neighbor", func(ev Event) bool { return ev.Kind == PathAdd && route.Key(ev.Path.NLRI) == key })
	// The raw peer now sends nothing, not even keepalives.
	evs := waitEvent(t, s, "hold timer expiry", func(ev Event) bool { return ev.Kind == PeerDown && ev.Peer == rawAddr })
	if down := evs[len(evs)-1]; down.Reason != "hold-timer-expired" || down.PeerASN != testASN {
		t.Errorf("PeerDown reason %q AS %d, want hold-timer-expired AS %d", down.Reason, down.PeerASN, testASN)
	}
	waitEvent(t, s, "withdrawal of the dead neighbor's route", func(ev Event) bool {
		return ev.Kind == PathWithdraw && route.Key(ev.Path.NLRI) == key
	})
	raw.conn.Close()
}

// TestCloseStopsEverything: Close ends the event stream, refuses later
// calls, closes the listener and is idempotent.
func TestCloseStopsEverything(t *testing.T) {
	a := netip.MustParseAddr("127.0.37.1")
	port := freePort(t, a)
	s, err := New(Config{RouterID: a, ASN: testASN, ListenAddress: a, ListenPort: port}, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, open := <-s.Events(); open {
		t.Error("Events still open after Close")
	}
	p := samplePaths(a)[2]
	if err := s.Announce(context.Background(), p); !errors.Is(err, errClosed) {
		t.Errorf("Announce after Close: %v, want %v", err, errClosed)
	}
	if err := s.Withdraw(context.Background(), p.NLRI); !errors.Is(err, errClosed) {
		t.Errorf("Withdraw after Close: %v, want %v", err, errClosed)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The port is free again: GoBGP closed its listener.
	l, err := net.Listen("tcp", netip.AddrPortFrom(a, port).String())
	if err != nil {
		t.Fatalf("listen on the closed speaker's port: %v", err)
	}
	l.Close()
}

func TestNewRejectsBadConfig(t *testing.T) {
	id := netip.MustParseAddr("192.0.2.1")
	nb := Neighbor{Address: netip.MustParseAddr("192.0.2.2"), ASN: testASN}
	for _, tc := range []struct {
		desc    string
		cfg     Config
		wantErr string
	}{
		{desc: "no router id", cfg: Config{ASN: 1}, wantErr: "router id"},
		{desc: "IPv6 router id", cfg: Config{RouterID: netip.MustParseAddr("2001:db8::1"), ASN: 1}, wantErr: "router id 2001:db8::1"},
		{desc: "AS 0", cfg: Config{RouterID: id}, wantErr: "ASN 0"},
		{desc: "listen address without port", cfg: Config{RouterID: id, ASN: 1, ListenAddress: id}, wantErr: "without a listen port"},
		{desc: "restart time 0", cfg: Config{RouterID: id, ASN: 1, GracefulRestart: &GracefulRestart{}}, wantErr: "graceful restart time"},
		{desc: "neighbor twice", cfg: Config{RouterID: id, ASN: 1, Neighbors: []Neighbor{nb, nb}}, wantErr: "configured twice"},
		{desc: "neighbor AS 0", cfg: Config{RouterID: id, ASN: 1, Neighbors: []Neighbor{{Address: nb.Address}}}, wantErr: "neighbor 192.0.2.2: ASN 0"},
		{desc: "hold time 1 s", cfg: Config{RouterID: id, ASN: 1, Neighbors: []Neighbor{{Address: nb.Address, ASN: 1, HoldTime: time.Second}}}, wantErr: "hold time 1s"},
		{desc: "keepalive not below hold", cfg: Config{RouterID: id, ASN: 1, Neighbors: []Neighbor{{Address: nb.Address, ASN: 1, HoldTime: 9 * time.Second, KeepaliveInterval: 9 * time.Second}}}, wantErr: "keepalive 9s"},
		{desc: "local address of another family", cfg: Config{RouterID: id, ASN: 1, Neighbors: []Neighbor{{Address: nb.Address, ASN: 1, LocalAddress: netip.MustParseAddr("::1")}}}, wantErr: "another family"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s, err := New(tc.cfg, WithLogger(testLogger(t)))
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestEndOfRIBExpected: PeerUp says whether the neighbor will end its
// initial table with End-of-RIB, which it does exactly when both sides
// negotiated graceful restart for l2vpn-evpn; then the End-of-RIB arrives.
func TestEndOfRIBExpected(t *testing.T) {
	gr := &GracefulRestart{RestartTime: 30 * time.Second}
	for i, tc := range []struct {
		desc    string
		rrGR    *GracefulRestart
		peGR    *GracefulRestart
		want    bool
		wantEoR bool
	}{
		{desc: "both ends run graceful restart", rrGR: &GracefulRestart{RestartTime: 30 * time.Second, HelperOnly: true}, peGR: gr, want: true, wantEoR: true},
		{desc: "only the PE runs it", peGR: gr, want: false},
		{desc: "only the RR runs it", rrGR: gr, want: false},
		{desc: "neither", want: false},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			log := testLogger(t)
			rrAddr := netip.AddrFrom4([4]byte{127, 0, 39, byte(10*i + 1)})
			peAddr := netip.AddrFrom4([4]byte{127, 0, 39, byte(10*i + 2)})
			port := freePort(t, rrAddr)
			rr := startSpeaker(t, log.With("node", "rr"), Config{
				RouterID: rrAddr, ASN: testASN, ListenAddress: rrAddr, ListenPort: port,
				Neighbors: []Neighbor{rrClient(peAddr, rrAddr)}, GracefulRestart: tc.rrGR,
				Import: ImportPolicy{All: true},
			})
			pe := startSpeaker(t, log.With("node", "pe"), Config{
				RouterID: peAddr, ASN: testASN,
				Neighbors:       []Neighbor{fastNeighbor(rrAddr, peAddr, port, testASN)},
				GracefulRestart: tc.peGR,
			})
			waitPeerUp(t, rr, peAddr)
			evs := waitEvent(t, pe, "session to the RR up", func(ev Event) bool { return ev.Kind == PeerUp && ev.Peer == rrAddr })
			if got := evs[len(evs)-1].EndOfRIBExpected; got != tc.want {
				t.Errorf("PeerUp.EndOfRIBExpected = %v, want %v", got, tc.want)
			}
			if tc.wantEoR {
				waitEvent(t, pe, "End-of-RIB from the RR", func(ev Event) bool { return ev.Kind == EndOfRIB && ev.Peer == rrAddr })
			}
		})
	}
}
