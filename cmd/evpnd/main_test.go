package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	p4evpn "github.com/p4evpn/p4evpn"
	"github.com/p4evpn/p4evpn/config"
)

const waitLimit = 60 * time.Second

// build compiles the named command of this module into dir.
func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", out, pkg)
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
