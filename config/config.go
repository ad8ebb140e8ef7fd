// Package config is evpnd's configuration file: a YAML document, decoded
// strictly (an unknown key is an error) and validated with errors that name
// the field and the value, then converted into the configurations of the
// parts evpnd builds (bgp.Config, evpn.Config, evpn.EVIConfig,
// evpn.SegmentConfig). See testdata/pe1.yaml for a documented example.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Mode is what the daemon runs as.
type Mode string

// Modes.
const (
	// ModePE is a provider edge: BGP, EVPN logic and a switch.
	ModePE Mode = "pe"
	// ModeRouteReflector is a control-plane-only EVPN route reflector
	// (the seed's advice: virtual RRs on x86 servers); no switch.
	ModeRouteReflector Mode = "route-reflector"
)

// Config is the whole file.
type Config struct {
	// Name labels logs and metrics; defaults to the router id.
	Name     string `yaml:"name"`
	Mode     Mode   `yaml:"mode"`
	RouterID string `yaml:"router-id"`
	ASN      uint32 `yaml:"asn"`

	BGP      BGP       `yaml:"bgp"`
	Target   Target    `yaml:"target"`
	Ports    []Port    `yaml:"ports"`
	Core     Core      `yaml:"core"`
	Labels   Labels    `yaml:"labels"`
	Timers   Timers    `yaml:"timers"`
	Segments []Segment `yaml:"ethernet-segments"`
	EVIs     []EVI     `yaml:"evis"`
	GNMI     GNMI      `yaml:"gnmi"`
	// Metrics is the listen address of the Prometheus /metrics endpoint
	// (and the local operator API); empty disables it.
	Metrics string `yaml:"metrics"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log-level"`
}

// BGP configures the speaker.
type BGP struct {
	// Listen is ADDRESS:PORT to accept sessions on; empty means dial only.
	Listen string `yaml:"listen"`
	// GracefulRestart is the restart time advertised (RFC 4724); 0 disables
	// graceful restart.
	GracefulRestart time.Duration `yaml:"graceful-restart"`
	// GracefulRestartNotification advertises the RFC 8538 N bit with
	// graceful restart; unset means on (FRR's default too). With it, a
	// NOTIFICATION other than Hard Reset keeps routes at both ends, and an
	// evpnd that stops (or restarts its controller) ends its sessions with
	// Cease/Administrative Reset, so neighbors keep its routes for the
	// restart time instead of withdrawing them.
	GracefulRestartNotification *bool `yaml:"graceful-restart-notification"`
	// IdleHoldTime is how long a session stays Idle after it ends, refusing
	// the neighbor's connection and not dialing it (RFC 4271
	// IdleHoldTimer). The default 0 lets a restarted neighbor back at once;
	// GoBGP's own 5 s made every controller restart of a PE wait about 8 s
	// for its session. Dialing still waits connect-retry (with jitter).
	IdleHoldTime time.Duration `yaml:"idle-hold-time"`
	Neighbors    []Neighbor    `yaml:"neighbors"`
}

// Neighbor is one BGP peer: a route reflector, or a client when this daemon
// is the reflector.
type Neighbor struct {
	Address      string        `yaml:"address"`
	Port         uint16        `yaml:"port"`
	ASN          uint32        `yaml:"asn"`
	LocalAddress string        `yaml:"local-address"`
	Password     string        `yaml:"password"`
	HoldTime     time.Duration `yaml:"hold-time"`
	Keepalive    time.Duration `yaml:"keepalive"`
	ConnectRetry time.Duration `yaml:"connect-retry"`
	Passive      bool          `yaml:"passive"`
	// RouteReflectorClient marks a client of this daemon (route-reflector mode).
	RouteReflectorClient bool `yaml:"route-reflector-client"`
}

// Target is the P4Runtime switch the PE programs.
type Target struct {
	// Address of a P4Runtime server (BMv2, a hardware switch): HOST:PORT,
	// or unix:///PATH for a Unix socket (a target in another network
	// namespace). Empty runs the embedded softswitch in-process.
	Address  string `yaml:"address"`
	DeviceID uint64 `yaml:"device-id"`
	// ElectionID is this controller's election id; ElectionIDFile instead
	// keeps a counter that grows on every start, so a restarted evpnd
	// always outranks its previous incarnation (P4Runtime §5).
	ElectionID     uint64 `yaml:"election-id"`
	ElectionIDFile string `yaml:"election-id-file"`
	// P4Info and JSON default to the program compiled into evpnd (p4/build).
	P4Info string `yaml:"p4info"`
	JSON   string `yaml:"json"`
	// CPUPort is the port that carries packet-in/packet-out (default 255).
	CPUPort uint32 `yaml:"cpu-port"`
	// Interfaces maps embedded-softswitch ports to Linux interfaces
	// (AF_PACKET, root); ports not listed are in-memory.
	Interfaces map[uint32]string `yaml:"interfaces"`
	// LearningDigestDelay is how long the target may buffer learned MACs
	// before it sends them (P4Runtime DigestEntry max_timeout_ns): a
	// learn's latency against fewer, larger messages. Unset means 1ms; 0
	// means each learned MAC is sent at once (lists of one). Set 0 on BMv2:
	// its PI server raises any other value below 100ms to 100ms.
	LearningDigestDelay *time.Duration `yaml:"learning-digest-delay"`
}

// DefaultLearningDigestDelay is Target.LearningDigestDelay when unset.
const DefaultLearningDigestDelay = time.Millisecond

// DigestDelay is the effective learning digest delay.
func (t Target) DigestDelay() time.Duration {
	if t.LearningDigestDelay == nil {
		return DefaultLearningDigestDelay
	}
	return *t.LearningDigestDelay
}

// Port is one switch port and the side it faces.
type Port struct {
	ID   uint32 `yaml:"id"`
	Kind string `yaml:"kind"` // access or core
}

// Core says how frames reach remote PEs.
type Core struct {
	Port        uint32 `yaml:"port"`
	SourceMAC   string `yaml:"source-mac"`
	NextHopMAC  string `yaml:"next-hop-mac"`
	ControlWord bool   `yaml:"control-word"`
	// TransportLabels maps a remote PE's address to the label that reaches
	// it through the core; absent means the PE is directly reachable.
	TransportLabels map[string]uint32 `yaml:"transport-labels"`
}

// Labels is the range of MPLS labels this PE allocates from.
type Labels struct {
	First uint32 `yaml:"first"`
	Last  uint32 `yaml:"last"`
}

// Timers tunes ageing, DF election and duplicate MAC detection; zero keeps
// the RFC defaults.
type Timers struct {
	MACAgeing     time.Duration `yaml:"mac-ageing"`
	ElectionTimer time.Duration `yaml:"election-timer"`
	// DuplicateMoves moves within DuplicateWindow freeze a MAC (RFC 7432
	// §15.1: default 5 in 180 s); DuplicateRecovery unfreezes it after.
	DuplicateMoves    int           `yaml:"duplicate-moves"`
	DuplicateWindow   time.Duration `yaml:"duplicate-window"`
	DuplicateRecovery time.Duration `yaml:"duplicate-recovery"`
	// RestartSettle is how long BGP must stay quiet, once every session is
	// up, before a restarted evpnd reconciles the switch (default 1s);
	// RestartDeadline reconciles anyway after that long (default 60s).
	// GoBGP reports no End-of-RIB, so quiet is the convergence signal.
	RestartSettle   time.Duration `yaml:"restart-settle"`
	RestartDeadline time.Duration `yaml:"restart-deadline"`
	// TelemetryInterval is how often BGP neighbor state and switch
	// counters are read for gNMI (default 5s; peer events refresh at once).
	TelemetryInterval time.Duration `yaml:"telemetry-interval"`
}

// Segment is a local Ethernet segment.
type Segment struct {
	Name string `yaml:"name"`
	ESI  string `yaml:"esi"`
	// Redundancy is all-active (default) or single-active.
	Redundancy string `yaml:"redundancy"`
	// DFAlgorithm is modulo (default), hrw or preference.
	DFAlgorithm   string        `yaml:"df-algorithm"`
	Preference    uint16        `yaml:"preference"`
	NonRevertive  bool          `yaml:"non-revertive"`
	ElectionTimer time.Duration `yaml:"election-timer"`
}

// EVI is a MAC-VRF with VLAN-based service.
type EVI struct {
	ID uint32 `yaml:"id"`
	// Name is the MAC-VRF's network-instance name in gNMI; defaults to
	// "evi" followed by the id.
	Name string `yaml:"name"`
	// BD is the bridge domain id in the switch; defaults to ID.
	BD uint32 `yaml:"bd"`
	// VLAN is the VLAN DF election carves on; defaults to ID.
	VLAN uint16 `yaml:"vlan"`
	// RD defaults to ROUTER-ID:ID; route targets default to ASN:ID.
	RD           string      `yaml:"rd"`
	RouteTargets []string    `yaml:"route-targets"`
	ImportRTs    []string    `yaml:"import-route-targets"`
	ExportRTs    []string    `yaml:"export-route-targets"`
	MACLimit     int         `yaml:"mac-limit"`
	ACs          []AC        `yaml:"attachment-circuits"`
	StaticMACs   []StaticMAC `yaml:"static-macs"`
}

// AC is an attachment circuit: a VLAN on an access port.
type AC struct {
	ID        uint32 `yaml:"id"`
	Port      uint32 `yaml:"port"`
	VLAN      uint16 `yaml:"vlan"`
	InnerVLAN uint16 `yaml:"inner-vlan"`
	// Segment names an entry of ethernet-segments; empty is single-homed.
	Segment  string `yaml:"ethernet-segment"`
	MACLimit int    `yaml:"mac-limit"`
}

// StaticMAC pins a MAC to an AC: advertised sticky, never aged or moved.
type StaticMAC struct {
	MAC string `yaml:"mac"`
	AC  uint32 `yaml:"ac"`
}

// GNMI configures the gNMI server.
type GNMI struct {
	// Listen is ADDRESS:PORT; empty disables gNMI.
	Listen string `yaml:"listen"`
	// Plaintext serves without TLS: only for a testbed on loopback.
	Plaintext bool   `yaml:"plaintext"`
	Cert      string `yaml:"cert"`
	Key       string `yaml:"key"`
	// ClientCA, when set, requires and verifies client certificates.
	ClientCA string `yaml:"client-ca"`
	// Users are the accepted credentials; with none (plaintext only) every
	// caller may read and write.
	Users []User `yaml:"users"`
}

// User is a gNMI user (username/password in metadata).
type User struct {
	Name     string `yaml:"name"`
	Password string `yaml:"password"`
	// ReadWrite allows Set; otherwise the user may only Get and Subscribe.
	ReadWrite bool `yaml:"read-write"`
}

// Load reads, decodes and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates a YAML document. Unknown keys are errors, so
// a misspelt option never silently falls back to its default.
func Parse(b []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty document")
		}
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// fieldError names the field path and the value that failed.
type fieldError struct {
	field string
	value any
	why   string
}

func (e *fieldError) Error() string {
	return fmt.Sprintf("%s: %v: %s", e.field, e.value, e.why)
}

func bad(field string, value any, why string, args ...any) error {
	return &fieldError{field: field, value: value, why: fmt.Sprintf(why, args...)}
}

// Validate checks every field and fills defaults. It returns every problem
// found, joined, so an operator fixes a file in one pass.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.Mode == "" {
		c.Mode = ModePE
	}
	if c.Mode != ModePE && c.Mode != ModeRouteReflector {
		add(bad("mode", c.Mode, "want pe or route-reflector"))
	}
	if rid, err := netip.ParseAddr(c.RouterID); err != nil || !rid.Is4() {
		add(bad("router-id", strconv.Quote(c.RouterID), "want an IPv4 address"))
	}
	if c.Name == "" {
		c.Name = c.RouterID
	}
	if c.ASN == 0 {
		add(bad("asn", c.ASN, "want an AS number 1-4294967295"))
	}
	if c.BGP.Listen != "" {
		if _, err := netip.ParseAddrPort(c.BGP.Listen); err != nil {
			add(bad("bgp.listen", strconv.Quote(c.BGP.Listen), "want ADDRESS:PORT"))
		}
	}
	if c.BGP.GracefulRestart < 0 || c.BGP.GracefulRestart > 4095*time.Second {
		add(bad("bgp.graceful-restart", c.BGP.GracefulRestart, "want 0 (off) to 4095s"))
	}
	if n := c.BGP.GracefulRestartNotification; n != nil && *n && c.BGP.GracefulRestart == 0 {
		add(bad("bgp.graceful-restart-notification", *n, "needs bgp.graceful-restart"))
	}
	if c.BGP.IdleHoldTime < 0 {
		add(bad("bgp.idle-hold-time", c.BGP.IdleHoldTime, "must not be negative"))
	}
	seenPeer := map[string]bool{}
	for i, n := range c.BGP.Neighbors {
		f := fmt.Sprintf("bgp.neighbors[%d]", i)
		if _, err := netip.ParseAddr(n.Address); err != nil {
			add(bad(f+".address", strconv.Quote(n.Address), "want an IP address"))
		} else if seenPeer[n.Address] {
			add(bad(f+".address", n.Address, "configured twice"))
		}
		seenPeer[n.Address] = true
		if n.LocalAddress != "" {
			if _, err := netip.ParseAddr(n.LocalAddress); err != nil {
				add(bad(f+".local-address", strconv.Quote(n.LocalAddress), "want an IP address"))
			}
		}
		if n.HoldTime != 0 && n.HoldTime < 3*time.Second {
			add(bad(f+".hold-time", n.HoldTime, "want 0 (default) or at least 3s (RFC 4271 §4.2)"))
		}
		if n.Keepalive != 0 && n.HoldTime != 0 && n.Keepalive >= n.HoldTime {
			add(bad(f+".keepalive", n.Keepalive, "must be shorter than hold-time %v", n.HoldTime))
		}
		if n.RouteReflectorClient && c.Mode != ModeRouteReflector {
			add(bad(f+".route-reflector-client", true, "only a route-reflector has clients"))
		}
	}
	if c.Mode == ModeRouteReflector {
		if len(c.Ports) > 0 || len(c.EVIs) > 0 || len(c.Segments) > 0 || c.Target.Address != "" {
			add(bad("mode", c.Mode, "a route reflector has no switch: remove ports, evis, ethernet-segments and target"))
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		return nil
	}
	c.validateSwitch(add)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

func (c *Config) validateSwitch(add func(error)) {
	if a := c.Target.Address; strings.HasPrefix(a, "unix:") {
		if p := strings.TrimPrefix(strings.TrimPrefix(a, "unix:"), "//"); !strings.HasPrefix(p, "/") || p == "/" {
			add(bad("target.address", strconv.Quote(a), "want unix:///ABSOLUTE/PATH for a Unix socket"))
		}
	} else if a != "" {
		if _, _, err := splitHostPort(a); err != nil {
			add(bad("target.address", strconv.Quote(a), "want HOST:PORT or unix:///PATH"))
		}
	}
	if d := c.Target.DigestDelay(); d < 0 || d > time.Second {
		add(bad("target.learning-digest-delay", d, "want 0 (send each at once) up to 1s"))
	}
	if c.Target.ElectionID != 0 && c.Target.ElectionIDFile != "" {
		add(bad("target.election-id", c.Target.ElectionID, "set election-id or election-id-file, not both"))
	}
	if c.Target.CPUPort == 0 {
		c.Target.CPUPort = 255
	}
	if c.Target.CPUPort > 511 {
		add(bad("target.cpu-port", c.Target.CPUPort, "want a v1model port 1-510"))
	}
	if (c.Target.P4Info == "") != (c.Target.JSON == "") {
		add(bad("target.p4info", strconv.Quote(c.Target.P4Info), "set both p4info and json, or neither (the built-in program)"))
	}
	if c.Target.Address != "" && len(c.Target.Interfaces) > 0 {
		add(bad("target.interfaces", len(c.Target.Interfaces), "interfaces belong to the embedded softswitch; a remote target has its own"))
	}

	ports := map[uint32]string{}
	for i, p := range c.Ports {
		f := fmt.Sprintf("ports[%d]", i)
		if p.ID == 0 || p.ID > 510 || p.ID == c.Target.CPUPort {
			add(bad(f+".id", p.ID, "want a port 1-510 other than the CPU port %d", c.Target.CPUPort))
		}
		if _, dup := ports[p.ID]; dup {
			add(bad(f+".id", p.ID, "configured twice"))
		}
		if p.Kind != "access" && p.Kind != "core" {
			add(bad(f+".kind", strconv.Quote(p.Kind), "want access or core"))
		}
		ports[p.ID] = p.Kind
	}
	if c.Core.Port == 0 {
		add(bad("core.port", c.Core.Port, "a PE needs a core port"))
	} else if ports[c.Core.Port] != "core" {
		add(bad("core.port", c.Core.Port, "not a port of kind core in ports"))
	}
	for _, m := range []struct{ field, v string }{{"core.source-mac", c.Core.SourceMAC}, {"core.next-hop-mac", c.Core.NextHopMAC}} {
		if _, err := parseMAC(m.v); err != nil {
			add(bad(m.field, strconv.Quote(m.v), "want a MAC address aa:bb:cc:dd:ee:ff"))
		}
	}
	for addr, l := range c.Core.TransportLabels {
		if _, err := netip.ParseAddr(addr); err != nil {
			add(bad("core.transport-labels", strconv.Quote(addr), "key must be a remote PE address"))
		}
		if l < 16 || l > 1<<20-1 {
			add(bad("core.transport-labels["+addr+"]", l, "want an MPLS label 16-1048575"))
		}
	}
	if c.Labels.First == 0 && c.Labels.Last == 0 {
		c.Labels = Labels{First: 100000, Last: 199999}
	}
	if c.Labels.First < 16 || c.Labels.Last > 1<<20-1 || c.Labels.First > c.Labels.Last {
		add(bad("labels", fmt.Sprintf("%d-%d", c.Labels.First, c.Labels.Last), "want first <= last within 16-1048575"))
	}
	t := c.Timers
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"timers.mac-ageing", t.MACAgeing}, {"timers.election-timer", t.ElectionTimer}, {"timers.duplicate-window", t.DuplicateWindow},
		{"timers.duplicate-recovery", t.DuplicateRecovery}, {"timers.restart-settle", t.RestartSettle},
		{"timers.restart-deadline", t.RestartDeadline}, {"timers.telemetry-interval", t.TelemetryInterval}} {
		if d.v < 0 {
			add(bad(d.field, d.v, "must not be negative"))
		}
	}
	if c.Timers.RestartSettle == 0 {
		c.Timers.RestartSettle = time.Second
	}
	if c.Timers.RestartDeadline == 0 {
		c.Timers.RestartDeadline = time.Minute
	}
	if t.DuplicateMoves < 0 {
		add(bad("timers.duplicate-moves", t.DuplicateMoves, "must not be negative"))
	}

	segs := map[string]bool{}
	esis := map[string]bool{}
	for i, s := range c.Segments {
		f := fmt.Sprintf("ethernet-segments[%d]", i)
		if s.Name == "" {
			add(bad(f+".name", `""`, "a segment needs a name"))
		} else if segs[s.Name] {
			add(bad(f+".name", s.Name, "configured twice"))
		}
		segs[s.Name] = true
		if e, err := parseESI(s.ESI); err != nil {
			add(bad(f+".esi", strconv.Quote(s.ESI), "%v", err))
		} else if esis[e] {
			add(bad(f+".esi", s.ESI, "used by two segments"))
		} else {
			esis[e] = true
		}
		switch s.Redundancy {
		case "", "all-active", "single-active":
		default:
			add(bad(f+".redundancy", strconv.Quote(s.Redundancy), "want all-active or single-active"))
		}
		switch s.DFAlgorithm {
		case "", "modulo", "hrw", "preference":
		default:
			add(bad(f+".df-algorithm", strconv.Quote(s.DFAlgorithm), "want modulo, hrw or preference"))
		}
		if s.DFAlgorithm != "preference" && (s.Preference != 0 || s.NonRevertive) {
			add(bad(f+".preference", s.Preference, "preference and non-revertive apply only to df-algorithm preference"))
		}
		if s.ElectionTimer < 0 {
			add(bad(f+".election-timer", s.ElectionTimer, "must not be negative"))
		}
	}

	eviIDs := map[uint32]bool{}
	eviNames := map[string]bool{}
	bds := map[uint32]bool{}
	acIDs := map[uint32]bool{}
	type portVLAN struct {
		port        uint32
		vlan, inner uint16
	}
	circuits := map[portVLAN]string{}
	for i := range c.EVIs {
		e := &c.EVIs[i]
		f := fmt.Sprintf("evis[%d]", i)
		if e.ID == 0 || e.ID > 0xFFFF {
			add(bad(f+".id", e.ID, "want an EVI 1-65535"))
		} else if eviIDs[e.ID] {
			add(bad(f+".id", e.ID, "configured twice"))
		}
		eviIDs[e.ID] = true
		if e.Name == "" {
			e.Name = fmt.Sprintf("evi%d", e.ID)
		}
		if eviNames[e.Name] || e.Name == "DEFAULT" {
			add(bad(f+".name", strconv.Quote(e.Name), "used twice (DEFAULT is the BGP instance)"))
		}
		eviNames[e.Name] = true
		if e.BD == 0 {
			e.BD = e.ID
		}
		if e.BD > 4095 {
			add(bad(f+".bd", e.BD, "want a bridge domain 1-4095 (set bd when the EVI id is larger)"))
		} else if bds[e.BD] {
			add(bad(f+".bd", e.BD, "used by two EVIs"))
		}
		bds[e.BD] = true
		if e.VLAN == 0 && e.ID <= 4094 {
			e.VLAN = uint16(e.ID)
		}
		if e.VLAN == 0 || e.VLAN > 4094 {
			add(bad(f+".vlan", e.VLAN, "want a VLAN 1-4094"))
		}
		if e.RD != "" && e.RD != "auto" {
			if _, err := parseRD(e.RD); err != nil {
				add(bad(f+".rd", strconv.Quote(e.RD), "%v", err))
			}
		}
		for j, lists := range [][]string{e.RouteTargets, e.ImportRTs, e.ExportRTs} {
			name := [...]string{"route-targets", "import-route-targets", "export-route-targets"}[j]
			for k, rt := range lists {
				if _, err := parseRT(rt); err != nil {
					add(bad(fmt.Sprintf("%s.%s[%d]", f, name, k), strconv.Quote(rt), "%v", err))
				}
			}
		}
		if e.MACLimit < 0 {
			add(bad(f+".mac-limit", e.MACLimit, "must not be negative"))
		}
		evACs := map[uint32]bool{}
		for j, ac := range e.ACs {
			af := fmt.Sprintf("%s.attachment-circuits[%d]", f, j)
			if ac.ID == 0 || ac.ID > 1<<14-1 {
				add(bad(af+".id", ac.ID, "want an AC id 1-16383"))
			} else if acIDs[ac.ID] {
				add(bad(af+".id", ac.ID, "used twice"))
			}
			acIDs[ac.ID] = true
			evACs[ac.ID] = true
			if ports[ac.Port] != "access" {
				add(bad(af+".port", ac.Port, "not a port of kind access in ports"))
			}
			if ac.VLAN > 4094 || ac.InnerVLAN > 4094 || (ac.VLAN == 0 && ac.InnerVLAN != 0) {
				add(bad(af+".vlan", fmt.Sprintf("%d/%d", ac.VLAN, ac.InnerVLAN), "want VLAN 0 (untagged) or 1-4094, inner VLAN only under an outer one"))
			}
			key := portVLAN{ac.Port, ac.VLAN, ac.InnerVLAN}
			if other, dup := circuits[key]; dup {
				add(bad(af, fmt.Sprintf("port %d vlan %d/%d", ac.Port, ac.VLAN, ac.InnerVLAN), "already used by %s", other))
			}
			circuits[key] = af
			if ac.Segment != "" && !segs[ac.Segment] {
				add(bad(af+".ethernet-segment", strconv.Quote(ac.Segment), "no such entry in ethernet-segments"))
			}
			if ac.MACLimit < 0 {
				add(bad(af+".mac-limit", ac.MACLimit, "must not be negative"))
			}
		}
		for j, s := range e.StaticMACs {
			sf := fmt.Sprintf("%s.static-macs[%d]", f, j)
			if _, err := parseMAC(s.MAC); err != nil {
				add(bad(sf+".mac", strconv.Quote(s.MAC), "want a MAC address"))
			}
			if !evACs[s.AC] {
				add(bad(sf+".ac", s.AC, "not an attachment circuit of this EVI"))
			}
		}
	}
	g := c.GNMI
	if g.Listen != "" {
		if _, _, err := splitHostPort(g.Listen); err != nil {
			add(bad("gnmi.listen", strconv.Quote(g.Listen), "want HOST:PORT"))
		}
		if !g.Plaintext && (g.Cert == "" || g.Key == "") {
			add(bad("gnmi.cert", strconv.Quote(g.Cert), "TLS needs cert and key (or plaintext: true for a testbed)"))
		}
		if !g.Plaintext && len(g.Users) == 0 {
			add(bad("gnmi.users", "[]", "a TLS server needs users; without any, every caller could Set (allowed only with plaintext: true, for a testbed)"))
		}
	}
	users := map[string]bool{}
	for i, u := range g.Users {
		if u.Name == "" || users[u.Name] {
			add(bad(fmt.Sprintf("gnmi.users[%d].name", i), strconv.Quote(u.Name), "want a unique, non-empty name"))
		}
		users[u.Name] = true
	}
	if c.Metrics != "" {
		if _, _, err := splitHostPort(c.Metrics); err != nil {
			add(bad("metrics", strconv.Quote(c.Metrics), "want HOST:PORT"))
		}
	}
	switch strings.ToLower(c.LogLevel) {
	case "", "debug", "info", "warn", "error":
	default:
		add(bad("log-level", strconv.Quote(c.LogLevel), "want debug, info, warn or error"))
	}
}
