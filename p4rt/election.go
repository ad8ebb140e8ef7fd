package p4rt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
)

// ElectionID is a controller's 128-bit election id. For each (device,
// role) the target makes primary the controller with the highest id it has
// ever seen (spec §5), so a controller that restarts with a lower id than
// its previous incarnation stays a backup until the target restarts. Ids
// must therefore grow across controller restarts: take them from
// configuration that an operator raises, or from NextElectionID, which
// persists a counter in a file.
type ElectionID struct {
	High, Low uint64
}

// Compare returns -1, 0 or +1 as e is less than, equal to or greater than o.
func (e ElectionID) Compare(o ElectionID) int {
	switch {
	case e.High != o.High:
		if e.High < o.High {
			return -1
		}
		return 1
	case e.Low != o.Low:
		if e.Low < o.Low {
			return -1
		}
		return 1
	}
	return 0
}

// String formats the id as high:low, the form ParseElectionID reads.
func (e ElectionID) String() string { return fmt.Sprintf("%d:%d", e.High, e.Low) }

func (e ElectionID) proto() *p4v1.Uint128 { return &p4v1.Uint128{High: e.High, Low: e.Low} }

func electionIDOf(u *p4v1.Uint128) ElectionID { return ElectionID{High: u.GetHigh(), Low: u.GetLow()} }

// next returns e+1.
func (e ElectionID) next() (ElectionID, error) {
	if e.Low == ^uint64(0) {
		if e.High == ^uint64(0) {
			return ElectionID{}, errors.New("election id overflows 128 bits")
		}
		return ElectionID{High: e.High + 1}, nil
	}
	return ElectionID{High: e.High, Low: e.Low + 1}, nil
}

// ParseElectionID reads "low" or "high:low" (decimal).
func ParseElectionID(s string) (ElectionID, error) {
	hs, ls, hasHigh := strings.Cut(strings.TrimSpace(s), ":")
	if !hasHigh {
		hs, ls = "0", hs
	}
	high, err := strconv.ParseUint(hs, 10, 64)
	if err != nil {
		return ElectionID{}, fmt.Errorf("election id %q: high: %w", s, err)
	}
	low, err := strconv.ParseUint(ls, 10, 64)
	if err != nil {
		return ElectionID{}, fmt.Errorf("election id %q: low: %w", s, err)
	}
	return ElectionID{High: high, Low: low}, nil
}

// NextElectionID returns an election id greater than every id it returned
// before for the same file, and at least floor: it reads the counter in path
// (a missing file counts as zero), adds one, and durably writes the result
// back (temporary file, fsync, rename, fsync of the directory) before
// returning it. An flock on path.lock serializes controllers that share the
// file. Use the result for the life of the process: each restart takes a
// new, higher id, so a restarted controller takes over from its dead
// predecessor, whose id the target still remembers.
func NextElectionID(path string, floor ElectionID) (ElectionID, error) {
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return ElectionID{}, fmt.Errorf("election id: %w", err)
	}
	defer lock.Close() // closing the descriptor releases the flock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return ElectionID{}, fmt.Errorf("election id: lock %s: %w", lock.Name(), err)
	}

	var last ElectionID
	switch data, err := os.ReadFile(path); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return ElectionID{}, fmt.Errorf("election id: %w", err)
	default:
		if last, err = ParseElectionID(string(data)); err != nil {
			return ElectionID{}, fmt.Errorf("election id file %s: %w", path, err)
		}
	}
	id, err := last.next()
	if err != nil {
		return ElectionID{}, fmt.Errorf("election id file %s: %w", path, err)
	}
	if id.Compare(floor) < 0 {
		id = floor
	}
	if err := writeFileDurably(path, []byte(id.String()+"\n")); err != nil {
		return ElectionID{}, fmt.Errorf("election id: %w", err)
	}
	return id, nil
}

func writeFileDurably(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
