// Command evpnctl shows a running evpnd's state, read from its local
// operator API (the JSON endpoints next to /metrics).
//
//	evpnctl [--addr HOST:PORT] show evpn mac [EVI]
//	evpnctl [--addr HOST:PORT] show evpn es
//	evpnctl [--addr HOST:PORT] show bgp summary
//	evpnctl [--addr HOST:PORT] show p4 table NAME
//
// --addr is evpnd's metrics address (default 127.0.0.1:9464, or
// $EVPNCTL_ADDR).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	p4evpn "github.com/p4evpn/p4evpn"
)

const usage = `usage: evpnctl [--addr HOST:PORT] show evpn mac [EVI]
       evpnctl [--addr HOST:PORT] show evpn es
       evpnctl [--addr HOST:PORT] show bgp summary
       evpnctl [--addr HOST:PORT] show p4 table NAME`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "evpnctl:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("evpnctl", flag.ContinueOnError)
	def := os.Getenv("EVPNCTL_ADDR")
	if def == "" {
		def = "127.0.0.1:9464"
	}
	addr := fs.String("addr", def, "evpnd's metrics and API address `HOST:PORT`")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := client{base: "http://" + *addr, http: &http.Client{Timeout: 10 * time.Second}}
	a := fs.Args()
	switch {
	case match(a, "show", "evpn", "mac") && len(a) <= 4:
		evi := ""
		if len(a) == 4 {
			if _, err := strconv.ParseUint(a[3], 10, 32); err != nil {
				return fmt.Errorf("EVI %q: want a number", a[3])
			}
			evi = a[3]
		}
		return c.showMAC(out, evi)
	case match(a, "show", "evpn", "es") && len(a) == 3:
		return c.showES(out)
	case match(a, "show", "bgp", "summary") && len(a) == 3:
		return c.showBGP(out)
	case match(a, "show", "p4", "table") && len(a) == 4:
		return c.showTable(out, a[3])
	}
	return fmt.Errorf("unknown command %q\n%s", strings.Join(a, " "), usage)
}

func match(args []string, words ...string) bool {
	return len(args) >= len(words) && slices.Equal(args[:len(words)], words)
}

type client struct {
	base string
	http *http.Client
}

// get fetches path and decodes the JSON answer into v; an error answer
// carries evpnd's message.
func (c client) get(path string, v any) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("evpnd at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func table(out io.Writer, header string, rows func(w io.Writer)) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, header)
	rows(w)
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c client) showMAC(out io.Writer, evi string) error {
	q := "/api/evpn/mac"
	if evi != "" {
		q += "?evi=" + url.QueryEscape(evi)
	}
	var rows []p4evpn.MACRow
	if err := c.get(q, &rows); err != nil {
		return err
	}
	err := table(out, "EVI\tMAC\tSOURCE\tAC\tPEER\tESI\tSEQ\tFLAGS\tDESTINATION", func(w io.Writer) {
		for _, r := range rows {
			var flags []string
			if r.Sticky {
				flags = append(flags, "sticky")
			}
			if r.Frozen {
				flags = append(flags, "frozen")
			}
			ac := "-"
			if r.AC != 0 {
				ac = strconv.FormatUint(uint64(r.AC), 10)
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.EVI, r.MAC, r.Source, ac, dash(r.Peer), dash(r.ESI),
				r.Sequence, dash(strings.Join(flags, ",")), r.Dest)
		}
	})
	fmt.Fprintf(out, "%d MACs\n", len(rows))
	return err
}

func (c client) showES(out io.Writer) error {
	var rows []p4evpn.SegmentRow
	if err := c.get("/api/evpn/es", &rows); err != nil {
		return err
	}
	return table(out, "NAME\tESI\tMODE\tUP\tESI-LABEL\tDF-ALG\tPEERS\tDF PER EVI", func(w io.Writer) {
		for _, r := range rows {
			var dfs []string
			for _, df := range r.DF {
				who := dash(df.DF)
				if df.Local {
					who += " (local)"
				}
				dfs = append(dfs, fmt.Sprintf("evi %d vlan %d: %s", df.EVI, df.VLAN, who))
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%d\t%s\t%s\t%s\n", r.Name, r.ESI, r.Redundancy, r.Up, r.ESILabel, r.Algorithm,
				dash(strings.Join(r.Peers, ",")), dash(strings.Join(dfs, "; ")))
		}
	})
}

func (c client) showBGP(out io.Writer) error {
	var s p4evpn.BGPSummary
	if err := c.get("/api/bgp/summary", &s); err != nil {
		return err
	}
	fmt.Fprintf(out, "BGP router id %s, local AS %d, %s; l2vpn-evpn RIB: %d destinations, %d paths\n\n",
		s.RouterID, s.ASN, s.Mode, s.Destinations, s.Paths)
	return table(out, "NEIGHBOR\tAS\tSTATE\tUP/DOWN\tFLAPS\tRCVD\tACCEPTED\tSENT", func(w io.Writer) {
		for _, n := range s.Neighbors {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\n", n.Address, n.ASN, n.State, n.Uptime, n.Flaps, n.Received, n.Accepted, n.Advertised)
		}
	})
}

func (c client) showTable(out io.Writer, name string) error {
	var t p4evpn.TableDump
	if err := c.get("/api/p4/table?name="+url.QueryEscape(name), &t); err != nil {
		return err
	}
	fmt.Fprintf(out, "table %s: %d entries\n", t.Table, len(t.Entries))
	return table(out, "MATCH\tACTION\tPARAMS", func(w io.Writer) {
		for _, e := range t.Entries {
			fmt.Fprintf(w, "%s\t%s\t%s\n", kv(e.Match), e.Action, dash(kv(e.Params)))
		}
	})
}

// kv prints a map as sorted key=value pairs.
func kv(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}
