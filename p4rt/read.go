package p4rt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Read streams the entities matching the given (possibly wildcard)
// entities, as the target sends them. Reading is allowed to backups.
// Stopping the iteration early cancels the RPC. A failure is yielded once,
// as the last pair, wrapped with what was read.
func (c *Client) Read(ctx context.Context, entities ...*p4v1.Entity) iter.Seq2[*p4v1.Entity, error] {
	return func(yield func(*p4v1.Entity, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := c.rpc.Read(ctx, &p4v1.ReadRequest{DeviceId: c.cfg.deviceID, Role: c.cfg.role, Entities: entities})
		if err != nil {
			yield(nil, fmt.Errorf("p4rt: read %s: %w", c.describeRead(entities), err))
			return
		}
		n := 0
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, fmt.Errorf("p4rt: read %s (after %d entities): %w", c.describeRead(entities), n, err))
				return
			}
			for _, e := range resp.GetEntities() {
				n++
				if !yield(e, nil) {
					return
				}
			}
		}
	}
}

func (c *Client) describeRead(entities []*p4v1.Entity) string {
	if len(entities) == 1 {
		return c.Index().Describe(entities[0])
	}
	return fmt.Sprintf("%d entities", len(entities))
}

// readAll collects the entities of a read, extracted by get.
func readAll[T any](ctx context.Context, c *Client, get func(*p4v1.Entity) T, filters ...*p4v1.Entity) ([]T, error) {
	var out []T
	for e, err := range c.Read(ctx, filters...) {
		if err != nil {
			return nil, err
		}
		out = append(out, get(e))
	}
	return out, nil
}

func (c *Client) requireIndex() (*Index, error) {
	ix := c.Index()
	if ix == nil {
		return nil, errors.New("p4rt: no pipeline: call SetPipeline, UsePipeline or FetchPipeline first")
	}
	return ix, nil
}

// ReadTableEntries returns every entry of table, or of every table when
// table is "". The default entries are not included (the spec leaves them
// out of wildcard reads).
func (c *Client) ReadTableEntries(ctx context.Context, table string) ([]*p4v1.TableEntry, error) {
	filter := &p4v1.TableEntry{}
	if table != "" {
		ix, err := c.requireIndex()
		if err != nil {
			return nil, err
		}
		t, err := ix.Table(table)
		if err != nil {
			return nil, fmt.Errorf("p4rt: %w", err)
		}
		filter.TableId = t.ID
	}
	return readAll(ctx, c, (*p4v1.Entity).GetTableEntry, Entity(filter))
}

// ReadDefaultEntry returns the default entry of table.
func (c *Client) ReadDefaultEntry(ctx context.Context, table string) (*p4v1.TableEntry, error) {
	ix, err := c.requireIndex()
	if err != nil {
		return nil, err
	}
	t, err := ix.Table(table)
	if err != nil {
		return nil, fmt.Errorf("p4rt: %w", err)
	}
	got, err := readAll(ctx, c, (*p4v1.Entity).GetTableEntry, Entity(&p4v1.TableEntry{TableId: t.ID, IsDefaultAction: true}))
	if err != nil {
		return nil, err
	}
	if len(got) != 1 {
		return nil, fmt.Errorf("p4rt: read default entry of table %q: the target returned %d entries", t.Name, len(got))
	}
	return got[0], nil
}

// ReadActionProfileMembers returns every member of profile, or of every
// profile when profile is "".
func (c *Client) ReadActionProfileMembers(ctx context.Context, profile string) ([]*p4v1.ActionProfileMember, error) {
	filter := &p4v1.ActionProfileMember{}
	if profile != "" {
		id, err := c.profileID(profile)
		if err != nil {
			return nil, err
		}
		filter.ActionProfileId = id
	}
	return readAll(ctx, c, (*p4v1.Entity).GetActionProfileMember, Entity(filter))
}

// ReadActionProfileGroups returns every group of profile, or of every
// profile when profile is "".
func (c *Client) ReadActionProfileGroups(ctx context.Context, profile string) ([]*p4v1.ActionProfileGroup, error) {
	filter := &p4v1.ActionProfileGroup{}
	if profile != "" {
		id, err := c.profileID(profile)
		if err != nil {
			return nil, err
		}
		filter.ActionProfileId = id
	}
	return readAll(ctx, c, (*p4v1.Entity).GetActionProfileGroup, Entity(filter))
}

func (c *Client) profileID(name string) (uint32, error) {
	ix, err := c.requireIndex()
	if err != nil {
		return 0, err
	}
	ap, err := ix.ActionProfile(name)
	if err != nil {
		return 0, fmt.Errorf("p4rt: %w", err)
	}
	return ap.ID, nil
}

// ReadMulticastGroups returns every multicast group.
func (c *Client) ReadMulticastGroups(ctx context.Context) ([]*p4v1.MulticastGroupEntry, error) {
	filter := &p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{
		MulticastGroupEntry: &p4v1.MulticastGroupEntry{},
	}}
	return readAll(ctx, c, func(e *p4v1.Entity) *p4v1.MulticastGroupEntry {
		return e.GetPacketReplicationEngineEntry().GetMulticastGroupEntry()
	}, Entity(filter))
}

// ReadCloneSessions returns every clone session.
func (c *Client) ReadCloneSessions(ctx context.Context) ([]*p4v1.CloneSessionEntry, error) {
	filter := &p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_CloneSessionEntry{
		CloneSessionEntry: &p4v1.CloneSessionEntry{},
	}}
	return readAll(ctx, c, func(e *p4v1.Entity) *p4v1.CloneSessionEntry {
		return e.GetPacketReplicationEngineEntry().GetCloneSessionEntry()
	}, Entity(filter))
}

// ReadCounters returns the cells of counter: one with index >= 0, every
// cell with AllIndices.
func (c *Client) ReadCounters(ctx context.Context, counter string, index int64) ([]*p4v1.CounterEntry, error) {
	ix, err := c.requireIndex()
	if err != nil {
		return nil, err
	}
	filter, err := ix.BuildCounterEntry(counter, index)
	if err != nil {
		return nil, fmt.Errorf("p4rt: %w", err)
	}
	return readAll(ctx, c, (*p4v1.Entity).GetCounterEntry, Entity(filter))
}

// ReadDirectCounters returns the direct counter of every entry of table.
func (c *Client) ReadDirectCounters(ctx context.Context, table string) ([]*p4v1.DirectCounterEntry, error) {
	ix, err := c.requireIndex()
	if err != nil {
		return nil, err
	}
	t, err := ix.Table(table)
	if err != nil {
		return nil, fmt.Errorf("p4rt: %w", err)
	}
	filter, err := ix.BuildDirectCounterEntry(&p4v1.TableEntry{TableId: t.ID}, nil)
	if err != nil {
		return nil, fmt.Errorf("p4rt: %w", err)
	}
	return readAll(ctx, c, (*p4v1.Entity).GetDirectCounterEntry, Entity(filter))
}

// ReadDigestEntries returns the configuration of every enabled digest.
// Targets that do not implement the wildcard read (BMv2 answers
// UNIMPLEMENTED) are asked digest by digest, for the digests of the
// pipeline in use.
func (c *Client) ReadDigestEntries(ctx context.Context) ([]*p4v1.DigestEntry, error) {
	all, err := readAll(ctx, c, (*p4v1.Entity).GetDigestEntry, Entity(&p4v1.DigestEntry{}))
	if status.Code(err) != codes.Unimplemented {
		return all, err
	}
	ix, ierr := c.requireIndex()
	if ierr != nil {
		return nil, fmt.Errorf("%w (and the wildcard read failed: %w)", ierr, err)
	}
	var out []*p4v1.DigestEntry
	for _, d := range ix.p4info.GetDigests() {
		one, err := readAll(ctx, c, (*p4v1.Entity).GetDigestEntry, Entity(&p4v1.DigestEntry{DigestId: d.GetPreamble().GetId()}))
		switch {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return nil, err
		default:
			for _, e := range one {
				if e.GetConfig() != nil { // an unconfigured digest may read back empty
					out = append(out, e)
				}
			}
		}
	}
	return out, nil
}
