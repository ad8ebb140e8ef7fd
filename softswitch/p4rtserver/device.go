package p4rtserver

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
)

// Device is what the server needs from a data plane: load a BMv2 JSON
// program, run it, change its forwarding state, and exchange packets and
// digests with it. EngineDevice adapts the softswitch engine; the interface
// keeps the P4Runtime protocol layer (ids, bytestrings, arbitration,
// batching, errors) apart from packet processing, and names everything the
// way the BMv2 JSON does.
//
// Values are canonical big-endian bytestrings (no leading zero bytes, one
// zero byte for zero). Errors should wrap the sentinels below (ErrExists,
// ErrNotFound, ErrFull, ErrInUse, ErrInvalid) so the server can map them to
// P4Runtime codes; other errors become INTERNAL.
//
// Concurrency: the server calls at most one mutating method at a time, and
// may call EntryCounter and Counter concurrently with each other but not
// with a mutating method. The device must make each single operation atomic
// with respect to packets: a packet sees an entry either before or after an
// operation, never half of it.
type Device interface {
	// Load parses a BMv2 JSON program and checks that the device can run it.
	// It does not change the running program.
	Load(deviceConfig []byte) (Program, error)
	// Run makes p (from Load) the running program with empty forwarding
	// state: tables hold only const and initial entries, default actions
	// are the program's, and there are no members, groups, multicast groups
	// or clone sessions; counters are zero.
	Run(p Program) error

	InsertEntry(table string, e *Entry) error
	// ModifyEntry replaces the action of the entry with e's key, and its
	// direct counter when e.SetCounter.
	ModifyEntry(table string, e *Entry) error
	DeleteEntry(table string, e *Entry) error
	// EntryCounter reads the direct counter of the entry with e's key.
	EntryCounter(table string, e *Entry) (Counts, error)
	// Entries lists the entries of a table; the server asks only for the
	// const and initial entries of a freshly run program.
	Entries(table string) ([]Entry, error)
	// SetDefaultAction sets the action run on a miss; nil restores the
	// program's default.
	SetDefaultAction(table string, a *ActionCall) error

	InsertMember(profile string, member uint32, a *ActionCall) error
	ModifyMember(profile string, member uint32, a *ActionCall) error
	DeleteMember(profile string, member uint32) error
	InsertGroup(profile string, group uint32, members []uint32) error
	ModifyGroup(profile string, group uint32, members []uint32) error
	DeleteGroup(profile string, group uint32) error

	InsertMulticastGroup(group uint32, replicas []Replica) error
	ModifyMulticastGroup(group uint32, replicas []Replica) error
	DeleteMulticastGroup(group uint32) error
	InsertCloneSession(session uint32, s CloneSession) error
	ModifyCloneSession(session uint32, s CloneSession) error
	DeleteCloneSession(session uint32) error

	Counter(name string, index int) (Counts, error)
	SetCounter(name string, index int, c Counts) error

	// PacketOut injects frame (the packet_out header included) as if it
	// arrived on the CPU port.
	PacketOut(frame []byte) error
	// Serve delivers data plane events to sink until ctx is done. The server
	// runs it in one goroutine.
	Serve(ctx context.Context, sink EventSink) error
}

// EventSink receives data plane events. Its methods do not block: the
// server queues and drops rather than slow the data plane.
type EventSink interface {
	// ToCPU is a frame the program sent to the CPU port, controller
	// header (packet_in) included.
	ToCPU(frame []byte)
	// Digest is one digest message: the fields of learn list name, in
	// declaration order.
	Digest(name string, fields [][]byte)
}

// Program is a loaded program.
type Program interface {
	// Schema describes what the program declares, by BMv2 JSON name.
	Schema() *ProgramSchema
}

// Entry is a table entry as the data plane sees it.
type Entry struct {
	// Key has one value per key field of the table, in the table's key
	// order; a don't-care field is the zero MatchValue.
	Key []MatchValue
	// Priority orders ternary, range and optional entries: higher wins (the
	// P4Runtime convention).
	Priority int32
	// Exactly one of Action, Member, Group is set (none for a delete).
	Action   *ActionCall
	Member   uint32
	Group    uint32
	IsMember bool
	IsGroup  bool
	// Counter is the direct counter value written when SetCounter.
	Counter    Counts
	SetCounter bool
}

// MatchValue is one key field of an entry, canonical. Exact: Value. LPM:
// Value and PrefixLen. Ternary: Value and Mask. Optional: Value. Range: Value
// (low) and High. The zero value is a wildcard.
type MatchValue struct {
	Value     []byte
	Mask      []byte
	PrefixLen int32
	High      []byte
}

// MatchKind is how a key field matches.
type MatchKind int

// Match kinds, as in the BMv2 JSON "match_type".
const (
	MatchExact MatchKind = iota + 1
	MatchLPM
	MatchTernary
	MatchRange
	MatchOptional
)

func (k MatchKind) String() string {
	switch k {
	case MatchExact:
		return "exact"
	case MatchLPM:
		return "lpm"
	case MatchTernary:
		return "ternary"
	case MatchRange:
		return "range"
	case MatchOptional:
		return "optional"
	}
	return "unknown"
}

// ActionCall is an action with its arguments, in the action's parameter
// order.
type ActionCall struct {
	Name string
	Args [][]byte
}

// Replica is one copy made by the packet replication engine.
type Replica struct {
	Port     uint32
	Instance uint32 // egress_rid
}

// CloneSession is where and how clones of a session go.
type CloneSession struct {
	Replicas       []Replica
	ClassOfService uint32
	PacketLength   int32 // truncate clones to this many bytes; 0: whole packet
}

// Counts is a counter cell.
type Counts struct{ Bytes, Packets int64 }

// ProgramSchema is what a program declares, keyed by BMv2 JSON name.
type ProgramSchema struct {
	Tables         map[string]*TableSchema
	Actions        map[string]*ActionSchema
	ActionProfiles map[string]*ProfileSchema
	Counters       map[string]*CounterSchema // indirect counter arrays
	Digests        map[string]*DigestSchema  // learn lists
}

// TableSchema describes a table.
type TableSchema struct {
	Keys          []KeySchema
	Actions       []string
	Profile       string // action profile or selector implementing it, if any
	DirectCounter string // direct counter name, if any
	Size          int
	ConstEntries  bool
	ConstDefault  bool
	// DefaultAction is the program's default action, reported when a
	// controller reads a default entry it has not modified.
	DefaultAction ActionCall
}

// KeySchema is one key field.
type KeySchema struct {
	Name  string
	Kind  MatchKind
	Width int
}

// ActionSchema describes an action's parameters.
type ActionSchema struct{ Params []FieldSchema }

// FieldSchema is a named bit<W> value.
type FieldSchema struct {
	Name  string
	Width int
}

// ProfileSchema describes an action profile or selector.
type ProfileSchema struct {
	Size     int
	Selector bool
}

// CounterSchema describes an indirect counter array.
type CounterSchema struct{ Size int }

// DigestSchema describes a learn list.
type DigestSchema struct{ Fields []FieldSchema }

// Sentinel errors a Device wraps so the server reports the right code.
var (
	ErrExists      = errors.New("already exists")     // ALREADY_EXISTS
	ErrNotFound    = errors.New("not found")          // NOT_FOUND
	ErrFull        = errors.New("resource exhausted") // RESOURCE_EXHAUSTED
	ErrInUse       = errors.New("in use")             // FAILED_PRECONDITION
	ErrInvalid     = errors.New("invalid")            // INVALID_ARGUMENT
	ErrUnsupported = errors.New("unsupported")        // UNIMPLEMENTED
	ErrNoProgram   = errors.New("no program")         // FAILED_PRECONDITION
)

// deviceError gives a Device error its P4Runtime code.
func deviceError(err error) error {
	if err == nil {
		return nil
	}
	code := codes.Internal
	switch {
	case errors.Is(err, ErrExists):
		code = codes.AlreadyExists
	case errors.Is(err, ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, ErrFull):
		code = codes.ResourceExhausted
	case errors.Is(err, ErrInUse):
		code = codes.FailedPrecondition
	case errors.Is(err, ErrInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, ErrUnsupported):
		code = codes.Unimplemented
	case errors.Is(err, ErrNoProgram):
		code = codes.FailedPrecondition
	}
	return &codedError{code: code, err: fmt.Errorf("device: %w", err)}
}
