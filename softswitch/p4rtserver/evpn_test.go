package p4rtserver

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	p4cfg "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/p4evpn/p4evpn/softswitch"
)

const (
	evpnJSON   = "../../p4/build/evpn.json"
	evpnP4Info = "../../p4/build/evpn.p4info.txtpb"
)

// evpnNames resolves P4Info names of evpn.p4.
type evpnNames struct {
	t    *testing.T
	info *p4cfg.P4Info
}

func (n evpnNames) table(name string) *p4cfg.Table {
	for _, tb := range n.info.GetTables() {
		if tb.GetPreamble().GetName() == name {
			return tb
		}
	}
	n.t.Fatalf("evpn.p4 has no table %q", name)
	return nil
}

// entry builds an entry of table with exact keys and an action, by name.
func (n evpnNames) entry(table string, keys map[string][]byte, act string, params map[string][]byte) *p4v1.Entity {
	tb := n.table(table)
	te := &p4v1.TableEntry{TableId: tb.GetPreamble().GetId()}
	for _, mf := range tb.GetMatchFields() {
		v, ok := keys[mf.GetName()]
		if !ok {
			n.t.Fatalf("table %q: no value for key %q", table, mf.GetName())
		}
		te.Match = append(te.Match, exact(mf.GetId(), v))
	}
	for _, a := range n.info.GetActions() {
		if a.GetPreamble().GetName() != act {
			continue
		}
		pa := &p4v1.Action{ActionId: a.GetPreamble().GetId()}
		for _, p := range a.GetParams() {
			v, ok := params[p.GetName()]
			if !ok {
				n.t.Fatalf("action %q: no value for param %q", act, p.GetName())
			}
			pa.Params = append(pa.Params, &p4v1.Action_Param{ParamId: p.GetId(), Value: v})
		}
		te.Action = &p4v1.TableAction{Type: &p4v1.TableAction_Action{Action: pa}}
	}
	if te.Action == nil {
		n.t.Fatalf("evpn.p4 has no action %q", act)
	}
	return tableEntity(te)
}

// The packet-in/packet-out round trip through evpn.p4's CPU port (255) on
// the softswitch engine: a packet-out leaves the port its packet_out header
// names, exactly as given; a frame whose destination MAC has a to_cpu FDB
// entry reaches the controller with its port, AC, bridge domain and punt
// reason as packet_in metadata.
func TestEvpnPacketIO(t *testing.T) {
	if _, err := os.Stat(evpnJSON); err != nil {
		t.Skip("p4/build/evpn.json is not built yet")
	}
	sw := softswitch.New(softswitch.Config{CPUPort: 255, Logger: quietLogger()})
	t.Cleanup(func() { sw.Close() })
	a, port1 := softswitch.NewLink(16)
	if err := sw.AddPort(1, a, ""); err != nil {
		t.Fatal(err)
	}
	tg := &target{name: "engine", client: dial(t, serve(t, NewEngineDevice(sw))), deviceID: testDevice,
		info: loadP4Info(t, evpnP4Info), config: readFile(t, evpnJSON)}
	s := primary(t, tg)
	if err := tg.setPipeline(t, p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT, tg.pipelineConfig(1)); err != nil {
		t.Fatalf("evpn pipeline: %v", err)
	}
	es := &engineSwitch{target: tg, ports: map[uint32]*softswitch.MemPort{1: port1}, s: s}
	frame := append([]byte{0x02, 0, 0, 0, 0, 0x99, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5}, make([]byte, 46)...)

	// Packet-out to port 1: packet_out {egress_port 1, _pad 0}.
	po := &p4v1.PacketOut{Payload: frame, Metadata: []*p4v1.PacketMetadata{{MetadataId: 1, Value: []byte{1}}, {MetadataId: 2, Value: []byte{0}}}}
	if err := s.stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Packet{Packet: po}}); err != nil {
		t.Fatal(err)
	}
	if got := es.recv(t, 1); !cmp.Equal(got, frame) {
		t.Errorf("packet-out left port 1 as %x, want %x", got, frame)
	}

	// Port 1 is an access port; untagged frames on it are AC 5 in bridge
	// domain 10; MAC 02:00:00:00:00:99 in BD 10 goes to the CPU.
	n := evpnNames{t, tg.info}
	tg.mustWrite(t,
		update(p4v1.Update_INSERT, n.entry("ingress.port_kind", map[string][]byte{"port": {1}}, "ingress.set_access_port", nil)),
		update(p4v1.Update_INSERT, n.entry("ingress.attachment_circuit", map[string][]byte{"port": {1}, "vid_outer": {0}, "vid_inner": {0}},
			"ingress.set_ac", map[string][]byte{"bd": {10}, "ac": {5}, "es": {0}})),
		update(p4v1.Update_INSERT, n.entry("ingress.fdb", map[string][]byte{"bd": {10}, "mac": {0x02, 0, 0, 0, 0, 0x99}}, "ingress.to_cpu", nil)))
	es.send(t, 1, frame)
	var pin *p4v1.PacketIn
	for pin == nil {
		pin = s.next().GetPacket()
	}
	var md []*p4v1.PacketMetadata
	for _, cpm := range tg.info.GetControllerPacketMetadata() {
		if cpm.GetPreamble().GetName() != "packet_in" {
			continue
		}
		want := map[string][]byte{"ingress_port": {1}, "ac": {5}, "bd": {10}, "reason": {1}}
		for _, m := range cpm.GetMetadata() {
			md = append(md, &p4v1.PacketMetadata{MetadataId: m.GetId(), Value: want[m.GetName()]})
		}
	}
	if diff := cmp.Diff(&p4v1.PacketIn{Payload: frame, Metadata: md}, pin, protocmp.Transform()); diff != "" {
		t.Errorf("packet-in (-want +got):\n%s", diff)
	}
}
