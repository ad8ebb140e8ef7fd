package p4rtserver

import (
	"math/bits"

	"google.golang.org/grpc/codes"
)

// P4Runtime carries every P4 integer as a big-endian bytestring (spec §8.4).
// The server accepts any length whose value fits the P4Info width (so a client
// built for a narrower or wider version of a field still works), stores and
// returns the canonical form: the shortest string that holds the value, one
// zero byte for zero. Keeping only canonical strings in the store is what gives
// read-write symmetry, and makes byte-wise equality of canonical strings the
// same thing as numeric equality, which the entry keys rely on.

// bitLen is the number of significant bits in b.
func bitLen(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return (len(b)-i-1)*8 + bits.Len8(c)
		}
	}
	return 0
}

// canonicalize checks that b is a valid bytestring for an unsigned field of
// width bits and returns its canonical form. what names the value in errors
// (a function: building names costs more than checking the value).
func canonicalize(b []byte, width int32, what func() string) ([]byte, error) {
	if len(b) == 0 {
		return nil, errorf(codes.InvalidArgument, "%s: empty bytestring (zero is \\x00)", what())
	}
	if n := bitLen(b); n > int(width) {
		return nil, errorf(codes.InvalidArgument, "%s: bytestring 0x%x does not fit within %d bits (needs %d)", what(), b, width, n)
	}
	i := 0
	for i < len(b)-1 && b[i] == 0 {
		i++
	}
	return b[i:], nil
}

// fixedWidth returns the canonical bytestring b left-padded with zeros to the
// (width+7)/8 bytes a data plane field of width bits occupies.
func fixedWidth(b []byte, width int32) []byte {
	n := int(width+7) / 8
	if n == 0 {
		n = 1
	}
	if len(b) >= n {
		return b[len(b)-n:]
	}
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out
}

// trimCanonical strips leading zero bytes from a fixed-width value read back
// from the data plane, keeping one byte for zero.
func trimCanonical(b []byte) []byte {
	i := 0
	for i < len(b)-1 && b[i] == 0 {
		i++
	}
	if len(b) == 0 {
		return []byte{0}
	}
	return b[i:]
}

// isZero reports whether every byte of b is zero.
func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// prefixMask returns a width-bit mask (fixed-width bytes) with the top
// prefixLen bits set.
func prefixMask(prefixLen, width int32) []byte {
	m := make([]byte, (width+7)/8)
	// The field occupies the low `width` bits of the byte array; the first
	// (len*8 - width) bits are padding.
	pad := int32(len(m))*8 - width
	for i := pad; i < pad+prefixLen; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// andBytes returns a & b for two equal-length byte slices.
func andBytes(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] & b[i]
	}
	return out
}

// compareFixed compares two equal-length big-endian values.
func compareFixed(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
