package main

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// afPacket is a Linux interface as a softswitch port: a raw AF_PACKET socket
// bound to it, in promiscuous mode. The socket is non-blocking and read
// through an os.File, so Go's poller parks a blocked Read and Close wakes it.
type afPacket struct {
	f     *os.File
	iface string
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openInterface opens iface for raw frames (needs CAP_NET_RAW).
func openInterface(iface string) (*afPacket, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding to %s: %w", iface, err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("promiscuous mode on %s: %w", iface, err)
	}
	// Frames the switch itself sends must not come back in.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ignoring outgoing frames on %s: %w", iface, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("non-blocking socket for %s: %w", iface, err)
	}
	return &afPacket{f: os.NewFile(uintptr(fd), "afpacket:"+iface), iface: iface}, nil
}

func (p *afPacket) Read(buf []byte) (int, error) {
	n, err := p.f.Read(buf)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p.iface, err)
	}
	return n, nil
}

func (p *afPacket) Write(frame []byte) error {
	if _, err := p.f.Write(frame); err != nil {
		return fmt.Errorf("%s: %w", p.iface, err)
	}
	return nil
}

// Close closes the socket, waking a blocked Read.
func (p *afPacket) Close() error { return p.f.Close() }
