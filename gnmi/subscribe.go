package gnmi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/openconfig/gnmi/coalesce"
	"github.com/openconfig/gnmi/ctree"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/protobuf/proto"
)

// Sampling limits. A SAMPLE subscription with sample_interval 0 gets
// DefaultSampleInterval (gNMI spec §3.5.1.5.2 lets the target choose);
// below MinSampleInterval it is refused.
const (
	MinSampleInterval     = 10 * time.Millisecond
	DefaultSampleInterval = time.Second
)

// maxBatch caps the updates packed into one notification.
const maxBatch = 512

// Subscribe implements gNMI Subscribe (gNMI spec §3.5): ONCE, POLL and
// STREAM with per-subscription ON_CHANGE, SAMPLE (sample_interval,
// suppress_redundant, heartbeat_interval) and TARGET_DEFINED, each followed
// by sync_response. The openconfig/gnmi cache stores the leaves;
// match.Match fans ON_CHANGE updates out to a per-RPC coalesce.Queue, so a
// slow client gets the newest value of a leaf instead of a backlog.
// openconfig/gnmi's own subscribe.Server has no SAMPLE, heartbeat or
// suppress_redundant, so the per-RPC loop is written here.
func (s *Server) Subscribe(stream gpb.GNMI_SubscribeServer) error {
	err := s.subscribe(stream)
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Debug("Subscribe ended", "err", err)
	}
	return toStatus(err)
}

// subscription is one parsed entry of a SubscriptionList.
type subscription struct {
	elems     []*gpb.PathElem
	mode      gpb.SubscriptionMode // ON_CHANGE or SAMPLE after TARGET_DEFINED is resolved
	interval  time.Duration
	heartbeat time.Duration
	suppress  bool
	// sent records, for SAMPLE, what was last sent per leaf.
	sent map[*ctree.Leaf]sentLeaf
}

type sentLeaf struct {
	val   *gpb.TypedValue
	at    time.Time
	elems []*gpb.PathElem
}

// Queue items besides *ctree.Leaf (an ON_CHANGE update or delete).
type (
	sampleTick    struct{ sub *subscription }
	heartbeatTick struct{ sub *subscription }
	pollTick      struct{}
)

// session is one Subscribe RPC.
type session struct {
	srv    *Server
	stream gpb.GNMI_SubscribeServer
	list   *gpb.SubscriptionList
	subs   []*subscription
	queue  *coalesce.Queue
	// prefix is echoed in every notification: the request's target.
	prefix  *gpb.Path
	pending *gpb.Notification
}

func (s *Server) subscribe(stream gpb.GNMI_SubscribeServer) error {
	req, err := stream.Recv()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	list := req.GetSubscribe()
	if list == nil {
		return fmt.Errorf("the first SubscribeRequest must hold a subscription list: %w", errInvalid)
	}
	sess, err := s.newSession(stream, list)
	if err != nil {
		return err
	}
	defer sess.queue.Close()
	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)
	stop := context.AfterFunc(s.ctx, func() { cancel(context.Canceled) })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil) // runs before wg.Wait: stops the timers

	switch list.GetMode() {
	case gpb.SubscriptionList_ONCE:
		return sess.walkAll()
	case gpb.SubscriptionList_POLL:
		if err := sess.walkAll(); err != nil {
			return err
		}
		// Recv cannot be interrupted but returns once the RPC ends; the
		// server's WaitGroup, not this handler's, waits for it.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				r, err := stream.Recv()
				if err != nil {
					if err == io.EOF {
						err = nil
					}
					cancel(err)
					return
				}
				if r.GetPoll() == nil {
					cancel(fmt.Errorf("after the subscription list only poll requests are allowed: %w", errInvalid))
					return
				}
				if _, err := sess.queue.Insert(pollTick{}); err != nil {
					return
				}
			}
		}()
	case gpb.SubscriptionList_STREAM:
		for _, sub := range sess.subs {
			if sub.mode == gpb.SubscriptionMode_ON_CHANGE {
				remove := s.match.AddQuery(append([]string{s.opts.Target}, cachePath(sub.elems)...), queueClient{sess.queue})
				defer remove()
			}
		}
		if !list.GetUpdatesOnly() {
			if err := sess.walkAll(); err != nil {
				return err
			}
		} else if err := sess.sendSync(); err != nil {
			return err
		}
		for _, sub := range sess.subs {
			if sub.mode == gpb.SubscriptionMode_SAMPLE {
				tick(ctx, &wg, sub.interval, sess.queue, sampleTick{sub})
			} else if sub.heartbeat > 0 {
				tick(ctx, &wg, sub.heartbeat, sess.queue, heartbeatTick{sub})
			}
		}
	default:
		return fmt.Errorf("subscription list mode %v is not supported: %w", list.GetMode(), errInvalid)
	}
	err = sess.loop(ctx)
	if ctx.Err() != nil {
		// Ended by cancellation: the client went away or closed a POLL
		// (cause context.Canceled), the server is closing, or the poll
		// reader found a bad request (that error is the cause).
		if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) {
			return cause
		}
		return nil
	}
	return err
}

// tick inserts item into q every d until ctx ends.
func tick(ctx context.Context, wg *sync.WaitGroup, d time.Duration, q *coalesce.Queue, item any) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := q.Insert(item); err != nil {
					return
				}
			}
		}
	}()
}

// queueClient is the match.Client of one STREAM RPC.
type queueClient struct{ q *coalesce.Queue }

// Update queues a changed cache leaf; a closed queue means the RPC ended.
func (c queueClient) Update(n any) { _, _ = c.q.Insert(n) }

func (s *Server) newSession(stream gpb.GNMI_SubscribeServer, list *gpb.SubscriptionList) (*session, error) {
	switch list.GetEncoding() {
	case gpb.Encoding_JSON, gpb.Encoding_JSON_IETF, gpb.Encoding_PROTO:
	default:
		return nil, fmt.Errorf("encoding %s is not supported: %w", list.GetEncoding(), errUnsupported)
	}
	if err := s.checkTarget(list.GetPrefix()); err != nil {
		return nil, err
	}
	if len(list.GetSubscription()) == 0 {
		return nil, fmt.Errorf("the subscription list is empty: %w", errInvalid)
	}
	sess := &session{srv: s, stream: stream, list: list, queue: coalesce.NewQueue()}
	if t := list.GetPrefix().GetTarget(); t != "" {
		sess.prefix = &gpb.Path{Target: t}
	}
	for _, sub := range list.GetSubscription() {
		elems, err := joinPath(list.GetPrefix(), sub.GetPath())
		if err != nil {
			return nil, err
		}
		r, err := resolve(s.schema, elems, true)
		if err != nil {
			return nil, err
		}
		ps := &subscription{elems: r.elems, mode: gpb.SubscriptionMode_ON_CHANGE,
			heartbeat: time.Duration(sub.GetHeartbeatInterval()), suppress: sub.GetSuppressRedundant()}
		if list.GetMode() == gpb.SubscriptionList_STREAM && sub.GetMode() == gpb.SubscriptionMode_SAMPLE {
			// TARGET_DEFINED stays ON_CHANGE: every cached leaf is
			// event-driven, and the device publishes counters at its own
			// polling cadence, which is the natural sample of them.
			ps.mode = gpb.SubscriptionMode_SAMPLE
			ps.interval = time.Duration(sub.GetSampleInterval())
			if ps.interval == 0 {
				ps.interval = DefaultSampleInterval
			}
			if ps.interval < MinSampleInterval {
				return nil, fmt.Errorf("path %s: sample_interval %v is below the minimum %v: %w", FormatPath(r.elems), ps.interval, MinSampleInterval, errInvalid)
			}
			ps.sent = map[*ctree.Leaf]sentLeaf{}
		}
		if ps.heartbeat != 0 && ps.heartbeat < MinSampleInterval {
			return nil, fmt.Errorf("path %s: heartbeat_interval %v is below the minimum %v: %w", FormatPath(r.elems), ps.heartbeat, MinSampleInterval, errInvalid)
		}
		sess.subs = append(sess.subs, ps)
	}
	return sess, nil
}

// walkAll sends every subscribed leaf and then sync_response.
func (sess *session) walkAll() error {
	for _, sub := range sess.subs {
		var err error
		if sub.sent != nil {
			err = sess.sample(sub)
		} else {
			err = sess.walk(sub)
		}
		if err != nil {
			return err
		}
	}
	return sess.sendSync()
}

// loop sends queued ON_CHANGE updates and runs sample, heartbeat and poll
// ticks until the RPC ends.
func (sess *session) loop(ctx context.Context) error {
	for {
		if sess.queue.Len() == 0 {
			if err := sess.flush(); err != nil {
				return err
			}
		}
		item, _, err := sess.queue.Next(ctx)
		if err != nil {
			return err
		}
		switch x := item.(type) {
		case *ctree.Leaf:
			err = sess.add(x)
		case sampleTick:
			err = sess.sample(x.sub)
		case heartbeatTick:
			err = sess.walk(x.sub)
		case pollTick:
			err = sess.walkAll()
		}
		if err != nil {
			return err
		}
	}
}

// cachedNotification is a leaf read from the cache during a walk.
type cachedNotification struct {
	leaf *ctree.Leaf
	n    *gpb.Notification
}

// snapshot reads the leaves under sub. It copies them out before anything is
// sent, so a slow client never holds the cache's read locks (which would
// stall the device's publishers), and it uses the value the visitor is
// handed: l.Value() inside the visitor would re-take the leaf's read lock
// and can deadlock with a writer.
func (sess *session) snapshot(sub *subscription) ([]cachedNotification, error) {
	var out []cachedNotification
	err := sess.srv.cache.Query(sess.srv.opts.Target, cachePath(sub.elems), func(_ []string, l *ctree.Leaf, val any) error {
		if n, ok := val.(*gpb.Notification); ok && len(n.GetUpdate()) > 0 {
			out = append(out, cachedNotification{leaf: l, n: n})
		}
		return nil
	})
	return out, err
}

// walk sends every cached leaf under sub.
func (sess *session) walk(sub *subscription) error {
	leaves, err := sess.snapshot(sub)
	if err != nil {
		return err
	}
	for _, c := range leaves {
		if err := sess.addNotification(c.n); err != nil {
			return err
		}
	}
	return nil
}

// sample sends the leaves under a SAMPLE subscription: all of them, or with
// suppress_redundant only those changed since last sent (or not sent for a
// heartbeat interval), and deletes for leaves gone since the last sample.
func (sess *session) sample(sub *subscription) error {
	now := time.Now()
	leaves, err := sess.snapshot(sub)
	if err != nil {
		return err
	}
	seen := make(map[*ctree.Leaf]bool, len(leaves))
	for _, c := range leaves {
		seen[c.leaf] = true
		u := c.n.GetUpdate()[0]
		prev, sentBefore := sub.sent[c.leaf]
		// The device republishes whole objects, so a newer timestamp does
		// not mean a new value: suppress_redundant compares values.
		if sub.suppress && sentBefore && proto.Equal(prev.val, u.GetVal()) &&
			(sub.heartbeat == 0 || now.Sub(prev.at) < sub.heartbeat) {
			continue
		}
		sub.sent[c.leaf] = sentLeaf{val: u.GetVal(), at: now, elems: u.GetPath().GetElem()}
		if err := sess.addNotification(c.n); err != nil {
			return err
		}
	}
	for l, prev := range sub.sent {
		if !seen[l] {
			delete(sub.sent, l)
			if err := sess.addNotification(&gpb.Notification{Timestamp: sess.srv.timestamp(), Delete: []*gpb.Path{{Elem: prev.elems}}}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (sess *session) add(l *ctree.Leaf) error {
	n, ok := l.Value().(*gpb.Notification)
	if !ok {
		return nil
	}
	return sess.addNotification(n)
}

// addNotification batches a cache notification: consecutive notifications
// with one timestamp (one published object) share a response.
func (sess *session) addNotification(n *gpb.Notification) error {
	p := sess.pending
	if p != nil && (p.GetTimestamp() != n.GetTimestamp() || len(p.Update)+len(p.Delete) >= maxBatch) {
		if err := sess.flush(); err != nil {
			return err
		}
		p = nil
	}
	if p == nil {
		p = &gpb.Notification{Timestamp: n.GetTimestamp(), Prefix: sess.prefix}
		sess.pending = p
	}
	p.Update = append(p.Update, n.GetUpdate()...)
	p.Delete = append(p.Delete, n.GetDelete()...)
	return nil
}

func (sess *session) flush() error {
	p := sess.pending
	if p == nil {
		return nil
	}
	sess.pending = nil
	factorPrefix(p)
	return sess.stream.Send(&gpb.SubscribeResponse{Response: &gpb.SubscribeResponse_Update{Update: p}})
}

// factorPrefix moves the elements every path of n shares into n's prefix:
// one MAC entry's leaves then carry "state/age" instead of eight elements
// with keys each, which halves what the client decodes.
func factorPrefix(n *gpb.Notification) {
	var common []*gpb.PathElem
	first := true
	visit := func(p *gpb.Path) {
		if first {
			common, first = p.GetElem(), false
			return
		}
		i := 0
		for i < len(common) && i < len(p.GetElem()) && sameElem(common[i], p.GetElem()[i]) {
			i++
		}
		common = common[:i]
	}
	for _, u := range n.Update {
		visit(u.GetPath())
	}
	for _, d := range n.Delete {
		visit(d)
	}
	// Keep at least one element in each path: a leaf's name.
	for _, u := range n.Update {
		common = common[:min(len(common), len(u.GetPath().GetElem())-1)]
	}
	for _, d := range n.Delete {
		common = common[:min(len(common), len(d.GetElem())-1)]
	}
	if len(common) == 0 {
		return
	}
	pre := &gpb.Path{Elem: common}
	if n.Prefix != nil {
		pre.Target = n.Prefix.GetTarget()
	}
	n.Prefix = pre
	// The cached updates are shared; build new ones, in two allocations.
	updates := make([]gpb.Update, len(n.Update))
	paths := make([]gpb.Path, len(n.Update)+len(n.Delete))
	for i, u := range n.Update {
		paths[i].Elem = u.GetPath().GetElem()[len(common):]
		updates[i].Path, updates[i].Val, updates[i].Duplicates = &paths[i], u.GetVal(), u.GetDuplicates()
		n.Update[i] = &updates[i]
	}
	for i, d := range n.Delete {
		p := &paths[len(n.Update)+i]
		p.Elem = d.GetElem()[len(common):]
		n.Delete[i] = p
	}
}

func sameElem(a, b *gpb.PathElem) bool {
	if a == b {
		return true
	}
	if a.GetName() != b.GetName() || len(a.GetKey()) != len(b.GetKey()) {
		return false
	}
	for k, v := range a.GetKey() {
		if b.GetKey()[k] != v {
			return false
		}
	}
	return true
}

func (sess *session) sendSync() error {
	if err := sess.flush(); err != nil {
		return err
	}
	return sess.stream.Send(&gpb.SubscribeResponse{Response: &gpb.SubscribeResponse_SyncResponse{SyncResponse: true}})
}
