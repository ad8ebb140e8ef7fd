//go:build race

package softswitch

// raceEnabled: the race detector is on. sync.Pool drops items at random
// under it, so allocation counts are only meaningful without it.
const raceEnabled = true
