//go:build !race

package softswitch

// raceEnabled: the race detector is off.
const raceEnabled = false
