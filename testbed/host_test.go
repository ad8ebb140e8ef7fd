package testbed

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
)

func mustHost(t *testing.T, name, mac, addr string, vlan uint16) *Host {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHost(name, hw, netip.MustParsePrefix(addr), vlan, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// wire joins two hosts back to back: what one sends the other receives.
func wire(a, b *Host) {
	a.Attach(func(f []byte) error { b.Deliver(f); return nil })
	b.Attach(func(f []byte) error { a.Deliver(f); return nil })
}

func TestHostPing(t *testing.T) {
	for _, tc := range []struct {
		desc        string
		vlanA       uint16
		vlanB       uint16
		wantReplies int
		wantErr     error
	}{
		{desc: "untagged", wantReplies: 3},
		{desc: "same VLAN tag", vlanA: 100, vlanB: 100, wantReplies: 3},
		{desc: "different VLANs never hear each other", vlanA: 100, vlanB: 200, wantErr: ErrNoRoute},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			a := mustHost(t, "a", "02:00:00:00:00:0a", "10.0.0.1/24", tc.vlanA)
			b := mustHost(t, "b", "02:00:00:00:00:0b", "10.0.0.2/24", tc.vlanB)
			wire(a, b)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := a.Ping(ctx, b.Addr().Addr(), 3, time.Millisecond, 200*time.Millisecond)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Ping error = %v, want %v", err, tc.wantErr)
			}
			if res.Received != tc.wantReplies {
				t.Errorf("Ping received %d replies, want %d (lost %v)", res.Received, tc.wantReplies, res.Lost)
			}
			if tc.wantErr == nil {
				if got, ok := b.Neighbor(a.Addr().Addr()); !ok || !bytes.Equal(got, a.MAC()) {
					t.Errorf("b's ARP entry for a = %v, %v; want %v", got, ok, a.MAC())
				}
			}
		})
	}
}

func TestHostLosesPingsWhenLinkIsDown(t *testing.T) {
	a := mustHost(t, "a", "02:00:00:00:00:0a", "10.0.0.1/24", 0)
	b := mustHost(t, "b", "02:00:00:00:00:0b", "10.0.0.2/24", 0)
	wire(a, b)
	ctx := context.Background()
	if _, err := a.Resolve(ctx, b.Addr().Addr(), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	b.Attach(func([]byte) error { return nil }) // b's replies go nowhere
	res, err := a.Ping(ctx, b.Addr().Addr(), 2, time.Millisecond, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 2 || res.Received != 0 || len(res.Lost) != 2 {
		t.Errorf("Ping = %+v, want 2 sent, 0 received, 2 lost", res)
	}
}

func TestHostGratuitousARPUpdatesNeighbors(t *testing.T) {
	a := mustHost(t, "a", "02:00:00:00:00:0a", "10.0.0.1/24", 0)
	b := mustHost(t, "b", "02:00:00:00:00:0b", "10.0.0.2/24", 0)
	wire(a, b)
	if _, err := a.Resolve(context.Background(), b.Addr().Addr(), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// A second host claims b's address (a VM that moved and came back with a
	// new MAC); a must follow the gratuitous ARP.
	c := mustHost(t, "c", "02:00:00:00:00:0c", "10.0.0.2/24", 0)
	c.Attach(func(f []byte) error { a.Deliver(f); return nil })
	if err := c.GratuitousARP(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m, _ := a.Neighbor(b.Addr().Addr()); bytes.Equal(m, c.MAC()) {
			break
		}
		if time.Now().After(deadline) {
			m, _ := a.Neighbor(b.Addr().Addr())
			t.Fatalf("a's ARP entry = %v after gratuitous ARP, want %v", m, c.MAC())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHostRecordsBroadcastsOfItsVLANOnly(t *testing.T) {
	a := mustHost(t, "a", "02:00:00:00:00:0a", "10.0.0.1/24", 10)
	b := mustHost(t, "b", "02:00:00:00:00:0b", "10.0.0.2/24", 10)
	wire(a, b)
	other := mustHost(t, "x", "02:00:00:00:00:0e", "10.0.0.3/24", 20)
	other.Attach(func(f []byte) error { b.Deliver(f); return nil })
	payload := []byte("bum-probe-1")
	if err := a.SendBroadcast(layers.EthernetType(0x88b5), payload); err != nil {
		t.Fatal(err)
	}
	if err := other.SendBroadcast(layers.EthernetType(0x88b5), []byte("other-vlan")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var got []Frame
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		got = append(got, b.Received()...)
	}
	time.Sleep(20 * time.Millisecond)
	got = append(got, b.Received()...)
	if len(got) != 1 {
		t.Fatalf("b recorded %d frames, want exactly the one from its VLAN: %+v", len(got), got)
	}
	if !bytes.HasPrefix(got[0].Payload, payload) || got[0].EtherType != 0x88b5 {
		t.Errorf("b recorded %+v, want EtherType 0x88b5 payload %q", got[0], payload)
	}
}

func TestNewHostRejectsBadInput(t *testing.T) {
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	for _, tc := range []struct {
		desc string
		mac  net.HardwareAddr
		addr string
		vlan uint16
	}{
		{desc: "short MAC", mac: mac[:4], addr: "10.0.0.1/24"},
		{desc: "IPv6", mac: mac, addr: "2001:db8::1/64"},
		{desc: "VLAN 4095", mac: mac, addr: "10.0.0.1/24", vlan: 4095},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if h, err := NewHost("h", tc.mac, netip.MustParsePrefix(tc.addr), tc.vlan, nil, nil); err == nil {
				h.Close()
				t.Error("NewHost accepted bad input")
			}
		})
	}
}
