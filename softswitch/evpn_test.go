package softswitch

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Packet tests of p4/evpn.p4 (compiled: p4/build/evpn.json): one PE with two
// access ports and two core ports, every behaviour of the pipeline checked
// frame by frame. Frames are built with gopacket; the expected output is
// built the same way from the RFC 7432 encapsulation the PE must produce.

var evpnJSON = filepath.Join("..", "p4", "build", "evpn.json")

const (
	pAccess1, pAccess2, pCore1, pCore2 = 1, 2, 3, 4
	evpnCPU                            = 255
	bd                                 = 10
	ac1, ac2, ac3                      = 1, 2, 3 // ac2 is on multihomed ES 5
	es5                                = 5
	pe1, pe2                           = 1, 2 // pe1: no transport label; pe2: label 500 and a control word
	aliasGroup                         = 7
	lblUnicast, lblBUM, lblESI         = 5000, 5001, 6000 // ours
	lblTransportIn                     = 700
	lblPE1, lblPE2                     = 1001, 1002 // remote PEs' MAC/IP labels
	lblAliasPE1, lblAliasPE2           = 2001, 2002 // their per-EVI A-D labels
	lblIMET1, lblIMET2                 = 3001, 3002
	lblPeerESI                         = 6500 // pe2's ESI label for ES 5
	lblTransportPE2                    = 500
)

var (
	macHostA   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xa1} // on ac1, learned
	macHostB   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xb2} // on ac2
	macRemote1 = net.HardwareAddr{0x02, 0, 0, 0, 1, 0x01} // behind pe1
	macAlias   = net.HardwareAddr{0x02, 0, 0, 0, 7, 0x07} // behind ES on pe1 and pe2
	macBlack   = net.HardwareAddr{0x02, 0, 0, 0, 0xde, 0xad}
	macNew     = net.HardwareAddr{0x02, 0, 0, 0, 0x0e, 0x01}
	macBcast   = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	macPE      = net.HardwareAddr{0x02, 0xaa, 0, 0, 0, 1} // our core MAC
	macNH1     = net.HardwareAddr{0x02, 0xbb, 0, 0, 0, 1}
	macNH2     = net.HardwareAddr{0x02, 0xbb, 0, 0, 0, 2}
)

func evpnLoad(t testing.TB) (*Switch, map[uint32]*MemPort) {
	t.Helper()
	return evpnLoadWith(t, func() (Port, *MemPort) {
		a, b := NewLink(4096)
		return a, b
	})
}

// evpnLoadWith is evpnLoad with ports made by mk (for benchmarks).
func evpnLoadWith(t testing.TB, mk func() (Port, *MemPort)) (*Switch, map[uint32]*MemPort) {
	t.Helper()
	b, err := os.ReadFile(evpnJSON)
	if err != nil {
		t.Skipf("p4/build/evpn.json is not there yet (the P4 program is compiled by its own issue): %v", err)
	}
	s := New(Config{CPUPort: evpnCPU, Logger: quietLogger})
	t.Cleanup(func() { s.Close() })
	if err := s.Load(b); err != nil {
		t.Fatalf("load evpn.json: %v", err)
	}
	far := map[uint32]*MemPort{}
	for _, n := range []uint32{pAccess1, pAccess2, pCore1, pCore2} {
		a, b := mk()
		if err := s.AddPort(n, a, ""); err != nil {
			t.Fatal(err)
		}
		far[n] = b
	}
	evpnConfigure(t, s)
	return s, far
}

func be(v uint64, n int) []byte {
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = byte(v)
		v >>= 8
	}
	return out
}

func exact(vals ...[]byte) []FieldMatch {
	m := make([]FieldMatch, len(vals))
	for i, v := range vals {
		m[i] = FieldMatch{Value: v}
	}
	return m
}

func call(action string, params ...[]byte) ActionCall {
	return ActionCall{Action: action, Params: params}
}

// evpnTarget is what evpnConfigure writes to: the softswitch, or BMv2
// through P4Runtime (bmv2_test.go).
type evpnTarget interface {
	InsertEntry(table string, e TableEntry) error
	InsertMember(profile string, m Member) error
	InsertGroup(profile string, g Group) error
	InsertMulticastGroup(g MulticastGroup) error
}

// evpnConfigure writes the forwarding state of the test PE, as the
// controller would.
func evpnConfigure(t testing.TB, s evpnTarget) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ins := func(table string, match []FieldMatch, a ActionCall) {
		t.Helper()
		must(s.InsertEntry(table, TableEntry{Match: match, Action: a}))
	}
	port := func(p int) []byte { return be(uint64(p), 2) }
	for _, p := range []int{pAccess1, pAccess2} {
		ins("ingress.port_kind", exact(port(p)), call("ingress.set_access_port"))
	}
	for _, p := range []int{pCore1, pCore2} {
		ins("ingress.port_kind", exact(port(p)), call("ingress.set_core_port"))
	}
	// ACs: (port 1, vid 100) → ac1; (port 2, vid 100) → ac2 on ES 5;
	// (port 2, untagged) → ac3.
	ins("ingress.attachment_circuit", exact(port(pAccess1), be(100, 2), be(0, 2)), call("ingress.set_ac", be(bd, 2), be(ac1, 2), be(0, 2)))
	ins("ingress.attachment_circuit", exact(port(pAccess2), be(100, 2), be(0, 2)), call("ingress.set_ac", be(bd, 2), be(ac2, 2), be(es5, 2)))
	ins("ingress.attachment_circuit", exact(port(pAccess2), be(0, 2), be(0, 2)), call("ingress.set_ac", be(bd, 2), be(ac3, 2), be(0, 2)))
	ins("egress.ac_egress", exact(be(ac1, 2)), call("egress.set_ac_egress", be(0, 2), be(100, 2), be(0, 2)))
	ins("egress.ac_egress", exact(be(ac2, 2)), call("egress.set_ac_egress", be(es5, 2), be(100, 2), be(0, 2)))
	ins("egress.ac_egress", exact(be(ac3, 2)), call("egress.set_ac_egress", be(0, 2), be(0, 2), be(0, 2)))
	ins("egress.df", exact(be(es5, 2), be(bd, 2)), call("egress.df_forward"))
	// Local station A is known on ac1.
	ins("ingress.smac", exact(be(bd, 2), macHostA), call("ingress.smac_known", be(ac1, 2)))
	// FIB.
	ins("ingress.fdb", exact(be(bd, 2), macHostB), call("ingress.to_local_ac", be(ac2, 2), port(pAccess2)))
	ins("ingress.fdb", exact(be(bd, 2), macHostA), call("ingress.to_local_ac", be(ac1, 2), port(pAccess1)))
	ins("ingress.fdb", exact(be(bd, 2), macRemote1), call("ingress.to_remote_pe", be(pe1, 2), be(lblPE1, 3)))
	ins("ingress.fdb", exact(be(bd, 2), macAlias), call("ingress.to_aliasing_group", be(aliasGroup, 2)))
	ins("ingress.fdb", exact(be(bd, 2), macBlack), call("ingress.fdb_discard"))
	// Aliasing group 7 = {pe1, pe2}.
	must(s.InsertMember("ingress.aliasing_selector", Member{ID: pe1, Action: "ingress.set_aliasing_pe", Params: [][]byte{be(pe1, 2)}}))
	must(s.InsertMember("ingress.aliasing_selector", Member{ID: pe2, Action: "ingress.set_aliasing_pe", Params: [][]byte{be(pe2, 2)}}))
	must(s.InsertGroup("ingress.aliasing_selector", Group{ID: aliasGroup, Members: []GroupMember{{ID: pe1, Weight: 1}, {ID: pe2, Weight: 1}}}))
	must(s.InsertEntry("ingress.aliasing", TableEntry{Match: exact(be(aliasGroup, 2)), Action: ActionCall{GroupID: aliasGroup, IsGroup: true}}))
	ins("ingress.remote_service_label", exact(be(pe1, 2), be(bd, 2)), call("ingress.set_remote_service_label", be(lblAliasPE1, 3)))
	ins("ingress.remote_service_label", exact(be(pe2, 2), be(bd, 2)), call("ingress.set_remote_service_label", be(lblAliasPE2, 3)))
	// Tunnels: pe1 directly connected (implicit null), pe2 over an LSP
	// with a control word.
	ins("ingress.tunnel_port", exact(be(pe1, 2)), call("ingress.set_tunnel_port", port(pCore1)))
	ins("ingress.tunnel_port", exact(be(pe2, 2)), call("ingress.set_tunnel_port", port(pCore2)))
	ins("egress.tunnel", exact(be(pe1, 2)), call("egress.set_tunnel", macPE, macNH1, be(3, 3), be(0, 1)))
	ins("egress.tunnel", exact(be(pe2, 2)), call("egress.set_tunnel", macPE, macNH2, be(lblTransportPE2, 3), be(1, 1)))
	// Core side: our labels.
	ins("ingress.transport_label", exact(be(lblTransportIn, 3)), call("ingress.pop_transport"))
	ins("ingress.service_label", exact(be(lblUnicast, 3)), call("ingress.set_service_bd", be(bd, 2)))
	ins("ingress.service_label", exact(be(lblBUM, 3)), call("ingress.set_bum_bd", be(bd, 2)))
	ins("ingress.esi_label", exact(be(lblESI, 3)), call("ingress.set_source_es", be(es5, 2)))
	// Flooding: bd 10's group, one replica per local AC and remote PE.
	must(s.InsertMulticastGroup(MulticastGroup{ID: bd, Replicas: []Replica{{Port: pAccess1, Rid: 1}, {Port: pAccess2, Rid: 2}, {Port: pAccess2, Rid: 5}, {Port: pCore1, Rid: 3}, {Port: pCore2, Rid: 4}}}))
	ins("egress.flood_replica", exact(be(1, 2)), call("egress.replica_to_ac", be(ac1, 2)))
	ins("egress.flood_replica", exact(be(2, 2)), call("egress.replica_to_ac", be(ac2, 2)))
	ins("egress.flood_replica", exact(be(5, 2)), call("egress.replica_to_ac", be(ac3, 2)))
	ins("egress.flood_replica", exact(be(3, 2)), call("egress.replica_to_pe", be(pe1, 2), be(lblIMET1, 3)))
	ins("egress.flood_replica", exact(be(4, 2)), call("egress.replica_to_pe", be(pe2, 2), be(lblIMET2, 3)))
	ins("egress.peer_esi_label", exact(be(pe2, 2), be(es5, 2)), call("egress.push_esi_label", be(lblPeerESI, 3)))
}

// frame serialises layers with a payload that pads it to 64 bytes.
func frame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	ls = append(ls, gopacket.Payload(bytes.Repeat([]byte{0x5a}, 46)))
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func eth(dst, src net.HardwareAddr, typ layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{DstMAC: dst, SrcMAC: src, EthernetType: typ}
}

func tag(vid uint16, typ layers.EthernetType) *layers.Dot1Q {
	return &layers.Dot1Q{VLANIdentifier: vid, Type: typ}
}

func label(l uint32, bos bool, ttl uint8) *layers.MPLS {
	return &layers.MPLS{Label: l, StackBottom: bos, TTL: ttl}
}

// customer is the customer frame (untagged) used throughout.
func customer(dst, src net.HardwareAddr) []gopacket.SerializableLayer {
	return []gopacket.SerializableLayer{eth(dst, src, 0x88b5)}
}

func tagged(vid uint16, dst, src net.HardwareAddr) []gopacket.SerializableLayer {
	return []gopacket.SerializableLayer{eth(dst, src, layers.EthernetTypeDot1Q), tag(vid, 0x88b5)}
}

// encap is the MPLS encapsulation toward a remote PE: core Ethernet, the
// labels (the last one bottom of stack), an optional control word, then
// the customer frame.
func encap(nh net.HardwareAddr, labels []uint32, cw bool, inner ...gopacket.SerializableLayer) []gopacket.SerializableLayer {
	ls := []gopacket.SerializableLayer{eth(nh, macPE, layers.EthernetTypeMPLSUnicast)}
	for i, l := range labels {
		ls = append(ls, label(l, i == len(labels)-1, 255))
	}
	if cw {
		ls = append(ls, gopacket.Payload{0, 0, 0, 0})
	}
	return append(ls, inner...)
}

type evpnOut struct {
	Port  uint32
	Frame []byte
}

// drain collects every frame the switch sent, by port.
func drain(far map[uint32]*MemPort) []evpnOut {
	var out []evpnOut
	for _, p := range []uint32{pAccess1, pAccess2, pCore1, pCore2} {
		for {
			f, ok := far[p].TryRecv()
			if !ok {
				break
			}
			out = append(out, evpnOut{p, f})
		}
	}
	return out
}

func dropCount(t testing.TB, s *Switch, pipe string, reason int) uint64 {
	t.Helper()
	c, err := s.ReadCounter(pipe+".drops", reason)
	if err != nil {
		t.Fatal(err)
	}
	return c.Packets
}

// Drop reasons of p4/include/headers.p4.
const (
	dropParseError       = 1
	dropPortUnconfigured = 2
	dropACUnknown        = 3
	dropSmacMulticast    = 4
	dropLabelUnknown     = 6
	dropFDBDiscard       = 10
	// dropAliasingGroupUnknown: the FDB names an aliasing group that has
	// no ingress.aliasing entry.
	dropAliasingGroupUnknown = 12
	dropSourceAC             = 34
	dropSplitHorizon         = 35
	dropNonDF                = 36
	dropCoreSplitHorizon     = 37
)

func TestEVPNForwarding(t *testing.T) {
	s, far := evpnLoad(t)
	tests := []struct {
		desc    string
		setup   func(t *testing.T)
		in      uint32
		frame   []gopacket.SerializableLayer
		want    []evpnOut
		ingDrop int // ingress drop reason counted, 0 for none
		egDrops []int
	}{
		{
			desc:  "AC mapping and known unicast to a local AC: tag 100 in, tag 100 out",
			in:    pAccess1,
			frame: tagged(100, macHostB, macHostA),
			want:  []evpnOut{{pAccess2, frame(t, tagged(100, macHostB, macHostA)...)}},
		},
		{
			desc:  "untagged AC to a tagged AC",
			in:    pAccess2,
			frame: customer(macHostA, macHostB),
			want:  []evpnOut{{pAccess1, frame(t, tagged(100, macHostA, macHostB)...)}},
		},
		{
			desc:  "known unicast to a directly connected remote PE: service label only",
			in:    pAccess1,
			frame: tagged(100, macRemote1, macHostA),
			want:  []evpnOut{{pCore1, frame(t, encap(macNH1, []uint32{lblPE1}, false, customer(macRemote1, macHostA)...)...)}},
		},
		{
			desc:    "unknown (port, VLAN): dropped and counted",
			in:      pAccess1,
			frame:   tagged(999, macHostB, macHostA),
			ingDrop: dropACUnknown,
		},
		{
			desc:    "port without a kind: dropped and counted",
			in:      9,
			frame:   customer(macHostB, macHostA),
			ingDrop: dropPortUnconfigured,
		},
		{
			desc:    "destination MAC installed as discard",
			in:      pAccess1,
			frame:   tagged(100, macBlack, macHostA),
			ingDrop: dropFDBDiscard,
		},
		{
			desc:    "multicast source MAC",
			in:      pAccess1,
			frame:   tagged(100, macHostB, net.HardwareAddr{0x03, 0, 0, 0, 0, 1}),
			ingDrop: dropSmacMulticast,
		},
		{
			desc: "three VLAN tags: parser error, dropped and counted",
			in:   pAccess1,
			frame: []gopacket.SerializableLayer{eth(macHostB, macHostA, layers.EthernetTypeDot1Q),
				tag(100, layers.EthernetTypeDot1Q), tag(101, layers.EthernetTypeDot1Q), tag(102, 0x88b5)},
			ingDrop: dropParseError,
		},
		{
			desc:  "MPLS from the core: transport label popped, service label → bd, decapsulated to the right AC",
			in:    pCore1,
			frame: encap(macPE, []uint32{lblTransportIn, lblUnicast}, false, customer(macHostB, macRemote1)...),
			want:  []evpnOut{{pAccess2, frame(t, tagged(100, macHostB, macRemote1)...)}},
		},
		{
			desc:    "MPLS with a label that is not ours",
			in:      pCore1,
			frame:   encap(macPE, []uint32{4444}, false, customer(macHostB, macRemote1)...),
			ingDrop: dropLabelUnknown,
		},
		{
			desc:  "BUM from a single-homed AC: every other AC, and every remote PE with its IMET label; not back to the source AC",
			in:    pAccess1,
			frame: tagged(100, macBcast, macHostA),
			want: []evpnOut{
				{pAccess2, frame(t, tagged(100, macBcast, macHostA)...)},
				{pAccess2, frame(t, customer(macBcast, macHostA)...)},
				{pCore1, frame(t, encap(macNH1, []uint32{lblIMET1}, false, customer(macBcast, macHostA)...)...)},
				{pCore2, frame(t, encap(macNH2, []uint32{lblTransportPE2, lblIMET2}, true, customer(macBcast, macHostA)...)...)},
			},
			egDrops: []int{dropSourceAC},
		},
		{
			desc:  "BUM from the multihomed AC: the ESI label under the IMET label toward the PE sharing the ES",
			in:    pAccess2,
			frame: tagged(100, macBcast, macHostB),
			want: []evpnOut{
				{pAccess1, frame(t, tagged(100, macBcast, macHostB)...)},
				{pAccess2, frame(t, customer(macBcast, macHostB)...)},
				{pCore1, frame(t, encap(macNH1, []uint32{lblIMET1}, false, customer(macBcast, macHostB)...)...)},
				{pCore2, frame(t, encap(macNH2, []uint32{lblTransportPE2, lblIMET2, lblPeerESI}, true, customer(macBcast, macHostB)...)...)},
			},
			egDrops: []int{dropSourceAC},
		},
		{
			desc:  "BUM from the core with our ESI label: split horizon keeps it off ES 5; never back to the core",
			in:    pCore2,
			frame: encap(macPE, []uint32{lblBUM, lblESI}, false, customer(macBcast, macRemote1)...),
			want: []evpnOut{
				{pAccess1, frame(t, tagged(100, macBcast, macRemote1)...)},
				{pAccess2, frame(t, customer(macBcast, macRemote1)...)},
			},
			egDrops: []int{dropSplitHorizon, dropCoreSplitHorizon, dropCoreSplitHorizon},
		},
		{
			desc:  "BUM from the core without an ESI label, and we are the DF for ES 5: delivered to ac2",
			in:    pCore1,
			frame: encap(macPE, []uint32{lblBUM}, false, customer(macBcast, macRemote1)...),
			want: []evpnOut{
				{pAccess1, frame(t, tagged(100, macBcast, macRemote1)...)},
				{pAccess2, frame(t, tagged(100, macBcast, macRemote1)...)},
				{pAccess2, frame(t, customer(macBcast, macRemote1)...)},
			},
			egDrops: []int{dropCoreSplitHorizon, dropCoreSplitHorizon},
		},
		{
			desc: "same, after we stop being the DF: the non-DF filter drops it on ES 5",
			setup: func(t *testing.T) {
				if err := s.DeleteEntry("egress.df", exact(be(es5, 2), be(bd, 2)), 0); err != nil {
					t.Fatal(err)
				}
			},
			in:    pCore1,
			frame: encap(macPE, []uint32{lblBUM}, false, customer(macBcast, macRemote1)...),
			want: []evpnOut{
				{pAccess1, frame(t, tagged(100, macBcast, macRemote1)...)},
				{pAccess2, frame(t, customer(macBcast, macRemote1)...)},
			},
			egDrops: []int{dropNonDF, dropCoreSplitHorizon, dropCoreSplitHorizon},
		},
		{
			// RFC 7432 8.5, no local bias in MPLS EVPN: the DF of ES 5
			// gets the IMET copy and delivers it; ac2 getting ours too
			// would give the CE two copies.
			desc:  "local BUM from a single-homed AC is not sent to a multihomed AC where this PE is non-DF",
			in:    pAccess1,
			frame: tagged(100, macBcast, macHostA),
			want: []evpnOut{
				{pAccess2, frame(t, customer(macBcast, macHostA)...)},
				{pCore1, frame(t, encap(macNH1, []uint32{lblIMET1}, false, customer(macBcast, macHostA)...)...)},
				{pCore2, frame(t, encap(macNH2, []uint32{lblTransportPE2, lblIMET2}, true, customer(macBcast, macHostA)...)...)},
			},
			egDrops: []int{dropSourceAC, dropNonDF},
		},
		{
			desc:  "non-DF: BUM from the multihomed AC still reaches the single-homed ACs and the core (ESI label to the PE sharing ES 5)",
			in:    pAccess2,
			frame: tagged(100, macBcast, macHostB),
			want: []evpnOut{
				{pAccess1, frame(t, tagged(100, macBcast, macHostB)...)},
				{pAccess2, frame(t, customer(macBcast, macHostB)...)},
				{pCore1, frame(t, encap(macNH1, []uint32{lblIMET1}, false, customer(macBcast, macHostB)...)...)},
				{pCore2, frame(t, encap(macNH2, []uint32{lblTransportPE2, lblIMET2, lblPeerESI}, true, customer(macBcast, macHostB)...)...)},
			},
			egDrops: []int{dropSourceAC},
		},
		{
			desc:  "non-DF: known unicast to the multihomed AC is never DF-filtered, from a local AC",
			in:    pAccess1,
			frame: tagged(100, macHostB, macHostA),
			want:  []evpnOut{{pAccess2, frame(t, tagged(100, macHostB, macHostA)...)}},
		},
		{
			desc:  "non-DF: known unicast to the multihomed AC is never DF-filtered, from the core",
			in:    pCore1,
			frame: encap(macPE, []uint32{lblTransportIn, lblUnicast}, false, customer(macHostB, macRemote1)...),
			want:  []evpnOut{{pAccess2, frame(t, tagged(100, macHostB, macRemote1)...)}},
		},
		{
			desc: "local BUM from a single-homed AC is sent to a multihomed AC once this PE is DF again",
			setup: func(t *testing.T) {
				if err := s.InsertEntry("egress.df", TableEntry{Match: exact(be(es5, 2), be(bd, 2)), Action: call("egress.df_forward")}); err != nil {
					t.Fatal(err)
				}
			},
			in:    pAccess1,
			frame: tagged(100, macBcast, macHostA),
			want: []evpnOut{
				{pAccess2, frame(t, tagged(100, macBcast, macHostA)...)},
				{pAccess2, frame(t, customer(macBcast, macHostA)...)},
				{pCore1, frame(t, encap(macNH1, []uint32{lblIMET1}, false, customer(macBcast, macHostA)...)...)},
				{pCore2, frame(t, encap(macNH2, []uint32{lblTransportPE2, lblIMET2}, true, customer(macBcast, macHostA)...)...)},
			},
			egDrops: []int{dropSourceAC},
		},
		{
			desc:  "unknown unicast floods like broadcast",
			in:    pAccess2,
			frame: customer(macNew, macHostB),
			want: []evpnOut{
				{pAccess1, frame(t, tagged(100, macNew, macHostB)...)},
				{pAccess2, frame(t, tagged(100, macNew, macHostB)...)},
				{pCore1, frame(t, encap(macNH1, []uint32{lblIMET1}, false, customer(macNew, macHostB)...)...)},
				{pCore2, frame(t, encap(macNH2, []uint32{lblTransportPE2, lblIMET2}, true, customer(macNew, macHostB)...)...)},
			},
			egDrops: []int{dropSourceAC},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			type ctr struct {
				pipe   string
				reason int
			}
			wantInc := map[ctr]uint64{}
			if tc.ingDrop != 0 {
				wantInc[ctr{"ingress", tc.ingDrop}]++
			}
			for _, r := range tc.egDrops {
				wantInc[ctr{"egress", r}]++
			}
			before := map[ctr]uint64{}
			for c := range wantInc {
				before[c] = dropCount(t, s, c.pipe, c.reason)
			}
			s.Process(tc.in, frame(t, tc.frame...))
			got := drain(far)
			sortOut(got)
			want := append([]evpnOut(nil), tc.want...)
			sortOut(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("frames out (-want +got):\n%s\ngot:\n%s", diff, describe(got))
			}
			for c, inc := range wantInc {
				if after := dropCount(t, s, c.pipe, c.reason); after != before[c]+inc {
					t.Errorf("%s drop counter %d went from %d to %d, want +%d", c.pipe, c.reason, before[c], after, inc)
				}
			}
		})
	}
	// Per-AC and per-bd counters saw the traffic.
	if c, err := s.ReadCounter("ingress.ac_in", ac1); err != nil || c.Packets == 0 {
		t.Errorf("ingress.ac_in[ac1] = %+v, %v; want packets", c, err)
	}
	if c, err := s.ReadCounter("ingress.bd_in", bd); err != nil || c.Packets == 0 {
		t.Errorf("ingress.bd_in[bd] = %+v, %v; want packets", c, err)
	}
}

func sortOut(o []evpnOut) {
	for i := range o {
		for j := i + 1; j < len(o); j++ {
			if o[j].Port < o[i].Port || o[j].Port == o[i].Port && bytes.Compare(o[j].Frame, o[i].Frame) < 0 {
				o[i], o[j] = o[j], o[i]
			}
		}
	}
}

func describe(o []evpnOut) string {
	var b bytes.Buffer
	for _, x := range o {
		p := gopacket.NewPacket(x.Frame, layers.LayerTypeEthernet, gopacket.Default)
		b.WriteString("port ")
		b.WriteString(strconv.Itoa(int(x.Port)))
		b.WriteString(": ")
		for _, l := range p.Layers() {
			b.WriteString(l.LayerType().String())
			b.WriteString(" ")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestEVPNLearningDigests(t *testing.T) {
	s, far := evpnLoad(t)
	tests := []struct {
		desc string
		in   uint32
		src  net.HardwareAddr
		vid  uint16
		want []Digest
	}{
		{desc: "known station on its AC: no digest", in: pAccess1, src: macHostA, vid: 100},
		{desc: "new station: digest {bd, mac, ac}", in: pAccess1, src: macNew, vid: 100,
			want: []Digest{{Name: "mac_learn_digest_t", Fields: [][]byte{be(bd, 2), macNew, be(ac1, 2)}}}},
		{desc: "known station on another AC (a move): digest with the new AC", in: pAccess2, src: macHostA, vid: 100,
			want: []Digest{{Name: "mac_learn_digest_t", Fields: [][]byte{be(bd, 2), macHostA, be(ac2, 2)}}}},
	}
	for _, tc := range tests {
		s.Process(tc.in, frame(t, tagged(tc.vid, macHostB, tc.src)...))
		drain(far)
		var got []Digest
		for len(s.Digests()) > 0 {
			got = append(got, <-s.Digests())
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: digests (-want +got):\n%s", tc.desc, diff)
		}
	}
	// Remote MACs are never learned from the data plane.
	s.Process(pCore1, frame(t, encap(macPE, []uint32{lblUnicast}, false, customer(macHostB, macNew)...)...))
	drain(far)
	if n := len(s.Digests()); n != 0 {
		t.Errorf("a frame from the core raised %d digests, want none", n)
	}
}

func TestEVPNAliasingSpreadsFlowsOverPEs(t *testing.T) {
	s, far := evpnLoad(t)
	count := map[uint32]int{}
	for i := 0; i < 200; i++ {
		src := net.HardwareAddr{0x02, 0x10, 0, 0, byte(i >> 8), byte(i)}
		in := frame(t, tagged(100, macAlias, src)...)
		var first evpnOut
		for rep := 0; rep < 2; rep++ {
			s.Process(pAccess1, in)
			got := drain(far)
			if len(got) != 1 {
				t.Fatalf("flow %d: %d frames out, want 1", i, len(got))
			}
			if rep == 0 {
				first = got[0]
				count[first.Port]++
			} else if got[0].Port != first.Port {
				t.Fatalf("flow %d moved from port %d to %d", i, first.Port, got[0].Port)
			}
		}
		var want []byte
		switch first.Port {
		case pCore1:
			want = frame(t, encap(macNH1, []uint32{lblAliasPE1}, false, customer(macAlias, src)...)...)
		case pCore2:
			want = frame(t, encap(macNH2, []uint32{lblTransportPE2, lblAliasPE2}, true, customer(macAlias, src)...)...)
		default:
			t.Fatalf("flow %d left by port %d, not a core port", i, first.Port)
		}
		if !bytes.Equal(first.Frame, want) {
			t.Fatalf("flow %d to port %d:\n got %x\nwant %x", i, first.Port, first.Frame, want)
		}
		for len(s.Digests()) > 0 {
			<-s.Digests()
		}
	}
	if count[pCore1] < 40 || count[pCore2] < 40 {
		t.Errorf("200 flows spread %v over the two PEs; want both well used", count)
	}
	// Mass withdrawal: pe1 leaves the group; every flow now goes to pe2.
	if err := s.ModifyGroup("ingress.aliasing_selector", Group{ID: aliasGroup, Members: []GroupMember{{ID: pe2, Weight: 1}}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		s.Process(pAccess1, frame(t, tagged(100, macAlias, net.HardwareAddr{0x02, 0x10, 0, 0, 0, byte(i)})...))
		got := drain(far)
		if len(got) != 1 || got[0].Port != pCore2 {
			t.Fatalf("after pe1 left: flow %d went to %v, want port %d", i, got, pCore2)
		}
	}
}

// evpnFuzzSwitch is the evpn.p4 switch for FuzzProcess, when compiled.
func evpnFuzzSwitch(f *testing.F) (*Switch, bool) {
	if _, err := os.Stat(evpnJSON); err != nil {
		return nil, false
	}
	s, _ := evpnLoad(f)
	return s, true
}
