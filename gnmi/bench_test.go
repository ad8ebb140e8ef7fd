package gnmi

import (
	"context"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/p4evpn/p4evpn/evpn/route"
)

const benchMACs = 100_000

// benchServer starts a server whose MAC-VRF blue holds n local MACs (seven
// leaves each) and returns it with a client.
func benchServer(b *testing.B, n int) (*Server, gpb.GNMIClient) {
	b.Helper()
	srv, addr := startServer(b, Options{})
	for i := range n {
		mac := route.MAC{0x02, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		srv.State().SetMACEntry("blue", MACEntry{MAC: mac, VLAN: 100, EVI: 100, Age: time.Duration(i%300) * time.Second,
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
		srv.State().SetMACEntry("blue", MACEntry{MAC: mac, VLAN: 100, EVI: 100})
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
