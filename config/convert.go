package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/bgp"
	"github.com/p4evpn/p4evpn/evpn"
	"github.com/p4evpn/p4evpn/evpn/route"
)

func parseMAC(s string) (route.MAC, error) { return route.ParseMAC(s) }

// parseESI returns the canonical text of an ESI, to compare segments.
func parseESI(s string) (string, error) {
	e, err := route.ParseESI(s)
	if err != nil {
		return "", err
	}
	if e.IsZero() {
		return "", fmt.Errorf("the zero ESI means single-homed and names no segment")
	}
	switch e.Type() {
	case route.ESIType0Operator, route.ESIType1LACP, route.ESIType3MAC:
	default:
		return "", fmt.Errorf("ESI type %d: p4evpn supports types 0, 1 and 3", e.Type())
	}
	return e.String(), nil
}

func parseRD(s string) (route.RD, error) { return route.ParseRD(s) }

func parseRT(s string) (route.RouteTarget, error) { return route.ParseRouteTarget(s) }

func splitHostPort(s string) (string, string, error) {
	h, p, err := net.SplitHostPort(s)
	if err == nil && p == "" {
		err = fmt.Errorf("no port")
	}
	return h, p, err
}

// RouterIDAddr returns the validated router id.
func (c *Config) RouterIDAddr() netip.Addr { return netip.MustParseAddr(c.RouterID) }

// SlogLevel returns the configured log level (info by default).
func (c *Config) SlogLevel() slog.Level {
	switch strings.ToLower(c.LogLevel) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// BGPConfig returns the speaker's configuration. A PE imports the route
// targets of its EVIs and the ES-import targets of its segments; a route
// reflector accepts everything.
func (c *Config) BGPConfig() (bgp.Config, error) {
	out := bgp.Config{RouterID: c.RouterIDAddr(), ASN: c.ASN, IdleHoldTime: c.BGP.IdleHoldTime}
	if c.BGP.Listen != "" {
		ap := netip.MustParseAddrPort(c.BGP.Listen)
		out.ListenAddress, out.ListenPort = ap.Addr(), ap.Port()
	}
	if c.BGP.GracefulRestart > 0 {
		n := c.BGP.GracefulRestartNotification
		out.GracefulRestart = &bgp.GracefulRestart{RestartTime: c.BGP.GracefulRestart, Notification: n == nil || *n}
	}
	for _, n := range c.BGP.Neighbors {
		nb := bgp.Neighbor{
			Address: netip.MustParseAddr(n.Address), Port: n.Port, ASN: n.ASN,
			RouteReflectorClient: n.RouteReflectorClient, Password: n.Password,
			HoldTime: n.HoldTime, KeepaliveInterval: n.Keepalive, ConnectRetry: n.ConnectRetry,
			Passive: n.Passive,
		}
		if nb.ASN == 0 {
			nb.ASN = c.ASN // iBGP to the route reflectors by default
		}
		if n.LocalAddress != "" {
			nb.LocalAddress = netip.MustParseAddr(n.LocalAddress)
		}
		out.Neighbors = append(out.Neighbors, nb)
	}
	if c.Mode == ModeRouteReflector {
		out.Import.All = true
		return out, nil
	}
	evis, err := c.EVIConfigs()
	if err != nil {
		return bgp.Config{}, err
	}
	seen := map[route.RouteTarget]bool{}
	for _, e := range evis {
		rts := e.ImportRTs
		if len(rts) == 0 {
			rts = []route.RouteTarget{route.AutoRouteTarget(c.ASN, e.ID)}
		}
		for _, rt := range rts {
			if !seen[rt] {
				seen[rt] = true
				out.Import.RouteTargets = append(out.Import.RouteTargets, rt)
			}
		}
	}
	segs, err := c.SegmentConfigs()
	if err != nil {
		return bgp.Config{}, err
	}
	for _, s := range segs {
		out.Import.ESImport = append(out.Import.ESImport, s.ESI.ESImportRT())
	}
	return out, nil
}

// PEConfig returns the EVPN configuration without its Speaker, Switch,
// Clock and Logger, which the caller supplies.
func (c *Config) PEConfig() (evpn.Config, error) {
	src, err := route.ParseMAC(c.Core.SourceMAC)
	if err != nil {
		return evpn.Config{}, fmt.Errorf("core.source-mac: %w", err)
	}
	nh, err := route.ParseMAC(c.Core.NextHopMAC)
	if err != nil {
		return evpn.Config{}, fmt.Errorf("core.next-hop-mac: %w", err)
	}
	out := evpn.Config{
		RouterID: c.RouterIDAddr(),
		ASN:      c.ASN,
		Labels:   evpn.LabelRange{First: c.Labels.First, Last: c.Labels.Last},
		Core: evpn.Core{
			Port: asic.PortID(c.Core.Port), SourceMAC: src, NextHopMAC: nh,
			ControlWord: c.Core.ControlWord, TransportLabels: map[netip.Addr]uint32{},
		},
		MACAgeing:     c.Timers.MACAgeing,
		ElectionTimer: c.Timers.ElectionTimer,
		DuplicateDetection: evpn.DuplicateDetection{
			Moves: c.Timers.DuplicateMoves, Window: c.Timers.DuplicateWindow, Recovery: c.Timers.DuplicateRecovery,
		},
	}
	for a, l := range c.Core.TransportLabels {
		out.Core.TransportLabels[netip.MustParseAddr(a)] = l
	}
	return out, nil
}

// SwitchPorts returns the ports the switch must know, with their kinds.
func (c *Config) SwitchPorts() []asic.Port {
	var out []asic.Port
	for _, p := range c.Ports {
		k := asic.PortAccess
		if p.Kind == "core" {
			k = asic.PortCore
		}
		out = append(out, asic.Port{ID: asic.PortID(p.ID), Kind: k})
	}
	return out
}

// SegmentConfigs returns the Ethernet segments in file order: add them
// before the EVIs whose ACs use them.
func (c *Config) SegmentConfigs() ([]evpn.SegmentConfig, error) {
	var out []evpn.SegmentConfig
	for i, s := range c.Segments {
		esi, err := route.ParseESI(s.ESI)
		if err != nil {
			return nil, fmt.Errorf("ethernet-segments[%d].esi: %w", i, err)
		}
		sc := evpn.SegmentConfig{ESI: esi, ElectionTimer: s.ElectionTimer}
		if s.Redundancy == "single-active" {
			sc.Redundancy = evpn.SingleActive
		}
		switch s.DFAlgorithm {
		case "hrw":
			sc.DF.Algorithm = route.DFHRW
		case "preference":
			sc.DF.Algorithm = route.DFPreference
			sc.DF.Preference, sc.DF.NonRevertive = s.Preference, s.NonRevertive
		default:
			sc.DF.Algorithm = route.DFModulo
		}
		out = append(out, sc)
	}
	return out, nil
}

func (c *Config) segmentESI(name string) route.ESI {
	for _, s := range c.Segments {
		if s.Name == name {
			e, _ := route.ParseESI(s.ESI)
			return e
		}
	}
	return route.ESI{}
}

// EVIConfigs returns the EVIs in file order.
func (c *Config) EVIConfigs() ([]evpn.EVIConfig, error) {
	var out []evpn.EVIConfig
	for i, e := range c.EVIs {
		f := fmt.Sprintf("evis[%d]", i)
		ec := evpn.EVIConfig{ID: e.ID, BD: asic.BridgeDomainID(e.BD), VLAN: e.VLAN, MACLimit: e.MACLimit}
		if e.RD != "" && e.RD != "auto" {
			rd, err := route.ParseRD(e.RD)
			if err != nil {
				return nil, fmt.Errorf("%s.rd: %w", f, err)
			}
			ec.RD = &rd
		}
		parse := func(list []string, name string) ([]route.RouteTarget, error) {
			var rts []route.RouteTarget
			for k, s := range list {
				rt, err := route.ParseRouteTarget(s)
				if err != nil {
					return nil, fmt.Errorf("%s.%s[%d]: %w", f, name, k, err)
				}
				rts = append(rts, rt)
			}
			return rts, nil
		}
		both, err := parse(e.RouteTargets, "route-targets")
		if err != nil {
			return nil, err
		}
		imp, err := parse(e.ImportRTs, "import-route-targets")
		if err != nil {
			return nil, err
		}
		exp, err := parse(e.ExportRTs, "export-route-targets")
		if err != nil {
			return nil, err
		}
		ec.ImportRTs = append(append([]route.RouteTarget(nil), both...), imp...)
		ec.ExportRTs = append(append([]route.RouteTarget(nil), both...), exp...)
		for _, ac := range e.ACs {
			ec.ACs = append(ec.ACs, evpn.ACConfig{
				ID: asic.ACID(ac.ID), Port: asic.PortID(ac.Port), VLAN: ac.VLAN, InnerVLAN: ac.InnerVLAN,
				ESI: c.segmentESI(ac.Segment), MACLimit: ac.MACLimit,
			})
		}
		for k, s := range e.StaticMACs {
			m, err := route.ParseMAC(s.MAC)
			if err != nil {
				return nil, fmt.Errorf("%s.static-macs[%d].mac: %w", f, k, err)
			}
			ec.StaticMACs = append(ec.StaticMACs, evpn.StaticMAC{MAC: m, AC: asic.ACID(s.AC)})
		}
		out = append(out, ec)
	}
	return out, nil
}
