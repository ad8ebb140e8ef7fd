package p4

import (
	_ "embed"
	"fmt"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	"google.golang.org/protobuf/encoding/prototext"
)

// The compiled program, embedded as strings so that no caller can modify the
// shared copy.
var (
	//go:embed build/evpn.json
	evpnJSON string
	//go:embed build/evpn.p4info.txtpb
	evpnP4InfoText string
	//go:embed build/P4C_VERSION
	p4cVersion string
)

// EVPNJSON returns the BMv2 JSON of evpn.p4 as compiled by p4c-bm2-ss: the
// device config a softswitch or simple_switch_grpc target loads. Each call
// returns a fresh copy.
func EVPNJSON() []byte {
	return []byte(evpnJSON)
}

// EVPNP4InfoText returns the P4Info of evpn.p4 in protobuf text format, as
// p4c wrote it.
func EVPNP4InfoText() string {
	return evpnP4InfoText
}

// EVPNP4Info returns the P4Info of evpn.p4, parsed. Each call returns a new
// message that the caller owns.
func EVPNP4Info() (*p4configv1.P4Info, error) {
	info := &p4configv1.P4Info{}
	if err := prototext.Unmarshal([]byte(evpnP4InfoText), info); err != nil {
		return nil, fmt.Errorf("parse embedded build/evpn.p4info.txtpb: %w", err)
	}
	return info, nil
}

// P4CVersion returns the version line of the p4c that compiled the embedded
// outputs.
func P4CVersion() string {
	return p4cVersion
}
