package p4asic_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/asic/p4asic"
	"github.com/p4evpn/p4evpn/evpn/route"
	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/p4rt"
	"github.com/p4evpn/p4evpn/softswitch"
	"github.com/p4evpn/p4evpn/softswitch/p4rtserver"
)

// The tests run the compiled p4/evpn.p4 on the softswitch engine behind its
// P4Runtime server on 127.0.0.1, with frames on in-memory ports.

const (
	accessPort1 = 1
	accessPort2 = 2
	corePort1   = 3
	corePort2   = 4
	deviceID    = 1
	// waitLimit bounds how long a test waits for a frame or an event that
	// must come; it is no timed assertion.
	waitLimit = 10 * time.Second
)

var testPorts = []uint32{accessPort1, accessPort2, corePort1, corePort2}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// dataplane is where a test sends and receives frames: the softswitch's
// in-memory ports, or veth pairs into BMv2.
type dataplane interface {
	write(port uint32, frame []byte) error
	read(ctx context.Context, port uint32) ([]byte, error)
	tryRead(port uint32) ([]byte, bool)
}

// memPorts are the test's ends of the softswitch's in-memory links.
type memPorts map[uint32]*softswitch.MemPort

func (m memPorts) write(port uint32, frame []byte) error { return m[port].Write(frame) }
func (m memPorts) read(ctx context.Context, port uint32) ([]byte, error) {
	return m[port].Recv(ctx)
}
func (m memPorts) tryRead(port uint32) ([]byte, bool) { return m[port].TryRecv() }

// rig is a P4Runtime target running no program yet, with the test PE's
// ports: the softswitch with in-memory ports (startRig) or BMv2 with veth
// pairs (startBMv2Rig).
type rig struct {
	t    testing.TB
	name string
	addr string
	dp   dataplane
	stop func()
}

// startRig serves a softswitch at addr ("127.0.0.1:0" for any port).
func startRig(t testing.TB, addr string, idle bool) *rig {
	t.Helper()
	r := &rig{t: t, name: "softswitch"}
	sw := softswitch.New(softswitch.Config{CPUPort: p4.CPUPort, Logger: quietLogger()})
	ports := memPorts{}
	for _, p := range testPorts {
		a, b := softswitch.NewLink(1024)
		if err := sw.AddPort(p, a, ""); err != nil {
			t.Fatal(err)
		}
		ports[p] = b
	}
	r.dp = ports
	var dev p4rtserver.Device = p4rtserver.NewEngineDevice(sw)
	opts := []p4rtserver.Option{p4rtserver.WithDeviceID(deviceID), p4rtserver.WithLogger(quietLogger())}
	if idle {
		opts = append(opts, p4rtserver.WithIdleScan(10*time.Millisecond))
	}
	srv := p4rtserver.New(dev, opts...)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r.addr = lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		srv.Close()
		sw.Close()
	}
	t.Cleanup(r.stop)
	return r
}

// restart replaces the target by a new one on the same address, without a
// pipeline: a target that crashed and came back.
func (r *rig) restart() *rig {
	r.t.Helper()
	r.stop()
	return startRig(r.t, r.addr, false)
}

// newSwitch connects a p4asic switch to the rig as a controller with the
// given election id.
func newSwitch(t testing.TB, addr string, election uint64, opts ...p4asic.Option) *p4asic.Switch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	opts = append([]p4asic.Option{p4asic.WithAddress(addr), p4asic.WithDeviceID(deviceID),
		p4asic.WithElectionID(p4rt.ElectionID{Low: election}), p4asic.WithLogger(quietLogger()),
		p4asic.WithRegistry(prometheus.NewRegistry()),
		p4asic.WithClientOptions(p4rt.WithReconnectBackoff(p4rt.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}))}, opts...)
	sw, err := p4asic.New(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	return sw
}

func write(t testing.TB, sw asic.Switch, ups ...asic.Update) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := sw.Write(ctx, ups); err != nil {
		t.Fatal(err)
	}
}

func sets(ents ...asic.Entity) []asic.Update {
	out := make([]asic.Update, len(ents))
	for i, e := range ents {
		out[i] = asic.Set(e)
	}
	return out
}

// The test PE: two access ports, two core ports, one bridge domain with a
// single-homed AC (1) and an AC (2) on a multihomed segment, two remote PEs,
// one of them on that segment too, an aliasing group of both and the flood
// list.
var (
	coreMAC   = route.MustMAC("02:00:00:00:ff:01")
	nextHop1  = route.MustMAC("02:00:00:00:aa:01")
	nextHop2  = route.MustMAC("02:00:00:00:aa:02")
	hostA     = route.MustMAC("02:00:00:00:00:0a")
	hostB     = route.MustMAC("02:00:00:00:00:0b")
	remoteMAC = route.MustMAC("02:00:00:00:01:01")
	remoteCW  = route.MustMAC("02:00:00:00:01:02")
	groupMAC  = route.MustMAC("02:00:00:00:01:03")
)

const (
	bd          = 10
	unicastLbl  = 1000
	bumLbl      = 1001
	segment     = 5
	esiLbl      = 2000
	ac1         = 1
	ac2         = 2
	vlan1       = 100
	vlan2       = 200
	pe1         = 1
	pe2         = 2
	transport2  = 5000
	group       = 7
	svcLabel1   = 3001
	svcLabel2   = 3002
	peerESILbl  = 4001
	imetLabel1  = 6001
	imetLabel2  = 6002
	macLabel1   = 7001
	macLabel2   = 7002
	localPinned = 1
)

func baseState() []asic.Entity {
	return []asic.Entity{
		asic.Port{ID: accessPort1, Kind: asic.PortAccess},
		asic.Port{ID: accessPort2, Kind: asic.PortAccess},
		asic.Port{ID: corePort1, Kind: asic.PortCore},
		asic.Port{ID: corePort2, Kind: asic.PortCore},
		asic.BridgeDomain{ID: bd, UnicastLabel: unicastLbl, BUMLabel: bumLbl},
		asic.Segment{ID: segment, ESILabel: esiLbl},
		asic.AttachmentCircuit{ID: ac1, Port: accessPort1, VLAN: vlan1, BD: bd},
		asic.AttachmentCircuit{ID: ac2, Port: accessPort2, VLAN: vlan2, BD: bd, Segment: segment},
		asic.DFState{Segment: segment, BD: bd, DF: false},
		asic.RemotePE{ID: pe1, Address: netip.MustParseAddr("192.0.2.1"), CorePort: corePort1, SourceMAC: coreMAC, NextHopMAC: nextHop1},
		asic.RemotePE{ID: pe2, Address: netip.MustParseAddr("192.0.2.2"), CorePort: corePort2, SourceMAC: coreMAC, NextHopMAC: nextHop2,
			TransportLabel: transport2, ControlWord: true},
		asic.ServiceLabel{PE: pe1, BD: bd, Label: svcLabel1},
		asic.ServiceLabel{PE: pe2, BD: bd, Label: svcLabel2},
		asic.SegmentPeer{Segment: segment, PE: pe1, ESILabel: peerESILbl},
		asic.AliasingGroup{ID: group, Members: []asic.RemotePEID{pe1, pe2}},
		asic.FloodGroup{BD: bd, Members: []asic.FloodMember{{AC: ac1}, {AC: ac2},
			{PE: pe1, BUMLabel: imetLabel1}, {PE: pe2, BUMLabel: imetLabel2}}},
		asic.FDBEntry{BD: bd, MAC: remoteMAC, Dest: asic.Destination{Kind: asic.ToRemotePE, PE: pe1, Label: macLabel1}},
		asic.FDBEntry{BD: bd, MAC: remoteCW, Dest: asic.Destination{Kind: asic.ToRemotePE, PE: pe2, Label: macLabel2}},
		asic.FDBEntry{BD: bd, MAC: groupMAC, Dest: asic.Destination{Kind: asic.ToAliasingGroup, Group: group}},
		asic.FDBEntry{BD: bd, MAC: hostA, Dest: asic.Destination{Kind: asic.ToAC, AC: ac1}},
	}
}

// Frames.

var payload = []byte("p4asic test payload, long enough for a minimum frame....")

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func hw(m asic.MAC) net.HardwareAddr { return net.HardwareAddr(m[:]) }

// customer is the untagged customer frame dst <- src.
func customer(t testing.TB, dst, src asic.MAC) []byte {
	return serialize(t, &layers.Ethernet{DstMAC: hw(dst), SrcMAC: hw(src), EthernetType: 0x88b5}, gopacket.Payload(payload))
}

// tagged is the customer frame as it crosses an AC with VLAN vid.
func tagged(t testing.TB, vid uint16, dst, src asic.MAC) []byte {
	return serialize(t, &layers.Ethernet{DstMAC: hw(dst), SrcMAC: hw(src), EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: vid, Type: 0x88b5}, gopacket.Payload(payload))
}

// mpls is the customer frame dst <- src as it crosses the core toward (or
// from) next hop nh with labels, top first, and a zero control word if cw.
func mpls(t testing.TB, nh asic.MAC, labels []uint32, cw bool, dst, src asic.MAC) []byte {
	ls := []gopacket.SerializableLayer{&layers.Ethernet{DstMAC: hw(nh), SrcMAC: hw(coreMAC), EthernetType: layers.EthernetTypeMPLSUnicast}}
	for i, l := range labels {
		ls = append(ls, &layers.MPLS{Label: l, StackBottom: i == len(labels)-1, TTL: 255})
	}
	inner := customer(t, dst, src)
	if cw {
		inner = append([]byte{0, 0, 0, 0}, inner...)
	}
	return serialize(t, append(ls, gopacket.Payload(inner))...)
}

func (r *rig) send(t testing.TB, port uint32, frame []byte) {
	t.Helper()
	if err := r.dp.write(port, frame); err != nil {
		t.Fatal(err)
	}
}

// recv waits for the next frame on port.
func (r *rig) recv(t testing.TB, port uint32) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	f, err := r.dp.read(ctx, port)
	if err != nil {
		t.Fatalf("%s: no frame on port %d: %v", r.name, port, err)
	}
	return f
}

// drain takes every frame queued on the test's ends of the ports, by port.
func (r *rig) drain(t testing.TB) map[uint32][][]byte {
	t.Helper()
	out := map[uint32][][]byte{}
	for _, p := range testPorts {
		for {
			f, ok := r.dp.tryRead(p)
			if !ok {
				break
			}
			out[p] = append(out[p], f)
		}
	}
	return out
}
