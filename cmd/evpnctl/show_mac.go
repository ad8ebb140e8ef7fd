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

	"github.com/p4evpn/p4evpn/gnmi"
)

// show evpn mac over gNMI. A MAC-VRF is a network instance of type L2VSI
// with one evpn-instance; its forwarding entries are
// NI/fdb/mac-table/entries/entry[mac-address][vlan] and their EVPN
// attributes (producer, sequence, ESI, remote PE and label) live only in
// the L2RIB, NI/fdb/l2rib/mac-table, whose producers point into its shared
// next-hop and next-hop-group tables (OPENCONFIG.md §1).

// macRow is one MAC of a MAC-VRF as evpnctl prints it.
type macRow struct {
	NetworkInstance string `json:"network_instance"`
	EVI             uint32 `json:"evi"`
	VLAN            uint16 `json:"vlan"`
	MAC             string `json:"mac"`
	// Source is local, static or remote (the L2RIB producer LOCAL, STATIC
	// or BGP); empty when the MAC has no L2RIB entry.
	Source   string `json:"source"`
	Sequence uint32 `json:"sequence"`
	Sticky   bool   `json:"sticky,omitempty"`
	// MobilityState is DUPLICATE or FROZEN (RFC 7432 §15.1), else empty.
	MobilityState string `json:"mobility_state,omitempty"`
	// ESI is the MAC's Ethernet segment, colon-separated as in evpnd's
	// config file.
	ESI string `json:"esi,omitempty"`
	// Interface is the local port (.subinterface) the switch forwards the
	// MAC to, from the FIB entry: a local MAC's AC, or for a remote MAC
	// on a segment this PE shares, its own link to the segment (aliasing).
	Interface string `json:"interface,omitempty"`
	// NextHops are the L2RIB producer's next hops: the AC of a local MAC,
	// the remote PE (and label) of a remote one.
	NextHops []nextHop `json:"next_hops"`
}

// nextHopText is what the NEXT HOP column shows: where the switch sends
// the MAC, and for a remote MAC sent on a local link the PEs behind it.
func (r macRow) nextHopText() string {
	hops := make([]string, 0, len(r.NextHops))
	for _, h := range r.NextHops {
		if h.Interface != "" && h.port() == r.Interface {
			continue // the FIB's interface says it
		}
		hops = append(hops, h.String())
	}
	switch {
	case r.Interface == "":
		return dash(strings.Join(hops, ", "))
	case len(hops) == 0:
		return r.Interface
	}
	return r.Interface + " (aliasing " + strings.Join(hops, ", ") + ")"
}

// nextHop is where a MAC is forwarded: a local attachment circuit
// (Interface) or a remote PE and its label.
type nextHop struct {
	Interface    string  `json:"interface,omitempty"`
	Subinterface *uint32 `json:"subinterface,omitempty"`
	Peer         string  `json:"peer,omitempty"`
	Label        uint32  `json:"label,omitempty"`
	ESI          string  `json:"esi,omitempty"`
	Resolved     bool    `json:"resolved"`
	// Missing names a next hop or group the producer points to but the
	// L2RIB's tables did not hold ("next-hop 5"; it changed meanwhile).
	Missing string `json:"missing,omitempty"`
}

// port is Interface[.Subinterface].
func (h nextHop) port() string {
	if h.Subinterface == nil {
		return h.Interface
	}
	return h.Interface + "." + strconv.FormatUint(uint64(*h.Subinterface), 10)
}

func (h nextHop) String() string {
	var s string
	switch {
	case h.Interface != "":
		s = h.port()
	case h.Peer != "":
		s = h.Peer
		if h.Label != 0 {
			s += " label " + strconv.FormatUint(uint64(h.Label), 10)
		}
	case h.Missing != "":
		return h.Missing + " (not served)"
	default:
		s = "?"
	}
	if !h.Resolved {
		s += " (unresolved)"
	}
	return s
}

// The JSON shapes read; member names are the model's.
type (
	ocEVPNInstance struct {
		EVI string `json:"evi"`
	}
	ocInterfaceRef struct {
		Interface    string  `json:"interface"`
		Subinterface *ocUint `json:"subinterface"`
	}
	ocMACEntry struct {
		MAC   string `json:"mac-address"`
		VLAN  ocUint `json:"vlan"`
		State struct {
			EntryType ident  `json:"entry-type"`
			EVI       ocUint `json:"evi"`
		} `json:"state"`
		Interface struct {
			InterfaceRef struct {
				State ocInterfaceRef `json:"state"`
			} `json:"interface-ref"`
		} `json:"interface"`
	}
	ocProducer struct {
		Producer ident `json:"producer"`
		State    struct {
			SeqNumber     ocUint   `json:"seq-number"`
			MobilityState ident    `json:"mobility-state"`
			ESI           string   `json:"esi"`
			Sticky        bool     `json:"sticky"`
			NextHop       *ocUint  `json:"next-hop"`
			NextHopGroup  []ocUint `json:"next-hop-group"`
		} `json:"state"`
	}
	ocL2RIBEntry struct {
		MAC   string `json:"mac-address"`
		State struct {
			VLAN ocUint `json:"vlan"`
			EVI  ocUint `json:"evi"`
		} `json:"state"`
		Producers struct {
			Producer []ocProducer `json:"producer"`
		} `json:"producers"`
	}
	ocNextHop struct {
		Index ocUint `json:"index"`
		State struct {
			PeerIP       string  `json:"peer-ip"`
			Label        ocUint  `json:"label"`
			ESI          string  `json:"esi"`
			Resolved     bool    `json:"resolved"`
			Interface    string  `json:"interface"`
			Subinterface *ocUint `json:"subinterface"`
		} `json:"state"`
	}
	ocNextHopGroup struct {
		ID       ocUint `json:"id"`
		NextHops struct {
			NextHop []struct {
				Index ocUint `json:"index"`
			} `json:"next-hop"`
		} `json:"next-hops"`
	}
)

// niPrefix is /network-instances/network-instance[name=ni].
func niPrefix(ni string) []*gpb.PathElem {
	return []*gpb.PathElem{elem("network-instances"), elem("network-instance", "name", ni)}
}

// macVRF is what one network instance's Get answered.
type macVRF struct {
	evis   []uint32
	fib    []ocMACEntry
	rib    map[string]ocL2RIBEntry // by MAC
	hops   map[uint64]ocNextHop
	groups map[uint64]ocNextHopGroup
}

// eviInstances maps every network instance with an evpn-instance to its
// EVIs.
func (r *gnmiReader) eviInstances(ctx context.Context) (map[string][]uint32, error) {
	p := path(niPrefix("*"), names("evpn", "evpn-instances"), one(elem("evpn-instance", "evi", "*")))
	ups, err := r.get(ctx, p)
	if err != nil {
		return nil, err
	}
	out := map[string][]uint32{}
	for _, u := range ups {
		if namesOf(u.elems) != "network-instances/network-instance/evpn/evpn-instances/evpn-instance" {
			return nil, r.unexpected([]*gpb.Path{p}, u)
		}
		var e ocEVPNInstance
		if err := json.Unmarshal(u.json, &e); err != nil {
			return nil, r.badValue(u, err)
		}
		ni := u.elems[1].GetKey()["name"]
		n, err := strconv.ParseUint(e.EVI, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("evpnd at %s: network instance %s has evpn-instance %q, not an EVI number", r.opts.addr, ni, e.EVI)
		}
		out[ni] = append(out[ni], uint32(n))
	}
	return out, nil
}

// macRows reads the MAC tables of every EVI, or of evi alone.
func (r *gnmiReader) macRows(ctx context.Context, evi uint32) ([]macRow, error) {
	instances, err := r.eviInstances(ctx)
	if err != nil {
		return nil, err
	}
	if len(instances) == 0 {
		return nil, fmt.Errorf("evpnd at %s serves no EVPN instance (no network-instance has an evpn-instance; a route reflector has no MAC tables)", r.opts.addr)
	}
	ni := "*"
	if evi != 0 {
		ni = ""
		var all []uint32
		for name, ids := range instances {
			all = append(all, ids...)
			if slices.Contains(ids, evi) {
				ni = name
			}
		}
		if ni == "" {
			slices.Sort(all)
			return nil, fmt.Errorf("EVI %d is not configured on evpnd at %s (its EVIs: %s)", evi, r.opts.addr, joinUints(all))
		}
	}
	// Every list is read with its keys wildcarded: an empty list then
	// answers nothing instead of "no such data".
	fdb := append(niPrefix(ni), elem("fdb"))
	l2rib := names("l2rib", "mac-table")
	paths := []*gpb.Path{
		path(fdb, names("mac-table", "entries"), one(elem("entry", "mac-address", "*", "vlan", "*"))),
		path(fdb, l2rib, names("entries"), one(elem("entry", "mac-address", "*"))),
		path(fdb, l2rib, names("next-hops"), one(elem("next-hop", "index", "*"))),
		path(fdb, l2rib, names("next-hop-groups"), one(elem("next-hop-group", "id", "*"))),
	}
	ups, err := r.get(ctx, paths...)
	if err != nil {
		return nil, err
	}
	vrfs := map[string]*macVRF{}
	for name, ids := range instances {
		vrfs[name] = &macVRF{evis: ids, rib: map[string]ocL2RIBEntry{}, hops: map[uint64]ocNextHop{}, groups: map[uint64]ocNextHopGroup{}}
	}
	for _, u := range ups {
		shape := namesOf(u.elems)
		if !strings.HasPrefix(shape, "network-instances/network-instance/fdb/") {
			return nil, r.unexpected(paths, u)
		}
		name := u.elems[1].GetKey()["name"]
		v := vrfs[name]
		if v == nil {
			// A network instance with a MAC table but no EVPN instance.
			v = &macVRF{rib: map[string]ocL2RIBEntry{}, hops: map[uint64]ocNextHop{}, groups: map[uint64]ocNextHopGroup{}}
			vrfs[name] = v
		}
		var err error
		switch shape {
		case "network-instances/network-instance/fdb/mac-table/entries/entry":
			var e ocMACEntry
			if err = json.Unmarshal(u.json, &e); err == nil {
				v.fib = append(v.fib, e)
			}
		case "network-instances/network-instance/fdb/l2rib/mac-table/entries/entry":
			var e ocL2RIBEntry
			if err = json.Unmarshal(u.json, &e); err == nil {
				v.rib[strings.ToLower(e.MAC)] = e
			}
		case "network-instances/network-instance/fdb/l2rib/mac-table/next-hops/next-hop":
			var h ocNextHop
			if err = json.Unmarshal(u.json, &h); err == nil {
				v.hops[uint64(h.Index)] = h
			}
		case "network-instances/network-instance/fdb/l2rib/mac-table/next-hop-groups/next-hop-group":
			var g ocNextHopGroup
			if err = json.Unmarshal(u.json, &g); err == nil {
				v.groups[uint64(g.ID)] = g
			}
		default:
			return nil, r.unexpected(paths, u)
		}
		if err != nil {
			return nil, r.badValue(u, err)
		}
	}
	rows := []macRow{}
	for name, v := range vrfs {
		for _, row := range v.rows(name) {
			if evi == 0 || row.EVI == evi {
				rows = append(rows, row)
			}
		}
	}
	slices.SortFunc(rows, func(a, b macRow) int {
		return cmp.Or(cmp.Compare(a.EVI, b.EVI), strings.Compare(a.NetworkInstance, b.NetworkInstance),
			strings.Compare(a.MAC, b.MAC), cmp.Compare(a.VLAN, b.VLAN))
	})
	return rows, nil
}

// rows joins the FIB and the L2RIB of one network instance.
func (v *macVRF) rows(ni string) []macRow {
	var defaultEVI uint32
	if len(v.evis) == 1 {
		defaultEVI = v.evis[0]
	}
	var rows []macRow
	inFIB := map[string]bool{}
	for _, e := range v.fib {
		mac := strings.ToLower(e.MAC)
		inFIB[mac] = true
		row := macRow{NetworkInstance: ni, EVI: cmp.Or(uint32(e.State.EVI), defaultEVI), VLAN: uint16(e.VLAN), MAC: mac, NextHops: []nextHop{}}
		if rib, ok := v.rib[mac]; ok {
			v.fillFromRIB(&row, rib)
		} else if e.State.EntryType == "STATIC" {
			row.Source = "static"
		}
		if ref := e.Interface.InterfaceRef.State; ref.Interface != "" {
			row.Interface = nextHop{Interface: ref.Interface, Subinterface: u32p(ref.Subinterface)}.port()
		}
		rows = append(rows, row)
	}
	for mac, rib := range v.rib {
		if inFIB[mac] {
			continue
		}
		row := macRow{NetworkInstance: ni, EVI: cmp.Or(uint32(rib.State.EVI), defaultEVI), VLAN: uint16(rib.State.VLAN), MAC: mac, NextHops: []nextHop{}}
		v.fillFromRIB(&row, rib)
		rows = append(rows, row)
	}
	return rows
}

func (v *macVRF) fillFromRIB(row *macRow, rib ocL2RIBEntry) {
	if row.EVI == 0 {
		row.EVI = uint32(rib.State.EVI)
	}
	ps := slices.Clone(rib.Producers.Producer)
	if len(ps) == 0 {
		return
	}
	slices.SortStableFunc(ps, func(a, b ocProducer) int { return cmp.Compare(rankOf(a.Producer), rankOf(b.Producer)) })
	p := ps[0]
	switch p.Producer {
	case "LOCAL":
		row.Source = "local"
	case "STATIC":
		row.Source = "static"
	case "BGP":
		row.Source = "remote"
	default:
		row.Source = strings.ToLower(string(p.Producer))
	}
	row.Sequence = uint32(p.State.SeqNumber)
	row.Sticky = p.State.Sticky
	row.MobilityState = string(p.State.MobilityState)
	row.ESI = formatESI(p.State.ESI)
	var indexes []uint64
	if p.State.NextHop != nil {
		indexes = append(indexes, uint64(*p.State.NextHop))
	}
	for _, id := range p.State.NextHopGroup {
		g, ok := v.groups[uint64(id)]
		if !ok {
			row.NextHops = append(row.NextHops, nextHop{Missing: fmt.Sprintf("next-hop-group %d", id)})
		}
		for _, h := range g.NextHops.NextHop {
			indexes = append(indexes, uint64(h.Index))
		}
	}
	for _, i := range indexes {
		h, ok := v.hops[i]
		if !ok {
			row.NextHops = append(row.NextHops, nextHop{Missing: fmt.Sprintf("next-hop %d", i)})
			continue
		}
		s := h.State
		row.NextHops = append(row.NextHops, nextHop{Interface: s.Interface, Subinterface: u32p(s.Subinterface), Peer: s.PeerIP,
			Label: uint32(s.Label), ESI: formatESI(s.ESI), Resolved: s.Resolved})
	}
}

// rankOf orders an L2RIB entry's producers: a static or local MAC wins
// over one learned from BGP.
func rankOf(p ident) int {
	switch p {
	case "STATIC":
		return 0
	case "LOCAL":
		return 1
	case "BGP":
		return 2
	}
	return 3
}

func u32p(u *ocUint) *uint32 {
	if u == nil {
		return nil
	}
	x := uint32(*u)
	return &x
}

// formatESI writes OpenConfig's 20 hex digits as the colon-separated octets
// of evpnd's config file; anything else (AUTO) stays as served.
func formatESI(s string) string {
	if len(s) != 20 {
		return s
	}
	var b strings.Builder
	for i := 0; i < 20; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToLower(s[i : i+2]))
	}
	return b.String()
}

func joinUints(xs []uint32) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatUint(uint64(x), 10)
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func printMACs(out io.Writer, rows []macRow) error {
	err := table(out, "EVI\tMAC\tVLAN\tSOURCE\tSEQ\tESI\tFLAGS\tNEXT HOP", func(w io.Writer) {
		for _, r := range rows {
			var flags []string
			if r.Sticky {
				flags = append(flags, "sticky")
			}
			if r.MobilityState != "" {
				flags = append(flags, strings.ToLower(r.MobilityState))
			}
			fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n", r.EVI, r.MAC, r.VLAN, dash(r.Source), r.Sequence, dash(r.ESI),
				dash(strings.Join(flags, ",")), r.nextHopText())
		}
	})
	fmt.Fprintf(out, "%d MACs\n", len(rows))
	return err
}

// unexpected reports an update outside the shapes evpnctl reads, rather
// than dropping it.
func (r *gnmiReader) unexpected(asked []*gpb.Path, u update) error {
	return fmt.Errorf("evpnd at %s answered Get %s with an update at %s, which evpnctl does not read", r.opts.addr,
		formatPaths(asked), gnmi.FormatPath(u.elems))
}

func (r *gnmiReader) badValue(u update, err error) error {
	return fmt.Errorf("evpnd at %s: the value at %s: %w", r.opts.addr, gnmi.FormatPath(u.elems), err)
}
