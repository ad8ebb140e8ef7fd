package softswitch

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
)

func key32(i uint32) []byte { return binary.BigEndian.AppendUint32(nil, i) }

func TestHashIndexInsertReplaceRemoveAndGrow(t *testing.T) {
	ix := newHashIndex(4)
	entries := map[uint32]*entry{}
	for i := uint32(0); i < 1000; i++ {
		e := &entry{key: key32(i)}
		if ix.full() {
			ix = ix.grown()
		}
		ix.put(e)
		entries[i] = e
	}
	for i := uint32(0); i < 1000; i += 2 {
		ix.remove(entries[i])
	}
	for i := uint32(1); i < 1000; i += 2 {
		ne := &entry{key: key32(i), priority: 7}
		ix.replace(entries[i], ne)
		entries[i] = ne
	}
	for i := uint32(0); i < 1100; i++ {
		got := ix.find(key32(i))
		switch {
		case i >= 1000 || i%2 == 0:
			if got != nil {
				t.Fatalf("find(%d) = %v after delete or never inserted, want nil", i, got)
			}
		case got != entries[i] || got.priority != 7:
			t.Fatalf("find(%d) = %v, want the replaced entry", i, got)
		}
	}
	if ix.live != 500 {
		t.Errorf("live = %d, want 500", ix.live)
	}
}

// TestHashIndexReadersDuringWrites runs lock-free readers against a writer
// that modifies, deletes, re-inserts and grows the index: a reader must
// always find the keys that are never deleted, with a complete entry. Run
// with -race, it also proves the packet path needs no lock.
func TestHashIndexReadersDuringWrites(t *testing.T) {
	var published atomic.Pointer[hashIndex]
	ix := newHashIndex(64)
	stable := map[uint32]*entry{}
	for i := uint32(0); i < 64; i++ {
		e := &entry{key: key32(i), priority: int32(i)}
		ix.put(e)
		stable[i] = e
	}
	published.Store(ix)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var failures atomic.Int64
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				for i := uint32(0); i < 64; i++ {
					e := published.Load().find(key32(i))
					if e == nil || e.priority%64 != int32(i) {
						failures.Add(1)
					}
				}
			}
		}()
	}
	for round := 0; round < 200; round++ {
		ix := published.Load()
		for i := uint32(1000); i < 1100; i++ {
			if ix.full() {
				ix = ix.grown()
				published.Store(ix)
			}
			ix.put(&entry{key: key32(i + uint32(round)*1000)})
		}
		for i := uint32(0); i < 64; i++ {
			ne := &entry{key: key32(i), priority: int32(i) + 64*int32(round%3)}
			ix.replace(stable[i], ne)
			stable[i] = ne
		}
		for i := uint32(1000); i < 1100; i++ {
			if e := ix.find(key32(i + uint32(round)*1000)); e != nil {
				ix.remove(e)
			}
		}
		if ix.used > ix.live*4+64 {
			ix = ix.grown()
			published.Store(ix)
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("readers missed or saw a wrong stable entry %d times", n)
	}
}
