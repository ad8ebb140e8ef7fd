package p4asic_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/p4rt"
)

// BenchmarkProgramRemoteMACs programs 100k remote MACs into the softswitch
// over P4Runtime on loopback (and into BMv2, where it is installed): through asic (Write of FDB entities: checks,
// translation, view) and, in the same run against the same target, as raw
// p4rt writes of the same table entries built beforehand. The figure is
// MACs/s; the goal is asic >= 80% of raw.
func BenchmarkProgramRemoteMACs(b *testing.B) {
	b.Run("softswitch", func(b *testing.B) { benchProgramRemoteMACs(b, startRig(b, "127.0.0.1:0", false)) })
	b.Run("bmv2", func(b *testing.B) { benchProgramRemoteMACs(b, startBMv2Rig(b)) })
}

func benchProgramRemoteMACs(b *testing.B, r *rig) {
	const macs = 100_000
	if macs > p4.SizeFDB-10 {
		b.Fatalf("%d MACs do not fit ingress.fdb (%d entries)", macs, p4.SizeFDB)
	}
	sw := newSwitch(b, r.addr, 1)
	write(b, sw, sets(baseState()...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	mac := func(i int) asic.MAC { return asic.MAC{0x02, 0x10, 0, byte(i >> 16), byte(i >> 8), byte(i)} }
	sets := make([]asic.Update, macs)
	dels := make([]asic.Update, macs)
	for i := range macs {
		f := asic.FDBEntry{BD: bd, MAC: mac(i), Dest: asic.Destination{Kind: asic.ToRemotePE, PE: pe1, Label: uint32(100000 + i)}}
		sets[i], dels[i] = asic.Set(f), asic.Delete(f)
	}
	ix := sw.Client().Index()
	inserts := make([]*p4v1.Update, macs)
	deletes := make([]*p4v1.Update, macs)
	for i := range macs {
		m := mac(i)
		e, err := ix.BuildTableEntry(p4rt.TableEntry{Table: p4.TableFDB,
			Match:  []p4rt.FieldMatch{p4rt.Exact(p4.FieldBD, p4rt.Uint(bd)), p4rt.Exact(p4.FieldMAC, m[:])},
			Action: p4rt.Action(p4.ActionToRemotePE, p4rt.Arg(p4.FieldPE, p4rt.Uint(pe1)), p4rt.Arg(p4.FieldLabel, p4rt.Uint(uint64(100000+i))))})
		if err != nil {
			b.Fatal(err)
		}
		inserts[i], deletes[i] = p4rt.Insert(e), p4rt.Delete(e)
	}
	// Each iteration writes the MACs both ways, alternately, so that both
	// see the same load on a shared machine; process CPU time (client and
	// target share the process) is counted too, as it is less sensitive to
	// other processes than wall time.
	var asicWall, rawWall, asicCPU, rawCPU time.Duration
	measure := func(wall, cpu *time.Duration, f func() error) {
		b.StartTimer()
		c0, w0 := processCPU(b), time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		*wall += time.Since(w0)
		*cpu += processCPU(b) - c0
		b.StopTimer()
	}
	for b.Loop() {
		b.StopTimer()
		measure(&asicWall, &asicCPU, func() error { return sw.Write(ctx, sets) })
		if err := sw.Write(ctx, dels); err != nil {
			b.Fatal(err)
		}
		measure(&rawWall, &rawCPU, func() error { return sw.Client().Write(ctx, inserts) })
		if err := sw.Client().Write(ctx, deletes); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	n := float64(macs * b.N)
	b.ReportMetric(n/asicWall.Seconds(), "asic-MACs/s")
	b.ReportMetric(n/rawWall.Seconds(), "raw-MACs/s")
	b.ReportMetric(100*rawWall.Seconds()/asicWall.Seconds(), "asic/raw-%")
	b.ReportMetric(float64(asicCPU.Microseconds())/n, "asic-cpu-µs/MAC")
	b.ReportMetric(float64(rawCPU.Microseconds())/n, "raw-cpu-µs/MAC")
}

// processCPU is the CPU time the test process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
