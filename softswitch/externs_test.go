package softswitch

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// cmdFrame builds the cmd and (zeroed) res headers of testdata/externs.p4.
func cmdFrame(op uint8, arg uint16, data uint32) []byte {
	f := []byte{op}
	f = binary.BigEndian.AppendUint16(f, arg)
	f = binary.BigEndian.AppendUint32(f, data)
	return append(f, make([]byte, resLen)...)
}

const cmdLen, resLen = 7, 2 + 1 + 1 + 4 + 2 + 4 + 4 + 2 + 2

type res struct {
	Rid, Instance, Loops, Value, Crc16, Crc32, Ident, Csum, Port uint64
}

func parseRes(t *testing.T, f []byte) res {
	t.Helper()
	if len(f) < cmdLen+resLen {
		t.Fatalf("frame of %d bytes is too short", len(f))
	}
	v := unpack(f[cmdLen:cmdLen+resLen], 16, 8, 8, 32, 16, 32, 32, 16, 16)
	return res{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]}
}

const cpuPort = 64

func TestReplicationEngine(t *testing.T) {
	s, far := loadProgram(t, "externs", Config{CPUPort: cpuPort}, 1, 2, 3, 4)
	if err := s.InsertMulticastGroup(MulticastGroup{ID: 9, Replicas: []Replica{{Port: 2, Rid: 100}, {Port: 3, Rid: 200}, {Port: 3, Rid: 201}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertCloneSession(CloneSession{ID: 5, Replicas: []Replica{{Port: 4, Rid: 7}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertCloneSession(CloneSession{ID: 6, Replicas: []Replica{{Port: 2, Rid: 0}}, PacketLength: 10}); err != nil {
		t.Fatal(err)
	}
	type out struct {
		Port uint32
		Res  res
		Len  int
	}
	full := cmdLen + resLen
	tests := []struct {
		desc  string
		frame []byte
		want  []out
	}{
		{desc: "unicast", frame: cmdFrame(1, 3, 0), want: []out{{3, res{Instance: 0, Loops: 1, Port: 3}, full}}},
		{desc: "multicast: one copy per replica, egress_rid and instance_type REPLICATION", frame: cmdFrame(2, 9, 0), want: []out{
			{2, res{Rid: 100, Instance: 5, Loops: 1, Port: 2}, full},
			{3, res{Rid: 200, Instance: 5, Loops: 1, Port: 3}, full},
			{3, res{Rid: 201, Instance: 5, Loops: 1, Port: 3}, full},
		}},
		{desc: "multicast to a missing group drops", frame: cmdFrame(2, 99, 0)},
		{desc: "I2E clone: the original frame, re-parsed, instance INGRESS_CLONE", frame: cmdFrame(3, 5, 0), want: []out{
			{4, res{Rid: 7, Instance: 1, Loops: 0, Port: 4}, full},
			{1, res{Loops: 1, Port: 1}, full},
		}},
		{desc: "E2E clone: the egress frame, instance EGRESS_CLONE, truncated to the session's length", frame: cmdFrame(4, 6, 0), want: []out{
			{2, res{}, 10},
			{1, res{Loops: 1, Port: 1}, full},
		}},
		{desc: "resubmit: ingress runs twice, the field list carries the pass count", frame: cmdFrame(5, 0, 0), want: []out{
			{1, res{Instance: 6, Loops: 1, Value: 2, Port: 1}, full},
		}},
		{desc: "recirculate: the deparsed frame enters ingress again", frame: cmdFrame(6, 0, 0), want: []out{
			{1, res{Instance: 4, Loops: 2, Port: 1}, full},
		}},
		{desc: "truncate", frame: cmdFrame(12, 0, 0), want: []out{{1, res{}, 20}}},
		{desc: "unknown op: mark_to_drop", frame: cmdFrame(99, 0, 0)},
	}
	for _, tc := range tests {
		s.Process(1, tc.frame)
		var got []out
		for _, port := range []uint32{1, 2, 3, 4} {
			for {
				f, ok := far[port].TryRecv()
				if !ok {
					break
				}
				o := out{Port: port, Len: len(f)}
				if len(f) >= cmdLen+resLen {
					o.Res = parseRes(t, f)
				}
				got = append(got, o)
			}
		}
		want := tc.want
		sortOuts := func(o []out) {
			for i := range o {
				for j := i + 1; j < len(o); j++ {
					if o[j].Port < o[i].Port || o[j].Port == o[i].Port && o[j].Res.Rid < o[i].Res.Rid {
						o[i], o[j] = o[j], o[i]
					}
				}
			}
		}
		sortOuts(got)
		sortOuts(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: frames out (-want +got):\n%s", tc.desc, diff)
		}
	}
	if err := s.InsertMulticastGroup(MulticastGroup{ID: 9}); !errors.Is(err, ErrExists) {
		t.Errorf("insert an existing group: err = %v, want ErrExists", err)
	}
	if err := s.DeleteCloneSession(77); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete a missing clone session: err = %v, want ErrNotFound", err)
	}
	if err := s.ModifyMulticastGroup(MulticastGroup{ID: 9, Replicas: []Replica{{Port: 4, Rid: 1}}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]MulticastGroup{{ID: 9, Replicas: []Replica{{Port: 4, Rid: 1}}}}, s.MulticastGroups()); diff != "" {
		t.Errorf("groups after modify (-want +got):\n%s", diff)
	}
}

func TestRegistersCountersHashesDigests(t *testing.T) {
	s, far := loadProgram(t, "externs", Config{CPUPort: cpuPort}, 1, 2, 3, 4)
	for i := 1; i <= 3; i++ {
		s.Process(2, cmdFrame(7, 4, 0))
		if got := parseRes(t, recv(t, far[1])).Value; got != uint64(i) {
			t.Errorf("register pass %d: value %d, want %d", i, got, i)
		}
	}
	if v, err := s.ReadRegister("ig.reg", 4); err != nil || bytesUint(v) != 3 {
		t.Errorf("ReadRegister = %x, %v; want 3", v, err)
	}
	if err := s.WriteRegister("ig.reg", 4, []byte{100}); err != nil {
		t.Fatal(err)
	}
	s.Process(2, cmdFrame(7, 4, 0))
	if got := parseRes(t, recv(t, far[1])).Value; got != 101 {
		t.Errorf("after WriteRegister(100): value %d, want 101", got)
	}
	if err := s.WriteRegister("ig.reg", 16, []byte{1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("register index out of range: err = %v, want ErrInvalid", err)
	}

	data := uint32(0xdeadbeef)
	s.Process(2, cmdFrame(8, 0x1234, data))
	r := parseRes(t, recv(t, far[1]))
	in := binary.BigEndian.AppendUint32(nil, data)
	want := res{Loops: 1, Port: 1,
		Crc16: crc16Reference(in), Crc32: uint64(crc32.ChecksumIEEE(in)), Ident: uint64(data),
		Csum: uint64(^uint16(onesSum(0xdead, 0xbeef, 0x1234))),
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("hashes (-want +got):\n%s", diff)
	}

	for i := 0; i < 3; i++ {
		s.Process(2, cmdFrame(13, 17, 0))
		recv(t, far[1])
	}
	c, err := s.ReadCounter("ig.cnt", 17)
	if err != nil {
		t.Fatal(err)
	}
	if c.Packets != 3 || c.Bytes != 3*uint64(cmdLen+resLen) {
		t.Errorf("counter = %+v, want 3 packets of %d bytes", c, cmdLen+resLen)
	}

	s.Process(3, cmdFrame(9, 0, 0xcafe))
	recv(t, far[1])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	select {
	case d := <-s.Digests():
		want := Digest{Name: "learn_t", Fields: [][]byte{{0, 0, 0xca, 0xfe}, {0, 3}}}
		if diff := cmp.Diff(want, d); diff != "" {
			t.Errorf("digest (-want +got):\n%s", diff)
		}
	case <-ctx.Done():
		t.Fatal("no digest")
	}
}

// crc16Reference is CRC-16/ARC computed bit by bit.
func crc16Reference(b []byte) uint64 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xa001
			} else {
				crc >>= 1
			}
		}
	}
	return uint64(crc)
}

func onesSum(words ...uint16) uint16 {
	var s uint32
	for _, w := range words {
		s += uint32(w)
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func TestActionSelectorSpreadsFlowsStably(t *testing.T) {
	s, far := loadProgram(t, "externs", Config{CPUPort: cpuPort}, 1, 2, 3, 4)
	const prof = "ig.ecmp"
	for port := uint32(2); port <= 4; port++ {
		if err := s.InsertMember(prof, Member{ID: port, Action: "ig.send", Params: [][]byte{{0, byte(port)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertGroup(prof, Group{ID: 1, Members: []GroupMember{{ID: 2, Weight: 1}, {ID: 3, Weight: 1}, {ID: 4, Weight: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertEntry("ig.sel", TableEntry{Match: []FieldMatch{{Value: []byte{1}}}, Action: ActionCall{GroupID: 1, IsGroup: true}}); err != nil {
		t.Fatal(err)
	}
	perPort := map[uint32]int{}
	for flow := uint32(0); flow < 300; flow++ {
		var first uint32
		for rep := 0; rep < 2; rep++ {
			s.Process(1, cmdFrame(10, 1, flow*7919))
			for port := uint32(2); port <= 4; port++ {
				if _, ok := far[port].TryRecv(); ok {
					if rep == 0 {
						first = port
						perPort[port]++
					} else if port != first {
						t.Fatalf("flow %d went to port %d, then to %d", flow, first, port)
					}
				}
			}
		}
		if first == 0 {
			t.Fatalf("flow %d was not forwarded", flow)
		}
	}
	for port := uint32(2); port <= 4; port++ {
		if perPort[port] < 50 {
			t.Errorf("port %d got %d of 300 flows; the spread %v is too uneven", port, perPort[port], perPort)
		}
	}
	if err := s.DeleteMember(prof, 2); !errors.Is(err, ErrInUse) {
		t.Errorf("delete a member of a group: err = %v, want ErrInUse", err)
	}
	if err := s.DeleteGroup(prof, 1); !errors.Is(err, ErrInUse) {
		t.Errorf("delete a group an entry uses: err = %v, want ErrInUse", err)
	}
	// One member left: every flow goes there (a PE leaving an aliasing
	// group is one group write).
	if err := s.ModifyGroup(prof, Group{ID: 1, Members: []GroupMember{{ID: 4, Weight: 1}}}); err != nil {
		t.Fatal(err)
	}
	for flow := uint32(0); flow < 20; flow++ {
		s.Process(1, cmdFrame(10, 1, flow))
		recv(t, far[4])
	}
	expectNone(t, far)
}

func TestPacketInAndPacketOut(t *testing.T) {
	s, far := loadProgram(t, "externs", Config{CPUPort: cpuPort}, 1, 2, 3, 4)
	s.Process(3, cmdFrame(11, 0, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	select {
	case pin := <-s.PacketIns():
		fs, payload, err := SplitControllerHeader([]int{9, 7}, pin.Frame)
		if err != nil {
			t.Fatal(err)
		}
		if got := bytesUint(fs[0]); got != 3 {
			t.Errorf("packet_in.ingress_port = %d, want 3", got)
		}
		if len(payload) != cmdLen+resLen || payload[0] != 11 {
			t.Errorf("packet-in payload %x, want the cmd frame", payload)
		}
	case <-ctx.Done():
		t.Fatal("no packet-in")
	}
	frame, err := BuildControllerHeader([]int{9, 7}, [][]byte{{2}, {0}}, cmdFrame(99, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PacketOut(frame); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, far[2]); got[0] != 99 || len(got) != cmdLen+resLen {
		t.Errorf("packet-out left as %x, want the frame without its packet_out header", got)
	}
}
