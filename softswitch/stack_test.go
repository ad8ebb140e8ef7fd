package softswitch

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mplsLabel(label uint32, bos bool, ttl uint8) []byte {
	b := uint64(0)
	if bos {
		b = 1
	}
	return fields{{uint64(label), 20}, {0, 3}, {b, 1}, {uint64(ttl), 8}}.bytes()
}

func ethHdr(dst, src byte, typ uint16) []byte {
	return []byte{0, 0, 0, 0, 0, dst, 0, 0, 0, 0, 0, src, byte(typ >> 8), byte(typ)}
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// report is stack.p4's report header: depth, parser error, lookahead, flags.
func report(depth, perr, peek, flags byte) []byte { return []byte{depth, perr, peek, flags} }

func TestParserAndHeaderStacks(t *testing.T) {
	s, far := loadProgram(t, "stack", Config{}, 1)
	if err := s.InsertEntry("ig.op", TableEntry{Match: exact(be(0xa, 6)), Action: call("ig.push_label", be(100, 3))}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertEntry("ig.op", TableEntry{Match: exact(be(0xb, 6)), Action: call("ig.pop_label")}); err != nil {
		t.Fatal(err)
	}
	payload := []byte("payload")
	tests := []struct {
		desc string
		in   []byte
		want []byte
	}{
		{
			desc: "two labels: extract next until bottom of stack",
			in:   join(ethHdr(1, 1, 0x8847), mplsLabel(10, false, 1), mplsLabel(20, true, 2), payload),
			want: join(report(2, 0, 0, 0x55), ethHdr(1, 1, 0x8847), mplsLabel(10, false, 1), mplsLabel(20, true, 2), payload),
		},
		{
			desc: "four labels overflow the 3-deep stack: StackOutOfBounds, the fourth stays payload",
			in:   join(ethHdr(1, 1, 0x8847), mplsLabel(1, false, 1), mplsLabel(2, false, 1), mplsLabel(3, false, 1), mplsLabel(4, true, 1), payload),
			want: join(report(3, 1, 0, 0x55), ethHdr(1, 1, 0x8847), mplsLabel(1, false, 1), mplsLabel(2, false, 1), mplsLabel(3, false, 1), mplsLabel(4, true, 1), payload),
		},
		{
			desc: "masked select (0x9000 &&& 0xff00), lookahead, verify passes",
			in:   join(ethHdr(1, 1, 0x9042), []byte{5, 6}, payload),
			want: join(report(0, 0, 5, 0x55), ethHdr(1, 1, 0x9042), []byte{5, 6}, payload),
		},
		{
			desc: "verify fails: the program's own error",
			in:   join(ethHdr(1, 1, 0x9042), []byte{0xff, 6}, payload),
			want: join(report(0, 2, 0xff, 0x55), ethHdr(1, 1, 0x9042), []byte{0xff, 6}, payload),
		},
		{
			desc: "truncated label: PacketTooShort, the partial bytes stay payload",
			in:   join(ethHdr(1, 1, 0x8847), []byte{0, 1}),
			want: join(report(0, 3, 0, 0x55), ethHdr(1, 1, 0x8847), []byte{0, 1}),
		},
		{
			desc: "other EtherType: select default",
			in:   join(ethHdr(1, 1, 0x0800), payload),
			want: join(report(0, 0, 0, 0x55), ethHdr(1, 1, 0x0800), payload),
		},
		{
			desc: "push_front onto one label",
			in:   join(ethHdr(0xa, 1, 0x8847), mplsLabel(20, true, 2), payload),
			want: join(report(1, 0, 0, 0x55), ethHdr(0xa, 1, 0x8847), mplsLabel(100, false, 64), mplsLabel(20, true, 2), payload),
		},
		{
			desc: "push_front onto no label",
			in:   join(ethHdr(0xa, 1, 0x0800), payload),
			want: join(report(0, 0, 0, 0x55), ethHdr(0xa, 1, 0x8847), mplsLabel(100, true, 64), payload),
		},
		{
			desc: "pop_front of two labels",
			in:   join(ethHdr(0xb, 1, 0x8847), mplsLabel(10, false, 1), mplsLabel(20, true, 2), payload),
			want: join(report(2, 0, 0, 0x55), ethHdr(0xb, 1, 0x8847), mplsLabel(20, true, 2), payload),
		},
		{
			desc: "pop_front of the last label",
			in:   join(ethHdr(0xb, 1, 0x8847), mplsLabel(20, true, 2), payload),
			want: join(report(1, 0, 0, 0x55), ethHdr(0xb, 1, 0x0800), payload),
		},
		{
			desc: "exit skips the rest of the control",
			in:   join(ethHdr(1, 0, 0x0800), payload),
			want: join(report(0, 0, 0, 0xaa), ethHdr(1, 0, 0x0800), payload),
		},
	}
	for _, tc := range tests {
		s.Process(1, tc.in)
		got := recv(t, far[1])
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: frame (-want +got):\n%s", tc.desc, diff)
		}
	}
}
