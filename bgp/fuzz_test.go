package bgp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// FuzzParseEVPNUpdate feeds GoBGP's UPDATE parser (the code its session
// reader runs on every received message) l2vpn-evpn UPDATEs whose NLRI,
// extended communities and MP_REACH_NLRI header come from the fuzzer. The
// parser must never panic: on the reader goroutine a panic ends the process.
// Its errors must be *bgp.MessageError, which GoBGP's session code asserts
// (any other type panics there). Run with
// go test -run '^$' -fuzz FuzzParseEVPNUpdate ./bgp/
func FuzzParseEVPNUpdate(f *testing.F) {
	nh := netip.MustParseAddr("192.0.2.1")
	for _, n := range [][]byte{
		rawMACIP(1, 0, nil, 0),
		rawMACIP(1, 32, []byte{192, 0, 2, 9}, 0),
		{1, 25, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0x11},
		{3, 17, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1, 0, 0, 0, 0, 32, 192, 0, 2, 1},
		{4, 23, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 32, 192, 0, 2, 1},
		{5, 34, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11},
	} {
		f.Add(n, []byte{0x06, 0x06, 0x01, 0x40, 0, 0, 0, 0}, byte(0))
		f.Add(n[:len(n)/2], []byte{0x06, 0x00, 0x01, 0, 0, 0, 1, 2}, byte(1))
	}
	f.Fuzz(func(t *testing.T, nlri, ext []byte, shape byte) {
		var msg []byte
		switch shape % 3 {
		case 0: // routes in MP_REACH_NLRI
			msg = update(attrOrigin, attrASPath, attr(0xC0, 16, ext), mpReach(nh, nlri))
		case 1: // withdrawals in MP_UNREACH_NLRI
			msg = update(attr(0x90, 15, append([]byte{0, 25, 70}, nlri...)))
		case 2: // the whole MP_REACH_NLRI value, header included
			msg = update(attrOrigin, attrASPath, attr(0x90, 14, append([]byte{0, 25, 70}, nlri...)))
		}
		if len(msg) > bgp.BGP_MAX_MESSAGE_LENGTH {
			return
		}
		_, err := bgp.ParseBGPMessage(msg)
		if err == nil {
			return
		}
		if _, ok := err.(*bgp.MessageError); !ok {
			t.Errorf("parse error %T (%v), want *bgp.MessageError", err, err)
		}
		// The recover in EVPNNLRI.DecodeFromBytes is the last line of
		// defence; a route decoder that needs it is missing a bounds check.
		if strings.Contains(err.Error(), "malformed EVPN NLRI (type") {
			t.Errorf("an EVPN route decoder panicked (recovered): %v", err)
		}
	})
}
