package p4evpn_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

// testNet is the third octet of this test process's loopback network,
// 127.0.testNet.0/24, on which every BGP speaker of the tests lives. Two
// runs of this package at once (go test of two trees, -count with -p) each
// get their own, so their fixed BGP port and addresses never meet.
// TestMain sets it before any test runs; it does not change afterwards.
var testNet byte

// testNetCandidates are the /24s a run may claim: below 127.0.50 (testbed/
// picks its fabrics' networks at random in 50-249) and none that another
// package's tests use at a fixed address (cmd/evpnd 11-12 and 14-15, bgp/
// 24 and 30-41).
var testNetCandidates = []byte{2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 18, 19, 20, 21, 22, 23, 25, 26, 27, 28, 29, 42, 43, 44, 45, 46, 47, 48, 49}

// claimPort is where a run listens on 127.0.N.254 to hold network N: the
// listener lives as long as the test process, so a concurrent run's claim
// of the same network fails and it takes the next one.
const claimPort = 10178

// claimTestNet claims a network, starting from one picked by the process
// id so that concurrent runs seldom probe the same ones.
func claimTestNet() (net.Listener, byte, error) {
	start := os.Getpid() % len(testNetCandidates)
	var errs []error
	for i := range testNetCandidates {
		n := testNetCandidates[(start+i)%len(testNetCandidates)]
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.%d.254:%d", n, claimPort))
		if err == nil {
			return l, n, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, 0, fmt.Errorf("claim loopback network 127.0.%d.0/24: %w", n, err)
		}
		errs = append(errs, err)
	}
	return nil, 0, fmt.Errorf("every loopback test network is claimed by another run: %w", errors.Join(errs...))
}

// loopback is host h of this run's test network: 127.0.testNet.h.
func loopback(h int) string { return fmt.Sprintf("127.0.%d.%d", testNet, h) }

func TestMain(m *testing.M) {
	l, n, err := claimTestNet()
	if err != nil {
		fmt.Fprintln(os.Stderr, "p4evpn tests:", err)
		os.Exit(1)
	}
	testNet = n
	fmt.Printf("p4evpn tests: BGP speakers on 127.0.%d.0/24 (PE n at .n, the RR at .%d)\n", n, rrHost)
	code := m.Run()
	l.Close()
	os.Exit(code)
}
