package softswitch

import (
	"fmt"
	"math/bits"
)

// readBits returns the width (≤64) bits of b starting at bit offset off,
// most significant bit first, as the wire carries them.
func readBits(b []byte, off, width int) uint64 {
	if off&7 == 0 && width&7 == 0 {
		i := off >> 3
		var v uint64
		for _, c := range b[i : i+width>>3] {
			v = v<<8 | uint64(c)
		}
		return v
	}
	var v uint64
	for width > 0 {
		i, bo := off>>3, off&7
		avail := 8 - bo
		take := min(avail, width)
		x := uint64(b[i]>>(avail-take)) & (1<<take - 1)
		v = v<<take | x
		off += take
		width -= take
	}
	return v
}

// writeBits stores the low width (≤64) bits of v into b at bit offset off.
func writeBits(b []byte, off, width int, v uint64) {
	if off&7 == 0 && width&7 == 0 {
		i := off>>3 + width>>3 - 1
		for n := width >> 3; n > 0; n-- {
			b[i] = byte(v)
			v >>= 8
			i--
		}
		return
	}
	for width > 0 {
		i, bo := off>>3, off&7
		avail := 8 - bo
		take := min(avail, width)
		x := byte(v>>(width-take)) & byte(1<<take-1)
		shift := avail - take
		m := byte(1<<take-1) << shift
		b[i] = b[i]&^m | x<<shift
		off += take
		width -= take
	}
}

// copyBits extracts width bits at bit offset off of src into dst,
// right-aligned big-endian; dst has exactly (width+7)/8 bytes.
func copyBits(dst, src []byte, off, width int) {
	if off&7 == 0 && width&7 == 0 {
		copy(dst, src[off>>3:off>>3+width>>3])
		return
	}
	clear(dst)
	pad := len(dst)*8 - width
	for i := 0; i < width; i++ {
		bit := src[(off+i)>>3] >> (7 - (off+i)&7) & 1
		j := pad + i
		dst[j>>3] |= bit << (7 - j&7)
	}
}

// putBits writes the low width bits of the big-endian value v (any length)
// into dst at bit offset off.
func putBits(dst []byte, off, width int, v []byte) {
	for i := 0; i < width; i++ {
		// bit i of the field counted from its most significant bit is bit
		// (width-1-i) of the value counted from the least significant.
		k := width - 1 - i
		var bit byte
		if bi := len(v) - 1 - k>>3; bi >= 0 {
			bit = v[bi] >> (k & 7) & 1
		}
		j := off + i
		dst[j>>3] = dst[j>>3]&^(1<<(7-j&7)) | bit<<(7-j&7)
	}
}

// checkFits reports whether the big-endian value v fits in width bits.
func checkFits(v []byte, width int) error {
	n := bitLen(v)
	if n > width {
		return fmt.Errorf("value 0x%x does not fit in %d bits: %w", v, width, ErrInvalid)
	}
	return nil
}

// bitLen is the number of significant bits of a big-endian value.
func bitLen(v []byte) int {
	for i, c := range v {
		if c != 0 {
			return (len(v)-i-1)*8 + bits.Len8(c)
		}
	}
	return 0
}

// padBytes returns v right-aligned in n bytes; v must fit.
func padBytes(v []byte, n int) []byte {
	out := make([]byte, n)
	for len(v) > n {
		v = v[1:] // leading zero bytes, checked by checkFits
	}
	copy(out[n-len(v):], v)
	return out
}

// canonical strips leading zero bytes (P4Runtime's canonical bytestring),
// keeping one byte for zero.
func canonical(v []byte) []byte {
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	return append([]byte(nil), v...)
}

// bytesUint reads a big-endian value of at most 8 significant bytes.
func bytesUint(v []byte) uint64 {
	var x uint64
	for _, c := range v {
		x = x<<8 | uint64(c)
	}
	return x
}

// uintBytes encodes v big-endian in (width+7)/8 bytes.
func uintBytes(v uint64, width int) []byte {
	n := (width + 7) / 8
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = byte(v)
		v >>= 8
	}
	return out
}

// widthMask is the mask of the low w bits (w ≤ 64).
func widthMask(w int) uint64 {
	if w >= 64 {
		return ^uint64(0)
	}
	return 1<<w - 1
}
