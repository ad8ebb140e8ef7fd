package softswitch

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzProcess feeds arbitrary frames, on arbitrary ports, through compiled
// programs: p4/build/evpn.json with forwarding state (when present) and the
// engine's test programs. The engine must never panic, whatever the frame.
// Seed corpus: testdata/fuzz/FuzzProcess.
func FuzzProcess(f *testing.F) {
	f.Add(uint16(1), []byte{})
	f.Add(uint16(2), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 2, 3, 4, 5, 0x81, 0, 0, 10, 0x08, 0})
	f.Add(uint16(255), []byte{0, 1})
	var switches []*Switch
	for _, name := range []string{"stack", "tables", "arith", "externs"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		s := New(Config{CPUPort: 64, Logger: quietLogger})
		if err := s.Load(b); err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		for port := uint32(1); port <= 4; port++ {
			a, _ := NewLink(1)
			if err := s.AddPort(port, a, ""); err != nil {
				f.Fatal(err)
			}
		}
		switches = append(switches, s)
	}
	if s, ok := evpnFuzzSwitch(f); ok {
		switches = append(switches, s)
	}
	f.Cleanup(func() {
		for _, s := range switches {
			s.Close()
		}
	})
	f.Fuzz(func(t *testing.T, port uint16, frame []byte) {
		for _, s := range switches {
			s.Process(uint32(port)%512, frame)
		}
	})
}

// FuzzCompile feeds arbitrary documents to the loader: it must return an
// error or a program, never panic. Seeds: the compiled test programs.
func FuzzCompile(f *testing.F) {
	for _, name := range []string{"stack", "tables", "arith", "externs", "checksum", "meter"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Compile(doc)
		if err == nil && p == nil {
			t.Fatal("no program and no error")
		}
	})
}
