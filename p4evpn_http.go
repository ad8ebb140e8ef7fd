package p4evpn

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/p4evpn/p4evpn/gnmi"
	"github.com/p4evpn/p4evpn/p4rt"
)

// The operator API: JSON on the metrics listener, read by evpnctl.

// MACRow is one row of GET /api/evpn/mac.
type MACRow struct {
	EVI      uint32 `json:"evi"`
	MAC      string `json:"mac"`
	Source   string `json:"source"`
	AC       uint32 `json:"ac,omitempty"`
	Peer     string `json:"peer,omitempty"`
	ESI      string `json:"esi,omitempty"`
	Sequence uint32 `json:"sequence"`
	Sticky   bool   `json:"sticky,omitempty"`
	Frozen   bool   `json:"frozen,omitempty"`
	Moves    int    `json:"moves,omitempty"`
	Dest     string `json:"dest"`
}

// SegmentRow is one Ethernet segment of GET /api/evpn/es.
type SegmentRow struct {
	Name       string   `json:"name"`
	ESI        string   `json:"esi"`
	Redundancy string   `json:"redundancy"`
	Up         bool     `json:"up"`
	ESILabel   uint32   `json:"esi_label"`
	Algorithm  string   `json:"df_algorithm"`
	Candidates []string `json:"candidates"`
	Peers      []string `json:"peers"`
	DF         []DFRow  `json:"df"`
}

// DFRow is the DF of one EVI on a segment.
type DFRow struct {
	EVI   uint32 `json:"evi"`
	VLAN  uint16 `json:"vlan"`
	DF    string `json:"df"`
	Local bool   `json:"local"`
}

// BGPSummary is GET /api/bgp/summary.
type BGPSummary struct {
	RouterID     string        `json:"router_id"`
	ASN          uint32        `json:"asn"`
	Mode         string        `json:"mode"`
	Destinations uint64        `json:"destinations"`
	Paths        uint64        `json:"paths"`
	Neighbors    []NeighborRow `json:"neighbors"`
}

// NeighborRow is one BGP session.
type NeighborRow struct {
	Address    string `json:"address"`
	ASN        uint32 `json:"asn"`
	State      string `json:"state"`
	Uptime     string `json:"uptime"`
	Flaps      uint32 `json:"flaps"`
	Received   uint64 `json:"received"`
	Accepted   uint64 `json:"accepted"`
	Advertised uint64 `json:"advertised"`
}

// TableRow is one entry of GET /api/p4/table. Match fields and action
// parameters are rendered by formatValue: MACs as aa:bb:cc:dd:ee:ff,
// values up to 64 bits in decimal, longer ones in hex.
type TableRow struct {
	Match    map[string]string `json:"match"`
	Priority int32             `json:"priority,omitempty"`
	Action   string            `json:"action"`
	Params   map[string]string `json:"params,omitempty"`
}

// TableDump is GET /api/p4/table.
type TableDump struct {
	Table   string     `json:"table"`
	Entries []TableRow `json:"entries"`
}

func (d *Daemon) startHTTP() error {
	if d.cfg.Metrics == "" {
		return nil
	}
	lis, err := net.Listen("tcp", d.cfg.Metrics)
	if err != nil {
		return fmt.Errorf("p4evpn: metrics listen %s: %w", d.cfg.Metrics, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/evpn/mac", d.apiMAC)
	mux.HandleFunc("GET /api/evpn/es", d.apiES)
	mux.HandleFunc("GET /api/bgp/summary", d.apiBGP)
	mux.HandleFunc("GET /api/p4/table", d.apiTable)
	mux.HandleFunc("POST /api/shutdown", d.apiShutdown)
	d.httpLis = lis
	d.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.httpSrv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("metrics server", "err", err)
		}
	}()
	return nil
}

func (d *Daemon) startGNMI() error {
	g := d.cfg.GNMI
	if g.Listen == "" {
		return nil
	}
	opts := gnmi.Options{Target: d.cfg.Name, Device: d.device, Config: d.startup, Plaintext: g.Plaintext,
		Logger: d.log.With("component", "gnmi")}
	if !g.Plaintext {
		tlsCfg, err := gnmi.ServerTLS(g.Cert, g.Key, g.ClientCA)
		if err != nil {
			return fmt.Errorf("p4evpn: gnmi tls: %w", err)
		}
		opts.TLS = tlsCfg
	}
	for _, u := range g.Users {
		acc := gnmi.ReadOnly
		if u.ReadWrite {
			acc = gnmi.ReadWrite
		}
		opts.Users = append(opts.Users, gnmi.User{Name: u.Name, Password: u.Password, Access: acc})
	}
	opts.NoAuth = len(opts.Users) == 0
	srv, err := gnmi.New(opts)
	if err != nil {
		return fmt.Errorf("p4evpn: %w", err)
	}
	lis, err := net.Listen("tcp", g.Listen)
	if err != nil {
		srv.Close()
		return fmt.Errorf("p4evpn: gnmi listen %s: %w", g.Listen, err)
	}
	d.gnmiSrv, d.gnmiLis = srv, lis
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := srv.Serve(lis); err != nil {
			d.log.Debug("gnmi server stopped", "err", err)
		}
	}()
	return nil
}

// ShutdownResult is POST /api/shutdown's answer.
type ShutdownResult struct {
	// LeftService: every BGP session ended with a Hard Reset, so the
	// neighbors have withdrawn this daemon's routes. The process exits
	// next.
	LeftService bool `json:"left_service"`
}

// apiShutdown takes the daemon out of service and asks the process to
// exit (evpnd does, through ExitRequested). It answers only requests from
// a loopback address: the operator API has no authentication, and a
// metrics address reachable from the network must not let a scraper take
// the PE down.
func (d *Daemon) apiShutdown(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		httpError(w, http.StatusForbidden, fmt.Errorf("shutdown from %s refused: only from a loopback address", r.RemoteAddr))
		return
	}
	d.log.Warn("operator API: shutdown requested", "from", r.RemoteAddr)
	if err := d.leaveService(r.Context()); err != nil {
		httpError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, ShutdownResult{LeftService: true})
	d.exitOnce.Do(func() { close(d.exit) })
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func httpError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// MACRows returns the MAC table of evi, or of every EVI when evi is 0.
func (d *Daemon) MACRows(evi uint32) ([]MACRow, error) {
	if d.pe == nil {
		return nil, errors.New("a route reflector has no MAC tables")
	}
	var ids []uint32
	if evi != 0 {
		ids = []uint32{evi}
	} else {
		for _, e := range d.pe.EVIs() {
			ids = append(ids, e.ID)
		}
	}
	rows := []MACRow{}
	for _, id := range ids {
		table, err := d.pe.MACTable(id)
		if err != nil {
			return nil, err
		}
		for _, m := range table {
			r := MACRow{EVI: id, MAC: m.MAC.String(), Source: m.Source.String(), AC: uint32(m.AC), Sequence: m.Sequence,
				Sticky: m.Sticky, Frozen: m.Frozen, Moves: m.Moves, Dest: m.Dest.String()}
			if m.Peer.IsValid() {
				r.Peer = m.Peer.String()
			}
			if !m.ESI.IsZero() {
				r.ESI = m.ESI.String()
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

func (d *Daemon) apiMAC(w http.ResponseWriter, r *http.Request) {
	var evi uint64
	if s := r.URL.Query().Get("evi"); s != "" {
		var err error
		if evi, err = strconv.ParseUint(s, 10, 32); err != nil || evi == 0 {
			httpError(w, http.StatusBadRequest, fmt.Errorf("evi %q: want an EVI number", s))
			return
		}
	}
	rows, err := d.MACRows(uint32(evi))
	if err != nil {
		httpError(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, rows)
}

// SegmentRows describes the local Ethernet segments.
func (d *Daemon) SegmentRows() []SegmentRow {
	rows := []SegmentRow{}
	if d.pe == nil {
		return rows
	}
	n := d.device.names()
	for _, s := range d.pe.Segments() {
		r := SegmentRow{Name: n.segments[s.ESI], ESI: s.ESI.String(), Redundancy: s.Redundancy.String(), Up: s.Up,
			ESILabel: s.ESILabel, Algorithm: s.Algorithm.String(), Candidates: []string{}, Peers: []string{}, DF: []DFRow{}}
		for _, c := range s.Candidates {
			r.Candidates = append(r.Candidates, c.String())
		}
		for _, p := range s.Peers {
			r.Peers = append(r.Peers, p.String())
		}
		for _, df := range s.DF {
			row := DFRow{EVI: df.EVI, VLAN: df.VLAN, Local: df.Local}
			if df.DF.IsValid() {
				row.DF = df.DF.String()
			}
			r.DF = append(r.DF, row)
		}
		rows = append(rows, r)
	}
	return rows
}

func (d *Daemon) apiES(w http.ResponseWriter, _ *http.Request) { writeJSON(w, d.SegmentRows()) }

// Summary describes the BGP speaker and its sessions.
func (d *Daemon) Summary(ctx context.Context) (BGPSummary, error) {
	s := BGPSummary{RouterID: d.cfg.RouterID, ASN: d.cfg.ASN, Mode: string(d.cfg.Mode), Neighbors: []NeighborRow{}}
	nbs, err := d.speaker.Neighbors(ctx)
	if err != nil {
		return s, err
	}
	rib, err := d.speaker.RIB(ctx)
	if err != nil {
		return s, err
	}
	s.Destinations, s.Paths = rib.Destinations, rib.Paths
	for _, nb := range nbs {
		s.Neighbors = append(s.Neighbors, NeighborRow{Address: nb.Address.String(), ASN: nb.ASN, State: string(nb.State),
			Uptime: nb.Uptime.Truncate(time.Second).String(), Flaps: nb.Flaps, Received: nb.Received, Accepted: nb.Accepted,
			Advertised: nb.Advertised})
	}
	return s, nil
}

func (d *Daemon) apiBGP(w http.ResponseWriter, r *http.Request) {
	s, err := d.Summary(r.Context())
	if err != nil {
		httpError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, s)
}

// Table reads a P4 table from the switch over P4Runtime: what the target
// holds, not what the PE wants.
func (d *Daemon) Table(ctx context.Context, name string) (TableDump, error) {
	if d.p4sw == nil {
		return TableDump{}, errors.New("this evpnd has no P4Runtime switch")
	}
	cl := d.p4sw.Client()
	raw, err := cl.ReadTableEntries(ctx, name)
	if err != nil {
		return TableDump{}, err
	}
	out := TableDump{Table: name, Entries: []TableRow{}}
	ix := cl.Index()
	for _, te := range raw {
		e, err := ix.DecodeTableEntry(te)
		if err != nil {
			return TableDump{}, fmt.Errorf("table %s: %w", name, err)
		}
		row := TableRow{Match: map[string]string{}, Priority: e.Priority}
		for _, m := range e.Match {
			v := formatValue(m.Field, m.Value)
			if len(m.Mask) > 0 {
				v += "&&&0x" + hex.EncodeToString(m.Mask)
			}
			if m.PrefixLen > 0 {
				v += "/" + strconv.Itoa(int(m.PrefixLen))
			}
			row.Match[m.Field] = v
		}
		switch a := e.Action.(type) {
		case *p4rt.ActionCall:
			row.Action = a.Name
			if len(a.Params) > 0 {
				row.Params = map[string]string{}
				for _, p := range a.Params {
					row.Params[p.Name] = formatValue(p.Name, p.Value)
				}
			}
		case p4rt.GroupID:
			row.Action = "group " + strconv.FormatUint(uint64(a), 10)
		case p4rt.MemberID:
			row.Action = "member " + strconv.FormatUint(uint64(a), 10)
		}
		out.Entries = append(out.Entries, row)
	}
	return out, nil
}

// formatValue renders a canonical P4Runtime bytestring for an operator.
func formatValue(name string, b []byte) string {
	if strings.Contains(strings.ToLower(name), "mac") && len(b) <= 6 {
		var m [6]byte
		copy(m[6-len(b):], b)
		return net.HardwareAddr(m[:]).String()
	}
	if len(b) <= 8 {
		var v uint64
		for _, x := range b {
			v = v<<8 | uint64(x)
		}
		return strconv.FormatUint(v, 10)
	}
	return "0x" + hex.EncodeToString(b)
}

func (d *Daemon) apiTable(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		httpError(w, http.StatusBadRequest, errors.New("name: want a P4 table name, e.g. ingress.fdb"))
		return
	}
	t, err := d.Table(r.Context(), name)
	if err != nil {
		httpError(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, t)
}

// collector exports the Daemon's state at scrape time: nothing is
// counted twice and nothing goes stale.
type collector struct {
	d                                                             *Daemon
	session, received, flaps, macs, localMACs, counter, df, recon *prometheus.Desc
}

func newCollector(d *Daemon) *collector {
	l := prometheus.Labels{"evpnd": d.cfg.Name}
	return &collector{
		d:         d,
		session:   prometheus.NewDesc("evpnd_bgp_session_established", "1 when the BGP session is established.", []string{"neighbor", "state"}, l),
		received:  prometheus.NewDesc("evpnd_bgp_accepted_paths", "EVPN paths received from the neighbor and accepted.", []string{"neighbor"}, l),
		flaps:     prometheus.NewDesc("evpnd_bgp_session_flaps_total", "Transitions of the session out of Established.", []string{"neighbor"}, l),
		macs:      prometheus.NewDesc("evpnd_evi_macs", "MACs in the EVI's table.", []string{"evi"}, l),
		localMACs: prometheus.NewDesc("evpnd_evi_local_macs", "Local MACs of the EVI.", []string{"evi"}, l),
		counter:   prometheus.NewDesc("evpnd_evpn_events_total", "The PE's cumulative counters (learned, aged, moves, duplicates, ...).", []string{"event"}, l),
		df:        prometheus.NewDesc("evpnd_df", "1 when this PE is the designated forwarder of the EVI on the segment.", []string{"esi", "evi"}, l),
		recon:     prometheus.NewDesc("evpnd_restart_reconcile_updates", "Switch updates the restart reconciliation wrote (-1 while pending).", nil, l),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.session, c.received, c.flaps, c.macs, c.localMACs, c.counter, c.df, c.recon} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if nbs, err := d.speaker.Neighbors(ctx); err == nil {
		for _, nb := range nbs {
			up := 0.0
			if nb.State == "established" {
				up = 1
			}
			a := nb.Address.String()
			ch <- prometheus.MustNewConstMetric(c.session, prometheus.GaugeValue, up, a, string(nb.State))
			ch <- prometheus.MustNewConstMetric(c.received, prometheus.GaugeValue, float64(nb.Accepted), a)
			ch <- prometheus.MustNewConstMetric(c.flaps, prometheus.CounterValue, float64(nb.Flaps), a)
		}
	}
	if d.pe == nil {
		return
	}
	for _, e := range d.pe.EVIs() {
		id := strconv.FormatUint(uint64(e.ID), 10)
		ch <- prometheus.MustNewConstMetric(c.macs, prometheus.GaugeValue, float64(e.MACs), id)
		ch <- prometheus.MustNewConstMetric(c.localMACs, prometheus.GaugeValue, float64(e.LocalMACs), id)
	}
	k := d.pe.Counters()
	for _, x := range []struct {
		name string
		v    uint64
	}{
		{"learned", k.Learned}, {"aged", k.Aged}, {"mac_moves", k.MACMoves}, {"duplicate_macs", k.DuplicateMACs},
		{"frozen_learn_drops", k.FrozenLearnDrops}, {"mac_limit_drops", k.MACLimitDrops}, {"sticky_conflicts", k.StickyConflicts},
		{"df_changes", k.DFChanges}, {"switch_write_errors", k.SwitchWriteErrors}, {"repairs", k.Repairs},
		{"speaker_errors", k.SpeakerErrors}, {"events_dropped", k.EventsDropped},
	} {
		ch <- prometheus.MustNewConstMetric(c.counter, prometheus.CounterValue, float64(x.v), x.name)
	}
	for _, s := range d.pe.Segments() {
		for _, df := range s.DF {
			v := 0.0
			if df.Local {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.df, prometheus.GaugeValue, v, s.ESI.String(), strconv.FormatUint(uint64(df.EVI), 10))
		}
	}
	done, n, _ := d.Reconciled()
	if !done {
		n = -1
	}
	ch <- prometheus.MustNewConstMetric(c.recon, prometheus.GaugeValue, float64(n))
}
