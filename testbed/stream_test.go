package testbed

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMeasure(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	for _, tc := range []struct {
		desc string
		sent []time.Time
		got  map[uint32]int
		want StreamResult
	}{
		{desc: "nothing lost", sent: at(0, 10, 20), got: map[uint32]int{0: 1, 1: 1, 2: 1},
			want: StreamResult{Sent: 3, Received: 3}},
		{desc: "a gap of two frames", sent: at(0, 10, 20, 30, 40), got: map[uint32]int{0: 1, 3: 1, 4: 1},
			want: StreamResult{Sent: 5, Received: 3, Lost: 2, LongestOutage: 30 * time.Millisecond, LastLoss: t0.Add(20 * time.Millisecond)}},
		{desc: "lost at the end", sent: at(0, 10, 20), got: map[uint32]int{0: 1},
			want: StreamResult{Sent: 3, Received: 1, Lost: 2, LongestOutage: 20 * time.Millisecond, LastLoss: t0.Add(20 * time.Millisecond)}},
		{desc: "duplicates", sent: at(0, 10), got: map[uint32]int{0: 2, 1: 3},
			want: StreamResult{Sent: 2, Received: 2, Duplicates: 3}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, measure(tc.sent, tc.got)); diff != "" {
				t.Errorf("measure (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStream runs a stream over a wire that drops every frame for a while.
func TestStream(t *testing.T) {
	a := mustHost(t, "a", "02:00:00:00:00:0a", "10.0.0.1/24", 0)
	b := mustHost(t, "b", "02:00:00:00:00:0b", "10.0.0.2/24", 0)
	wire(a, b)
	s := StartStream(a, b, 0x88b5, time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	a.Attach(func([]byte) error { return nil }) // cable pulled
	time.Sleep(30 * time.Millisecond)
	a.Attach(func(f []byte) error { b.Deliver(f); return nil })
	time.Sleep(30 * time.Millisecond)
	r := s.Stop(50 * time.Millisecond)
	if r.Lost == 0 || r.Received == 0 || r.Received+r.Lost != r.Sent || r.Duplicates != 0 {
		t.Errorf("stream over a wire cut for 30 ms: %s; want some lost, some received, none duplicated", r)
	}
	if r.LongestOutage < 30*time.Millisecond {
		t.Errorf("longest outage %v, want at least the 30 ms the wire was cut", r.LongestOutage)
	}
}
