package p4rtserver

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	p4cfg "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/p4evpn/p4evpn/softswitch"
)

// The engine tests run BMv2's own simple_switch_grpc test programs
// (testdata/bmv2) on the softswitch engine through the server, with frames
// on in-memory ports: the end-to-end path a controller uses.

// engineSwitch is a softswitch with a P4Runtime server and in-memory ports.
type engineSwitch struct {
	*target
	ports map[uint32]*softswitch.MemPort // the test's end of each port
	s     *session                       // the primary's stream
}

// startEngineProgram serves the engine with testdata/bmv2/<prog> committed,
// ports attached, and a primary stream open.
func startEngineProgram(t *testing.T, prog string, cpuPort uint32, ports ...uint32) *engineSwitch {
	t.Helper()
	sw := softswitch.New(softswitch.Config{CPUPort: cpuPort, Logger: quietLogger()})
	t.Cleanup(func() { sw.Close() })
	es := &engineSwitch{ports: map[uint32]*softswitch.MemPort{}}
	for _, p := range ports {
		a, b := softswitch.NewLink(64)
		if err := sw.AddPort(p, a, ""); err != nil {
			t.Fatal(err)
		}
		es.ports[p] = b
	}
	addr := serve(t, NewEngineDevice(sw))
	es.target = &target{name: "engine", client: dial(t, addr), deviceID: testDevice,
		info: loadP4Info(t, "testdata/bmv2/"+prog+".proto.txt"), config: readFile(t, "testdata/bmv2/"+prog+".json")}
	es.s = primary(t, es.target)
	if err := es.setPipeline(t, p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT, es.pipelineConfig(1)); err != nil {
		t.Fatalf("SetForwardingPipelineConfig(%s): %v", prog, err)
	}
	return es
}

// id is the P4Info id of the object called name.
func id(t *testing.T, info *p4cfg.P4Info, name string) uint32 {
	t.Helper()
	for _, x := range info.GetTables() {
		if x.GetPreamble().GetName() == name {
			return x.GetPreamble().GetId()
		}
	}
	for _, x := range info.GetActions() {
		if x.GetPreamble().GetName() == name {
			return x.GetPreamble().GetId()
		}
	}
	for _, x := range info.GetActionProfiles() {
		if x.GetPreamble().GetName() == name {
			return x.GetPreamble().GetId()
		}
	}
	for _, x := range info.GetDigests() {
		if x.GetPreamble().GetName() == name {
			return x.GetPreamble().GetId()
		}
	}
	t.Fatalf("p4info has no %q", name)
	return 0
}

// recv waits for a frame on the test's end of port p.
func (es *engineSwitch) recv(t *testing.T, p uint32) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := es.ports[p].Recv(ctx)
	if err != nil {
		t.Fatalf("no frame on port %d: %v", p, err)
	}
	return f
}

func (es *engineSwitch) send(t *testing.T, p uint32, frame []byte) {
	t.Helper()
	if err := es.ports[p].Write(frame); err != nil {
		t.Fatal(err)
	}
}

// Packet-out reaches the pipeline at the CPU port; the program sends every
// packet to the CPU, so it comes back as a packet-in, unchanged.
func TestEnginePacketIO(t *testing.T) {
	es := startEngineProgram(t, "packet_io", 64)
	for i, payload := range [][]byte{syncFrame, append([]byte("second frame"), make([]byte, 50)...)} {
		if err := es.s.stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_Packet{Packet: &p4v1.PacketOut{Payload: payload}}}); err != nil {
			t.Fatal(err)
		}
		var pin *p4v1.PacketIn
		for pin == nil {
			pin = es.s.next().GetPacket()
		}
		if diff := cmp.Diff(&p4v1.PacketIn{Payload: payload}, pin, protocmp.Transform()); diff != "" {
			t.Errorf("packet %d: packet-in (-want +got):\n%s", i, diff)
		}
	}
}

// A frame from an unknown source raises a learning digest; once the
// controller installs the MAC, frames from it raise none.
func TestEngineDigest(t *testing.T) {
	es := startEngineProgram(t, "digest", 0, 1, 2)
	digestID := id(t, es.info, "L2_digest")
	es.mustWrite(t, update(p4v1.Update_INSERT, &p4v1.Entity{Entity: &p4v1.Entity_DigestEntry{DigestEntry: &p4v1.DigestEntry{
		DigestId: digestID, Config: &p4v1.DigestEntry_Config{MaxTimeoutNs: 0, MaxListSize: 1, AckTimeoutNs: int64(time.Hour)}}}}))
	frame := func(mac byte) []byte {
		return append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, mac, 0x88, 0xb5}, make([]byte, 46)...)
	}
	learned := func(mac byte, port byte) *p4v1.P4Data {
		return &p4v1.P4Data{Data: &p4v1.P4Data_Struct{Struct: &p4v1.P4StructLike{Members: []*p4v1.P4Data{
			{Data: &p4v1.P4Data_Bitstring{Bitstring: []byte{0x02, 0, 0, 0, 0, mac}}}, {Data: &p4v1.P4Data_Bitstring{Bitstring: []byte{port}}}}}}}
	}
	nextDigest := func() *p4v1.DigestList {
		for {
			if d := es.s.next().GetDigest(); d != nil {
				return d
			}
		}
	}
	es.send(t, 2, frame(1))
	es.recv(t, 2) // the program reflects frames to their port
	d := nextDigest()
	if diff := cmp.Diff([]*p4v1.P4Data{learned(1, 2)}, d.GetData(), protocmp.Transform()); diff != "" {
		t.Errorf("first digest (-want +got):\n%s", diff)
	}
	if d.GetDigestId() != digestID {
		t.Errorf("digest id %d, want %d", d.GetDigestId(), digestID)
	}
	// Install the MAC; its frames now hit, and the next digest is for a new MAC.
	smac := id(t, es.info, "ingress.smac")
	es.mustWrite(t, update(p4v1.Update_INSERT, entry(smac, 0, action(id(t, es.info, "NoAction")), exact(1, []byte{0x02, 0, 0, 0, 0, 1}))))
	if err := es.s.stream.Send(&p4v1.StreamMessageRequest{Update: &p4v1.StreamMessageRequest_DigestAck{DigestAck: &p4v1.DigestListAck{DigestId: digestID, ListId: d.GetListId()}}}); err != nil {
		t.Fatal(err)
	}
	es.send(t, 1, frame(1))
	es.recv(t, 1)
	es.send(t, 1, frame(7))
	es.recv(t, 1)
	if diff := cmp.Diff([]*p4v1.P4Data{learned(7, 1)}, nextDigest().GetData(), protocmp.Transform()); diff != "" {
		t.Errorf("digest after installing MAC 1 (-want +got):\n%s", diff)
	}
}

// A direct counter counts the packets that hit its entry, readable through
// DirectCounterEntry and TableEntry.counter_data, and writable.
func TestEngineDirectCounter(t *testing.T) {
	es := startEngineProgram(t, "counter", 0, 1)
	tbl := id(t, es.info, "t_redirect")
	e := entry(tbl, 0, action(id(t, es.info, "port_redirect")), exact(1, []byte{60}))
	es.mustWrite(t, update(p4v1.Update_INSERT, e))
	for range 3 {
		es.send(t, 1, syncFrame)
		if got := es.recv(t, 1); len(got) != len(syncFrame) {
			t.Fatalf("redirected frame of %d bytes, want %d", len(got), len(syncFrame))
		}
	}
	key := &p4v1.TableEntry{TableId: tbl, Match: e.GetTableEntry().GetMatch()}
	dc := &p4v1.Entity{Entity: &p4v1.Entity_DirectCounterEntry{DirectCounterEntry: &p4v1.DirectCounterEntry{TableEntry: key}}}
	got, err := es.read(t, dc)
	if err != nil {
		t.Fatal(err)
	}
	want := &p4v1.Entity{Entity: &p4v1.Entity_DirectCounterEntry{DirectCounterEntry: &p4v1.DirectCounterEntry{TableEntry: key, Data: &p4v1.CounterData{PacketCount: 3, ByteCount: 180}}}}
	if diff := cmp.Diff([]*p4v1.Entity{want}, got, protocmp.Transform()); diff != "" {
		t.Errorf("direct counter after 3 frames (-want +got):\n%s", diff)
	}
	// Reset through DirectCounterEntry, then one more frame.
	es.mustWrite(t, update(p4v1.Update_MODIFY, &p4v1.Entity{Entity: &p4v1.Entity_DirectCounterEntry{DirectCounterEntry: &p4v1.DirectCounterEntry{TableEntry: key, Data: &p4v1.CounterData{}}}}))
	es.send(t, 1, syncFrame)
	es.recv(t, 1)
	got, err = es.read(t, tableEntity(&p4v1.TableEntry{TableId: tbl, CounterData: &p4v1.CounterData{}}))
	if err != nil || len(got) != 1 {
		t.Fatalf("read with counter data: %v, %v", got, err)
	}
	if diff := cmp.Diff(&p4v1.CounterData{PacketCount: 1, ByteCount: 60}, got[0].GetTableEntry().GetCounterData(), protocmp.Transform()); diff != "" {
		t.Errorf("counter after reset and 1 frame (-want +got):\n%s", diff)
	}
}

// A multicast group written through P4Runtime replicates frames.
func TestEngineMulticast(t *testing.T) {
	es := startEngineProgram(t, "multicast", 0, 1, 2, 3, 4)
	es.mustWrite(t, update(p4v1.Update_INSERT, preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: &p4v1.MulticastGroupEntry{
		MulticastGroupId: 5, Replicas: []*p4v1.Replica{{PortKind: &p4v1.Replica_Port{Port: []byte{2}}, Instance: 20}, {PortKind: &p4v1.Replica_Port{Port: []byte{4}}, Instance: 40}}}}})))
	// hdr.f1 = 5 picks the multicast group; egress writes each replica's
	// instance (egress_rid) into hdr.f1.
	es.send(t, 1, append([]byte{0, 5}, make([]byte, 58)...))
	for _, r := range []struct {
		port uint32
		rid  byte
	}{{2, 20}, {4, 40}} {
		want := append([]byte{0, r.rid}, make([]byte, 58)...)
		if got := es.recv(t, r.port); !cmp.Equal(got, want) {
			t.Errorf("port %d got %x, want %x", r.port, got, want)
		}
	}
	if f, ok := es.ports[3].TryRecv(); ok {
		t.Errorf("port 3 (not in the group) got %x", f)
	}
}

// Members and a group of an action selector, through P4Runtime: a table
// entry pointing at a one-member group forwards to that member's port.
func TestEngineActionSelector(t *testing.T) {
	es := startEngineProgram(t, "action_profile", 0, 1, 2, 3)
	prof, send, tbl := id(t, es.info, "ActProfWS"), id(t, es.info, "send"), id(t, es.info, "IndirectWS")
	member := func(mid uint32, port byte) *p4v1.Entity {
		return &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: &p4v1.ActionProfileMember{
			ActionProfileId: prof, MemberId: mid, Action: &p4v1.Action{ActionId: send, Params: []*p4v1.Action_Param{{ParamId: 1, Value: []byte{port}}}}}}}
	}
	group := &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileGroup{ActionProfileGroup: &p4v1.ActionProfileGroup{
		ActionProfileId: prof, GroupId: 1, Members: []*p4v1.ActionProfileGroup_Member{{MemberId: 2, Weight: 1}}}}}
	es.mustWrite(t, update(p4v1.Update_INSERT, member(1, 2)), update(p4v1.Update_INSERT, member(2, 3)))
	es.mustWrite(t, update(p4v1.Update_INSERT, group))
	es.mustWrite(t, update(p4v1.Update_INSERT, entry(tbl, 0, &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileMemberId{ActionProfileMemberId: 1}}, exact(1, []byte{1}))),
		update(p4v1.Update_INSERT, entry(tbl, 0, &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileGroupId{ActionProfileGroupId: 1}}, exact(1, []byte{2}))))
	for _, tc := range []struct {
		in   byte
		want uint32
	}{{1, 2}, {2, 3}} {
		frame := append([]byte{tc.in, 0, 0, 0, 9}, make([]byte, 55)...)
		es.send(t, 1, frame)
		if got := es.recv(t, tc.want); !cmp.Equal(got, frame) {
			t.Errorf("in_=%d: port %d got %x", tc.in, tc.want, got)
		}
	}
	// Member 2 is used by group 1: deleting it fails, and the group stays.
	codes, err := es.write(t, update(p4v1.Update_DELETE, member(2, 0)))
	if err != nil || len(codes) != 1 || codes[0].String() != "FailedPrecondition" {
		t.Errorf("deleting a member in use: %v, %v; want FAILED_PRECONDITION", codes, err)
	}
}

// Writes race with traffic: while a controller flips an action-selector
// member between ports 2 and 3 as fast as it can, every frame leaves intact
// on exactly one of the two ports, with the old action or the new one
// (spec §11: each update is atomic for packets). Run with -race.
func TestEngineWritesDuringTraffic(t *testing.T) {
	es := startEngineProgram(t, "action_profile", 0, 1, 2, 3)
	prof, send, tbl := id(t, es.info, "ActProfWS"), id(t, es.info, "send"), id(t, es.info, "IndirectWS")
	member := func(port byte) *p4v1.Entity {
		return &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: &p4v1.ActionProfileMember{
			ActionProfileId: prof, MemberId: 1, Action: &p4v1.Action{ActionId: send, Params: []*p4v1.Action_Param{{ParamId: 1, Value: []byte{port}}}}}}}
	}
	es.mustWrite(t, update(p4v1.Update_INSERT, member(2)))
	es.mustWrite(t, update(p4v1.Update_INSERT, entry(tbl, 0, &p4v1.TableAction{Type: &p4v1.TableAction_ActionProfileMemberId{ActionProfileMemberId: 1}}, exact(1, []byte{1}))))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type arrival struct {
		port  uint32
		frame []byte
	}
	arrivals := make(chan arrival, 16)
	for _, p := range []uint32{2, 3} {
		go func() {
			for {
				f, err := es.ports[p].Recv(ctx)
				if err != nil {
					return
				}
				arrivals <- arrival{p, f}
			}
		}()
	}
	writerDone := make(chan error, 1)
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			_, err := es.client.Write(ctx, &p4v1.WriteRequest{DeviceId: es.deviceID, ElectionId: eid(1000),
				Updates: []*p4v1.Update{update(p4v1.Update_MODIFY, member(byte(2+i%2)))}})
			if err != nil && ctx.Err() == nil {
				writerDone <- err
				return
			}
		}
		writerDone <- nil
	}()
	seen := map[uint32]int{}
	for i := range 300 {
		frame := append([]byte{1, byte(i >> 8), byte(i), 0, 0}, make([]byte, 55)...)
		es.send(t, 1, frame)
		select {
		case a := <-arrivals:
			if !cmp.Equal(a.frame, frame) {
				t.Fatalf("frame %d: port %d got %x, want %x", i, a.port, a.frame, frame)
			}
			seen[a.port]++
		case <-time.After(10 * time.Second):
			t.Fatalf("frame %d left on no port", i)
		}
	}
	cancel()
	if err := <-writerDone; err != nil {
		t.Fatalf("writer: %v", err)
	}
	select {
	case a := <-arrivals:
		t.Errorf("an extra frame left on port %d: %x", a.port, a.frame)
	default:
	}
	t.Logf("frames per port while the member flipped: %v", seen)
}
