package softswitch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// ErrPortClosed is returned by reads and writes on a closed port.
var ErrPortClosed = errors.New("port closed")

// MemPort is one end of an in-memory link (NewLink): what is written to one
// end is read from the other. Like a wire into a NIC, a full receive queue
// drops frames (counted by Drops) rather than blocking the writer.
type MemPort struct {
	in     chan []byte
	free   chan []byte
	peer   *MemPort
	closed chan struct{}
	once   sync.Once
	drops  atomic.Uint64
}

// NewLink returns the two ends of an in-memory link whose receive queues
// hold depth frames each (default 1024 when depth ≤ 0).
func NewLink(depth int) (*MemPort, *MemPort) {
	if depth <= 0 {
		depth = 1024
	}
	mk := func() *MemPort {
		return &MemPort{in: make(chan []byte, depth), free: make(chan []byte, depth), closed: make(chan struct{})}
	}
	a, b := mk(), mk()
	a.peer, b.peer = b, a
	return a, b
}

// Write sends a copy of frame to the other end.
func (m *MemPort) Write(frame []byte) error {
	select {
	case <-m.closed:
		return ErrPortClosed
	default:
	}
	var buf []byte
	select {
	case buf = <-m.peer.free:
	default:
		buf = make([]byte, 0, 2048)
	}
	buf = append(buf[:0], frame...)
	select {
	case m.peer.in <- buf:
	default:
		m.peer.drops.Add(1)
	}
	return nil
}

// Read blocks until a frame arrives and copies it into buf.
func (m *MemPort) Read(buf []byte) (int, error) {
	select {
	case b := <-m.in:
		n := copy(buf, b)
		m.recycle(b)
		return n, nil
	case <-m.closed:
		return 0, ErrPortClosed
	}
}

func (m *MemPort) recycle(b []byte) {
	select {
	case m.free <- b:
	default:
	}
}

// Recv waits for the next frame and returns a copy; for tests and hosts.
func (m *MemPort) Recv(ctx context.Context) ([]byte, error) {
	select {
	case b := <-m.in:
		out := append([]byte(nil), b...)
		m.recycle(b)
		return out, nil
	case <-m.closed:
		return nil, ErrPortClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TryRecv returns the next frame if one is queued.
func (m *MemPort) TryRecv() ([]byte, bool) {
	select {
	case b := <-m.in:
		out := append([]byte(nil), b...)
		m.recycle(b)
		return out, true
	default:
		return nil, false
	}
}

// TryRead copies the next queued frame into buf, without blocking and
// without allocating; false when none is queued.
func (m *MemPort) TryRead(buf []byte) (int, bool) {
	select {
	case b := <-m.in:
		n := copy(buf, b)
		m.recycle(b)
		return n, true
	default:
		return 0, false
	}
}

// Drops counts frames lost because this end's receive queue was full.
func (m *MemPort) Drops() uint64 { return m.drops.Load() }

// Close closes this end; its reads and writes fail from then on.
func (m *MemPort) Close() error {
	m.once.Do(func() { close(m.closed) })
	return nil
}

// pcapWriter records a port's frames in a pcap file Wireshark opens.
type pcapWriter struct {
	mu sync.Mutex // mu guards w and f
	f  *os.File
	w  *pcapgo.Writer
}

func newPcapWriter(dir string, port uint32) (*pcapWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pcap directory %q: %w", dir, err)
	}
	name := filepath.Join(dir, fmt.Sprintf("port%d.pcap", port))
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("pcap file %q: %w", name, err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return nil, fmt.Errorf("pcap file %q: %w", name, err)
	}
	return &pcapWriter{f: f, w: w}, nil
}

func (pw *pcapWriter) write(frame []byte) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.w == nil {
		return
	}
	ci := gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(frame), Length: len(frame)}
	_ = pw.w.WritePacket(ci, frame) // a capture must not stop forwarding
}

// Close flushes and closes the file.
func (pw *pcapWriter) Close() error {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.w = nil
	return pw.f.Close()
}
