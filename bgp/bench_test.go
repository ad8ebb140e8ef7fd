package bgp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/p4evpn/p4evpn/evpn/route"
)

// The reflection benchmark runs PE1 and the route reflector in a child
// process (this test binary, dispatched by TestMain) so that the heap
// measured in this process is PE2's alone.
const benchHelperEnv = "P4EVPN_BGP_BENCH_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(benchHelperEnv) != "" {
		if err := runBenchHelper(); err != nil {
			fmt.Fprintln(os.Stderr, "bench helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var (
	benchRR  = netip.MustParseAddr("127.0.41.1")
	benchPE1 = netip.MustParseAddr("127.0.41.2")
	benchPE2 = netip.MustParseAddr("127.0.41.3")
)

// benchPath is the i-th of the benchmark's type-2 routes.
func benchPath(i int) route.Path {
	return route.Path{
		NLRI: route.MACIP{RD: route.AutoRD(benchPE1, 100),
			MAC: route.MAC{2, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}, Label1: 5000},
		Attrs: route.Attributes{RouteTargets: []route.RouteTarget{testRT}},
	}
}

// runBenchHelper starts the RR (listening on the port in the environment)
// and PE1, then on "go N" announces N routes and answers "done <seconds>".
func runBenchHelper() error {
	port, err := strconv.Atoi(os.Getenv(benchHelperEnv))
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	rr, err := New(Config{RouterID: benchRR, ASN: testASN, ListenAddress: benchRR, ListenPort: uint16(port),
		Neighbors: []Neighbor{rrClient(benchPE1, benchRR), rrClient(benchPE2, benchRR)}}, WithLogger(log))
	if err != nil {
		return err
	}
	defer rr.Close()
	pe1, err := New(Config{RouterID: benchPE1, ASN: testASN,
		Neighbors: []Neighbor{fastNeighbor(benchRR, benchPE1, uint16(port), testASN)}}, WithLogger(log))
	if err != nil {
		return err
	}
	defer pe1.Close()
	go func() { // nobody needs these events
		for range rr.Events() {
		}
	}()
	go func() {
		for range pe1.Events() {
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	var cpuAtGo time.Duration
	for in.Scan() {
		if in.Text() == "cpu" {
			fmt.Printf("cpu %f\n", (cpuTime() - cpuAtGo).Seconds())
			continue
		}
		var n int
		if _, err := fmt.Sscanf(in.Text(), "go %d", &n); err != nil {
			return fmt.Errorf("command %q: %w", in.Text(), err)
		}
		cpuAtGo = cpuTime()
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := pe1.Announce(context.Background(), benchPath(i)); err != nil {
				return err
			}
		}
		originated := time.Since(start)
		// Then until the RR holds them all, so a PE joining now gets them
		// in its initial table transfer.
		for {
			st, err := rr.RIB(context.Background())
			if err != nil {
				return err
			}
			if st.Paths >= uint64(n) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		fmt.Printf("done %f\n", originated.Seconds())
	}
	return in.Err()
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchChild is the helper process holding PE1 and the RR.
type benchChild struct {
	cmd   *exec.Cmd
	port  uint16
	stdin io.WriteCloser
	lines *bufio.Scanner
}

func startBenchChild(b *testing.B) *benchChild {
	b.Helper()
	c := &benchChild{port: freePort(b, benchRR)}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", benchHelperEnv, c.port))
	c.cmd.Stderr = os.Stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c.lines = bufio.NewScanner(stdout)
	if c.reply(b) != "ready" {
		b.Fatal("helper did not start")
	}
	return c
}

func (c *benchChild) reply(b *testing.B) string {
	b.Helper()
	if !c.lines.Scan() {
		b.Fatalf("helper: %v", c.lines.Err())
	}
	return c.lines.Text()
}

// cpu returns the helper's CPU seconds since its last "go".
func (c *benchChild) cpu(b *testing.B) float64 {
	fmt.Fprintln(c.stdin, "cpu")
	var v float64
	fmt.Sscanf(c.reply(b), "cpu %f", &v)
	return v
}

func (c *benchChild) stop() {
	c.stdin.Close()
	c.cmd.Wait()
}

func startBenchPE2(b *testing.B, port uint16) *Speaker {
	b.Helper()
	pe2, err := New(Config{RouterID: benchPE2, ASN: testASN,
		Neighbors: []Neighbor{fastNeighbor(benchRR, benchPE2, port, testASN)},
		Import:    ImportPolicy{RouteTargets: []route.RouteTarget{testRT}}},
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	return pe2
}

// countAdds reads PE2's events until n PathAdds.
func countAdds(b *testing.B, pe2 *Speaker, n int) {
	b.Helper()
	got := 0
	deadline := time.After(10 * time.Minute)
	for got < n {
		select {
		case ev := <-pe2.Events():
			if ev.Kind == PathAdd {
				got++
			}
		case <-deadline:
			b.Fatalf("PE2 reported %d of %d routes in 10 minutes", got, n)
		}
	}
}

// BenchmarkReflect100kMACIP originates 100,000 type-2 routes at PE1 and
// measures until PE2 has reported all of them as events through a GoBGP
// route reflector: routes/s end to end, PE1's origination rate, and PE2's
// heap per route (GoBGP's RIB plus the speaker's state). Wall-clock rates
// depend on what else the machine runs, so it also reports CPU time per
// route: PE2's, and the whole pipeline's (PE1 + RR + PE2). Run with
// -benchtime=1x; every iteration builds a fresh fabric.
func BenchmarkReflect100kMACIP(b *testing.B) {
	const routes = 100_000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		child := startBenchChild(b)
		pe2 := startBenchPE2(b, child.port)
		waitPeerUp(b, pe2, benchRR)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)

		b.StartTimer()
		pe2CPU := cpuTime()
		start := time.Now()
		fmt.Fprintf(child.stdin, "go %d\n", routes)
		countAdds(b, pe2, routes)
		elapsed := time.Since(start)
		pe2CPU = cpuTime() - pe2CPU
		b.StopTimer()

		var originate float64
		fmt.Sscanf(child.reply(b), "done %f", &originate)
		childCPU := child.cpu(b)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(routes)/elapsed.Seconds(), "routes/s")
		b.ReportMetric(float64(routes)/originate, "originated/s")
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/routes, "PE2-heap-B/route")
		b.ReportMetric(pe2CPU.Seconds()*1e6/routes, "PE2-CPU-µs/route")
		b.ReportMetric((pe2CPU.Seconds()+childCPU)*1e6/routes, "pipeline-CPU-µs/route")
		b.ReportMetric(0, "ns/op")
		pe2.Close()
		child.stop()
	}
}

// BenchmarkJoin100kMACIP: PE2 connects to a route reflector that already
// holds 100,000 type-2 routes and receives them as GoBGP's initial table
// transfer (UPDATEs packing many NLRIs). It measures PE2's ingestion alone:
// session start to the last PathAdd, which is what the ~28k paths/s GoBGP
// MRT-ingest anchor compares with.
func BenchmarkJoin100kMACIP(b *testing.B) {
	const routes = 100_000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		child := startBenchChild(b)
		fmt.Fprintf(child.stdin, "go %d\n", routes)
		child.reply(b) // done: the RR holds every route
		runtime.GC()

		b.StartTimer()
		pe2CPU := cpuTime()
		start := time.Now()
		pe2 := startBenchPE2(b, child.port)
		waitPeerUp(b, pe2, benchRR)
		up := time.Now()
		countAdds(b, pe2, routes)
		elapsed := time.Since(start)
		pe2CPU = cpuTime() - pe2CPU
		b.StopTimer()

		b.ReportMetric(float64(routes)/time.Since(up).Seconds(), "routes/s-after-up")
		b.ReportMetric(float64(routes)/elapsed.Seconds(), "routes/s-from-start")
		b.ReportMetric(pe2CPU.Seconds()*1e6/routes, "PE2-CPU-µs/route")
		b.ReportMetric(0, "ns/op")
		pe2.Close()
		child.stop()
	}
}
