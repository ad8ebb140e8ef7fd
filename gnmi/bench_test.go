package gnmi

import (
	"context"
	"net/netip"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/p4evpn/p4evpn/evpn/route"
	"google.golang.org/grpc"
)

const benchMACs = 100_000

// benchServer starts a server whose MAC-VRF blue holds n local MACs (seven
// leaves each) and returns it with a client.
func benchServer(b *testing.B, n int) (*Server, gpb.GNMIClient) {
	b.Helper()
	srv, addr := startServer(b, Options{})
	for i := range n {
		mac := route.MAC{0x02, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		srv.State().SetMACEntry("blue", MACEntry{MAC: mac, VLAN: 100, EVI: 100, Since: time.Now().Add(-time.Duration(i%300) * time.Second),
			Interface: "eth1", Subinterface: 100})
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	// What the cache costs: the live heap with n entries and no client;
	// reported when the benchmark ends (b.Loop drops earlier metrics).
	b.Cleanup(func() { b.ReportMetric(float64(ms.HeapAlloc)/1e6, "heap-MB") })
	return srv, dial(b, addr, "viewer", "viewer-secret")
}

// syncCount subscribes and counts the updates before sync_response.
func syncCount(b *testing.B, c gpb.GNMIClient, mode gpb.SubscriptionList_Mode) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.Subscribe(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{
		Mode: mode, Subscription: []*gpb.Subscription{sub(blueFDB+"/mac-table", gpb.SubscriptionMode_ON_CHANGE)}}}}); err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		r, err := stream.Recv()
		if err != nil {
			b.Fatal(err)
		}
		if r.GetSyncResponse() {
			return n
		}
		n += len(r.GetUpdate().GetUpdate())
	}
}

func benchmarkSync(b *testing.B, mode gpb.SubscriptionList_Mode) {
	_, c := benchServer(b, benchMACs)
	cpu0 := cpuTime(b)
	for b.Loop() {
		if n := syncCount(b, c, mode); n != 7*benchMACs {
			b.Fatalf("%d updates before sync_response, want %d", n, 7*benchMACs)
		}
	}
	// The machine is shared: CPU time (server and client together) is the
	// figure that does not depend on what else runs.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(7*benchMACs), "leaves/op")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSubscribeOnceSync100k is the time from a ONCE subscription to
// sync_response over a 100k-entry MAC table.
func BenchmarkSubscribeOnceSync100k(b *testing.B) { benchmarkSync(b, gpb.SubscriptionList_ONCE) }

// BenchmarkSubscribeStreamSync100k is the same for a STREAM ON_CHANGE
// subscription.
func BenchmarkSubscribeStreamSync100k(b *testing.B) { benchmarkSync(b, gpb.SubscriptionList_STREAM) }

// BenchmarkOnChangeLatency100k measures one device publish of a new MAC to
// its arrival at a STREAM ON_CHANGE client, with 100k MACs in the table.
func BenchmarkOnChangeLatency100k(b *testing.B) {
	srv, c := benchServer(b, benchMACs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.Subscribe(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{
		Mode: gpb.SubscriptionList_STREAM, UpdatesOnly: true,
		Subscription: []*gpb.Subscription{sub(blueFDB+"/mac-table", gpb.SubscriptionMode_ON_CHANGE)}}}}); err != nil {
		b.Fatal(err)
	}
	if r, err := stream.Recv(); err != nil || !r.GetSyncResponse() {
		b.Fatalf("first response %v, %v; want sync_response", r, err)
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		i++
		mac := route.MAC{0x06, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		start := time.Now()
		srv.State().SetMACEntry("blue", MACEntry{MAC: mac, VLAN: 100, EVI: 100, Since: start})
		// One notification carries the entry's leaves (one timestamp).
		got := 0
		for got < 5 {
			r, err := stream.Recv()
			if err != nil {
				b.Fatal(err)
			}
			got += len(r.GetUpdate().GetUpdate())
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkGetMACTable10k is show evpn mac's read over gNMI: one Get, in
// JSON_IETF, of every FIB entry and every L2RIB entry of a 10,000-MAC
// MAC-VRF (wildcard keys: one update per entry), half local and half
// behind two remote PEs.
func BenchmarkGetMACTable10k(b *testing.B) {
	const n = 10_000
	srv, addr := startServer(b, Options{})
	peers := []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")}
	for i := range n {
		mac := route.MAC{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		fib := MACEntry{MAC: mac, VLAN: 100, EVI: 100}
		prod := L2RIBProducer{Producer: ProducerBGP, SeqNumber: uint32(i % 3),
			NextHops: []L2NextHop{{PeerIP: peers[i%2], Label: 200001, Resolved: true}}}
		if i%2 == 0 {
			fib.Interface, fib.Subinterface = "eth1", 100
			prod = L2RIBProducer{Producer: ProducerLocal, NextHops: []L2NextHop{{Interface: "eth1", Subinterface: 100, Resolved: true}}}
		}
		srv.State().SetMACEntry("blue", fib)
		if err := srv.State().SetL2RIBEntry("blue", L2RIBEntry{MAC: mac, VLAN: 100, EVI: 100, Producers: []L2RIBProducer{prod}}); err != nil {
			b.Fatal(err)
		}
	}
	c := dial(b, addr, "viewer", "viewer-secret")
	req := &gpb.GetRequest{Encoding: gpb.Encoding_JSON_IETF, Path: []*gpb.Path{
		mustPathT(blueFDB + "/mac-table/entries/entry[mac-address=*][vlan=*]"),
		mustPathT(blueFDB + "/l2rib/mac-table/entries/entry[mac-address=*]"),
	}}
	ctx := context.Background()
	cpu0 := cpuTime(b)
	for b.Loop() {
		resp, err := c.Get(ctx, req, grpc.MaxCallRecvMsgSize(1<<30))
		if err != nil {
			b.Fatal(err)
		}
		if got := len(resp.GetNotification()[0].GetUpdate()) + len(resp.GetNotification()[1].GetUpdate()); got != 2*n {
			b.Fatalf("Get answered %d entries, want %d", got, 2*n)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}
