package evpn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// Speaker originates and withdraws this PE's routes. bgp.Speaker satisfies
// it. Calls are made in the order the PE decided them, never while the PE
// holds its lock, but one at a time: a Speaker must not call back into the
// PE synchronously (deliver received routes from another goroutine).
type Speaker interface {
	// Announce originates p, replacing any route with the same NLRI key.
	Announce(ctx context.Context, p route.Path) error
	// Withdraw withdraws the route with n's key.
	Withdraw(ctx context.Context, n route.NLRI) error
}

// Clock is the time source for ageing, DF election, duplicate detection and
// recovery, injectable so that tests run without sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d. It must not call f
	// before returning.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call; it reports false when the call already began.
	Stop() bool
}

// SystemClock is the Clock of the time package.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// LabelRange is the inclusive range of MPLS labels the PE allocates its
// per-EVI and per-ES labels from (RFC 7432 §7.2: the PE's own label space).
type LabelRange struct {
	First, Last uint32
}

// Core says how to reach remote PEs: the PE resolves every remote PE's
// address to a tunnel out of Port, from SourceMAC (the core port's own
// address) toward NextHopMAC, with the transport label TransportLabels
// holds for that address (none when absent: the remote PE is a direct
// neighbour or the core is label-switched by the next hop).
type Core struct {
	Port            asic.PortID
	SourceMAC       route.MAC
	NextHopMAC      route.MAC
	TransportLabels map[netip.Addr]uint32
	ControlWord     bool
}

// DuplicateDetection configures RFC 7432 §15.1 duplicate MAC detection: a
// MAC that moves Moves times within Window is frozen. Recovery, when
// non-zero, unfreezes it afterwards.
type DuplicateDetection struct {
	Moves    int
	Window   time.Duration
	Recovery time.Duration
}

// Config configures a PE.
type Config struct {
	// RouterID is the PE's address: route distinguishers, originator IP,
	// next hop, DF election and the MAC mobility tie-break use it.
	RouterID netip.Addr
	// ASN derives route targets when an EVI configures none (RFC 7432 §7.10.1).
	ASN    uint32
	Labels LabelRange
	Core   Core
	// MACAgeing is how long a local MAC lives without data-plane activity
	// (default 300 s); ages are checked every MACAgeing/10.
	MACAgeing time.Duration
	// SwitchAgeing hands ageing to the switch: learned FDB entries carry
	// IdleTimeout = MACAgeing, the switch raises asic.EventIdle, and the
	// PE's own sweep (driven by asic.EventActivity) is off.
	SwitchAgeing       bool
	DuplicateDetection DuplicateDetection
	// ElectionTimer delays DF election after a new candidate appears
	// (default 3 s, RFC 7432 §8.5).
	ElectionTimer time.Duration

	Speaker Speaker
	Switch  asic.Switch
	Clock   Clock
	Logger  *slog.Logger
}

// Defaults of Config and DuplicateDetection.
const (
	DefaultMACAgeing     = 300 * time.Second
	DefaultElectionTimer = 3 * time.Second
	DefaultDupMoves      = 5
	DefaultDupWindow     = 180 * time.Second
)

func (c *Config) validate() error {
	if !c.RouterID.IsValid() || !c.RouterID.Is4() {
		return fmt.Errorf("evpn config: router id %v must be an IPv4 address", c.RouterID)
	}
	if c.Labels.First < 16 || c.Labels.Last > route.MaxLabel || c.Labels.First > c.Labels.Last {
		return fmt.Errorf("evpn config: label range %d-%d must lie within 16-%d", c.Labels.First, c.Labels.Last, route.MaxLabel)
	}
	if c.Core.Port == 0 {
		return errors.New("evpn config: core port 0 is not a port")
	}
	if c.Speaker == nil || c.Switch == nil {
		return errors.New("evpn config: Speaker and Switch are required")
	}
	if c.MACAgeing == 0 {
		c.MACAgeing = DefaultMACAgeing
	}
	if c.ElectionTimer == 0 {
		c.ElectionTimer = DefaultElectionTimer
	}
	if c.DuplicateDetection.Moves == 0 {
		c.DuplicateDetection.Moves = DefaultDupMoves
	}
	if c.DuplicateDetection.Window == 0 {
		c.DuplicateDetection.Window = DefaultDupWindow
	}
	if c.MACAgeing < 0 || c.ElectionTimer < 0 || c.DuplicateDetection.Moves < 0 || c.DuplicateDetection.Window < 0 || c.DuplicateDetection.Recovery < 0 {
		return errors.New("evpn config: durations and move counts must not be negative")
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Redundancy is an Ethernet segment's multihoming mode (RFC 7432 §14).
type Redundancy uint8

// Multihoming modes.
const (
	AllActive Redundancy = iota
	SingleActive
)

// String implements fmt.Stringer.
func (r Redundancy) String() string {
	if r == SingleActive {
		return "single-active"
	}
	return "all-active"
}

// DFConfig configures DF election on a segment.
type DFConfig struct {
	Algorithm route.DFAlgorithm
	// Preference is this PE's RFC 9785 preference (higher wins);
	// NonRevertive keeps a DF in place when a more preferred PE returns
	// (it advertises the Don't Preempt bit while DF).
	Preference   uint16
	NonRevertive bool
}

// SegmentConfig configures a local Ethernet segment.
type SegmentConfig struct {
	// ESI is of type 0 (operator), 1 (LACP, route.ESIFromLACP) or 3 (MAC,
	// route.ESIFromMAC).
	ESI        route.ESI
	Redundancy Redundancy
	DF         DFConfig
	// ElectionTimer overrides Config.ElectionTimer for this segment
	// (OpenConfig's per-segment election-wait-time); 0 keeps the PE's.
	ElectionTimer time.Duration
}

// ACConfig configures an attachment circuit of an EVI.
type ACConfig struct {
	ID   asic.ACID
	Port asic.PortID
	// VLAN is the 802.1Q VLAN on Port, 0 for untagged; InnerVLAN the inner
	// tag of a double-tagged AC (0: single-tagged).
	VLAN      uint16
	InnerVLAN uint16
	// ESI, when non-zero, puts the AC on a segment added with AddSegment.
	ESI route.ESI
	// MACLimit bounds the local MACs learned on this AC (0: no limit).
	MACLimit int
}

// StaticMAC is a configured MAC: installed, advertised sticky, never aged
// and never moved (RFC 7432 §15.2).
type StaticMAC struct {
	MAC route.MAC
	AC  asic.ACID
}

// EVIConfig configures an EVI with VLAN-based service: one bridge domain.
type EVIConfig struct {
	// ID is the EVI number, 1-65535: it derives the RD and route targets.
	ID uint32
	// BD is the bridge domain id in the switch.
	BD asic.BridgeDomainID
	// VLAN is the VLAN the DF election carves on (RFC 7432 §8.5); default ID.
	VLAN uint16
	// RD defaults to RouterID:ID (RFC 7432 §7.9).
	RD *route.RD
	// ImportRTs and ExportRTs default to ASN:ID (RFC 7432 §7.10.1).
	ImportRTs, ExportRTs []route.RouteTarget
	// MACLimit bounds the local MACs of the EVI (0: no limit).
	MACLimit   int
	ACs        []ACConfig
	StaticMACs []StaticMAC
	// DuplicateDetection overrides Config.DuplicateDetection field by field
	// for this EVI (OpenConfig configures it per MAC-VRF); zero fields keep
	// the PE's.
	DuplicateDetection DuplicateDetection
}
