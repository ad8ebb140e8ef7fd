package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	p4evpn "github.com/p4evpn/p4evpn"
	"github.com/p4evpn/p4evpn/bgp"
	"github.com/p4evpn/p4evpn/config"
	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/softswitch"
	"github.com/p4evpn/p4evpn/testbed"
)

const waitLimit = 60 * time.Second

// build compiles the named command of this module into dir.
func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH to build %s: %v", pkg, err)
	}
	cmd := exec.Command(gobin, "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// TestProcess runs evpnd as a process from a config file, as a PE of an
// in-process route reflector: its BGP session comes up, /metrics and the
// operator API answer, evpnctl prints them, and SIGTERM ends it with exit
// status 0.
func TestProcess(t *testing.T) {
	dir := t.TempDir()
	evpnd := build(t, dir, "github.com/p4evpn/p4evpn/cmd/evpnd")
	evpnctl := build(t, dir, "github.com/p4evpn/p4evpn/cmd/evpnctl")

	rrCfg, err := config.Parse([]byte(`
name: rr
mode: route-reflector
router-id: 127.0.11.100
asn: 65000
bgp:
  listen: 127.0.11.100:10179
  neighbors:
    - {address: 127.0.11.1, route-reflector-client: true, passive: true, hold-time: 3s, keepalive: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	rr, err := p4evpn.New(rrCfg, p4evpn.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := rr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer rr.Close()

	cfgPath := filepath.Join(dir, "pe.yaml")
	if err := os.WriteFile(cfgPath, []byte(`
name: pe9
router-id: 127.0.11.1
asn: 65000
bgp:
  neighbors:
    - {address: 127.0.11.100, port: 10179, local-address: 127.0.11.1, hold-time: 3s, keepalive: 1s, connect-retry: 1s}
target:
  election-id-file: `+filepath.Join(dir, "election-id")+`
ports:
  - {id: 1, kind: access}
  - {id: 10, kind: core}
core: {port: 10, source-mac: "02:00:00:00:09:0a", next-hop-mac: "02:00:00:00:ff:0a"}
evis:
  - id: 100
    attachment-circuits:
      - {id: 1, port: 1, vlan: 100}
    static-macs:
      - {mac: "02:00:00:00:00:fe", ac: 1}
metrics: 127.0.0.1:0
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(evpnd, "--config", cfgPath, "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	defer func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	// The metrics address is in the structured "evpnd started" record.
	addrCh := make(chan string, 1)
	logs := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil {
				t.Errorf("evpnd wrote a line that is not JSON: %q", line)
				continue
			}
			if rec["msg"] == "evpnd started" {
				addrCh <- fmt.Sprint(rec["metrics"])
			}
			select {
			case logs <- line:
			default:
			}
		}
		close(logs)
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case <-ctx.Done():
		t.Fatal("evpnd did not start")
	}

	ctl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(evpnctl, append([]string{"--addr", addr}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("evpnctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(ctl("show", "bgp", "summary"), "established") {
		if time.Now().After(deadline) {
			t.Fatalf("the session to the RR never came up:\n%s", ctl("show", "bgp", "summary"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{args: []string{"show", "bgp", "summary"}, want: []string{"NEIGHBOR", "127.0.11.100", "established", "local AS 65000"}},
		{args: []string{"show", "evpn", "mac", "100"}, want: []string{"EVI", "02:00:00:00:00:fe", "static", "ac 1", "1 MACs"}},
		{args: []string{"show", "evpn", "es"}, want: []string{"NAME", "ESI"}},
		{args: []string{"show", "p4", "table", "ingress.fdb"}, want: []string{"table ingress.fdb: 1 entries", "bd=100 mac=02:00:00:00:00:fe", "ingress.to_local_ac", "ac=1"}},
	} {
		out := ctl(tc.args...)
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("evpnctl %s: output lacks %q:\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
	}
	if out, err := exec.Command(evpnctl, "--addr", addr, "show", "p4", "table", "no.such").CombinedOutput(); err == nil || !strings.Contains(string(out), "no.such") {
		t.Errorf("evpnctl show p4 table no.such: err %v, output %q; want an error naming the table", err, out)
	}

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range []string{
		`evpnd_evi_macs{evi="100",evpnd="pe9"} 1`,
		`evpnd_bgp_session_established{evpnd="pe9",neighbor="127.0.11.100",state="established"} 1`,
		`p4asic_write_seconds_count`,
		`evpnd_evpn_events_total{event="learned",evpnd="pe9"}`,
	} {
		if !strings.Contains(string(body), w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range logs {
	}
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Errorf("evpnd after SIGTERM: %v, want exit status 0", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "election-id")); err != nil || strings.TrimSpace(string(b)) != "1" {
		t.Errorf("election id file holds %q (%v), want 1 after the first start", b, err)
	}
}

// proc is a running evpnd process whose JSON log the test reads.
type proc struct {
	cmd     *exec.Cmd
	metrics string
	// records carries every log record.
	records chan map[string]any
	done    chan struct{}
}

func startProc(t *testing.T, bin, cfgPath string, flags ...string) *proc {
	t.Helper()
	args := append([]string{"--config", cfgPath, "--log-format", "json"}, flags...)
	p := &proc{cmd: exec.Command(bin, args...), records: make(chan map[string]any, 4096), done: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan string, 1)
	lines := make(chan string, 64)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			if rec["msg"] == "evpnd started" {
				started <- fmt.Sprint(rec["metrics"])
			}
			select {
			case p.records <- rec:
			default:
			}
		}
	}()
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait(); <-p.done })
	select {
	case p.metrics = <-started:
	case <-p.done:
		var b strings.Builder
		for len(lines) > 0 {
			b.WriteString(<-lines + "\n")
		}
		t.Fatalf("evpnd exited; its log:\n%s", b.String())
	case <-time.After(waitLimit):
		var b strings.Builder
		for len(lines) > 0 {
			b.WriteString(<-lines + "\n")
		}
		t.Fatalf("evpnd did not start; its first log lines:\n%s", b.String())
	}
	return p
}

// waitRecord returns the first log record with message msg.
func (p *proc) waitRecord(t *testing.T, msg string) map[string]any {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case rec := <-p.records:
			if rec["msg"] == msg {
				return rec
			}
		case <-timeout:
			t.Fatalf("evpnd never logged %q", msg)
		}
	}
}

// metric sums the samples of the named metric on the process's /metrics.
func (p *proc) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}

// TestKillRestart is issue 10's scenario 6 with real processes: PE2's
// evpnd programs a softswitch target that lives outside it; under a
// steady ping between host A (PE1) and host B (PE2), evpnd is killed with
// SIGKILL and started again. Graceful restart keeps PE2's routes at the RR
// meanwhile; the new evpnd adopts the target's state and reconciles with
// zero P4Runtime writes; no ping is lost.
func TestKillRestart(t *testing.T) {
	dir := t.TempDir()
	evpnd := build(t, dir, "github.com/p4evpn/p4evpn/cmd/evpnd")
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitLimit)
	defer cancel()

	rrCfg, err := config.Parse([]byte(`
name: rr
mode: route-reflector
router-id: 127.0.12.100
asn: 65000
bgp:
  listen: 127.0.12.100:10179
  graceful-restart: 60s
  neighbors:
    - {address: 127.0.12.1, route-reflector-client: true, passive: true, hold-time: 3s, keepalive: 1s}
    - {address: 127.0.12.2, route-reflector-client: true, passive: true, hold-time: 3s, keepalive: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	rr := startDaemon(t, ctx, rrCfg, p4evpn.WithLogger(log))

	pe := func(n int, extra string) string {
		return fmt.Sprintf(`
name: pe%[1]d
router-id: 127.0.12.%[1]d
asn: 65000
bgp:
  graceful-restart: 60s
  neighbors:
    - {address: 127.0.12.100, port: 10179, local-address: 127.0.12.%[1]d, hold-time: 3s, keepalive: 1s, connect-retry: 1s}
ports:
  - {id: 1, kind: access}
  - {id: 10, kind: core}
core: {port: 10, source-mac: "02:00:00:00:0%[1]d:0a", next-hop-mac: "02:00:00:00:0%[2]d:0a"}
labels: {first: %[1]d00000, last: %[1]d00999}
timers: {restart-settle: 500ms}
evis:
  - id: 100
    attachment-circuits:
      - {id: 1, port: 1, vlan: 100}
%[3]s`, n, 3-n, extra)
	}
	coreA, coreB := softswitch.NewLink(1024)
	eng1, acc1 := engine(t, coreA)
	eng2, acc2 := engine(t, coreB)
	pe1Cfg, err := config.Parse([]byte(pe(1, "")))
	if err != nil {
		t.Fatal(err)
	}
	startDaemon(t, ctx, pe1Cfg, p4evpn.WithLogger(log), p4evpn.WithSoftswitch(eng1))
	tgt, err := p4evpn.NewEmbeddedTarget(eng2, "127.0.0.1:0", 1, log)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	cfgPath := filepath.Join(dir, "pe2.yaml")
	if err := os.WriteFile(cfgPath, []byte(pe(2, fmt.Sprintf("target: {address: %q, device-id: 1, election-id-file: %q}\nmetrics: 127.0.0.1:0\n",
		tgt.Addr().String(), filepath.Join(dir, "pe2.election-id")))), 0o644); err != nil {
		t.Fatal(err)
	}
	first := startProc(t, evpnd, cfgPath)
	for deadline := time.Now().Add(waitLimit); !sessionsUp(rr, 2); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the RR's sessions never came up")
		}
	}
	hostA := goHost(t, "A", acc1, "02:00:00:00:aa:01", "10.0.0.1/24")
	goHost(t, "B", acc2, "02:00:00:00:bb:02", "10.0.0.2/24")
	if res, err := hostA.Ping(ctx, netip.MustParseAddr("10.0.0.2"), 3, 20*time.Millisecond, 5*time.Second); err != nil || res.Received != 3 {
		t.Fatalf("ping A->B before the restart: %+v, %v", res, err)
	}

	// Steady ping from A to B across the kill and the restart.
	stop := make(chan struct{})
	type tally struct{ sent, received int }
	result := make(chan tally, 1)
	go func() {
		var tl tally
		defer func() { result <- tl }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := hostA.Ping(ctx, netip.MustParseAddr("10.0.0.2"), 10, 10*time.Millisecond, time.Second)
			tl.sent += res.Sent
			tl.received += res.Received
			if err != nil {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // traffic before the kill
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	killedAt := time.Now()
	second := startProc(t, evpnd, cfgPath)
	rec := second.waitRecord(t, "restart reconciliation done")
	reconciledIn := time.Since(killedAt)
	time.Sleep(300 * time.Millisecond) // traffic after the reconciliation
	close(stop)
	tl := <-result

	if fmt.Sprint(rec["updates"]) != "0" {
		t.Errorf("the restarted evpnd reconciled with %v updates, want 0", rec["updates"])
	}
	if w := second.metric(t, "p4asic_write_seconds_count"); w != 0 {
		t.Errorf("the restarted evpnd made %v P4Runtime writes, want 0", w)
	}
	if tl.sent == 0 || tl.received != tl.sent {
		t.Errorf("steady ping across kill -9 and restart: %d sent, %d received, want none lost", tl.sent, tl.received)
	}
	t.Logf("kill -9 to reconciliation: %v; pings %d sent, %d received", reconciledIn.Round(time.Millisecond), tl.sent, tl.received)
}

// TestLeaveService stops an evpnd process, a PE of an in-process route
// reflector, graceful restart with the RFC 8538 N bit on both sides and a
// restart time (120 s) longer than the test waits. SIGTERM by default is a
// controller restart: the RR keeps the PE's routes (stale). With
// --on-sigterm=shutdown, or on POST /api/shutdown whatever the flag, the PE
// leaves service: the RR has dropped its routes by the time it records
// the session's end (one step of GoBGP's server loop), and evpnd exits
// with status 0 on its own after the API call.
func TestLeaveService(t *testing.T) {
	dir := t.TempDir()
	evpnd := build(t, dir, "github.com/p4evpn/p4evpn/cmd/evpnd")
	tests := []struct {
		desc  string
		flags []string
		// stop ends the process, or asks it to end.
		stop     func(t *testing.T, p *proc)
		wantKept bool
	}{
		{desc: "SIGTERM: restart", wantKept: true, stop: sigterm},
		{desc: "SIGTERM with --on-sigterm=shutdown", flags: []string{"--on-sigterm", "shutdown"}, stop: sigterm},
		{desc: "POST /api/shutdown", stop: func(t *testing.T, p *proc) {
			resp, err := http.Post("http://"+p.metrics+"/api/shutdown", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"left_service": true`) {
				t.Errorf("POST /api/shutdown: %s %s, want 200 and left_service", resp.Status, body)
			}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			rrAddr := netip.AddrFrom4([4]byte{127, 0, 15, byte(10*i + 100)})
			peAddr := netip.AddrFrom4([4]byte{127, 0, 15, byte(10*i + 1)})
			port := freePort(t, rrAddr)
			rrCfg, err := config.Parse([]byte(fmt.Sprintf(`
name: rr
mode: route-reflector
router-id: %[1]s
asn: 65000
bgp:
  listen: %[1]s:%[2]d
  graceful-restart: 120s
  neighbors:
    - {address: %[3]s, route-reflector-client: true, passive: true, hold-time: 3s, keepalive: 1s}
`, rrAddr, port, peAddr)))
			if err != nil {
				t.Fatal(err)
			}
			rr := startDaemon(t, ctx, rrCfg, p4evpn.WithLogger(slog.New(slog.DiscardHandler)))
			cfgPath := filepath.Join(dir, fmt.Sprintf("pe%d.yaml", i))
			if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
name: pe
router-id: %[1]s
asn: 65000
bgp:
  graceful-restart: 120s
  neighbors:
    - {address: %[2]s, port: %[3]d, local-address: %[1]s, hold-time: 3s, keepalive: 1s, connect-retry: 1s}
ports:
  - {id: 1, kind: access}
  - {id: 10, kind: core}
core: {port: 10, source-mac: "02:00:00:00:09:0a", next-hop-mac: "02:00:00:00:ff:0a"}
evis:
  - id: 100
    attachment-circuits:
      - {id: 1, port: 1, vlan: 100}
    static-macs:
      - {mac: "02:00:00:00:00:fe", ac: 1}
metrics: 127.0.0.1:0
`, peAddr, rrAddr, port)), 0o644); err != nil {
				t.Fatal(err)
			}
			p := startProc(t, evpnd, cfgPath, tc.flags...)
			// The PE's inclusive multicast and static MAC routes, reported
			// by the RR's speaker: GoBGP's watcher, which reads the paths'
			// stale flag, is done with them before the PE stops and the
			// server loop marks them stale (a data race in GoBGP v3.37.0).
			const fromPE = 2
			for deadline := time.Now().Add(waitLimit); rrRIB(t, rr).Reported != fromPE; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the RR never reported the PE's %d routes: %+v", fromPE, rrRIB(t, rr))
				}
			}

			tc.stop(t, p)
			if err := p.cmd.Wait(); err != nil {
				t.Errorf("evpnd: %v, want exit status 0", err)
			}
			for deadline := time.Now().Add(waitLimit); sessionsUp(rr, 1); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the RR never saw the PE's session end")
				}
			}
			want := uint64(0)
			if tc.wantKept {
				want = fromPE
			}
			if got := rrRIB(t, rr).Paths; got != want {
				t.Errorf("after the PE stopped the RR holds %d paths, want %d (kept %v)", got, want, tc.wantKept)
			}
		})
	}
}

func sigterm(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// rrRIB is d's RIB summary.
func rrRIB(t *testing.T, d *p4evpn.Daemon) bgp.RIBState {
	t.Helper()
	r, err := d.Speaker().RIB(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// freePort returns a TCP port that was free on addr a moment ago.
func freePort(t *testing.T, addr netip.Addr) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Fatalf("find a free port on %s: %v", addr, err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func startDaemon(t *testing.T, ctx context.Context, cfg *config.Config, opts ...p4evpn.Option) *p4evpn.Daemon {
	t.Helper()
	d, err := p4evpn.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func sessionsUp(d *p4evpn.Daemon, n int) bool {
	nbs, err := d.Speaker().Neighbors(context.Background())
	if err != nil {
		return false
	}
	up := 0
	for _, nb := range nbs {
		if nb.State == bgp.StateEstablished {
			up++
		}
	}
	return up == n
}

// engine is a softswitch with access port 1 (its host end returned) and
// core port 10 on core.
func engine(t *testing.T, core *softswitch.MemPort) (*softswitch.Switch, *softswitch.MemPort) {
	t.Helper()
	sw := softswitch.New(softswitch.Config{CPUPort: p4.CPUPort, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { sw.Close() })
	a, b := softswitch.NewLink(1024)
	if err := sw.AddPort(1, a, ""); err != nil {
		t.Fatal(err)
	}
	if err := sw.AddPort(10, core, ""); err != nil {
		t.Fatal(err)
	}
	return sw, b
}

// goHost is a Go host on VLAN 100 behind port.
func goHost(t *testing.T, name string, port *softswitch.MemPort, mac, addr string) *testbed.Host {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	h, err := testbed.NewHost(name, hw, netip.MustParsePrefix(addr), 100, port.Write, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			f, err := port.Recv(ctx)
			if err != nil {
				return
			}
			h.Deliver(f)
		}
	}()
	t.Cleanup(func() { cancel(); <-done; h.Close() })
	return h
}
