// Command evpnctl shows a running evpnd's state. It reads the OpenConfig
// state evpnd serves over gNMI (gNMI Get, JSON_IETF), as any NMS would:
//
//	evpnctl [gNMI flags] show evpn mac [EVI]   NI/fdb/mac-table and NI/fdb/l2rib
//	evpnctl [gNMI flags] show evpn es          /ethernet-segments (+ DF per VLAN)
//	evpnctl [gNMI flags] show bgp summary      NI/protocols/protocol[BGP]/bgp
//
// P4 tables have no OpenConfig path, so
//
//	evpnctl [--api HOST:PORT] show p4 table NAME
//
// reads evpnd's local operator API (the JSON endpoints next to /metrics).
// Naming only --api (or $EVPNCTL_API) reads every command from that API,
// for an evpnd without gnmi.listen; its tables keep their own columns.
//
// gNMI uses TLS unless --plaintext (evpnd's gnmi.plaintext: true, for a
// testbed); --username/--password (or $EVPNCTL_USERNAME/$EVPNCTL_PASSWORD)
// are sent as the username/password metadata evpnd's gnmi.users check.
// --json prints the rows as JSON instead of a table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

const usage = `usage: evpnctl [flags] show evpn mac [EVI]     MAC tables (gNMI)
       evpnctl [flags] show evpn es            Ethernet segments and their DFs (gNMI)
       evpnctl [flags] show bgp summary        BGP sessions (gNMI)
       evpnctl [flags] show p4 table NAME      a P4 table as the switch holds it
                                               (local API only: no OpenConfig path)
The gNMI commands read --gnmi; naming only --api reads every command from
evpnd's local API instead.`

// Defaults: 9339 is gNMI's IANA port, 9464 evpnd's metrics port.
const (
	defaultGNMI = "127.0.0.1:9339"
	defaultAPI  = "127.0.0.1:9464"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "evpnctl:", err)
		os.Exit(1)
	}
}

// options are the parsed flags.
type options struct {
	gnmi    gnmiOptions
	api     string
	json    bool
	timeout time.Duration
	useGNMI bool // read the gNMI commands over gNMI (else the local API)
}

// helpRequested is the help text -h asked for: printed, not an error.
type helpRequested string

func (h helpRequested) Error() string { return string(h) }

// parseFlags parses args; getenv supplies the $EVPNCTL_* defaults.
func parseFlags(args []string, getenv func(string) string) (options, []string, error) {
	var o options
	fs := flag.NewFlagSet("evpnctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	envOr := func(def string, names ...string) string {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return v
			}
		}
		return def
	}
	fs.StringVar(&o.gnmi.addr, "gnmi", envOr(defaultGNMI, "EVPNCTL_GNMI"), "evpnd's gNMI `HOST:PORT` (gnmi.listen; $EVPNCTL_GNMI)")
	fs.BoolVar(&o.gnmi.plaintext, "plaintext", false, "gNMI without TLS (evpnd's gnmi.plaintext: true)")
	fs.StringVar(&o.gnmi.ca, "ca", "", "PEM `FILE` of the CAs that sign evpnd's gNMI certificate (default: the system's)")
	fs.StringVar(&o.gnmi.cert, "cert", "", "client certificate PEM `FILE`, when evpnd sets gnmi.client-ca")
	fs.StringVar(&o.gnmi.key, "key", "", "client key PEM `FILE` for --cert")
	fs.StringVar(&o.gnmi.serverName, "server-name", "", "`NAME` to verify evpnd's certificate against (default: the --gnmi host)")
	fs.BoolVar(&o.gnmi.insecure, "insecure", false, "TLS without verifying evpnd's certificate")
	fs.StringVar(&o.gnmi.username, "username", getenv("EVPNCTL_USERNAME"), "gNMI `USER` (one of evpnd's gnmi.users; $EVPNCTL_USERNAME)")
	fs.StringVar(&o.gnmi.password, "password", "", "gNMI `PASSWORD` (prefer $EVPNCTL_PASSWORD: arguments show in ps)")
	fs.StringVar(&o.api, "api", envOr(defaultAPI, "EVPNCTL_API", "EVPNCTL_ADDR"), "evpnd's local API `HOST:PORT` (its metrics address; $EVPNCTL_API)")
	fs.StringVar(&o.api, "addr", envOr(defaultAPI, "EVPNCTL_API", "EVPNCTL_ADDR"), "old name of --api")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up on evpnd after `DURATION`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, nil, helpRequested(fmt.Sprintf("%s\n\nflags:\n%s", usage, flagHelp(fs)))
		}
		return o, nil, fmt.Errorf("%w\n%s", err, usage)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// $EVPNCTL_PASSWORD goes with a user only: it may sit in an
	// operator's environment while they read an evpnd without users.
	if !set["password"] && o.gnmi.username != "" {
		o.gnmi.password = getenv("EVPNCTL_PASSWORD")
	}
	gnmiNamed := set["gnmi"] || getenv("EVPNCTL_GNMI") != ""
	apiNamed := set["api"] || set["addr"] || getenv("EVPNCTL_API") != "" || getenv("EVPNCTL_ADDR") != ""
	o.useGNMI = gnmiNamed || !apiNamed
	var gnmiOnly []string
	for _, name := range []string{"plaintext", "ca", "cert", "key", "server-name", "insecure", "username", "password"} {
		if set[name] {
			gnmiOnly = append(gnmiOnly, "--"+name)
		}
	}
	if !o.useGNMI && len(gnmiOnly) > 0 {
		return o, nil, fmt.Errorf("%s configure gNMI, but only --api is named, so every command reads the local API: add --gnmi HOST:PORT or drop them",
			strings.Join(gnmiOnly, ", "))
	}
	if o.timeout <= 0 {
		return o, nil, fmt.Errorf("--timeout %s: want a positive duration", o.timeout)
	}
	if o.useGNMI {
		if err := o.gnmi.check(); err != nil {
			return o, nil, err
		}
	}
	return o, fs.Args(), nil
}

func flagHelp(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

// command is a parsed "show ..." command.
type command struct {
	kind  string // "mac", "es", "bgp", "p4"
	evi   uint32 // show evpn mac EVI; 0 for every EVI
	table string // show p4 table NAME
}

// maxEVI is the largest EVI the OpenConfig model takes (evi-id, 24 bits).
const maxEVI = 1<<24 - 1

func parseCommand(a []string) (command, error) {
	switch {
	case match(a, "show", "evpn", "mac") && len(a) <= 4:
		c := command{kind: "mac"}
		if len(a) == 4 {
			n, err := strconv.ParseUint(a[3], 10, 32)
			if err != nil || n == 0 || n > maxEVI {
				return c, fmt.Errorf("EVI %q: want a number from 1 to %d", a[3], maxEVI)
			}
			c.evi = uint32(n)
		}
		return c, nil
	case match(a, "show", "evpn", "es") && len(a) == 3:
		return command{kind: "es"}, nil
	case match(a, "show", "bgp", "summary") && len(a) == 3:
		return command{kind: "bgp"}, nil
	case match(a, "show", "p4", "table") && len(a) == 4:
		if a[3] == "" {
			return command{}, errors.New(`table "": want a P4 table name, e.g. ingress.fdb`)
		}
		return command{kind: "p4", table: a[3]}, nil
	case len(a) == 0:
		return command{}, fmt.Errorf("no command\n%s", usage)
	}
	return command{}, fmt.Errorf("unknown command %q\n%s", strings.Join(a, " "), usage)
}

func match(args []string, words ...string) bool {
	return len(args) >= len(words) && slices.Equal(args[:len(words)], words)
}

// run is evpnctl: it parses args, reads evpnd and prints to out.
func run(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	o, rest, err := parseFlags(args, getenv)
	if h, ok := errors.AsType[helpRequested](err); ok {
		_, err := io.WriteString(out, string(h))
		return err
	}
	if err != nil {
		return err
	}
	cmd, err := parseCommand(rest)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if cmd.kind == "p4" || !o.useGNMI {
		return runAPI(ctx, newAPIClient(o.api), cmd, o.json, out)
	}
	r, err := dialGNMI(o.gnmi)
	if err != nil {
		return err
	}
	defer r.Close()
	switch cmd.kind {
	case "mac":
		rows, err := r.macRows(ctx, cmd.evi)
		if err != nil {
			return err
		}
		return render(out, o.json, rows, printMACs)
	case "es":
		rows, err := r.segmentRows(ctx)
		if err != nil {
			return err
		}
		return render(out, o.json, rows, printSegments)
	default:
		rows, err := r.bgpSummaries(ctx)
		if err != nil {
			return err
		}
		return render(out, o.json, rows, printBGP)
	}
}
