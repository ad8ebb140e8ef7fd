package testbed

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

func testLogger() *slog.Logger {
	if os.Getenv("TESTBED_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testNet picks the loopback network 127.0.NET.0/24 of a test fabric at
// random in 50-249, so that concurrent runs of this package (two
// developers, or go test ./... while another runs) rarely collide on
// ITS-ADDRESS:10179.
func testNet() byte { return byte(50 + rand.IntN(200)) }

// startDemo starts the example fabric on a loopback network of its own and
// waits for it to converge.
func startDemo(t *testing.T, rrKind string) *Fabric {
	t.Helper()
	topo, err := DemoTopology(testNet(), rrKind)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f, err := StartFabric(ctx, topo, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// report fails t for every failed check of r and logs its figures.
func report(t *testing.T, r *Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Failed() {
		t.Errorf("%s: %s", c.What, c.Detail)
	}
	t.Logf("\n%s", r)
}

// TestScenarios runs the seed's claims on the example fabric, in-process,
// in an order that keeps each scenario's preconditions: the destructive
// ones (a MAC frozen by duplicate detection, a failed PE) come last.
func TestScenarios(t *testing.T) {
	f := startDemo(t, KindEvpnd)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	steps := []struct {
		desc string
		run  func() (*Result, error)
	}{
		{"known unicast", func() (*Result, error) { return f.KnownUnicast(ctx, "A", "C") }},
		{"BUM", func() (*Result, error) { return f.BUM(ctx, "A", "C", "D", "E") }},
		{"multihoming", func() (*Result, error) { return f.Multihoming(ctx, "B", "C") }},
		{"mobility", func() (*Result, error) { return f.Mobility(ctx, "A", "pe3", 2, "D") }},
		{"PE failure", func() (*Result, error) { return f.PEFailure(ctx, "pe1", "B", "C") }},
	}
	for _, s := range steps {
		t.Run(s.desc, func(t *testing.T) {
			r, err := s.run()
			report(t, r, err)
		})
	}
}

// TestControllerRestart is scenario 6 on a fabric of its own, with an evpnd
// reflector, a GoBGP graceful-restart helper (RFC 8538) that keeps the PE's
// routes across the restart; it runs under -race since third_party/gobgp's
// patches 4-6 (osrg/gobgp#2705, route-selection package variables). FRR as
// reflector loses the per-EVI A-D labels (interop/FRR.md), so a restarted
// PE sees labels other than those it installed and rewrites them: no
// zero-write restart.
func TestControllerRestart(t *testing.T) {
	f := startDemo(t, KindEvpnd)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := f.ControllerRestart(ctx, "pe2", "D", "C", 200*time.Millisecond)
	report(t, r, err)
}

// TestFRRRouteReflector is scenario 7: the example fabric with FRR's bgpd
// as its route reflector; the basic scenarios hold through it.
func TestFRRRouteReflector(t *testing.T) {
	if err := FRRAvailable(); err != nil {
		t.Skip(err)
	}
	f := startDemo(t, KindFRR)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Run("known unicast", func(t *testing.T) { r, err := f.KnownUnicast(ctx, "A", "C"); report(t, r, err) })
	t.Run("BUM", func(t *testing.T) { r, err := f.BUM(ctx, "A", "C", "E"); report(t, r, err) })
	t.Run("multihoming", func(t *testing.T) { r, err := f.Multihoming(ctx, "B", "C"); report(t, r, err) })
	out, err := f.FRR("rr").Vtysh(ctx, "show bgp l2vpn evpn summary")
	if err != nil {
		t.Fatal(err)
	}
	for _, pe := range f.PEs() {
		if !strings.Contains(out, pe.RouterID().String()) {
			t.Errorf("FRR's summary does not list %s:\n%s", pe.RouterID(), out)
		}
	}
}
