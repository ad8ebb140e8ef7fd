package gnmi

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/p4evpn/p4evpn/evpn/route"
)

// nodeKind is the YANG statement a schema node stands for.
type nodeKind int

const (
	kindContainer nodeKind = iota
	kindList
	kindLeaf
	kindLeafList
)

// schemaNode is one node of the served OpenConfig schema (OPENCONFIG.md),
// flattened the way goyang flattens uses/augment: enough of YANG to validate
// a Set, resolve a path and encode JSON_IETF member names and values.
type schemaNode struct {
	name string
	// module is the module that instantiates the node; RFC 7951 qualifies a
	// JSON_IETF member name with it where it differs from the parent's.
	module   string
	kind     nodeKind
	keys     []string // list keys, in declaration order
	typ      *leafType
	children map[string]*schemaNode
	parent   *schemaNode
	// config is true for nodes under a config container: writable by Set.
	config bool
	// mirror is true for a state leaf that mirrors a config leaf (c+s in
	// OPENCONFIG.md); OPERATIONAL Get leaves those out.
	mirror bool
	// keyLeaf is true for the list-level leaf that repeats a key
	// (network-instance/name): its value lives in the path, not in the tree.
	keyLeaf bool
	// countsUp marks a uint64 leaf of seconds that grows with time (a MAC
	// entry's age): its cached value holds at its notification's
	// timestamp, and Get adds the whole seconds elapsed since.
	countsUp bool
}

// child returns the child named name, accepting an RFC 7951 module-qualified
// name ("openconfig-vlan:vlan") when the module matches.
func (n *schemaNode) child(name string) *schemaNode {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		c := n.children[name[i+1:]]
		if c == nil || c.module != name[:i] {
			return nil
		}
		return c
	}
	return n.children[name]
}

// path returns the node's schema path, "/network-instances/network-instance/config/name".
func (n *schemaNode) path() string {
	if n.parent == nil {
		return "/"
	}
	var elems []string
	for m := n; m.parent != nil; m = m.parent {
		elems = append(elems, m.name)
	}
	var b strings.Builder
	for i := len(elems) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(elems[i])
	}
	return b.String()
}

// valueKind is the Go representation a leaf type decodes into.
type valueKind int

const (
	valString valueKind = iota
	valBool
	valUint
	valIdentity // identityref: bare identity name, qualified in JSON_IETF
	valEnum
)

// leafType is a YANG leaf type reduced to what p4evpn checks.
type leafType struct {
	name string // the YANG type name, for error messages
	kind valueKind
	bits int // valUint: 8, 16, 32 or 64
	min  uint64
	max  uint64
	// values lists the allowed enum or identity names.
	values []string
	// identModule is the module defining the identities of an identityref.
	identModule string
	// check validates a string value beyond its kind (patterns, unions).
	check func(string) error
}

// allows reports whether name is one of t's enum or identity values.
func (t *leafType) allows(name string) bool {
	for _, v := range t.values {
		if v == name {
			return true
		}
	}
	return false
}

func tString() *leafType { return &leafType{name: "string", kind: valString} }
func tBool() *leafType   { return &leafType{name: "boolean", kind: valBool} }

func tUint(bits int, lo, hi uint64) *leafType {
	return &leafType{name: fmt.Sprintf("uint%d", bits), kind: valUint, bits: bits, min: lo, max: hi}
}

func tUint16() *leafType { return tUint(16, 0, 1<<16-1) }
func tUint32() *leafType { return tUint(32, 0, 1<<32-1) }
func tUint64() *leafType { return tUint(64, 0, 1<<64-1) }

func tEnum(values ...string) *leafType {
	return &leafType{name: "enumeration", kind: valEnum, values: values}
}

func tIdentity(module string, values ...string) *leafType {
	return &leafType{name: "identityref", kind: valIdentity, identModule: module, values: values}
}

func tPattern(name string, check func(string) error) *leafType {
	return &leafType{name: name, kind: valString, check: check}
}

var (
	macPattern = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)
	esiPattern = regexp.MustCompile(`^[0-9a-fA-F]{20}$`)
)

func checkMAC(s string) error {
	if !macPattern.MatchString(s) {
		return fmt.Errorf("%q is not a mac-address (xx:xx:xx:xx:xx:xx)", s)
	}
	return nil
}

func checkDottedQuad(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return fmt.Errorf("%q is not a dotted-quad IPv4 address", s)
	}
	return nil
}

func checkIPAddress(s string) error {
	if _, err := netip.ParseAddr(s); err != nil {
		return fmt.Errorf("%q is not an IP address", s)
	}
	return nil
}

func checkRD(s string) error {
	if _, err := route.ParseRD(s); err != nil {
		return fmt.Errorf("%q is not a route-distinguisher: %w", s, err)
	}
	return nil
}

func checkRDOrAuto(s string) error {
	if s == "AUTO" {
		return nil
	}
	return checkRD(s)
}

// checkRouteTarget accepts the route-target forms of bgp-ext-community-type
// and AUTO. The YANG type also admits route-origin, color and link-bandwidth
// communities; as an import or export route target they are meaningless, so
// they are refused by name instead of being silently ignored.
func checkRouteTarget(s string) error {
	if s == "AUTO" {
		return nil
	}
	v := strings.TrimPrefix(s, "route-target:")
	if _, err := route.ParseRouteTarget(v); err != nil {
		return fmt.Errorf("%q is not a route target (AS:n, IPv4:n, route-target:AS:n or AUTO): %w", s, err)
	}
	return nil
}

// checkESI accepts oc-evpn-types:esi (20 hex digits) or AUTO.
func checkESI(s string) error {
	if s == "AUTO" || esiPattern.MatchString(s) {
		return nil
	}
	return fmt.Errorf("%q is not an esi (20 hex digits, no separators) or AUTO", s)
}

// parseOCESI converts an oc-evpn-types:esi string into route.ESI.
func parseOCESI(s string) (route.ESI, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 10 {
		return route.ESI{}, fmt.Errorf("%q is not an esi (20 hex digits)", s)
	}
	return route.ESI(b), nil
}

// formatOCESI prints an ESI as oc-evpn-types:esi.
func formatOCESI(e route.ESI) string { return hex.EncodeToString(e[:]) }

func tMAC() *leafType        { return tPattern("oc-yang:mac-address", checkMAC) }
func tDottedQuad() *leafType { return tPattern("oc-yang:dotted-quad", checkDottedQuad) }
func tIPAddress() *leafType  { return tPattern("oc-inet:ip-address", checkIPAddress) }

// Module names used for JSON_IETF qualification and Capabilities.
const (
	modNetworkInstance   = "openconfig-network-instance"
	modNITypes           = "openconfig-network-instance-types"
	modEVPNTypes         = "openconfig-evpn-types"
	modEthernetSegments  = "openconfig-ethernet-segments"
	modInterfaces        = "openconfig-interfaces"
	modVLAN              = "openconfig-vlan"
	modPolicyTypes       = "openconfig-policy-types"
	modBGPTypes          = "openconfig-bgp-types"
	modIANAIfType        = "iana-if-type"
	modESDesignatedFwder = "p4evpn-ethernet-segment-df"
)

// Identity and enum sets from OPENCONFIG.md.
var (
	niTypes           = []string{"DEFAULT_INSTANCE", "L3VRF", "L2VSI", "L2P2P", "L2L3"}
	encapsulations    = []string{"MPLS", "VXLAN"}
	labelAllocModes   = []string{"PER_PREFIX", "PER_NEXTHOP", "INSTANCE_LABEL"}
	evpnServiceTypes  = []string{"VLAN_BASED", "VLAN_BUNDLE", "VLAN_AWARE"}
	replicationModes  = []string{"STATIC_INGRESS_REPLICATION", "BGP", "MULTICAST"}
	esiTypes          = []string{"TYPE_0_OPERATOR_CONFIGURED", "TYPE_1_LACP_BASED", "TYPE_2_BRIDGE_PROTOCOL_BASED", "TYPE_3_MAC_BASED", "TYPE_4_ROUTER_ID_BASED", "TYPE_5_AS_BASED"}
	redundancyModes   = []string{"SINGLE_ACTIVE", "ALL_ACTIVE"}
	dfElectionMethods = []string{"DEFAULT", "HIGHEST_RANDOM_WEIGHT", "PREFERENCE"}
	sessionStates     = []string{"IDLE", "CONNECT", "ACTIVE", "OPENSENT", "OPENCONFIRM", "ESTABLISHED"}
	peerTypes         = []string{"INTERNAL", "EXTERNAL"}
	// afiSafiNames is the subset of oc-bgp-types:AFI_SAFI_TYPE p4evpn speaks.
	afiSafiNames = []string{"L2VPN_EVPN"}
	// protocolIdentifiers is the subset of oc-pol-types:INSTALL_PROTOCOL_TYPE
	// p4evpn runs; any other protocol is refused by name at Set.
	protocolIdentifiers = []string{"BGP"}
	// interfaceTypes is the subset of iana-if-type identities a PE port can be.
	interfaceTypes = []string{"ethernetCsmacd", "ieee8023adLag", "l2vlan", "softwareLoopback"}
	operStatuses   = []string{"UP", "DOWN", "TESTING", "UNKNOWN", "DORMANT", "NOT_PRESENT", "LOWER_LAYER_DOWN"}
	adminStatuses  = []string{"UP", "DOWN", "TESTING"}
)

func container(name string, children ...*schemaNode) *schemaNode {
	n := &schemaNode{name: name, kind: kindContainer, children: map[string]*schemaNode{}}
	for _, c := range children {
		if c.kind == kindLeaf || c.kind == kindLeafList {
			// Builders share one leaf between config, state and key
			// positions; each position needs its own parent link.
			copied := *c
			c = &copied
		}
		n.children[c.name] = c
	}
	return n
}

func list(name string, keys []string, children ...*schemaNode) *schemaNode {
	n := container(name, children...)
	n.kind = kindList
	n.keys = keys
	return n
}

func leaf(name string, t *leafType) *schemaNode {
	return &schemaNode{name: name, kind: kindLeaf, typ: t}
}

// countingUp marks leaf n as a seconds count that grows with time.
func countingUp(n *schemaNode) *schemaNode {
	n.countsUp = true
	return n
}

func leafList(name string, t *leafType) *schemaNode {
	return &schemaNode{name: name, kind: kindLeafList, typ: t}
}

// keyLeaves returns the list-level leaves that repeat the keys; YANG makes
// them leafrefs to config/<key>, so they share the config leaf's type.
func keyLeaves(leaves ...*schemaNode) []*schemaNode {
	out := make([]*schemaNode, len(leaves))
	for i, l := range leaves {
		out[i] = &schemaNode{name: l.name, kind: l.kind, typ: l.typ, keyLeaf: true}
	}
	return out
}

// cs builds a config container and a state container with the same leaves
// (c+s in OPENCONFIG.md), followed by state-only leaves.
func cs(config []*schemaNode, stateOnly ...*schemaNode) []*schemaNode {
	cfg := container("config", config...)
	st := container("state", stateOnly...)
	for _, l := range config {
		m := *l
		m.mirror = true
		st.children[m.name] = &m
	}
	return []*schemaNode{cfg, st}
}

// state builds a state container of state-only leaves.
func state(leaves ...*schemaNode) *schemaNode { return container("state", leaves...) }

// join flattens children groups for the builders.
func join(groups ...[]*schemaNode) []*schemaNode {
	var out []*schemaNode
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func one(n ...*schemaNode) []*schemaNode { return n }

// inModule marks n (and, through finish, its descendants) as instantiated by
// module: an augment from another module, or a top-level node.
func inModule(module string, n *schemaNode) *schemaNode {
	n.module = module
	return n
}

// finish links parents, propagates modules and marks config nodes.
func finish(n *schemaNode, parent *schemaNode, config bool) {
	n.parent = parent
	if n.module == "" && parent != nil {
		n.module = parent.module
	}
	if n.name == "config" && n.kind == kindContainer {
		config = true
	}
	n.config = config
	for _, c := range n.children {
		finish(c, n, config)
	}
}
