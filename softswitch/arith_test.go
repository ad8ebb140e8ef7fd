package softswitch

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestArithmeticAtOddWidths runs testdata/arith.p4 on random operands and
// compares every result with Go arithmetic truncated to the P4 width.
func TestArithmeticAtOddWidths(t *testing.T) {
	s, _ := loadProgram(t, "arith", Config{})
	out, in := NewLink(0)
	if err := s.AddPort(5, out, ""); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 9))
	w128 := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	cases := []struct{ a8, b8, a7, flag, a16, b16, a32, a64, b64 uint64 }{
		{a8: 200, b8: 100, a7: 100, flag: 1, a16: 0xffff, b16: 1, a32: 999, a64: ^uint64(0), b64: 2},
		{a8: 0, b8: 1, a7: 0, flag: 0, a16: 0, b16: 0, a32: 1001, a64: 0, b64: 1},
		{a8: 7, b8: 7, a7: 27, flag: 0, a16: 5, b16: 5, a32: 0x12345678, a64: 5, b64: 5},
	}
	for range 200 {
		cases = append(cases, struct{ a8, b8, a7, flag, a16, b16, a32, a64, b64 uint64 }{
			uint64(rng.Uint32() & 0xff), uint64(rng.Uint32() & 0xff), uint64(rng.Uint32() & 0x7f), uint64(rng.Uint32() & 1),
			uint64(rng.Uint32() & 0xffff), uint64(rng.Uint32() & 0xffff), uint64(rng.Uint32()), rng.Uint64(), rng.Uint64(),
		})
	}
	outWidths := []int{8, 8, 8, 7, 1, 16, 16, 16, 16, 16, 16, 32, 8, 32, 64, 64, 8, 8, 64, 64, 8, 16, 8}
	for i, c := range cases {
		wide := w128
		if i%2 == 1 {
			wide = make([]byte, 16)
			wide[15] = byte(i)
		}
		frame := append(fields{{c.a8, 8}, {c.b8, 8}, {c.a7, 7}, {c.flag, 1}, {c.a16, 16}, {c.b16, 16}, {c.a32, 32}, {c.a64, 64}, {c.b64, 64}}.bytes(), wide...)
		s.Process(5, frame)
		got := recv(t, in)
		if len(got) != 43+63 {
			t.Fatalf("case %d: output of %d bytes, want %d", i, len(got), 43+63)
		}
		res := unpack(got[43:], outWidths...)
		b := func(x bool) uint64 {
			if x {
				return 1
			}
			return 0
		}
		var cmpBits uint64
		if c.a8 >= c.b8 {
			cmpBits |= 1
		}
		if c.a8 != c.b8 && c.a16 <= c.b16 {
			cmpBits |= 2
		}
		if !(c.a32 > 1000) || c.flag == 1 {
			cmpBits |= 4
		}
		if c.a64 == c.b64 {
			cmpBits |= 8
		}
		tern := c.b8
		if c.flag == 1 {
			tern = c.a8
		}
		weq := b(i%2 == 0)
		want := []uint64{
			(c.a8 + c.b8) & 0xff, (c.a8 - c.b8) & 0xff, (c.a8 * c.b8) & 0xff, (c.a7 + 100) & 0x7f, b(c.a16 < c.b16),
			(c.a16 << 3) & 0xffff, c.a16 >> 5, c.a16 & c.b16, c.a16 | c.b16, c.a16 ^ c.b16, ^c.a16 & 0xffff,
			c.a8<<24 | c.b8<<16 | c.a16, (c.a32 >> 12) & 0xff, c.a8 + c.a16,
			c.a64 + c.b64, c.a64 - c.b64, tern, cmpBits,
			bytesUint(wide[:8]), bytesUint(wide[8:]), weq, (-c.a16) & 0xffff, (c.a8 << (c.b8 & 7)) & 0xff,
		}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Fatalf("case %d %+v: results (-want +got):\n%s", i, c, diff)
		}
	}
}
