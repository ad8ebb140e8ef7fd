package config

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/p4evpn/p4evpn/bgp"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
	"slices"
)

func loadExample(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/pe1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExampleConverts(t *testing.T) {
	c, err := Parse(loadExample(t))
	if err != nil {
		t.Fatalf("Parse(example): %v", err)
	}
	b, err := c.BGPConfig()
	if err != nil {
		t.Fatal(err)
	}
	if b.ListenPort != 10179 || len(b.Neighbors) != 1 || b.Neighbors[0].ASN != 65000 || b.GracefulRestart == nil {
		t.Errorf("BGPConfig = %+v", b)
	}
	if got, want := b.Import.RouteTargets, []route.RouteTarget{route.AutoRouteTarget(65000, 100)}; !slices.Equal(got, want) {
		t.Errorf("import RTs = %v, want %v", got, want)
	}
	if len(b.Import.ESImport) != 1 || b.Import.ESImport[0] != route.MustESI("00:11:22:33:44:55:66:77:88:99").ESImportRT() {
		t.Errorf("ES-import RTs = %v", b.Import.ESImport)
	}
	pe, err := c.PEConfig()
	if err != nil {
		t.Fatal(err)
	}
	if pe.Core.Port != 10 || pe.Core.TransportLabels[netip.MustParseAddr("192.0.2.3")] != 3001 || pe.Labels.First != 100000 {
		t.Errorf("PEConfig = %+v", pe)
	}
	evis, err := c.EVIConfigs()
	if err != nil {
		t.Fatal(err)
	}
	if len(evis) != 1 || evis[0].BD != 100 || evis[0].VLAN != 100 || len(evis[0].ACs) != 2 {
		t.Fatalf("EVIConfigs = %+v", evis)
	}
	if evis[0].ACs[1].ESI != route.MustESI("00:11:22:33:44:55:66:77:88:99") || !evis[0].ACs[0].ESI.IsZero() {
		t.Errorf("AC segments = %v, %v", evis[0].ACs[0].ESI, evis[0].ACs[1].ESI)
	}
	segs, err := c.SegmentConfigs()
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 1 || segs[0].Redundancy != evpn.AllActive || segs[0].DF.Algorithm != route.DFModulo {
		t.Errorf("SegmentConfigs = %+v", segs)
	}
}

// edit returns the example with old replaced by new, failing if old is absent.
func edit(t *testing.T, old, new string) []byte {
	t.Helper()
	s := string(loadExample(t))
	if !strings.Contains(s, old) {
		t.Fatalf("example has no %q", old)
	}
	return []byte(strings.Replace(s, old, new, 1))
}

func TestParseErrorsNameFieldAndValue(t *testing.T) {
	for _, tc := range []struct {
		desc string
		old  string
		new  string
		// old2 and new2, when set, make a second edit.
		old2, new2 string
		wantErr    []string
	}{
		{desc: "unknown key", old: "mac-limit: 10000", new: "mac-limt: 10000", wantErr: []string{"mac-limt", "not found"}},
		{desc: "router id not IPv4", old: "router-id: 192.0.2.1 ", new: "router-id: 2001:db8::1 ", wantErr: []string{"router-id", "2001:db8::1"}},
		{desc: "bad mode", old: "mode: pe ", new: "mode: bridge ", wantErr: []string{"mode", "bridge"}},
		{desc: "AC on a core port", old: "{id: 1, port: 1, vlan: 100}", new: "{id: 1, port: 10, vlan: 100}", wantErr: []string{"evis[0].attachment-circuits[0].port", "10", "access"}},
		{desc: "VLAN out of range", old: "{id: 1, port: 1, vlan: 100}", new: "{id: 1, port: 1, vlan: 5000}", wantErr: []string{"evis[0].attachment-circuits[0].vlan", "5000"}},
		{desc: "unknown segment", old: "ethernet-segment: host-b-bond}", new: "ethernet-segment: nope}", wantErr: []string{"ethernet-segment", `"nope"`}},
		{desc: "short ESI", old: "esi: 00:11:22:33:44:55:66:77:88:99", new: "esi: 00:11:22", wantErr: []string{"ethernet-segments[0].esi", "00:11:22"}},
		{desc: "ESI type 2", old: "esi: 00:11:22:33:44:55:66:77:88:99", new: "esi: 02:11:22:33:44:55:66:77:88:99", wantErr: []string{"ESI type 2"}},
		{desc: "bad DF algorithm", old: "df-algorithm: modulo", new: "df-algorithm: random", wantErr: []string{"df-algorithm", "random"}},
		{desc: "preference without the algorithm", old: "# preference: 200", new: "preference: 200", wantErr: []string{"preference", "200"}},
		{desc: "bad label range", old: "{first: 100000, last: 100999}", new: "{first: 100000, last: 2000000}", wantErr: []string{"labels", "100000-2000000"}},
		{desc: "bad route target", old: `# route-targets: ["65000:100"]`, new: `route-targets: ["65000"]`, wantErr: []string{"evis[0].route-targets[0]", "65000"}},
		{desc: "hold time too short", old: "hold-time: 9s", new: "hold-time: 1s", wantErr: []string{"bgp.neighbors[0].hold-time", "1s"}},
		{desc: "keepalive not shorter than hold", old: "keepalive: 3s", new: "keepalive: 9s", wantErr: []string{"keepalive", "9s"}},
		{desc: "bad source MAC", old: "source-mac: 02:00:00:00:01:0a", new: "source-mac: zz", wantErr: []string{"core.source-mac", "zz"}},
		{desc: "static MAC on a foreign AC", old: `ac: 1}`, new: `ac: 7}`, wantErr: []string{"static-macs[0].ac", "7"}},
		{desc: "EVI named like the BGP instance", old: "name: blue ", new: "name: DEFAULT ", wantErr: []string{"evis[0].name", "DEFAULT"}},
		{desc: "N bit without graceful restart", old: "graceful-restart: 120s ", new: "graceful-restart: 0s ", wantErr: []string{"bgp.graceful-restart-notification", "true", "needs bgp.graceful-restart"}},
		{desc: "negative idle hold time", old: "idle-hold-time: 0s ", new: "idle-hold-time: -1s ", wantErr: []string{"bgp.idle-hold-time", "-1s"}},
		{desc: "negative restart settle", old: "restart-settle: 1s ", new: "restart-settle: -1s ", wantErr: []string{"timers.restart-settle", "-1s"}},
		{desc: "gNMI TLS without cert", old: "plaintext: true", new: "plaintext: false", wantErr: []string{"gnmi.cert"}},
		{desc: "a route reflector with a switch", old: "mode: pe ", new: "mode: route-reflector ", wantErr: []string{"route reflector has no switch"}},
		{desc: "two errors reported at once", old: "log-level: info", new: "log-level: loud", old2: "asn: 65000 ", new2: "asn: 0 ", wantErr: []string{"asn", "log-level", "loud"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			b := edit(t, tc.old, tc.new)
			if tc.old2 != "" {
				s := string(b)
				if !strings.Contains(s, tc.old2) {
					t.Fatalf("example has no %q", tc.old2)
				}
				b = []byte(strings.Replace(s, tc.old2, tc.new2, 1))
			}
			_, err := Parse(b)
			if err == nil {
				t.Fatal("Parse accepted a bad file")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestGracefulRestartNotification: the RFC 8538 N bit follows graceful
// restart unless the file turns it off.
func TestGracefulRestartNotification(t *testing.T) {
	const on = "graceful-restart-notification: true "
	for _, tc := range []struct {
		desc string
		// edits are (old, new) replacements in the example.
		edits [][2]string
		want  *bgp.GracefulRestart
	}{
		{desc: "example: on", want: &bgp.GracefulRestart{RestartTime: 120 * time.Second, Notification: true}},
		{desc: "unset: on", edits: [][2]string{{on, ""}}, want: &bgp.GracefulRestart{RestartTime: 120 * time.Second, Notification: true}},
		{desc: "off", edits: [][2]string{{on, "graceful-restart-notification: false "}}, want: &bgp.GracefulRestart{RestartTime: 120 * time.Second}},
		{desc: "no graceful restart", edits: [][2]string{{on, ""}, {"graceful-restart: 120s ", "graceful-restart: 0s "}}, want: nil},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s := string(loadExample(t))
			for _, e := range tc.edits {
				if !strings.Contains(s, e[0]) {
					t.Fatalf("example has no %q", e[0])
				}
				s = strings.Replace(s, e[0], e[1], 1)
			}
			c, err := Parse([]byte(s))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.BGPConfig()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.GracefulRestart); diff != "" {
				t.Errorf("GracefulRestart (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIdleHoldTime: bgp.idle-hold-time reaches the speaker's config;
// unset is no hold.
func TestIdleHoldTime(t *testing.T) {
	for _, tc := range []struct {
		desc string
		line string
		want time.Duration
	}{
		{desc: "example", line: "idle-hold-time: 0s ", want: 0},
		{desc: "unset", line: "", want: 0},
		{desc: "two seconds", line: "idle-hold-time: 2s ", want: 2 * time.Second},
		{desc: "fraction", line: "idle-hold-time: 250ms ", want: 250 * time.Millisecond},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s := string(loadExample(t))
			const example = "idle-hold-time: 0s "
			if !strings.Contains(s, example) {
				t.Fatalf("example has no %q", example)
			}
			c, err := Parse([]byte(strings.Replace(s, example, tc.line, 1)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.BGPConfig()
			if err != nil {
				t.Fatal(err)
			}
			if got.IdleHoldTime != tc.want {
				t.Errorf("IdleHoldTime = %v, want %v", got.IdleHoldTime, tc.want)
			}
		})
	}
}

func TestTargetAddressAndDigestDelay(t *testing.T) {
	const example = "learning-digest-delay: 1ms "
	for _, tc := range []struct {
		desc      string
		addr      string // target.address line value; empty leaves it unset
		delay     string // replaces the example's learning-digest-delay line
		wantDelay time.Duration
		wantErr   []string
	}{
		{desc: "example", delay: example, wantDelay: time.Millisecond},
		{desc: "unset delay", delay: "", wantDelay: DefaultLearningDigestDelay},
		{desc: "zero: each digest at once", delay: "learning-digest-delay: 0s ", wantDelay: 0},
		{desc: "host and port", addr: "127.0.0.1:9559", delay: example, wantDelay: time.Millisecond},
		{desc: "unix socket", addr: "unix:///run/bmv2/pe1.sock", delay: example, wantDelay: time.Millisecond},
		{desc: "unix socket, one slash", addr: "unix:/run/bmv2/pe1.sock", delay: example, wantDelay: time.Millisecond},
		{desc: "relative unix socket", addr: "unix:pe1.sock", delay: example, wantErr: []string{"target.address", `"unix:pe1.sock"`, "ABSOLUTE"}},
		{desc: "unix socket with a host", addr: "unix://host/pe1.sock", delay: example, wantErr: []string{"target.address", "unix://host/pe1.sock"}},
		{desc: "no port", addr: "switch1", delay: example, wantErr: []string{"target.address", `"switch1"`, "HOST:PORT"}},
		{desc: "negative delay", delay: "learning-digest-delay: -1ms ", wantErr: []string{"target.learning-digest-delay", "-1ms"}},
		{desc: "delay too long", delay: "learning-digest-delay: 2s ", wantErr: []string{"target.learning-digest-delay", "2s"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s := string(loadExample(t))
			if !strings.Contains(s, example) {
				t.Fatalf("example has no %q", example)
			}
			s = strings.Replace(s, example, tc.delay, 1)
			if tc.addr != "" {
				s = strings.Replace(s, "  device-id: 1\n", "  address: "+tc.addr+"\n  device-id: 1\n", 1)
			}
			c, err := Parse([]byte(s))
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Parse succeeded, want an error naming %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.addr != "" && c.Target.Address != tc.addr {
				t.Errorf("Target.Address = %q, want %q", c.Target.Address, tc.addr)
			}
			if got := c.Target.DigestDelay(); got != tc.wantDelay {
				t.Errorf("DigestDelay() = %v, want %v", got, tc.wantDelay)
			}
		})
	}
}

func TestRouteReflectorConfig(t *testing.T) {
	c, err := Parse([]byte(`
mode: route-reflector
router-id: 192.0.2.100
asn: 65000
bgp:
  listen: 127.0.0.1:10179
  neighbors:
    - {address: 192.0.2.1, route-reflector-client: true}
    - {address: 192.0.2.2, route-reflector-client: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.BGPConfig()
	if err != nil {
		t.Fatal(err)
	}
	if !b.Import.All || len(b.Neighbors) != 2 || !b.Neighbors[0].RouteReflectorClient {
		t.Errorf("BGPConfig = %+v", b)
	}
	if _, err := Parse([]byte("mode: pe\nrouter-id: 192.0.2.1\nasn: 1\nbgp:\n  neighbors:\n    - {address: 192.0.2.9, route-reflector-client: true}\n")); err == nil ||
		!strings.Contains(err.Error(), "route-reflector-client") {
		t.Errorf("a PE with an RR client: err = %v", err)
	}
}

func TestEmptyDocument(t *testing.T) {
	if _, err := Parse(nil); err == nil {
		t.Error("Parse(nil) succeeded")
	}
}
