package testbed

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Report is what RunDemo found.
type Report struct {
	Results []*Result
	// Skipped names scenarios that could not run here, with why.
	Skipped []string
}

// Failures counts the failed checks.
func (r *Report) Failures() int {
	n := 0
	for _, res := range r.Results {
		n += len(res.Failed())
	}
	return n
}

// Describe lists the running fabric: reflectors, PEs with their addresses,
// transport labels and hosts.
func (f *Fabric) Describe() string {
	var b strings.Builder
	for _, rr := range f.topo.RouteReflectors {
		fmt.Fprintf(&b, "  route reflector %-4s %-14s %s\n", rr.Name, rr.Address, rr.Kind)
	}
	for _, pe := range f.pes {
		fmt.Fprintf(&b, "  PE %-5s router-id %-14s core MAC %s, transport label %d at the LSR\n",
			pe.Name, pe.RouterID(), pe.config.Core.SourceMAC, f.topo.TransportLabel(pe.Index))
	}
	for _, hs := range f.topo.Hosts {
		var links []string
		for _, l := range hs.Links {
			links = append(links, fmt.Sprintf("%s:%d", l.PE, l.Port))
		}
		where := ""
		if h := f.nsHosts[hs.Name]; h != nil {
			where = fmt.Sprintf(" (namespace %s, %s)", h.Namespace, h.Interface)
		}
		fmt.Fprintf(&b, "  host %-3s %s %-15s VLAN %-4d on %s%s\n", hs.Name, hs.MAC, hs.IP, hs.VLAN, strings.Join(links, " + "), where)
	}
	return b.String()
}

// demoScenarios runs the scenarios on the example fabric, in an order that
// keeps each one's preconditions: the destructive ones (a MAC frozen by
// duplicate detection, a failed PE) come last.
func demoScenarios(ctx context.Context, f *Fabric, emit func(*Result, error) error) error {
	steps := []func() (*Result, error){
		func() (*Result, error) { return f.KnownUnicast(ctx, "A", "C") },
		func() (*Result, error) { return f.BUM(ctx, "A", "C", "D", "E") },
		func() (*Result, error) { return f.Multihoming(ctx, "B", "C") },
		func() (*Result, error) { return f.ControllerRestart(ctx, "pe2", "D", "C", 200*time.Millisecond) },
		func() (*Result, error) { return f.Mobility(ctx, "A", "pe3", 2, "D") },
		func() (*Result, error) { return f.PEFailure(ctx, "pe1", "B", "C") },
	}
	for _, s := range steps {
		if err := emit(s()); err != nil {
			return err
		}
	}
	return nil
}

// RunDemo starts topo (the example fabric), runs every scenario and writes
// a readable report to out as it goes. With FRR available it then runs the
// basic scenarios again with FRR's bgpd as the route reflector.
func RunDemo(ctx context.Context, topo *Topology, log *slog.Logger, out io.Writer) (*Report, error) {
	rep := &Report{}
	emit := func(r *Result, err error) error {
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, r)
		fmt.Fprintln(out, r)
		return nil
	}
	start := time.Now()
	fmt.Fprintf(out, "p4evpn testbed demo: fabric %q, in-process (softswitch engines running p4/evpn.p4, in-memory links, Go hosts)\n", topo.Name)
	f, err := StartFabric(ctx, topo, log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := f.WaitConverged(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "%sconverged in %s (BGP sessions, flood lists, DF elections)\n\n", f.Describe(), ms(time.Since(start)))
	if err := demoScenarios(ctx, f, emit); err != nil {
		return rep, err
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(out, "closing the fabric: %v\n", err)
	}
	if topo.RouteReflectors[0].Kind != KindFRR {
		if why := FRRAvailable(); why != nil {
			rep.Skipped = append(rep.Skipped, "7. FRR route reflector: "+why.Error())
		} else if err := runFRR(ctx, topo, log, emit); err != nil {
			return rep, err
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(out, "== skipped: %s\n", s)
	}
	checks := 0
	for _, r := range rep.Results {
		checks += len(r.Checks)
	}
	fmt.Fprintf(out, "\n%d scenarios, %d checks, %d failed, in %s\n", len(rep.Results), checks, rep.Failures(), time.Since(start).Round(100*time.Millisecond))
	return rep, nil
}

// runFRR is scenario 7: the same fabric with FRR's bgpd reflecting.
func runFRR(ctx context.Context, topo *Topology, log *slog.Logger, emit func(*Result, error) error) error {
	frrTopo := *topo
	frrTopo.RouteReflectors = append([]RouteReflector(nil), topo.RouteReflectors...)
	for i := range frrTopo.RouteReflectors {
		frrTopo.RouteReflectors[i].Kind = KindFRR
	}
	start := time.Now()
	f, err := StartFabric(ctx, &frrTopo, log)
	if err != nil {
		return err
	}
	defer f.Close()
	r := &Result{Name: "7. FRR bgpd as the route reflector"}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = f.WaitConverged(cctx)
	cancel()
	r.check(err == nil, "every PE's session to FRR establishes; flood lists and DF elections complete", "%v", err)
	if err != nil {
		if frr := f.FRR(frrTopo.RouteReflectors[0].Name); frr != nil {
			log.Warn("FRR did not converge", "log", frr.Log())
		}
		return emit(r, nil)
	}
	r.figure("fabric converged through FRR in", "%s", ms(time.Since(start)))
	for _, s := range []func() (*Result, error){
		func() (*Result, error) { return f.KnownUnicast(ctx, "A", "C") },
		func() (*Result, error) { return f.BUM(ctx, "A", "C", "D", "E") },
		func() (*Result, error) { return f.Multihoming(ctx, "B", "C") },
	} {
		sub, err := s()
		if err != nil {
			return err
		}
		for _, c := range sub.Checks {
			c.What = "via FRR: " + c.What
			r.Checks = append(r.Checks, c)
		}
		for _, fg := range sub.Figures {
			fg.Name = "via FRR: " + fg.Name
			r.Figures = append(r.Figures, fg)
		}
	}
	return emit(r, nil)
}
