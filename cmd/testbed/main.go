//go:debug multipathtcp=0

// Command testbed runs EVPN fabrics of evpnd PEs, route reflectors and
// hosts from a topology file (see testbed/README.md).
//
//	testbed demo [--rr evpnd|frr] [--netns [--target softswitch|bmv2]] [-v]
//	                                     the example fabric and every scenario, with a report
//	testbed up [--netns [--target softswitch|bmv2]] [-v] FILE
//	                                     start a fabric; runs until SIGTERM/SIGINT
//	testbed down [FABRIC]                remove a netns fabric's namespaces (all when omitted)
//	testbed exec HOST -- CMD [ARGS]      run a command in a netns host (or PE)
//	testbed show FILE                    print the evpnd configs the testbed derives from FILE
//
// The demo needs nothing but Go: it runs in-process (softswitch engines on
// in-memory links, Go hosts), so it works without root on a fresh machine.
// --netns (root) makes every host a Linux network namespace and every PE
// port a veth in the PE's namespace; --target bmv2 runs BMv2's
// simple_switch_grpc (on PATH) per PE instead of the softswitch.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/p4evpn/p4evpn/testbed"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testbed:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  testbed demo [--rr evpnd|frr] [--netns [--target softswitch|bmv2]] [-v]
                                       run the example fabric and its scenarios, print a report
                                       (--netns: Linux hosts and veth ports, root)
  testbed up [--netns [--target softswitch|bmv2]] [-v] FILE
                                       start the fabric of FILE until SIGTERM/SIGINT (--netns: as for demo)
  testbed down [FABRIC]                remove a netns fabric's namespaces (every one when omitted)
  testbed exec HOST -- CMD [ARGS...]   run CMD in netns host (or PE) HOST
  testbed show FILE                    print the evpnd configs derived from FILE`

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "demo":
		return demo(args[1:], out)
	case "up":
		return up(args[1:], out)
	case "show":
		return show(args[1:], out)
	case "down":
		if len(args) > 2 {
			return errors.New("down: want at most one FABRIC name")
		}
		name := ""
		if len(args) == 2 {
			name = args[1]
		}
		names, err := testbed.Down(name)
		for _, n := range names {
			fmt.Fprintf(out, "removed fabric %s\n", n)
		}
		return err
	case "exec":
		if len(args) < 4 || args[2] != "--" {
			return errors.New("exec: want HOST -- CMD [ARGS...]")
		}
		return testbed.Exec(context.Background(), args[1], args[3:], os.Stdout, os.Stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(out, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func logger(verbose bool) *slog.Logger {
	if verbose {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func demo(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	rr := fs.String("rr", testbed.KindEvpnd, "route reflector: evpnd (in-process) or frr (FRR's bgpd; needs root)")
	verbose := fs.Bool("v", false, "log the daemons to stderr")
	netnsMode, target := netnsFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts, err := netnsOptions(*netnsMode, *target)
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("demo: unexpected arguments %q", fs.Args())
	}
	topo, err := testbed.DemoTopology(40, *rr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var rep *testbed.Report
	if opts != nil {
		if *rr == testbed.KindFRR {
			return errors.New("demo: --netns runs the evpnd route reflector; --rr frr is in-process only")
		}
		rep, err = testbed.RunNetnsDemo(ctx, topo, logger(*verbose), *opts, out)
	} else {
		rep, err = testbed.RunDemo(ctx, topo, logger(*verbose), out)
	}
	if err != nil {
		return err
	}
	if n := rep.Failures(); n > 0 {
		return fmt.Errorf("%d checks failed", n)
	}
	return nil
}

func up(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "log the daemons to stderr")
	netnsMode, target := netnsFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts, err := netnsOptions(*netnsMode, *target)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("up: want one topology FILE")
	}
	topo, err := testbed.LoadTopology(fs.Arg(0))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	start, mode := testbed.StartFabric, "in-process"
	if opts != nil {
		mode = "network namespaces, " + opts.Target + " per PE"
		start = func(ctx context.Context, topo *testbed.Topology, log *slog.Logger) (*testbed.Fabric, error) {
			return testbed.StartNetnsFabric(ctx, topo, log, *opts)
		}
	}
	f, err := start(startCtx, topo, logger(*verbose))
	if err != nil {
		cancel()
		return err
	}
	err = f.WaitConverged(startCtx)
	cancel()
	if err != nil {
		f.Close()
		return err
	}
	fmt.Fprintf(out, "fabric %s is up (%s):\n%s", topo.Name, mode, f.Describe())
	for _, d := range f.Degraded() {
		fmt.Fprintf(out, "  note: %s\n", d)
	}
	fmt.Fprintln(out, "running; SIGTERM or Ctrl-C stops it")
	<-ctx.Done()
	return f.Close()
}

// netnsFlags adds --netns and --target to fs.
func netnsFlags(fs *flag.FlagSet) (netnsMode *bool, target *string) {
	netnsMode = fs.Bool("netns", false, "Linux hosts in network namespaces, every PE port a veth (root)")
	target = fs.String("target", testbed.TargetSoftswitch, "with --netns, each PE's data plane: softswitch or bmv2 (simple_switch_grpc on PATH)")
	return netnsMode, target
}

// netnsOptions checks the flags: nil options mean in-process.
func netnsOptions(netnsMode bool, target string) (*testbed.NetnsOptions, error) {
	switch target {
	case testbed.TargetSoftswitch, testbed.TargetBMv2:
	default:
		return nil, fmt.Errorf("--target %q: want %s or %s", target, testbed.TargetSoftswitch, testbed.TargetBMv2)
	}
	if !netnsMode {
		if target != testbed.TargetSoftswitch {
			return nil, fmt.Errorf("--target %s needs --netns (in-process PEs run the softswitch)", target)
		}
		return nil, nil
	}
	return &testbed.NetnsOptions{Target: target}, nil
}

func show(args []string, out io.Writer) error {
	if len(args) != 1 {
		return errors.New("show: want one topology FILE")
	}
	topo, err := testbed.LoadTopology(args[0])
	if err != nil {
		return err
	}
	for i := range topo.PEs {
		c, err := topo.PEConfig(i)
		if err != nil {
			return err
		}
		b, err := yaml.Marshal(c)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "# %s\n%s\n", topo.PEs[i].Name, b)
	}
	for i, rr := range topo.RouteReflectors {
		if rr.Kind != testbed.KindEvpnd {
			continue
		}
		c, err := topo.RRConfig(i)
		if err != nil {
			return err
		}
		b, err := yaml.Marshal(c)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "# %s\n%s\n", rr.Name, b)
	}
	return nil
}
