//go:build race

package p4evpn_test

// raceEnabled: the race detector is on.
const raceEnabled = true
