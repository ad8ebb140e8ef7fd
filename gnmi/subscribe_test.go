package gnmi

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/p4evpn/p4evpn/evpn/route"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
)

// subClient reads a Subscribe stream in the background.
type subClient struct {
	stream gpb.GNMI_SubscribeClient
	ch     chan *gpb.SubscribeResponse
	errc   chan error
	// buf holds updates of a read notification not yet consumed.
	buf []leafUpdate
}

// stuckAfter only guards against a hung test; no test asserts on time.
const stuckAfter = 20 * time.Second

func openSub(t testing.TB, c gpb.GNMIClient, list *gpb.SubscriptionList) *subClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := c.Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if err := stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: list}}); err != nil {
		t.Fatalf("send subscription: %v", err)
	}
	s := &subClient{stream: stream, ch: make(chan *gpb.SubscribeResponse, 1024), errc: make(chan error, 1)}
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				s.errc <- err
				close(s.ch)
				return
			}
			s.ch <- r
		}
	}()
	return s
}

// next returns the next response; nil when the stream ended.
func (s *subClient) next(t testing.TB) *gpb.SubscribeResponse {
	t.Helper()
	select {
	case r := <-s.ch:
		return r
	case <-time.After(stuckAfter):
		t.Fatalf("no Subscribe response in %v", stuckAfter)
	}
	return nil
}

// leafUpdate is one received update or delete (val nil).
type leafUpdate struct {
	path string
	val  *gpb.TypedValue
}

// untilSync collects updates up to sync_response, as path -> value.
func (s *subClient) untilSync(t testing.TB) map[string]*gpb.TypedValue {
	t.Helper()
	out := map[string]*gpb.TypedValue{}
	for {
		r := s.next(t)
		if r == nil {
			t.Fatalf("stream ended before sync_response: %v", <-s.errc)
		}
		if r.GetSyncResponse() {
			return out
		}
		for _, u := range flatten(r.GetUpdate()) {
			out[u.path] = u.val
		}
	}
}

func flatten(n *gpb.Notification) []leafUpdate {
	var out []leafUpdate
	for _, d := range n.GetDelete() {
		out = append(out, leafUpdate{path: FormatPath(append(n.GetPrefix().GetElem(), d.GetElem()...))})
	}
	for _, u := range n.GetUpdate() {
		out = append(out, leafUpdate{path: FormatPath(append(n.GetPrefix().GetElem(), u.GetPath().GetElem()...)), val: u.GetVal()})
	}
	return out
}

// nextUpdate returns the next update or delete, past any sync_response.
func (s *subClient) nextUpdate(t testing.TB) leafUpdate {
	t.Helper()
	for len(s.buf) == 0 {
		r := s.next(t)
		if r == nil {
			t.Fatalf("stream ended: %v", <-s.errc)
		}
		s.buf = flatten(r.GetUpdate())
	}
	u := s.buf[0]
	s.buf = s.buf[1:]
	return u
}

// until reads updates until one satisfies pred and returns everything read.
func (s *subClient) until(t testing.TB, pred func(leafUpdate) bool) []leafUpdate {
	t.Helper()
	var got []leafUpdate
	for {
		u := s.nextUpdate(t)
		got = append(got, u)
		if pred(u) {
			return got
		}
	}
}

func sub(path string, mode gpb.SubscriptionMode) *gpb.Subscription {
	return &gpb.Subscription{Path: mustPathT(path), Mode: mode}
}

const blueFDB = "/network-instances/network-instance[name=blue]/fdb"

func macEntryPath(mac string, vlan int) string {
	return blueFDB + "/mac-table/entries/entry[mac-address=" + mac + "][vlan=" + strconv.Itoa(vlan) + "]"
}

func u(v uint64) *gpb.TypedValue { return uintVal(v) }
func s(v string) *gpb.TypedValue { return stringVal(v) }
func b(v bool) *gpb.TypedValue   { return boolVal(v) }

// localMAC is a MAC on eth1.100 that entered the table at since.
func localMAC(mac string, since time.Time) MACEntry {
	return MACEntry{MAC: route.MustMAC(mac), VLAN: 100, EVI: 100, Since: since, Interface: "eth1", Subinterface: 100}
}

func TestSubscribeOnce(t *testing.T) {
	clk := newFakeClock()
	srv, addr := startServer(t, Options{Now: clk.Now})
	loadFixture(t, dial(t, addr, "admin", "admin-secret"))
	srv.State().SetMACEntry("blue", localMAC("00:00:5e:00:53:01", clk.Now().Add(-5*time.Second)))
	srv.State().SetMACEntry("blue", MACEntry{MAC: route.MustMAC("00:00:5e:00:53:02"), VLAN: 100, Static: true})
	c := dial(t, addr, "viewer", "viewer-secret")
	sc := openSub(t, c, &gpb.SubscriptionList{Mode: gpb.SubscriptionList_ONCE,
		Prefix:       &gpb.Path{Target: DefaultTarget},
		Subscription: []*gpb.Subscription{sub(blueFDB+"/mac-table", 0)}})
	got := sc.untilSync(t)
	e1, e2 := macEntryPath("00:00:5e:00:53:01", 100), macEntryPath("00:00:5e:00:53:02", 100)
	want := map[string]*gpb.TypedValue{
		e1 + "/state/mac-address": s("00:00:5e:00:53:01"), e1 + "/state/vlan": u(100), e1 + "/state/age": u(5),
		e1 + "/state/entry-type": s("DYNAMIC"), e1 + "/state/evi": u(100),
		e1 + "/interface/interface-ref/state/interface": s("eth1"), e1 + "/interface/interface-ref/state/subinterface": u(100),
		e2 + "/state/mac-address": s("00:00:5e:00:53:02"), e2 + "/state/vlan": u(100),
		e2 + "/state/entry-type": s("STATIC"),
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("ONCE updates (-want +got):\n%s", diff)
	}
	if r := sc.next(t); r != nil {
		t.Errorf("after ONCE sync, got %v, want the stream to end", r)
	}
	if err := <-sc.errc; err.Error() != "EOF" {
		t.Errorf("ONCE ended with %v, want EOF", err)
	}
}

func TestSubscribePoll(t *testing.T) {
	clk := newFakeClock()
	srv, addr := startServer(t, Options{Now: clk.Now})
	loadFixture(t, dial(t, addr, "admin", "admin-secret"))
	srv.State().SetMACEntry("blue", localMAC("00:00:5e:00:53:01", clk.Now().Add(-5*time.Second)))
	sc := openSub(t, dial(t, addr, "viewer", "viewer-secret"), &gpb.SubscriptionList{Mode: gpb.SubscriptionList_POLL,
		Subscription: []*gpb.Subscription{sub(macEntryPath("00:00:5e:00:53:01", 100)+"/state/age", 0)}})
	age := macEntryPath("00:00:5e:00:53:01", 100) + "/state/age"
	for _, want := range []uint64{5, 65, 125} {
		got := sc.untilSync(t)
		if diff := cmp.Diff(map[string]*gpb.TypedValue{age: u(want)}, got, protocmp.Transform()); diff != "" {
			t.Errorf("poll (-want +got):\n%s", diff)
		}
		srv.State().SetMACEntry("blue", localMAC("00:00:5e:00:53:01", clk.Now().Add(-time.Duration(want+60)*time.Second)))
		if err := sc.stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Poll{Poll: &gpb.Poll{}}}); err != nil {
			t.Fatalf("send poll: %v", err)
		}
	}
}

func TestSubscribeStreamOnChangeRemoteMAC(t *testing.T) {
	clk := newFakeClock()
	srv, addr := startServer(t, Options{Now: clk.Now})
	loadFixture(t, dial(t, addr, "admin", "admin-secret"))
	sc := openSub(t, dial(t, addr, "viewer", "viewer-secret"), &gpb.SubscriptionList{Mode: gpb.SubscriptionList_STREAM,
		Subscription: []*gpb.Subscription{
			sub(blueFDB+"/mac-table/entries/entry", gpb.SubscriptionMode_ON_CHANGE),
			sub(blueFDB+"/l2rib", gpb.SubscriptionMode_TARGET_DEFINED),
		}})
	if got := sc.untilSync(t); len(got) != 0 {
		t.Fatalf("initial sync has %d updates, want none: %v", len(got), got)
	}
	// The device learns a remote MAC over BGP: PE 192.0.2.2, label 3001.
	mac := route.MustMAC("00:00:5e:00:53:99")
	srv.State().SetMACEntry("blue", MACEntry{MAC: mac, VLAN: 100, EVI: 100, Since: clk.Now()})
	nh := L2NextHop{PeerIP: netip.MustParseAddr("192.0.2.2"), Label: 3001, Resolved: true}
	if err := srv.State().SetL2RIBEntry("blue", L2RIBEntry{MAC: mac, VLAN: 100, EVI: 100, Producers: []L2RIBProducer{
		{Producer: ProducerBGP, SeqNumber: 2, NextHops: []L2NextHop{nh}}}}); err != nil {
		t.Fatalf("SetL2RIBEntry: %v", err)
	}
	entry := macEntryPath("00:00:5e:00:53:99", 100)
	rib := blueFDB + "/l2rib/mac-table/entries/entry[mac-address=00:00:5e:00:53:99]"
	hop := blueFDB + "/l2rib/mac-table/next-hops/next-hop[index=1]"
	want := map[string]*gpb.TypedValue{
		entry + "/state/mac-address": s("00:00:5e:00:53:99"), entry + "/state/vlan": u(100), entry + "/state/age": u(0),
		entry + "/state/entry-type": s("DYNAMIC"), entry + "/state/evi": u(100),
		hop + "/state/index": u(1), hop + "/state/peer-ip": s("192.0.2.2"), hop + "/state/label": u(3001), hop + "/state/resolved": b(true),
		rib + "/state/mac-address": s("00:00:5e:00:53:99"), rib + "/state/vlan": u(100), rib + "/state/evi": u(100),
		rib + "/producers/producer[producer=BGP]/state/producer":   s("BGP"),
		rib + "/producers/producer[producer=BGP]/state/seq-number": u(2),
		rib + "/producers/producer[producer=BGP]/state/sticky":     b(false),
		rib + "/producers/producer[producer=BGP]/state/next-hop":   u(1),
	}
	got := map[string]*gpb.TypedValue{}
	for len(got) < len(want) {
		u := sc.nextUpdate(t)
		got[u.path] = u.val
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("ON_CHANGE updates for the remote MAC (-want +got):\n%s", diff)
	}
	// The MAC moves behind this PE: LOCAL producer, seq 3; the BGP next hop
	// is released and deleted.
	if err := srv.State().SetL2RIBEntry("blue", L2RIBEntry{MAC: mac, VLAN: 100, EVI: 100, Producers: []L2RIBProducer{
		{Producer: ProducerLocal, SeqNumber: 3}}}); err != nil {
		t.Fatalf("SetL2RIBEntry: %v", err)
	}
	deleted := map[string]bool{}
	sc.until(t, func(u leafUpdate) bool {
		if u.val == nil {
			deleted[u.path] = true
		}
		return deleted[hop+"/state/peer-ip"] && deleted[rib+"/producers/producer[producer=BGP]/state/seq-number"]
	})
	srv.State().DeleteMACEntry("blue", mac, 100)
	sc.until(t, func(u leafUpdate) bool { return u.val == nil && u.path == entry+"/state/age" })
}

func TestSubscribeStreamConfigChange(t *testing.T) {
	_, addr := startServer(t, Options{})
	admin := dial(t, addr, "admin", "admin-secret")
	loadFixture(t, admin)
	desc := "/network-instances/network-instance[name=blue]/state/description"
	sc := openSub(t, dial(t, addr, "viewer", "viewer-secret"), &gpb.SubscriptionList{Mode: gpb.SubscriptionList_STREAM,
		Subscription: []*gpb.Subscription{sub("/network-instances/network-instance[name=blue]/state", gpb.SubscriptionMode_ON_CHANGE)}})
	initial := sc.untilSync(t)
	if diff := cmp.Diff(s("L2VSI"), initial["/network-instances/network-instance[name=blue]/state/type"], protocmp.Transform()); diff != "" {
		t.Errorf("initial state/type (-want +got):\n%s", diff)
	}
	if _, err := admin.Set(context.Background(), &gpb.SetRequest{Update: []*gpb.Update{{
		Path: mustPathT("/network-instances/network-instance[name=blue]/config/description"), Val: jsonIETF(`"tenant blue"`)}}}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got := sc.until(t, func(u leafUpdate) bool { return u.path == desc })
	if diff := cmp.Diff(s("tenant blue"), got[len(got)-1].val, protocmp.Transform()); diff != "" {
		t.Errorf("state/description update (-want +got):\n%s", diff)
	}
}

func counterPath(name string) string {
	return "/interfaces/interface[name=eth1]/state/counters/" + name
}

func TestSubscribeSample(t *testing.T) {
	tests := []struct {
		desc      string
		suppress  bool
		heartbeat time.Duration
	}{
		{desc: "every sample repeats every leaf"},
		{desc: "suppress_redundant sends only changes", suppress: true},
		{desc: "suppress_redundant with heartbeat resends unchanged leaves", suppress: true, heartbeat: 50 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			srv, addr := startServer(t, Options{})
			srv.State().SetInterface(InterfaceState{Name: "eth1", OperStatus: "UP", Counters: InterfaceCounters{InOctets: 100, InPkts: 1}})
			sc := openSub(t, dial(t, addr, "viewer", "viewer-secret"), &gpb.SubscriptionList{Mode: gpb.SubscriptionList_STREAM,
				Subscription: []*gpb.Subscription{{Path: mustPathT("/interfaces/interface[name=eth1]/state/counters"),
					Mode: gpb.SubscriptionMode_SAMPLE, SampleInterval: uint64(20 * time.Millisecond),
					SuppressRedundant: tc.suppress, HeartbeatInterval: uint64(tc.heartbeat)}}})
			initial := sc.untilSync(t)
			if len(initial) != 14 || !cmp.Equal(u(100), initial[counterPath("in-octets")], protocmp.Transform()) {
				t.Fatalf("first sample has %d leaves, in-octets %v; want 14 counters, in-octets 100", len(initial), initial[counterPath("in-octets")])
			}
			switch {
			case !tc.suppress || tc.heartbeat > 0:
				// An unchanged counter is sent again by a later sample.
				sc.until(t, func(u leafUpdate) bool { return u.path == counterPath("in-pkts") })
			default:
				srv.State().SetInterface(InterfaceState{Name: "eth1", OperStatus: "UP", Counters: InterfaceCounters{InOctets: 200, InPkts: 1}})
				got := sc.until(t, func(u leafUpdate) bool { return u.path == counterPath("in-octets") })
				want := []leafUpdate{{path: counterPath("in-octets"), val: u(200)}}
				if diff := cmp.Diff(want, got, protocmp.Transform(), cmp.AllowUnexported(leafUpdate{})); diff != "" {
					t.Errorf("with suppress_redundant, samples after a change (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestSubscribeOnChangeHeartbeat(t *testing.T) {
	srv, addr := startServer(t, Options{})
	srv.State().SetDesignatedForwarder("es1", DesignatedForwarder{VLAN: 100, Address: netip.MustParseAddr("192.0.2.1"), Local: true})
	path := "/ethernet-segments/ethernet-segment[name=es1]/designated-forwarders/designated-forwarder[vlan=100]/state/df-address"
	sc := openSub(t, dial(t, addr, "viewer", "viewer-secret"), &gpb.SubscriptionList{Mode: gpb.SubscriptionList_STREAM,
		Subscription: []*gpb.Subscription{{Path: mustPathT(path), Mode: gpb.SubscriptionMode_ON_CHANGE, HeartbeatInterval: uint64(30 * time.Millisecond)}}})
	if diff := cmp.Diff(map[string]*gpb.TypedValue{path: s("192.0.2.1")}, sc.untilSync(t), protocmp.Transform()); diff != "" {
		t.Errorf("initial (-want +got):\n%s", diff)
	}
	// Nothing changes, yet the heartbeat resends the value.
	got := sc.until(t, func(u leafUpdate) bool { return u.path == path })
	if diff := cmp.Diff(s("192.0.2.1"), got[len(got)-1].val, protocmp.Transform()); diff != "" {
		t.Errorf("heartbeat (-want +got):\n%s", diff)
	}
}

func TestSubscribeUpdatesOnly(t *testing.T) {
	srv, addr := startServer(t, Options{})
	srv.State().SetInterface(InterfaceState{Name: "eth1", OperStatus: "UP"})
	sc := openSub(t, dial(t, addr, "viewer", "viewer-secret"), &gpb.SubscriptionList{Mode: gpb.SubscriptionList_STREAM, UpdatesOnly: true,
		Subscription: []*gpb.Subscription{sub("/interfaces/interface[name=eth1]/state/oper-status", gpb.SubscriptionMode_ON_CHANGE)}})
	if got := sc.untilSync(t); len(got) != 0 {
		t.Fatalf("updates_only sent %v before sync", got)
	}
	srv.State().SetInterface(InterfaceState{Name: "eth1", OperStatus: "DOWN"})
	got := sc.until(t, func(leafUpdate) bool { return true })
	want := []leafUpdate{{path: "/interfaces/interface[name=eth1]/state/oper-status", val: s("DOWN")}}
	if diff := cmp.Diff(want, got, protocmp.Transform(), cmp.AllowUnexported(leafUpdate{})); diff != "" {
		t.Errorf("update (-want +got):\n%s", diff)
	}
}

func TestSubscribeErrors(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dial(t, addr, "viewer", "viewer-secret")
	tests := []struct {
		desc     string
		list     *gpb.SubscriptionList
		wantCode codes.Code
		wantMsg  string
	}{
		{desc: "unknown path", list: &gpb.SubscriptionList{Subscription: []*gpb.Subscription{sub("/interfaces/port", 0)}},
			wantCode: codes.NotFound, wantMsg: `no node "port"`},
		{desc: "sample interval too small", list: &gpb.SubscriptionList{Subscription: []*gpb.Subscription{{Path: mustPathT("/interfaces"),
			Mode: gpb.SubscriptionMode_SAMPLE, SampleInterval: 1000}}},
			wantCode: codes.InvalidArgument, wantMsg: "sample_interval 1µs is below the minimum"},
		{desc: "empty list", list: &gpb.SubscriptionList{}, wantCode: codes.InvalidArgument, wantMsg: "subscription list is empty"},
		{desc: "wrong target", list: &gpb.SubscriptionList{Prefix: &gpb.Path{Target: "pe9"}, Subscription: []*gpb.Subscription{sub("/interfaces", 0)}},
			wantCode: codes.NotFound, wantMsg: `target "pe9" is not served`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			sc := openSub(t, c, tc.list)
			for r := range sc.ch {
				t.Errorf("unexpected response %v", r)
			}
			err := <-sc.errc
			if status.Code(err) != tc.wantCode || !strings.Contains(status.Convert(err).Message(), tc.wantMsg) {
				t.Errorf("Subscribe error = %v, want %v containing %q", err, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestSubscribePollRefusesASecondSubscription(t *testing.T) {
	_, addr := startServer(t, Options{})
	sc := openSub(t, dial(t, addr, "viewer", "viewer-secret"), &gpb.SubscriptionList{Mode: gpb.SubscriptionList_POLL,
		Subscription: []*gpb.Subscription{sub("/interfaces", 0)}})
	sc.untilSync(t)
	if err := sc.stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{}}}); err != nil {
		t.Fatalf("send: %v", err)
	}
	for r := range sc.ch {
		t.Errorf("unexpected response %v", r)
	}
	if err := <-sc.errc; status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "only poll requests are allowed") {
		t.Errorf("second subscription = %v, want InvalidArgument", err)
	}
}
