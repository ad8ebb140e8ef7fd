//go:build linux

package softswitch

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIndirectTableMissAgreesWithBMv2 runs testdata/selmiss.p4 on both
// targets: hits, misses of every indirect table (selector and profile, as a
// plain apply, for .hit and in a switch on action_run), and a hit that takes
// a switch's default branch. Frames must be identical.
func TestIndirectTableMissAgreesWithBMv2(t *testing.T) {
	rig, bm := startBMv2RigFor(t, filepath.Join("testdata", "selmiss.json"), filepath.Join("testdata", "selmiss.p4info.txtpb"), 2)
	s, far := loadProgram(t, "selmiss", Config{}, 1, 2)
	selmissConfigure(t, s)
	selmissConfigure(t, bm)
	mark := selmissFrame(0x0802, 0x02000000ffff, "MARKER-MARKER-MARKER")
	total := 0
	for _, etherType := range []uint16{0x0801, 0x0802, 0x0803, 0x0804, 0x0801} {
		for _, src := range []uint64{0x020000000001, 0x020000000002, 0x02000000abcd} {
			in := selmissFrame(etherType, src, "selector-miss-payload")
			s.Process(1, in)
			expectNone(t, map[uint32]*MemPort{1: far[1]})
			var want [][]byte
			for {
				f, ok := far[2].TryRecv()
				if !ok {
					break
				}
				want = append(want, f)
			}
			got := rig.reflect(t, in, mark)
			total += len(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("EtherType %#04x source %#x: softswitch (-) and BMv2 (+) disagree:\n%s", etherType, src, diff)
			}
		}
	}
	if total == 0 {
		t.Error("no input produced a frame: the comparison proved nothing")
	}
}
