package softswitch

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// refGetBit reads bit i (most significant first) of b.
func refGetBit(b []byte, i int) byte { return b[i/8] >> (7 - i%8) & 1 }

func TestReadWriteBitsMatchBitByBitReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		buf := make([]byte, 24)
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		width := 1 + rng.IntN(64)
		off := rng.IntN(len(buf)*8 - width)
		var want uint64
		for i := 0; i < width; i++ {
			want = want<<1 | uint64(refGetBit(buf, off+i))
		}
		if got := readBits(buf, off, width); got != want {
			t.Fatalf("readBits(off %d, width %d) = %#x, want %#x", off, width, got, want)
		}
		v := rng.Uint64() & widthMask(width)
		before := append([]byte(nil), buf...)
		writeBits(buf, off, width, v)
		if got := readBits(buf, off, width); got != v {
			t.Fatalf("writeBits then readBits(off %d, width %d) = %#x, want %#x", off, width, got, v)
		}
		for i := 0; i < len(buf)*8; i++ {
			if (i < off || i >= off+width) && refGetBit(buf, i) != refGetBit(before, i) {
				t.Fatalf("writeBits(off %d, width %d) changed bit %d outside the field", off, width, i)
			}
		}
		// The byte-slice forms agree with the integer forms.
		vb := uintBytes(v, width)
		dst := make([]byte, (width+7)/8)
		putBits(buf, off, width, vb)
		copyBits(dst, buf, off, width)
		if !bytes.Equal(dst, vb) {
			t.Fatalf("putBits/copyBits(off %d, width %d) = %x, want %x", off, width, dst, vb)
		}
	}
}

func TestCheckFits(t *testing.T) {
	tests := []struct {
		desc    string
		v       []byte
		width   int
		wantErr bool
	}{
		{desc: "zero in one bit", v: []byte{0}, width: 1},
		{desc: "max of 9 bits", v: []byte{1, 0xff}, width: 9},
		{desc: "one above 9 bits", v: []byte{2, 0}, width: 9, wantErr: true},
		{desc: "leading zero bytes ignored", v: []byte{0, 0, 0, 5}, width: 3},
		{desc: "48-bit MAC in 48 bits", v: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, width: 48},
		{desc: "49 bits in 48", v: []byte{1, 0, 0, 0, 0, 0, 0}, width: 48, wantErr: true},
	}
	for _, tc := range tests {
		err := checkFits(tc.v, tc.width)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: checkFits(%x, %d) = %v, wantErr %v", tc.desc, tc.v, tc.width, err, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v does not wrap ErrInvalid", tc.desc, err)
		}
	}
}

func TestHashAlgorithmsMatchTheirCatalogueCheckValues(t *testing.T) {
	in := []byte("123456789")
	tests := []struct {
		desc string
		f    func([]byte) uint64
		want uint64
	}{
		// Check values from the CRC catalogue (reveng): CRC-16/ARC and
		// CRC-32/ISO-HDLC are BMv2's crc16 and crc32.
		{desc: "crc16 (CRC-16/ARC)", f: crc16ARC, want: 0xbb3d},
		{desc: "crc32", f: crc32IEEE, want: 0xcbf43926},
		{desc: "identity keeps the first 8 bytes", f: identityHash, want: 0x3132333435363738},
		{desc: "xor16", f: xor16, want: 0x3132 ^ 0x3334 ^ 0x3536 ^ 0x3738 ^ 0x3900},
	}
	for _, tc := range tests {
		if got := tc.f(in); got != tc.want {
			t.Errorf("%s(%q) = %#x, want %#x", tc.desc, in, got, tc.want)
		}
	}
	// RFC 1071's example: the checksum of these words is ^0xddf2.
	if got, want := csum16([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}), uint64(^uint16(0xddf2)); got != want {
		t.Errorf("csum16(RFC 1071 example) = %#x, want %#x", got, want)
	}
}

func TestControllerHeaderRoundTrip(t *testing.T) {
	widths := []int{9, 7, 16}
	values := [][]byte{{0x01, 0x23}, {0x45}, {0xbe, 0xef}}
	frame, err := BuildControllerHeader(widths, values, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	// 9 bits 0x123, 7 bits 0x45, 16 bits 0xbeef.
	if want := []byte{0x91, 0xc5, 0xbe, 0xef}; !bytes.Equal(frame[:4], want) {
		t.Errorf("header bytes = %x, want %x", frame[:4], want)
	}
	fields, payload, err := SplitControllerHeader(widths, frame)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(values, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if string(payload) != "payload" {
		t.Errorf("payload = %q", payload)
	}
	if _, err := BuildControllerHeader(widths, [][]byte{{0x02, 0}, {0}, {0}}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("a 10-bit value in a 9-bit field: err = %v, want ErrInvalid", err)
	}
	if _, _, err := SplitControllerHeader(widths, frame[:3]); !errors.Is(err, ErrInvalid) {
		t.Errorf("a frame shorter than the header: err = %v, want ErrInvalid", err)
	}
}
