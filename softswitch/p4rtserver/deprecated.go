package p4rtserver

import p4v1 "github.com/p4lang/p4runtime/go/p4/v1"

// P4Runtime v1.5 deprecates a few fields that clients still send: a server
// must honour them (controller_metadata must read back as written; a replica
// may name its port with egress_port) or refuse them clearly (numeric role
// ids). Every access goes through here.

func controllerMetadata(te *p4v1.TableEntry) uint64 {
	//lint:ignore SA1019 still part of the protocol: must read back as written
	return te.GetControllerMetadata()
}

func setControllerMetadata(te *p4v1.TableEntry, v uint64) {
	//lint:ignore SA1019 still part of the protocol: must read back as written
	te.ControllerMetadata = v
}

// replicaEgressPort is the deprecated uint32 egress_port of a replica.
func replicaEgressPort(r *p4v1.Replica_EgressPort) uint32 {
	//lint:ignore SA1019 v1.5 clients use port, older ones egress_port
	return r.EgressPort
}

func newReplicaEgressPort(port uint32) *p4v1.Replica_EgressPort {
	//lint:ignore SA1019 read-back symmetry for clients that wrote egress_port
	return &p4v1.Replica_EgressPort{EgressPort: port}
}

func writeRoleID(req *p4v1.WriteRequest) uint64 {
	//lint:ignore SA1019 refused with a clear error
	return req.GetRoleId()
}

func arbitrationRoleID(r *p4v1.Role) uint64 {
	//lint:ignore SA1019 refused with a clear error
	return r.GetId()
}
