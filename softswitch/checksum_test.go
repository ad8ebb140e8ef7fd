package softswitch

import (
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// ipv4Frame is an Ethernet/IPv4 frame with a correct header checksum, or
// with the checksum broken when bad.
func ipv4Frame(t testing.TB, ttl uint8, bad bool) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true},
		&layers.Ethernet{DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Id: 0x1234, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{198, 51, 100, 7}},
		gopacket.Payload(make([]byte, 26)))
	if err != nil {
		t.Fatal(err)
	}
	f := append([]byte(nil), buf.Bytes()...)
	if bad {
		f[14+10] ^= 0x5a
	}
	return f
}

func TestChecksumVerifyAndUpdate(t *testing.T) {
	s, far := loadProgram(t, "checksum", Config{}, 1)
	tests := []struct {
		desc    string
		in      []byte
		wantErr byte
	}{
		{desc: "correct checksum: no checksum_error", in: ipv4Frame(t, 64, false), wantErr: 0},
		{desc: "broken checksum: checksum_error", in: ipv4Frame(t, 64, true), wantErr: 1},
	}
	for _, tc := range tests {
		s.Process(1, tc.in)
		out := recv(t, far[1])
		ip := out[14:34]
		if ip[1] != tc.wantErr {
			t.Errorf("%s: checksum_error reported %d, want %d", tc.desc, ip[1], tc.wantErr)
		}
		if ip[8] != 63 {
			t.Errorf("%s: TTL %d, want 63", tc.desc, ip[8])
		}
		// The deparser recomputed the checksum over the changed header:
		// the one's complement sum of a correct header is 0xffff.
		if sum := csum16(ip); sum != 0 {
			t.Errorf("%s: output header checksum does not verify (residue %#x): %x", tc.desc, sum, ip)
		}
	}
}
