package main

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/p4evpn/p4evpn/evpn/route"
	"github.com/p4evpn/p4evpn/gnmi"
)

// readOnlyDevice refuses every Set: the benchmark only reads.
type readOnlyDevice struct{}

func (readOnlyDevice) ApplyConfig(context.Context, *gnmi.Config, *gnmi.Config) error { return nil }

// BenchmarkShowMAC measures show evpn mac (one Get of the EVPN instances,
// one of the FIB and the L2RIB, decode and join) against evpnd's gNMI
// server holding n MACs in one MAC-VRF: half local on an AC, half remote
// behind two PEs.
func BenchmarkShowMAC(b *testing.B) {
	const n = 10_000
	cfg := &gnmi.Config{NetworkInstances: map[string]*gnmi.NetworkInstance{"evi100": {Name: "evi100", Type: gnmi.NetworkInstanceL2VSI,
		EVPNInstances: map[string]*gnmi.EVPNInstance{"100": {EVI: "100"}}}}}
	srv, err := gnmi.New(gnmi.Options{Device: readOnlyDevice{}, Config: cfg, Plaintext: true, NoAuth: true, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	b.Cleanup(func() { srv.Close(); <-done })
	peers := []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")}
	for i := range n {
		mac := route.MAC{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		fib := gnmi.MACEntry{MAC: mac, VLAN: 100, EVI: 100}
		prod := gnmi.L2RIBProducer{Producer: gnmi.ProducerBGP, SeqNumber: uint32(i % 3),
			NextHops: []gnmi.L2NextHop{{PeerIP: peers[i%2], Label: 200001, Resolved: true}}}
		if i%2 == 0 {
			fib.Interface, fib.Subinterface = "eth1", 100
			prod = gnmi.L2RIBProducer{Producer: gnmi.ProducerLocal, NextHops: []gnmi.L2NextHop{{Interface: "eth1", Subinterface: 100, Resolved: true}}}
		}
		srv.State().SetMACEntry("evi100", fib)
		if err := srv.State().SetL2RIBEntry("evi100", gnmi.L2RIBEntry{MAC: mac, VLAN: 100, EVI: 100, Producers: []gnmi.L2RIBProducer{prod}}); err != nil {
			b.Fatal(err)
		}
	}
	r, err := dialGNMI(gnmiOptions{addr: lis.Addr().String(), plaintext: true})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	for b.Loop() {
		rows, err := r.macRows(ctx, 100)
		if err != nil {
			b.Fatal(err)
		}
		if len(rows) != n {
			b.Fatalf("show evpn mac 100 read %d MACs, want %d", len(rows), n)
		}
	}
	b.ReportMetric(float64(n), "MACs")
}
