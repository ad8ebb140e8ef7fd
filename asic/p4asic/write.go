package p4asic

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/p4rt"
)

// planned is one P4Runtime update and the asic update it belongs to.
type planned struct {
	up   *p4v1.Update
	idx  int
	kind asic.Kind
}

// Write implements asic.Switch. Updates are translated in order against the
// view, a batch-size chunk at a time, and each chunk is sent in runs that
// p4rt does not reorder: a new run starts only where the caller's order goes
// back in p4rt's dependency order, so a chunk of FDB entries is one p4rt
// Write.
func (s *Switch) Write(ctx context.Context, updates []asic.Update) error {
	if s.isClosed() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	errs := make([]error, len(updates))
	// Translation of the next chunk overlaps the write of the previous
	// one: while the target works on a batch, the view is updated for the
	// next. Each errs slot is written by one side only (a translation
	// error, or a target's), so the two never race.
	chunks := make(chan []planned, 2)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(chunks)
		size := s.cfg.batchSize
		for start := 0; start < len(updates) && !stop.Load(); start += size {
			chunks <- s.translateChunk(updates, start, min(start+size, len(updates)), errs)
		}
	}()
	var sendErr error
	for plan := range chunks {
		if sendErr == nil {
			sendErr = s.send(ctx, plan, errs)
			if sendErr != nil {
				stop.Store(true)
			}
		}
	}
	wg.Wait()
	if sendErr != nil {
		s.markStale()
		return sendErr
	}
	failed := false
	for i, err := range errs {
		var ue *p4rt.UpdateError
		if errors.As(err, &ue) && err == error(ue) {
			// The target's own refusal: name the entity it was for.
			err = fmt.Errorf("%s: target refused %w", updates[i], ue)
			errs[i] = err
		}
		if err != nil {
			failed = true
			s.metrics.writeErrors.WithLabelValues(kindOf(updates[i])).Inc()
		}
	}
	if failed {
		return &asic.WriteError{Errors: errs}
	}
	return nil
}

func kindOf(u asic.Update) string {
	if u.Entity == nil {
		return "none"
	}
	return u.Entity.Key().Kind.String()
}

// translateChunk translates updates[start:end] against the view.
func (s *Switch) translateChunk(updates []asic.Update, start, end int, errs []error) []planned {
	plan := make([]planned, 0, end-start+(end-start)/2)
	s.mu.Lock()
	defer s.mu.Unlock()
	var scratch []*p4v1.Update
	for i := start; i < end; i++ {
		u := updates[i]
		ups, err := s.translate(s.view, u, scratch[:0])
		scratch = ups
		if err != nil {
			if u.Entity != nil {
				err = fmt.Errorf("%s: %w", u, err)
			}
			errs[i] = err
			continue
		}
		kind := u.Entity.Key().Kind
		for _, up := range ups {
			plan = append(plan, planned{up: up, idx: i, kind: kind})
		}
	}
	return plan
}

func (s *Switch) markStale() {
	s.mu.Lock()
	s.view.stale = true
	s.mu.Unlock()
}

// p4rt's write phases (p4rt.Client.Write): within one Write, p4rt sends
// table entry deletes, then other inserts, groups, table entries, group
// deletes and other deletes.
func phaseOf(u *p4v1.Update) int {
	del := u.GetType() == p4v1.Update_DELETE
	switch u.GetEntity().GetEntity().(type) {
	case *p4v1.Entity_TableEntry:
		if del {
			return 0
		}
		return 3
	case *p4v1.Entity_ActionProfileGroup:
		if del {
			return 5
		}
		return 2
	}
	if del {
		return 6
	}
	return 1
}

// connectionLost reports a failure of the whole batch rather than of the
// update: the target was unreachable or we were not primary.
func connectionLost(c codes.Code) bool {
	switch c {
	case codes.Unavailable, codes.Aborted, codes.PermissionDenied, codes.Canceled, codes.DeadlineExceeded:
		return true
	}
	return false
}

// send writes plan in runs and records per-update failures in errs. It
// returns an error when the target could not be reached.
func (s *Switch) send(ctx context.Context, plan []planned, errs []error) error {
	for start := 0; start < len(plan); {
		end := start + 1
		for end < len(plan) && phaseOf(plan[end].up) >= phaseOf(plan[end-1].up) {
			end++
		}
		if err := s.sendRun(ctx, plan[start:end], errs); err != nil {
			return err
		}
		start = end
	}
	return nil
}

func (s *Switch) sendRun(ctx context.Context, run []planned, errs []error) error {
	ups := make([]*p4v1.Update, len(run))
	for i, p := range run {
		ups[i] = p.up
	}
	err := s.timedWrite(ctx, run, ups)
	if err == nil {
		return nil
	}
	var werr *p4rt.WriteError
	if !errors.As(err, &werr) {
		return fmt.Errorf("p4asic: write: %w", err)
	}
	// Disagreements between the view and the target are not errors: an
	// INSERT of what exists becomes a MODIFY, a MODIFY of what is missing
	// an INSERT, a DELETE of what is missing a success.
	var retry []planned
	for j, ue := range werr.Updates {
		if ue == nil {
			continue
		}
		if connectionLost(ue.Code) {
			return fmt.Errorf("p4asic: write: %w", err)
		}
		p := run[j]
		switch typ := p.up.GetType(); {
		case typ == p4v1.Update_INSERT && ue.Code == codes.AlreadyExists:
			retry = append(retry, planned{up: &p4v1.Update{Type: p4v1.Update_MODIFY, Entity: p.up.GetEntity()}, idx: p.idx, kind: p.kind})
		case typ == p4v1.Update_MODIFY && ue.Code == codes.NotFound:
			retry = append(retry, planned{up: &p4v1.Update{Type: p4v1.Update_INSERT, Entity: p.up.GetEntity()}, idx: p.idx, kind: p.kind})
		case typ == p4v1.Update_DELETE && ue.Code == codes.NotFound:
		default:
			s.fail(errs, p.idx, ue)
		}
	}
	if len(retry) == 0 {
		return nil
	}
	ups = ups[:0]
	for _, p := range retry {
		ups = append(ups, p.up)
	}
	err = s.timedWrite(ctx, retry, ups)
	if err == nil {
		return nil
	}
	if !errors.As(err, &werr) {
		return fmt.Errorf("p4asic: write: %w", err)
	}
	for j, ue := range werr.Updates {
		if ue == nil {
			continue
		}
		if connectionLost(ue.Code) {
			return fmt.Errorf("p4asic: write: %w", err)
		}
		s.fail(errs, retry[j].idx, ue)
	}
	return nil
}

func (s *Switch) fail(errs []error, idx int, ue *p4rt.UpdateError) {
	if errs[idx] == nil {
		errs[idx] = ue
	}
	s.markStale()
}

func (s *Switch) timedWrite(ctx context.Context, run []planned, ups []*p4v1.Update) error {
	start := time.Now()
	err := s.client.Write(ctx, ups)
	d := time.Since(start).Seconds()
	var seen [asic.KindFDBEntry + 1]bool
	for _, p := range run {
		if int(p.kind) < len(seen) && !seen[p.kind] {
			seen[p.kind] = true
			s.metrics.writeSeconds.WithLabelValues(p.kind.String()).Observe(d)
		}
	}
	return err
}

// translate appends the P4Runtime updates of one asic update to out and
// applies it to v. A refused update (bad value, missing reference) leaves v
// as it was; a failure after v changed marks it stale.
func (s *Switch) translate(v *view, u asic.Update, out []*p4v1.Update) ([]*p4v1.Update, error) {
	if u.Entity == nil {
		return nil, errors.New("update without an entity")
	}
	k := u.Entity.Key()
	switch u.Op {
	case asic.OpSet:
		e := u.Entity
		if err := s.validate(e); err != nil {
			return nil, err
		}
		for _, r := range references(e, &[2]asic.Key{}) {
			if !v.has(r) {
				return nil, fmt.Errorf("%s: %w", r, asic.ErrMissingReference)
			}
		}
		if err := v.conflict(e); err != nil {
			return nil, err
		}
		old, had := v.lookup(k)
		if had && asic.Equal(old, e) && !v.stale {
			return out, nil
		}
		if f, ok := e.(asic.FDBEntry); ok && !had {
			// A new FDB entry, the bulk of large writes: nothing to
			// diff, no dependents, no members.
			v.put(e)
			var buf [2]obj
			objs, err := s.fdbObjects(v, f, buf[:0])
			if err != nil {
				v.release(e, nil)
				return nil, err
			}
			for _, o := range objs {
				out = append(out, o.insert)
			}
			return out, nil
		}
		deps := s.dependents(v, old, e)
		var before []obj
		if had {
			o, err := s.objects(v, old)
			if err != nil {
				return nil, err
			}
			before = o
		}
		for _, d := range deps {
			o, err := s.objects(v, d)
			if err != nil {
				return nil, err
			}
			before = append(before, o...)
		}
		added, removed := v.put(e)
		if g, ok := e.(asic.FloodGroup); ok {
			for _, m := range g.Members {
				if m.PE == 0 {
					continue
				}
				if _, err := v.allocRID(ridKey{g.BD, m.PE}); err != nil {
					v.stale = true
					return nil, err
				}
			}
		}
		after, err := s.objectsOf(v, e, deps)
		if err != nil {
			v.stale = true
			return nil, err
		}
		return s.diff(out, before, after, added, removed)
	case asic.OpDelete:
		old, had := v.lookup(k)
		if !had {
			return nil, nil
		}
		if n := v.refs[k]; n > 0 {
			return nil, fmt.Errorf("%d referers: %w", n, asic.ErrStillReferenced)
		}
		deps := s.dependents(v, old, nil)
		before, err := s.objectsOf(v, old, deps)
		if err != nil {
			return nil, err
		}
		removed := v.release(old, nil)
		after, err := s.objectsOf(v, nil, deps)
		if err != nil {
			v.stale = true
			return nil, err
		}
		return s.diff(out, before, after, nil, removed)
	}
	return nil, fmt.Errorf("unknown op %v", u.Op)
}

// objectsOf returns the objects of e (nil for none) and of deps.
func (s *Switch) objectsOf(v *view, e asic.Entity, deps []asic.Entity) ([]obj, error) {
	var out []obj
	if e != nil {
		o, err := s.objects(v, e)
		if err != nil {
			return nil, err
		}
		out = o
	}
	for _, d := range deps {
		o, err := s.objects(v, d)
		if err != nil {
			return nil, err
		}
		out = append(out, o...)
	}
	return out, nil
}

// dependents returns the entities whose entries change when old (nil if
// none) becomes next (nil for a delete): the ACs whose blocking a segment or
// DF state decides, and the FDB entries and flood groups that carry an AC's
// or a tunnel's port.
func (s *Switch) dependents(v *view, old, next asic.Entity) []asic.Entity {
	var out []asic.Entity
	acsWhere := func(keep func(asic.AttachmentCircuit) bool) {
		for _, id := range v.acKeys {
			if ac, ok := v.ac(id); ok && keep(ac) {
				out = append(out, ac)
			}
		}
		slices.SortFunc(out, func(a, b asic.Entity) int {
			return int(a.(asic.AttachmentCircuit).ID) - int(b.(asic.AttachmentCircuit).ID)
		})
	}
	cur := next
	if cur == nil {
		cur = old
	}
	switch x := cur.(type) {
	case asic.Segment:
		if o, ok := old.(asic.Segment); ok && next != nil && o.SingleActive != x.SingleActive {
			acsWhere(func(ac asic.AttachmentCircuit) bool { return ac.Segment == x.ID })
		}
	case asic.DFState:
		acsWhere(func(ac asic.AttachmentCircuit) bool { return ac.Segment == x.Segment && ac.BD == x.BD })
	case asic.AttachmentCircuit:
		if o, ok := old.(asic.AttachmentCircuit); ok && next != nil && o.Port != x.Port {
			for _, f := range v.fdb {
				if f.Dest.Kind == asic.ToAC && f.Dest.AC == x.ID {
					out = append(out, f)
				}
			}
			for _, e := range v.ents {
				switch y := e.(type) {
				case asic.FloodGroup:
					if slices.ContainsFunc(y.Members, func(m asic.FloodMember) bool { return m.AC == x.ID }) {
						out = append(out, y)
					}
				}
			}
		}
	case asic.RemotePE:
		if o, ok := old.(asic.RemotePE); ok && next != nil && o.CorePort != x.CorePort {
			for _, e := range v.ents {
				if y, ok := e.(asic.FloodGroup); ok && slices.ContainsFunc(y.Members, func(m asic.FloodMember) bool { return m.PE == x.ID }) {
					out = append(out, y)
				}
			}
		}
	}
	return out
}

// objKey identifies an object's key on the target.
func objKey(o obj) string {
	switch x := o.ent.GetEntity().(type) {
	case *p4v1.Entity_TableEntry:
		return p4rt.TableEntryKey(x.TableEntry)
	case *p4v1.Entity_ActionProfileGroup:
		return fmt.Sprintf("group/%d/%d", x.ActionProfileGroup.GetActionProfileId(), x.ActionProfileGroup.GetGroupId())
	case *p4v1.Entity_ActionProfileMember:
		return fmt.Sprintf("member/%d/%d", x.ActionProfileMember.GetActionProfileId(), x.ActionProfileMember.GetMemberId())
	case *p4v1.Entity_PacketReplicationEngineEntry:
		return fmt.Sprintf("mcast/%d", x.PacketReplicationEngineEntry.GetMulticastGroupEntry().GetMulticastGroupId())
	}
	return fmt.Sprintf("other/%v", o.ent)
}

// diff returns the updates that turn the objects before into those after:
// new aliasing members first, deletes of entries that reference a group,
// then the objects after in their order (INSERT or MODIFY), then the other
// deletes in reverse order, and the members no group uses any more last.
func (s *Switch) diff(out []*p4v1.Update, before, after []obj, added, removed []asic.RemotePEID) ([]*p4v1.Update, error) {
	for _, pe := range added {
		m, err := s.member(pe)
		if err != nil {
			return nil, err
		}
		out = append(out, p4rt.Insert(m))
	}
	if len(before) == 0 {
		for _, o := range after {
			out = append(out, insertOf(o))
		}
	} else {
		old := make(map[string]obj, len(before))
		for _, o := range before {
			old[objKey(o)] = o
		}
		keep := make(map[string]bool, len(after))
		var ops []*p4v1.Update
		for _, o := range after {
			k := objKey(o)
			keep[k] = true
			if b, ok := old[k]; !ok {
				ops = append(ops, insertOf(o))
			} else if !proto.Equal(b.ent, o.ent) {
				ops = append(ops, &p4v1.Update{Type: p4v1.Update_MODIFY, Entity: o.ent})
			}
		}
		for _, o := range before {
			if o.first && !keep[objKey(o)] {
				out = append(out, &p4v1.Update{Type: p4v1.Update_DELETE, Entity: o.ent})
			}
		}
		out = append(out, ops...)
		for i := len(before) - 1; i >= 0; i-- {
			o := before[i]
			k := objKey(o)
			if !o.first && !keep[k] {
				keep[k] = true // a key listed twice (shared dependents) is deleted once
				out = append(out, &p4v1.Update{Type: p4v1.Update_DELETE, Entity: o.ent})
			}
		}
	}
	for _, pe := range removed {
		m, err := s.member(pe)
		if err != nil {
			return nil, err
		}
		out = append(out, p4rt.Delete(m))
	}
	return out, nil
}

func insertOf(o obj) *p4v1.Update {
	if o.insert != nil {
		return o.insert
	}
	return &p4v1.Update{Type: p4v1.Update_INSERT, Entity: o.ent}
}

// member returns the aliasing selector member of remote PE pe.
func (s *Switch) member(pe asic.RemotePEID) (*p4v1.ActionProfileMember, error) {
	return s.ix.BuildActionProfileMember(p4rt.ActionProfileMember{Profile: p4.ActionProfileAliasingSelector,
		MemberID: uint32(pe), Action: p4rt.Action(p4.ActionSetAliasingPE, p4rt.Arg(p4.FieldPE, uintv(uint64(pe))))})
}
