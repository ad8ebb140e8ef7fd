// Package testbed builds fabrics of PEs, route reflectors and hosts from a
// topology file: in-process (in-memory links, Go hosts) or in Linux network
// namespaces with veth pairs (root).
package testbed
