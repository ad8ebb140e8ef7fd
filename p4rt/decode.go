package p4rt

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
)

// DecodeTableEntry returns the named form of a table entry read from a
// target. Values are canonicalized, so decoding what BuildTableEntry built
// gives back the input in its canonical form.
func (ix *Index) DecodeTableEntry(e *p4v1.TableEntry) (TableEntry, error) {
	t, err := ix.tables.lookupID(e.GetTableId())
	if err != nil {
		return TableEntry{}, err
	}
	out := TableEntry{
		Table:       t.Name,
		Priority:    e.GetPriority(),
		IsDefault:   e.GetIsDefaultAction(),
		IdleTimeout: time.Duration(e.GetIdleTimeoutNs()),
		Metadata:    e.GetMetadata(),
	}
	for _, m := range e.GetMatch() {
		f, err := t.FieldByID(m.GetFieldId())
		if err != nil {
			return TableEntry{}, err
		}
		fm := FieldMatch{Field: f.Name}
		switch {
		case m.GetExact() != nil:
			fm.Kind, fm.Value = MatchExact, trimZeros(m.GetExact().GetValue())
		case m.GetLpm() != nil:
			fm.Kind, fm.Value, fm.PrefixLen = MatchLPM, trimZeros(m.GetLpm().GetValue()), m.GetLpm().GetPrefixLen()
		case m.GetTernary() != nil:
			fm.Kind, fm.Value, fm.Mask = MatchTernary, trimZeros(m.GetTernary().GetValue()), trimZeros(m.GetTernary().GetMask())
		case m.GetRange() != nil:
			fm.Kind, fm.Low, fm.High = MatchRange, trimZeros(m.GetRange().GetLow()), trimZeros(m.GetRange().GetHigh())
		case m.GetOptional() != nil:
			fm.Kind, fm.Value = MatchOptional, trimZeros(m.GetOptional().GetValue())
		default:
			return TableEntry{}, fmt.Errorf("table %q: match field %q: %w: unsupported match %T", t.Name, f.Name, ErrInvalidEntity, m.GetFieldMatchType())
		}
		out.Match = append(out.Match, fm)
	}
	slices.SortFunc(out.Match, func(a, b FieldMatch) int {
		fa, _ := t.Field(a.Field)
		fb, _ := t.Field(b.Field)
		return int(fa.ID) - int(fb.ID)
	})
	switch a := e.GetAction().GetType().(type) {
	case nil:
	case *p4v1.TableAction_Action:
		if out.Action, err = ix.DecodeAction(a.Action); err != nil {
			return TableEntry{}, fmt.Errorf("table %q: %w", t.Name, err)
		}
	case *p4v1.TableAction_ActionProfileMemberId:
		out.Action = MemberID(a.ActionProfileMemberId)
	case *p4v1.TableAction_ActionProfileGroupId:
		out.Action = GroupID(a.ActionProfileGroupId)
	case *p4v1.TableAction_ActionProfileActionSet:
		var set ActionSet
		for _, pa := range a.ActionProfileActionSet.GetActionProfileActions() {
			call, err := ix.DecodeAction(pa.GetAction())
			if err != nil {
				return TableEntry{}, fmt.Errorf("table %q: %w", t.Name, err)
			}
			set = append(set, WeightedAction{Action: call, Weight: pa.GetWeight(), WatchPort: pa.GetWatchPort()})
		}
		out.Action = set
	}
	return out, nil
}

// DecodeAction returns the named form of an action.
func (ix *Index) DecodeAction(a *p4v1.Action) (*ActionCall, error) {
	info, err := ix.actions.lookupID(a.GetActionId())
	if err != nil {
		return nil, err
	}
	out := &ActionCall{Name: info.Name}
	for _, p := range a.GetParams() {
		pi, err := info.ParamByID(p.GetParamId())
		if err != nil {
			return nil, err
		}
		out.Params = append(out.Params, Param{Name: pi.Name, Value: trimZeros(p.GetValue())})
	}
	return out, nil
}

// DecodeActionProfileMember returns the named form of a member.
func (ix *Index) DecodeActionProfileMember(m *p4v1.ActionProfileMember) (ActionProfileMember, error) {
	ap, err := ix.actionProfiles.lookupID(m.GetActionProfileId())
	if err != nil {
		return ActionProfileMember{}, err
	}
	out := ActionProfileMember{Profile: ap.Name, MemberID: m.GetMemberId()}
	if m.GetAction() != nil {
		if out.Action, err = ix.DecodeAction(m.GetAction()); err != nil {
			return ActionProfileMember{}, fmt.Errorf("action profile %q member %d: %w", ap.Name, m.GetMemberId(), err)
		}
	}
	return out, nil
}

// DecodeActionProfileGroup returns the named form of a group.
func (ix *Index) DecodeActionProfileGroup(g *p4v1.ActionProfileGroup) (ActionProfileGroup, error) {
	ap, err := ix.actionProfiles.lookupID(g.GetActionProfileId())
	if err != nil {
		return ActionProfileGroup{}, err
	}
	out := ActionProfileGroup{Profile: ap.Name, GroupID: g.GetGroupId(), MaxSize: g.GetMaxSize()}
	for _, m := range g.GetMembers() {
		out.Members = append(out.Members, GroupMember{MemberID: m.GetMemberId(), Weight: m.GetWeight(), WatchPort: m.GetWatchPort()})
	}
	return out, nil
}

// TableEntryKey returns a string that identifies a table entry's key (table,
// match, priority, default flag) and nothing else, for maps that pair
// desired entries with the entries read back from a target. It expects the
// canonical form that BuildTableEntry produces and conforming targets
// return; match order does not matter.
func TableEntryKey(e *p4v1.TableEntry) string {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, e.GetTableId())
	b = binary.BigEndian.AppendUint32(b, uint32(e.GetPriority()))
	if e.GetIsDefaultAction() {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	matches := slices.Clone(e.GetMatch())
	slices.SortFunc(matches, func(x, y *p4v1.FieldMatch) int { return int(x.GetFieldId()) - int(y.GetFieldId()) })
	field := func(kind byte, values ...[]byte) {
		b = append(b, kind)
		for _, v := range values {
			v = trimZeros(v)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	for _, m := range matches {
		b = binary.BigEndian.AppendUint32(b, m.GetFieldId())
		switch {
		case m.GetExact() != nil:
			field('e', m.GetExact().GetValue())
		case m.GetLpm() != nil:
			field('l', m.GetLpm().GetValue(), Uint(uint64(m.GetLpm().GetPrefixLen())))
		case m.GetTernary() != nil:
			field('t', m.GetTernary().GetValue(), m.GetTernary().GetMask())
		case m.GetRange() != nil:
			field('r', m.GetRange().GetLow(), m.GetRange().GetHigh())
		case m.GetOptional() != nil:
			field('o', m.GetOptional().GetValue())
		default:
			field('?', []byte(m.String()))
		}
	}
	return string(b)
}

// Describe renders an entity in one line with P4Info names, for errors and
// logs. Ids the index does not know are shown as numbers.
func (ix *Index) Describe(e *p4v1.Entity) string {
	if ix == nil {
		return describeEntityKind(e)
	}
	var sb strings.Builder
	switch x := e.GetEntity().(type) {
	case *p4v1.Entity_TableEntry:
		ix.describeTableEntry(&sb, x.TableEntry)
	case *p4v1.Entity_ActionProfileMember:
		m := x.ActionProfileMember
		fmt.Fprintf(&sb, "action profile %s member %d", ix.actionProfileName(m.GetActionProfileId()), m.GetMemberId())
	case *p4v1.Entity_ActionProfileGroup:
		g := x.ActionProfileGroup
		fmt.Fprintf(&sb, "action profile %s group %d (%d members)", ix.actionProfileName(g.GetActionProfileId()), g.GetGroupId(), len(g.GetMembers()))
	case *p4v1.Entity_DigestEntry:
		name := fmt.Sprintf("%#x", x.DigestEntry.GetDigestId())
		if d, err := ix.digests.lookupID(x.DigestEntry.GetDigestId()); err == nil {
			name = d.Name
		}
		fmt.Fprintf(&sb, "digest %s", name)
	case *p4v1.Entity_CounterEntry:
		name := fmt.Sprintf("%#x", x.CounterEntry.GetCounterId())
		if c, err := ix.counters.lookupID(x.CounterEntry.GetCounterId()); err == nil {
			name = c.Name
		}
		fmt.Fprintf(&sb, "counter %s[%d]", name, x.CounterEntry.GetIndex().GetIndex())
	case *p4v1.Entity_DirectCounterEntry:
		sb.WriteString("direct counter of ")
		ix.describeTableEntry(&sb, x.DirectCounterEntry.GetTableEntry())
	default:
		return describeEntityKind(e)
	}
	return sb.String()
}

func describeEntityKind(e *p4v1.Entity) string {
	switch x := e.GetEntity().(type) {
	case *p4v1.Entity_PacketReplicationEngineEntry:
		switch {
		case x.PacketReplicationEngineEntry.GetMulticastGroupEntry() != nil:
			g := x.PacketReplicationEngineEntry.GetMulticastGroupEntry()
			return fmt.Sprintf("multicast group %d (%d replicas)", g.GetMulticastGroupId(), len(g.GetReplicas()))
		case x.PacketReplicationEngineEntry.GetCloneSessionEntry() != nil:
			return fmt.Sprintf("clone session %d", x.PacketReplicationEngineEntry.GetCloneSessionEntry().GetSessionId())
		}
	case nil:
		return "empty entity"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", e.GetEntity()), "*v1.Entity_")
}

func (ix *Index) actionProfileName(id uint32) string {
	if ap, err := ix.actionProfiles.lookupID(id); err == nil {
		return ap.Name
	}
	return fmt.Sprintf("%#x", id)
}

func (ix *Index) describeTableEntry(sb *strings.Builder, e *p4v1.TableEntry) {
	t, err := ix.tables.lookupID(e.GetTableId())
	if err != nil {
		fmt.Fprintf(sb, "table %#x entry", e.GetTableId())
		return
	}
	fmt.Fprintf(sb, "table %s ", t.Name)
	if e.GetIsDefaultAction() {
		sb.WriteString("default entry")
	} else {
		sb.WriteString("{")
		for i, m := range e.GetMatch() {
			if i > 0 {
				sb.WriteString(" ")
			}
			name := fmt.Sprint(m.GetFieldId())
			if f, err := t.FieldByID(m.GetFieldId()); err == nil {
				name = f.Name
			}
			switch {
			case m.GetExact() != nil:
				fmt.Fprintf(sb, "%s=0x%x", name, m.GetExact().GetValue())
			case m.GetLpm() != nil:
				fmt.Fprintf(sb, "%s=0x%x/%d", name, m.GetLpm().GetValue(), m.GetLpm().GetPrefixLen())
			case m.GetTernary() != nil:
				fmt.Fprintf(sb, "%s=0x%x&&&0x%x", name, m.GetTernary().GetValue(), m.GetTernary().GetMask())
			case m.GetRange() != nil:
				fmt.Fprintf(sb, "%s=0x%x..0x%x", name, m.GetRange().GetLow(), m.GetRange().GetHigh())
			case m.GetOptional() != nil:
				fmt.Fprintf(sb, "%s=0x%x?", name, m.GetOptional().GetValue())
			}
		}
		sb.WriteString("}")
		if p := e.GetPriority(); p != 0 {
			fmt.Fprintf(sb, " priority %d", p)
		}
	}
	switch a := e.GetAction().GetType().(type) {
	case *p4v1.TableAction_Action:
		name := fmt.Sprintf("%#x", a.Action.GetActionId())
		if info, err := ix.actions.lookupID(a.Action.GetActionId()); err == nil {
			name = info.Name
		}
		fmt.Fprintf(sb, " -> %s(", name)
		for i, p := range a.Action.GetParams() {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(sb, "0x%x", p.GetValue())
		}
		sb.WriteString(")")
	case *p4v1.TableAction_ActionProfileMemberId:
		fmt.Fprintf(sb, " -> member %d", a.ActionProfileMemberId)
	case *p4v1.TableAction_ActionProfileGroupId:
		fmt.Fprintf(sb, " -> group %d", a.ActionProfileGroupId)
	case *p4v1.TableAction_ActionProfileActionSet:
		fmt.Fprintf(sb, " -> action set of %d", len(a.ActionProfileActionSet.GetActionProfileActions()))
	}
}

// NamedValue is a named bytestring: a controller header field or a digest
// message member.
type NamedValue struct {
	Name  string
	Value []byte
}

// Meta returns the metadata field name = value, for BuildPacketOut.
func Meta(name string, value []byte) NamedValue { return NamedValue{Name: name, Value: value} }

// lookupValue returns the value of the field called name.
func lookupValue(values []NamedValue, name string) ([]byte, bool) {
	for _, v := range values {
		if v.Name == name {
			return v.Value, true
		}
	}
	return nil, false
}

// PacketIn is a packet the target sent to the controller, with its
// controller header decoded by name.
type PacketIn struct {
	Payload []byte
	// Metadata holds the controller header's fields in P4Info order.
	Metadata []NamedValue
}

// Value returns the metadata field called name.
func (p *PacketIn) Value(name string) ([]byte, bool) { return lookupValue(p.Metadata, name) }

// Uint returns the metadata field called name as an integer.
func (p *PacketIn) Uint(name string) (uint64, error) {
	v, ok := p.Value(name)
	if !ok {
		return 0, fmt.Errorf("packet-in metadata %q: %w", name, ErrUnknownName)
	}
	return ToUint(v)
}

// packetInHeader and packetOutHeader are the controller header names that
// p4c gives the @controller_header("packet_in"/"packet_out") headers.
const (
	packetInHeader  = "packet_in"
	packetOutHeader = "packet_out"
)

// DecodePacketIn decodes the controller header of a packet-in. A program
// without a packet_in header yields the payload alone.
func (ix *Index) DecodePacketIn(p *p4v1.PacketIn) (*PacketIn, error) {
	out := &PacketIn{Payload: p.GetPayload()}
	if len(p.GetMetadata()) == 0 {
		return out, nil
	}
	hdr, err := ix.packetMetadata.lookup(packetInHeader)
	if err != nil {
		return nil, fmt.Errorf("packet-in: %w", err)
	}
	values := make(map[uint32][]byte, len(p.GetMetadata()))
	for _, m := range p.GetMetadata() {
		f, err := hdr.FieldByID(m.GetMetadataId())
		if err != nil {
			return nil, fmt.Errorf("packet-in: %w", err)
		}
		values[f.ID] = trimZeros(m.GetValue())
	}
	for _, f := range hdr.Metadata {
		if v, ok := values[f.ID]; ok {
			out.Metadata = append(out.Metadata, NamedValue{Name: f.Name, Value: v})
		}
	}
	return out, nil
}

// BuildPacketOut returns a packet-out with the packet_out controller header
// fields given by name. Fields left out are sent as zero, so the target
// always sees a complete header.
func (ix *Index) BuildPacketOut(payload []byte, metadata ...NamedValue) (*p4v1.PacketOut, error) {
	out := &p4v1.PacketOut{Payload: payload}
	hdr, err := ix.packetMetadata.lookup(packetOutHeader)
	if err != nil {
		if len(metadata) == 0 {
			return out, nil
		}
		return nil, fmt.Errorf("packet-out: %w", err)
	}
	values := make(map[uint32][]byte, len(metadata))
	for _, m := range metadata {
		f, err := hdr.Field(m.Name)
		if err != nil {
			return nil, fmt.Errorf("packet-out: %w", err)
		}
		if _, dup := values[f.ID]; dup {
			return nil, fmt.Errorf("packet-out: %w: metadata %q given twice", ErrInvalidEntity, m.Name)
		}
		v, err := Canonical(m.Value, f.Bitwidth)
		if err != nil {
			return nil, fmt.Errorf("packet-out metadata %q: %w", m.Name, err)
		}
		values[f.ID] = v
	}
	for _, f := range hdr.Metadata {
		v, ok := values[f.ID]
		if !ok {
			v = []byte{0}
		}
		out.Metadata = append(out.Metadata, &p4v1.PacketMetadata{MetadataId: f.ID, Value: v})
	}
	return out, nil
}

// DigestList is a list of digest messages from the target, decoded by name.
type DigestList struct {
	Digest    string
	DigestID  uint32
	ListID    uint64
	Timestamp time.Time
	Messages  []DigestMessage
}

// DigestMessage is one digest message. Fields holds the members of a struct
// or tuple digest (tuple members are named "0", "1", ...); Data is the raw
// message, for digest types that are not flat bitstrings.
type DigestMessage struct {
	Fields []NamedValue
	Data   *p4v1.P4Data
}

// Value returns the member called name.
func (m *DigestMessage) Value(name string) ([]byte, bool) { return lookupValue(m.Fields, name) }

// Uint returns the member called name as an integer.
func (m *DigestMessage) Uint(name string) (uint64, error) {
	v, ok := m.Value(name)
	if !ok {
		return 0, fmt.Errorf("digest member %q: %w", name, ErrUnknownName)
	}
	return ToUint(v)
}

// DecodeDigestList decodes a digest list by the digest's P4Info type.
func (ix *Index) DecodeDigestList(l *p4v1.DigestList) (*DigestList, error) {
	d, err := ix.digests.lookupID(l.GetDigestId())
	if err != nil {
		return nil, err
	}
	out := &DigestList{
		Digest: d.Name, DigestID: d.ID, ListID: l.GetListId(),
		Timestamp: time.Unix(0, l.GetTimestamp()),
		Messages:  make([]DigestMessage, 0, len(l.GetData())),
	}
	for i, data := range l.GetData() {
		msg := DigestMessage{Data: data}
		var members []*p4v1.P4Data
		switch {
		case data.GetStruct() != nil:
			members = data.GetStruct().GetMembers()
		case data.GetTuple() != nil:
			members = data.GetTuple().GetMembers()
		}
		if len(members) != len(d.Fields) {
			return nil, fmt.Errorf("digest %q list %d message %d: %w: %d members, P4Info declares %d",
				d.Name, l.GetListId(), i, ErrInvalidEntity, len(members), len(d.Fields))
		}
		for j, m := range members {
			if d.Fields[j].Bitwidth == 0 || m.GetBitstring() == nil {
				continue
			}
			msg.Fields = append(msg.Fields, NamedValue{Name: d.Fields[j].Name, Value: trimZeros(m.GetBitstring())})
		}
		out.Messages = append(out.Messages, msg)
	}
	return out, nil
}
