package softswitch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Switch is a running software switch: a program, its ports and the packet
// replication engine. Create it with New and stop it with Close.
type Switch struct {
	cfg      Config
	log      *slog.Logger
	dropPort uint32
	ctx      context.Context
	cancel   context.CancelFunc

	// mu guards control-plane writes: table entries, action profiles,
	// counter and register writes, and the port set. Packets never take it.
	mu    sync.Mutex
	prog  atomic.Pointer[Program]
	pre   replicationEngine
	ports atomic.Pointer[map[uint32]*portState]

	// outMu guards closing the digest and packet-in channels against
	// concurrent sends: senders hold it shared.
	outMu     sync.RWMutex
	closed    bool
	digests   chan Digest
	packetIns chan PacketIn

	wg sync.WaitGroup // port reader goroutines

	stats struct {
		received, transmitted, dropped, noProgram, noPort atomic.Uint64
		digestsDropped, packetInsDropped, portErrors      atomic.Uint64
	}
}

// portState is an attached port and its reader goroutine.
type portState struct {
	num  uint32
	port Port
	pcap *pcapWriter
	done chan struct{}
}

// New creates a switch with no program and no ports.
func New(cfg Config) *Switch {
	if cfg.DropPort == 0 {
		cfg.DropPort = 511
	}
	if cfg.DigestQueue <= 0 {
		cfg.DigestQueue = 4096
	}
	if cfg.PacketInQueue <= 0 {
		cfg.PacketInQueue = 1024
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Switch{
		cfg: cfg, log: log, dropPort: cfg.DropPort, ctx: ctx, cancel: cancel,
		digests:   make(chan Digest, cfg.DigestQueue),
		packetIns: make(chan PacketIn, cfg.PacketInQueue),
	}
	s.pre.init()
	s.ports.Store(&map[uint32]*portState{})
	return s
}

// Close detaches and closes every port, waits for their readers, and closes
// the Digests and PacketIns channels.
func (s *Switch) Close() error {
	s.mu.Lock()
	ports := *s.ports.Load()
	s.ports.Store(&map[uint32]*portState{})
	s.mu.Unlock()
	var errs []error
	for _, ps := range ports {
		if err := ps.close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.cancel()
	s.wg.Wait()
	s.outMu.Lock()
	if !s.closed {
		s.closed = true
		close(s.digests)
		close(s.packetIns)
	}
	s.outMu.Unlock()
	return errors.Join(errs...)
}

func (ps *portState) close() error {
	err := ps.port.Close()
	<-ps.done
	if ps.pcap != nil {
		if cerr := ps.pcap.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("port %d: %w", ps.num, err)
	}
	return nil
}

// AddPort attaches a port: frames read from it enter the pipeline with
// ingress_port num, and frames the pipeline sends to num are written to it.
// With a non-empty pcapDir, both directions are also written to
// pcapDir/port<num>.pcap.
func (s *Switch) AddPort(num uint32, p Port, pcapDir string) error {
	if num == s.cfg.CPUPort && num != 0 {
		return fmt.Errorf("port %d is the CPU port: %w", num, ErrInvalid)
	}
	if num == s.dropPort {
		return fmt.Errorf("port %d is the drop port: %w", num, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := *s.ports.Load()
	if _, ok := cur[num]; ok {
		return fmt.Errorf("port %d: %w", num, ErrExists)
	}
	ps := &portState{num: num, port: p, done: make(chan struct{})}
	if pcapDir != "" {
		w, err := newPcapWriter(pcapDir, num)
		if err != nil {
			return err
		}
		ps.pcap = w
	}
	next := make(map[uint32]*portState, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[num] = ps
	s.ports.Store(&next)
	s.wg.Add(1)
	go s.readPort(ps)
	return nil
}

// RemovePort detaches and closes a port.
func (s *Switch) RemovePort(num uint32) error {
	s.mu.Lock()
	cur := *s.ports.Load()
	ps, ok := cur[num]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("port %d: %w", num, ErrNotFound)
	}
	next := make(map[uint32]*portState, len(cur))
	for k, v := range cur {
		if k != num {
			next[k] = v
		}
	}
	s.ports.Store(&next)
	s.mu.Unlock()
	return ps.close()
}

// readPort feeds one port's frames into the pipeline until the port closes.
func (s *Switch) readPort(ps *portState) {
	defer s.wg.Done()
	defer close(ps.done)
	buf := make([]byte, 16384)
	for {
		n, err := ps.port.Read(buf)
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Debug("softswitch: port reader stops", "port", ps.num, "err", err)
			}
			return
		}
		if ps.pcap != nil {
			ps.pcap.write(buf[:n])
		}
		s.Process(ps.num, buf[:n])
	}
}

// Stats returns the switch-wide counters.
func (s *Switch) Stats() Stats {
	return Stats{
		Received: s.stats.received.Load(), Transmitted: s.stats.transmitted.Load(),
		Dropped: s.stats.dropped.Load(), NoProgram: s.stats.noProgram.Load(),
		NoPort: s.stats.noPort.Load(), DigestsDropped: s.stats.digestsDropped.Load(),
		PacketInsDropped: s.stats.packetInsDropped.Load(), PortErrors: s.stats.portErrors.Load(),
	}
}

// withTable runs f on a table of the current program under the write lock.
func (s *Switch) withTable(name string, f func(t *table) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prog.Load()
	if p == nil {
		return fmt.Errorf("table %q: %w", name, ErrNoProgram)
	}
	t, err := p.table(name)
	if err != nil {
		return err
	}
	return f(t)
}

func (s *Switch) withProfile(name string, f func(ap *actionProfile) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prog.Load()
	if p == nil {
		return fmt.Errorf("action profile %q: %w", name, ErrNoProgram)
	}
	ap, ok := p.profileByNm[trimDot(name)]
	if !ok {
		return fmt.Errorf("action profile %q: %w", name, ErrNotFound)
	}
	return f(ap)
}

func (s *Switch) withCounter(name string, index int, f func(c *counterCell)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prog.Load()
	if p == nil {
		return fmt.Errorf("counter %q: %w", name, ErrNoProgram)
	}
	ca, ok := p.counterByNm[trimDot(name)]
	if !ok {
		return fmt.Errorf("counter %q: %w", name, ErrNotFound)
	}
	if ca.directTable != "" {
		return fmt.Errorf("counter %q is direct (read it through table %q entries): %w", name, ca.directTable, ErrInvalid)
	}
	if index < 0 || index >= len(ca.cells) {
		return fmt.Errorf("counter %q index %d outside 0..%d: %w", name, index, len(ca.cells)-1, ErrInvalid)
	}
	f(&ca.cells[index])
	return nil
}

func (s *Switch) withRegister(name string, index int, f func(r *registerArray) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prog.Load()
	if p == nil {
		return fmt.Errorf("register %q: %w", name, ErrNoProgram)
	}
	r, ok := p.registerBy[trimDot(name)]
	if !ok {
		return fmt.Errorf("register %q: %w", name, ErrNotFound)
	}
	if index < 0 || index >= len(r.cells) {
		return fmt.Errorf("register %q index %d outside 0..%d: %w", name, index, len(r.cells)-1, ErrInvalid)
	}
	return f(r)
}
