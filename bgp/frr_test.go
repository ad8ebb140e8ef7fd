package bgp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/p4evpn/p4evpn/evpn/route"
)

const frrBGPD = "/usr/lib/frr/bgpd"

// frr is FRR's bgpd running as an l2vpn-evpn route reflector (FRR.md).
type frr struct {
	dir string
}

// startFRR starts bgpd on addr:port reflecting between clients, which it
// reaches on clientPort.
func startFRR(t testing.TB, addr netip.Addr, port uint16, clients []netip.Addr, clientPort uint16) *frr {
	t.Helper()
	if _, err := os.Stat(frrBGPD); err != nil {
		t.Skipf("FRR interop needs %s (apt-get install frr): %v", frrBGPD, err)
	}
	if os.Geteuid() != 0 {
		t.Skip("FRR interop runs bgpd with -S, which needs root")
	}
	dir := t.TempDir()
	var conf strings.Builder
	fmt.Fprintf(&conf, `frr defaults traditional
hostname rr
log file %s/bgpd.log
router bgp %d
 bgp router-id %s
 bgp cluster-id %s
 bgp allow-martian-nexthop
 no bgp default ipv4-unicast
 neighbor PE peer-group
 neighbor PE remote-as %d
 neighbor PE update-source %s
 neighbor PE timers 3 9
 neighbor PE timers connect 1
`, dir, testASN, addr, addr, testASN, addr)
	for _, c := range clients {
		fmt.Fprintf(&conf, " neighbor %s peer-group PE\n neighbor %s port %d\n", c, c, clientPort)
	}
	conf.WriteString(" address-family l2vpn evpn\n  neighbor PE activate\n  neighbor PE route-reflector-client\n exit-address-family\n")
	confPath := filepath.Join(dir, "bgpd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(frrBGPD, "-Z", "-n", "-S", "-l", addr.String(), "-p", fmt.Sprint(port), "-P", "0",
		"-f", confPath, "-i", filepath.Join(dir, "bgpd.pid"), "--vty_socket", dir+"/", "--log", "file:"+filepath.Join(dir, "bgpd.log"))
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start bgpd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "bgpd.log"))
			t.Logf("bgpd output:\n%s\nbgpd.log:\n%s", out, log)
		}
	})
	return &frr{dir: dir}
}

// vtysh runs a show command against this bgpd.
func (f *frr) vtysh(t testing.TB, command string) string {
	t.Helper()
	out, err := exec.Command("vtysh", "--vty_socket", f.dir+"/", "-c", command).CombinedOutput()
	if err != nil {
		t.Fatalf("vtysh %q: %v\n%s", command, err, out)
	}
	return string(out)
}

// paths counts the l2vpn-evpn paths FRR holds: its JSON maps each RD to
// its prefixes, each with a list of paths.
func (f *frr) paths(t *testing.T) (int, error) {
	out := f.vtysh(t, "show bgp l2vpn evpn json")
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		return 0, fmt.Errorf("parse %q: %w", out, err)
	}
	n := 0
	for _, raw := range top {
		var rd map[string]json.RawMessage
		if json.Unmarshal(raw, &rd) != nil {
			continue // scalars such as bgpTableVersion
		}
		for _, pfx := range rd {
			var p struct {
				Paths []json.RawMessage `json:"paths"`
			}
			if json.Unmarshal(pfx, &p) == nil {
				n += len(p.Paths)
			}
		}
	}
	return n, nil
}

// frrFabric is two GoBGP PEs around an FRR route reflector on 127.0.<net>.x.
func frrFabric(t *testing.T, net byte) (rr *frr, rrAddr, pe1Addr, pe2Addr netip.Addr, pe1, pe2 *Speaker) {
	t.Helper()
	rrAddr = netip.AddrFrom4([4]byte{127, 0, net, 1})
	pe1Addr = netip.AddrFrom4([4]byte{127, 0, net, 2})
	pe2Addr = netip.AddrFrom4([4]byte{127, 0, net, 3})
	rrPort := freePort(t, rrAddr)
	pePort := freePort(t, pe1Addr)
	rr = startFRR(t, rrAddr, rrPort, []netip.Addr{pe1Addr, pe2Addr}, pePort)
	log := testLogger(t)
	pe := func(a netip.Addr, name string) *Speaker {
		return startSpeaker(t, log.With("node", name), Config{
			RouterID: a, ASN: testASN, ListenAddress: a, ListenPort: pePort,
			Neighbors: []Neighbor{fastNeighbor(rrAddr, a, rrPort, testASN)},
			Import:    ImportPolicy{RouteTargets: []route.RouteTarget{testRT}, ESImport: []route.MAC{testESImp}},
		})
	}
	pe1, pe2 = pe(pe1Addr, "pe1"), pe(pe2Addr, "pe2")
	waitPeerUp(t, pe1, rrAddr)
	waitPeerUp(t, pe2, rrAddr)
	return rr, rrAddr, pe1Addr, pe2Addr, pe1, pe2
}

// TestFRRReflectorCarriesMACIPAndIMET: every route type PE1 originates
// reaches PE2 through FRR's bgpd as route reflector; RT-2 and RT-3 arrive
// exactly as sent, RT-4 with its DF Election community.
func TestFRRReflectorCarriesMACIPAndIMET(t *testing.T) {
	rr, rrAddr, pe1Addr, _, pe1, pe2 := frrFabric(t, 21)
	ctx := context.Background()
	all := samplePaths(pe1Addr)
	exact := []route.Path{all[2], all[3], all[4], all[5]} // RT-2 variants and RT-3
	for _, p := range all {
		if err := pe1.Announce(ctx, p); err != nil {
			t.Fatalf("announce %s: %v", p.NLRI, err)
		}
	}
	got := collectPaths(t, pe2, PathAdd, keysOf(all))
	t.Logf("FRR's view:\n%s", rr.vtysh(t, "show bgp l2vpn evpn"))
	for _, p := range exact {
		ev := got[route.Key(p.NLRI)]
		if ev.Peer != rrAddr {
			t.Errorf("%s came from %s, want FRR at %s", p.NLRI, ev.Peer, rrAddr)
		}
		if diff := cmp.Diff(reflected(p, pe1Addr), ev.Path, pathOpts); diff != "" {
			t.Errorf("%s through FRR (-want +got):\n%s", p.NLRI, diff)
		}
	}
	// RT-1 and RT-4 arrive too; FRR 8.4 may rewrite the RT-1 label (FRR.md),
	// which the speaker passes on as received for evpn/ to judge.
	for _, p := range []route.Path{all[0], all[1], all[6]} {
		ev := got[route.Key(p.NLRI)]
		t.Logf("through FRR: sent %s, received %s attrs %+v", p.NLRI, ev.Path.NLRI, ev.Path.Attrs)
		if l := ev.Path.Attrs.ESILabel; l != nil {
			t.Logf("through FRR: ESI label sent %+v, received %+v", *p.Attrs.ESILabel, *l)
		}
		if ev.Path.Attrs.OriginatorID != pe1Addr {
			t.Errorf("%s: ORIGINATOR_ID %s, want %s", p.NLRI, ev.Path.Attrs.OriginatorID, pe1Addr)
		}
	}
	// RT-4 with a DF Election community (RFC 8584): FRR reflects it and the
	// (patched) GoBGP at PE2 decodes it.
	for _, p := range dfElectionPaths(pe1Addr) {
		ev := got[route.Key(p.NLRI)]
		if diff := cmp.Diff(p.Attrs.DFElection, ev.Path.Attrs.DFElection); diff != "" {
			t.Errorf("%s: DF election through FRR (-want +got):\n%s", p.NLRI, diff)
		}
		if diff := cmp.Diff(p.Attrs.ESImport, ev.Path.Attrs.ESImport); diff != "" {
			t.Errorf("%s: ES-import through FRR (-want +got):\n%s", p.NLRI, diff)
		}
	}

	for _, p := range all {
		if err := pe1.Withdraw(ctx, p.NLRI); err != nil {
			t.Fatal(err)
		}
	}
	collectPaths(t, pe2, PathWithdraw, keysOf(all))
}

// TestFRRReflectedOwnRouteReplacesStalePath is the MAC move of FRR.md: two
// PEs advertise the same route key (same RD), the MAC moves from PE2 to PE1,
// FRR reflects PE1's route back to PE1 in place of PE2's, and GoBGP ignores
// that update (ORIGINATOR_ID loop) leaving PE2's old path in its RIB. When PE1
// then withdraws its route, that stale path must not be reported.
func TestFRRReflectedOwnRouteReplacesStalePath(t *testing.T) {
	rr, rrAddr, _, pe2Addr, pe1, pe2 := frrFabric(t, 22)
	ctx := context.Background()
	shared := route.MustRD("65000:100")
	mac := route.MACIP{RD: shared, MAC: route.MustMAC("00:00:5e:00:53:77"), Label1: 5000}
	atPE2 := route.Path{NLRI: mac, Attrs: route.Attributes{RouteTargets: []route.RouteTarget{testRT}}}
	atPE1 := route.Path{NLRI: mac, Attrs: route.Attributes{RouteTargets: []route.RouteTarget{testRT}, MACMobility: &route.MACMobility{Sequence: 1}}}

	if err := pe2.Announce(ctx, atPE2); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, pe1, "PE2's MAC at PE1", func(ev Event) bool { return ev.Kind == PathAdd && route.Key(ev.Path.NLRI) == route.Key(mac) })

	// The MAC moves to PE1; PE2 sees the higher sequence and withdraws.
	if err := pe1.Announce(ctx, atPE1); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, pe1, "PE1's own route replaces PE2's", func(ev Event) bool {
		return ev.Kind == PathWithdraw && route.Key(ev.Path.NLRI) == route.Key(mac)
	})
	poll(t, "FRR reflects PE1's route back to PE1", func() (bool, error) { return pe1.ownReflection(rrAddr, route.Key(mac)) })
	if err := pe2.Withdraw(ctx, mac); err != nil {
		t.Fatal(err)
	}
	poll(t, "FRR holds only PE1's path", func() (bool, error) {
		n, err := rr.paths(t)
		if err == nil && n != 1 {
			err = fmt.Errorf("%d paths:\n%s", n, rr.vtysh(t, "show bgp l2vpn evpn"))
		}
		return n == 1, err
	})

	// The MAC leaves PE1. PE2's old path is still in PE1's GoBGP RIB.
	if err := pe1.Withdraw(ctx, mac); err != nil {
		t.Fatal(err)
	}
	sentinel := route.Path{NLRI: route.MACIP{RD: route.AutoRD(pe2Addr, 100), MAC: route.MustMAC("00:00:5e:00:53:78"), Label1: 5000},
		Attrs: route.Attributes{RouteTargets: []route.RouteTarget{testRT}}}
	if err := pe2.Announce(ctx, sentinel); err != nil {
		t.Fatal(err)
	}
	evs := waitEvent(t, pe1, "sentinel after the withdrawal", func(ev Event) bool {
		return ev.Kind == PathAdd && route.Key(ev.Path.NLRI) == route.Key(sentinel.NLRI)
	})
	for _, ev := range evs {
		if ev.Kind == PathAdd && route.Key(ev.Path.NLRI) == route.Key(mac) {
			t.Errorf("PE1 reported PE2's stale path for %s after its own withdrawal: %+v", mac, ev)
		}
	}
	if got := pe1.Stats().StaleReflections; got != 1 {
		t.Errorf("StaleReflections = %d, want 1", got)
	}
}

// TestFRREndOfRIBWithGracefulRestart: with graceful restart configured, FRR
// ends its initial table transfer with End-of-RIB, which the speaker reports
// (without it FRR 8.4 sends none to GoBGP).
func TestFRREndOfRIBWithGracefulRestart(t *testing.T) {
	rrAddr := netip.AddrFrom4([4]byte{127, 0, 24, 1})
	peAddr := netip.AddrFrom4([4]byte{127, 0, 24, 2})
	rrPort := freePort(t, rrAddr)
	pePort := freePort(t, peAddr)
	startFRR(t, rrAddr, rrPort, []netip.Addr{peAddr}, pePort)
	pe := startSpeaker(t, testLogger(t), Config{
		RouterID: peAddr, ASN: testASN, ListenAddress: peAddr, ListenPort: pePort,
		Neighbors:       []Neighbor{fastNeighbor(rrAddr, peAddr, rrPort, testASN)},
		GracefulRestart: &GracefulRestart{RestartTime: 30 * time.Second},
		Import:          ImportPolicy{RouteTargets: []route.RouteTarget{testRT}},
	})
	evs := waitEvent(t, pe, "End-of-RIB from FRR", func(ev Event) bool { return ev.Kind == EndOfRIB })
	if ev := evs[len(evs)-1]; ev.Peer != rrAddr || ev.PeerASN != testASN {
		t.Errorf("End-of-RIB from %s AS %d, want FRR at %s AS %d", ev.Peer, ev.PeerASN, rrAddr, testASN)
	}
	for _, ev := range evs {
		if ev.Kind == PeerUp && !ev.EndOfRIBExpected {
			t.Errorf("PeerUp from FRR %s: EndOfRIBExpected false, want true (FRR negotiated graceful restart)", ev.Peer)
		}
	}
}

// BenchmarkRestartBehindFRR restarts a PE speaker behind FRR's bgpd as
// the route reflector, as evpnd's controller restart does: Close (Cease/
// Administrative Reset with the RFC 8538 N bit, which FRR 8.4 answers as a
// graceful-restart helper), then a new speaker with the same router id and
// the R bit. up-ms is the time from the new speaker's start to its session
// with FRR Established. FRR dials its clients too ("timers connect 1").
func BenchmarkRestartBehindFRR(b *testing.B) {
	rrAddr := netip.AddrFrom4([4]byte{127, 0, 38, 1})
	peAddr := netip.AddrFrom4([4]byte{127, 0, 38, 2})
	rrPort := freePort(b, rrAddr)
	pePort := freePort(b, peAddr)
	startFRR(b, rrAddr, rrPort, []netip.Addr{peAddr}, pePort)
	log := slog.New(slog.DiscardHandler)
	cfg := Config{
		RouterID: peAddr, ASN: testASN, ListenAddress: peAddr, ListenPort: pePort,
		Neighbors:       []Neighbor{fastNeighbor(rrAddr, peAddr, rrPort, testASN)},
		GracefulRestart: &GracefulRestart{RestartTime: 120 * time.Second, Notification: true},
	}
	pe, err := New(cfg, WithLogger(log))
	if err != nil {
		b.Fatal(err)
	}
	waitPeerUp(b, pe, rrAddr)
	restarted := cfg
	gr := *cfg.GracefulRestart
	gr.Restarting = true
	restarted.GracefulRestart = &gr
	var up time.Duration
	b.ResetTimer()
	for range b.N {
		if err := pe.Close(); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if pe, err = New(restarted, WithLogger(log)); err != nil {
			b.Fatal(err)
		}
		waitPeerUp(b, pe, rrAddr)
		up += time.Since(t0)
	}
	b.StopTimer()
	pe.Close()
	b.ReportMetric(float64(up.Milliseconds())/float64(b.N), "up-ms")
	b.ReportMetric(0, "ns/op")
}
