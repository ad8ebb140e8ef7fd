package testbed

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/p4evpn/p4evpn/softswitch"
)

func mplsFrame(dst, src net.HardwareAddr, labels []uint32, payload []byte) []byte {
	f := append(append(append([]byte(nil), dst...), src...), 0x88, 0x47)
	for i, l := range labels {
		lse := l<<12 | 64
		if i == len(labels)-1 {
			lse |= 0x100
		}
		f = binary.BigEndian.AppendUint32(f, lse)
	}
	return append(f, payload...)
}

func TestLSR(t *testing.T) {
	lsrMAC := mustMAC("02:00:00:ff:ff:01")
	pe1MAC, pe2MAC := mustMAC("02:00:00:00:01:01"), mustMAC("02:00:00:00:02:01")
	l := NewLSR(lsrMAC, testLogger())
	t.Cleanup(func() { l.Close() })
	pe1, lsr1 := softswitch.NewLink(16)
	pe2, lsr2 := softswitch.NewLink(16)
	if err := l.AddPort(1, lsr1, 16001, pe1MAC); err != nil {
		t.Fatal(err)
	}
	if err := l.AddPort(2, lsr2, 16002, pe2MAC); err != nil {
		t.Fatal(err)
	}
	if err := l.AddPort(3, lsr2, 16002, pe2MAC); err == nil {
		t.Error("a second route for label 16002 was accepted")
	}
	payload := bytes.Repeat([]byte{0xab}, 50)
	for _, tc := range []struct {
		desc string
		in   []byte
		want []byte // at PE2; nil: dropped
	}{
		{desc: "PHP pops the transport label and rewrites the MACs",
			in:   mplsFrame(lsrMAC, pe1MAC, []uint32{16002, 300000}, payload),
			want: mplsFrame(pe2MAC, lsrMAC, []uint32{300000}, payload)},
		{desc: "unknown transport label is dropped", in: mplsFrame(lsrMAC, pe1MAC, []uint32{999, 300000}, payload)},
		{desc: "not MPLS is dropped", in: append(append(append([]byte(nil), lsrMAC...), pe1MAC...), append([]byte{0x08, 0x00}, payload...)...)},
		{desc: "a transport label alone is dropped", in: mplsFrame(lsrMAC, pe1MAC, []uint32{16002}, payload)},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if err := pe1.Write(tc.in); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			got, err := pe2.Recv(ctx)
			if tc.want == nil {
				if err == nil {
					t.Errorf("PE2 received % x, want nothing", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("frame at PE2 (-want +got):\n%s", diff)
			}
		})
	}
	want := LSRStats{Forwarded: 1, UnknownLabel: 2, NotMPLS: 1}
	if diff := cmp.Diff(want, l.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if err := l.DetachPort(2); err != nil {
		t.Fatal(err)
	}
	if err := pe1.Write(mplsFrame(lsrMAC, pe1MAC, []uint32{16002, 300000}, payload)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().PortDown != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := l.Stats().PortDown; got != 1 {
		t.Errorf("frames toward a detached port: PortDown %d, want 1", got)
	}
}
