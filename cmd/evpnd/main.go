//go:debug multipathtcp=0

// Command evpnd is the p4evpn provider-edge daemon (or, with mode:
// route-reflector, a control-plane-only EVPN route reflector).
//
//	evpnd --config /etc/evpnd/pe1.yaml [--log-format text|json] [--on-sigterm restart|shutdown]
//
// The YAML file is documented in config/testdata/pe1.yaml. Without
// target.address the P4 program runs on the embedded softswitch, in this
// process, behind a P4Runtime server on loopback; with it, evpnd programs
// that target (a softswitch process, BMv2, a hardware switch).
//
// SIGTERM or SIGINT stops evpnd cleanly with exit status 0, in one of two
// ways (--on-sigterm):
//
//   - restart (the default): a controller restart. The BGP sessions end
//     with Cease/Administrative Reset, so graceful-restart neighbors
//     (RFC 8538 N bit) keep this PE's routes for the restart time; the
//     target keeps forwarding, and a restarted evpnd adopts its state and
//     writes only the difference once BGP has settled (so a restart that
//     does not disturb the data plane needs the target in a process of
//     its own).
//   - shutdown: the PE leaves service. The sessions end with a Hard Reset
//     (Cease/Peer De-configured), so every neighbor withdraws this PE's
//     routes at once and remote PEs stop sending it traffic.
//
// Whatever the flag, POST /api/shutdown on the operator API (the metrics
// address, from loopback only) takes the PE out of service the second
// way, answers once the sessions have ended, and makes evpnd exit with
// status 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	p4evpn "github.com/p4evpn/p4evpn"
	"github.com/p4evpn/p4evpn/config"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "evpnd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("evpnd", flag.ContinueOnError)
	path := fs.String("config", "", "the YAML configuration `file` (required)")
	format := fs.String("log-format", "text", "log format: text or json")
	onSigterm := fs.String("on-sigterm", "restart", "what SIGTERM and SIGINT do: restart (neighbors keep this PE's routes for the graceful-restart time) or shutdown (leave service: neighbors withdraw them at once)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("--config FILE is required")
	}
	if *onSigterm != "restart" && *onSigterm != "shutdown" {
		return fmt.Errorf("--on-sigterm %q: want restart or shutdown", *onSigterm)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	hopts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	var h slog.Handler
	switch *format {
	case "text":
		h = slog.NewTextHandler(os.Stderr, hopts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, hopts)
	default:
		return fmt.Errorf("--log-format %q: want text or json", *format)
	}
	log := slog.New(h)
	slog.SetDefault(log)

	d, err := p4evpn.New(cfg, p4evpn.WithLogger(log))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = d.Start(startCtx)
	cancel()
	if err != nil {
		return err
	}
	leave := *onSigterm == "shutdown"
	select {
	case <-ctx.Done():
		log.Info("signal received, stopping", "on_sigterm", *onSigterm)
	case <-d.ExitRequested():
		log.Info("left service on operator request, stopping")
		leave = true
	}
	if !leave {
		return d.Close()
	}
	// A second signal cuts the wait for the sessions short.
	sctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	sctx, cancelWait := context.WithTimeout(sctx, shutdownWait)
	defer cancelWait()
	return d.Shutdown(sctx)
}

// shutdownWait bounds how long leaving service waits for the BGP sessions
// to end before evpnd closes anyway.
const shutdownWait = 30 * time.Second
