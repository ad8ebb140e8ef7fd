package asic

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/p4evpn/p4evpn/evpn/route"
)

// MAC is a 48-bit Ethernet address; it is route.MAC so evpn/ hands addresses
// to the switch without conversion.
type MAC = route.MAC

// Identifiers. Every object the switch holds is named by a small integer the
// caller (evpn/) allocates, so that an implementation maps it straight onto a
// table key, a multicast group id or an action-selector group id. Zero is
// never a valid id: it means "none" in references.
type (
	// PortID names a physical or logical port of the switch.
	PortID uint32
	// BridgeDomainID names a bridge domain (one per EVI in VLAN-based service).
	BridgeDomainID uint32
	// ACID names an attachment circuit.
	ACID uint32
	// SegmentID names a local Ethernet segment (a multihomed CE link bundle).
	SegmentID uint32
	// RemotePEID names a tunnel to a remote PE.
	RemotePEID uint32
	// GroupID names an aliasing group.
	GroupID uint32
)

// PortKind says which side of the PE a port faces.
type PortKind uint8

// Port kinds.
const (
	PortAccess PortKind = iota + 1 // toward CEs: frames carry 802.1Q tags
	PortCore                       // toward the MPLS core: frames carry labels
	PortCPU                        // packet-in/packet-out to the controller
)

// String implements fmt.Stringer.
func (k PortKind) String() string {
	switch k {
	case PortAccess:
		return "access"
	case PortCore:
		return "core"
	case PortCPU:
		return "cpu"
	}
	return fmt.Sprintf("port-kind-%d", uint8(k))
}

// Kind orders entity kinds by dependency: an entity may only reference
// entities of a smaller kind. Writers create in ascending and delete in
// descending Kind order; Reconcile does the same.
type Kind uint8

// Entity kinds in dependency order.
const (
	KindPort Kind = iota + 1
	KindBridgeDomain
	KindSegment
	KindAttachmentCircuit
	KindDFState
	KindRemotePE
	KindServiceLabel
	KindSegmentPeer
	KindAliasingGroup
	KindFloodGroup
	KindFDBEntry
)

var kindNames = [...]string{
	KindPort: "port", KindBridgeDomain: "bridge-domain", KindSegment: "segment",
	KindAttachmentCircuit: "attachment-circuit", KindDFState: "df-state",
	KindRemotePE: "remote-pe", KindServiceLabel: "service-label",
	KindSegmentPeer: "segment-peer", KindAliasingGroup: "aliasing-group",
	KindFloodGroup: "flood-group", KindFDBEntry: "fdb-entry",
}

// String implements fmt.Stringer.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind-%d", uint8(k))
}

// Key identifies one entity. Each kind uses the fields its Key method
// documents; the others are zero. Keys are comparable and key maps.
type Key struct {
	Kind Kind
	A, B uint32
	MAC  MAC
}

// String implements fmt.Stringer.
func (k Key) String() string {
	switch k.Kind {
	case KindFDBEntry:
		return fmt.Sprintf("%s[bd %d %s]", k.Kind, k.A, k.MAC)
	case KindServiceLabel, KindDFState, KindSegmentPeer:
		return fmt.Sprintf("%s[%d/%d]", k.Kind, k.A, k.B)
	}
	return fmt.Sprintf("%s[%d]", k.Kind, k.A)
}

// Entity is one object of the switch's forwarding state. The set is closed:
// the concrete types are the structs of this package.
type Entity interface {
	Key() Key
	// refs lists the keys this entity points at; they must exist first.
	refs() []Key
}

// Port is a switch port. Key: A = ID.
type Port struct {
	ID   PortID
	Kind PortKind
}

// BridgeDomain is one layer-2 forwarding domain (a MAC-VRF's bridge table).
// Frames from the core carrying UnicastLabel are known-unicast for this bridge
// domain; those carrying BUMLabel are flooded by its FloodGroup (RFC 7432
// §10.1). Key: A = ID.
type BridgeDomain struct {
	ID           BridgeDomainID
	UnicastLabel uint32
	BUMLabel     uint32
}

// Segment is a local Ethernet segment. Frames from the core whose label stack
// carries ESILabel below the BUM label came from this segment through a peer
// PE and must not be sent back to any AC of it (split horizon, RFC 7432
// §8.3.1). On a SingleActive segment a non-DF AC passes no traffic at all; on
// an all-active one it only drops BUM toward the CE (§8.5). Key: A = ID.
type Segment struct {
	ID           SegmentID
	ESILabel     uint32
	SingleActive bool
}

// AttachmentCircuit maps (Port, VLAN, InnerVLAN) to a bridge domain and,
// when Segment is non-zero, to a local Ethernet segment. VLAN is the outer
// tag, InnerVLAN the inner one of a double-tagged (802.1ad) AC; 0 means no
// tag: (p, 0, 0) untagged, (p, v, 0) single-tagged. Frames leave with the
// same tags. Key: A = ID.
type AttachmentCircuit struct {
	ID        ACID
	Port      PortID
	VLAN      uint16
	InnerVLAN uint16
	BD        BridgeDomainID
	Segment   SegmentID
}

// DFState says whether this PE is the designated forwarder of Segment for
// bridge domain BD. Until one is written, an AC on a segment is non-DF: the
// safe state before the election timer fires (RFC 7432 §8.5).
// Key: A = Segment, B = BD.
type DFState struct {
	Segment SegmentID
	BD      BridgeDomainID
	DF      bool
}

// RemotePE is a tunnel to a remote PE: frames leave CorePort from
// SourceMAC toward NextHopMAC with TransportLabel (0 = none: the PE is a
// direct neighbour or the label is implicit null) above the service label,
// and a control word when ControlWord is set. Key: A = ID.
type RemotePE struct {
	ID             RemotePEID
	Address        netip.Addr
	CorePort       PortID
	SourceMAC      MAC
	NextHopMAC     MAC
	TransportLabel uint32
	ControlWord    bool
}

// ServiceLabel is the known-unicast label to push toward PE for bridge
// domain BD when a frame is forwarded through an aliasing group (the label of
// that PE's per-EVI Ethernet A-D route, RFC 7432 §8.4). Key: A = PE, B = BD.
type ServiceLabel struct {
	PE    RemotePEID
	BD    BridgeDomainID
	Label uint32
}

// SegmentPeer says remote PE is attached to local Segment and advertised
// ESILabel for it: a BUM frame from an AC of Segment replicated to PE carries
// ESILabel under the PE's BUM label, so PE does not send it back to the
// segment (split horizon with ingress replication, RFC 7432 §8.3.1).
// Key: A = Segment, B = PE.
type SegmentPeer struct {
	Segment  SegmentID
	PE       RemotePEID
	ESILabel uint32
}

// AliasingGroup is the set of remote PEs through which a remote multihomed
// Ethernet segment is reachable. FDB entries point at the group, not at the
// PEs, so removing a failed PE from a segment is one write whatever the
// number of MACs behind it (mass withdrawal, RFC 7432 §8.2). Members are
// sorted ascending, except that a SingleActive group lists its primary first
// and its backups after it (§14.1.1): forwarding uses Members[0] only. An
// empty group drops. Key: A = ID.
type AliasingGroup struct {
	ID           GroupID
	SingleActive bool
	Members      []RemotePEID
}

// FloodMember is one replica of a flooded frame: a local AC, or one ingress
// replication copy to a remote PE carrying that PE's BUM label.
type FloodMember struct {
	AC       ACID       // non-zero for a local AC
	PE       RemotePEID // non-zero for a remote PE
	BUMLabel uint32     // with PE: the label of its IMET route
}

// FloodGroup lists where a bridge domain's broadcast, unknown-unicast and
// multicast frames go (RFC 7432 §11). The source AC, ACs of the source
// segment and non-DF ACs are pruned by the pipeline, not listed here. Members
// are sorted: ACs ascending, then PEs ascending. Key: A = BD.
type FloodGroup struct {
	BD      BridgeDomainID
	Members []FloodMember
}

// DestinationKind says where an FDB entry sends a frame.
type DestinationKind uint8

// Destination kinds.
const (
	ToDrop DestinationKind = iota
	ToAC
	ToRemotePE
	ToAliasingGroup
)

// Destination is the action of an FDB entry. Label is the service label for
// ToRemotePE (from the MAC route, which may be per-MAC); an aliasing group
// takes each member's ServiceLabel instead.
type Destination struct {
	Kind  DestinationKind
	AC    ACID
	PE    RemotePEID
	Label uint32
	Group GroupID
}

// String implements fmt.Stringer.
func (d Destination) String() string {
	switch d.Kind {
	case ToAC:
		return fmt.Sprintf("ac %d", d.AC)
	case ToRemotePE:
		return fmt.Sprintf("pe %d label %d", d.PE, d.Label)
	case ToAliasingGroup:
		return fmt.Sprintf("group %d", d.Group)
	}
	return "drop"
}

// FDBEntry forwards frames for MAC in BD. Pinned entries (static, sticky or
// frozen duplicate MACs) must not be relearned by the data plane: a frame from
// MAC on another AC raises no learn event and is dropped (RFC 7432 §15.2).
// A non-zero IdleTimeout asks the switch to age the entry itself: it raises
// EventIdle when no frame from MAC arrived for that long (P4Runtime idle
// timeout); it never deletes the entry on its own. Key: A = BD, MAC.
type FDBEntry struct {
	BD          BridgeDomainID
	MAC         MAC
	Dest        Destination
	Pinned      bool
	IdleTimeout time.Duration
}

// Key implementations and references.

// Key returns {KindPort, ID}.
func (e Port) Key() Key { return Key{Kind: KindPort, A: uint32(e.ID)} }

// Key returns {KindBridgeDomain, ID}.
func (e BridgeDomain) Key() Key { return Key{Kind: KindBridgeDomain, A: uint32(e.ID)} }

// Key returns {KindSegment, ID}.
func (e Segment) Key() Key { return Key{Kind: KindSegment, A: uint32(e.ID)} }

// Key returns {KindAttachmentCircuit, ID}.
func (e AttachmentCircuit) Key() Key { return Key{Kind: KindAttachmentCircuit, A: uint32(e.ID)} }

// Key returns {KindDFState, Segment, BD}.
func (e DFState) Key() Key { return Key{Kind: KindDFState, A: uint32(e.Segment), B: uint32(e.BD)} }

// Key returns {KindRemotePE, ID}.
func (e RemotePE) Key() Key { return Key{Kind: KindRemotePE, A: uint32(e.ID)} }

// Key returns {KindServiceLabel, PE, BD}.
func (e ServiceLabel) Key() Key {
	return Key{Kind: KindServiceLabel, A: uint32(e.PE), B: uint32(e.BD)}
}

// Key returns {KindSegmentPeer, Segment, PE}.
func (e SegmentPeer) Key() Key {
	return Key{Kind: KindSegmentPeer, A: uint32(e.Segment), B: uint32(e.PE)}
}

// Key returns {KindAliasingGroup, ID}.
func (e AliasingGroup) Key() Key { return Key{Kind: KindAliasingGroup, A: uint32(e.ID)} }

// Key returns {KindFloodGroup, BD}.
func (e FloodGroup) Key() Key { return Key{Kind: KindFloodGroup, A: uint32(e.BD)} }

// Key returns {KindFDBEntry, BD, MAC}.
func (e FDBEntry) Key() Key { return Key{Kind: KindFDBEntry, A: uint32(e.BD), MAC: e.MAC} }

func (e Port) refs() []Key         { return nil }
func (e BridgeDomain) refs() []Key { return nil }
func (e Segment) refs() []Key      { return nil }
func (e AttachmentCircuit) refs() []Key {
	r := []Key{Port{ID: e.Port}.Key(), BridgeDomain{ID: e.BD}.Key()}
	if e.Segment != 0 {
		r = append(r, Segment{ID: e.Segment}.Key())
	}
	return r
}
func (e DFState) refs() []Key {
	return []Key{Segment{ID: e.Segment}.Key(), BridgeDomain{ID: e.BD}.Key()}
}
func (e RemotePE) refs() []Key { return []Key{Port{ID: e.CorePort}.Key()} }
func (e ServiceLabel) refs() []Key {
	return []Key{RemotePE{ID: e.PE}.Key(), BridgeDomain{ID: e.BD}.Key()}
}
func (e SegmentPeer) refs() []Key {
	return []Key{Segment{ID: e.Segment}.Key(), RemotePE{ID: e.PE}.Key()}
}
func (e AliasingGroup) refs() []Key {
	r := make([]Key, len(e.Members))
	for i, m := range e.Members {
		r[i] = RemotePE{ID: m}.Key()
	}
	return r
}
func (e FloodGroup) refs() []Key {
	r := []Key{BridgeDomain{ID: e.BD}.Key()}
	for _, m := range e.Members {
		if m.AC != 0 {
			r = append(r, AttachmentCircuit{ID: m.AC}.Key())
		} else {
			r = append(r, RemotePE{ID: m.PE}.Key())
		}
	}
	return r
}
func (e FDBEntry) refs() []Key {
	r := []Key{BridgeDomain{ID: e.BD}.Key()}
	switch e.Dest.Kind {
	case ToAC:
		r = append(r, AttachmentCircuit{ID: e.Dest.AC}.Key())
	case ToRemotePE:
		r = append(r, RemotePE{ID: e.Dest.PE}.Key())
	case ToAliasingGroup:
		r = append(r, AliasingGroup{ID: e.Dest.Group}.Key())
	}
	return r
}

// References returns the keys e points at. A switch refuses an entity whose
// references do not exist, and the deletion of an entity still referenced.
func References(e Entity) []Key { return e.refs() }

// Op is what an Update does.
type Op uint8

// Update operations. Both are idempotent: Set creates or replaces, Delete of
// an absent key succeeds.
const (
	OpSet Op = iota + 1
	OpDelete
)

// String implements fmt.Stringer.
func (o Op) String() string {
	switch o {
	case OpSet:
		return "set"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op-%d", uint8(o))
}

// Update is one change. A Delete needs only Entity's key fields.
type Update struct {
	Op     Op
	Entity Entity
}

// String implements fmt.Stringer.
func (u Update) String() string { return fmt.Sprintf("%s %s", u.Op, u.Entity.Key()) }

// Set returns an OpSet update.
func Set(e Entity) Update { return Update{Op: OpSet, Entity: e} }

// Delete returns an OpDelete update.
func Delete(e Entity) Update { return Update{Op: OpDelete, Entity: e} }

// ErrMissingReference is wrapped by a per-update error when a Set names an
// entity that does not exist.
var ErrMissingReference = errors.New("missing reference")

// ErrStillReferenced is wrapped by a per-update error when a Delete names an
// entity other entities still point at.
var ErrStillReferenced = errors.New("still referenced")

// WriteError is returned by Switch.Write when some updates failed. Errors has
// one slot per update, nil for those that were applied.
type WriteError struct {
	Errors []error
}

// Error implements error.
func (e *WriteError) Error() string {
	var b strings.Builder
	n := 0
	for i, err := range e.Errors {
		if err == nil {
			continue
		}
		if n < 3 {
			if n > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "update %d: %v", i, err)
		}
		n++
	}
	if n > 3 {
		fmt.Fprintf(&b, "; and %d more", n-3)
	}
	return fmt.Sprintf("%d of %d updates failed: %s", n, len(e.Errors), b.String())
}

// Unwrap lets errors.Is see the per-update causes.
func (e *WriteError) Unwrap() []error {
	var errs []error
	for _, err := range e.Errors {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// EventKind says what the data plane observed.
type EventKind uint8

// Data-plane event kinds.
const (
	// EventLearn: a frame from MAC arrived on AC and the FDB has no entry
	// for (BD, MAC) or one pointing elsewhere (a new station or a move).
	EventLearn EventKind = iota + 1
	// EventActivity: MAC sent frames in BD since the last report (the
	// source-MAC table's hit bit). A switch without idle timeouts reports
	// each active learned MAC at least every ageing/2.
	EventActivity
	// EventIdle: the FDB entry of (BD, MAC) saw no frame for its
	// IdleTimeout.
	EventIdle
)

// Event is one data-plane observation (from a digest or an idle timeout).
type Event struct {
	Kind EventKind
	BD   BridgeDomainID
	MAC  MAC
	AC   ACID
}

// DropReason classifies counted drops.
type DropReason uint8

// Drop reasons counted by the pipeline.
const (
	DropSplitHorizon DropReason = iota + 1
	DropNonDF
	DropPinnedMove
	DropNoRoute
)

// PacketCount is a packet and byte counter pair.
type PacketCount struct {
	Packets, Bytes uint64
}

// Counters are the data plane's counters at one instant.
type Counters struct {
	BridgeDomains map[BridgeDomainID]PacketCount
	ACs           map[ACID]PacketCount
	Drops         map[DropReason]uint64
}

// Switch is the forwarding state of one PE's switch. It is modelled on
// Stratum's SwitchInterface: a batched write with one status per entry, a
// read-back of everything for reconciliation, a registration for the
// notifications the data plane raises, and counters.
//
// Call order: Write and Read may be called as soon as the Switch exists (the
// implementation owns pipeline push and arbitration); Events before any
// Write whose learn events the caller must not miss; Close last. All methods
// are safe for concurrent use, but the caller should serialise Writes: the
// order of updates is the order of dependency.
type Switch interface {
	// Write applies updates in order. Each update is independent (like
	// P4Runtime's CONTINUE_ON_ERROR): a failure does not stop later updates.
	// A Set of an existing identical entity and a Delete of an absent key
	// succeed, so replaying a batch is harmless. A Set whose references are
	// missing fails with ErrMissingReference; a Delete of an entity others
	// reference fails with ErrStillReferenced. So callers create in ascending
	// Kind order and delete in descending Kind order.
	//
	// Write returns nil when all updates were applied, a *WriteError with one
	// error per update when some failed, or another error when the switch
	// could not be reached (then the caller must assume nothing was applied
	// and reconcile).
	Write(ctx context.Context, updates []Update) error

	// Read returns every entity the switch holds, for Reconcile.
	Read(ctx context.Context) ([]Entity, error)

	// Events subscribes to learn, activity and idle events until ctx is done; the
	// channel is then closed. The implementation must never block its data
	// path on a slow reader: it drops events and counts them instead (the
	// next frame from the station raises the event again).
	Events(ctx context.Context) (<-chan Event, error)

	// Counters reads the data plane's counters.
	Counters(ctx context.Context) (Counters, error)

	// Close releases the switch; no method may be called after it.
	Close() error
}
