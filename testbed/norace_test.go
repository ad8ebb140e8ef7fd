//go:build !race

package testbed

// raceEnabled is true under go test -race.
const raceEnabled = false
