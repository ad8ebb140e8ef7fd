package p4rtserver

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
)

// digester batches data plane digest messages into DigestLists (spec §9.8):
// a list goes out when max_list_size distinct messages are buffered or
// max_timeout_ns after the first one; a message already sent and not yet
// acknowledged (within ack_timeout_ns) is suppressed. One goroutine (run)
// owns all of its state; the other methods talk to it through channels.
type digester struct {
	log       *slog.Logger
	primaries func() []*outbox
	in        chan digestMsg
	acks      chan *p4v1.DigestListAck
	cfgs      chan digestSetup
	done      chan struct{} // closed when run returns
	schema    atomic.Pointer[schema]
	dropped   atomic.Uint64
}

type digestMsg struct {
	name   string
	fields [][]byte
}

type digestSetup struct {
	schema *schema
	cfg    map[uint32]*p4v1.DigestEntry_Config
	done   chan struct{}
}

type digestBuffer struct {
	first time.Time
	keys  map[string]bool
	data  []*p4v1.P4Data
}

type listKey struct {
	digest uint32
	list   uint64
}

type sentList struct {
	sent time.Time
	keys []string
}

func newDigester(log *slog.Logger, primaries func() []*outbox) *digester {
	return &digester{
		log: log, primaries: primaries,
		in:   make(chan digestMsg, 4096),
		acks: make(chan *p4v1.DigestListAck, 256),
		cfgs: make(chan digestSetup),
		done: make(chan struct{}),
	}
}

// offer queues a digest message from the data plane; it never blocks.
func (d *digester) offer(name string, fields [][]byte) {
	select {
	case d.in <- digestMsg{name, fields}:
	default:
		d.dropped.Add(1)
	}
}

// ack passes a DigestListAck to the batching loop.
func (d *digester) ack(a *p4v1.DigestListAck) error {
	sc := d.schema.Load()
	if sc == nil || sc.digests[a.GetDigestId()] == nil {
		return errorf(codes.InvalidArgument, "digest ack: unknown digest id %d", a.GetDigestId())
	}
	select {
	case d.acks <- a:
	case <-d.done:
	}
	return nil
}

// configure installs the digest configuration of the running pipeline and
// waits until the loop uses it; buffers and caches of digests that are no
// longer configured are dropped.
func (d *digester) configure(sc *schema, cfg map[uint32]*p4v1.DigestEntry_Config) {
	d.schema.Store(sc)
	s := digestSetup{schema: sc, cfg: cfg, done: make(chan struct{})}
	select {
	case d.cfgs <- s:
		<-s.done
	case <-d.done:
	}
}

// run is the batching loop.
func (d *digester) run(ctx context.Context) {
	defer close(d.done)
	var (
		sc       *schema
		cfg      = map[uint32]*p4v1.DigestEntry_Config{}
		bufs     = map[uint32]*digestBuffer{}
		cache    = map[string]listKey{} // digest id + data → the list that carried it
		lists    = map[listKey]*sentList{}
		nextList uint64
		timer    = time.NewTimer(time.Hour)
	)
	defer timer.Stop()
	send := func(id uint32, now time.Time) {
		b := bufs[id]
		delete(bufs, id)
		if b == nil || len(b.data) == 0 {
			return
		}
		prim := d.primaries()
		if len(prim) == 0 {
			return // nobody to tell; a later packet will raise it again
		}
		nextList++
		lk := listKey{id, nextList}
		m := &p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_Digest{Digest: &p4v1.DigestList{
			DigestId: id, ListId: nextList, Data: b.data, Timestamp: now.UnixNano(),
		}}}
		for _, o := range prim {
			o.offer(m)
		}
		if cfg[id].GetAckTimeoutNs() > 0 {
			sl := &sentList{sent: now}
			for k := range b.keys {
				cache[k] = lk
				sl.keys = append(sl.keys, k)
			}
			lists[lk] = sl
		}
	}
	forget := func(lk listKey) {
		if sl := lists[lk]; sl != nil {
			for _, k := range sl.keys {
				if cache[k] == lk {
					delete(cache, k)
				}
			}
			delete(lists, lk)
		}
	}
	for {
		// Arm the timer for the earliest deadline.
		now := time.Now()
		next := now.Add(time.Hour)
		for id, b := range bufs {
			if t := b.first.Add(time.Duration(cfg[id].GetMaxTimeoutNs())); t.Before(next) {
				next = t
			}
		}
		for lk, sl := range lists {
			if t := sl.sent.Add(time.Duration(cfg[lk.digest].GetAckTimeoutNs())); t.Before(next) {
				next = t
			}
		}
		timer.Reset(next.Sub(now))
		select {
		case <-ctx.Done():
			return
		case s := <-d.cfgs:
			sc = s.schema
			for id := range cfg {
				if s.cfg[id] == nil {
					delete(bufs, id)
					for lk := range lists {
						if lk.digest == id {
							forget(lk)
						}
					}
				}
			}
			cfg = s.cfg
			close(s.done)
		case a := <-d.acks:
			forget(listKey{a.GetDigestId(), a.GetListId()})
		case m := <-d.in:
			if sc == nil {
				continue
			}
			di := sc.digestsByName[m.name]
			if di == nil {
				d.log.Warn("p4rtserver: digest from the data plane is not in the p4info", "digest", m.name)
				continue
			}
			id := di.p.GetPreamble().GetId()
			c := cfg[id]
			if c == nil {
				continue // not enabled by a DigestEntry
			}
			data, key := digestData(di, id, m.fields)
			if _, ok := cache[key]; ok {
				continue
			}
			b := bufs[id]
			if b == nil {
				b = &digestBuffer{first: time.Now(), keys: map[string]bool{}}
				bufs[id] = b
			}
			if b.keys[key] {
				continue
			}
			b.keys[key] = true
			b.data = append(b.data, data)
			if c.GetMaxTimeoutNs() == 0 || (c.GetMaxListSize() > 0 && len(b.data) >= int(c.GetMaxListSize())) {
				send(id, time.Now())
			}
		case <-timer.C:
		}
		now = time.Now()
		for id, b := range bufs {
			if !now.Before(b.first.Add(time.Duration(cfg[id].GetMaxTimeoutNs()))) {
				send(id, now)
			}
		}
		for lk, sl := range lists {
			if !now.Before(sl.sent.Add(time.Duration(cfg[lk.digest].GetAckTimeoutNs()))) {
				forget(lk)
			}
		}
	}
}

// digestData converts a digest message to P4Data (a struct of bitstrings, or
// one bitstring) and its deduplication key.
func digestData(di *digestInfo, id uint32, fields [][]byte) (*p4v1.P4Data, string) {
	var kb strings.Builder
	kb.WriteString(itoa(int(id)))
	members := make([]*p4v1.P4Data, len(fields))
	for i, f := range fields {
		v := trimCanonical(f)
		kb.WriteByte(0)
		kb.WriteString(hexStr(v))
		members[i] = &p4v1.P4Data{Data: &p4v1.P4Data_Bitstring{Bitstring: v}}
	}
	if di.p.GetTypeSpec().GetStruct() == nil && len(members) == 1 {
		return members[0], kb.String()
	}
	return &p4v1.P4Data{Data: &p4v1.P4Data_Struct{Struct: &p4v1.P4StructLike{Members: members}}}, kb.String()
}
