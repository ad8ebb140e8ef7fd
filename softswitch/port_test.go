package softswitch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
)

func TestMemLinkCarriesFramesBothWaysAndCloses(t *testing.T) {
	a, b := NewLink(2)
	if err := a.Write([]byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := b.Write([]byte("two")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := b.Read(buf)
	if err != nil || string(buf[:n]) != "one" {
		t.Errorf("b read %q, %v; want one", buf[:n], err)
	}
	n, err = a.Read(buf)
	if err != nil || string(buf[:n]) != "two" {
		t.Errorf("a read %q, %v; want two", buf[:n], err)
	}
	// A full queue drops and counts rather than blocking the writer.
	for range 3 {
		if err := a.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.Drops(); got != 1 {
		t.Errorf("drops = %d, want 1 (queue of 2, 3 frames)", got)
	}
	done := make(chan error, 1)
	go func() {
		_, err := a.Read(buf) // nothing queued toward a: blocks
		done <- err
	}()
	a.Close()
	if err := <-done; !errors.Is(err, ErrPortClosed) {
		t.Errorf("read on a closed end: %v, want ErrPortClosed", err)
	}
	if err := a.Write([]byte("y")); !errors.Is(err, ErrPortClosed) {
		t.Errorf("write on a closed end: %v, want ErrPortClosed", err)
	}
}

func TestPortsArePcapCapturedAndDetached(t *testing.T) {
	dir := t.TempDir()
	s := New(Config{})
	a, b := NewLink(0)
	if err := s.AddPort(7, a, dir); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPort(7, a, ""); !errors.Is(err, ErrExists) {
		t.Errorf("attach port 7 twice: %v, want ErrExists", err)
	}
	if err := s.AddPort(511, a, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("attach the drop port: %v, want ErrInvalid", err)
	}
	frame := bytes.Repeat([]byte{0xab}, 64)
	if err := b.Write(frame); err != nil {
		t.Fatal(err)
	}
	// No program: the frame is captured on receive, then counted.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for s.Stats().NoProgram == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the port reader never processed the frame")
		case <-time.After(time.Millisecond):
		}
	}
	if err := s.RemovePort(7); err != nil {
		t.Fatal(err)
	}
	if err := s.RemovePort(7); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove port 7 twice: %v, want ErrNotFound", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "port7.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := r.ReadPacketData()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, frame) {
		t.Errorf("captured %x, want %x", got, frame)
	}
	if _, ok := <-s.Digests(); ok {
		t.Error("Digests is still open after Close")
	}
}
