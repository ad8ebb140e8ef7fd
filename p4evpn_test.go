package p4evpn_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	p4evpn "github.com/p4evpn/p4evpn"
	"github.com/p4evpn/p4evpn/asic/memswitch"
	"github.com/p4evpn/p4evpn/bgp"
	"github.com/p4evpn/p4evpn/config"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/softswitch"
	"github.com/p4evpn/p4evpn/testbed"
)

// The fabric of these tests: a route reflector and two PEs, each a Daemon
// built from a YAML config, on this run's loopback network (127.0.N.x, see
// testNet: PE n is 127.0.N.n, the RR 127.0.N.100) with real BGP;
// each PE runs the compiled p4/evpn.p4 on its own softswitch engine behind
// a real P4Runtime server. The PEs' core ports are joined by an in-memory
// link; Go hosts sit on the access ports.

// waitLimit bounds how long a test waits for something that must happen;
// it is no timed assertion.
const waitLimit = 30 * time.Second

const (
	// rrHost is the RR's host number on the test network.
	rrHost  = 100
	bgpPort = 10179
	asn     = 65000
)

func quiet() *slog.Logger {
	if os.Getenv("P4EVPN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func rrConfig(t testing.TB, peers ...string) *config.Config {
	t.Helper()
	var nb strings.Builder
	for _, p := range peers {
		fmt.Fprintf(&nb, "    - {address: %s, route-reflector-client: true, passive: true, hold-time: 3s, keepalive: 1s}\n", p)
	}
	return parse(t, fmt.Sprintf(`
name: rr
mode: route-reflector
router-id: %s
asn: %d
bgp:
  listen: %s:%d
  graceful-restart: 30s
  neighbors:
%s
metrics: 127.0.0.1:0
`, loopback(rrHost), asn, loopback(rrHost), bgpPort, nb.String()))
}

// peConfig is PE n (1, 2, ...): router id loopback(n), access ports 1 and 2,
// core port 10, EVI 100 with an AC on port 1 VLAN 100.
func peConfig(t testing.TB, n int, extra string) *config.Config {
	t.Helper()
	return parse(t, fmt.Sprintf(`
name: pe%[1]d
router-id: %[7]s
asn: %[2]d
bgp:
  graceful-restart: 30s
  neighbors:
    - {address: %[3]s, port: %[4]d, local-address: %[7]s, hold-time: 3s, keepalive: 1s, connect-retry: 1s}
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
  restart-settle: 500ms
  telemetry-interval: 1m # no GoBGP call before every speaker started (see startFabric)
evis:
  - id: 100
    attachment-circuits:
      - {id: 1, port: 1, vlan: 100}
gnmi:
  listen: 127.0.0.1:0
  plaintext: true
metrics: 127.0.0.1:0
%[6]s`, n, asn, loopback(rrHost), bgpPort, 3-n, extra, loopback(n)))
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
	opts = append([]p4evpn.Option{p4evpn.WithLogger(quiet())}, opts...)
	d, err := p4evpn.New(cfg, opts...)
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

// engine is a PE's softswitch with its access ports' host ends.
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

// host attaches a Go host to a port's host end.
func host(t testing.TB, name string, port *softswitch.MemPort, mac string, addr string, vlan uint16) *testbed.Host {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	h, err := testbed.NewHost(name, hw, netip.MustParsePrefix(addr), vlan, port.Write, quiet())
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

func established(d *p4evpn.Daemon, n int) func() bool {
	return func() bool {
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
}

func macEntry(d *p4evpn.Daemon, evi uint32, mac route.MAC) (evpn.MACState, bool) {
	table, err := d.PE().MACTable(evi)
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

// fabric is an RR and two PEs.
type fabric struct {
	rr       *p4evpn.Daemon
	pe       [3]*p4evpn.Daemon // pe[1], pe[2]
	engines  [3]*engine
	targets  [3]*p4evpn.EmbeddedTarget
	registry [3]*prometheus.Registry
}

// startFabric starts the RR and two PEs; PE2 runs on a caller-owned
// embedded target so that it can restart over live forwarding state.
func startFabric(t testing.TB, edits ...func(n int, c *config.Config)) *fabric {
	t.Helper()
	f := &fabric{}
	pe := func(n int) *config.Config {
		c := peConfig(t, n, "")
		for _, e := range edits {
			e(n, c)
		}
		return c
	}
	a, b := softswitch.NewLink(1024)
	f.engines[1], f.engines[2] = newEngine(t, a), newEngine(t, b)
	f.registry[1] = prometheus.NewRegistry()
	f.pe[1] = start(t, pe(1), p4evpn.WithSoftswitch(f.engines[1].sw), p4evpn.WithRegistry(f.registry[1]))
	tgt, err := p4evpn.NewEmbeddedTarget(f.engines[2].sw, "127.0.0.1:0", 1, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tgt.Close() })
	f.targets[2] = tgt
	f.pe[2] = start(t, pe(2), p4evpn.WithEmbeddedTarget(tgt))
	// The RR starts last: GoBGP's StartBgp writes package variables that
	// every GoBGP server reads while it processes updates, so under the
	// race detector no speaker may start once sessions carry routes.
	f.rr = start(t, rrConfig(t, loopback(1), loopback(2)))
	waitFor(t, "the RR's sessions to both PEs", established(f.rr, 2))
	return f
}

var (
	macA = route.MustMAC("02:00:00:00:aa:01")
	macB = route.MustMAC("02:00:00:00:bb:02")
)

// TestFabric is the daemon end to end: two PEs and an RR from YAML; a
// frame from host A at PE1 makes PE1 learn its MAC from the P4 pipeline's
// digest, advertise it through the RR, and PE2 install it in its FIB (read
// back over P4Runtime); PE2's gNMI subscriber hears of it ON_CHANGE; the
// hosts ping each other across the MPLS core; /api and /metrics answer.
func TestFabric(t *testing.T) {
	f := startFabric(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()

	// The YAML file is gNMI's running config.
	get, err := gnmiClient(t, f.pe[2].GNMIAddr().String()).Get(ctx, &gpb.GetRequest{
		Path: []*gpb.Path{gpath(t, "/network-instances/network-instance[name=evi100]/config/type")}, Type: gpb.GetRequest_CONFIG})
	if err != nil {
		t.Fatal(err)
	}
	if v := get.GetNotification()[0].GetUpdate()[0].GetVal().String(); !strings.Contains(v, "L2VSI") {
		t.Errorf("Get evi100's type = %s, want L2VSI", v)
	}

	// ON_CHANGE subscription to PE2's MAC table before anything is learned.
	notes := subscribe(t, ctx, f.pe[2].GNMIAddr().String(), "/network-instances/network-instance[name=evi100]/fdb/mac-table/entries")

	hostA := host(t, "A", f.engines[1].access[1], macA.String(), "10.0.0.1/24", 100)
	hostB := host(t, "B", f.engines[2].access[1], macB.String(), "10.0.0.2/24", 100)
	if err := hostA.GratuitousARP(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "PE2 to install host A's MAC from BGP", func() bool {
		m, ok := macEntry(f.pe[2], 100, macA)
		return ok && m.Source == evpn.SourceRemote
	})
	m, _ := macEntry(f.pe[2], 100, macA)
	if m.Peer != netip.MustParseAddr(loopback(1)) {
		t.Errorf("PE2's entry for %s points at %v, want PE1 %s", macA, m.Peer, loopback(1))
	}
	if m1, ok := macEntry(f.pe[1], 100, macA); !ok || m1.Source != evpn.SourceLocal || m1.AC != 1 {
		t.Errorf("PE1's entry for %s = %+v, %v; want a local MAC on AC 1", macA, m1, ok)
	}

	// The FIB as the switch holds it, over P4Runtime. The PE's state
	// changes before its switch write completes, so the entry may still be
	// on its way.
	waitFor(t, fmt.Sprintf("PE2's %s to hold an entry for %s", p4.TableFDB, macA), func() bool {
		fdb, err := f.pe[2].Table(ctx, p4.TableFDB)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range fdb.Entries {
			for _, v := range e.Match {
				if v == macA.String() {
					return true
				}
			}
		}
		return false
	})

	// ON_CHANGE: the entry appears in PE2's stream.
	waitNote(t, ctx, notes, macA.String())

	// BGP neighbor state, published on the PeerUp event.
	waitFor(t, "PE2's session state in gNMI", func() bool {
		get, err := gnmiClient(t, f.pe[2].GNMIAddr().String()).Get(ctx, &gpb.GetRequest{Path: []*gpb.Path{gpath(t,
			"/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address="+loopback(rrHost)+"]/state/session-state")},
			Type: gpb.GetRequest_STATE})
		return err == nil && len(get.GetNotification()) > 0 && len(get.GetNotification()[0].GetUpdate()) > 0 &&
			strings.Contains(get.GetNotification()[0].GetUpdate()[0].GetVal().String(), "ESTABLISHED")
	})

	// Data plane: ping across the core.
	res, err := hostB.Ping(ctx, netip.MustParseAddr("10.0.0.1"), 3, 20*time.Millisecond, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != 3 {
		t.Errorf("B pinged A: %+v, want 3 replies", res)
	}
}

// subscribe opens an ON_CHANGE STREAM subscription and returns its
// notifications.
func subscribe(t testing.TB, ctx context.Context, addr, path string) <-chan *gpb.Notification {
	t.Helper()
	c := gnmiClient(t, addr)
	stream, err := c.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{
		Mode: gpb.SubscriptionList_STREAM, Encoding: gpb.Encoding_JSON_IETF,
		Subscription: []*gpb.Subscription{{Path: gpath(t, path), Mode: gpb.SubscriptionMode_ON_CHANGE}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *gpb.Notification, 1024)
	synced := make(chan struct{})
	go func() {
		defer close(out)
		for {
			r, err := stream.Recv()
			if err != nil {
				return
			}
			if r.GetSyncResponse() {
				close(synced)
				continue
			}
			if n := r.GetUpdate(); n != nil {
				out <- n
			}
		}
	}()
	select {
	case <-synced:
	case <-ctx.Done():
		t.Fatal("no sync_response")
	}
	return out
}

func waitNote(t testing.TB, ctx context.Context, notes <-chan *gpb.Notification, mac string) {
	t.Helper()
	for {
		select {
		case n, ok := <-notes:
			if !ok {
				t.Fatal("subscription ended")
			}
			for _, u := range n.GetUpdate() {
				for _, e := range append(n.GetPrefix().GetElem(), u.GetPath().GetElem()...) {
					if e.GetKey()["mac-address"] == mac {
						return
					}
				}
			}
		case <-ctx.Done():
			t.Fatalf("no ON_CHANGE notification for %s", mac)
		}
	}
}

func gnmiClient(t testing.TB, addr string) gpb.GNMIClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return gpb.NewGNMIClient(conn)
}

// gpath parses "/a/b[k=v]/c".
func gpath(t testing.TB, s string) *gpb.Path {
	t.Helper()
	p := &gpb.Path{}
	for _, part := range strings.Split(strings.Trim(s, "/"), "/") {
		name, rest, _ := strings.Cut(part, "[")
		e := &gpb.PathElem{Name: name}
		for rest != "" {
			kv, after, ok := strings.Cut(rest, "]")
			if !ok {
				t.Fatalf("path %q: unbalanced [", s)
			}
			k, v, _ := strings.Cut(kv, "=")
			if e.Key == nil {
				e.Key = map[string]string{}
			}
			e.Key[k] = v
			rest = strings.TrimPrefix(after, "[")
		}
		p.Elem = append(p.Elem, e)
	}
	return p
}

func jsonVal(s string) *gpb.TypedValue {
	return &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: []byte(s)}}
}

// eviSet creates MAC-VRF name with EVI evi and an AC on port's VLAN.
func eviSet(t testing.TB, name string, evi int, port string, vlan int) []*gpb.Update {
	return []*gpb.Update{
		{Path: gpath(t, fmt.Sprintf("/interfaces/interface[name=%s]/subinterfaces/subinterface[index=%d]", port, vlan)),
			Val: jsonVal(fmt.Sprintf(`{"config": {"index": %d}, "openconfig-vlan:vlan": {"match": {"single-tagged": {"config": {"vlan-id": %d}}}}}`, vlan, vlan))},
		{Path: gpath(t, fmt.Sprintf("/network-instances/network-instance[name=%s]", name)),
			Val: jsonVal(fmt.Sprintf(`{"config": {"name": %q, "type": "openconfig-network-instance-types:L2VSI"},
				"vlans": {"vlan": [{"vlan-id": %[2]d, "config": {"vlan-id": %[2]d}}]},
				"interfaces": {"interface": [{"id": "%[3]s.%[2]d", "config": {"id": "%[3]s.%[2]d", "interface": %[3]q, "subinterface": %[2]d}}]},
				"evpn": {"evpn-instances": {"evpn-instance": [{"evi": "%[4]d", "config": {"evi": "%[4]d", "service-type": "openconfig-evpn-types:VLAN_BASED"}}]}}}`, name, vlan, port, evi))},
	}
}

// TestGNMISetCreatesEVI is issue 11's end-to-end test: a gNMI Set on each
// running PE creates a MAC-VRF with an AC; hosts on the new VLAN then
// reach each other through BGP-learned MACs and the P4 pipeline. A Set
// whose last EVI the PE refuses changes nothing.
func TestGNMISetCreatesEVI(t *testing.T) {
	f := startFabric(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	// A MAC learned in the EVI of the YAML file must survive Sets that do
	// not touch that EVI (whose AC ids OpenConfig cannot express).
	hostA := host(t, "A", f.engines[1].access[1], macA.String(), "10.0.0.1/24", 100)
	if err := hostA.GratuitousARP(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "PE1 to learn A", func() bool { _, ok := macEntry(f.pe[1], 100, macA); return ok })
	learned := f.pe[1].PE().Counters().Learned
	for _, i := range []int{1, 2} {
		c := gnmiClient(t, f.pe[i].GNMIAddr().String())
		if _, err := c.Set(ctx, &gpb.SetRequest{Update: eviSet(t, "green", 200, "eth2", 200)}); err != nil {
			t.Fatalf("PE%d: Set: %v", i, err)
		}
	}
	hostC := host(t, "C", f.engines[1].access[2], "02:00:00:00:cc:03", "10.2.0.3/24", 200)
	host(t, "D", f.engines[2].access[2], "02:00:00:00:dd:04", "10.2.0.4/24", 200)
	// IMET routes must have built the flood lists before ARP can cross.
	waitFor(t, "both PEs to flood EVI 200 to each other", func() bool {
		for _, i := range []int{1, 2} {
			ok := false
			for _, e := range f.pe[i].PE().EVIs() {
				ok = ok || (e.ID == 200 && len(e.FloodPEs) == 1)
			}
			if !ok {
				return false
			}
		}
		return true
	})
	res, err := hostC.Ping(ctx, netip.MustParseAddr("10.2.0.4"), 3, 20*time.Millisecond, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != 3 {
		t.Errorf("C pinged D over the EVI created by gNMI: %+v, want 3 replies", res)
	}
	// The replies may flow before C's MAC route reaches PE2 (unknown unicast
	// floods); the route must follow.
	waitFor(t, "PE2 to learn host C in EVI 200 through BGP", func() bool {
		_, ok := macEntry(f.pe[2], 200, route.MustMAC("02:00:00:00:cc:03"))
		return ok
	})
	if m, ok := macEntry(f.pe[1], 100, macA); !ok || m.AC != 1 {
		t.Errorf("after the Sets PE1's entry for A in EVI 100 = %+v, %v; want it kept on AC 1", m, ok)
	}
	if n := f.pe[1].PE().Counters().Learned; n != learned+1 {
		t.Errorf("PE1 learned %d MACs during the Sets, want 1 (host C): EVI 100 was disturbed", n-learned)
	}

	// A Set the PE refuses (an AC on the core port) together with a valid
	// EVI: nothing of it may stay.
	before := f.pe[1].PE().EVIs()
	c := gnmiClient(t, f.pe[1].GNMIAddr().String())
	bad := append(eviSet(t, "amber", 250, "eth2", 250), eviSet(t, "core", 260, "eth10", 260)...)
	if _, err := c.Set(ctx, &gpb.SetRequest{Update: bad}); err == nil {
		t.Fatal("Set with an AC on the core port succeeded")
	} else if !strings.Contains(err.Error(), "core") {
		t.Errorf("Set error %q does not name the core port", err)
	}
	after := f.pe[1].PE().EVIs()
	if len(after) != len(before) {
		t.Errorf("after a failed Set the PE has EVIs %v, want the %d it had", eviIDs(after), len(before))
	}
	get, err := c.Get(ctx, &gpb.GetRequest{Path: []*gpb.Path{gpath(t, "/network-instances/network-instance[name=amber]")}, Type: gpb.GetRequest_CONFIG, Encoding: gpb.Encoding_JSON_IETF})
	if err == nil && len(get.GetNotification()) > 0 && len(get.GetNotification()[0].GetUpdate()) > 0 {
		t.Errorf("after a failed Set the running config holds network-instance amber: %v", get)
	}
}

func eviIDs(es []evpn.EVIState) []uint32 {
	var out []uint32
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// TestRestartWritesNothing restarts PE2's daemon on its live target: the
// new daemon adopts the forwarding state and, once BGP has settled,
// reconciles with zero P4Runtime writes; the MAC learned before is still
// installed, and the data plane forwarded throughout.
func TestRestartWritesNothing(t *testing.T) {
	f := startFabric(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	hostA := host(t, "A", f.engines[1].access[1], macA.String(), "10.0.0.1/24", 100)
	hostB := host(t, "B", f.engines[2].access[1], macB.String(), "10.0.0.2/24", 100)
	if res, err := hostA.Ping(ctx, netip.MustParseAddr("10.0.0.2"), 2, 20*time.Millisecond, 5*time.Second); err != nil || res.Received != 2 {
		t.Fatalf("ping before the restart: %+v, %v", res, err)
	}
	waitFor(t, "PE2 to install A", func() bool { _, ok := macEntry(f.pe[2], 100, macA); return ok })
	rrReportedAll(t, f.rr)
	if err := f.pe[2].Close(); err != nil {
		t.Fatal(err)
	}
	// PE2's data plane forwards with no controller: B's frames still reach
	// A. (The other direction needs PE1 to keep PE2's routes, which it
	// does not: closing the speaker sends a Cease, and the RR withdraws.)
	hostA.Received()
	if err := hostB.SendFrameTo(net.HardwareAddr(macA[:]), 0x88b5, []byte("controller down")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A to receive B's frame while PE2's daemon is down", func() bool {
		for _, fr := range hostA.Received() {
			if string(fr.Payload[:min(len(fr.Payload), 15)]) == "controller down" {
				return true
			}
		}
		return false
	})
	reg := prometheus.NewRegistry()
	pe2 := start(t, peConfig(t, 2, ""), p4evpn.WithEmbeddedTarget(f.targets[2]), p4evpn.WithRegistry(reg))
	waitFor(t, "the restart reconciliation", func() bool { done, _, _ := pe2.Reconciled(); return done })
	done, n, err := pe2.Reconciled()
	if !done || err != nil || n != 0 {
		t.Errorf("reconciliation after the restart: done %v, %d updates, err %v; want 0 updates", done, n, err)
	}
	if w := writes(t, reg); w != 0 {
		t.Errorf("the restarted daemon made %v P4Runtime writes, want 0", w)
	}
	if m, ok := macEntry(pe2, 100, macA); !ok || m.Source != evpn.SourceRemote {
		t.Errorf("after the restart PE2's entry for A = %+v, %v; want the remote MAC", m, ok)
	}
	if m, ok := macEntry(pe2, 100, macB); !ok || m.Source != evpn.SourceLocal {
		t.Errorf("after the restart PE2's entry for B = %+v, %v; want the adopted local MAC", m, ok)
	}
}

// writes sums p4asic_write_seconds' observations: the P4Runtime writes.
func writes(t testing.TB, reg *prometheus.Registry) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	seen := false
	for _, mf := range mfs {
		if mf.GetName() != "p4asic_write_seconds" {
			continue
		}
		seen = true
		for _, m := range mf.GetMetric() {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	if !seen {
		// A histogram vector with no observation exports nothing.
		return 0
	}
	return n
}

// TestNewRefuses checks New's refusals.
func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		cfg     *config.Config
		opts    []p4evpn.Option
		wantErr string
	}{
		{desc: "route reflector with a softswitch", cfg: rrConfig(t), opts: []p4evpn.Option{p4evpn.WithSoftswitch(softswitch.New(softswitch.Config{}))}, wantErr: "route reflector has no switch"},
		{desc: "nil config", wantErr: "nil config"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := p4evpn.New(tc.cfg, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestGNMIRoundTrip runs the documented example file on an in-memory
// switch: its OpenConfig rendering, read with Get and written back with a
// Set replace, changes nothing on the switch; a Set that changes the EVI
// keeps what OpenConfig cannot say (AC ids, static MACs); BGP neighbors
// come and go with Sets; a Set the daemon refuses leaves everything as it
// was.
func TestGNMIRoundTrip(t *testing.T) {
	cfg, err := config.Load("config/testdata/pe1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Loopback only: no route reflector, no listener, no election file.
	cfg.BGP = config.BGP{}
	cfg.Target.ElectionIDFile = ""
	cfg.GNMI.Listen, cfg.Metrics = "127.0.0.1:0", ""
	cfg.Ports = append(cfg.Ports, config.Port{ID: 20, Kind: "access"})
	sw := memswitch.New()
	defer sw.Close()
	d := start(t, cfg, p4evpn.WithSwitch(sw))
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c := gnmiClient(t, d.GNMIAddr().String())
	ctx = metadata.AppendToOutgoingContext(ctx, "username", "admin", "password", "admin")

	get, err := c.Get(ctx, &gpb.GetRequest{Path: []*gpb.Path{{}}, Type: gpb.GetRequest_CONFIG, Encoding: gpb.Encoding_JSON_IETF})
	if err != nil {
		t.Fatal(err)
	}
	running := get.GetNotification()[0].GetUpdate()[0].GetVal().GetJsonIetfVal()
	batches, _ := sw.Stats()
	if _, err := c.Set(ctx, &gpb.SetRequest{Replace: []*gpb.Update{{Path: &gpb.Path{}, Val: jsonVal(string(running))}}}); err != nil {
		t.Fatalf("Set replace with the running config: %v", err)
	}
	if b, _ := sw.Stats(); b != batches {
		t.Errorf("replacing the config with itself wrote %d batches to the switch, want 0", b-batches)
	}

	// Change the MAC-VRF: it is rebuilt, with its AC ids and static MAC.
	upd := []*gpb.Update{{Path: gpath(t, "/network-instances/network-instance[name=blue]/fdb/config/maximum-entries"), Val: jsonVal("500")}}
	if _, err := c.Set(ctx, &gpb.SetRequest{Update: upd}); err != nil {
		t.Fatal(err)
	}
	evis := d.PE().EVIs()
	if len(evis) != 1 || len(evis[0].ACs) != 2 || evis[0].ACs[0].Config.ID != 1 || evis[0].ACs[1].Config.ID != 2 {
		t.Errorf("after the Set the EVIs are %+v, want EVI 100 with ACs 1 and 2", evis)
	}
	if m, ok := macEntry(d, 100, route.MustMAC("02:00:00:00:00:fe")); !ok || m.Source != evpn.SourceStatic {
		t.Errorf("after the Set the static MAC is %+v, %v; want it kept", m, ok)
	}

	// An AC created over gNMI gets an id the pipeline takes (14 bits),
	// even on a port whose gnmi.ACIDFor would not fit.
	if _, err := c.Set(ctx, &gpb.SetRequest{Update: eviSet(t, "red", 300, "eth20", 300)}); err != nil {
		t.Fatal(err)
	}
	for _, e := range d.PE().EVIs() {
		for _, ac := range e.ACs {
			if ac.Config.ID == 0 || ac.Config.ID > 1<<14-1 {
				t.Errorf("EVI %d AC on port %d VLAN %d has id %d, outside 1-16383", e.ID, ac.Config.Port, ac.Config.VLAN, ac.Config.ID)
			}
		}
	}
	if n := len(d.PE().EVIs()); n != 2 {
		t.Errorf("after creating MAC-VRF red the PE has %d EVIs, want 2", n)
	}

	// BGP neighbors: add one, then a refused Set, then delete it.
	nb := "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address=" + loopback(9) + "]"
	add := []*gpb.Update{{Path: gpath(t, nb), Val: jsonVal(`{"config": {"neighbor-address": "` + loopback(9) + `", "peer-as": 65000},
		"transport": {"config": {"passive-mode": true}}}`)}}
	if _, err := c.Set(ctx, &gpb.SetRequest{Update: add}); err != nil {
		t.Fatal(err)
	}
	neighbors := func() []string {
		nbs, err := d.Speaker().Neighbors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range nbs {
			out = append(out, n.Address.String())
		}
		return out
	}
	if got := neighbors(); len(got) != 1 || got[0] != loopback(9) {
		t.Errorf("after adding a neighbor over gNMI the speaker has %v", got)
	}
	bad := []*gpb.Update{
		{Path: gpath(t, "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/global/config/as"), Val: jsonVal("65001")},
		{Path: gpath(t, "/network-instances/network-instance[name=blue]/fdb/config/maximum-entries"), Val: jsonVal("400")},
	}
	batches, _ = sw.Stats()
	if _, err := c.Set(ctx, &gpb.SetRequest{Delete: []*gpb.Path{gpath(t, nb)}, Update: bad}); err == nil || !strings.Contains(err.Error(), "65001") {
		t.Errorf("Set changing the AS: err %v, want a refusal naming 65001", err)
	}
	if got := neighbors(); len(got) != 1 {
		t.Errorf("a refused Set changed the neighbors to %v", got)
	}
	if b, _ := sw.Stats(); b != batches {
		t.Errorf("a refused Set wrote %d batches to the switch", b-batches)
	}
	if _, err := c.Set(ctx, &gpb.SetRequest{Delete: []*gpb.Path{gpath(t, nb)}}); err != nil {
		t.Fatal(err)
	}
	if got := neighbors(); len(got) != 0 {
		t.Errorf("after deleting the neighbor over gNMI the speaker has %v", got)
	}
}

// BenchmarkRemoteLearn measures, one MAC at a time, the time from a frame
// with a new source MAC entering PE1's access port to PE2's PE taking the
// MAC into its FIB (its EventMACAdded; the P4Runtime write of the entry
// follows in the same call): the learning digest over P4Runtime, PE1's
// decision and its route, BGP to the RR and on to PE2, PE2's decision.
func BenchmarkRemoteLearn(b *testing.B) {
	f := startFabric(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := f.pe[2].PE().Subscribe(ctx, 1<<16)
	if err != nil {
		b.Fatal(err)
	}
	port := f.engines[1].access[1]
	frame := func(mac route.MAC) []byte { return learnFrame(b, mac) }
	b.ResetTimer()
	for i := range b.N {
		mac := route.MAC{0x02, 0x10, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		if err := port.Write(frame(mac)); err != nil {
			b.Fatal(err)
		}
		for installed := false; !installed; {
			select {
			case ev := <-events:
				installed = ev.Kind == evpn.EventMACAdded && ev.MAC == mac
			case <-time.After(waitLimit):
				b.Fatalf("PE2 never installed %s", mac)
			}
		}
		// Drain what PE2 flooded to its access port.
		for _, ok := f.engines[2].access[1].TryRecv(); ok; _, ok = f.engines[2].access[1].TryRecv() {
		}
	}
}

// TestTargetRestart restarts PE2's P4Runtime target under a running
// daemon: the new target starts without a pipeline, the daemon's client
// reconnects and pushes it, and the daemon reconciles the empty tables
// back to what the PE wants, so traffic flows again.
func TestTargetRestart(t *testing.T) {
	f := startFabric(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	hostA := host(t, "A", f.engines[1].access[1], macA.String(), "10.0.0.1/24", 100)
	host(t, "B", f.engines[2].access[1], macB.String(), "10.0.0.2/24", 100)
	if res, err := hostA.Ping(ctx, netip.MustParseAddr("10.0.0.2"), 2, 20*time.Millisecond, 5*time.Second); err != nil || res.Received != 2 {
		t.Fatalf("ping before the target restart: %+v, %v", res, err)
	}
	addr := f.targets[2].Addr().String()
	if err := f.targets[2].Close(); err != nil {
		t.Fatal(err)
	}
	tgt, err := p4evpn.NewEmbeddedTarget(f.engines[2].sw, addr, 1, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tgt.Close() })
	waitFor(t, "PE2 to reconcile the restarted target", func() bool { return f.pe[2].TargetResyncs() > 0 })
	res, err := hostA.Ping(ctx, netip.MustParseAddr("10.0.0.2"), 3, 20*time.Millisecond, 5*time.Second)
	if err != nil || res.Received != 3 {
		t.Errorf("ping after the target restart: %+v, %v; want 3 replies", res, err)
	}
	fdb, err := f.pe[2].Table(ctx, p4.TableFDB)
	if err != nil {
		t.Fatal(err)
	}
	if len(fdb.Entries) < 2 {
		t.Errorf("PE2's restarted target holds %d FDB entries, want A's and B's: %+v", len(fdb.Entries), fdb.Entries)
	}
}

// TestMultihomedDF puts an Ethernet segment on both PEs (port 2, EVI 100):
// the PEs find each other through their RT-4 routes, elect PE1 the DF of
// VLAN 100 (RFC 7432 modulo: 100 mod 2 = 0, the lower address), and PE1
// serves the result over gNMI and /metrics.
func TestMultihomedDF(t *testing.T) {
	f := startFabric(t, func(n int, c *config.Config) {
		c.Segments = append(c.Segments, config.Segment{Name: "es1", ESI: "00:11:22:33:44:55:66:77:88:99"})
		c.EVIs[0].ACs = append(c.EVIs[0].ACs, config.AC{ID: 2, Port: 2, VLAN: 100, Segment: "es1"})
		c.Timers.ElectionTimer = 200 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	elected := func(d *p4evpn.Daemon, local bool) func() bool {
		return func() bool {
			segs := d.PE().Segments()
			return len(segs) == 1 && len(segs[0].Candidates) == 2 && len(segs[0].DF) == 1 &&
				segs[0].DF[0].DF == netip.MustParseAddr(loopback(1)) && segs[0].DF[0].Local == local
		}
	}
	waitFor(t, "PE1 to be elected DF", elected(f.pe[1], true))
	waitFor(t, "PE2 to see PE1 as DF", elected(f.pe[2], false))
	c := gnmiClient(t, f.pe[1].GNMIAddr().String())
	waitFor(t, "PE1's DF state in gNMI", func() bool {
		get, err := c.Get(ctx, &gpb.GetRequest{Path: []*gpb.Path{gpath(t, "/ethernet-segments/ethernet-segment[name=es1]/designated-forwarders/designated-forwarder[vlan=100]/state")},
			Type: gpb.GetRequest_STATE, Encoding: gpb.Encoding_JSON})
		if err != nil || len(get.GetNotification()) == 0 {
			return false
		}
		v := string(get.GetNotification()[0].GetUpdate()[0].GetVal().GetJsonVal())
		return strings.Contains(v, `"`+loopback(1)+`"`) && strings.Contains(v, `"local":true`)
	})
	rows := f.pe[1].SegmentRows()
	if len(rows) != 1 || rows[0].Name != "es1" || len(rows[0].DF) != 1 || !rows[0].DF[0].Local {
		t.Errorf("PE1's segment rows = %+v, want es1 with PE1 the local DF", rows)
	}
}

// learnFrame is a broadcast on VLAN 100 from mac.
func learnFrame(tb testing.TB, mac route.MAC) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{},
		&layers.Ethernet{DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, SrcMAC: net.HardwareAddr(mac[:]), EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 100, Type: 0x88b5}, gopacket.Payload(make([]byte, 46))); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkRemoteLearnGNMI is BenchmarkRemoteLearn seen by an NMS: from
// the frame at PE1 to the ON_CHANGE notification of the MAC table entry
// from PE2's gNMI server.
func BenchmarkRemoteLearnGNMI(b *testing.B) {
	f := startFabric(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	notes := subscribe(b, ctx, f.pe[2].GNMIAddr().String(), "/network-instances/network-instance[name=evi100]/fdb/mac-table/entries")
	port := f.engines[1].access[1]
	b.ResetTimer()
	for i := range b.N {
		mac := route.MAC{0x02, 0x20, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		if err := port.Write(learnFrame(b, mac)); err != nil {
			b.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, waitLimit)
		waitNote(b, wctx, notes, mac.String())
		wcancel()
		for _, ok := f.engines[2].access[1].TryRecv(); ok; _, ok = f.engines[2].access[1].TryRecv() {
		}
	}
}
