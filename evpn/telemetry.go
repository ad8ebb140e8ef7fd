package evpn

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// Counters are the PE's cumulative counters.
type Counters struct {
	Learned           uint64 // local MACs learned
	Aged              uint64 // local MACs aged out
	MACMoves          uint64 // moves between PEs (RFC 7432 §15)
	DuplicateMACs     uint64 // MACs frozen by duplicate detection (§15.1)
	FrozenLearnDrops  uint64 // learn events ignored for frozen MACs
	MACLimitDrops     uint64 // learn events over a MAC limit
	StickyConflicts   uint64 // moves refused because a MAC is static or sticky (§15.2)
	DFChanges         uint64 // DF state writes
	LabelFallbacks    uint64 // per-EVI A-D labels replaced by another label of the PE
	OwnRoutesIgnored  uint64 // own routes reflected back
	RoutesNotImported uint64 // routes with no matching import route target
	SwitchWriteErrors uint64 // failed switch batches (and failed repairs)
	Repairs           uint64 // reconciliations run after a failed write
	RepairUpdates     uint64 // updates the successful ones wrote
	SpeakerErrors     uint64 // announcements or withdrawals the speaker refused
	EventsDropped     uint64 // events a slow subscriber missed
}

// Counters returns a copy of the counters.
func (pe *PE) Counters() Counters {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return pe.counters
}

// EventKind says what changed.
type EventKind uint8

// Event kinds.
const (
	EventMACAdded EventKind = iota + 1
	EventMACRemoved
	EventMACMoved
	EventMACAged
	EventMACDuplicate
	EventMACUnfrozen
	EventMACLimit
	EventStickyConflict
	EventDFElected
	EventSwitchWriteFailed
)

var eventNames = [...]string{
	EventMACAdded: "mac-added", EventMACRemoved: "mac-removed", EventMACMoved: "mac-moved",
	EventMACAged: "mac-aged", EventMACDuplicate: "mac-duplicate", EventMACUnfrozen: "mac-unfrozen",
	EventMACLimit: "mac-limit", EventStickyConflict: "sticky-conflict", EventDFElected: "df-elected",
	EventSwitchWriteFailed: "switch-write-failed",
}

// String implements fmt.Stringer.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return fmt.Sprintf("event-%d", uint8(k))
}

// Event is one state change for ON_CHANGE telemetry. Fields that do not
// apply to Kind are zero.
type Event struct {
	Kind EventKind
	EVI  uint32
	MAC  route.MAC
	AC   asic.ACID
	ESI  route.ESI
	// Peer is the remote PE owning a MAC, or the elected DF.
	Peer netip.Addr
	DF   bool
	Err  error
}

type subscription struct {
	ch   chan Event
	stop func() bool
}

// Subscribe streams events until ctx is done or the PE closes; the channel
// is then closed. It holds buffer events (at least 1): a subscriber that
// falls behind loses events, counted in Counters.EventsDropped, rather than
// stalling the PE. No goroutine is started per subscription.
func (pe *PE) Subscribe(ctx context.Context, buffer int) (<-chan Event, error) {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	if pe.closed {
		return nil, ErrClosed
	}
	s := &subscription{ch: make(chan Event, max(buffer, 1))}
	pe.subs[s] = struct{}{}
	s.stop = context.AfterFunc(ctx, func() {
		pe.mu.Lock()
		defer pe.mu.Unlock()
		pe.closeSub(s)
	})
	return s.ch, nil
}

func (pe *PE) closeSub(s *subscription) {
	if _, ok := pe.subs[s]; ok {
		delete(pe.subs, s)
		close(s.ch)
	}
}

// publish sends ev to every subscriber without blocking. Called with mu held.
func (pe *PE) publish(ev Event) {
	for s := range pe.subs {
		select {
		case s.ch <- ev:
		default:
			pe.counters.EventsDropped++
		}
	}
}

func (pe *PE) publishMAC(kind EventKind, e *evi, mac route.MAC, me *macEntry) {
	if len(pe.subs) == 0 {
		return
	}
	ev := Event{Kind: kind, EVI: e.id, MAC: mac}
	if me.local != nil {
		ev.AC = me.local.ac.cfg.ID
		if me.local.ac.seg != nil {
			ev.ESI = me.local.ac.seg.esi
		}
	} else if best := me.bestRemote(); best >= 0 {
		ev.Peer = me.remotes[best].pe.addr
		if s := me.remotes[best].seg; s != nil {
			ev.ESI = s.esi
		}
	}
	pe.publish(ev)
}

// MACSource says where a MAC table entry comes from.
type MACSource uint8

// MAC sources.
const (
	SourceLocal MACSource = iota + 1
	SourceRemote
	SourceStatic
)

// String implements fmt.Stringer.
func (s MACSource) String() string {
	switch s {
	case SourceLocal:
		return "local"
	case SourceRemote:
		return "remote"
	case SourceStatic:
		return "static"
	}
	return fmt.Sprintf("source-%d", uint8(s))
}

// MACState is one row of an EVI's MAC table.
type MACState struct {
	MAC    route.MAC
	Source MACSource
	// AC is the local AC (also for a MAC a segment peer learned, which is
	// forwarded on the local link to the segment).
	AC asic.ACID
	// Peer is the remote PE whose route is used (zero for local MACs).
	Peer     netip.Addr
	ESI      route.ESI
	Sequence uint32
	Sticky   bool
	// Frozen is set for a MAC duplicate detection froze (RFC 7432 §15.1).
	Frozen bool
	// Moves is the number of moves inside the detection window.
	Moves int
	Dest  asic.Destination
}

// MACTable returns EVI evi's MAC table sorted by MAC.
func (pe *PE) MACTable(eviID uint32) ([]MACState, error) {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	e := pe.evis[eviID]
	if e == nil {
		return nil, fmt.Errorf("mac table: evi %d is not configured", eviID)
	}
	out := make([]MACState, 0, len(e.macs))
	for mac, me := range e.macs {
		if !me.hasOwner {
			continue
		}
		st := MACState{MAC: mac, Frozen: me.frozen(), Dest: me.fwd}
		if me.mob != nil {
			st.Moves = len(me.mob.moves)
		}
		if lm := me.local; lm != nil {
			st.Source, st.AC, st.Sequence, st.Sticky = SourceLocal, lm.ac.cfg.ID, lm.seq, lm.static
			if lm.static {
				st.Source = SourceStatic
			}
			if lm.ac.seg != nil {
				st.ESI = lm.ac.seg.esi
			}
		} else if best := me.bestRemote(); best >= 0 {
			r := me.remotes[best]
			st.Source, st.Peer, st.Sequence, st.Sticky = SourceRemote, r.pe.addr, r.seq, r.sticky
			if r.seg != nil {
				st.ESI = r.seg.esi
			}
			if me.fwd.Kind == asic.ToAC {
				st.AC = me.fwd.AC
			}
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b MACState) int { return slices.Compare(a.MAC[:], b.MAC[:]) })
	return out, nil
}

// EVIState describes a configured EVI.
type EVIState struct {
	ID           uint32
	BD           asic.BridgeDomainID
	RD           route.RD
	ImportRTs    []route.RouteTarget
	ExportRTs    []route.RouteTarget
	UnicastLabel uint32
	BUMLabel     uint32
	LocalMACs    int
	MACs         int
	// MACLimitDrops counts learns over the EVI's or an AC's limit.
	MACLimitDrops uint64
	// FloodPEs are the remote PEs in the EVI's flood list.
	FloodPEs []netip.Addr
	ACs      []ACState
}

// ACState describes an attachment circuit.
type ACState struct {
	Config    ACConfig
	LocalMACs int
	// MACLimitDrops counts learns refused by this AC's own limit.
	MACLimitDrops uint64
}

// EVIs returns the configured EVIs sorted by ID.
func (pe *PE) EVIs() []EVIState {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	var out []EVIState
	for _, e := range pe.evis {
		st := EVIState{
			ID: e.id, BD: e.bd, RD: e.rd, ImportRTs: slices.Clone(e.importRTs), ExportRTs: slices.Clone(e.exportRTs),
			UnicastLabel: e.unicastLabel, BUMLabel: e.bumLabel, LocalMACs: e.localMACs, MACs: len(e.macs),
			MACLimitDrops: e.limitDrops,
		}
		for _, p := range e.imet {
			if !slices.Contains(st.FloodPEs, p.pe.addr) {
				st.FloodPEs = append(st.FloodPEs, p.pe.addr)
			}
		}
		slices.SortFunc(st.FloodPEs, netip.Addr.Compare)
		for _, ac := range e.acs {
			st.ACs = append(st.ACs, ACState{Config: ac.cfg, LocalMACs: ac.localMACs, MACLimitDrops: ac.limitDrops})
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b EVIState) int { return int(a.ID) - int(b.ID) })
	return out
}

// DFState is the DF of one EVI on a segment.
type DFState struct {
	EVI  uint32
	VLAN uint16
	DF   netip.Addr // zero before the first election
	// Local is whether this PE forwards BUM to the segment for the EVI.
	Local bool
}

// SegmentState describes a local Ethernet segment.
type SegmentState struct {
	ESI        route.ESI
	Redundancy Redundancy
	Up         bool
	ESILabel   uint32
	Algorithm  route.DFAlgorithm
	// Candidates are the PEs on the segment (ES routes plus this PE).
	Candidates []netip.Addr
	// Peers are the remote PEs with a per-ES A-D route for the segment.
	Peers []netip.Addr
	DF    []DFState
	// Preference and DontPreempt are what this PE advertises (RFC 9785).
	Preference  uint16
	DontPreempt bool
}

// Segments returns the local segments sorted by ESI.
func (pe *PE) Segments() []SegmentState {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	var out []SegmentState
	for _, s := range pe.sortedSegments() {
		if s.local == nil {
			continue
		}
		st := SegmentState{
			ESI: s.esi, Redundancy: s.local.cfg.Redundancy, Up: s.local.up, ESILabel: s.local.esiLabel,
			Algorithm: s.local.cfg.DF.Algorithm, Preference: s.local.advPref, DontPreempt: s.local.advDP,
		}
		for _, c := range pe.candidates(s) {
			st.Candidates = append(st.Candidates, c.addr)
		}
		for r := range s.local.peers {
			st.Peers = append(st.Peers, r.addr)
		}
		slices.SortFunc(st.Peers, netip.Addr.Compare)
		for _, e := range s.evis() {
			st.DF = append(st.DF, DFState{EVI: e.id, VLAN: e.vlan, DF: s.local.elected[e], Local: s.local.dfInstalled[e]})
		}
		out = append(out, st)
	}
	return out
}
