package bgp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/p4evpn/p4evpn/evpn/route"
)

// Config is a speaker's configuration. Every session carries only the
// l2vpn-evpn address family.
type Config struct {
	// RouterID is the BGP identifier; it is also the default next hop.
	RouterID netip.Addr
	// ASN is the local AS number.
	ASN uint32
	// ListenAddress is where the speaker accepts sessions; invalid means all
	// IPv4 addresses. ListenPort 0 means the speaker does not listen and only
	// dials its neighbors.
	ListenAddress netip.Addr
	ListenPort    uint16
	// NextHop is the next hop of announced paths that do not set one;
	// invalid means RouterID.
	NextHop netip.Addr
	// Neighbors are configured at start; AddNeighbor adds more later.
	Neighbors []Neighbor
	// GracefulRestart applies to every neighbor when not nil (RFC 4724).
	GracefulRestart *GracefulRestart
	// ClusterID makes this speaker a route reflector for the neighbors with
	// RouteReflectorClient set (RFC 4456); invalid means RouterID.
	ClusterID netip.Addr
	// Import selects which received paths become events.
	Import ImportPolicy
	// IdleHoldTime is how long a session stays Idle after it ends, before
	// the speaker dials the neighbor again or accepts its connection (RFC
	// 4271's IdleHoldTimer; connections that arrive meanwhile are
	// refused). Zero means no wait; GoBGP's own default is 5 s, which
	// makes a restarted neighbor that reconnects at once find its
	// connection refused and retry only after its own idle hold and
	// connect-retry jitter (p4evpn measured 8 s for a controller restart).
	// The retry jitter of an active session (1-2 s, then ConnectRetry)
	// still bounds how often a failing neighbor is dialed.
	IdleHoldTime time.Duration
}

// ImportPolicy filters received best paths before they become events:
// type-1, -2 and -3 routes need one of RouteTargets, type-4 routes one of
// ESImport. A path that stops matching (its route targets changed, or the
// policy did) is reported withdrawn.
type ImportPolicy struct {
	// All accepts every path, as a route reflector that also watches the
	// fabric does.
	All          bool
	RouteTargets []route.RouteTarget
	ESImport     []route.MAC
}

// Neighbor is one BGP session.
type Neighbor struct {
	Address netip.Addr
	// Port is the neighbor's TCP port; 0 means 179.
	Port uint16
	ASN  uint32
	// LocalAddress is the source address of the session; invalid lets the
	// kernel choose. Set it when several speakers share a host.
	LocalAddress netip.Addr
	// RouteReflectorClient marks the neighbor a client of this speaker,
	// which then reflects routes between clients (RFC 4456).
	RouteReflectorClient bool
	// Password enables TCP MD5 signatures (RFC 2385).
	Password string
	// HoldTime and KeepaliveInterval default to 90 s and a third of the
	// hold time; ConnectRetry defaults to 120 s (GoBGP's defaults).
	HoldTime          time.Duration
	KeepaliveInterval time.Duration
	ConnectRetry      time.Duration
	// Passive waits for the neighbor to connect.
	Passive bool
	// EBGPMultihopTTL allows an eBGP neighbor that many hops away; 0 keeps
	// the default of 1.
	EBGPMultihopTTL uint8
}

// GracefulRestart configures RFC 4724 for every session. A helper keeps a
// restarting neighbor's routes (marked stale) for the neighbor's restart time;
// a restarting speaker asks its neighbors to keep its routes while it comes
// back, and defers its own updates until it has the neighbors' End-of-RIB.
type GracefulRestart struct {
	// RestartTime is what this speaker advertises: how long neighbors keep
	// its routes after the session drops. At most 4095 s.
	RestartTime time.Duration
	// HelperOnly keeps neighbors' routes without advertising the restarting
	// capability for this speaker.
	HelperOnly bool
	// Restarting sets the R bit: this process is a restart of a speaker
	// whose forwarding state survived (evpnd after a restart). A
	// restarting speaker dials each neighbor at once, without the 1-2 s
	// jitter of GoBGP's first attempt, since the neighbor waits for it,
	// and retries after 100, 200, 400 and 800 ms while it is refused.
	Restarting bool
	// DeferralTime bounds how long a restarting speaker waits for
	// End-of-RIB; 0 means GoBGP's default (360 s).
	DeferralTime time.Duration
	// Notification advertises the N bit (RFC 8538): with a neighbor that
	// advertises it too, a NOTIFICATION other than Cease/Hard Reset starts
	// graceful restart instead of ending it, on both sides. Close then
	// ends such sessions with Cease/Administrative Reset, which the
	// neighbor answers by keeping this speaker's routes (stale) for
	// RestartTime, so a restarted process finds its routes still in place
	// at the neighbors; DeleteNeighbor still sends Cease/Peer
	// De-configured, which RFC 8538 turns into a Hard Reset that removes
	// them. Off, every NOTIFICATION ends graceful restart (RFC 4724) and
	// only a dropped TCP session keeps the routes.
	Notification bool
}

// Option adjusts how a speaker runs, as opposed to what it says on the wire.
type Option func(*options)

type options struct {
	logger *slog.Logger
	// eventBuffer is the capacity of the Events channel.
	eventBuffer int
}

// WithLogger sends the speaker's and GoBGP's logs to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithEventBuffer sets the capacity of the Events channel (default 1024).
// Events are never dropped: behind a full channel they wait in the
// speaker's own queue, which has no bound.
func WithEventBuffer(n int) Option { return func(o *options) { o.eventBuffer = n } }

func (c *Config) validate() error {
	var errs []error
	if !c.RouterID.Is4() {
		errs = append(errs, fmt.Errorf("router id %v: want an IPv4 address", c.RouterID))
	}
	if c.ASN == 0 {
		errs = append(errs, errors.New("ASN 0 is not a valid local AS"))
	}
	if c.ListenAddress.IsValid() && c.ListenPort == 0 {
		errs = append(errs, fmt.Errorf("listen address %s without a listen port", c.ListenAddress))
	}
	if c.ClusterID.IsValid() && !c.ClusterID.Is4() {
		errs = append(errs, fmt.Errorf("cluster id %s: want an IPv4 address", c.ClusterID))
	}
	if c.IdleHoldTime < 0 {
		errs = append(errs, fmt.Errorf("idle hold time %v: must not be negative", c.IdleHoldTime))
	}
	if gr := c.GracefulRestart; gr != nil && (gr.RestartTime <= 0 || gr.RestartTime > 4095*time.Second) {
		errs = append(errs, fmt.Errorf("graceful restart time %v: want 1s..4095s", gr.RestartTime))
	}
	seen := make(map[netip.Addr]bool)
	for _, n := range c.Neighbors {
		if err := n.validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[n.Address] {
			errs = append(errs, fmt.Errorf("neighbor %s configured twice", n.Address))
		}
		seen[n.Address] = true
	}
	return errors.Join(errs...)
}

func (n *Neighbor) validate() error {
	if !n.Address.IsValid() {
		return errors.New("neighbor without an address")
	}
	if n.ASN == 0 {
		return fmt.Errorf("neighbor %s: ASN 0", n.Address)
	}
	if n.LocalAddress.IsValid() && n.LocalAddress.Is4() != n.Address.Is4() {
		return fmt.Errorf("neighbor %s: local address %s of another family", n.Address, n.LocalAddress)
	}
	if n.HoldTime != 0 && n.HoldTime < 3*time.Second {
		return fmt.Errorf("neighbor %s: hold time %v below 3 s (RFC 4271 §4.2)", n.Address, n.HoldTime)
	}
	if n.KeepaliveInterval != 0 && n.HoldTime != 0 && n.KeepaliveInterval >= n.HoldTime {
		return fmt.Errorf("neighbor %s: keepalive %v not below hold time %v", n.Address, n.KeepaliveInterval, n.HoldTime)
	}
	return nil
}
