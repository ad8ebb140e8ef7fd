package gnmi_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
	"github.com/p4evpn/p4evpn/gnmi"
)

// pe is how evpnd plugs in: ApplyConfig converts the whole config with
// Config.EVPN and applies the difference to evpn.PE.
type pe struct {
	ports map[string]asic.PortID
}

func (p *pe) ApplyConfig(ctx context.Context, prev, next *gnmi.Config) error {
	plan, err := next.EVPN(p.ports)
	if err != nil {
		return err
	}
	// evpnd: diff plan against prev's plan; RemoveEVI, AddSegment, AddEVI.
	fmt.Println(len(plan.EVIs), "EVIs,", len(plan.Segments), "segments")
	return nil
}

// Example shows the server's wiring: a TLS server with a read-write and a
// read-only user, and telemetry published by the device.
func Example() {
	tlsCfg, err := gnmi.ServerTLS("server.crt", "server.key", "clients-ca.crt")
	if err != nil {
		log.Print(err) // the files do not exist in this example
		return
	}
	srv, err := gnmi.New(gnmi.Options{
		Target: "pe1",
		Device: &pe{ports: map[string]asic.PortID{"eth1": 1, "eth2": 2}},
		TLS:    tlsCfg,
		Users: []gnmi.User{
			{Name: "nms", Password: "secret", Access: gnmi.ReadWrite},
			{Name: "noc", Password: "view", Access: gnmi.ReadOnly},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:9339")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	// A MAC learned on eth1.100 of MAC-VRF blue.
	srv.State().SetMACEntry("blue", gnmi.MACEntry{MAC: route.MustMAC("00:00:5e:00:53:01"), VLAN: 100, EVI: 100,
		Interface: "eth1", Subinterface: 100})
}
