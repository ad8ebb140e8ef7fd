package asic

import (
	"context"
	"testing"
)

func TestEventFanout(t *testing.T) {
	var f EventFanout
	drops := 0
	f.OnDrop = func() { drops++ }
	ctx, cancel := context.WithCancel(context.Background())
	a, ok := f.Subscribe(ctx, 1)
	if !ok {
		t.Fatal("Subscribe on a new fan-out reported closed")
	}
	b, _ := f.Subscribe(context.Background(), 2)
	f.Publish(Event{Kind: EventLearn})
	f.Publish(Event{Kind: EventLearn}) // a is full: dropped for a only
	if got := f.Dropped(); got != 1 || drops != 1 {
		t.Errorf("Dropped() = %d, OnDrop calls = %d; want 1 and 1", got, drops)
	}
	if len(a) != 1 || len(b) != 2 {
		t.Errorf("queued a=%d b=%d, want 1 and 2", len(a), len(b))
	}
	cancel()
	<-a // the buffered event
	if _, open := <-a; open {
		t.Error("a's channel still open after its context ended")
	}
	f.Close()
	<-b
	<-b
	if _, open := <-b; open {
		t.Error("b's channel still open after Close")
	}
	if _, ok := f.Subscribe(context.Background(), 1); ok {
		t.Error("Subscribe after Close reported open")
	}
	f.Close() // idempotent
}
