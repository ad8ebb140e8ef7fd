package evpn_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/asic/memswitch"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// printSpeaker stands in for bgp.Speaker and prints what the PE originates.
type printSpeaker struct{}

func (printSpeaker) Announce(_ context.Context, p route.Path) error {
	fmt.Println("announce", p.NLRI)
	return nil
}

func (printSpeaker) Withdraw(_ context.Context, n route.NLRI) error {
	fmt.Println("withdraw", n)
	return nil
}

// Example wires a PE the way evpnd does: a speaker, a switch, a segment,
// an EVI; then feeds it a learn event and a remote route.
func Example() {
	ctx := context.Background()
	sw := memswitch.New()
	pe, err := evpn.New(evpn.Config{
		RouterID: netip.MustParseAddr("192.0.2.1"),
		ASN:      65000,
		Labels:   evpn.LabelRange{First: 1000, Last: 1999},
		Core:     evpn.Core{Port: 100, NextHopMAC: route.MustMAC("02:ff:00:00:00:01")},
		Speaker:  printSpeaker{},
		Switch:   sw,
	})
	if err != nil {
		panic(err)
	}
	defer pe.Close()
	esi := route.ESIFromLACP(route.MustMAC("00:aa:bb:cc:dd:ee"), 1)
	must(pe.AddSegment(ctx, evpn.SegmentConfig{ESI: esi}))
	must(pe.AddEVI(ctx, evpn.EVIConfig{ID: 10, BD: 10, ACs: []evpn.ACConfig{{ID: 1, Port: 1, VLAN: 10, ESI: esi}}}))

	must(pe.HandleSwitchEvent(ctx, asic.Event{Kind: asic.EventLearn, BD: 10, MAC: route.MustMAC("02:00:00:00:00:01"), AC: 1}))
	pe3 := netip.MustParseAddr("192.0.2.3")
	must(pe.HandlePath(ctx, route.Path{
		NLRI:  route.MACIP{RD: route.AutoRD(pe3, 10), MAC: route.MustMAC("02:00:00:00:00:03"), Label1: 3001},
		Attrs: route.Attributes{NextHop: pe3, RouteTargets: []route.RouteTarget{route.AutoRouteTarget(65000, 10)}},
	}))
	table, _ := pe.MACTable(10)
	for _, m := range table {
		fmt.Println(m.MAC, m.Source, m.Dest)
	}
	// Output:
	// announce [3][192.0.2.1:10][0][192.0.2.1]
	// announce [4][192.0.2.1:0][01:00:aa:bb:cc:dd:ee:00:01:00][192.0.2.1]
	// announce [1][192.0.2.1:0][01:00:aa:bb:cc:dd:ee:00:01:00][4294967295] label 0
	// announce [1][192.0.2.1:10][01:00:aa:bb:cc:dd:ee:00:01:00][0] label 1001
	// announce [2][192.0.2.1:10][01:00:aa:bb:cc:dd:ee:00:01:00][0][02:00:00:00:00:01][] labels 1001/0
	// 02:00:00:00:00:01 local ac 1
	// 02:00:00:00:00:03 remote pe 1 label 3001
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
