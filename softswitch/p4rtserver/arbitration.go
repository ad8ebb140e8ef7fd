package p4rtserver

import (
	"fmt"
	"sync"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
)

// electionID is a P4Runtime Uint128 election id.
type electionID struct{ high, low uint64 }

func toElectionID(u *p4v1.Uint128) electionID { return electionID{u.GetHigh(), u.GetLow()} }

func (e electionID) less(o electionID) bool {
	return e.high < o.high || (e.high == o.high && e.low < o.low)
}

func (e electionID) proto() *p4v1.Uint128 { return &p4v1.Uint128{High: e.high, Low: e.low} }

func (e electionID) String() string {
	if e.high == 0 {
		return fmt.Sprint(e.low)
	}
	return fmt.Sprintf("%d:%d", e.high, e.low)
}

// controller is one StreamChannel: a P4Runtime client of this device. Its
// arbitration fields belong to the arbiter and are guarded by arbiter.mu.
type controller struct {
	id  uint64 // for logs only
	out *outbox

	arbitrated  bool
	role        string
	election    electionID
	hasElection bool // an unset election id ranks below every id (spec §16.2.1)
}

// roleState is the arbitration state of one (device, role). It outlives its
// controllers: the highest election id ever seen must be remembered.
type roleState struct {
	name        string
	config      *anypb.Any // last role.config received from a primary
	highest     electionID
	seenAny     bool // highest is meaningful
	primary     *controller
	controllers map[*controller]struct{}
}

// arbiter implements primary/backup arbitration (spec §5, §16.2) for one
// device. The primary of a role is the live controller whose election id
// equals the highest id ever received for that role; a role can be without a
// primary (its primary left, or downgraded itself).
//
// Writes from a replaced primary: the spec requires in-flight writes of the
// old primary to finish before the new one is accepted. Writes are serialized
// by the server's write lock, so a Write of the new primary cannot start before
// an in-flight Write of the old one has ended; authorization happens under
// that lock, so a Write of the old primary that has not started is refused.
type arbiter struct {
	deviceID uint64

	mu    sync.Mutex // mu guards roles and the arbitration fields of every controller
	roles map[string]*roleState
}

func newArbiter(deviceID uint64) *arbiter {
	return &arbiter{deviceID: deviceID, roles: map[string]*roleState{}}
}

// update handles a MasterArbitrationUpdate from c (spec §5.3). A non-nil
// error terminates the stream with that error's code.
func (a *arbiter) update(c *controller, m *p4v1.MasterArbitrationUpdate) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	roleName := m.GetRole().GetName()
	if arbitrationRoleID(m.GetRole()) != 0 {
		return errorf(codes.InvalidArgument, "arbitration: role id %d: numeric role ids are deprecated and not supported, use role.name", arbitrationRoleID(m.GetRole()))
	}
	if !c.arbitrated {
		if m.GetDeviceId() != a.deviceID {
			return errorf(codes.NotFound, "arbitration: unknown device id %d (this server is device %d)", m.GetDeviceId(), a.deviceID)
		}
	} else {
		if m.GetDeviceId() != a.deviceID {
			return errorf(codes.FailedPrecondition, "arbitration: device id %d differs from the stream's device id %d", m.GetDeviceId(), a.deviceID)
		}
		if roleName != c.role {
			return errorf(codes.FailedPrecondition, "arbitration: role %q differs from the stream's role %q; open a new stream to change role", roleName, c.role)
		}
	}
	if m.GetRole().GetConfig() != nil {
		return errorf(codes.InvalidArgument, "arbitration: role %q: role.config of type %s is not supported (no role configuration scheme is agreed with this server; leave it unset for full pipeline access)", roleName, m.GetRole().GetConfig().GetTypeUrl())
	}
	rs := a.roles[roleName]
	if rs == nil {
		rs = &roleState{name: roleName, controllers: map[*controller]struct{}{}}
		a.roles[roleName] = rs
	}
	newID, hasID := toElectionID(m.GetElectionId()), m.GetElectionId() != nil
	if hasID {
		for o := range rs.controllers {
			if o != c && o.hasElection && o.election == newID {
				return errorf(codes.InvalidArgument, "arbitration: election id %v is already used by another controller of role %q", newID, roleName)
			}
		}
	}
	c.arbitrated, c.role, c.election, c.hasElection = true, roleName, newID, hasID
	rs.controllers[c] = struct{}{}

	wasPrimary := rs.primary == c
	if hasID && (!rs.seenAny || !newID.less(rs.highest)) {
		rs.highest, rs.seenAny = newID, true
		rs.config = m.GetRole().GetConfig()
		rs.primary = c
		// Backups first, then the new primary (spec §5.3 steps 2-5).
		a.notifyAll(rs, c)
		a.notify(rs, c)
		return nil
	}
	if wasPrimary {
		// The primary downgraded itself: no controller holds the highest id.
		rs.primary = nil
		a.notifyAll(rs, nil)
		return nil
	}
	a.notify(rs, c)
	return nil
}

// leave removes c when its stream ends; if c was primary, every other
// controller of the role learns that there is no primary any more.
func (a *arbiter) leave(c *controller) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !c.arbitrated {
		return
	}
	rs := a.roles[c.role]
	delete(rs.controllers, c)
	if rs.primary == c {
		rs.primary = nil
		a.notifyAll(rs, nil)
	}
}

// notifyAll sends the advisory to every controller of rs except skip.
func (a *arbiter) notifyAll(rs *roleState, skip *controller) {
	for o := range rs.controllers {
		if o != skip {
			a.notify(rs, o)
		}
	}
}

// notify sends c the advisory arbitration message of spec §5.4.
func (a *arbiter) notify(rs *roleState, c *controller) {
	m := &p4v1.MasterArbitrationUpdate{DeviceId: a.deviceID}
	if rs.name != "" || rs.config != nil {
		m.Role = &p4v1.Role{Name: rs.name, Config: rs.config}
	}
	if rs.seenAny {
		m.ElectionId = rs.highest.proto()
	}
	switch {
	case rs.primary == c:
		m.Status = &spb.Status{Code: int32(codes.OK), Message: "primary"}
	case rs.primary != nil:
		m.Status = &spb.Status{Code: int32(codes.AlreadyExists), Message: "backup: another controller is primary"}
	default:
		m.Status = &spb.Status{Code: int32(codes.NotFound), Message: "backup: no primary"}
	}
	c.out.control(&p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_Arbitration{Arbitration: m}})
}

// authorize checks that (role, election id) of a Write or
// SetForwardingPipelineConfig names the current primary (spec §12 checks 1-2).
func (a *arbiter) authorize(role string, id *p4v1.Uint128) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	rs := a.roles[role]
	if rs == nil && role != "" {
		return errorf(codes.NotFound, "role %q is unknown to device %d (no controller has arbitrated for it)", role, a.deviceID)
	}
	if id == nil {
		return errorf(codes.PermissionDenied, "role %q: request has no election id; only the primary may write", role)
	}
	if rs == nil || rs.primary == nil {
		return errorf(codes.PermissionDenied, "role %q: election id %v is not primary: there is no primary (open a StreamChannel and arbitrate first)", role, toElectionID(id))
	}
	if rs.primary.election != toElectionID(id) {
		return errorf(codes.PermissionDenied, "role %q: election id %v is not primary (primary is %v)", role, toElectionID(id), rs.primary.election)
	}
	return nil
}

// isPrimary reports whether c is currently the primary of its role.
func (a *arbiter) isPrimary(c *controller) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !c.arbitrated {
		return false
	}
	return a.roles[c.role].primary == c
}

// primaries returns the outboxes of every role's primary: the controllers
// that receive packet-ins, digests and idle-timeout notifications. All roles
// have full pipeline access (no role.config is accepted), so each primary
// receives every notification.
func (a *arbiter) primaries() []*outbox {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*outbox
	for _, rs := range a.roles {
		if rs.primary != nil {
			out = append(out, rs.primary.out)
		}
	}
	return out
}

// outbox queues the messages of one StreamChannel for its sender goroutine
// (a gRPC stream must not be written concurrently). Control messages
// (arbitration, errors) are never dropped and go first; data messages
// (packet-ins, digests, idle notifications) go through a bounded queue and
// are dropped when the client does not keep up, as the spec allows.
type outbox struct {
	mu       sync.Mutex // mu guards controls
	controls []*p4v1.StreamMessageResponse
	wake     chan struct{}
	data     chan *p4v1.StreamMessageResponse
	dropped  func() // called for each dropped data message
}

func newOutbox(depth int, dropped func()) *outbox {
	return &outbox{wake: make(chan struct{}, 1), data: make(chan *p4v1.StreamMessageResponse, depth), dropped: dropped}
}

func (o *outbox) control(m *p4v1.StreamMessageResponse) {
	o.mu.Lock()
	o.controls = append(o.controls, m)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// offer queues a data message without blocking; false if it was dropped.
// The message is cloned lazily by the caller when shared between outboxes.
func (o *outbox) offer(m *p4v1.StreamMessageResponse) bool {
	select {
	case o.data <- m:
		return true
	default:
		if o.dropped != nil {
			o.dropped()
		}
		return false
	}
}

// takeControls removes and returns the pending control messages.
func (o *outbox) takeControls() []*p4v1.StreamMessageResponse {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.controls
	o.controls = nil
	return c
}
