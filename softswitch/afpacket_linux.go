//go:build linux

package softswitch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// InterfacePort is a Linux network interface used as a switch port through an
// AF_PACKET socket, as BMv2's `-i 1@veth0`. It needs CAP_NET_RAW. The socket
// is in promiscuous mode, ignores the frames it sends itself, and puts back
// the 802.1Q tag the kernel strips on receive (VLAN offload), so the
// pipeline sees the frame as it was on the wire.
type InterfacePort struct {
	name string
	f    *os.File
	rc   syscall.RawConn
	// mu guards oob, the receive ancillary buffer (one reader at a time).
	mu  sync.Mutex
	oob []byte
}

// OpenInterface opens an interface (it must exist and be up) as a port.
func OpenInterface(name string) (*InterfacePort, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", name, err)
	}
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(proto))
	if err != nil {
		return nil, fmt.Errorf("interface %q: AF_PACKET socket: %w", name, err)
	}
	setup := func() error {
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
			return fmt.Errorf("bind: %w", err)
		}
		mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fmt.Errorf("promiscuous mode: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
			return fmt.Errorf("PACKET_AUXDATA: %w", err)
		}
		// Older kernels lack PACKET_IGNORE_OUTGOING; then Read filters
		// outgoing frames by their packet type instead.
		_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
		return nil
	}
	if err := setup(); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("interface %q: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "afpacket:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("interface %q: %w", name, err)
	}
	return &InterfacePort{name: name, f: f, rc: rc, oob: make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))}, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Read blocks until a frame arrives. A tag the kernel stripped is
// re-inserted after the source MAC.
func (ip *InterfacePort) Read(buf []byte) (int, error) {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	for {
		var n, oobn int
		var from unix.Sockaddr
		var rerr error
		// Leave room for a re-inserted tag.
		rbuf := buf
		if len(rbuf) > 4 {
			rbuf = buf[:len(buf)-4]
		}
		err := ip.rc.Read(func(fd uintptr) bool {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), rbuf, ip.oob, 0)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return 0, fmt.Errorf("interface %q: %w", ip.name, ErrPortClosed)
		}
		if rerr != nil {
			return 0, fmt.Errorf("interface %q: read: %w", ip.name, rerr)
		}
		if sll, ok := from.(*unix.SockaddrLinklayer); ok && sll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		return ip.restoreTag(buf, n, oobn), nil
	}
}

// restoreTag re-inserts the VLAN tag reported in PACKET_AUXDATA.
func (ip *InterfacePort) restoreTag(buf []byte, n, oobn int) int {
	msgs, err := unix.ParseSocketControlMessage(ip.oob[:oobn])
	if err != nil {
		return n
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_PACKET || m.Header.Type != unix.PACKET_AUXDATA || len(m.Data) < int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			continue
		}
		aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
		if aux.Status&unix.TP_STATUS_VLAN_VALID == 0 || n < 12 || n+4 > len(buf) {
			continue
		}
		tpid := uint16(0x8100)
		if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && aux.Vlan_tpid != 0 {
			tpid = aux.Vlan_tpid
		}
		copy(buf[16:n+4], buf[12:n])
		binary.BigEndian.PutUint16(buf[12:], tpid)
		binary.BigEndian.PutUint16(buf[14:], aux.Vlan_tci)
		return n + 4
	}
	return n
}

// Write transmits one frame.
func (ip *InterfacePort) Write(frame []byte) error {
	var werr error
	err := ip.rc.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), frame)
		return !errors.Is(werr, unix.EAGAIN)
	})
	if err != nil {
		return fmt.Errorf("interface %q: %w", ip.name, ErrPortClosed)
	}
	if werr != nil {
		return fmt.Errorf("interface %q: write: %w", ip.name, werr)
	}
	return nil
}

// Close closes the socket; a blocked Read returns.
func (ip *InterfacePort) Close() error {
	return ip.f.Close()
}
