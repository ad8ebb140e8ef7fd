package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/p4evpn/p4evpn/config"
)

// Topology is a testbed file: the fabric's PEs (each an evpnd config), its
// route reflectors, its hosts and how they attach, and the core between the
// PEs. See README.md for the format.
type Topology struct {
	Name string `yaml:"name"`
	// ASN is the fabric's AS (iBGP everywhere); a PE config's asn must match.
	ASN uint32 `yaml:"asn"`
	// BGPPort is the port every speaker listens on (default 10179: a
	// testbed needs no privileged port).
	BGPPort uint16 `yaml:"bgp-port"`
	// Timers are the BGP session timers the testbed writes into the
	// neighbors it generates (PE → RR and RR → PE).
	Timers          SessionTimers    `yaml:"timers"`
	RouteReflectors []RouteReflector `yaml:"route-reflectors"`
	PEs             []PE             `yaml:"pes"`
	Hosts           []HostSpec       `yaml:"hosts"`
	Core            CoreSpec         `yaml:"core"`

	// dir resolves relative config-file paths.
	dir string
}

// SessionTimers are BGP session timers.
type SessionTimers struct {
	HoldTime     time.Duration `yaml:"hold-time"`
	Keepalive    time.Duration `yaml:"keepalive"`
	ConnectRetry time.Duration `yaml:"connect-retry"`
}

// RouteReflector is an EVPN route reflector the PEs peer with.
type RouteReflector struct {
	Name string `yaml:"name"`
	// Kind is evpnd (default: evpnd in route-reflector mode, in-process)
	// or frr (FRR's bgpd, /usr/lib/frr/bgpd, needs root).
	Kind string `yaml:"kind"`
	// Address is the reflector's router id and the address it listens on
	// (a loopback address such as 127.0.30.100).
	Address string `yaml:"address"`
}

// RR kinds.
const (
	KindEvpnd = "evpnd"
	KindFRR   = "frr"
)

// PE is one provider edge: an evpnd config, inline or in a file.
type PE struct {
	Name string `yaml:"name"`
	// Config is the evpnd config inline; ConfigFile a path to one
	// (relative to the topology file). Exactly one is required. The
	// testbed fills what the fabric decides and the config leaves empty:
	// bgp.listen, bgp.neighbors (one per route reflector), core.source-mac,
	// core.next-hop-mac and core.transport-labels (the LSR's).
	Config     yaml.Node `yaml:"config"`
	ConfigFile string    `yaml:"config-file"`
}

// HostSpec is one host.
type HostSpec struct {
	Name string `yaml:"name"`
	MAC  string `yaml:"mac"`
	// IP is ADDRESS/PREFIX (IPv4).
	IP string `yaml:"ip"`
	// VLAN is the host's 802.1Q tag; 0 sends untagged.
	VLAN uint16 `yaml:"vlan"`
	// Links are the PE ports the host is cabled to: one for a single-homed
	// host, two (on one Ethernet segment of both PEs) for a multihomed host,
	// which bonds them (balance-xor: each flow leaves by one link, frames
	// arrive on any).
	Links []LinkSpec `yaml:"links"`
}

// LinkSpec is a host's cable to a PE access port.
type LinkSpec struct {
	PE   string `yaml:"pe"`
	Port uint32 `yaml:"port"`
}

// CoreSpec is how PE core ports are joined.
type CoreSpec struct {
	// Kind is lsr (default): each PE's core port is cabled to a port of a
	// label-switching router that maps one transport label per PE to the
	// PE's port, pops it (penultimate-hop popping) and rewrites the MACs.
	Kind string `yaml:"kind"`
	// MAC is the LSR's MAC: every PE's core next hop.
	MAC string `yaml:"mac"`
	// FirstLabel is the transport label of the first PE; PE i gets
	// FirstLabel+i (default 16000).
	FirstLabel uint32 `yaml:"first-label"`
}

// Core kinds.
const CoreLSR = "lsr"

// Defaults of a Topology.
const (
	DefaultBGPPort    = 10179
	DefaultLSRMAC     = "02:00:00:ff:ff:01"
	DefaultFirstLabel = 16000
)

// LoadTopology reads and validates a topology file.
func LoadTopology(path string) (*Topology, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	t, err := ParseTopology(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	return t, nil
}

// ParseTopology decodes and validates a topology document; dir resolves
// relative config-file paths. Unknown keys are errors.
func ParseTopology(b []byte, dir string) (*Topology, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var t Topology
	if err := dec.Decode(&t); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty document")
		}
		return nil, err
	}
	t.dir = dir
	if err := t.validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

func (t *Topology) validate() error {
	var errs []error
	bad := func(field string, v any, why string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %v: %s", field, v, fmt.Sprintf(why, args...)))
	}
	if t.ASN == 0 {
		bad("asn", t.ASN, "want an AS number")
	}
	if t.BGPPort == 0 {
		t.BGPPort = DefaultBGPPort
	}
	if t.Core.Kind == "" {
		t.Core.Kind = CoreLSR
	}
	if t.Core.Kind != CoreLSR {
		bad("core.kind", strconv.Quote(t.Core.Kind), "want lsr")
	}
	if t.Core.MAC == "" {
		t.Core.MAC = DefaultLSRMAC
	}
	if _, err := net.ParseMAC(t.Core.MAC); err != nil {
		bad("core.mac", strconv.Quote(t.Core.MAC), "want a MAC address")
	}
	if t.Core.FirstLabel == 0 {
		t.Core.FirstLabel = DefaultFirstLabel
	}
	if t.Core.FirstLabel < 16 || int(t.Core.FirstLabel)+len(t.PEs) > 1<<20 {
		bad("core.first-label", t.Core.FirstLabel, "want a label 16-1048575 leaving room for every PE")
	}
	names := map[string]string{}
	addrs := map[string]string{}
	claim := func(field, name string) {
		if name == "" {
			bad(field, `""`, "a name is required")
		} else if other, dup := names[name]; dup {
			bad(field, name, "already names %s", other)
		}
		names[name] = field
	}
	if len(t.RouteReflectors) == 0 {
		bad("route-reflectors", 0, "a fabric needs a route reflector")
	}
	for i := range t.RouteReflectors {
		rr := &t.RouteReflectors[i]
		f := fmt.Sprintf("route-reflectors[%d]", i)
		claim(f+".name", rr.Name)
		if rr.Kind == "" {
			rr.Kind = KindEvpnd
		}
		if rr.Kind != KindEvpnd && rr.Kind != KindFRR {
			bad(f+".kind", strconv.Quote(rr.Kind), "want evpnd or frr")
		}
		if a, err := netip.ParseAddr(rr.Address); err != nil || !a.Is4() {
			bad(f+".address", strconv.Quote(rr.Address), "want an IPv4 address")
		} else if other, dup := addrs[rr.Address]; dup {
			bad(f+".address", rr.Address, "already used by %s", other)
		}
		addrs[rr.Address] = rr.Name
	}
	if len(t.PEs) == 0 {
		bad("pes", 0, "a fabric needs PEs")
	}
	for i := range t.PEs {
		pe := &t.PEs[i]
		f := fmt.Sprintf("pes[%d]", i)
		claim(f+".name", pe.Name)
		if (pe.Config.Kind == 0) == (pe.ConfigFile == "") {
			bad(f, pe.Name, "give config (inline) or config-file, exactly one")
		}
	}
	for i, h := range t.Hosts {
		f := fmt.Sprintf("hosts[%d]", i)
		claim(f+".name", h.Name)
		if m, err := net.ParseMAC(h.MAC); err != nil || len(m) != 6 {
			bad(f+".mac", strconv.Quote(h.MAC), "want a MAC address")
		}
		if p, err := netip.ParsePrefix(h.IP); err != nil || !p.Addr().Is4() {
			bad(f+".ip", strconv.Quote(h.IP), "want an IPv4 ADDRESS/PREFIX")
		}
		if h.VLAN > 4094 {
			bad(f+".vlan", h.VLAN, "want 0 (untagged) or 1-4094")
		}
		if len(h.Links) == 0 || len(h.Links) > 2 {
			bad(f+".links", len(h.Links), "want one link, or two for a multihomed host")
		}
		for j, l := range h.Links {
			if t.peIndex(l.PE) < 0 {
				bad(fmt.Sprintf("%s.links[%d].pe", f, j), strconv.Quote(l.PE), "no such PE")
			}
			if l.Port == 0 {
				bad(fmt.Sprintf("%s.links[%d].port", f, j), l.Port, "want a PE access port")
			}
		}
		if len(h.Links) == 2 && h.Links[0].PE == h.Links[1].PE {
			bad(f+".links", h.Links[0].PE, "a multihomed host's links go to two different PEs")
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// The PE configs last: they need the RR addresses and labels.
	for i := range t.PEs {
		c, err := t.PEConfig(i)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, dup := addrs[c.RouterID]; dup {
			errs = append(errs, fmt.Errorf("pes[%d] %s: router-id %s already used by %s", i, t.PEs[i].Name, c.RouterID, other))
		}
		addrs[c.RouterID] = t.PEs[i].Name
	}
	for i, h := range t.Hosts {
		for j, l := range h.Links {
			c, err := t.PEConfig(t.peIndex(l.PE))
			if err != nil {
				continue
			}
			if !hasAccessPort(c, l.Port) {
				errs = append(errs, fmt.Errorf("hosts[%d].links[%d]: %s has no access port %d", i, j, l.PE, l.Port))
			}
		}
	}
	return errors.Join(errs...)
}

func hasAccessPort(c *config.Config, port uint32) bool {
	for _, p := range c.Ports {
		if p.ID == port && p.Kind == "access" {
			return true
		}
	}
	return false
}

func (t *Topology) peIndex(name string) int {
	for i, pe := range t.PEs {
		if pe.Name == name {
			return i
		}
	}
	return -1
}

// TransportLabel is the LSR's label that reaches PE i.
func (t *Topology) TransportLabel(i int) uint32 { return t.Core.FirstLabel + uint32(i) }

// CoreMAC is the MAC of PE i's core port when its config names none.
func coreMAC(i int) string { return fmt.Sprintf("02:00:00:fe:%02x:01", i+1) }

// PEConfig returns PE i's evpnd config with the fabric's parts filled in
// and validated. Each call decodes afresh: a caller may modify the result.
func (t *Topology) PEConfig(i int) (*config.Config, error) {
	pe := t.PEs[i]
	f := fmt.Sprintf("pes[%d] %s", i, pe.Name)
	var raw []byte
	if pe.ConfigFile != "" {
		path := pe.ConfigFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(t.dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: config-file: %w", f, err)
		}
		raw = b
	} else {
		b, err := yaml.Marshal(&pe.Config)
		if err != nil {
			return nil, fmt.Errorf("%s: config: %w", f, err)
		}
		raw = b
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var c config.Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: config: %w", f, err)
	}
	if c.Name == "" {
		c.Name = pe.Name
	}
	if c.Mode != "" && c.Mode != config.ModePE {
		return nil, fmt.Errorf("%s: config mode %q: a PE runs mode pe", f, c.Mode)
	}
	if c.ASN == 0 {
		c.ASN = t.ASN
	}
	if c.ASN != t.ASN {
		return nil, fmt.Errorf("%s: config asn %d: the fabric is AS %d (iBGP)", f, c.ASN, t.ASN)
	}
	rid, err := netip.ParseAddr(c.RouterID)
	if err != nil {
		return nil, fmt.Errorf("%s: config router-id %q: want an IPv4 address", f, c.RouterID)
	}
	if c.BGP.Listen == "" {
		c.BGP.Listen = netip.AddrPortFrom(rid, t.BGPPort).String()
	}
	if len(c.BGP.Neighbors) == 0 {
		for _, rr := range t.RouteReflectors {
			c.BGP.Neighbors = append(c.BGP.Neighbors, config.Neighbor{
				Address: rr.Address, Port: t.BGPPort, LocalAddress: c.RouterID,
				HoldTime: t.Timers.HoldTime, Keepalive: t.Timers.Keepalive, ConnectRetry: t.Timers.ConnectRetry,
			})
		}
	}
	if c.Core.SourceMAC == "" {
		c.Core.SourceMAC = coreMAC(i)
	}
	if c.Core.NextHopMAC == "" {
		c.Core.NextHopMAC = t.Core.MAC
	}
	if len(c.Core.TransportLabels) == 0 {
		c.Core.TransportLabels = map[string]uint32{}
		for j := range t.PEs {
			if j == i {
				continue
			}
			other, err := t.routerID(j)
			if err != nil {
				return nil, err
			}
			c.Core.TransportLabels[other] = t.TransportLabel(j)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: config: %w", f, err)
	}
	return &c, nil
}

// routerID reads PE j's router id without filling anything (PEConfig of
// one PE needs the others').
func (t *Topology) routerID(j int) (string, error) {
	pe := t.PEs[j]
	var raw []byte
	if pe.ConfigFile != "" {
		path := pe.ConfigFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(t.dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("pes[%d] %s: config-file: %w", j, pe.Name, err)
		}
		raw = b
	} else {
		b, err := yaml.Marshal(&pe.Config)
		if err != nil {
			return "", fmt.Errorf("pes[%d] %s: config: %w", j, pe.Name, err)
		}
		raw = b
	}
	var c struct {
		RouterID string `yaml:"router-id"`
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		return "", fmt.Errorf("pes[%d] %s: config: %w", j, pe.Name, err)
	}
	if a, err := netip.ParseAddr(c.RouterID); err != nil || !a.Is4() {
		return "", fmt.Errorf("pes[%d] %s: config router-id %q: want an IPv4 address", j, pe.Name, c.RouterID)
	}
	return c.RouterID, nil
}

// rrRestartTime is the graceful-restart time a reflector advertises. How
// long it keeps a PE's routes is the PE's own restart time.
const rrRestartTime = 30 * time.Second

// RRConfig returns the evpnd config of route reflector i (kind evpnd):
// route-reflector mode, a passive client session to every PE.
func (t *Topology) RRConfig(i int) (*config.Config, error) {
	rr := t.RouteReflectors[i]
	c := &config.Config{
		Name: rr.Name, Mode: config.ModeRouteReflector, RouterID: rr.Address, ASN: t.ASN,
		// Graceful restart with the RFC 8538 N bit (on by default): the
		// reflector is the helper that keeps a restarting PE's routes,
		// including across the Cease/Administrative Reset a PE's evpnd sends
		// when its controller stops.
		BGP: config.BGP{
			Listen:          netip.AddrPortFrom(netip.MustParseAddr(rr.Address), t.BGPPort).String(),
			GracefulRestart: rrRestartTime,
		},
	}
	for j := range t.PEs {
		rid, err := t.routerID(j)
		if err != nil {
			return nil, err
		}
		c.BGP.Neighbors = append(c.BGP.Neighbors, config.Neighbor{
			Address: rid, Port: t.BGPPort, LocalAddress: rr.Address, RouteReflectorClient: true, Passive: true,
			HoldTime: t.Timers.HoldTime, Keepalive: t.Timers.Keepalive, ConnectRetry: t.Timers.ConnectRetry,
		})
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("route-reflectors[%d] %s: %w", i, rr.Name, err)
	}
	return c, nil
}
