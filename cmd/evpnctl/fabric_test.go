package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	p4evpn "github.com/p4evpn/p4evpn"
	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/bgp"
	"github.com/p4evpn/p4evpn/config"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/softswitch"
	"github.com/p4evpn/p4evpn/testbed"
)

// The fabric of these tests: a route reflector and two PEs, real evpnd
// Daemons from YAML with real BGP on a loopback /24 picked per run
// (127.X.Y.0, X in 100-199, Y from the pid, so that concurrent runs and
// other packages' fabrics do not collide). Each PE runs the compiled P4
// program on its own softswitch; the core ports are joined by an in-memory
// link and Go hosts send frames into the access ports. Both PEs share an
// Ethernet segment on port 2. PE1 and the RR serve gNMI in plaintext with
// no users; PE2 serves TLS (a certificate made here) and checks users.

// waitLimit bounds how long a test waits for something that must happen;
// it is no timed assertion.
const waitLimit = 30 * time.Second

const (
	asn      = 65000
	bgpPort  = 10179
	esName   = "es1"
	esiText  = "00:11:22:33:44:55:66:77:88:99"
	evi      = 100
	password = "noc-secret"
)

var (
	macA = route.MustMAC("02:00:00:00:aa:01") // host A on PE1 port 1
	macB = route.MustMAC("02:00:00:00:bb:02") // host B on PE2 port 1
	macM = route.MustMAC("02:00:00:00:cc:03") // host M on the segment, seen by PE1
	macD = route.MustMAC("02:00:00:00:dd:04") // moves between PE1 and PE2 until frozen
)

// frame is a broadcast on VLAN evi from mac (802.1Q, a local
// experimental EtherType, minimum size).
func frame(mac route.MAC) []byte {
	f := make([]byte, 64)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:], mac[:])
	copy(f[12:], []byte{0x81, 0x00, byte(evi >> 8), byte(evi & 0xff), 0x88, 0xb5})
	return f
}

// macState is pe's entry for mac in EVI evi.
func macState(pe *p4evpn.Daemon, mac route.MAC) (evpn.MACState, bool) {
	table, err := pe.PE().MACTable(evi)
	if err != nil {
		return evpn.MACState{}, false
	}
	for _, m := range table {
		if m.MAC == mac {
			return m, true
		}
	}
	return evpn.MACState{}, false
}

func quiet() *slog.Logger {
	if os.Getenv("P4EVPN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// fabric is the running RR and PEs (index 1 and 2) with what a test needs
// to reach them.
type fabric struct {
	net     string // "127.X.Y"
	rr      *p4evpn.Daemon
	pe      [3]*p4evpn.Daemon
	engines [3]*engine
	caFile  string // PE2's certificate, to verify it
}

func (f *fabric) addr(n int) string { return fmt.Sprintf("%s.%d", f.net, n) }

// peArgs are the gNMI flags that reach PE n.
func (f *fabric) peArgs(n int) []string {
	a := []string{"--gnmi", f.pe[n].GNMIAddr().String()}
	if n == 1 {
		return append(a, "--plaintext")
	}
	return append(a, "--ca", f.caFile, "--username", "noc")
}

// env is PE2's password in the environment, where an operator keeps it.
func env(name string) string {
	if name == "EVPNCTL_PASSWORD" {
		return password
	}
	return ""
}

func parse(t testing.TB, yaml string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	return c
}

func start(t testing.TB, cfg *config.Config, opts ...p4evpn.Option) *p4evpn.Daemon {
	t.Helper()
	d, err := p4evpn.New(cfg, append([]p4evpn.Option{p4evpn.WithLogger(quiet())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatalf("%s: Start: %v", cfg.Name, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("%s: Close: %v", cfg.Name, err)
		}
	})
	return d
}

// engine is a PE's softswitch and its access ports' host ends.
type engine struct {
	sw     *softswitch.Switch
	access map[uint32]*softswitch.MemPort
}

func newEngine(t testing.TB, core *softswitch.MemPort) *engine {
	t.Helper()
	e := &engine{sw: softswitch.New(softswitch.Config{CPUPort: p4.CPUPort, Logger: quiet()}), access: map[uint32]*softswitch.MemPort{}}
	t.Cleanup(func() { e.sw.Close() })
	for _, p := range []uint32{1, 2} {
		a, b := softswitch.NewLink(1024)
		if err := e.sw.AddPort(p, a, ""); err != nil {
			t.Fatal(err)
		}
		e.access[p] = b
	}
	if err := e.sw.AddPort(10, core, ""); err != nil {
		t.Fatal(err)
	}
	return e
}

// host attaches a Go host to an access port's host end.
func host(t testing.TB, name string, port *softswitch.MemPort, mac route.MAC, addr string) *testbed.Host {
	t.Helper()
	h, err := testbed.NewHost(name, net.HardwareAddr(mac[:]), netip.MustParsePrefix(addr), evi, port.Write, quiet())
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

// waitFor polls cond until it holds or waitLimit passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evpnd pe2"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "pe2.pem"), filepath.Join(dir, "pe2.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// peConfig is PE n: access ports 1 and 2, core port 10, EVI 100 with an AC
// on each access port, the one on port 2 on the segment.
func (f *fabric) peConfig(t testing.TB, n int, gnmiYAML string) *config.Config {
	t.Helper()
	return parse(t, fmt.Sprintf(`
name: pe%[1]d
router-id: %[2]s.%[1]d
asn: %[3]d
bgp:
  neighbors:
    - {address: %[2]s.100, port: %[4]d, local-address: %[2]s.%[1]d, hold-time: 3s, keepalive: 1s, connect-retry: 1s}
target:
  device-id: 1
ports:
  - {id: 1, kind: access}
  - {id: 2, kind: access}
  - {id: 10, kind: core}
core:
  port: 10
  source-mac: 02:00:00:00:0%[1]d:0a
  next-hop-mac: 02:00:00:00:0%[5]d:0a
labels: {first: %[1]d00000, last: %[1]d00999}
timers:
  election-timer: 200ms
  duplicate-moves: 2 # the frozen-MAC test freezes D in two moves
  telemetry-interval: 1m # no GoBGP call before every speaker started (see newFabric)
ethernet-segments:
  - {name: %[6]s, esi: "%[7]s"}
evis:
  - id: %[8]d
    attachment-circuits:
      - {id: 1, port: 1, vlan: %[8]d}
      - {id: 2, port: 2, vlan: %[8]d, ethernet-segment: %[6]s}
metrics: 127.0.0.1:0
%[9]s`, n, f.net, asn, bgpPort, 3-n, esName, esiText, evi, gnmiYAML))
}

func newFabric(t testing.TB) *fabric {
	t.Helper()
	f := &fabric{net: fmt.Sprintf("127.%d.%d", 100+mrand.IntN(100), os.Getpid()%256)}
	certFile, keyFile := selfSigned(t, t.TempDir())
	f.caFile = certFile
	a, b := softswitch.NewLink(1024)
	f.engines[1], f.engines[2] = newEngine(t, a), newEngine(t, b)
	f.pe[1] = start(t, f.peConfig(t, 1, "gnmi: {listen: 127.0.0.1:0, plaintext: true}"), p4evpn.WithSoftswitch(f.engines[1].sw))
	f.pe[2] = start(t, f.peConfig(t, 2, fmt.Sprintf(`gnmi:
  listen: 127.0.0.1:0
  cert: %s
  key: %s
  users:
    - {name: noc, password: %s}`, certFile, keyFile, password)), p4evpn.WithSoftswitch(f.engines[2].sw))
	// The RR starts last: GoBGP's StartBgp writes package variables every
	// GoBGP server reads, so no speaker may start once routes flow.
	f.rr = start(t, parse(t, fmt.Sprintf(`
name: rr
mode: route-reflector
router-id: %[1]s.100
asn: %[2]d
bgp:
  listen: %[1]s.100:%[3]d
  neighbors:
    - {address: %[1]s.1, route-reflector-client: true, passive: true, hold-time: 3s, keepalive: 1s}
    - {address: %[1]s.2, route-reflector-client: true, passive: true, hold-time: 3s, keepalive: 1s}
gnmi: {listen: 127.0.0.1:0, plaintext: true}
metrics: 127.0.0.1:0
`, f.net, asn, bgpPort)))
	waitFor(t, "the RR's sessions to both PEs", func() bool {
		nbs, err := f.rr.Speaker().Neighbors(context.Background())
		up := 0
		for _, nb := range nbs {
			if nb.State == bgp.StateEstablished {
				up++
			}
		}
		return err == nil && up == 2
	})
	// A gratuitous ARP from each host makes its PE learn its MAC; M sits
	// on the segment but its frames reach PE1 only.
	for _, h := range []*testbed.Host{
		host(t, "A", f.engines[1].access[1], macA, "10.0.0.1/24"),
		host(t, "B", f.engines[2].access[1], macB, "10.0.0.2/24"),
		host(t, "M", f.engines[1].access[2], macM, "10.0.0.3/24"),
	} {
		if err := h.GratuitousARP(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// ctl runs evpnctl with args and returns its output.
func ctl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	err := run(ctx, args, &out, env)
	return out.String(), err
}

// ctlJSON runs evpnctl --json and decodes its output into v.
func ctlJSON(t testing.TB, v any, args ...string) error {
	t.Helper()
	out, err := ctl(t, append([]string{"--json"}, args...)...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("evpnctl --json %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// eventually runs got until it equals want (go-cmp with opts): gNMI state
// follows the PE asynchronously. An error fails at once; on timeout it
// fails with the last diff.
func eventually[T any](t *testing.T, what string, want T, got func() (T, error), opts ...cmp.Option) T {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		v, err := got()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		diff := cmp.Diff(want, v, opts...)
		if diff == "" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: gave up waiting; last diff (-want +got):\n%s", what, diff)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// parseTable splits the aligned table under the header line that starts
// with firstColumn into rows of column name to cell. Columns start where a
// header word follows two spaces (cells may hold single spaces); the table
// ends at the first line without a two-space gap.
func parseTable(t testing.TB, out, firstColumn string) []map[string]string {
	t.Helper()
	lines := strings.Split(out, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, firstColumn) })
	if start < 0 {
		t.Fatalf("no table with column %s in:\n%s", firstColumn, out)
	}
	header := lines[start]
	starts := []int{0}
	for i := 2; i < len(header); i++ {
		if header[i] != ' ' && header[i-1] == ' ' && header[i-2] == ' ' {
			starts = append(starts, i)
		}
	}
	cell := func(l string, k int) string {
		if starts[k] >= len(l) {
			return ""
		}
		end := len(l)
		if k+1 < len(starts) {
			end = min(end, starts[k+1])
		}
		return strings.TrimSpace(l[starts[k]:end])
	}
	rows := []map[string]string{}
	for _, l := range lines[start+1:] {
		if !strings.Contains(l, "  ") {
			break
		}
		row := map[string]string{}
		for k := range starts {
			row[cell(header, k)] = cell(l, k)
		}
		rows = append(rows, row)
	}
	return rows
}

// remoteLabel is the service label pe forwards mac with when it sends it
// to one remote PE (FromEVPNMAC publishes no label for an aliasing group
// or a local link).
func remoteLabel(t testing.TB, pe *p4evpn.Daemon, mac route.MAC) uint32 {
	t.Helper()
	table, err := pe.PE().MACTable(evi)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range table {
		if m.MAC == mac && m.Dest.Kind == asic.ToRemotePE {
			return m.Dest.Label
		}
	}
	return 0
}

func u32(x uint32) *uint32 { return &x }

func TestFabric(t *testing.T) {
	f := newFabric(t)
	// The PEs' cores learn A and M (PE1) and B (PE2) from frames and each
	// other's from BGP before gNMI is asked.
	for _, pe := range []int{1, 2} {
		waitFor(t, fmt.Sprintf("PE%d to know A, B and M", pe), func() bool {
			table, err := f.pe[pe].PE().MACTable(evi)
			n := 0
			for _, m := range table {
				if m.MAC == macA || m.MAC == macB || m.MAC == macM {
					n++
				}
			}
			return err == nil && n == 3
		})
	}
	esi := esiText

	t.Run("show evpn mac", func(t *testing.T) {
		for _, tc := range []struct {
			desc string
			pe   int
			want func() []macRow
		}{{
			desc: "PE1: A and M local, B from PE2",
			pe:   1,
			want: func() []macRow {
				return []macRow{
					{NetworkInstance: "evi100", EVI: evi, VLAN: evi, MAC: macA.String(), Source: "local", Interface: "eth1.100",
						NextHops: []nextHop{{Interface: "eth1", Subinterface: u32(100), Resolved: true}}},
					{NetworkInstance: "evi100", EVI: evi, VLAN: evi, MAC: macB.String(), Source: "remote",
						NextHops: []nextHop{{Peer: f.addr(2), Label: remoteLabel(t, f.pe[1], macB), Resolved: true}}},
					{NetworkInstance: "evi100", EVI: evi, VLAN: evi, MAC: macM.String(), Source: "local", ESI: esi, Interface: "eth2.100",
						NextHops: []nextHop{{Interface: "eth2", Subinterface: u32(100), ESI: esi, Resolved: true}}},
				}
			},
		}, {
			desc: "PE2 over TLS with a user: A from PE1, B local, M sent on its own link to the segment",
			pe:   2,
			want: func() []macRow {
				return []macRow{
					{NetworkInstance: "evi100", EVI: evi, VLAN: evi, MAC: macA.String(), Source: "remote",
						NextHops: []nextHop{{Peer: f.addr(1), Label: remoteLabel(t, f.pe[2], macA), Resolved: true}}},
					{NetworkInstance: "evi100", EVI: evi, VLAN: evi, MAC: macB.String(), Source: "local", Interface: "eth1.100",
						NextHops: []nextHop{{Interface: "eth1", Subinterface: u32(100), Resolved: true}}},
					{NetworkInstance: "evi100", EVI: evi, VLAN: evi, MAC: macM.String(), Source: "remote", ESI: esi, Interface: "eth2.100",
						NextHops: []nextHop{{Peer: f.addr(1), Label: remoteLabel(t, f.pe[2], macM), ESI: esi, Resolved: true}}},
				}
			},
		}} {
			t.Run(tc.desc, func(t *testing.T) {
				want := tc.want()
				for _, m := range want {
					if m.Source == "remote" && m.ESI == "" && m.NextHops[0].Label == 0 {
						t.Fatalf("%s's entry for %s has no remote label", f.pe[tc.pe].Config().Name, m.MAC)
					}
				}
				for _, args := range [][]string{{"show", "evpn", "mac"}, {"show", "evpn", "mac", "100"}} {
					eventually(t, strings.Join(args, " "), want, func() ([]macRow, error) {
						var rows []macRow
						err := ctlJSON(t, &rows, append(f.peArgs(tc.pe), args...)...)
						return rows, err
					})
				}
				// The table shows the same rows.
				out, err := ctl(t, append(f.peArgs(tc.pe), "show", "evpn", "mac")...)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("evpnctl show evpn mac:\n%s", out)
				got := parseTable(t, out, "EVI")
				wantTable := []map[string]string{}
				for _, m := range want {
					wantTable = append(wantTable, map[string]string{"EVI": "100", "MAC": m.MAC, "VLAN": "100", "SOURCE": m.Source, "SEQ": "0",
						"ESI": dash(m.ESI), "FLAGS": "-", "NEXT HOP": m.nextHopText()})
				}
				if diff := cmp.Diff(wantTable, got); diff != "" {
					t.Errorf("show evpn mac table (-want +got):\n%s\n%s", diff, out)
				}
				if !strings.HasSuffix(out, "3 MACs\n") {
					t.Errorf("show evpn mac does not end with the count 3 MACs:\n%s", out)
				}
			})
		}
		if got := (macRow{Interface: "eth2.100", NextHops: []nextHop{{Peer: "192.0.2.1", Resolved: true}}}).nextHopText(); got != "eth2.100 (aliasing 192.0.2.1)" {
			t.Errorf("next hop of a remote MAC on a local link = %q", got)
		}
	})

	t.Run("show evpn es", func(t *testing.T) {
		for _, pe := range []int{1, 2} {
			want := []segmentRow{{Name: esName, ESI: esi, ESIType: "TYPE_0_OPERATOR_CONFIGURED", Redundancy: "ALL_ACTIVE", DFMethod: "DEFAULT",
				Interface: "eth2", DF: []dfRow{{VLAN: evi, DF: f.addr(1), Local: pe == 1}}}}
			eventually(t, fmt.Sprintf("PE%d show evpn es", pe), want, func() ([]segmentRow, error) {
				var rows []segmentRow
				err := ctlJSON(t, &rows, append(f.peArgs(pe), "show", "evpn", "es")...)
				return rows, err
			})
			out, err := ctl(t, append(f.peArgs(pe), "show", "evpn", "es")...)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("evpnctl show evpn es:\n%s", out)
			local := ""
			if pe == 1 {
				local = " (local)"
			}
			wantTable := []map[string]string{{"NAME": esName, "ESI": esi, "MODE": "ALL_ACTIVE", "DF-METHOD": "DEFAULT", "INTERFACE": "eth2",
				"DF PER VLAN": "vlan 100: " + f.addr(1) + local}}
			if diff := cmp.Diff(wantTable, parseTable(t, out, "NAME")); diff != "" {
				t.Errorf("PE%d show evpn es table (-want +got):\n%s\n%s", pe, diff, out)
			}
		}
	})

	t.Run("show bgp summary", func(t *testing.T) {
		// Counters and times move; the rows' identity and state do not.
		ignore := cmpopts.IgnoreFields(neighborRow{}, "LastEstablished", "EstablishedTransitions", "Flaps", "UpdatesReceived",
			"UpdatesSent", "NotificationsReceived", "NotificationsSent", "EVPN")
		nb := func(n int) neighborRow {
			return neighborRow{Address: f.addr(n), PeerAS: asn, PeerType: "INTERNAL", State: "ESTABLISHED"}
		}
		for _, tc := range []struct {
			desc string
			args []string
			want []bgpSummary
		}{
			{desc: "PE1", args: f.peArgs(1), want: []bgpSummary{{NetworkInstance: "DEFAULT", Protocol: "BGP", RouterID: f.addr(1), AS: asn,
				Neighbors: []neighborRow{nb(100)}}}},
			{desc: "PE2", args: f.peArgs(2), want: []bgpSummary{{NetworkInstance: "DEFAULT", Protocol: "BGP", RouterID: f.addr(2), AS: asn,
				Neighbors: []neighborRow{nb(100)}}}},
			{desc: "RR", args: []string{"--gnmi", f.rr.GNMIAddr().String(), "--plaintext"}, want: []bgpSummary{{NetworkInstance: "DEFAULT",
				Protocol: "BGP", RouterID: f.addr(100), AS: asn, Neighbors: []neighborRow{nb(1), nb(2)}}}},
		} {
			t.Run(tc.desc, func(t *testing.T) {
				got := eventually(t, "show bgp summary", tc.want, func() ([]bgpSummary, error) {
					var s []bgpSummary
					err := ctlJSON(t, &s, append(tc.args, "show", "bgp", "summary")...)
					return s, err
				}, ignore)
				for _, n := range got[0].Neighbors {
					if n.LastEstablished == nil || n.EstablishedTransitions == 0 || n.EVPN == nil || !n.EVPN.Active {
						t.Errorf("neighbor %s: established with no last-established, transitions or active L2VPN_EVPN: %+v", n.Address, n)
					}
				}
				out, err := ctl(t, append(tc.args, "show", "bgp", "summary")...)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("evpnctl show bgp summary:\n%s", out)
				if want := fmt.Sprintf("BGP router id %s, local AS %d (network instance DEFAULT, protocol BGP)", tc.want[0].RouterID, asn); !strings.HasPrefix(out, want) {
					t.Errorf("show bgp summary does not start with %q:\n%s", want, out)
				}
				var gotNbs []string
				for _, r := range parseTable(t, out, "NEIGHBOR") {
					gotNbs = append(gotNbs, r["NEIGHBOR"]+" "+r["AS"]+" "+r["TYPE"]+" "+r["STATE"])
				}
				var wantNbs []string
				for _, n := range tc.want[0].Neighbors {
					wantNbs = append(wantNbs, fmt.Sprintf("%s %d INTERNAL ESTABLISHED", n.Address, asn))
				}
				if diff := cmp.Diff(wantNbs, gotNbs); diff != "" {
					t.Errorf("show bgp summary table (-want +got):\n%s\n%s", diff, out)
				}
			})
		}
	})

	t.Run("local API", func(t *testing.T) {
		api := f.pe[1].MetricsAddr().String()
		// Naming only --api reads every command there.
		out, err := ctl(t, "--api", api, "show", "evpn", "mac", "100")
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"DESTINATION", macA.String(), macB.String(), macM.String(), "3 MACs"} {
			if !strings.Contains(out, w) {
				t.Errorf("--api show evpn mac 100 lacks %q:\n%s", w, out)
			}
		}
		// show p4 table reads the API even when --gnmi is named.
		out, err = ctl(t, append(f.peArgs(1), "--api", api, "show", "p4", "table", p4.TableFDB)...)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"table " + p4.TableFDB, macA.String(), macB.String(), macM.String()} {
			if !strings.Contains(out, w) {
				t.Errorf("show p4 table %s lacks %q:\n%s", p4.TableFDB, w, out)
			}
		}
		var dump p4evpn.TableDump
		if err := ctlJSON(t, &dump, "--api", api, "show", "p4", "table", p4.TableFDB); err != nil {
			t.Fatal(err)
		}
		if dump.Table != p4.TableFDB || len(dump.Entries) < 3 {
			t.Errorf("--json show p4 table = %+v, want %s with A's, B's and M's entries", dump, p4.TableFDB)
		}
	})

	// Last: D's rows are not in the tables asserted above.
	t.Run("a MAC that moves is frozen", func(t *testing.T) {
		at := func(pe int) {
			t.Helper()
			if err := f.engines[pe].access[1].Write(frame(macD)); err != nil {
				t.Fatal(err)
			}
		}
		sourceAt := func(pe int, src evpn.MACSource) func() bool {
			return func() bool { m, ok := macState(f.pe[pe], macD); return ok && m.Source == src }
		}
		at(1)
		waitFor(t, "PE2 to learn D from PE1", sourceAt(2, evpn.SourceRemote))
		at(2)
		waitFor(t, "PE1 to learn D's move to PE2", sourceAt(1, evpn.SourceRemote))
		at(1)
		frozen := 0
		waitFor(t, "a PE to freeze D", func() bool {
			for pe := 1; pe <= 2; pe++ {
				if m, ok := macState(f.pe[pe], macD); ok && m.Frozen {
					frozen = pe
					return true
				}
			}
			return false
		})
		eventually(t, fmt.Sprintf("PE%d's row for D", frozen), "DUPLICATE", func() (string, error) {
			var rows []macRow
			err := ctlJSON(t, &rows, append(f.peArgs(frozen), "show", "evpn", "mac", "100")...)
			for _, r := range rows {
				if r.MAC == macD.String() {
					return r.MobilityState, err
				}
			}
			return "", err
		})
		out, err := ctl(t, append(f.peArgs(frozen), "show", "evpn", "mac", "100")...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("PE%d: evpnctl show evpn mac 100:\n%s", frozen, out)
		flags := "no row"
		for _, r := range parseTable(t, out, "EVI") {
			if r["MAC"] == macD.String() {
				flags = r["FLAGS"]
			}
		}
		if flags != "duplicate" {
			t.Errorf("PE%d: D's FLAGS = %q, want duplicate:\n%s", frozen, flags, out)
		}
	})

	t.Run("errors", func(t *testing.T) {
		closed, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gone := closed.Addr().String()
		closed.Close()
		pe1, pe2 := f.pe[1].GNMIAddr().String(), f.pe[2].GNMIAddr().String()
		for _, tc := range []struct {
			desc    string
			args    []string
			wantErr []string
		}{
			{desc: "nothing listens", args: []string{"--gnmi", gone, "--plaintext", "show", "evpn", "es"},
				wantErr: []string{gone, "unreachable", "gnmi.listen"}},
			{desc: "EVI not configured", args: append(f.peArgs(1), "show", "evpn", "mac", "7"),
				wantErr: []string{"EVI 7 is not configured", pe1, "its EVIs: 100"}},
			{desc: "a route reflector has no MAC table", args: []string{"--gnmi", f.rr.GNMIAddr().String(), "--plaintext", "show", "evpn", "mac"},
				wantErr: []string{f.rr.GNMIAddr().String(), "serves no EVPN instance"}},
			{desc: "TLS to a plaintext server", args: []string{"--gnmi", pe1, "show", "evpn", "es"},
				wantErr: []string{pe1, "add --plaintext"}},
			{desc: "plaintext to a TLS server", args: []string{"--gnmi", pe2, "--plaintext", "--username", "noc", "show", "evpn", "es"},
				wantErr: []string{pe2, "drop --plaintext"}},
			{desc: "unknown CA", args: []string{"--gnmi", pe2, "--username", "noc", "show", "evpn", "es"},
				wantErr: []string{pe2, "certificate", "--ca"}},
			{desc: "no credentials", args: []string{"--gnmi", pe2, "--ca", f.caFile, "show", "evpn", "es"},
				wantErr: []string{pe2, "refused the credentials"}},
			{desc: "wrong password", args: []string{"--gnmi", pe2, "--ca", f.caFile, "--username", "noc", "--password", "wrong", "show", "evpn", "es"},
				wantErr: []string{pe2, "refused the credentials", `"noc"`}},
			{desc: "no such P4 table", args: []string{"--api", f.pe[1].MetricsAddr().String(), "show", "p4", "table", "no.such"},
				wantErr: []string{"no.such"}},
			{desc: "API not listening", args: []string{"--api", gone, "show", "evpn", "es"},
				wantErr: []string{gone, "unreachable"}},
		} {
			t.Run(tc.desc, func(t *testing.T) {
				out, err := ctl(t, tc.args...)
				if err == nil {
					t.Fatalf("evpnctl %s succeeded, want an error naming %q:\n%s", strings.Join(tc.args, " "), tc.wantErr, out)
				}
				t.Logf("evpnctl %s: %v", strings.Join(tc.args, " "), err)
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("evpnctl %s: error %q lacks %q", strings.Join(tc.args, " "), err, w)
					}
				}
			})
		}
	})
}
