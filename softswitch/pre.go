package softswitch

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
)

// replicationEngine is the packet replication engine: multicast groups and
// clone sessions. Both are immutable maps replaced on write.
type replicationEngine struct {
	mu sync.Mutex // mu serialises writers; readers load the maps atomically
	mc atomic.Pointer[map[uint32]*MulticastGroup]
	cs atomic.Pointer[map[uint32]*CloneSession]
}

// reset deletes every multicast group and clone session.
func (r *replicationEngine) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
}

func (r *replicationEngine) init() {
	r.mc.Store(&map[uint32]*MulticastGroup{})
	r.cs.Store(&map[uint32]*CloneSession{})
}

func checkReplicas(what string, id uint32, rs []Replica) ([]Replica, error) {
	seen := map[Replica]bool{}
	for _, r := range rs {
		if seen[r] {
			return nil, fmt.Errorf("%s %d: replica (port %d, rid %d) listed twice: %w", what, id, r.Port, r.Rid, ErrInvalid)
		}
		seen[r] = true
	}
	return append([]Replica(nil), rs...), nil
}

func (r *replicationEngine) insertMulticast(g MulticastGroup, modify bool) error {
	if g.ID == 0 {
		return fmt.Errorf("multicast group id 0: %w", ErrInvalid)
	}
	reps, err := checkReplicas("multicast group", g.ID, g.Replicas)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.mc.Load()
	_, exists := cur[g.ID]
	if modify && !exists {
		return fmt.Errorf("multicast group %d: %w", g.ID, ErrNotFound)
	}
	if !modify && exists {
		return fmt.Errorf("multicast group %d: %w", g.ID, ErrExists)
	}
	next := make(map[uint32]*MulticastGroup, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[g.ID] = &MulticastGroup{ID: g.ID, Replicas: reps}
	r.mc.Store(&next)
	return nil
}

func (r *replicationEngine) deleteMulticast(id uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.mc.Load()
	if _, ok := cur[id]; !ok {
		return fmt.Errorf("multicast group %d: %w", id, ErrNotFound)
	}
	next := make(map[uint32]*MulticastGroup, len(cur))
	for k, v := range cur {
		if k != id {
			next[k] = v
		}
	}
	r.mc.Store(&next)
	return nil
}

func (r *replicationEngine) listMulticast() []MulticastGroup {
	cur := *r.mc.Load()
	out := make([]MulticastGroup, 0, len(cur))
	for _, g := range cur {
		out = append(out, MulticastGroup{ID: g.ID, Replicas: append([]Replica(nil), g.Replicas...)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (r *replicationEngine) insertClone(c CloneSession, modify bool) error {
	if c.ID == 0 {
		return fmt.Errorf("clone session id 0: %w", ErrInvalid)
	}
	if c.PacketLength < 0 {
		return fmt.Errorf("clone session %d: packet length %d: %w", c.ID, c.PacketLength, ErrInvalid)
	}
	reps, err := checkReplicas("clone session", c.ID, c.Replicas)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.cs.Load()
	_, exists := cur[c.ID]
	if modify && !exists {
		return fmt.Errorf("clone session %d: %w", c.ID, ErrNotFound)
	}
	if !modify && exists {
		return fmt.Errorf("clone session %d: %w", c.ID, ErrExists)
	}
	next := make(map[uint32]*CloneSession, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	cc := c
	cc.Replicas = reps
	next[c.ID] = &cc
	r.cs.Store(&next)
	return nil
}

func (r *replicationEngine) deleteClone(id uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.cs.Load()
	if _, ok := cur[id]; !ok {
		return fmt.Errorf("clone session %d: %w", id, ErrNotFound)
	}
	next := make(map[uint32]*CloneSession, len(cur))
	for k, v := range cur {
		if k != id {
			next[k] = v
		}
	}
	r.cs.Store(&next)
	return nil
}

func (r *replicationEngine) listClone() []CloneSession {
	cur := *r.cs.Load()
	out := make([]CloneSession, 0, len(cur))
	for _, c := range cur {
		cc := *c
		cc.Replicas = append([]Replica(nil), c.Replicas...)
		out = append(out, cc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
