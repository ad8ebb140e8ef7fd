package testbed

import (
	_ "embed"
	"fmt"
	"strings"
)

//go:embed demo.yaml
var demoYAML []byte

// DemoYAML is the example fabric's topology file (demo.yaml): three PEs,
// a route reflector, the LSR core and five hosts.
func DemoYAML() []byte { return append([]byte(nil), demoYAML...) }

// DemoTopology returns the example fabric on loopback network
// 127.0.NET.0/24 (the file uses 127.0.40.0/24), so that fabrics of
// concurrent test binaries do not collide; rrKind is evpnd or frr.
func DemoTopology(net byte, rrKind string) (*Topology, error) {
	s := strings.ReplaceAll(string(demoYAML), "127.0.40.", fmt.Sprintf("127.0.%d.", net))
	s = strings.Replace(s, "kind: evpnd", "kind: "+rrKind, 1)
	return ParseTopology([]byte(s), ".")
}
