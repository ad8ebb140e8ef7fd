package testbed

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/p4evpn/p4evpn/softswitch"
)

// LSR is the testbed's MPLS core: a label-switching router with one port
// per PE. Each PE is reached by one transport label (its FEC); the LSR
// swaps nothing: it is the penultimate hop of every LSP, so it pops the
// label (PHP) and hands the frame to the PE with the PE's core MAC as
// destination and its own MAC as source, as a real P router would. A PE's
// core next hop is therefore always the LSR's MAC, which is what
// evpn.Core's single NextHopMAC expects.
//
// Frames that are not MPLS, or whose top label is unknown, are dropped and
// counted: the core never floods.
type LSR struct {
	mac net.HardwareAddr
	log *slog.Logger

	// mu guards routes and ports.
	mu     sync.Mutex
	routes map[uint32]lsrRoute
	ports  map[uint32]softswitch.Port

	forwarded, unknownLabel, notMPLS, portDown atomic.Uint64
	wg                                         sync.WaitGroup
}

type lsrRoute struct {
	port   uint32
	dstMAC net.HardwareAddr
}

// LSRStats counts what the LSR did.
type LSRStats struct {
	Forwarded    uint64
	UnknownLabel uint64
	NotMPLS      uint64
	// PortDown counts frames whose out port was detached or closed.
	PortDown uint64
}

// NewLSR returns an LSR with MAC mac and no ports.
func NewLSR(mac net.HardwareAddr, log *slog.Logger) *LSR {
	if log == nil {
		log = slog.Default()
	}
	return &LSR{mac: mac, log: log.With("component", "lsr"), routes: map[uint32]lsrRoute{}, ports: map[uint32]softswitch.Port{}}
}

// AddPort attaches p as port num and routes label to it, rewriting the
// destination MAC to dst (the PE's core MAC). The LSR reads p until it is
// closed; Close waits for that.
func (l *LSR) AddPort(num uint32, p softswitch.Port, label uint32, dst net.HardwareAddr) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.ports[num]; dup {
		return fmt.Errorf("lsr: port %d attached twice", num)
	}
	if r, dup := l.routes[label]; dup {
		return fmt.Errorf("lsr: label %d already routes to port %d", label, r.port)
	}
	l.ports[num] = p
	l.routes[label] = lsrRoute{port: num, dstMAC: dst}
	l.wg.Add(1)
	go l.read(num, p)
	return nil
}

// DetachPort closes port num (a cable pulled): frames toward it are
// dropped from then on.
func (l *LSR) DetachPort(num uint32) error {
	l.mu.Lock()
	p, ok := l.ports[num]
	delete(l.ports, num)
	l.mu.Unlock()
	if !ok {
		return fmt.Errorf("lsr: no port %d", num)
	}
	return p.Close()
}

// Stats returns the LSR's counters.
func (l *LSR) Stats() LSRStats {
	return LSRStats{Forwarded: l.forwarded.Load(), UnknownLabel: l.unknownLabel.Load(), NotMPLS: l.notMPLS.Load(), PortDown: l.portDown.Load()}
}

// Close closes every port and waits for the readers.
func (l *LSR) Close() error {
	l.mu.Lock()
	var errs []error
	for n, p := range l.ports {
		errs = append(errs, p.Close())
		delete(l.ports, n)
	}
	l.mu.Unlock()
	l.wg.Wait()
	return errors.Join(errs...)
}

func (l *LSR) read(num uint32, p softswitch.Port) {
	defer l.wg.Done()
	buf := make([]byte, 9216)
	for {
		n, err := p.Read(buf)
		if err != nil {
			return
		}
		l.forward(buf[:n])
	}
}

const (
	etherTypeMPLS = 0x8847
	etherTypeVLAN = 0x8100
)

// forward label-switches one frame: Ethernet [802.1Q] MPLS(transport) ...
func (l *LSR) forward(frame []byte) {
	off := 12
	if len(frame) >= off+2 && binary.BigEndian.Uint16(frame[off:]) == etherTypeVLAN {
		off += 4 // a core link tag is not ours to keep
	}
	if len(frame) < off+2+4 || binary.BigEndian.Uint16(frame[off:]) != etherTypeMPLS {
		l.notMPLS.Add(1)
		return
	}
	lse := binary.BigEndian.Uint32(frame[off+2:])
	label := lse >> 12
	l.mu.Lock()
	r, ok := l.routes[label]
	out := l.ports[r.port]
	l.mu.Unlock()
	if !ok {
		l.unknownLabel.Add(1)
		return
	}
	if out == nil {
		l.portDown.Add(1)
		return
	}
	bottom := lse&0x100 != 0
	// PHP: drop the transport label; the PE sees its service label on top.
	// A transport label at the bottom of the stack would leave no MPLS:
	// not a frame an EVPN PE sends.
	if bottom {
		l.unknownLabel.Add(1)
		return
	}
	pkt := make([]byte, 0, len(frame)-4)
	pkt = append(pkt, r.dstMAC...)
	pkt = append(pkt, l.mac...)
	pkt = binary.BigEndian.AppendUint16(pkt, etherTypeMPLS)
	pkt = append(pkt, frame[off+6:]...)
	if err := out.Write(pkt); err != nil {
		l.portDown.Add(1)
		return
	}
	l.forwarded.Add(1)
}
