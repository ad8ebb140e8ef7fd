package softswitch

import (
	"context"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// loadProgram compiles testdata/<name>.json (compiled by p4c from
// testdata/<name>.p4) and runs it on a new switch with the given ports
// attached as in-memory links. It returns the switch and the far ends of the
// links, by port number.
func loadProgram(t testing.TB, name string, cfg Config, ports ...uint32) (*Switch, map[uint32]*MemPort) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatalf("read test program: %v", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger
	}
	s := New(cfg)
	t.Cleanup(func() { s.Close() })
	if err := s.Load(b); err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	far := map[uint32]*MemPort{}
	for _, n := range ports {
		a, b := NewLink(0)
		if err := s.AddPort(n, a, ""); err != nil {
			t.Fatal(err)
		}
		far[n] = b
	}
	return s, far
}

// quietLogger keeps program-load logs out of test and benchmark output.
var quietLogger = slog.New(slog.DiscardHandler)

// fields packs (value, width) pairs most significant first, independently
// of the engine's bit routines.
type fields []struct {
	v uint64
	w int
}

func (fs fields) bytes() []byte {
	acc := new(big.Int)
	bits := 0
	for _, f := range fs {
		acc.Lsh(acc, uint(f.w))
		acc.Or(acc, new(big.Int).SetUint64(f.v&widthMask(f.w)))
		bits += f.w
	}
	if bits%8 != 0 {
		panic("fields are not whole bytes")
	}
	return acc.FillBytes(make([]byte, bits/8))
}

// unpack splits b into fields of the given widths, most significant first.
func unpack(b []byte, widths ...int) []uint64 {
	acc := new(big.Int).SetBytes(b)
	total := 0
	for _, w := range widths {
		total += w
	}
	acc.Rsh(acc, uint(len(b)*8-total))
	out := make([]uint64, len(widths))
	for i := len(widths) - 1; i >= 0; i-- {
		w := widths[i]
		m := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(w)), big.NewInt(1))
		out[i] = new(big.Int).And(acc, m).Uint64()
		acc.Rsh(acc, uint(w))
	}
	return out
}

// recv waits for one frame on a far port end.
func recv(t testing.TB, p *MemPort) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f, err := p.Recv(ctx)
	if err != nil {
		t.Fatalf("no frame: %v", err)
	}
	return f
}

// expectNone asserts that no frame is queued on any of the far ends. The
// switch processes synchronously (Process), so nothing can still be in
// flight when this runs.
func expectNone(t testing.TB, far map[uint32]*MemPort) {
	t.Helper()
	for n, p := range far {
		if f, ok := p.TryRecv(); ok {
			t.Errorf("unexpected frame on port %d: %x", n, f)
		}
	}
}
