package testbed

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/google/gopacket/layers"
)

// Stream is a steady flow of numbered frames from one host to another, as
// a ping would be but one-way and without ARP, so that a scenario counts
// exactly which frames a disruption lost. Each stream uses its own
// EtherType on the receiver.
type Stream struct {
	from, to  *Host
	etherType layers.EthernetType
	interval  time.Duration
	stop      chan struct{}
	stopOnce  sync.Once
	done      chan struct{}

	// mu guards sent and got.
	mu   sync.Mutex
	sent []time.Time
	got  map[uint32]int
}

// StreamResult is what a Stream measured.
type StreamResult struct {
	Sent, Received, Lost, Duplicates int
	// LongestOutage is the longest time between two frames that arrived
	// with only lost frames between them (send times): how long the flow
	// was interrupted.
	LongestOutage time.Duration
	// LastLoss is when the last lost frame was sent; zero when nothing
	// was lost.
	LastLoss time.Time
}

// String formats the result for a report.
func (r StreamResult) String() string {
	return fmt.Sprintf("%d sent, %d received, %d lost, %d duplicated, longest outage %v",
		r.Sent, r.Received, r.Lost, r.Duplicates, r.LongestOutage.Round(time.Millisecond))
}

// StartStream sends a frame of etherType from from to to's MAC every
// interval until Stop.
func StartStream(from, to *Host, etherType layers.EthernetType, interval time.Duration) *Stream {
	s := &Stream{from: from, to: to, etherType: etherType, interval: interval,
		stop: make(chan struct{}), done: make(chan struct{}), got: map[uint32]int{}}
	to.Watch(etherType, func(f Frame) {
		if len(f.Payload) < 4 || !equalMAC(f.Src, from.MAC()) {
			return
		}
		seq := binary.BigEndian.Uint32(f.Payload)
		s.mu.Lock()
		s.got[seq]++
		s.mu.Unlock()
	})
	go s.run()
	return s
}

func (s *Stream) run() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	payload := make([]byte, 46)
	for seq := uint32(0); ; seq++ {
		binary.BigEndian.PutUint32(payload, seq)
		s.mu.Lock()
		s.sent = append(s.sent, time.Now())
		s.mu.Unlock()
		_ = s.from.SendFrameTo(net.HardwareAddr(s.to.MAC()), s.etherType, payload) // a send on a dead link is a loss
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// Halt stops sending; Stop then measures. Halting several streams before
// draining lets them all drain at once.
func (s *Stream) Halt() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}

// Stop ends the stream, waits drain for the last frames and returns what
// it measured.
func (s *Stream) Stop(drain time.Duration) StreamResult {
	s.Halt()
	time.Sleep(drain)
	s.to.Watch(s.etherType, nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	return measure(s.sent, s.got)
}

// measure computes what a stream lost from the send time of each sequence
// number and the number of copies of each that arrived.
func measure(sent []time.Time, got map[uint32]int) StreamResult {
	r := StreamResult{Sent: len(sent)}
	lastOK := -1
	for seq := range sent {
		n := got[uint32(seq)]
		if n == 0 {
			r.Lost++
			r.LastLoss = sent[seq]
			continue
		}
		r.Received++
		r.Duplicates += n - 1
		if lastOK >= 0 && seq > lastOK+1 {
			r.LongestOutage = max(r.LongestOutage, sent[seq].Sub(sent[lastOK]))
		}
		lastOK = seq
	}
	if lastOK < len(sent)-1 && lastOK >= 0 {
		r.LongestOutage = max(r.LongestOutage, sent[len(sent)-1].Sub(sent[lastOK]))
	}
	return r
}
