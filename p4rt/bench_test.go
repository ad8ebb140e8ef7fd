package p4rt

import (
	"context"
	"fmt"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
)

// BenchmarkClientWriteFakeTarget measures the client's own ceiling: the
// same 100k-entry writes as BenchmarkTargetWriteRead, against fakeTarget,
// whose Write only stores entries in a map. What the client and gRPC cost
// per entry is what this leaves; the real targets' figures are in
// BenchmarkTargetWriteRead.
func BenchmarkClientWriteFakeTarget(b *testing.B) {
	const entries = 100_000
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ft := startFakeTarget(b, "")
			c := connectTest(b, ft.addr, WithElectionID(ElectionID{Low: 1}))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			p := unitPipeline(b, "bench")
			if _, err := c.SetPipeline(ctx, p); err != nil {
				b.Fatal(err)
			}
			inserts := make([]*p4v1.Update, entries)
			deletes := make([]*p4v1.Update, entries)
			for i := range entries {
				e := fibEntry(b, p.Index, uint64(i%4096), uint64(i))
				inserts[i], deletes[i] = Insert(e), Delete(e)
			}
			var writeTime time.Duration
			for b.Loop() {
				start := time.Now()
				if err := c.Write(ctx, inserts, BatchSize(batch)); err != nil {
					b.Fatal(err)
				}
				writeTime += time.Since(start)
				b.StopTimer()
				if err := c.Write(ctx, deletes, BatchSize(1000)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(entries*b.N)/writeTime.Seconds(), "writes/s")
		})
	}
}
