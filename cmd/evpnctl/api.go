package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	p4evpn "github.com/p4evpn/p4evpn"
)

// The local operator API: evpnd's JSON endpoints next to /metrics. It is
// the only source of P4 tables, and the fallback of an evpnd that serves
// no gNMI.

type apiClient struct {
	base string
	http *http.Client
}

func newAPIClient(addr string) apiClient {
	return apiClient{base: "http://" + addr, http: &http.Client{}}
}

// runAPI answers cmd from the local API.
func runAPI(ctx context.Context, c apiClient, cmd command, asJSON bool, out io.Writer) error {
	switch cmd.kind {
	case "mac":
		q := "/api/evpn/mac"
		if cmd.evi != 0 {
			q += "?evi=" + strconv.FormatUint(uint64(cmd.evi), 10)
		}
		var rows []p4evpn.MACRow
		if err := c.get(ctx, q, &rows); err != nil {
			return err
		}
		return render(out, asJSON, rows, printAPIMACs)
	case "es":
		var rows []p4evpn.SegmentRow
		if err := c.get(ctx, "/api/evpn/es", &rows); err != nil {
			return err
		}
		return render(out, asJSON, rows, printAPISegments)
	case "bgp":
		var s p4evpn.BGPSummary
		if err := c.get(ctx, "/api/bgp/summary", &s); err != nil {
			return err
		}
		return render(out, asJSON, s, printAPIBGP)
	default:
		var t p4evpn.TableDump
		if err := c.get(ctx, "/api/p4/table?name="+url.QueryEscape(cmd.table), &t); err != nil {
			return err
		}
		return render(out, asJSON, t, printAPITable)
	}
}

// get fetches path and decodes the JSON answer into v; an error answer
// carries evpnd's message.
func (c apiClient) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("evpnd's local API at %s: %w", c.base, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("evpnd's local API at %s is unreachable (is its metrics address %s?): %w", c.base, strings.TrimPrefix(c.base, "http://"), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			return fmt.Errorf("evpnd at %s: %s", c.base, e.Error)
		}
		return fmt.Errorf("evpnd at %s%s: %s", c.base, path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("evpnd at %s%s: decode the answer: %w", c.base, path, err)
	}
	return nil
}

func printAPIMACs(out io.Writer, rows []p4evpn.MACRow) error {
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

func printAPISegments(out io.Writer, rows []p4evpn.SegmentRow) error {
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

func printAPIBGP(out io.Writer, s p4evpn.BGPSummary) error {
	fmt.Fprintf(out, "BGP router id %s, local AS %d, %s; l2vpn-evpn RIB: %d destinations, %d paths\n\n",
		s.RouterID, s.ASN, s.Mode, s.Destinations, s.Paths)
	return table(out, "NEIGHBOR\tAS\tSTATE\tUP/DOWN\tFLAPS\tRCVD\tACCEPTED\tSENT", func(w io.Writer) {
		for _, n := range s.Neighbors {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\n", n.Address, n.ASN, n.State, n.Uptime, n.Flaps, n.Received, n.Accepted, n.Advertised)
		}
	})
}

func printAPITable(out io.Writer, t p4evpn.TableDump) error {
	fmt.Fprintf(out, "table %s: %d entries\n", t.Table, len(t.Entries))
	return table(out, "MATCH\tACTION\tPARAMS", func(w io.Writer) {
		for _, e := range t.Entries {
			fmt.Fprintf(w, "%s\t%s\t%s\n", kv(e.Match), e.Action, dash(kv(e.Params)))
		}
	})
}
