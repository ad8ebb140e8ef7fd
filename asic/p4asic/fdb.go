package p4asic

import (
	"fmt"
	"math/bits"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/p4rt"
)

// FDB entries are most of what a PE writes (a burst of remote MACs after a
// session comes up), so their table entries are built here from ids resolved
// once, in one allocation each, instead of by name through p4rt's builder.
// The result is the same canonical entry BuildTableEntry makes (the Read
// round-trip test holds the two to it); values were checked by validate.

// fdbIDs are the P4Info ids of ingress.fdb and ingress.smac.
type fdbIDs struct {
	fdb, smac             uint32
	fdbBD, fdbMAC         uint32
	smacBD, smacMAC       uint32
	toLocalAC, toRemotePE uint32
	toGroup, discard      uint32
	smacKnown, smacPinned uint32
	localAC, localPort    uint32 // to_local_ac params
	remotePE, remoteLabel uint32 // to_remote_pe params
	groupParam            uint32 // to_aliasing_group param
	knownAC, pinnedAC     uint32 // smac_known, smac_pinned params
}

func resolveFDBIDs(ix *p4rt.Index) (fdbIDs, error) {
	var ids fdbIDs
	field := func(table, name string, tid, fid *uint32) error {
		t, err := ix.Table(table)
		if err != nil {
			return err
		}
		f, err := t.Field(name)
		if err != nil {
			return fmt.Errorf("table %s: %w", table, err)
		}
		*tid, *fid = t.ID, f.ID
		return nil
	}
	action := func(name string, aid *uint32, params ...any) error {
		a, err := ix.Action(name)
		if err != nil {
			return err
		}
		*aid = a.ID
		for i := 0; i < len(params); i += 2 {
			p, err := a.Param(params[i].(string))
			if err != nil {
				return fmt.Errorf("action %s: %w", name, err)
			}
			*params[i+1].(*uint32) = p.ID
		}
		return nil
	}
	for _, err := range []error{
		field(p4.TableFDB, p4.FieldBD, &ids.fdb, &ids.fdbBD),
		field(p4.TableFDB, p4.FieldMAC, &ids.fdb, &ids.fdbMAC),
		field(p4.TableSourceMAC, p4.FieldBD, &ids.smac, &ids.smacBD),
		field(p4.TableSourceMAC, p4.FieldMAC, &ids.smac, &ids.smacMAC),
		action(p4.ActionToLocalAC, &ids.toLocalAC, p4.FieldAC, &ids.localAC, p4.FieldPort, &ids.localPort),
		action(p4.ActionToRemotePE, &ids.toRemotePE, p4.FieldPE, &ids.remotePE, p4.FieldLabel, &ids.remoteLabel),
		action(p4.ActionToAliasingGroup, &ids.toGroup, p4.FieldGroup, &ids.groupParam),
		action(p4.ActionFDBDiscard, &ids.discard),
		action(p4.ActionSMACKnown, &ids.smacKnown, p4.FieldAC, &ids.knownAC),
		action(p4.ActionSMACPinned, &ids.smacPinned, p4.FieldAC, &ids.pinnedAC),
	} {
		if err != nil {
			return ids, err
		}
	}
	return ids, nil
}

// bdMACEntry is one table entry keyed by (bd, mac), with everything it
// points at, allocated at once.
type bdMACEntry struct {
	insert  p4v1.Update
	ent     p4v1.Entity
	entVal  p4v1.Entity_TableEntry
	te      p4v1.TableEntry
	match   [2]*p4v1.FieldMatch
	fm      [2]p4v1.FieldMatch
	exact   [2]p4v1.FieldMatch_Exact_
	exactV  [2]p4v1.FieldMatch_Exact
	ta      p4v1.TableAction
	taVal   p4v1.TableAction_Action
	action  p4v1.Action
	params  [2]*p4v1.Action_Param
	param   [2]p4v1.Action_Param
	bdBuf   [2]byte
	macBuf  [6]byte
	argBufs [2][4]byte
}

// canonical writes v into buf as a canonical bytestring and returns it.
func canonical(buf []byte, v uint64) []byte {
	n := max((bits.Len64(v)+7)/8, 1)
	b := buf[len(buf)-n:]
	for i := n - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

type arg struct {
	id uint32
	v  uint64
}

func (ids *fdbIDs) entry(table, bdField, macField uint32, bd asic.BridgeDomainID, mac asic.MAC, action uint32, args []arg) obj {
	e := &bdMACEntry{}
	e.insert.Type = p4v1.Update_INSERT
	e.insert.Entity = &e.ent
	e.entVal.TableEntry = &e.te
	e.ent.Entity = &e.entVal
	e.te.TableId = table
	copy(e.macBuf[:], mac[:])
	m := e.macBuf[:]
	for len(m) > 1 && m[0] == 0 {
		m = m[1:]
	}
	values := [2][]byte{canonical(e.bdBuf[:], uint64(bd)), m}
	for i, f := range [2]uint32{bdField, macField} {
		e.exactV[i].Value = values[i]
		e.exact[i].Exact = &e.exactV[i]
		e.fm[i].FieldId = f
		e.fm[i].FieldMatchType = &e.exact[i]
		e.match[i] = &e.fm[i]
	}
	e.te.Match = e.match[:]
	e.action.ActionId = action
	for i, a := range args {
		e.param[i].ParamId = a.id
		e.param[i].Value = canonical(e.argBufs[i][:], a.v)
		e.params[i] = &e.param[i]
	}
	if len(args) > 0 {
		e.action.Params = e.params[:len(args)]
	}
	e.taVal.Action = &e.action
	e.ta.Type = &e.taVal
	e.te.Action = &e.ta
	return obj{ent: &e.ent, insert: &e.insert}
}

// fdbObjects returns the ingress.fdb entry of x and, for a local or pinned
// MAC, its ingress.smac entry.
func (s *Switch) fdbObjects(v *view, x asic.FDBEntry, out []obj) ([]obj, error) {
	ids := &s.names.fdb
	var action uint32
	var args []arg
	switch x.Dest.Kind {
	case asic.ToAC:
		ac, _ := v.ac(x.Dest.AC)
		action, args = ids.toLocalAC, []arg{{ids.localAC, uint64(x.Dest.AC)}, {ids.localPort, uint64(ac.Port)}}
	case asic.ToRemotePE:
		action, args = ids.toRemotePE, []arg{{ids.remotePE, uint64(x.Dest.PE)}, {ids.remoteLabel, uint64(x.Dest.Label)}}
	case asic.ToAliasingGroup:
		action, args = ids.toGroup, []arg{{ids.groupParam, uint64(x.Dest.Group)}}
	default:
		action = ids.discard
	}
	out = append(out, ids.entry(ids.fdb, ids.fdbBD, ids.fdbMAC, x.BD, x.MAC, action, args))
	// The source-MAC entry: where the MAC may send from without a learn
	// event. A remote MAC has none (a frame from it on an AC is a move);
	// a pinned one names its AC, or none (0) when it is not local, so
	// that a frame from it on any AC is dropped.
	var ac asic.ACID
	if x.Dest.Kind == asic.ToAC {
		ac = x.Dest.AC
	}
	switch {
	case x.Pinned:
		action, args = ids.smacPinned, []arg{{ids.pinnedAC, uint64(ac)}}
	case x.Dest.Kind == asic.ToAC:
		action, args = ids.smacKnown, []arg{{ids.knownAC, uint64(ac)}}
	default:
		return out, nil
	}
	o := ids.entry(ids.smac, ids.smacBD, ids.smacMAC, x.BD, x.MAC, action, args)
	o.ent.GetTableEntry().IdleTimeoutNs = int64(x.IdleTimeout)
	return append(out, o), nil
}
