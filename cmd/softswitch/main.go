// Command softswitch runs the embedded software switch as a P4Runtime target,
// in the manner of BMv2's simple_switch_grpc:
//
//	softswitch --no-p4 --device-id 1 -i 1@veth0 -i 2@veth2 --cpu-port 255
//	softswitch -i 1@veth0 --p4info build/evpn.p4info.txtpb build/evpn.json
//
// A controller pushes the pipeline with SetForwardingPipelineConfig (the
// device config is the BMv2 JSON). Given a JSON and its P4Info, the switch
// starts with that pipeline committed; given a JSON alone, the program runs
// but a controller must still push the pipeline before writing. SIGINT and
// SIGTERM shut it down cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	p4cfg "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/p4evpn/p4evpn/softswitch"
	"github.com/p4evpn/p4evpn/softswitch/p4rtserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "softswitch:", err)
		os.Exit(1)
	}
}

// portFlag collects -i PORT@IFACE.
type portFlag []portSpec

type portSpec struct {
	num   uint32
	iface string
}

func (p *portFlag) String() string {
	var parts []string
	for _, s := range *p {
		parts = append(parts, fmt.Sprintf("%d@%s", s.num, s.iface))
	}
	return strings.Join(parts, ",")
}

func (p *portFlag) Set(v string) error {
	num, iface, ok := strings.Cut(v, "@")
	if !ok || iface == "" {
		return fmt.Errorf("%q is not PORT@IFACE", v)
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return fmt.Errorf("%q: port number %q: %w", v, num, err)
	}
	*p = append(*p, portSpec{uint32(n), iface})
	return nil
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("softswitch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		ports    portFlag
		grpcAddr = fs.String("grpc-addr", "127.0.0.1:9559", "P4Runtime listen address (host:port; port 0 picks one)")
		deviceID = fs.Uint64("device-id", 1, "P4Runtime device id")
		cpuPort  = fs.Uint("cpu-port", 255, "CPU port number (packet-in/packet-out); 0 disables")
		pcapDir  = fs.String("pcap", "", "write port<N>.pcap files for every port into this directory")
		logLevel = fs.String("log-level", "info", "debug, info, warn, error or off")
		p4info   = fs.String("p4info", "", "P4Info (text or binary) of the JSON given as argument: start with that pipeline committed")
		noP4     = fs.Bool("no-p4", false, "start without a program (a controller pushes it)")
	)
	fs.Var(&ports, "i", "attach Linux interface IFACE as port PORT (PORT@IFACE, repeatable; needs root)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := logger(*logLevel, stderr)
	if err != nil {
		return err
	}
	var jsonPath string
	switch {
	case *noP4 && fs.NArg() > 0:
		return errors.New("--no-p4 and a JSON program are exclusive")
	case !*noP4 && fs.NArg() != 1:
		return errors.New("give the BMv2 JSON program as the only argument, or --no-p4")
	case fs.NArg() == 1:
		jsonPath = fs.Arg(0)
	}
	if *p4info != "" && jsonPath == "" {
		return errors.New("--p4info needs the JSON program it describes")
	}

	sw := softswitch.New(softswitch.Config{CPUPort: uint32(*cpuPort), Logger: log})
	defer sw.Close()
	for _, p := range ports {
		port, err := softswitch.OpenInterface(p.iface)
		if err != nil {
			return fmt.Errorf("port %d@%s: %w", p.num, p.iface, err)
		}
		if err := sw.AddPort(p.num, port, *pcapDir); err != nil {
			port.Close()
			return fmt.Errorf("port %d@%s: %w", p.num, p.iface, err)
		}
		log.Info("softswitch: port attached", "port", p.num, "iface", p.iface)
	}

	srv := p4rtserver.New(p4rtserver.NewEngineDevice(sw), p4rtserver.WithDeviceID(*deviceID), p4rtserver.WithLogger(log))
	defer srv.Close()
	if jsonPath != "" {
		if err := loadProgram(srv, sw, jsonPath, *p4info); err != nil {
			return err
		}
		log.Info("softswitch: program loaded", "json", jsonPath, "p4info", *p4info)
	}

	lis, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		return fmt.Errorf("--grpc-addr %s: %w", *grpcAddr, err)
	}
	err = srv.Serve(ctx, lis)
	log.Info("softswitch: shutting down")
	return err
}

// loadProgram starts the switch with a program: committed as a P4Runtime
// pipeline when its P4Info is given, else only run by the engine.
func loadProgram(srv *p4rtserver.Server, sw *softswitch.Switch, jsonPath, infoPath string) error {
	js, err := os.ReadFile(jsonPath)
	if err != nil {
		return err
	}
	if infoPath == "" {
		if err := sw.Load(js); err != nil {
			return fmt.Errorf("%s: %w", jsonPath, err)
		}
		return nil
	}
	raw, err := os.ReadFile(infoPath)
	if err != nil {
		return err
	}
	info := &p4cfg.P4Info{}
	if err := prototext.Unmarshal(raw, info); err != nil {
		if berr := proto.Unmarshal(raw, info); berr != nil {
			return fmt.Errorf("%s: neither text (%v) nor binary (%v) P4Info", infoPath, err, berr)
		}
	}
	if err := srv.SetPipeline(&p4v1.ForwardingPipelineConfig{P4Info: info, P4DeviceConfig: js}); err != nil {
		return fmt.Errorf("%s with %s: %w", jsonPath, infoPath, err)
	}
	return nil
}

func logger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	switch level {
	case "off":
		return slog.New(slog.NewTextHandler(io.Discard, nil)), nil
	case "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn, error or off", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
