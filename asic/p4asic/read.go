package p4asic

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/protobuf/proto"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/p4rt"
)

// targetState is everything Read fetched, indexed by object key.
type targetState struct {
	objs    map[string]*p4v1.Entity
	claimed map[string]bool
	entries map[string][]p4rt.TableEntry // decoded, by table name
	groups  []*p4v1.ActionProfileGroup
	members map[uint32]asic.RemotePEID // selector member id -> its PE
	mcast   []*p4v1.MulticastGroupEntry
}

// Read implements asic.Switch: it rebuilds the entities from the target's
// tables, keeps those whose every entry is as a Set would write it, and
// makes them the view.
func (s *Switch) Read(ctx context.Context) ([]asic.Entity, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	out, ts, err := s.readLocked(ctx)
	if err != nil {
		return nil, err
	}
	if strays := len(ts.objs) - len(ts.claimed); strays > 0 {
		s.log.Warn("target entries that belong to no entity: left in place (DeleteStrays removes them)", "entries", strays)
	}
	return out, nil
}

// readLocked reads the target into a new view. Called with writeMu held.
func (s *Switch) readLocked(ctx context.Context) ([]asic.Entity, *targetState, error) {
	ts, err := s.fetch(ctx)
	if err != nil {
		return nil, nil, err
	}
	nv := newView()
	var out []asic.Entity
	for _, c := range s.candidates(ts) {
		if s.verify(nv, ts, c) {
			out = append(out, c)
		}
	}
	s.mu.Lock()
	s.view = nv
	s.mu.Unlock()
	return out, ts, nil
}

// DeleteStrays reads the target like Read and deletes what belongs to no
// entity: the leftovers of a corrupted or half-written entity, or of
// another controller. Call it after asic.Reconcile has rewritten what it
// wants, not before: an entity Read left out because one of its entries was
// damaged still forwards with the others until it is rewritten. It returns
// the number of P4Runtime entities deleted.
func (s *Switch) DeleteStrays(ctx context.Context) (int, error) {
	if s.isClosed() {
		return 0, errClosed
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_, ts, err := s.readLocked(ctx)
	if err != nil {
		return 0, err
	}
	keys := make([]string, 0, len(ts.objs)-len(ts.claimed))
	for k := range ts.objs {
		if !ts.claimed[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	ups := make([]*p4v1.Update, len(keys))
	for i, k := range keys {
		ups[i] = &p4v1.Update{Type: p4v1.Update_DELETE, Entity: ts.objs[k]}
	}
	if len(ups) == 0 {
		return 0, nil
	}
	// p4rt deletes table entries before the groups and members they use.
	if err := s.client.Write(ctx, ups); err != nil {
		s.markStale()
		return 0, fmt.Errorf("p4asic: delete %d stray entities: %w", len(ups), err)
	}
	s.log.Info("deleted stray target entities", "entities", len(ups))
	return len(ups), nil
}

func (s *Switch) fetch(ctx context.Context) (*targetState, error) {
	ts := &targetState{objs: map[string]*p4v1.Entity{}, claimed: map[string]bool{},
		entries: map[string][]p4rt.TableEntry{}, members: map[uint32]asic.RemotePEID{}}
	tes, err := s.client.ReadTableEntries(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("p4asic: read table entries: %w", err)
	}
	for _, te := range tes {
		e, err := s.ix.DecodeTableEntry(te)
		if err != nil {
			return nil, fmt.Errorf("p4asic: decode %s: %w", s.ix.Describe(p4rt.Entity(te)), err)
		}
		ts.entries[e.Table] = append(ts.entries[e.Table], e)
		ts.objs[objKey(obj{ent: p4rt.Entity(te)})] = p4rt.Entity(te)
	}
	if ts.groups, err = s.client.ReadActionProfileGroups(ctx, p4.ActionProfileAliasingSelector); err != nil {
		return nil, fmt.Errorf("p4asic: read aliasing groups: %w", err)
	}
	for _, g := range ts.groups {
		ts.objs[objKey(obj{ent: p4rt.Entity(g)})] = p4rt.Entity(g)
	}
	ms, err := s.client.ReadActionProfileMembers(ctx, p4.ActionProfileAliasingSelector)
	if err != nil {
		return nil, fmt.Errorf("p4asic: read aliasing members: %w", err)
	}
	for _, m := range ms {
		ts.objs[objKey(obj{ent: p4rt.Entity(m)})] = p4rt.Entity(m)
		dm, err := s.ix.DecodeActionProfileMember(m)
		if err != nil || dm.Action == nil || dm.Action.Name != p4.ActionSetAliasingPE || len(dm.Action.Params) != 1 {
			continue
		}
		pe, err := p4rt.ToUint(dm.Action.Params[0].Value)
		if err == nil {
			ts.members[m.GetMemberId()] = asic.RemotePEID(pe)
		}
	}
	if ts.mcast, err = s.client.ReadMulticastGroups(ctx); err != nil {
		return nil, fmt.Errorf("p4asic: read multicast groups: %w", err)
	}
	for _, g := range ts.mcast {
		ts.objs[objKey(obj{ent: p4rt.Entity(&p4v1.PacketReplicationEngineEntry{
			Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: g}})})] =
			p4rt.Entity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: g}})
	}
	return ts, nil
}

func param(a *p4rt.ActionCall, name string) uint64 {
	for _, p := range a.Params {
		if p.Name == name {
			v, _ := p4rt.ToUint(p.Value)
			return v
		}
	}
	return 0
}

func paramMAC(a *p4rt.ActionCall, name string) asic.MAC {
	for _, p := range a.Params {
		if p.Name == name {
			m, _ := macFromBytes(p.Value)
			return m
		}
	}
	return asic.MAC{}
}

func matchUint(e p4rt.TableEntry, field string) uint64 {
	for _, m := range e.Match {
		if m.Field == field {
			v, _ := p4rt.ToUint(m.Value)
			return v
		}
	}
	return 0
}

func actionOf(e p4rt.TableEntry) *p4rt.ActionCall {
	a, _ := e.Action.(*p4rt.ActionCall)
	if a == nil {
		return &p4rt.ActionCall{}
	}
	return a
}

// candidates rebuilds entities from the target's entries, in Kind order,
// without checking them.
func (s *Switch) candidates(ts *targetState) []asic.Entity {
	var out []asic.Entity
	// Ports.
	for _, e := range ts.entries[p4.TablePortKind] {
		id := asic.PortID(matchUint(e, p4.FieldPort))
		kind := asic.PortAccess
		switch {
		case uint32(id) == s.cfg.cpuPort:
			kind = asic.PortCPU
		case actionOf(e).Name == p4.ActionSetCorePort:
			kind = asic.PortCore
		}
		out = append(out, asic.Port{ID: id, Kind: kind})
	}
	// Bridge domains: their unicast label, and the BUM label if any.
	bds := map[asic.BridgeDomainID]*asic.BridgeDomain{}
	bd := func(id asic.BridgeDomainID) *asic.BridgeDomain {
		if bds[id] == nil {
			bds[id] = &asic.BridgeDomain{ID: id}
		}
		return bds[id]
	}
	for _, e := range ts.entries[p4.TableServiceLabel] {
		a := actionOf(e)
		label := uint32(matchUint(e, p4.FieldLabel))
		b := bd(asic.BridgeDomainID(param(a, p4.FieldBD)))
		switch a.Name {
		case p4.ActionSetServiceBD:
			if b.UnicastLabel == 0 {
				b.UnicastLabel = label
				if bytes.Equal(e.Metadata, []byte{metaShared}) {
					b.BUMLabel = label
				}
			}
		case p4.ActionSetBUMBD:
			if b.BUMLabel == 0 {
				b.BUMLabel = label
			}
		}
	}
	out = appendSorted(out, bds, func(b *asic.BridgeDomain) asic.Entity { return *b })
	// Segments.
	for _, e := range ts.entries[p4.TableESILabel] {
		out = append(out, asic.Segment{ID: asic.SegmentID(param(actionOf(e), p4.FieldES)),
			ESILabel: uint32(matchUint(e, p4.FieldLabel)), SingleActive: bytes.Equal(e.Metadata, []byte{metaSingleActive})})
	}
	// DF states: an entry is DF; an AC's (segment, bd) without one is not.
	df := map[asic.DFState]bool{}
	for _, e := range ts.entries[p4.TableDF] {
		d := asic.DFState{Segment: asic.SegmentID(matchUint(e, p4.FieldES)), BD: asic.BridgeDomainID(matchUint(e, p4.FieldBD)), DF: true}
		df[d] = true
		out = append(out, d)
	}
	// ACs.
	var acs []asic.Entity
	for _, e := range ts.entries[p4.TableAttachmentCircuit] {
		ac := asic.AttachmentCircuit{Port: asic.PortID(matchUint(e, p4.FieldPort)),
			VLAN: uint16(matchUint(e, p4.FieldVIDOuter)), InnerVLAN: uint16(matchUint(e, p4.FieldVIDInner))}
		a := actionOf(e)
		switch a.Name {
		case p4.ActionSetAC:
			ac.ID, ac.BD, ac.Segment = asic.ACID(param(a, p4.FieldAC)), asic.BridgeDomainID(param(a, p4.FieldBD)), asic.SegmentID(param(a, p4.FieldES))
		case p4.ActionBlockAC:
			if len(e.Metadata) != 6 {
				continue
			}
			ac.ID = asic.ACID(binary.BigEndian.Uint16(e.Metadata[0:]))
			ac.BD = asic.BridgeDomainID(binary.BigEndian.Uint16(e.Metadata[2:]))
			ac.Segment = asic.SegmentID(binary.BigEndian.Uint16(e.Metadata[4:]))
		default:
			continue
		}
		acs = append(acs, ac)
		if ac.Segment != 0 {
			d := asic.DFState{Segment: ac.Segment, BD: ac.BD, DF: false}
			if !df[asic.DFState{Segment: ac.Segment, BD: ac.BD, DF: true}] && !df[d] {
				df[d] = true
				out = append(out, d)
			}
		}
	}
	out = append(out, acs...)
	// Remote PEs: tunnel_port and tunnel.
	tunnels := map[uint64]p4rt.TableEntry{}
	for _, e := range ts.entries[p4.TableTunnel] {
		tunnels[matchUint(e, p4.FieldPE)] = e
	}
	for _, e := range ts.entries[p4.TableTunnelPort] {
		id := matchUint(e, p4.FieldPE)
		t, ok := tunnels[id]
		if !ok {
			continue
		}
		addr, _ := netip.AddrFromSlice(e.Metadata)
		ta := actionOf(t)
		transport := uint32(param(ta, p4.FieldTransportLabel))
		if transport == p4.NoTransportLabel {
			transport = 0
		}
		out = append(out, asic.RemotePE{ID: asic.RemotePEID(id), Address: addr,
			CorePort: asic.PortID(param(actionOf(e), p4.FieldPort)), SourceMAC: paramMAC(ta, p4.FieldSrcMAC),
			NextHopMAC: paramMAC(ta, p4.FieldDstMAC), TransportLabel: transport, ControlWord: param(ta, p4.FieldControlWord) == 1})
	}
	for _, e := range ts.entries[p4.TableRemoteServiceLabel] {
		out = append(out, asic.ServiceLabel{PE: asic.RemotePEID(matchUint(e, p4.FieldPE)), BD: asic.BridgeDomainID(matchUint(e, p4.FieldBD)),
			Label: uint32(param(actionOf(e), p4.FieldLabel))})
	}
	for _, e := range ts.entries[p4.TablePeerESILabel] {
		out = append(out, asic.SegmentPeer{Segment: asic.SegmentID(matchUint(e, p4.FieldES)), PE: asic.RemotePEID(matchUint(e, p4.FieldPE)),
			ESILabel: uint32(param(actionOf(e), p4.FieldLabel))})
	}
	// Aliasing groups: the selector's groups; the entry's metadata keeps
	// the order and the single-active flag.
	aliasMeta := map[uint64][]byte{}
	for _, e := range ts.entries[p4.TableAliasing] {
		aliasMeta[matchUint(e, p4.FieldGroup)] = e.Metadata
	}
	for _, g := range ts.groups {
		ag := asic.AliasingGroup{ID: asic.GroupID(g.GetGroupId())}
		if meta, ok := aliasMeta[uint64(g.GetGroupId())]; ok && len(meta) >= 1 && len(meta)%2 == 1 {
			ag.SingleActive = meta[0] == metaSingleActive
			for i := 1; i < len(meta); i += 2 {
				ag.Members = append(ag.Members, asic.RemotePEID(binary.BigEndian.Uint16(meta[i:])))
			}
		} else {
			for _, m := range g.GetMembers() {
				if pe, ok := ts.members[m.GetMemberId()]; ok {
					ag.Members = append(ag.Members, pe)
				}
			}
			slices.Sort(ag.Members)
		}
		out = append(out, ag)
	}
	// Flood groups: each replica's rid names its treatment.
	replicas := map[uint64]*p4rt.ActionCall{}
	for _, e := range ts.entries[p4.TableFloodReplica] {
		replicas[matchUint(e, p4.FieldRID)] = actionOf(e)
	}
	for _, g := range ts.mcast {
		fg := asic.FloodGroup{BD: asic.BridgeDomainID(g.GetMulticastGroupId())}
		for _, r := range g.GetReplicas() {
			a, ok := replicas[uint64(r.GetInstance())]
			if !ok {
				continue
			}
			switch a.Name {
			case p4.ActionReplicaToAC:
				fg.Members = append(fg.Members, asic.FloodMember{AC: asic.ACID(param(a, p4.FieldAC))})
			case p4.ActionReplicaToPE:
				fg.Members = append(fg.Members, asic.FloodMember{PE: asic.RemotePEID(param(a, p4.FieldPE)), BUMLabel: uint32(param(a, p4.FieldLabel))})
			}
		}
		slices.SortFunc(fg.Members, func(a, b asic.FloodMember) int {
			if (a.AC != 0) != (b.AC != 0) {
				if a.AC != 0 {
					return -1
				}
				return 1
			}
			return cmp.Or(cmp.Compare(a.AC, b.AC), cmp.Compare(a.PE, b.PE))
		})
		out = append(out, fg)
	}
	// FDB entries, with their source-MAC entries.
	type bdMAC struct {
		bd  asic.BridgeDomainID
		mac asic.MAC
	}
	smac := map[bdMAC]p4rt.TableEntry{}
	for _, e := range ts.entries[p4.TableSourceMAC] {
		b, m, err := bdMACKey(e.Match)
		if err == nil {
			smac[bdMAC{b, m}] = e
		}
	}
	for _, e := range ts.entries[p4.TableFDB] {
		b, m, err := bdMACKey(e.Match)
		if err != nil {
			continue
		}
		f := asic.FDBEntry{BD: b, MAC: m}
		a := actionOf(e)
		switch a.Name {
		case p4.ActionToLocalAC:
			f.Dest = asic.Destination{Kind: asic.ToAC, AC: asic.ACID(param(a, p4.FieldAC))}
		case p4.ActionToRemotePE:
			f.Dest = asic.Destination{Kind: asic.ToRemotePE, PE: asic.RemotePEID(param(a, p4.FieldPE)), Label: uint32(param(a, p4.FieldLabel))}
		case p4.ActionToAliasingGroup:
			f.Dest = asic.Destination{Kind: asic.ToAliasingGroup, Group: asic.GroupID(param(a, p4.FieldGroup))}
		case p4.ActionFDBDiscard:
		default:
			continue
		}
		if se, ok := smac[bdMAC{b, m}]; ok {
			f.Pinned = actionOf(se).Name == p4.ActionSMACPinned
			f.IdleTimeout = se.IdleTimeout
		}
		out = append(out, f)
	}
	return out
}

func appendSorted[K cmp.Ordered, V any](out []asic.Entity, m map[K]V, f func(V) asic.Entity) []asic.Entity {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, f(m[k]))
	}
	return out
}

// verify adds c to nv when its references are in nv and every object a Set
// of c would write is on the target as written; it claims those objects.
func (s *Switch) verify(nv *view, ts *targetState, c asic.Entity) bool {
	if s.validate(c) != nil {
		return false
	}
	for _, r := range asic.References(c) {
		if !nv.has(r) {
			return false
		}
	}
	if nv.has(c.Key()) || nv.conflict(c) != nil {
		return false
	}
	if g, ok := c.(asic.FloodGroup); ok {
		// Adopt the target's replica ids.
		for _, r := range ts.mcastGroup(uint32(g.BD)).GetReplicas() {
			if r.GetInstance() >= firstPERID {
				if a, ok := ts.replicaPE(s, r.GetInstance()); ok {
					nv.rids[ridKey{g.BD, a}] = r.GetInstance()
					nv.ridUsed[r.GetInstance()] = true
				}
			}
		}
	}
	nv.put(c)
	ok := true
	objs, err := s.objects(nv, c)
	if err != nil {
		ok = false
	}
	for _, o := range objs {
		if got, found := ts.objs[objKey(o)]; !found || !sameObject(o.ent, got) {
			ok = false
			break
		}
	}
	var memberKeys []string
	if g, isGroup := c.(asic.AliasingGroup); isGroup && ok {
		for _, m := range forwarding(g) {
			if ts.members[uint32(m)] != m {
				ok = false
				break
			}
			mm, err := s.member(m)
			if err != nil {
				ok = false
				break
			}
			memberKeys = append(memberKeys, objKey(obj{ent: p4rt.Entity(mm)}))
		}
	}
	if !ok {
		nv.release(c, nil)
		return false
	}
	for _, o := range objs {
		ts.claimed[objKey(o)] = true
	}
	for _, k := range memberKeys {
		ts.claimed[k] = true
	}
	return true
}

func (ts *targetState) mcastGroup(id uint32) *p4v1.MulticastGroupEntry {
	for _, g := range ts.mcast {
		if g.GetMulticastGroupId() == id {
			return g
		}
	}
	return nil
}

// replicaPE returns the remote PE of replica rid from its flood_replica
// entry.
func (ts *targetState) replicaPE(s *Switch, rid uint32) (asic.RemotePEID, bool) {
	for _, e := range ts.entries[p4.TableFloodReplica] {
		if matchUint(e, p4.FieldRID) == uint64(rid) {
			a := actionOf(e)
			if a.Name == p4.ActionReplicaToPE {
				return asic.RemotePEID(param(a, p4.FieldPE)), true
			}
		}
	}
	return 0, false
}

// sameObject compares what a Set writes with what the target returned,
// ignoring what a target adds or orders its own way.
func sameObject(want, got *p4v1.Entity) bool {
	switch w := want.GetEntity().(type) {
	case *p4v1.Entity_TableEntry:
		g := got.GetTableEntry()
		if g == nil {
			return false
		}
		norm := func(t *p4v1.TableEntry) *p4v1.TableEntry {
			m := slices.Clone(t.GetMatch())
			slices.SortFunc(m, func(a, b *p4v1.FieldMatch) int { return cmp.Compare(a.GetFieldId(), b.GetFieldId()) })
			a := proto.Clone(t.GetAction()).(*p4v1.TableAction)
			if da := a.GetAction(); da != nil {
				slices.SortFunc(da.Params, func(a, b *p4v1.Action_Param) int { return cmp.Compare(a.GetParamId(), b.GetParamId()) })
			}
			return &p4v1.TableEntry{TableId: t.GetTableId(), Match: m, Action: a, Priority: t.GetPriority(),
				Metadata: t.GetMetadata(), IdleTimeoutNs: t.GetIdleTimeoutNs()}
		}
		return proto.Equal(norm(w.TableEntry), norm(g))
	case *p4v1.Entity_ActionProfileGroup:
		g := got.GetActionProfileGroup()
		ids := func(x *p4v1.ActionProfileGroup) []uint32 {
			var out []uint32
			for _, m := range x.GetMembers() {
				out = append(out, m.GetMemberId())
			}
			slices.Sort(out)
			return out
		}
		return g != nil && slices.Equal(ids(w.ActionProfileGroup), ids(g))
	case *p4v1.Entity_PacketReplicationEngineEntry:
		type rep struct {
			port string
			inst uint32
		}
		reps := func(x *p4v1.MulticastGroupEntry) []rep {
			var out []rep
			for _, r := range x.GetReplicas() {
				p := r.GetPort()
				if len(p) == 0 {
					// A target that answers with the deprecated egress_port.
					p = p4rt.Uint(uint64(r.GetEgressPort())) //lint:ignore SA1019 BMv2 before P4Runtime 1.4 fills only egress_port
				}
				out = append(out, rep{string(bytes.TrimLeft(p, "\x00")), r.GetInstance()})
			}
			slices.SortFunc(out, func(a, b rep) int { return cmp.Or(cmp.Compare(a.port, b.port), cmp.Compare(a.inst, b.inst)) })
			return out
		}
		g := got.GetPacketReplicationEngineEntry().GetMulticastGroupEntry()
		return g != nil && slices.Equal(reps(w.PacketReplicationEngineEntry.GetMulticastGroupEntry()), reps(g))
	}
	return proto.Equal(want, got)
}
