package softswitch

import (
	"errors"
	"testing"
	"time"
)

// evpn.p4's ingress.smac is compiled with support_timeout: its entries
// record when a frame's source MAC hit them; other tables track nothing.
func TestLastHitTracksSourceMACHits(t *testing.T) {
	s, far := evpnLoad(t)
	p, err := s.Program()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		table string
		want  bool
	}{{"ingress.smac", true}, {"ingress.fdb", false}} {
		ti, err := p.Table(tc.table)
		if err != nil {
			t.Fatal(err)
		}
		if ti.SupportTimeout != tc.want {
			t.Errorf("%s: SupportTimeout = %v, want %v", tc.table, ti.SupportTimeout, tc.want)
		}
	}
	hostA := exact(be(bd, 2), macHostA)
	if err := s.InsertEntry("ingress.smac", TableEntry{Match: exact(be(bd, 2), macHostB), Action: call("ingress.smac_known", be(ac2, 2))}); err != nil {
		t.Fatal(err)
	}
	hostB := exact(be(bd, 2), macHostB)
	lastHit := func(match []FieldMatch) time.Time {
		t.Helper()
		at, err := s.LastHit("ingress.smac", match, 0)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	if at := lastHit(hostA); !at.IsZero() {
		t.Fatalf("entry never hit: LastHit = %v, want zero", at)
	}

	before := time.Now()
	s.Process(pAccess1, frame(t, tagged(100, macHostB, macHostA)...)) // source A hits smac
	after := time.Now()
	drain(far)
	at := lastHit(hostA)
	if at.Before(before) || at.After(after) {
		t.Errorf("LastHit = %v, want between %v and %v (the frame's processing)", at, before, after)
	}
	if at := lastHit(hostB); !at.IsZero() {
		t.Errorf("entry of a MAC that sent nothing: LastHit = %v, want zero", at)
	}

	// Changing the entry's action keeps its hit history.
	if err := s.ModifyEntry("ingress.smac", TableEntry{Match: hostA, Action: call("ingress.smac_known", be(ac3, 2))}); err != nil {
		t.Fatal(err)
	}
	if got := lastHit(hostA); !got.Equal(at) {
		t.Errorf("after MODIFY: LastHit = %v, want %v", got, at)
	}

	// Hits are recorded at most once per granularity, and a later hit
	// beyond it moves the time forward.
	time.Sleep(2 * time.Duration(hitGranularity))
	s.Process(pAccess1, frame(t, tagged(100, macHostB, macHostA)...))
	drain(far)
	if got := lastHit(hostA); !got.After(at) {
		t.Errorf("after a second hit %v later: LastHit = %v, want after %v", 2*time.Duration(hitGranularity), got, at)
	}

	// A deleted and re-inserted entry starts with no hits.
	if err := s.DeleteEntry("ingress.smac", hostA, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LastHit("ingress.smac", hostA, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("LastHit of a deleted entry: err = %v, want ErrNotFound", err)
	}
	if err := s.InsertEntry("ingress.smac", TableEntry{Match: hostA, Action: call("ingress.smac_known", be(ac1, 2))}); err != nil {
		t.Fatal(err)
	}
	if at := lastHit(hostA); !at.IsZero() {
		t.Errorf("re-inserted entry: LastHit = %v, want zero", at)
	}

	for _, tc := range []struct {
		desc    string
		table   string
		match   []FieldMatch
		wantErr error
	}{
		{desc: "table without support_timeout", table: "ingress.fdb", match: exact(be(bd, 2), macHostA), wantErr: ErrInvalid},
		{desc: "unknown table", table: "ingress.nope", match: hostA, wantErr: ErrNotFound},
		{desc: "key of the wrong shape", table: "ingress.smac", match: exact(be(bd, 2)), wantErr: ErrInvalid},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if _, err := s.LastHit(tc.table, tc.match, 0); !errors.Is(err, tc.wantErr) {
				t.Errorf("LastHit: err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// Recording hits allocates nothing on the packet path.
func TestLastHitAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (sync.Pool drops items at random)")
	}
	s, far := evpnLoad(t)
	in := frame(t, tagged(100, macRemote1, macHostA)...)
	s.Process(pAccess1, in)
	drain(far)
	buf := make([]byte, 2048)
	allocs := testing.AllocsPerRun(200, func() {
		s.Process(pAccess1, in)
		for _, p := range far {
			for {
				if _, ok := p.TryRead(buf); !ok {
					break
				}
			}
		}
	})
	if allocs != 0 {
		t.Errorf("a frame hitting the source-MAC table allocates %.1f times, want 0", allocs)
	}
	if at, err := s.LastHit("ingress.smac", exact(be(bd, 2), macHostA), 0); err != nil || at.IsZero() {
		t.Errorf("LastHit = %v, %v: want a hit recorded", at, err)
	}
}

// BenchmarkEVPNKnownUnicastParallel: every core forwards frames from the
// same source MAC, so all of them hit one ingress.smac entry, whose last-hit
// time is written at most once per hitGranularity rather than per packet.
func BenchmarkEVPNKnownUnicastParallel(b *testing.B) {
	s, _, sinks := benchSwitch(b, true)
	in := frame(b, tagged(100, macRemote1, macHostA)...)
	s.Process(pAccess1, in)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Process(pAccess1, in)
		}
	})
	b.StopTimer()
	var n uint64
	for _, p := range sinks {
		n += p.frames.Load()
	}
	if n < uint64(b.N) {
		b.Fatalf("%d frames out for %d in", n, b.N)
	}
	reportRates(b, cpu0)
}

// BenchmarkLastHit: one control-plane query, as the P4Runtime server's idle
// scan makes per ageing entry once per TTL.
func BenchmarkLastHit(b *testing.B) {
	s, _ := evpnLoad(b)
	match := exact(be(bd, 2), macHostA)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.LastHit("ingress.smac", match, 0); err != nil {
			b.Fatal(err)
		}
	}
}
