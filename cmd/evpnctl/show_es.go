package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// show evpn es over gNMI: /ethernet-segments/ethernet-segment[name] (the
// config and its state mirror: openconfig-ethernet-segments has no
// operational leaves) and the DF election result per VLAN that evpnd
// serves under its augment …/designated-forwarders (gnmi/doc.go).

// segmentRow is one Ethernet segment as evpnctl prints it.
type segmentRow struct {
	Name string `json:"name"`
	// ESI is colon-separated as in evpnd's config file, or AUTO.
	ESI     string `json:"esi"`
	ESIType string `json:"esi_type,omitempty"`
	// Redundancy is ALL_ACTIVE or SINGLE_ACTIVE.
	Redundancy string `json:"redundancy,omitempty"`
	// DFMethod is DEFAULT (RFC 7432 modulus), HIGHEST_RANDOM_WEIGHT or
	// PREFERENCE.
	DFMethod   string  `json:"df_election_method,omitempty"`
	Preference *uint16 `json:"preference,omitempty"`
	// Interface is the segment's port, with .SUBINTERFACE when one AC of
	// it is on the segment.
	Interface string  `json:"interface,omitempty"`
	DF        []dfRow `json:"designated_forwarders"`
}

// dfRow is the DF election result of a segment for one VLAN.
type dfRow struct {
	VLAN uint16 `json:"vlan"`
	// DF is the elected PE's originating router IP; empty before an
	// election.
	DF    string `json:"df,omitempty"`
	Local bool   `json:"local"`
}

type ocSegmentConfig struct {
	ESIType        ident   `json:"esi-type"`
	ESI            string  `json:"esi"`
	RedundancyMode ident   `json:"redundancy-mode"`
	Interface      string  `json:"interface"`
	Subinterface   *ocUint `json:"subinterface"`
}

type ocDFElection struct {
	Method     ident   `json:"df-election-method"`
	Preference *ocUint `json:"preference"`
}

type ocSegment struct {
	Name       string          `json:"name"`
	Config     ocSegmentConfig `json:"config"`
	State      ocSegmentConfig `json:"state"`
	DFElection struct {
		Config ocDFElection `json:"config"`
		State  ocDFElection `json:"state"`
	} `json:"df-election"`
	DesignatedForwarders struct {
		DesignatedForwarder []struct {
			VLAN  ocUint `json:"vlan"`
			State struct {
				DFAddress string `json:"df-address"`
				Local     bool   `json:"local"`
			} `json:"state"`
		} `json:"designated-forwarder"`
	} `json:"designated-forwarders"`
}

// segmentRows reads every Ethernet segment.
func (r *gnmiReader) segmentRows(ctx context.Context) ([]segmentRow, error) {
	p := path(one(elem("ethernet-segments")), one(elem("ethernet-segment", "name", "*")))
	ups, err := r.get(ctx, p)
	if err != nil {
		return nil, err
	}
	rows := []segmentRow{}
	for _, u := range ups {
		if namesOf(u.elems) != "ethernet-segments/ethernet-segment" {
			return nil, r.unexpected([]*gpb.Path{p}, u)
		}
		var s ocSegment
		if err := json.Unmarshal(u.json, &s); err != nil {
			return nil, r.badValue(u, err)
		}
		// state mirrors config; a server that fills only one is read too.
		st, dfe := s.State, s.DFElection.State
		if st.ESI == "" {
			st = s.Config
		}
		if dfe.Method == "" {
			dfe = s.DFElection.Config
		}
		row := segmentRow{Name: cmp.Or(s.Name, u.elems[1].GetKey()["name"]), ESI: formatESI(st.ESI), ESIType: string(st.ESIType),
			Redundancy: string(st.RedundancyMode), DFMethod: string(dfe.Method), Interface: st.Interface, DF: []dfRow{}}
		if st.Subinterface != nil && st.Interface != "" {
			row.Interface += "." + strconv.FormatUint(uint64(*st.Subinterface), 10)
		}
		if dfe.Preference != nil {
			p := uint16(*dfe.Preference)
			row.Preference = &p
		}
		for _, df := range s.DesignatedForwarders.DesignatedForwarder {
			row.DF = append(row.DF, dfRow{VLAN: uint16(df.VLAN), DF: df.State.DFAddress, Local: df.State.Local})
		}
		slices.SortFunc(row.DF, func(a, b dfRow) int { return cmp.Compare(a.VLAN, b.VLAN) })
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b segmentRow) int { return strings.Compare(a.Name, b.Name) })
	return rows, nil
}

func printSegments(out io.Writer, rows []segmentRow) error {
	err := table(out, "NAME\tESI\tMODE\tDF-METHOD\tINTERFACE\tDF PER VLAN", func(w io.Writer) {
		for _, r := range rows {
			method := r.DFMethod
			if r.Preference != nil {
				method += fmt.Sprintf(" (preference %d)", *r.Preference)
			}
			dfs := make([]string, len(r.DF))
			for i, df := range r.DF {
				who := dash(df.DF)
				if df.Local {
					who += " (local)"
				}
				dfs[i] = fmt.Sprintf("vlan %d: %s", df.VLAN, who)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, dash(r.ESI), dash(r.Redundancy), dash(method), dash(r.Interface),
				dash(strings.Join(dfs, "; ")))
		}
	})
	plural := "s"
	if len(rows) == 1 {
		plural = ""
	}
	fmt.Fprintf(out, "%d Ethernet segment%s\n", len(rows), plural)
	return err
}
