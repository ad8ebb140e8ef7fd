package softswitch

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tablesFrame builds the keys header of testdata/tables.p4 followed by an
// empty result header the pipeline fills in.
func tablesFrame(addr uint32, port uint16, proto, opt uint8, mac uint64, addr6 []byte, sel uint8) []byte {
	f := fields{{uint64(addr), 32}, {uint64(port), 16}, {uint64(proto), 8}, {uint64(opt), 8}, {mac, 48}}.bytes()
	f = append(f, addr6...)
	return append(f, sel)
}

type tablesResult struct {
	Lpm, Acl, Exact, Wide, Konst, Flow uint64
	Addr6                              []byte
}

func parseTablesResult(t *testing.T, frame []byte) tablesResult {
	t.Helper()
	const keysLen = 4 + 2 + 1 + 1 + 6 + 16 + 1
	if len(frame) != keysLen+6+16 {
		t.Fatalf("output frame of %d bytes, want %d", len(frame), keysLen+6+16)
	}
	r := frame[keysLen:]
	return tablesResult{uint64(r[0]), uint64(r[1]), uint64(r[2]), uint64(r[3]), uint64(r[4]), uint64(r[5]), r[6:]}
}

func b16(last byte) []byte { b := make([]byte, 16); b[15] = last; return b }

func TestTableMatchKindsAndControlFlow(t *testing.T) {
	s, far := loadProgram(t, "tables", Config{}, 1)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	v8 := func(v byte) [][]byte { return [][]byte{{v}} }
	// lpm: 10/8 → 1, 10.1/16 → 2, 10.1.2.0/24 → 3, default route → 4.
	must(s.InsertEntry("ig.route", TableEntry{Match: []FieldMatch{{Value: []byte{10, 0, 0, 0}, PrefixLen: 8}}, Action: ActionCall{Action: "ig.set_lpm", Params: v8(1)}}))
	must(s.InsertEntry("ig.route", TableEntry{Match: []FieldMatch{{Value: []byte{10, 1, 0, 0}, PrefixLen: 16}}, Action: ActionCall{Action: "ig.set_lpm", Params: v8(2)}}))
	must(s.InsertEntry("ig.route", TableEntry{Match: []FieldMatch{{Value: []byte{10, 1, 2, 0}, PrefixLen: 24}}, Action: ActionCall{Action: "ig.set_lpm", Params: v8(3)}}))
	// acl: proto 6 any port → 10 (prio 10); proto 6 ports 80..90 → 20 (prio
	// 20); anything with opt 7 → 30 (prio 30); everything → 40 (prio 1).
	must(s.InsertEntry("ig.acl", TableEntry{Priority: 10, Match: []FieldMatch{{Value: []byte{6}, Mask: []byte{0xff}}, {}, {}}, Action: ActionCall{Action: "ig.set_acl", Params: v8(10)}}))
	must(s.InsertEntry("ig.acl", TableEntry{Priority: 20, Match: []FieldMatch{{Value: []byte{6}, Mask: []byte{0xff}}, {Value: []byte{80}, High: []byte{90}}, {}}, Action: ActionCall{Action: "ig.set_acl", Params: v8(20)}}))
	must(s.InsertEntry("ig.acl", TableEntry{Priority: 30, Match: []FieldMatch{{}, {}, {Value: []byte{7}}}, Action: ActionCall{Action: "ig.set_acl", Params: v8(30)}}))
	must(s.InsertEntry("ig.acl", TableEntry{Priority: 1, Match: []FieldMatch{{}, {}, {}}, Action: ActionCall{Action: "ig.set_acl", Params: v8(40)}}))
	// exact MAC with a direct counter; wide key with a wide parameter.
	must(s.InsertEntry("ig.macs", TableEntry{Match: []FieldMatch{{Value: []byte{0, 0, 0, 0, 0xab, 0xcd}}}, Action: ActionCall{Action: "ig.set_exact", Params: v8(5)}}))
	must(s.InsertEntry("ig.wide", TableEntry{Match: []FieldMatch{{Value: b16(9)}}, Action: ActionCall{Action: "ig.set_wide", Params: [][]byte{{6}, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}}}))

	tests := []struct {
		desc  string
		frame []byte
		want  tablesResult
		drop  bool
	}{
		{desc: "/24 wins over /16 and /8; acl range; exact hit; wide hit; const entry 0x01",
			frame: tablesFrame(0x0a010203, 85, 6, 0, 0xabcd, b16(9), 0x01),
			want:  tablesResult{Lpm: 3, Acl: 20, Exact: 5, Wide: 6, Konst: 11, Flow: 1 | 2, Addr6: []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}},
		{desc: "/16; port outside the range falls to the proto-only entry; wide miss; const entry 0x0_",
			frame: tablesFrame(0x0a01ff00, 91, 6, 0, 0xabcd, b16(8), 0x05),
			want:  tablesResult{Lpm: 2, Acl: 10, Exact: 5, Konst: 22, Flow: 1 | 4, Addr6: make([]byte, 16)}},
		{desc: "/8; optional key matches at the highest priority; const catch-all",
			frame: tablesFrame(0x0aff0000, 85, 6, 7, 0xabcd, b16(8), 0x35),
			want:  tablesResult{Lpm: 1, Acl: 30, Exact: 5, Konst: 33, Flow: 1 | 4, Addr6: make([]byte, 16)}},
		{desc: "lpm miss runs the default action; acl catch-all",
			frame: tablesFrame(0x0b000000, 85, 17, 0, 0xabcd, b16(8), 0x35),
			want:  tablesResult{Lpm: 0xee, Acl: 40, Exact: 5, Konst: 33, Flow: 1 | 4, Addr6: make([]byte, 16)}},
		{desc: "exact miss runs the const default drop",
			frame: tablesFrame(0x0b000000, 85, 17, 0, 0x1234, b16(8), 0x35), drop: true},
	}
	for _, tc := range tests {
		s.Process(1, tc.frame)
		if tc.drop {
			expectNone(t, far)
			continue
		}
		got := parseTablesResult(t, recv(t, far[1]))
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: result (-want +got):\n%s", tc.desc, diff)
		}
	}
	e, err := s.Entry("ig.macs", []FieldMatch{{Value: []byte{0xab, 0xcd}}}, 0)
	must(err)
	if e.Counter.Packets != 4 || e.Counter.Bytes != 4*uint64(len(tests[0].frame)) {
		t.Errorf("direct counter = %+v, want 4 packets of %d bytes", e.Counter, len(tests[0].frame))
	}
}

func TestTableWritesAndTheirErrors(t *testing.T) {
	s, _ := loadProgram(t, "tables", Config{}, 1)
	v8 := func(v byte) [][]byte { return [][]byte{{v}} }
	mac := func(b byte) []FieldMatch { return []FieldMatch{{Value: []byte{0, 0, 0, 0, 0, b}}} }
	tests := []struct {
		desc    string
		op      func() error
		wantErr error
	}{
		{desc: "insert", op: func() error {
			return s.InsertEntry("ig.macs", TableEntry{Match: mac(1), Action: ActionCall{Action: "ig.set_exact", Params: v8(1)}})
		}},
		{desc: "insert again", wantErr: ErrExists, op: func() error {
			return s.InsertEntry("ig.macs", TableEntry{Match: mac(1), Action: ActionCall{Action: "ig.set_exact", Params: v8(1)}})
		}},
		{desc: "modify a missing entry", wantErr: ErrNotFound, op: func() error {
			return s.ModifyEntry("ig.macs", TableEntry{Match: mac(2), Action: ActionCall{Action: "ig.drop"}})
		}},
		{desc: "delete a missing entry", wantErr: ErrNotFound, op: func() error { return s.DeleteEntry("ig.macs", mac(2), 0) }},
		{desc: "unknown table", wantErr: ErrNotFound, op: func() error { return s.DeleteEntry("ig.nope", mac(2), 0) }},
		{desc: "key wider than the field", wantErr: ErrInvalid, op: func() error {
			return s.InsertEntry("ig.macs", TableEntry{Match: []FieldMatch{{Value: []byte{1, 0, 0, 0, 0, 0, 0}}}, Action: ActionCall{Action: "ig.drop"}})
		}},
		{desc: "parameter wider than 8 bits", wantErr: ErrInvalid, op: func() error {
			return s.InsertEntry("ig.macs", TableEntry{Match: mac(3), Action: ActionCall{Action: "ig.set_exact", Params: [][]byte{{1, 0}}}})
		}},
		{desc: "missing parameter", wantErr: ErrInvalid, op: func() error {
			return s.InsertEntry("ig.macs", TableEntry{Match: mac(3), Action: ActionCall{Action: "ig.set_exact"}})
		}},
		{desc: "action not in the table", wantErr: ErrInvalid, op: func() error {
			return s.InsertEntry("ig.macs", TableEntry{Match: mac(3), Action: ActionCall{Action: "ig.set_lpm", Params: v8(1)}})
		}},
		{desc: "lpm value with bits beyond its prefix", wantErr: ErrInvalid, op: func() error {
			return s.InsertEntry("ig.route", TableEntry{Match: []FieldMatch{{Value: []byte{10, 1, 0, 0}, PrefixLen: 8}}, Action: ActionCall{Action: "ig.set_lpm", Params: v8(1)}})
		}},
		{desc: "ternary table without priority", wantErr: ErrInvalid, op: func() error {
			return s.InsertEntry("ig.acl", TableEntry{Match: []FieldMatch{{}, {}, {}}, Action: ActionCall{Action: "NoAction"}})
		}},
		{desc: "exact table with a priority", wantErr: ErrInvalid, op: func() error {
			return s.InsertEntry("ig.macs", TableEntry{Priority: 3, Match: mac(3), Action: ActionCall{Action: "ig.drop"}})
		}},
		{desc: "range low above high", wantErr: ErrInvalid, op: func() error {
			return s.InsertEntry("ig.acl", TableEntry{Priority: 1, Match: []FieldMatch{{}, {Value: []byte{9}, High: []byte{8}}, {}}, Action: ActionCall{Action: "NoAction"}})
		}},
		{desc: "const default action", wantErr: ErrConst, op: func() error {
			return s.SetDefaultEntry("ig.macs", ActionCall{Action: "ig.set_exact", Params: v8(1)})
		}},
		{desc: "const entries", wantErr: ErrConst, op: func() error {
			return s.InsertEntry("ig.fixed", TableEntry{Priority: 1, Match: []FieldMatch{{Value: []byte{9}, Mask: []byte{0xff}}}, Action: ActionCall{Action: "NoAction"}})
		}},
		{desc: "non-const default action", op: func() error {
			return s.SetDefaultEntry("ig.route", ActionCall{Action: "ig.set_lpm", Params: v8(9)})
		}},
		{desc: "modify", op: func() error {
			return s.ModifyEntry("ig.macs", TableEntry{Match: mac(1), Action: ActionCall{Action: "ig.drop"}})
		}},
	}
	for _, tc := range tests {
		err := tc.op()
		if tc.wantErr == nil && err != nil {
			t.Errorf("%s: %v", tc.desc, err)
		}
		if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: err = %v, want %v", tc.desc, err, tc.wantErr)
		}
	}
	got, err := s.Entries("ig.macs")
	if err != nil {
		t.Fatal(err)
	}
	want := []TableEntry{{Match: []FieldMatch{{Value: []byte{1}}}, Action: ActionCall{Action: "ig.drop"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries after the writes (-want +got):\n%s", diff)
	}
	d, err := s.DefaultEntry("ig.route")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ActionCall{Action: "ig.set_lpm", Params: v8(9)}, d); diff != "" {
		t.Errorf("default entry (-want +got):\n%s", diff)
	}
	if err := s.DeleteEntry("ig.macs", mac(1), 0); err != nil {
		t.Errorf("delete: %v", err)
	}
	// The wide table holds 64 entries: the 65th is refused.
	for i := 0; i < 64; i++ {
		if err := s.InsertEntry("ig.wide", TableEntry{Match: []FieldMatch{{Value: []byte{byte(i), 1}}}, Action: ActionCall{Action: "NoAction"}}); err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
	}
	err = s.InsertEntry("ig.wide", TableEntry{Match: []FieldMatch{{Value: []byte{0xff, 1}}}, Action: ActionCall{Action: "NoAction"}})
	if !errors.Is(err, ErrTableFull) {
		t.Errorf("65th entry in a 64-entry table: err = %v, want ErrTableFull", err)
	}
}

// TestPacketsNeverSeeATornEntry modifies an entry's two parameters together
// while packets hit it from other goroutines: every packet must see one
// complete version (the 8-bit and the 128-bit parameter carry the same
// byte). With -race it also checks the packet path against the writers.
func TestPacketsNeverSeeATornEntry(t *testing.T) {
	s, _ := loadProgram(t, "tables", Config{})
	key := b16(0x77)
	set := func(v byte) ActionCall {
		return ActionCall{Action: "ig.set_wide", Params: [][]byte{{v}, bytes16(v)}}
	}
	if err := s.InsertEntry("ig.wide", TableEntry{Match: []FieldMatch{{Value: key}}, Action: set(1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertEntry("ig.macs", TableEntry{Match: []FieldMatch{{Value: []byte{0}}}, Action: ActionCall{Action: "ig.set_exact", Params: [][]byte{{1}}}}); err != nil {
		t.Fatal(err)
	}
	const senders = 2
	const perSender = 2000
	results := make(chan tablesResult, senders*perSender)
	done := make(chan struct{})
	var missing atomic.Int64
	for g := 0; g < senders; g++ {
		port := uint32(10 + g)
		out, in := NewLink(perSender + 1)
		if err := s.AddPort(port, out, ""); err != nil {
			t.Fatal(err)
		}
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < perSender; i++ {
				s.Process(port, tablesFrame(0, 0, 0, 0, 0, key, 0))
				f, ok := in.TryRecv()
				if !ok {
					missing.Add(1)
					continue
				}
				results <- parseTablesResultNoT(f)
			}
		}()
	}
	// Writer: modify the entry, and churn other entries to force index
	// growth, while the senders run.
	for i := 0; i < 500; i++ {
		if err := s.ModifyEntry("ig.wide", TableEntry{Match: []FieldMatch{{Value: key}}, Action: set(byte(i))}); err != nil {
			t.Fatal(err)
		}
		other := []FieldMatch{{Value: []byte{byte(i), byte(i >> 8), 5}}}
		if err := s.InsertEntry("ig.wide", TableEntry{Match: other, Action: ActionCall{Action: "NoAction"}}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := s.DeleteEntry("ig.wide", other, 0); err != nil {
				t.Fatal(err)
			}
		}
		if i%60 == 59 { // stay under the table's 64 entries
			es, _ := s.Entries("ig.wide")
			for _, e := range es {
				if len(e.Match[0].Value) == 3 {
					if err := s.DeleteEntry("ig.wide", e.Match, 0); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	for g := 0; g < senders; g++ {
		<-done
	}
	close(results)
	n := 0
	for r := range results {
		n++
		if !bytes.Equal(r.Addr6, bytes16(byte(r.Wide))) {
			t.Fatalf("torn entry: 8-bit parameter %d with 128-bit parameter %x", r.Wide, r.Addr6)
		}
	}
	if n != senders*perSender || missing.Load() != 0 {
		t.Fatalf("%d frames came out, %d missing, want all %d", n, missing.Load(), senders*perSender)
	}
}

func bytes16(v byte) []byte { return bytes.Repeat([]byte{v}, 16) }

func parseTablesResultNoT(frame []byte) tablesResult {
	r := frame[4+2+1+1+6+16+1:]
	return tablesResult{uint64(r[0]), uint64(r[1]), uint64(r[2]), uint64(r[3]), uint64(r[4]), uint64(r[5]), r[6:]}
}
