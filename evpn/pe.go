package evpn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("evpn: PE closed")

// PE is one provider edge's EVPN control logic. Methods are safe for
// concurrent use: a mutex guards the state, and the switch writes and
// routes each call decides are issued after the lock is released but in
// decision order (outMu hands them over in sequence).
type PE struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // cancelled by Close; timer work runs under it
	cancel context.CancelFunc
	wg     sync.WaitGroup // pending timer callbacks

	// outMu serialises flushes so that the switch and the speaker see
	// changes in the order mu's critical sections decided them.
	outMu sync.Mutex

	// mu guards every field below.
	mu        sync.Mutex
	closed    bool
	tx        txn
	labels    pool
	segIDs    pool
	peIDs     pool
	groupIDs  pool
	evis      map[uint32]*evi
	bds       map[asic.BridgeDomainID]*evi
	acs       map[asic.ACID]*attachment
	segments  map[route.ESI]*ethernetSegment
	remotePEs map[netip.Addr]*remotePE
	rtIndex   map[route.RouteTarget][]*evi
	rdIndex   map[route.RD][]*evi
	rdIntern  map[route.RD]*route.RD
	ports     map[asic.PortID]asic.PortKind
	timers    map[*peTimer]struct{}
	// repairTimer is pending while a reconciliation is scheduled.
	repairTimer *peTimer
	counters    Counters
	subs        map[*subscription]struct{}
	// adopted holds the ids and labels a previous run left in the switch
	// (Adopt); nil when starting afresh.
	adopted *adoption
}

// txn collects the output of one critical section.
type txn struct {
	updates []asic.Update
	routes  []routeOp
	// reconcile asks run to diff the switch against the desired state
	// after the updates (the repair after a failed write).
	reconcile bool
}

type routeOp struct {
	announce *route.Path
	withdraw route.NLRI
}

// evi is one MAC-VRF.
type evi struct {
	id           uint32
	bd           asic.BridgeDomainID
	vlan         uint16
	rd           route.RD
	importRTs    []route.RouteTarget
	exportRTs    []route.RouteTarget
	unicastLabel uint32
	bumLabel     uint32
	macLimit     int
	dup          DuplicateDetection
	acs          []*attachment
	macs         map[route.MAC]*macEntry
	// learned indexes the learned (ageing) local MACs, so the ageing sweep
	// does not walk the remote ones.
	learned    map[route.MAC]*macEntry
	localMACs  int
	limitDrops uint64
	// removing is set while RemoveEVI dismantles the EVI: no moves are
	// counted and nothing is advertised.
	removing bool

	imet          map[imetKey]imetPath
	perEVIAD      map[adKey]*remotePE
	perEVILabels  map[adKey]uint32
	peStats       map[*remotePE]*peEVIStats
	serviceLabels map[*remotePE]uint32 // installed
	flood         []asic.FloodMember   // installed
	bindings      map[*ethernetSegment]*binding
}

type imetKey struct {
	rd         route.RD
	originator netip.Addr
}

type imetPath struct {
	pe    *remotePE
	label uint32
}

type adKey struct {
	rd  route.RD
	esi route.ESI
}

// peEVIStats counts the unicast labels a remote PE uses in its MAC routes of
// one EVI: the fallback when a route reflector mangled the per-EVI A-D label.
type peEVIStats struct {
	rt2Labels map[uint32]int
}

// attachment is a configured AC.
type attachment struct {
	cfg        ACConfig
	evi        *evi
	seg        *ethernetSegment // nil when single-homed
	localMACs  int
	limitDrops uint64
}

// ethernetSegment is everything known about one ESI: the local segment when
// configured, and the routes remote PEs advertised for it.
type ethernetSegment struct {
	esi   route.ESI
	local *localSegment
	// perES holds the per-ES Ethernet A-D routes by RD.
	perES map[route.RD]perESPath
	// esRoutes holds the type-4 routes by (RD, originator).
	esRoutes map[imetKey]*route.DFElection
	bindings map[*evi]*binding
	groups   []*aliasGroup
}

type perESPath struct {
	pe           *remotePE
	esiLabel     uint32
	singleActive bool
}

// localSegment is a configured segment of this PE.
type localSegment struct {
	cfg      SegmentConfig
	id       asic.SegmentID
	esiLabel uint32
	up       bool
	acs      []*attachment
	// peers are the installed SegmentPeer ESI labels.
	peers map[*remotePE]uint32
	// elected is the DF per EVI after the last election; dfInstalled what
	// the switch holds.
	elected     map[*evi]netip.Addr
	dfInstalled map[*evi]bool
	timer       *peTimer
	// advertised RT-4 DF election values (RFC 9785 non-revertive changes them).
	advPref uint16
	advDP   bool
}

// binding ties the MACs of one EVI behind one remote segment to the
// aliasing group they point at.
type binding struct {
	seg   *ethernetSegment
	evi   *evi
	group *aliasGroup
	macs  int
	// advertisers counts MAC routes per PE: the primary of a single-active
	// segment is the PE advertising its MACs (RFC 7432 §14.1.1).
	advertisers map[*remotePE]int
}

type aliasGroup struct {
	id           asic.GroupID
	seg          *ethernetSegment
	members      []*remotePE
	singleActive bool
	bindings     int
}

// remotePE is a tunnel endpoint: a remote PE's address.
type remotePE struct {
	addr netip.Addr
	id   asic.RemotePEID
	refs int
}

// macEntry is one MAC of an EVI: its local presence, the remote routes for
// it, and what the switch holds for it.
type macEntry struct {
	local   *localMAC
	remotes []remotePath
	fwd     asic.Destination
	pinned  bool
	// idle says the FDB entry carries the ageing idle timeout.
	idle bool
	// hasOwner says the switch holds an FDB entry for the MAC.
	hasOwner bool
	// advertised is set while this PE announces the MAC's route, with
	// sequence advertisedSeq.
	advertised    bool
	advertisedSeq uint32
	// owner is where the MAC is: a remote PE (nil for this PE) and the
	// segment (nil when single-homed). A change of owner is a move.
	ownerPE  *remotePE
	ownerSeg *ethernetSegment
	mob      *mobility
}

type localMAC struct {
	ac       *attachment
	lastSeen time.Time
	seq      uint32
	static   bool
	// adopted is set from a restart's AddEVI, which took the MAC from the
	// switch, to the first Reconcile: until then a remote route on another
	// segment wins whatever its sequence number (see Adopt).
	adopted bool
}

type remotePath struct {
	rd     *route.RD
	ip     netip.Addr
	pe     *remotePE
	seg    *ethernetSegment
	seq    uint32
	label  uint32
	sticky bool
}

// mobility is the duplicate-detection state of a MAC that has moved.
type mobility struct {
	moves  []time.Time
	frozen bool
	timer  *peTimer
}

// pool allocates small integers (ids, labels) from [first, last].
type pool struct {
	first, last, next uint32
	free              []uint32
}

func newPool(first, last uint32) pool { return pool{first: first, last: last, next: first} }

// get returns the smallest free value, so that the same sequence of
// allocations yields the same values run after run.
func (p *pool) get() (uint32, bool) {
	if n := len(p.free); n > 0 {
		i := 0
		for j, v := range p.free {
			if v < p.free[i] {
				i = j
			}
		}
		v := p.free[i]
		p.free[i] = p.free[n-1]
		p.free = p.free[:n-1]
		return v, true
	}
	if p.next > p.last || p.next < p.first {
		return 0, false
	}
	v := p.next
	p.next++
	return v, true
}

// take allocates v itself if it is free.
func (p *pool) take(v uint32) bool {
	if v < p.first || v > p.last {
		return false
	}
	if v >= p.next {
		for x := p.next; x < v; x++ {
			p.free = append(p.free, x)
		}
		p.next = v + 1
		return true
	}
	for i, x := range p.free {
		if x == v {
			p.free[i] = p.free[len(p.free)-1]
			p.free = p.free[:len(p.free)-1]
			return true
		}
	}
	return false
}

func (p *pool) put(v uint32) { p.free = append(p.free, v) }

// New returns a PE and programs the core port. Add segments, then EVIs.
func New(cfg Config) (*PE, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	pe := &PE{
		cfg:       cfg,
		log:       cfg.Logger.With("pe", cfg.RouterID.String()),
		ctx:       ctx,
		cancel:    cancel,
		labels:    newPool(cfg.Labels.First, cfg.Labels.Last),
		segIDs:    newPool(1, 1<<16-1),
		peIDs:     newPool(1, 1<<24-1),
		groupIDs:  newPool(1, 1<<24-1),
		evis:      make(map[uint32]*evi),
		bds:       make(map[asic.BridgeDomainID]*evi),
		acs:       make(map[asic.ACID]*attachment),
		segments:  make(map[route.ESI]*ethernetSegment),
		remotePEs: make(map[netip.Addr]*remotePE),
		rtIndex:   make(map[route.RouteTarget][]*evi),
		rdIndex:   make(map[route.RD][]*evi),
		rdIntern:  make(map[route.RD]*route.RD),
		ports:     make(map[asic.PortID]asic.PortKind),
		timers:    make(map[*peTimer]struct{}),
		subs:      make(map[*subscription]struct{}),
	}
	err := pe.run(ctx, func() error {
		pe.addPort(cfg.Core.Port, asic.PortCore)
		if !cfg.SwitchAgeing {
			pe.after(pe.cfg.MACAgeing/10, pe.ageSweep)
		}
		return nil
	})
	if err != nil {
		cancel()
		return nil, err
	}
	return pe, nil
}

// Close stops the PE's timers and subscriptions and waits for timer work in
// progress. It withdraws nothing: a restarting daemon keeps forwarding.
func (pe *PE) Close() error {
	pe.mu.Lock()
	if pe.closed {
		pe.mu.Unlock()
		return nil
	}
	pe.closed = true
	for t := range pe.timers {
		pe.stopTimer(t)
	}
	for s := range pe.subs {
		s.stop()
		pe.closeSub(s)
	}
	pe.mu.Unlock()
	pe.cancel()
	pe.wg.Wait()
	return nil
}

// run executes fn under the lock, then flushes its output in order. A
// failed switch write is recorded after the flush, once outMu is released
// (taking mu while holding outMu would invert the lock order), and schedules
// a repairing reconciliation.
func (pe *PE) run(ctx context.Context, fn func() error) error {
	pe.mu.Lock()
	if pe.closed {
		pe.mu.Unlock()
		return ErrClosed
	}
	err := fn()
	tx := pe.tx
	pe.tx = txn{}
	if pe.adopted != nil && pe.adopted.holding {
		// After a restart the switch keeps the previous run's state until
		// Reconcile writes the difference in one go.
		tx.updates, tx.reconcile = nil, false
	}
	var desired []asic.Entity
	if tx.reconcile {
		desired = pe.desiredLocked()
	}
	pe.outMu.Lock()
	pe.mu.Unlock()
	res := pe.flush(ctx, tx)
	if tx.reconcile {
		res.reconciled = true
		res.repairUpdates, res.repairErr = asic.Reconcile(ctx, pe.cfg.Switch, desired)
	}
	pe.outMu.Unlock()
	if res.writeErr != nil || res.speakerErrs > 0 || res.reconciled {
		pe.mu.Lock()
		pe.record(res)
		pe.mu.Unlock()
	}
	return err
}

// flushResult is what went wrong (or was repaired) in one flush.
type flushResult struct {
	writeErr      error
	speakerErrs   int
	reconciled    bool
	repairUpdates int
	repairErr     error
}

// RepairDelay is how long the PE waits after a failed switch write before
// it reconciles the switch with its desired state (and between attempts).
const RepairDelay = time.Second

// record accounts a flush's failures; called with mu held.
func (pe *PE) record(res flushResult) {
	pe.counters.SpeakerErrors += uint64(res.speakerErrs)
	if res.reconciled {
		pe.counters.Repairs++
		if res.repairErr == nil {
			pe.counters.RepairUpdates += uint64(res.repairUpdates)
		}
	}
	failed := res.writeErr
	if res.repairErr != nil {
		failed = res.repairErr
	}
	if failed == nil {
		return
	}
	pe.counters.SwitchWriteErrors++
	pe.publish(Event{Kind: EventSwitchWriteFailed, Err: failed})
	pe.log.Error("switch write failed; reconciling", "after", RepairDelay, "err", failed)
	if pe.repairTimer == nil && !pe.closed {
		pe.repairTimer = pe.after(RepairDelay, func() {
			pe.repairTimer = nil
			pe.tx.reconcile = true
		})
	}
}

func (pe *PE) flush(ctx context.Context, tx txn) flushResult {
	var res flushResult
	if len(tx.updates) > 0 {
		res.writeErr = pe.cfg.Switch.Write(ctx, tx.updates)
	}
	for _, op := range tx.routes {
		var err error
		var what fmt.Stringer
		if op.announce != nil {
			what = op.announce.NLRI
			err = pe.cfg.Speaker.Announce(ctx, *op.announce)
		} else {
			what = op.withdraw
			err = pe.cfg.Speaker.Withdraw(ctx, op.withdraw)
		}
		if err != nil {
			res.speakerErrs++
			pe.log.Error("speaker refused route", "route", what.String(), "withdraw", op.announce == nil, "err", err)
		}
	}
	return res
}

func (pe *PE) write(u asic.Update) { pe.tx.updates = append(pe.tx.updates, u) }

func (pe *PE) announce(p route.Path) { pe.tx.routes = append(pe.tx.routes, routeOp{announce: &p}) }

func (pe *PE) withdraw(n route.NLRI) { pe.tx.routes = append(pe.tx.routes, routeOp{withdraw: n}) }

// peTimer is a Clock timer the PE tracks so Close can stop it.
type peTimer struct{ t Timer }

// after schedules fn under the lock after d. Called with mu held.
func (pe *PE) after(d time.Duration, fn func()) *peTimer {
	pt := &peTimer{}
	pe.timers[pt] = struct{}{}
	pe.wg.Add(1)
	pt.t = pe.cfg.Clock.AfterFunc(d, func() {
		defer pe.wg.Done()
		_ = pe.run(pe.ctx, func() error {
			if _, ok := pe.timers[pt]; !ok {
				return nil
			}
			delete(pe.timers, pt)
			fn()
			return nil
		})
	})
	return pt
}

// stopTimer cancels pt. Called with mu held; nil is a no-op.
func (pe *PE) stopTimer(pt *peTimer) {
	if pt == nil {
		return
	}
	if _, ok := pe.timers[pt]; !ok {
		return
	}
	delete(pe.timers, pt)
	if pt.t.Stop() {
		pe.wg.Done()
	}
}

func (pe *PE) addPort(id asic.PortID, kind asic.PortKind) {
	if _, ok := pe.ports[id]; ok {
		return
	}
	pe.ports[id] = kind
	pe.write(asic.Set(asic.Port{ID: id, Kind: kind}))
}

func (pe *PE) segment(esi route.ESI) *ethernetSegment {
	s := pe.segments[esi]
	if s == nil {
		s = &ethernetSegment{
			esi:      esi,
			perES:    make(map[route.RD]perESPath),
			esRoutes: make(map[imetKey]*route.DFElection),
			bindings: make(map[*evi]*binding),
		}
		pe.segments[esi] = s
	}
	return s
}

// AddSegment configures a local Ethernet segment. It is up at once: its
// ES and per-ES A-D routes are originated when the first AC joins it.
func (pe *PE) AddSegment(ctx context.Context, cfg SegmentConfig) error {
	switch {
	case cfg.ESI.IsZero():
		return errors.New("add segment: the zero ESI means single-homed, not a segment")
	case cfg.ESI.Type() != route.ESIType0Operator && cfg.ESI.Type() != route.ESIType1LACP && cfg.ESI.Type() != route.ESIType3MAC:
		return fmt.Errorf("add segment %s: ESI type %d is not supported (0, 1 or 3)", cfg.ESI, cfg.ESI.Type())
	case cfg.DF.Algorithm > route.DFPreference:
		return fmt.Errorf("add segment %s: DF algorithm %v is not supported", cfg.ESI, cfg.DF.Algorithm)
	case cfg.ElectionTimer < 0:
		return fmt.Errorf("add segment %s: election timer %v is negative", cfg.ESI, cfg.ElectionTimer)
	}
	return pe.run(ctx, func() error {
		s := pe.segment(cfg.ESI)
		if s.local != nil {
			return fmt.Errorf("add segment %s: already configured", cfg.ESI)
		}
		id, ok := pe.segIDs.get()
		if !ok {
			return fmt.Errorf("add segment %s: out of segment ids", cfg.ESI)
		}
		label, ok := pe.labels.get()
		if !ok {
			pe.segIDs.put(id)
			return fmt.Errorf("add segment %s: label range %d-%d exhausted", cfg.ESI, pe.cfg.Labels.First, pe.cfg.Labels.Last)
		}
		s.local = &localSegment{
			cfg:         cfg,
			id:          asic.SegmentID(id),
			esiLabel:    label,
			up:          true,
			peers:       make(map[*remotePE]uint32),
			elected:     make(map[*evi]netip.Addr),
			dfInstalled: make(map[*evi]bool),
		}
		s.local.advPref = pe.deferredPref(s)
		pe.write(asic.Set(pe.segmentEntity(s)))
		pe.refreshSegmentPeers(s)
		return nil
	})
}

func (pe *PE) segmentEntity(s *ethernetSegment) asic.Segment {
	return asic.Segment{ID: s.local.id, ESILabel: s.local.esiLabel, SingleActive: s.local.cfg.Redundancy == SingleActive}
}

// AddEVI configures an EVI with its ACs and static MACs, programs its bridge
// domain and originates its routes.
func (pe *PE) AddEVI(ctx context.Context, cfg EVIConfig) error {
	if cfg.ID == 0 || cfg.ID > 0xFFFF {
		return fmt.Errorf("add evi %d: the EVI number must be 1-65535 to derive a type-1 RD", cfg.ID)
	}
	if cfg.BD == 0 {
		return fmt.Errorf("add evi %d: bridge domain 0 is not a bridge domain", cfg.ID)
	}
	if d := cfg.DuplicateDetection; d.Moves < 0 || d.Window < 0 || d.Recovery < 0 {
		return fmt.Errorf("add evi %d: duplicate detection %+v has negative values", cfg.ID, d)
	}
	return pe.run(ctx, func() error {
		if _, ok := pe.evis[cfg.ID]; ok {
			return fmt.Errorf("add evi %d: already configured", cfg.ID)
		}
		if other, ok := pe.bds[cfg.BD]; ok {
			return fmt.Errorf("add evi %d: bridge domain %d belongs to evi %d", cfg.ID, cfg.BD, other.id)
		}
		seen := make(map[asic.ACID]bool)
		type portVLAN struct {
			port         asic.PortID
			outer, inner uint16
		}
		used := make(map[portVLAN]asic.ACID)
		for _, ac := range pe.acs {
			used[portVLAN{ac.cfg.Port, ac.cfg.VLAN, ac.cfg.InnerVLAN}] = ac.cfg.ID
		}
		onSegment := make(map[route.ESI]asic.ACID)
		for _, ac := range cfg.ACs {
			if ac.ID == 0 || ac.Port == 0 {
				return fmt.Errorf("add evi %d: attachment circuit %d on port %d: ids must be non-zero", cfg.ID, ac.ID, ac.Port)
			}
			if _, ok := pe.acs[ac.ID]; ok || seen[ac.ID] {
				return fmt.Errorf("add evi %d: attachment circuit %d already configured", cfg.ID, ac.ID)
			}
			seen[ac.ID] = true
			if ac.VLAN > 4094 || ac.InnerVLAN > 4094 || (ac.VLAN == 0 && ac.InnerVLAN != 0) {
				return fmt.Errorf("add evi %d: attachment circuit %d: VLAN %d inner %d: tags must be 0-4094, an inner tag needs an outer one", cfg.ID, ac.ID, ac.VLAN, ac.InnerVLAN)
			}
			if kind, ok := pe.ports[ac.Port]; ok && kind != asic.PortAccess {
				return fmt.Errorf("add evi %d: attachment circuit %d: port %d is a %v port", cfg.ID, ac.ID, ac.Port, kind)
			}
			pv := portVLAN{ac.Port, ac.VLAN, ac.InnerVLAN}
			if other, ok := used[pv]; ok {
				return fmt.Errorf("add evi %d: attachment circuit %d: port %d VLAN %d inner %d already belongs to attachment circuit %d", cfg.ID, ac.ID, ac.Port, ac.VLAN, ac.InnerVLAN, other)
			}
			used[pv] = ac.ID
			if !ac.ESI.IsZero() {
				if s := pe.segments[ac.ESI]; s == nil || s.local == nil {
					return fmt.Errorf("add evi %d: attachment circuit %d names segment %s, which is not configured", cfg.ID, ac.ID, ac.ESI)
				}
				// One AC per segment and EVI: the segment is one CE link
				// bundle, and DF and split horizon are per (segment, EVI).
				if other, ok := onSegment[ac.ESI]; ok {
					return fmt.Errorf("add evi %d: attachment circuits %d and %d are both on segment %s", cfg.ID, other, ac.ID, ac.ESI)
				}
				onSegment[ac.ESI] = ac.ID
			}
		}
		for _, sm := range cfg.StaticMACs {
			if !seen[sm.AC] {
				return fmt.Errorf("add evi %d: static MAC %s names attachment circuit %d, not one of this EVI", cfg.ID, sm.MAC, sm.AC)
			}
		}
		uni, bum, ok1, ok2 := uint32(0), uint32(0), false, false
		if l, ok := pe.adopted.bdLabels(cfg.BD); ok && pe.labels.take(l[0]) {
			uni, ok1 = l[0], true
			if pe.labels.take(l[1]) {
				bum, ok2 = l[1], true
			}
		}
		if !ok1 {
			uni, ok1 = pe.labels.get()
		}
		if !ok2 {
			bum, ok2 = pe.labels.get()
		}
		if !ok1 || !ok2 {
			if ok1 {
				pe.labels.put(uni)
			}
			return fmt.Errorf("add evi %d: label range %d-%d exhausted", cfg.ID, pe.cfg.Labels.First, pe.cfg.Labels.Last)
		}
		e := &evi{
			id: cfg.ID, bd: cfg.BD, vlan: cfg.VLAN, macLimit: cfg.MACLimit,
			unicastLabel: uni, bumLabel: bum,
			macs:          make(map[route.MAC]*macEntry),
			learned:       make(map[route.MAC]*macEntry),
			imet:          make(map[imetKey]imetPath),
			perEVIAD:      make(map[adKey]*remotePE),
			perEVILabels:  make(map[adKey]uint32),
			peStats:       make(map[*remotePE]*peEVIStats),
			serviceLabels: make(map[*remotePE]uint32),
			bindings:      make(map[*ethernetSegment]*binding),
		}
		if e.vlan == 0 {
			e.vlan = uint16(cfg.ID)
		}
		e.dup = pe.cfg.DuplicateDetection
		if d := cfg.DuplicateDetection; d.Moves > 0 {
			e.dup.Moves = d.Moves
		}
		if d := cfg.DuplicateDetection; d.Window > 0 {
			e.dup.Window = d.Window
		}
		if d := cfg.DuplicateDetection; d.Recovery > 0 {
			e.dup.Recovery = d.Recovery
		}
		e.rd = route.AutoRD(pe.cfg.RouterID, uint16(cfg.ID))
		if cfg.RD != nil {
			e.rd = *cfg.RD
		}
		e.importRTs, e.exportRTs = cfg.ImportRTs, cfg.ExportRTs
		auto := route.AutoRouteTarget(pe.cfg.ASN, cfg.ID)
		if len(e.importRTs) == 0 {
			e.importRTs = []route.RouteTarget{auto}
		}
		if len(e.exportRTs) == 0 {
			e.exportRTs = []route.RouteTarget{auto}
		}
		pe.evis[e.id] = e
		pe.bds[e.bd] = e
		for _, rt := range e.importRTs {
			pe.rtIndex[rt] = append(pe.rtIndex[rt], e)
		}
		pe.write(asic.Set(asic.BridgeDomain{ID: e.bd, UnicastLabel: uni, BUMLabel: bum}))
		var touched []*ethernetSegment
		for _, c := range cfg.ACs {
			ac := &attachment{cfg: c, evi: e}
			if !c.ESI.IsZero() {
				ac.seg = pe.segments[c.ESI]
				ac.seg.local.acs = append(ac.seg.local.acs, ac)
				if !slices.Contains(touched, ac.seg) {
					touched = append(touched, ac.seg)
				}
			}
			pe.acs[c.ID] = ac
			e.acs = append(e.acs, ac)
			pe.addPort(c.Port, asic.PortAccess)
			pe.write(asic.Set(pe.acEntity(ac)))
		}
		slices.SortFunc(e.acs, func(a, b *attachment) int { return int(a.cfg.ID) - int(b.cfg.ID) })
		pe.refreshFlood(e)
		pe.originateIMET(e)
		for _, s := range touched {
			pe.write(asic.Set(asic.DFState{Segment: s.local.id, BD: e.bd, DF: false}))
			s.local.dfInstalled[e] = false
			pe.originateSegment(s)
			pe.scheduleElection(s)
		}
		for _, sm := range cfg.StaticMACs {
			pe.addStatic(e, sm)
		}
		pe.adoptEVIMACs(e)
		return nil
	})
}

func (pe *PE) acEntity(ac *attachment) asic.AttachmentCircuit {
	a := asic.AttachmentCircuit{ID: ac.cfg.ID, Port: ac.cfg.Port, VLAN: ac.cfg.VLAN, InnerVLAN: ac.cfg.InnerVLAN, BD: ac.evi.bd}
	if ac.seg != nil {
		a.Segment = ac.seg.local.id
	}
	return a
}

// evis returns the EVIs with an AC on the local segment s, sorted by id.
func (s *ethernetSegment) evis() []*evi {
	var out []*evi
	if s.local == nil {
		return nil
	}
	for _, ac := range s.local.acs {
		if !slices.Contains(out, ac.evi) {
			out = append(out, ac.evi)
		}
	}
	slices.SortFunc(out, func(a, b *evi) int { return int(a.id) - int(b.id) })
	return out
}

// acIn returns the AC of local segment s in EVI e, if s is up.
func (s *ethernetSegment) acIn(e *evi) *attachment {
	if s == nil || s.local == nil || !s.local.up {
		return nil
	}
	for _, ac := range s.local.acs {
		if ac.evi == e {
			return ac
		}
	}
	return nil
}

// SetSegmentUp brings a local segment down (its CE links failed) or up. Down
// withdraws its ES, per-ES and per-EVI A-D routes, so remote PEs drop this
// PE from their aliasing groups at once (RFC 7432 §8.2), flushes the local
// MACs learned on it and makes this PE non-DF. Up re-originates the routes
// and re-runs the DF election after the election timer.
func (pe *PE) SetSegmentUp(ctx context.Context, esi route.ESI, up bool) error {
	return pe.run(ctx, func() error {
		s := pe.segments[esi]
		if s == nil || s.local == nil {
			return fmt.Errorf("set segment %s up=%v: not configured", esi, up)
		}
		if s.local.up == up {
			return nil
		}
		if !up {
			pe.withdrawSegment(s)
			s.local.up = false
			pe.stopTimer(s.local.timer)
			s.local.timer = nil
			for _, e := range s.evis() {
				pe.setDF(s, e, false)
				for mac, me := range e.macs {
					if me.local != nil && me.local.ac.seg == s && !me.local.static {
						pe.removeLocal(e, mac, me, "segment down")
					} else if me.hasRemoteOn(s) {
						pe.resolve(e, mac, me)
					}
				}
			}
			return nil
		}
		s.local.up = true
		s.local.advPref, s.local.advDP = pe.deferredPref(s), false
		for _, e := range s.evis() {
			for mac, me := range e.macs {
				if me.hasRemoteOn(s) {
					pe.resolve(e, mac, me)
				}
			}
		}
		pe.originateSegment(s)
		pe.scheduleElection(s)
		return nil
	})
}

func (me *macEntry) hasRemoteOn(s *ethernetSegment) bool {
	for _, r := range me.remotes {
		if r.seg == s {
			return true
		}
	}
	return false
}

// Reconcile writes the difference between the PE's desired forwarding state
// and what the switch holds (after a switch or daemon restart); it returns
// the number of updates written. The first Reconcile after Adopt settles
// the local MACs adopted from the switch (see Adopt): it removes those the
// switch no longer holds and takes the local MACs the switch holds that the
// PE does not know as learned now (and advertises them), unless a remote
// route claims them.
func (pe *PE) Reconcile(ctx context.Context) (int, error) {
	// Read before taking the locks (mu comes before outMu); a flush racing
	// with the read only makes some updates below redundant, and updates
	// are idempotent.
	current, err := pe.cfg.Switch.Read(ctx)
	if err != nil {
		return 0, fmt.Errorf("reconcile: read switch: %w", err)
	}
	pe.mu.Lock()
	if pe.closed {
		pe.mu.Unlock()
		return 0, ErrClosed
	}
	if pe.adopted != nil && pe.adopted.holding {
		// Only the first Reconcile after Adopt: later, a local entry the
		// PE does not know is one it just removed (the read raced with it).
		pe.confirmAdoptedMACs(current)
		if n := pe.adoptLocalMACs(current); n > 0 {
			pe.log.Info("adopted local MACs from the switch", "macs", n)
		}
		// BGP has converged (the daemon reconciles on End-of-RIB): the
		// deferred DF elections run now, on every candidate, and their
		// result joins the diff below instead of a write of its own.
		for s := range pe.adopted.elections {
			if s.local != nil { // not removed meanwhile
				pe.elect(s)
			}
		}
		pe.adopted.elections = nil
		pe.adopted.holding = false
	}
	desired := pe.desiredLocked()
	tx := pe.tx
	pe.tx = txn{}
	tx.updates = nil // the diff carries them
	pe.outMu.Lock()
	pe.mu.Unlock()
	res := pe.flush(ctx, tx)
	updates, err := asic.Diff(current, desired)
	if err == nil && len(updates) > 0 {
		err = pe.cfg.Switch.Write(ctx, updates)
	}
	pe.outMu.Unlock()
	if res.speakerErrs > 0 {
		pe.mu.Lock()
		pe.record(res)
		pe.mu.Unlock()
	}
	if err != nil {
		return len(updates), fmt.Errorf("reconcile: write %d updates: %w", len(updates), err)
	}
	return len(updates), nil
}

// DesiredState returns the full forwarding state the PE wants the switch to
// hold: the snapshot Reconcile diffs against.
func (pe *PE) DesiredState() []asic.Entity {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return pe.desiredLocked()
}

func (pe *PE) desiredLocked() []asic.Entity {
	var out []asic.Entity
	for id, kind := range pe.ports {
		out = append(out, asic.Port{ID: id, Kind: kind})
	}
	for _, s := range pe.segments {
		if s.local == nil {
			continue
		}
		out = append(out, pe.segmentEntity(s))
		for e, df := range s.local.dfInstalled {
			out = append(out, asic.DFState{Segment: s.local.id, BD: e.bd, DF: df})
		}
		for r, label := range s.local.peers {
			out = append(out, asic.SegmentPeer{Segment: s.local.id, PE: r.id, ESILabel: label})
		}
		for _, g := range s.groups {
			out = append(out, g.entity())
		}
	}
	for _, s := range pe.segments {
		if s.local == nil {
			for _, g := range s.groups {
				out = append(out, g.entity())
			}
		}
	}
	for _, r := range pe.remotePEs {
		out = append(out, pe.remotePEEntity(r))
	}
	for _, e := range pe.evis {
		out = append(out, asic.BridgeDomain{ID: e.bd, UnicastLabel: e.unicastLabel, BUMLabel: e.bumLabel})
		for _, ac := range e.acs {
			out = append(out, pe.acEntity(ac))
		}
		for r, label := range e.serviceLabels {
			out = append(out, asic.ServiceLabel{PE: r.id, BD: e.bd, Label: label})
		}
		out = append(out, asic.FloodGroup{BD: e.bd, Members: slices.Clone(e.flood)})
		for mac, me := range e.macs {
			if me.hasOwner {
				out = append(out, pe.fdbEntry(e, mac, me))
			}
		}
	}
	return out
}

func (g *aliasGroup) entity() asic.AliasingGroup {
	m := make([]asic.RemotePEID, len(g.members))
	for i, r := range g.members {
		m[i] = r.id
	}
	return asic.AliasingGroup{ID: g.id, SingleActive: g.singleActive, Members: m}
}

func (pe *PE) remotePEEntity(r *remotePE) asic.RemotePE {
	return asic.RemotePE{
		ID: r.id, Address: r.addr, CorePort: pe.cfg.Core.Port,
		SourceMAC: pe.cfg.Core.SourceMAC, NextHopMAC: pe.cfg.Core.NextHopMAC,
		TransportLabel: pe.cfg.Core.TransportLabels[r.addr], ControlWord: pe.cfg.Core.ControlWord,
	}
}
