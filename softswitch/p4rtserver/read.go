package p4rtserver

import (
	"bytes"
	"fmt"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// readChunkBytes bounds one ReadResponse, well under gRPC's default 4 MiB
// receive limit of clients.
const readChunkBytes = 1 << 20

// Read answers specific and wildcard reads (spec §13). The state is read
// under the shared lock, so the answer is consistent with every Write either
// complete or not begun; it is streamed after the lock is released (stored
// entities are immutable).
func (s *Server) Read(req *p4v1.ReadRequest, stream p4v1.P4Runtime_ReadServer) error {
	if req.GetDeviceId() != s.deviceID {
		return rpcError(s.unknownDevice(req.GetDeviceId()))
	}
	s.mu.RLock()
	p := s.active()
	if p == nil {
		s.mu.RUnlock()
		return rpcError(errorf(codes.FailedPrecondition, "no forwarding pipeline config: call SetForwardingPipelineConfig first"))
	}
	var out readOut
	errs := make([]error, len(req.GetEntities()))
	for i, e := range req.GetEntities() {
		errs[i] = p.read(e, &out)
	}
	s.mu.RUnlock()

	resp := &p4v1.ReadResponse{}
	size := 0
	for i, e := range out.ents {
		n := int(out.sizes[i])
		if size+n > readChunkBytes && len(resp.Entities) > 0 {
			if err := stream.Send(resp); err != nil {
				return err
			}
			resp, size = &p4v1.ReadResponse{}, 0
		}
		resp.Entities = append(resp.Entities, e)
		size += n
	}
	if len(resp.Entities) > 0 {
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	return batchError("read", errs)
}

// readOut collects the entities of a Read with their encoded sizes, which
// bound each ReadResponse.
type readOut struct {
	ents  []*p4v1.Entity
	sizes []int32
}

// add appends e; size is its encoded size if known, else negative.
func (o *readOut) add(e *p4v1.Entity, size int) {
	if size < 0 {
		size = proto.Size(e)
	}
	o.ents = append(o.ents, e)
	o.sizes = append(o.sizes, int32(size))
}

// entitySize bounds the encoded size of an Entity holding a message of n
// bytes: the oneof tag and length prefix, plus the repeated field's.
func entitySize(n int) int { return n + 12 }

func tableEntity(te *p4v1.TableEntry) *p4v1.Entity {
	return &p4v1.Entity{Entity: &p4v1.Entity_TableEntry{TableEntry: te}}
}

// read appends the entities matching the query e to out.
func (p *pipeline) read(e *p4v1.Entity, out *readOut) error {
	switch x := e.GetEntity().(type) {
	case *p4v1.Entity_TableEntry:
		return p.readTableEntries(x.TableEntry, out)
	case *p4v1.Entity_ActionProfileMember:
		q := x.ActionProfileMember
		if q.GetActionProfileId() != 0 {
			if _, err := p.profile(q.GetActionProfileId(), "read action profile member"); err != nil {
				return err
			}
		}
		for _, pid := range sortedKeys(p.members) {
			if q.GetActionProfileId() != 0 && pid != q.GetActionProfileId() {
				continue
			}
			for _, id := range sortedKeys(p.members[pid]) {
				if q.GetMemberId() == 0 || q.GetMemberId() == id {
					out.add(&p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{ActionProfileMember: p.members[pid][id].pb}}, -1)
				}
			}
		}
		return nil
	case *p4v1.Entity_ActionProfileGroup:
		q := x.ActionProfileGroup
		if q.GetActionProfileId() != 0 {
			if _, err := p.profile(q.GetActionProfileId(), "read action profile group"); err != nil {
				return err
			}
		}
		for _, pid := range sortedKeys(p.groups) {
			if q.GetActionProfileId() != 0 && pid != q.GetActionProfileId() {
				continue
			}
			for _, id := range sortedKeys(p.groups[pid]) {
				if q.GetGroupId() == 0 || q.GetGroupId() == id {
					out.add(&p4v1.Entity{Entity: &p4v1.Entity_ActionProfileGroup{ActionProfileGroup: p.groups[pid][id].pb}}, -1)
				}
			}
		}
		return nil
	case *p4v1.Entity_PacketReplicationEngineEntry:
		switch y := x.PacketReplicationEngineEntry.GetType().(type) {
		case *p4v1.PacketReplicationEngineEntry_MulticastGroupEntry:
			for _, id := range sortedKeys(p.mcast) {
				if q := y.MulticastGroupEntry.GetMulticastGroupId(); q == 0 || q == id {
					out.add(preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{MulticastGroupEntry: p.mcast[id]}}), -1)
				}
			}
			return nil
		case *p4v1.PacketReplicationEngineEntry_CloneSessionEntry:
			for _, id := range sortedKeys(p.clones) {
				if q := y.CloneSessionEntry.GetSessionId(); q == 0 || q == id {
					out.add(preEntity(&p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_CloneSessionEntry{CloneSessionEntry: p.clones[id]}}), -1)
				}
			}
			return nil
		}
		return errorf(codes.InvalidArgument, "read: packet replication engine entry without a multicast group or clone session")
	case *p4v1.Entity_CounterEntry:
		return p.readCounters(x.CounterEntry, out)
	case *p4v1.Entity_DirectCounterEntry:
		return p.readDirectCounters(x.DirectCounterEntry, out)
	case *p4v1.Entity_DigestEntry:
		q := x.DigestEntry.GetDigestId()
		if q != 0 {
			if _, ok := p.schema.digests[q]; !ok {
				return errorf(codes.InvalidArgument, "read: unknown digest id %d", q)
			}
		}
		for _, id := range sortedKeys(p.digestCfg) {
			if q == 0 || q == id {
				out.add(&p4v1.Entity{Entity: &p4v1.Entity_DigestEntry{DigestEntry: p.digestCfg[id]}}, -1)
			}
		}
		return nil
	case *p4v1.Entity_MeterEntry, *p4v1.Entity_DirectMeterEntry:
		return nil // the pipeline has no meters (newSchema refuses them)
	case nil:
		return errorf(codes.InvalidArgument, "read: entity is unset (wildcard reads name the entity type)")
	}
	return errorf(codes.Unimplemented, "read: entity type %T is not supported", e.GetEntity())
}

func preEntity(e *p4v1.PacketReplicationEngineEntry) *p4v1.Entity {
	return &p4v1.Entity{Entity: &p4v1.Entity_PacketReplicationEngineEntry{PacketReplicationEngineEntry: e}}
}

// readTableEntries answers a TableEntry query (spec §9.1.6 wildcard reads).
func (p *pipeline) readTableEntries(q *p4v1.TableEntry, out *readOut) error {
	var stores []*tableStore
	if q.GetTableId() == 0 {
		for _, id := range sortedKeys(p.tables) {
			stores = append(stores, p.tables[id])
		}
	} else {
		ts, ok := p.tables[q.GetTableId()]
		if !ok {
			return errorf(codes.InvalidArgument, "read: unknown table id %d", q.GetTableId())
		}
		stores = []*tableStore{ts}
	}
	withCounter := q.GetCounterData() != nil
	hits := q.GetTimeSinceLastHit() != nil
	for _, ts := range stores {
		ti := ts.info
		if q.GetIsDefaultAction() {
			te := ts.defaultEntry
			if te == nil {
				te = p.programDefault(ti)
			}
			out.add(tableEntity(te), -1)
			continue
		}
		if len(q.GetMatch()) > 0 {
			_, _, k, err := parseMatch(ti, q)
			if err != nil {
				return err
			}
			if e := ts.entries[k]; e != nil {
				te, err := p.withCounter(ti, e, withCounter, hits)
				if err != nil {
					return err
				}
				out.add(tableEntity(te), -1)
			}
			continue
		}
		actionID := q.GetAction().GetAction().GetActionId()
		for _, e := range ts.entries {
			if actionID != 0 && e.pb.GetAction().GetAction().GetActionId() != actionID {
				continue
			}
			if q.GetPriority() != 0 && e.pb.GetPriority() != q.GetPriority() {
				continue
			}
			if controllerMetadata(q) != 0 && controllerMetadata(e.pb) != controllerMetadata(q) {
				continue
			}
			if len(q.GetMetadata()) > 0 && !bytes.Equal(e.pb.GetMetadata(), q.GetMetadata()) {
				continue
			}
			te, err := p.withCounter(ti, e, withCounter, hits)
			if err != nil {
				return err
			}
			size := -1
			if te == e.pb {
				size = entitySize(e.size)
			}
			out.add(tableEntity(te), size)
		}
	}
	return nil
}

// withCounter returns e's entry, with its direct counter when asked and the
// table has one, and its time since last hit when asked.
func (p *pipeline) withCounter(ti *tableInfo, e *storedEntry, want bool, hits bool) (*p4v1.TableEntry, error) {
	if (!want || ti.directCounter == 0) && !hits {
		return e.pb, nil
	}
	te := shallowEntry(e.pb)
	if want && ti.directCounter != 0 {
		c, err := p.entryCounter(ti, e)
		if err != nil {
			return nil, err
		}
		te.CounterData = c
	}
	if hits {
		h, err := p.sinceLastHit(ti, e, time.Now())
		if err != nil {
			return nil, err
		}
		te.TimeSinceLastHit = h
	}
	return te, nil
}

func (p *pipeline) entryCounter(ti *tableInfo, e *storedEntry) (*p4v1.CounterData, error) {
	if p.dev == nil {
		return &p4v1.CounterData{}, nil
	}
	c, err := p.dev.EntryCounter(ti.name, e.dev)
	if err != nil {
		return nil, deviceError(fmt.Errorf("table %q: reading direct counter: %w", ti.name, err))
	}
	return &p4v1.CounterData{ByteCount: c.Bytes, PacketCount: c.Packets}, nil
}

// shallowEntry copies the fields of a stored entry into a new message that
// can take counter data; the match and action are shared (immutable).
func shallowEntry(te *p4v1.TableEntry) *p4v1.TableEntry {
	out := &p4v1.TableEntry{
		TableId: te.GetTableId(), Match: te.GetMatch(), Action: te.GetAction(), Priority: te.GetPriority(),
		Metadata: te.GetMetadata(), IsConst: te.GetIsConst(),
		IsDefaultAction: te.GetIsDefaultAction(), IdleTimeoutNs: te.GetIdleTimeoutNs(),
	}
	setControllerMetadata(out, controllerMetadata(te))
	return out
}

func (p *pipeline) readCounters(q *p4v1.CounterEntry, out *readOut) error {
	ids := sortedKeys(p.schema.counters)
	if q.GetCounterId() != 0 {
		if _, ok := p.schema.counters[q.GetCounterId()]; !ok {
			return errorf(codes.InvalidArgument, "read: unknown counter id %d", q.GetCounterId())
		}
		ids = []uint32{q.GetCounterId()}
	}
	for _, id := range ids {
		ci := p.schema.counters[id]
		first, last := int64(0), ci.p.GetSize()-1
		if q.GetIndex() != nil && q.GetCounterId() != 0 {
			i := q.GetIndex().GetIndex()
			if i < 0 {
				return errorf(codes.InvalidArgument, "read: counter %q: index %d is negative", ci.name, i)
			}
			if i >= ci.p.GetSize() {
				return errorf(codes.OutOfRange, "read: counter %q: index %d is outside 0..%d", ci.name, i, ci.p.GetSize()-1)
			}
			first, last = i, i
		}
		for i := first; i <= last; i++ {
			var c Counts
			if p.dev != nil {
				var err error
				if c, err = p.dev.Counter(ci.name, int(i)); err != nil {
					return deviceError(fmt.Errorf("counter %q index %d: %w", ci.name, i, err))
				}
			} else {
				c = p.pendingCells[counterCell{ci.name, int(i)}]
			}
			out.add(&p4v1.Entity{Entity: &p4v1.Entity_CounterEntry{CounterEntry: &p4v1.CounterEntry{
				CounterId: id, Index: &p4v1.Index{Index: i}, Data: &p4v1.CounterData{ByteCount: c.Bytes, PacketCount: c.Packets},
			}}}, -1)
		}
	}
	return nil
}

func (p *pipeline) readDirectCounters(q *p4v1.DirectCounterEntry, out *readOut) error {
	te := q.GetTableEntry()
	var stores []*tableStore
	if te.GetTableId() == 0 {
		for _, id := range sortedKeys(p.tables) {
			if p.tables[id].info.directCounter != 0 {
				stores = append(stores, p.tables[id])
			}
		}
	} else {
		ts, ok := p.tables[te.GetTableId()]
		if !ok {
			return errorf(codes.InvalidArgument, "read: unknown table id %d", te.GetTableId())
		}
		if ts.info.directCounter == 0 {
			return errorf(codes.InvalidArgument, "read: table %q has no direct counter", ts.info.name)
		}
		stores = []*tableStore{ts}
	}
	emit := func(ti *tableInfo, e *storedEntry) error {
		c, err := p.entryCounter(ti, e)
		if err != nil {
			return err
		}
		key := &p4v1.TableEntry{TableId: e.pb.GetTableId(), Match: e.pb.GetMatch(), Priority: e.pb.GetPriority()}
		out.add(&p4v1.Entity{Entity: &p4v1.Entity_DirectCounterEntry{DirectCounterEntry: &p4v1.DirectCounterEntry{TableEntry: key, Data: c}}}, -1)
		return nil
	}
	for _, ts := range stores {
		if te.GetIsDefaultAction() {
			return errorf(codes.Unimplemented, "read: the direct counter of the default entry of %q is not supported on this device", ts.info.name)
		}
		if len(te.GetMatch()) > 0 {
			_, _, k, err := parseMatch(ts.info, te)
			if err != nil {
				return err
			}
			e := ts.entries[k]
			if e == nil {
				return errorf(codes.NotFound, "read: table %q: entry %s does not exist", ts.info.name, describeMatch(ts.info, te))
			}
			if err := emit(ts.info, e); err != nil {
				return err
			}
			continue
		}
		for _, e := range ts.entries {
			if err := emit(ts.info, e); err != nil {
				return err
			}
		}
	}
	return nil
}
