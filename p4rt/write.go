package p4rt

import (
	"context"
	"fmt"
	"strings"
	"sync"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// WriteOption tunes one Write call.
type WriteOption func(*writeConfig)

type writeConfig struct {
	batchSize int
	inflight  int
	atomicity p4v1.WriteRequest_Atomicity
}

// BatchSize overrides the client's batch size for one Write.
func BatchSize(n int) WriteOption {
	return func(w *writeConfig) {
		if n >= 1 {
			w.batchSize = n
		}
	}
}

// Concurrency overrides, for one Write, how many batches of one dependency
// step may be in flight at once (see WithWriteConcurrency).
func Concurrency(n int) WriteOption {
	return func(w *writeConfig) {
		if n >= 1 {
			w.inflight = n
		}
	}
}

// Atomicity sets the batches' atomicity (default CONTINUE_ON_ERROR, the only
// mode every target must support). It applies to each WriteRequest: a
// Write that spans several batches or dependency steps is not atomic as a
// whole.
func Atomicity(a p4v1.WriteRequest_Atomicity) WriteOption {
	return func(w *writeConfig) { w.atomicity = a }
}

// UpdateError is the failure of one update of a Write.
type UpdateError struct {
	// Index is the update's position in the slice given to Write.
	Index  int
	Update *p4v1.Update
	// Code is the canonical code the target reported for this update.
	Code    codes.Code
	Message string
	// Space and TargetCode are the target-specific error, if any.
	Space      string
	TargetCode int32
	// Entity names the entity, with P4Info names when the client has a
	// pipeline.
	Entity string
	// cause is a local cause (ErrNotPrimary, a context error) when the
	// update was not sent.
	cause error
}

// Error describes the update, the entity and the target's answer.
func (e *UpdateError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%v %s: %v", e.Update.GetType(), e.Entity, e.Code)
	if e.Message != "" {
		fmt.Fprintf(&sb, ": %s", e.Message)
	}
	if e.Space != "" || e.TargetCode != 0 {
		fmt.Fprintf(&sb, " (%s code %d)", e.Space, e.TargetCode)
	}
	return sb.String()
}

// GRPCStatus makes status.Code(err) report the update's code.
func (e *UpdateError) GRPCStatus() *status.Status { return status.New(e.Code, e.Error()) }

// Unwrap returns the local cause, if the update was not sent.
func (e *UpdateError) Unwrap() error { return e.cause }

// WriteError is the error of a Write in which some updates failed.
// Updates is aligned with Write's input: Updates[i] is nil when update i
// was applied.
type WriteError struct {
	Updates []*UpdateError
	Failed  int
}

// Error summarizes the failures and shows the first.
func (e *WriteError) Error() string {
	first := e.First()
	if e.Failed == 1 {
		return fmt.Sprintf("p4rt: write: update %d of %d failed: %v", first.Index, len(e.Updates), first)
	}
	return fmt.Sprintf("p4rt: write: %d of %d updates failed; first, update %d: %v", e.Failed, len(e.Updates), first.Index, first)
}

// First returns the first failed update.
func (e *WriteError) First() *UpdateError {
	for _, u := range e.Updates {
		if u != nil {
			return u
		}
	}
	return nil
}

// Unwrap returns the failed updates' errors, for errors.Is and errors.As.
func (e *WriteError) Unwrap() []error {
	var errs []error
	for _, u := range e.Updates {
		if u != nil {
			errs = append(errs, u)
		}
	}
	return errs
}

// GRPCStatus reports the code shared by every failed update, or UNKNOWN
// when they differ (the spec's convention for a batch): a caller that
// writes one entity can branch on status.Code(err) directly.
func (e *WriteError) GRPCStatus() *status.Status {
	code := codes.OK
	for _, u := range e.Updates {
		switch {
		case u == nil:
		case code == codes.OK:
			code = u.Code
		case code != u.Code:
			return status.New(codes.Unknown, e.Error())
		}
	}
	return status.New(code, e.Error())
}

// Write applies updates in dependency order and in batches, and returns
// nil or a *WriteError aligned with updates. Within one call:
//
//   - deletes of table entries go first (they release members, groups and
//     keys);
//   - then inserts and modifies of everything but groups and table entries
//     (action profile members, multicast groups, clone sessions, digests,
//     counters, meters), then of groups, then of table entries, then of
//     the entries' direct counters and meters;
//   - then deletes of groups, then the remaining deletes (members, ...).
//
// Each step is sent in its own WriteRequests after the previous step has
// been answered, since a target may reorder updates within a request. The
// order of updates within a step is kept in the requests; with a write
// concurrency above 1, the requests of one step are in flight together
// and may be applied in any order, so a Write must not hold two updates of
// the same entity in one step. An update that fails does not
// stop the others (CONTINUE_ON_ERROR); a batch that fails as a whole
// (not primary, invalid request) stops the Write, and the updates not sent
// are reported with codes.Aborted. A batch the target answers UNAVAILABLE
// is retried with backoff; note that such a batch may have been applied
// before the connection broke, so a retried INSERT can report
// ALREADY_EXISTS.
//
// Write refuses to send as a backup: every update then fails with an error
// wrapping ErrNotPrimary.
func (c *Client) Write(ctx context.Context, updates []*p4v1.Update, opts ...WriteOption) error {
	return c.write(ctx, updates, true, opts...)
}

// writeUnchecked writes without the primary check, for restore, which runs
// as primary before the client declares it.
func (c *Client) writeUnchecked(ctx context.Context, updates []*p4v1.Update) error {
	return c.write(ctx, updates, false)
}

// Write phases, in the order they are sent.
const (
	phaseDeleteEntries = iota
	phaseLeaves
	phaseGroups
	phaseEntries
	phaseDirectResources
	phaseDeleteGroups
	phaseDeleteLeaves
	numPhases
)

func phaseOf(u *p4v1.Update) int {
	del := u.GetType() == p4v1.Update_DELETE
	switch u.GetEntity().GetEntity().(type) {
	case *p4v1.Entity_TableEntry:
		if del {
			return phaseDeleteEntries
		}
		return phaseEntries
	case *p4v1.Entity_ActionProfileGroup:
		if del {
			return phaseDeleteGroups
		}
		return phaseGroups
	case *p4v1.Entity_DirectCounterEntry, *p4v1.Entity_DirectMeterEntry:
		return phaseDirectResources // they modify entries that must exist
	}
	if del {
		return phaseDeleteLeaves
	}
	return phaseLeaves
}

// writeOrder returns the dependency steps of a write, in order, each as
// the batches of update indices to send.
func writeOrder(updates []*p4v1.Update, batchSize int) [][][]int {
	var phases [numPhases][]int
	for i, u := range updates {
		p := phaseOf(u)
		phases[p] = append(phases[p], i)
	}
	var steps [][][]int
	for _, idx := range phases {
		var batches [][]int
		for len(idx) > 0 {
			n := min(batchSize, len(idx))
			batches = append(batches, idx[:n:n])
			idx = idx[n:]
		}
		if batches != nil {
			steps = append(steps, batches)
		}
	}
	return steps
}

func (c *Client) write(ctx context.Context, updates []*p4v1.Update, checkPrimary bool, opts ...WriteOption) error {
	wc := writeConfig{batchSize: c.cfg.batchSize, inflight: c.cfg.writeInflight}
	for _, o := range opts {
		o(&wc)
	}
	werr := &WriteError{Updates: make([]*UpdateError, len(updates))}
	ix := c.Index()
	var mu sync.Mutex // mu guards werr while batches are in flight
	fail := func(i int, ue UpdateError) {
		ue.Index, ue.Update, ue.Entity = i, updates[i], ix.Describe(updates[i].GetEntity())
		mu.Lock()
		werr.Updates[i] = &ue
		werr.Failed++
		mu.Unlock()
	}
	if checkPrimary && !c.IsPrimary() && len(updates) > 0 {
		// Nothing is sent: every update fails with the same clear error.
		err := notPrimaryError("write", c.Arbitration())
		for i := range updates {
			fail(i, UpdateError{Code: codes.PermissionDenied, Message: err.Error(), cause: err})
		}
		return werr
	}
	var valid []*p4v1.Update
	var validIdx []int
	for i, u := range updates {
		if u.GetEntity().GetEntity() == nil || u.GetType() == p4v1.Update_UNSPECIFIED {
			fail(i, UpdateError{Code: codes.InvalidArgument, Message: "update without an entity or a type"})
			continue
		}
		valid = append(valid, u)
		validIdx = append(validIdx, i)
	}
	steps := writeOrder(valid, wc.batchSize)
	for _, step := range steps {
		for _, batch := range step {
			for j := range batch {
				batch[j] = validIdx[batch[j]]
			}
		}
	}
	for s, step := range steps {
		stop := c.writeStep(ctx, updates, step, wc, checkPrimary, fail)
		if stop == nil {
			continue
		}
		for _, later := range steps[s+1:] {
			for _, batch := range later {
				for _, i := range batch {
					fail(i, UpdateError{Code: codes.Aborted, Message: "not sent: an earlier batch failed: " + stop.Error(), cause: stop})
				}
			}
		}
		break
	}
	c.trackDigests(updates, werr)
	if werr.Failed == 0 {
		return nil
	}
	return werr
}

// writeStep sends the batches of one dependency step, up to wc.inflight at
// a time: they do not depend on each other, so their order does not matter
// (a target may reorder updates within one request just as well). It
// returns the first error that failed a batch as a whole; batches not yet
// sent then fail with codes.Aborted.
func (c *Client) writeStep(ctx context.Context, updates []*p4v1.Update, step [][]int, wc writeConfig, checkPrimary bool, fail func(int, UpdateError)) error {
	var (
		mu   sync.Mutex // mu guards stop
		stop error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, max(wc.inflight, 1))
	for _, batch := range step {
		sem <- struct{}{}
		mu.Lock()
		stopped := stop
		mu.Unlock()
		if stopped != nil {
			<-sem
			for _, i := range batch {
				fail(i, UpdateError{Code: codes.Aborted, Message: "not sent: an earlier batch failed: " + stopped.Error(), cause: stopped})
			}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			var err error
			if checkPrimary && !c.IsPrimary() {
				err = notPrimaryError("write", c.Arbitration())
			} else {
				err = c.writeBatch(ctx, updates, batch, wc, fail)
			}
			if err == nil {
				return
			}
			code := status.Code(err)
			for _, i := range batch {
				fail(i, UpdateError{Code: code, Message: err.Error(), cause: err})
			}
			mu.Lock()
			if stop == nil {
				stop = err
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return stop
}

// writeBatch sends one batch, retrying while the target is unavailable. It
// reports per-update failures through fail and returns an error only when
// the batch failed as a whole.
func (c *Client) writeBatch(ctx context.Context, updates []*p4v1.Update, batch []int, wc writeConfig, fail func(int, UpdateError)) error {
	req := &p4v1.WriteRequest{
		DeviceId:  c.cfg.deviceID,
		Role:      c.cfg.role,
		Atomicity: wc.atomicity,
		Updates:   make([]*p4v1.Update, len(batch)),
	}
	req.ElectionId = c.electionIDProto()
	for j, i := range batch {
		req.Updates[j] = updates[i]
	}
	delay := c.cfg.writeRetry.Initial
	for attempt := 1; ; attempt++ {
		_, err := c.rpc.Write(ctx, req)
		if err == nil {
			return nil
		}
		st, _ := status.FromError(err)
		if perUpdate := updateErrors(st, len(batch)); perUpdate != nil {
			for j, pe := range perUpdate {
				if code := codes.Code(pe.GetCanonicalCode()); code != codes.OK {
					fail(batch[j], UpdateError{Code: code, Message: pe.GetMessage(), Space: pe.GetSpace(), TargetCode: pe.GetCode()})
				}
			}
			return nil
		}
		if st.Code() != codes.Unavailable || attempt >= c.cfg.writeRetry.Attempts || ctx.Err() != nil {
			if ctx.Err() != nil {
				return &codedError{code: status.FromContextError(ctx.Err()).Code(), err: fmt.Errorf("write: %w", ctx.Err())}
			}
			return &codedError{code: st.Code(), err: fmt.Errorf("write batch of %d: %w", len(batch), err)}
		}
		c.log.Debug("target unavailable, retrying write", "attempt", attempt, "delay", delay, "err", err)
		if !sleepCtx(ctx, delay) {
			return &codedError{code: status.FromContextError(ctx.Err()).Code(), err: fmt.Errorf("write: %w (after %w)", ctx.Err(), err)}
		}
		delay = c.cfg.writeRetry.next(delay)
	}
}

// updateErrors returns the p4.v1.Error of each update from a Write status,
// or nil when the status does not carry exactly one per update.
func updateErrors(st *status.Status, n int) []*p4v1.Error {
	details := st.Proto().GetDetails()
	if len(details) != n {
		return nil
	}
	out := make([]*p4v1.Error, n)
	for i, d := range details {
		pe := &p4v1.Error{}
		if err := d.UnmarshalTo(pe); err != nil {
			return nil
		}
		out[i] = pe
	}
	return out
}

// trackDigests remembers the digest configurations written successfully,
// to restore them after a reconnect.
func (c *Client) trackDigests(updates []*p4v1.Update, werr *WriteError) {
	for i, u := range updates {
		d := u.GetEntity().GetDigestEntry()
		if d == nil || werr.Updates[i] != nil {
			continue
		}
		c.mu.Lock()
		if u.GetType() == p4v1.Update_DELETE {
			delete(c.digestConfigs, d.GetDigestId())
		} else {
			c.digestConfigs[d.GetDigestId()] = proto.Clone(d).(*p4v1.DigestEntry)
		}
		c.mu.Unlock()
	}
}
