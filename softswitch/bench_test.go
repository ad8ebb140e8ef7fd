package softswitch

import (
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time: on a shared machine,
// per-core throughput is N over CPU time, not over wall time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRates adds packets per second of wall time, and CPU nanoseconds per
// packet with the per-core rate they imply.
func reportRates(b *testing.B, cpu0 time.Duration) {
	cpu := cpuTime(b) - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/pkt")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "pkts/cpu-s")
}

// sinkPort is a port that counts what is written to it and never delivers
// a frame: it measures the engine alone, per core.
type sinkPort struct {
	frames atomic.Uint64
	closed chan struct{}
}

func newSinkPort() *sinkPort { return &sinkPort{closed: make(chan struct{})} }

func (p *sinkPort) Read([]byte) (int, error) { <-p.closed; return 0, ErrPortClosed }
func (p *sinkPort) Write([]byte) error       { p.frames.Add(1); return nil }
func (p *sinkPort) Close() error             { close(p.closed); return nil }

func benchSwitch(b *testing.B, sinks bool) (*Switch, map[uint32]*MemPort, []*sinkPort) {
	var all []*sinkPort
	s, far := evpnLoadWith(b, func() (Port, *MemPort) {
		if sinks {
			p := newSinkPort()
			all = append(all, p)
			return p, nil
		}
		a, c := NewLink(1 << 14)
		return a, c
	})
	return s, far, all
}

// BenchmarkEVPNKnownUnicastAccessToCore: a tagged frame from an access AC to
// a MAC behind a remote PE (label stack: transport, service, control word):
// AC mapping, source-MAC hit, FIB hit, tunnel, MPLS encapsulation.
func BenchmarkEVPNKnownUnicastAccessToCore(b *testing.B) {
	for _, mode := range []struct {
		name  string
		sinks bool
	}{{"engine", true}, {"memlink", false}} {
		b.Run(mode.name, func(b *testing.B) {
			s, far, sinks := benchSwitch(b, mode.sinks)
			macRemote2 := []byte{0x02, 0, 0, 0, 2, 0x02}
			if err := s.InsertEntry("ingress.fdb", TableEntry{Match: exact(be(bd, 2), macRemote2), Action: call("ingress.to_remote_pe", be(pe2, 2), be(lblPE2, 3))}); err != nil {
				b.Fatal(err)
			}
			in := frame(b, tagged(100, macRemote2, macHostA)...)
			s.Process(pAccess1, in)
			if !mode.sinks {
				if _, ok := far[pCore2].TryRecv(); !ok {
					b.Fatal("no frame to the remote PE")
				}
			}
			rbuf := make([]byte, 2048)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for i := 0; i < b.N; i++ {
				s.Process(pAccess1, in)
				if !mode.sinks && i%1024 == 1023 {
					for {
						if _, ok := far[pCore2].TryRead(rbuf); !ok {
							break
						}
					}
				}
			}
			b.StopTimer()
			if mode.sinks {
				var n uint64
				for _, p := range sinks {
					n += p.frames.Load()
				}
				if n < uint64(b.N) {
					b.Fatalf("%d frames out for %d in", n, b.N)
				}
			}
			reportRates(b, cpu0)
		})
	}
}

// BenchmarkEVPNBUM8Replicas: a broadcast from an access AC flooded to 8
// replicas (2 local ACs, 6 remote PEs by ingress replication), each through
// egress with its own labels.
func BenchmarkEVPNBUM8Replicas(b *testing.B) {
	s, _, sinks := benchSwitch(b, true)
	reps := []Replica{{Port: pAccess2, Rid: 2}, {Port: pAccess2, Rid: 5}, {Port: pCore1, Rid: 3}, {Port: pCore2, Rid: 4}}
	for pe := uint64(3); pe <= 6; pe++ {
		rid := uint16(pe + 3)
		if err := s.InsertEntry("egress.tunnel", TableEntry{Match: exact(be(pe, 2)), Action: call("egress.set_tunnel", macPE, macNH2, be(lblTransportPE2, 3), be(0, 1))}); err != nil {
			b.Fatal(err)
		}
		if err := s.InsertEntry("egress.flood_replica", TableEntry{Match: exact(be(uint64(rid), 2)), Action: call("egress.replica_to_pe", be(pe, 2), be(3000+pe, 3))}); err != nil {
			b.Fatal(err)
		}
		reps = append(reps, Replica{Port: pCore2, Rid: rid})
	}
	if err := s.ModifyMulticastGroup(MulticastGroup{ID: bd, Replicas: reps}); err != nil {
		b.Fatal(err)
	}
	in := frame(b, tagged(100, macBcast, macHostA)...)
	count := func() uint64 {
		var n uint64
		for _, p := range sinks {
			n += p.frames.Load()
		}
		return n
	}
	s.Process(pAccess1, in)
	if n := count(); n != 8 {
		b.Fatalf("one broadcast made %d copies, want 8", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for i := 0; i < b.N; i++ {
		s.Process(pAccess1, in)
	}
	b.StopTimer()
	reportRates(b, cpu0)
	b.ReportMetric(float64(8*b.N)/b.Elapsed().Seconds(), "copies/s")
}
