package softswitch

import (
	"hash/maphash"
	"sync/atomic"
)

// hashIndex is an open-addressing hash table of entries keyed by their
// packed key bytes, built for one writer and lock-free readers: slots are
// atomic pointers to immutable entries; a delete leaves a tombstone; growing
// builds a new index that the owner publishes with one atomic store while
// readers finish on the old one. Readers never allocate.
type hashIndex struct {
	slots []atomic.Pointer[entry]
	mask  uint64
	seed  maphash.Seed
	used  int // live entries plus tombstones; writer only
	live  int // writer only
}

// tombstone marks a deleted slot so probes continue past it.
var tombstone = &entry{}

func newHashIndex(capacity int) *hashIndex {
	n := 16
	for n*3 < capacity*4 {
		n *= 2
	}
	return &hashIndex{slots: make([]atomic.Pointer[entry], n), mask: uint64(n - 1), seed: maphash.MakeSeed()}
}

// find returns the entry with the given key, or nil.
func (ix *hashIndex) find(key []byte) *entry {
	h := maphash.Bytes(ix.seed, key)
	for i := h & ix.mask; ; i = (i + 1) & ix.mask {
		e := ix.slots[i].Load()
		if e == nil {
			return nil
		}
		if e != tombstone && string(e.key) == string(key) {
			return e
		}
	}
}

// full reports whether one more insert needs a bigger index.
func (ix *hashIndex) full() bool { return (ix.used+1)*4 > len(ix.slots)*3 }

// grown returns a new index holding ix's live entries with room to grow.
func (ix *hashIndex) grown() *hashIndex {
	nx := newHashIndex(ix.live*2 + 16)
	for i := range ix.slots {
		if e := ix.slots[i].Load(); e != nil && e != tombstone {
			nx.put(e)
		}
	}
	return nx
}

// put inserts an entry whose key is absent.
func (ix *hashIndex) put(e *entry) {
	h := maphash.Bytes(ix.seed, e.key)
	for i := h & ix.mask; ; i = (i + 1) & ix.mask {
		cur := ix.slots[i].Load()
		if cur == nil {
			ix.used++
			ix.live++
			ix.slots[i].Store(e)
			return
		}
		if cur == tombstone {
			ix.live++
			ix.slots[i].Store(e)
			return
		}
	}
}

// replace swaps the entry with old's key for e (same key).
func (ix *hashIndex) replace(old, e *entry) {
	h := maphash.Bytes(ix.seed, old.key)
	for i := h & ix.mask; ; i = (i + 1) & ix.mask {
		cur := ix.slots[i].Load()
		if cur == nil {
			return
		}
		if cur == old {
			ix.slots[i].Store(e)
			return
		}
	}
}

// remove deletes the entry old.
func (ix *hashIndex) remove(old *entry) {
	h := maphash.Bytes(ix.seed, old.key)
	for i := h & ix.mask; ; i = (i + 1) & ix.mask {
		cur := ix.slots[i].Load()
		if cur == nil {
			return
		}
		if cur == old {
			ix.slots[i].Store(tombstone)
			ix.live--
			return
		}
	}
}
