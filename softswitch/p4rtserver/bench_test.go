package p4rtserver

import (
	"fmt"
	"os"
	"testing"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
)

// benchEntries is how many route entries the benchmarks write and read.
const benchEntries = 100_000

// benchTargets are the data planes benchmarked: the engine when the
// compiled test program exists, and the fake device (server cost alone).
func benchTargets() []struct {
	name  string
	start func(testing.TB) *target
} {
	ts := []struct {
		name  string
		start func(testing.TB) *target
	}{{"fake", startFake}}
	if _, err := os.Stat(compiledJSON); err == nil {
		ts = append(ts, struct {
			name  string
			start func(testing.TB) *target
		}{"engine", startEngine})
	}
	return ts
}

// routeUpdates returns n INSERTs of distinct /32 routes.
func routeUpdates(tg *target, n int) []*p4v1.Update {
	out := make([]*p4v1.Update, n)
	for i := range out {
		ip := []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		out[i] = update(p4v1.Update_INSERT, entry(tg.tRoute, 0, action(tg.aSetPort, []byte{byte(i%8 + 1)}), lpm(1, ip, 32)))
	}
	return out
}

func writeBatches(b *testing.B, tg *target, updates []*p4v1.Update, batch int) {
	for i := 0; i < len(updates); i += batch {
		end := min(i+batch, len(updates))
		if _, err := tg.client.Write(ctxT(b), &p4v1.WriteRequest{DeviceId: tg.deviceID, ElectionId: eid(1000), Updates: updates[i:end]}); err != nil {
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
				for range b.N {
					b.StopTimer()
					tg := bt.start(b)
					ready(b, tg)
					updates := routeUpdates(tg, benchEntries)
					b.StartTimer()
					writeBatches(b, tg, updates, batch)
				}
				b.ReportMetric(float64(benchEntries*b.N)/b.Elapsed().Seconds(), "entries/s")
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
			b.ResetTimer()
			for range b.N {
				got, err := tg.read(b, tableEntity(&p4v1.TableEntry{TableId: tg.tRoute}))
				if err != nil || len(got) != benchEntries {
					b.Fatalf("read %d entries, %v; want %d", len(got), err, benchEntries)
				}
			}
			b.ReportMetric(float64(benchEntries*b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
