package p4rtserver

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"

	"github.com/p4evpn/p4evpn/softswitch"
)

// benchEntries is how many route entries the benchmarks write and read.
const benchEntries = 100_000

// benchTarget is a data plane with a table of at least benchEntries.
type benchTarget struct {
	name  string
	start func(testing.TB) (*target, uint32) // the target and the table
	// entry is the i-th distinct entry of the table.
	entry func(tg *target, table uint32, i int) *p4v1.Entity
}

// benchTargets: the softswitch engine with BMv2's digest.p4 test program,
// whose source-MAC table (exact 48-bit key) is enlarged to 200k entries in
// the JSON and P4Info; and the fake device, for the server's cost alone.
func benchTargets() []benchTarget {
	return []benchTarget{
		{name: "engine", start: startEngineMACTable, entry: func(tg *target, table uint32, i int) *p4v1.Entity {
			mac := []byte{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
			return entry(table, 0, action(tg.aNoAction), exact(1, mac))
		}},
		{name: "fake", start: func(tb testing.TB) (*target, uint32) {
			tg := startFake(tb)
			return tg, tg.tRoute
		}, entry: func(tg *target, table uint32, i int) *p4v1.Entity {
			ip := []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
			return entry(table, 0, action(tg.aSetPort, []byte{byte(i%8 + 1)}), lpm(1, ip, 32))
		}},
	}
}

// startEngineMACTable serves the engine for digest.p4 with its smac table
// enlarged.
func startEngineMACTable(tb testing.TB) (*target, uint32) {
	tb.Helper()
	js := bytes.Replace(readFile(tb, "testdata/bmv2/digest.json"), []byte(`"max_size" : 4096`), []byte(`"max_size" : 200000`), 1)
	info := loadP4Info(tb, "testdata/bmv2/digest.proto.txt")
	var table uint32
	for _, t := range info.GetTables() {
		if t.GetPreamble().GetName() == "ingress.smac" {
			t.Size, table = 200000, t.GetPreamble().GetId()
		}
	}
	sw := softswitch.New(softswitch.Config{Logger: quietLogger()})
	tb.Cleanup(func() { sw.Close() })
	tg := &target{name: "engine", client: dial(tb, serve(tb, NewEngineDevice(sw))), deviceID: testDevice, info: info, config: js}
	for _, a := range info.GetActions() {
		if a.GetPreamble().GetName() == "NoAction" {
			tg.aNoAction = a.GetPreamble().GetId()
		}
	}
	return tg, table
}

// updates returns n INSERTs of distinct entries.
func (bt benchTarget) updates(tg *target, table uint32, n int) []*p4v1.Update {
	out := make([]*p4v1.Update, n)
	for i := range out {
		out[i] = update(p4v1.Update_INSERT, bt.entry(tg, table, i))
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
				var cpu time.Duration
				for range b.N {
					b.StopTimer()
					tg, table := bt.start(b)
					ready(b, tg)
					updates := bt.updates(tg, table, benchEntries)
					c0 := processCPU(b)
					b.StartTimer()
					writeBatches(b, tg, updates, batch)
					b.StopTimer()
					cpu += processCPU(b) - c0
					b.StartTimer()
				}
				b.ReportMetric(float64(benchEntries*b.N)/b.Elapsed().Seconds(), "entries/s")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(benchEntries*b.N), "cpu-ns/entry")
			})
		}
	}
}

// BenchmarkWildcardRead measures a wildcard Read of a 100k-entry table.
func BenchmarkWildcardRead(b *testing.B) {
	for _, bt := range benchTargets() {
		b.Run(bt.name, func(b *testing.B) {
			tg, table := bt.start(b)
			ready(b, tg)
			writeBatches(b, tg, bt.updates(tg, table, benchEntries), 1000)
			c0 := processCPU(b)
			b.ResetTimer()
			for range b.N {
				got, err := tg.read(b, tableEntity(&p4v1.TableEntry{TableId: table}))
				if err != nil || len(got) != benchEntries {
					b.Fatalf("read %d entries, %v; want %d", len(got), err, benchEntries)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(benchEntries*b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64((processCPU(b)-c0).Nanoseconds())/float64(benchEntries*b.N), "cpu-ns/entry")
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
