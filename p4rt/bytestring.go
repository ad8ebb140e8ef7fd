package p4rt

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
)

// P4Runtime carries every P4 integer as a big-endian bytestring (spec §8.4).
// The canonical form is the shortest string that holds the value, with one
// zero byte for zero. The client always sends canonical strings so that what
// it reads back is byte-for-byte what it wrote (read-write symmetry), which is
// what lets a reconciler compare entries with proto.Equal instead of parsing
// every field.

// ErrOutOfRange reports a value that does not fit the width P4Info gives its
// field, parameter or metadata.
var ErrOutOfRange = errors.New("value out of range")

// bitLen is the number of significant bits in the big-endian integer b.
func bitLen(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return (len(b)-i-1)*8 + bits.Len8(c)
		}
	}
	return 0
}

// Canonical returns the canonical form of the unsigned big-endian integer
// value for a field of bitwidth bits: leading zero bytes stripped, one zero
// byte for zero. An empty value is zero. It fails with ErrOutOfRange when the
// value needs more than bitwidth bits. The result may share value's backing
// array.
func Canonical(value []byte, bitwidth int32) ([]byte, error) {
	if n := bitLen(value); n > int(bitwidth) {
		return nil, fmt.Errorf("%w: 0x%x needs %d bits, width is %d", ErrOutOfRange, value, n, bitwidth)
	}
	return trimZeros(value), nil
}

// trimZeros strips leading zero bytes, keeping one for zero.
func trimZeros(b []byte) []byte {
	i := 0
	for i < len(b)-1 && b[i] == 0 {
		i++
	}
	if len(b) == 0 {
		return []byte{0}
	}
	return b[i:]
}

// Uint returns the canonical bytestring of v.
func Uint(v uint64) []byte {
	n := (bits.Len64(v) + 7) / 8
	if n == 0 {
		return []byte{0}
	}
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

// ToUint returns the value of the big-endian bytestring b. It fails with
// ErrOutOfRange when the value does not fit 64 bits.
func ToUint(b []byte) (uint64, error) {
	if bitLen(b) > 64 {
		return 0, fmt.Errorf("%w: 0x%x does not fit 64 bits", ErrOutOfRange, b)
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// MAC returns the canonical bytestring of a 48-bit MAC address.
func MAC(hw net.HardwareAddr) []byte { return trimZeros(hw) }

// IP returns the canonical bytestring of an IPv4 or IPv6 address (4 or 16
// bytes before trimming; an IPv4-mapped IPv6 address stays 128 bits wide).
func IP(a netip.Addr) []byte { return trimZeros(a.AsSlice()) }

// FixedWidth returns the canonical bytestring b left-padded with zeros to the
// (bitwidth+7)/8 bytes a field of bitwidth bits occupies in a header: the form
// a packet parser or a net.HardwareAddr wants. It fails with ErrOutOfRange
// when b does not fit.
func FixedWidth(b []byte, bitwidth int32) ([]byte, error) {
	if n := bitLen(b); n > int(bitwidth) {
		return nil, fmt.Errorf("%w: 0x%x needs %d bits, width is %d", ErrOutOfRange, b, n, bitwidth)
	}
	n := int(bitwidth+7) / 8
	b = trimZeros(b)
	if len(b) >= n {
		return b[len(b)-n:], nil
	}
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out, nil
}

// prefixMask returns the mask of the top prefixLen bits of a bitwidth-bit
// field, as a fixed-width big-endian string.
func prefixMask(prefixLen, bitwidth int32) []byte {
	n := int(bitwidth+7) / 8
	m := make([]byte, n)
	// Bit i (0 = most significant of the field) lives at overall position
	// pad+i in the n-byte string, where pad is the unused high bits.
	pad := int32(n*8) - bitwidth
	for i := int32(0); i < prefixLen; i++ {
		p := pad + i
		m[p/8] |= 0x80 >> (p % 8)
	}
	return m
}

// and returns a & b of two big-endian integers, as a canonical string.
func and(a, b []byte) []byte {
	n := max(len(a), len(b))
	out := make([]byte, n)
	for i := range n {
		var x, y byte
		if j := len(a) - n + i; j >= 0 {
			x = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			y = b[j]
		}
		out[i] = x & y
	}
	return trimZeros(out)
}

// compareUint compares two canonical big-endian integers.
func compareUint(a, b []byte) int {
	a, b = trimZeros(a), trimZeros(b)
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return bytes.Compare(a, b)
}

// isZero reports whether b encodes zero.
func isZero(b []byte) bool { return bitLen(b) == 0 }

// allOnes reports whether b encodes 2^bitwidth-1.
func allOnes(b []byte, bitwidth int32) bool {
	return bitLen(b) == int(bitwidth) && bytes.Equal(trimZeros(b), trimZeros(prefixMask(bitwidth, bitwidth)))
}
