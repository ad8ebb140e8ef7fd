package gnmi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// testDevice is the layer below the server for these tests: an in-memory PE
// that turns each config into the MAC-VRF table it would program, refuses
// configs a PE cannot run, and applies all or nothing.
type testDevice struct {
	// mu guards every field.
	mu      sync.Mutex
	applied []*Config
	macVRFs map[string]deviceMACVRF
	// failNext makes the next ApplyConfig fail after it built the tables,
	// as a switch that runs out of table space would.
	failNext error
}

// deviceMACVRF is what the test device programs for one L2VSI.
type deviceMACVRF struct {
	RD  string
	EVI string
	RTs []string
	ACs []string
}

func (d *testDevice) ApplyConfig(ctx context.Context, prev, next *Config) error {
	if prev == nil || next == nil {
		return errors.New("ApplyConfig needs both configs")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	built := map[string]deviceMACVRF{}
	for name, ni := range next.NetworkInstances {
		if ni.Type != NetworkInstanceL2VSI {
			continue
		}
		v := deviceMACVRF{RD: ni.RouteDistinguisher, RTs: ni.ImportRouteTargets}
		for id, e := range ni.EVPNInstances {
			v.EVI = id
			if e.RouteDistinguisher != "" {
				v.RD = e.RouteDistinguisher
			}
		}
		if v.RD == "" {
			return fmt.Errorf("MAC-VRF %s has no route distinguisher", name)
		}
		for _, id := range sortedKeys(ni.Interfaces) {
			ac := ni.Interfaces[id]
			sub := uint32(0)
			if ac.Subinterface != nil {
				sub = *ac.Subinterface
			}
			v.ACs = append(v.ACs, fmt.Sprintf("%s.%d", ac.Interface, sub))
		}
		built[name] = v
	}
	if err := d.failNext; err != nil {
		d.failNext = nil
		return err
	}
	d.macVRFs = built
	d.applied = append(d.applied, next)
	return nil
}

func (d *testDevice) snapshot() (int, map[string]deviceMACVRF) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.applied), d.macVRFs
}

func (d *testDevice) failNextApply(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failNext = err
}

// userCreds sends username/password metadata (gnmi_cli's keys) without
// requiring TLS, for the plaintext tests.
type userCreds struct{ user, password string }

func (c userCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"username": c.user, "password": c.password}, nil
}

func (c userCreds) RequireTransportSecurity() bool { return false }

var testUsers = []User{
	{Name: "admin", Password: "admin-secret", Access: ReadWrite},
	{Name: "viewer", Password: "viewer-secret", Access: ReadOnly},
}

// startServer runs a real gRPC server on 127.0.0.1:0 and returns it with
// its address.
func startServer(t testing.TB, opts Options) (*Server, string) {
	t.Helper()
	if opts.Device == nil {
		opts.Device = &testDevice{}
	}
	if opts.TLS == nil {
		opts.Plaintext = true
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Users == nil && !opts.NoAuth {
		opts.Users = testUsers
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, lis.Addr().String()
}

// dial connects a plaintext client as user (no credentials when user is "").
func dial(t testing.TB, addr, user, password string) gpb.GNMIClient {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if user != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(userCreds{user, password}))
	}
	return dialWith(t, addr, opts...)
}

func dialWith(t testing.TB, addr string, opts ...grpc.DialOption) gpb.GNMIClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return gpb.NewGNMIClient(conn)
}

func dialTLS(t testing.TB, addr string, creds credentials.TransportCredentials, user, password string) gpb.GNMIClient {
	t.Helper()
	return dialWith(t, addr, grpc.WithTransportCredentials(creds), grpc.WithPerRPCCredentials(userCreds{user, password}))
}

// mustPathT parses "/a/b[k=v]/c" for tests (no escapes).
func mustPathT(s string) *gpb.Path {
	p := &gpb.Path{}
	if s == "/" || s == "" {
		return p
	}
	for _, part := range splitPath(s) {
		e := &gpb.PathElem{}
		name, rest, hasKeys := cutAny(part, '[')
		e.Name = name
		for hasKeys {
			var kv string
			kv, rest, _ = cutAny(rest, ']')
			k, v, ok := cutAny(kv, '=')
			if !ok {
				panic(fmt.Sprintf("bad key %q in %q", kv, s))
			}
			if e.Key == nil {
				e.Key = map[string]string{}
			}
			e.Key[k] = v
			_, rest, hasKeys = cutAny(rest, '[')
		}
		p.Elem = append(p.Elem, e)
	}
	return p
}

func cutAny(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// splitPath splits on '/' outside brackets.
func splitPath(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '/':
			if depth == 0 {
				if i > start {
					parts = append(parts, s[start:i])
				}
				start = i + 1
			}
		}
	}
	if start < len(s) {
		parts = append(parts, s[start:])
	}
	return parts
}

// decodeJSON decodes a Get/Set JSON value for comparison.
func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("bad JSON %s: %v", b, err)
	}
	return v
}

func jsonIETF(s string) *gpb.TypedValue {
	return &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: []byte(s)}}
}

// fixtureJSON is a PE config in JSON_IETF: two ports, the DEFAULT instance
// with BGP, one MAC-VRF with an EVI and an AC, and one all-active segment.
const fixtureJSON = `{
 "openconfig-interfaces:interfaces": {"interface": [
  {"name": "eth1", "config": {"name": "eth1", "type": "iana-if-type:ethernetCsmacd", "enabled": true, "mtu": 9000},
   "subinterfaces": {"subinterface": [{"index": 100, "config": {"index": 100},
     "openconfig-vlan:vlan": {"match": {"single-tagged": {"config": {"vlan-id": 100}}}}}]}},
  {"name": "eth2", "config": {"name": "eth2", "type": "iana-if-type:ethernetCsmacd"}}
 ]},
 "openconfig-network-instance:network-instances": {"network-instance": [
  {"name": "DEFAULT", "config": {"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"},
   "protocols": {"protocol": [{"identifier": "openconfig-policy-types:BGP", "name": "BGP",
    "config": {"identifier": "openconfig-policy-types:BGP", "name": "BGP"},
    "bgp": {"global": {"config": {"as": 65000, "router-id": "192.0.2.1"}},
     "neighbors": {"neighbor": [{"neighbor-address": "192.0.2.254",
      "config": {"neighbor-address": "192.0.2.254", "peer-as": 65000},
      "afi-safis": {"afi-safi": [{"afi-safi-name": "openconfig-bgp-types:L2VPN_EVPN",
       "config": {"afi-safi-name": "openconfig-bgp-types:L2VPN_EVPN", "enabled": true}}]}}]}}}]}},
  {"name": "blue", "config": {"name": "blue", "type": "openconfig-network-instance-types:L2VSI", "route-distinguisher": "192.0.2.1:100"},
   "encapsulation": {"config": {"encapsulation-type": "openconfig-network-instance-types:MPLS"}},
   "inter-instance-policies": {"import-export-policy": {"config": {"import-route-target": ["65000:100"], "export-route-target": ["route-target:65000:100"]}}},
   "vlans": {"vlan": [{"vlan-id": 100, "config": {"vlan-id": 100, "name": "blue100"}}]},
   "interfaces": {"interface": [{"id": "eth1.100", "config": {"id": "eth1.100", "interface": "eth1", "subinterface": 100}}]},
   "fdb": {"config": {"mac-learning": true}, "mac-mobility": {"config": {"mac-mobility": true, "mac-mobility-window": 180, "mac-mobility-threshold": 5}}},
   "evpn": {"evpn-instances": {"evpn-instance": [{"evi": "100", "config": {"evi": "100",
    "encapsulation-type": "openconfig-network-instance-types:MPLS", "service-type": "openconfig-evpn-types:VLAN_BASED",
    "route-distinguisher": "AUTO", "replication-mode": "STATIC_INGRESS_REPLICATION"}}]}}}
 ]},
 "openconfig-ethernet-segments:ethernet-segments": {"ethernet-segment": [
  {"name": "es1", "config": {"name": "es1", "esi-type": "TYPE_0_OPERATOR_CONFIGURED", "esi": "00112233445566778899",
    "redundancy-mode": "openconfig-evpn-types:ALL_ACTIVE", "interface": "eth2"},
   "df-election": {"config": {"df-election-method": "PREFERENCE", "preference": 200, "revertive": true, "election-wait-time": 3}}}
 ]}
}`

func ptr[T any](v T) *T { return &v }

// fixtureConfig is fixtureJSON as the typed model.
func fixtureConfig() *Config {
	return &Config{
		Interfaces: map[string]*Interface{
			"eth1": {Name: "eth1", Type: "ethernetCsmacd", Enabled: ptr(true), MTU: 9000,
				Subinterfaces: map[uint32]*Subinterface{100: {Index: 100, VLAN: 100}}},
			"eth2": {Name: "eth2", Type: "ethernetCsmacd"},
		},
		NetworkInstances: map[string]*NetworkInstance{
			"DEFAULT": {Name: "DEFAULT", Type: NetworkInstanceDefault,
				BGP: map[string]*BGP{"BGP": {Identifier: "BGP", Name: "BGP", AS: 65000, RouterID: "192.0.2.1",
					Neighbors: map[string]*BGPNeighbor{"192.0.2.254": {Address: "192.0.2.254", PeerAS: 65000,
						AFISafis: map[string]*BGPAFISafi{"L2VPN_EVPN": {Name: "L2VPN_EVPN", Enabled: ptr(true)}}}}}}},
			"blue": {Name: "blue", Type: NetworkInstanceL2VSI, RouteDistinguisher: "192.0.2.1:100",
				EncapsulationType:  EncapsulationMPLS,
				ImportRouteTargets: []string{"65000:100"}, ExportRouteTargets: []string{"route-target:65000:100"},
				VLANs:      map[uint16]*VLAN{100: {ID: 100, Name: "blue100"}},
				Interfaces: map[string]*NetworkInstanceInterface{"eth1.100": {ID: "eth1.100", Interface: "eth1", Subinterface: ptr(uint32(100))}},
				FDB:        FDB{MACLearning: ptr(true), MACMobility: ptr(true), MACMobilityWindow: ptr(uint16(180)), MACMobilityThreshold: ptr(uint8(5))},
				EVPNInstances: map[string]*EVPNInstance{"100": {EVI: "100", EncapsulationType: EncapsulationMPLS,
					ServiceType: ServiceVLANBased, RouteDistinguisher: "AUTO", ReplicationMode: "STATIC_INGRESS_REPLICATION"}},
			},
		},
		EthernetSegments: map[string]*EthernetSegment{
			"es1": {Name: "es1", ESIType: ESIType0Operator, ESI: "00112233445566778899", RedundancyMode: AllActive,
				Interface: "eth2", DFElectionMethod: DFPreference, Preference: ptr(uint16(200)), Revertive: ptr(true), ElectionWaitTime: ptr(uint32(3))},
		},
	}
}

// loadFixture replaces the whole config with fixtureJSON.
func loadFixture(t testing.TB, c gpb.GNMIClient) {
	t.Helper()
	_, err := c.Set(context.Background(), &gpb.SetRequest{Replace: []*gpb.Update{{Path: &gpb.Path{}, Val: jsonIETF(fixtureJSON)}}})
	if err != nil {
		t.Fatalf("Set fixture: %v", err)
	}
}

// fakeClock is a server clock (Options.Now) that moves only when told, so
// ages are read exactly.
type fakeClock struct {
	// mu guards now.
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
