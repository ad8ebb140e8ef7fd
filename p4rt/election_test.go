package p4rt

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestNextElectionIDGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "election-id")
	var got []ElectionID
	for range 3 {
		id, err := NextElectionID(path, ElectionID{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
	}
	want := []ElectionID{{Low: 1}, {Low: 2}, {Low: 3}}
	if !slices.Equal(got, want) {
		t.Errorf("ids = %v, want %v", got, want)
	}
	// A floor above the counter wins, and the counter continues from it.
	id, err := NextElectionID(path, ElectionID{High: 1})
	if err != nil || id != (ElectionID{High: 1}) {
		t.Errorf("with floor 1:0: id = %v, %v; want 1:0", id, err)
	}
	id, err = NextElectionID(path, ElectionID{})
	if err != nil || id != (ElectionID{High: 1, Low: 1}) {
		t.Errorf("after floor: id = %v, %v; want 1:1", id, err)
	}
	data, _ := os.ReadFile(path)
	if strings.TrimSpace(string(data)) != "1:1" {
		t.Errorf("file holds %q, want 1:1", data)
	}
}

func TestNextElectionIDCarriesIntoHigh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "election-id")
	if err := os.WriteFile(path, []byte("0:18446744073709551615\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := NextElectionID(path, ElectionID{})
	if err != nil || id != (ElectionID{High: 1}) {
		t.Errorf("id = %v, %v; want 1:0", id, err)
	}
}

func TestNextElectionIDConcurrentCallersGetDistinctIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "election-id")
	const n = 20
	ids := make([]ElectionID, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id, err := NextElectionID(path, ElectionID{})
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	slices.SortFunc(ids, ElectionID.Compare)
	for i, id := range ids {
		if id != (ElectionID{Low: uint64(i + 1)}) {
			t.Fatalf("sorted ids = %v, want 0:1 .. 0:%d each once", ids, n)
		}
	}
}

func TestNextElectionIDRejectsCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "election-id")
	if err := os.WriteFile(path, []byte("twelve"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := NextElectionID(path, ElectionID{})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"twelve"`) {
		t.Errorf("error = %v, want one naming the file and its content", err)
	}
	// The corrupt file is left for the operator, not overwritten.
	if data, _ := os.ReadFile(path); string(data) != "twelve" {
		t.Errorf("file now holds %q", data)
	}
}

func TestParseElectionID(t *testing.T) {
	tests := []struct {
		desc    string
		in      string
		want    ElectionID
		wantErr bool
	}{
		{desc: "low only", in: "42", want: ElectionID{Low: 42}},
		{desc: "high and low", in: "3:4\n", want: ElectionID{High: 3, Low: 4}},
		{desc: "negative", in: "-1", wantErr: true},
		{desc: "bad high", in: "x:1", wantErr: true},
	}
	for _, tc := range tests {
		got, err := ParseElectionID(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: ParseElectionID(%q) = %v, %v; want %v, error %t", tc.desc, tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if (ElectionID{High: 1}).Compare(ElectionID{Low: 9}) != 1 || (ElectionID{Low: 1}).Compare(ElectionID{Low: 2}) != -1 {
		t.Error("Compare orders by high, then low")
	}
}
