package p4rt

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		desc     string
		value    []byte
		bitwidth int32
		want     []byte
		wantErr  error
	}{
		{desc: "zero is one zero byte", value: []byte{0, 0, 0}, bitwidth: 16, want: []byte{0}},
		{desc: "empty is zero", value: nil, bitwidth: 8, want: []byte{0}},
		{desc: "leading zeros stripped", value: []byte{0, 0, 1, 2}, bitwidth: 32, want: []byte{1, 2}},
		{desc: "already canonical", value: []byte{0x80}, bitwidth: 8, want: []byte{0x80}},
		{desc: "9-bit max fits", value: []byte{1, 0xff}, bitwidth: 9, want: []byte{1, 0xff}},
		{desc: "9-bit overflow by one bit", value: []byte{2, 0}, bitwidth: 9, wantErr: ErrOutOfRange},
		{desc: "padded but fits", value: []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 5}, bitwidth: 3, want: []byte{5}},
		{desc: "48-bit MAC", value: []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}, bitwidth: 48, want: []byte{0x11, 0x22, 0x33, 0x44, 0x55}},
		{desc: "7 bytes into 48 bits", value: []byte{1, 0, 0, 0, 0, 0, 0}, bitwidth: 48, wantErr: ErrOutOfRange},
		{desc: "1-bit field, value 1", value: []byte{1}, bitwidth: 1, want: []byte{1}},
		{desc: "1-bit field, value 2", value: []byte{2}, bitwidth: 1, wantErr: ErrOutOfRange},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := Canonical(tc.value, tc.bitwidth)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Canonical(%x, %d) error = %v, want %v", tc.value, tc.bitwidth, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Canonical(%x, %d) mismatch (-want +got):\n%s", tc.value, tc.bitwidth, diff)
			}
		})
	}
}

func TestUintRoundTrip(t *testing.T) {
	tests := []struct {
		desc string
		v    uint64
		want []byte
	}{
		{desc: "zero", v: 0, want: []byte{0}},
		{desc: "one byte", v: 0xff, want: []byte{0xff}},
		{desc: "two bytes", v: 0x100, want: []byte{1, 0}},
		{desc: "max", v: ^uint64(0), want: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := Uint(tc.v)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Uint(%#x) mismatch (-want +got):\n%s", tc.v, diff)
			}
			back, err := ToUint(got)
			if err != nil || back != tc.v {
				t.Errorf("ToUint(%x) = %#x, %v; want %#x", got, back, err, tc.v)
			}
		})
	}
	if _, err := ToUint([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0}); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("ToUint(9 significant bytes) error = %v, want ErrOutOfRange", err)
	}
	if v, err := ToUint([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 7}); err != nil || v != 7 {
		t.Errorf("ToUint(zero-padded 7) = %d, %v; want 7", v, err)
	}
}

func TestAddressHelpers(t *testing.T) {
	mac, _ := net.ParseMAC("00:00:5e:00:53:01")
	if diff := cmp.Diff([]byte{0x5e, 0, 0x53, 1}, MAC(mac)); diff != "" {
		t.Errorf("MAC mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]byte{10, 0, 0, 1}, IP(netip.MustParseAddr("10.0.0.1"))); diff != "" {
		t.Errorf("IPv4 mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]byte{1}, IP(netip.MustParseAddr("::1"))); diff != "" {
		t.Errorf("IPv6 mismatch (-want +got):\n%s", diff)
	}
}

func TestFixedWidth(t *testing.T) {
	tests := []struct {
		desc     string
		value    []byte
		bitwidth int32
		want     []byte
		wantErr  error
	}{
		{desc: "MAC padded back to 6 bytes", value: []byte{0x5e, 0, 0x53, 1}, bitwidth: 48, want: []byte{0, 0, 0x5e, 0, 0x53, 1}},
		{desc: "9 bits is 2 bytes", value: []byte{3}, bitwidth: 9, want: []byte{0, 3}},
		{desc: "over-long input trimmed", value: []byte{0, 0, 0, 3}, bitwidth: 9, want: []byte{0, 3}},
		{desc: "too wide", value: []byte{2, 0}, bitwidth: 9, wantErr: ErrOutOfRange},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := FixedWidth(tc.value, tc.bitwidth)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("FixedWidth error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FixedWidth mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrefixMaskAndMasking(t *testing.T) {
	tests := []struct {
		desc      string
		value     []byte
		prefixLen int32
		bitwidth  int32
		want      []byte
	}{
		{desc: "/24 of a /32", value: []byte{10, 1, 2, 3}, prefixLen: 24, bitwidth: 32, want: []byte{10, 1, 2, 0}},
		{desc: "/32 keeps all", value: []byte{10, 1, 2, 3}, prefixLen: 32, bitwidth: 32, want: []byte{10, 1, 2, 3}},
		{desc: "/1 of 12 bits", value: []byte{0x0f, 0xff}, prefixLen: 1, bitwidth: 12, want: []byte{0x08, 0x00}},
		{desc: "/4 of 12 bits", value: []byte{0x0a, 0xbc}, prefixLen: 4, bitwidth: 12, want: []byte{0x0a, 0x00}},
		{desc: "/9 of 12 bits, short value", value: []byte{0xff}, prefixLen: 9, bitwidth: 12, want: []byte{0xf8}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := and(tc.value, prefixMask(tc.prefixLen, tc.bitwidth))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("masked value mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
