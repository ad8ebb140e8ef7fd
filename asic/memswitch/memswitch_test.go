package memswitch

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/p4evpn/p4evpn/asic"
)

func TestRecording(t *testing.T) {
	ctx := context.Background()
	s := New()
	batch := []asic.Update{
		asic.Set(asic.Port{ID: 2, Kind: asic.PortAccess}),
		asic.Set(asic.Port{ID: 1, Kind: asic.PortCore}),
		asic.Set(asic.AttachmentCircuit{ID: 1, Port: 2, BD: 9}), // bridge domain 9 missing
	}
	err := s.Write(ctx, batch)
	var we *asic.WriteError
	if !errors.As(err, &we) || we.Errors[0] != nil || we.Errors[1] != nil || !errors.Is(we.Errors[2], asic.ErrMissingReference) {
		t.Fatalf("Write: %v, want only update 2 to fail with a missing reference", err)
	}
	if diff := cmp.Diff(batch, s.TakeLog()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if len(s.TakeLog()) != 0 {
		t.Error("TakeLog did not clear the log")
	}
	if b, u := s.Stats(); b != 1 || u != 3 {
		t.Errorf("Stats %d batches %d updates, want 1, 3", b, u)
	}
	want := []asic.Entity{asic.Port{ID: 1, Kind: asic.PortCore}, asic.Port{ID: 2, Kind: asic.PortAccess}}
	if diff := cmp.Diff(want, s.Entities(asic.KindPort)); diff != "" {
		t.Errorf("Entities sorted by key (-want +got):\n%s", diff)
	}
}

func TestSlowSubscriberLosesEventsNotTheSwitch(t *testing.T) {
	s := New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := s.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 70 {
		s.Inject(asic.Event{Kind: asic.EventActivity, BD: 1})
	}
	if len(ch) != 64 || s.DroppedEvents() != 6 {
		t.Errorf("%d queued, %d dropped; want 64 and 6", len(ch), s.DroppedEvents())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range ch {
		n++
	}
	if n != 64 {
		t.Errorf("drained %d events after Close, want 64 then a closed channel", n)
	}
	if _, err := s.Events(context.Background()); err == nil {
		t.Error("Events after Close succeeded")
	}
}
