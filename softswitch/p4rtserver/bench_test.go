package p4rtserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
)

// benchEntries is how many route entries the benchmarks write and read.
const benchEntries = 100_000

// benchTarget is a data plane serving testdata/proto.p4, whose route table
// (LPM on a 32-bit address) holds 200k entries.
type benchTarget struct {
	name  string
	start func(testing.TB) *target
}

// benchTargets: the softswitch engine, the fake device (the server's cost
// without a data plane), and BMv2's simple_switch_grpc when it is on PATH
// (and we are root), all with the same program and table.
func benchTargets() []benchTarget {
	ts := []benchTarget{{"engine", startEngine}, {"fake", func(tb testing.TB) *target { return startFake(tb) }}}
	if _, err := exec.LookPath("simple_switch_grpc"); err == nil && os.Geteuid() == 0 {
		ts = append(ts, benchTarget{"bmv2", startBMv2})
	}
	return ts
}

// routeEntry is the i-th distinct /32 route.
func routeEntry(tg *target, i int) *p4v1.Entity {
	ip := []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
	return entry(tg.tRoute, 0, action(tg.aSetPort, []byte{byte(i%8 + 1)}), lpm(1, ip, 32))
}

// routeUpdates returns n INSERTs of distinct routes.
func routeUpdates(tg *target, n int) []*p4v1.Update {
	out := make([]*p4v1.Update, n)
	for i := range out {
		out[i] = update(p4v1.Update_INSERT, routeEntry(tg, i))
	}
	return out
}

func writeBatches(b *testing.B, tg *target, updates []*p4v1.Update, batch int) {
	ctx := context.Background()
	for i := 0; i < len(updates); i += batch {
		end := min(i+batch, len(updates))
		if _, err := tg.client.Write(ctx, &p4v1.WriteRequest{DeviceId: tg.deviceID, ElectionId: eid(1000), Updates: updates[i:end]}); err != nil {
			b.Fatalf("Write: %v", err)
		}
	}
}

// BenchmarkWrite measures Write throughput of 100k table entries at batch
// sizes 1, 100 and 1000, through gRPC on loopback. Run with -benchtime 1x.
func BenchmarkWrite(b *testing.B) {
	for _, bt := range benchTargets() {
		for _, batch := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", bt.name, batch), func(b *testing.B) {
				var cpu time.Duration
				for range b.N {
					b.StopTimer()
					tg := bt.start(b)
					ready(b, tg)
					updates := routeUpdates(tg, benchEntries)
					c0 := processCPU(b)
					b.StartTimer()
					writeBatches(b, tg, updates, batch)
					b.StopTimer()
					cpu += processCPU(b) - c0
					b.StartTimer()
				}
				b.ReportMetric(float64(benchEntries*b.N)/b.Elapsed().Seconds(), "entries/s")
				if bt.name != "bmv2" { // BMv2's CPU is another process's
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(benchEntries*b.N), "cpu-ns/entry")
				}
			})
		}
	}
}

// BenchmarkWildcardRead measures a wildcard Read of a 100k-entry table.
func BenchmarkWildcardRead(b *testing.B) {
	for _, bt := range benchTargets() {
		b.Run(bt.name, func(b *testing.B) {
			tg := bt.start(b)
			ready(b, tg)
			writeBatches(b, tg, routeUpdates(tg, benchEntries), 1000)
			c0 := processCPU(b)
			b.ResetTimer()
			for range b.N {
				got, err := tg.read(b, tableEntity(&p4v1.TableEntry{TableId: tg.tRoute}))
				if err != nil || len(got) != benchEntries {
					b.Fatalf("read %d entries, %v; want %d", len(got), err, benchEntries)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(benchEntries*b.N)/b.Elapsed().Seconds(), "entries/s")
			if bt.name != "bmv2" {
				b.ReportMetric(float64((processCPU(b)-c0).Nanoseconds())/float64(benchEntries*b.N), "cpu-ns/entry")
			}
		})
	}
}

// processCPU is the CPU time (user and system) this process has used:
// client and server both run here, so per entry it is the cost of the whole
// path, independent of how busy the rest of the machine is.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
