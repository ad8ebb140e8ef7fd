package p4asic

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/p4rt"
)

// names checks once that the pipeline has everything the translation uses,
// so that a mismatched program fails in New, naming the object, not in the
// first Write, and keeps the ids of the FDB's fast path.
type names struct {
	fdb fdbIDs
}

func resolveNames(ix *p4rt.Index) (*names, error) {
	var errs []error
	for _, t := range []string{p4.TablePortKind, p4.TableAttachmentCircuit, p4.TableServiceLabel, p4.TableESILabel,
		p4.TableSourceMAC, p4.TableFDB, p4.TableAliasing, p4.TableRemoteServiceLabel, p4.TableTunnelPort,
		p4.TableFloodReplica, p4.TableACEgress, p4.TableDF, p4.TablePeerESILabel, p4.TableTunnel} {
		if _, err := ix.Table(t); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range []string{p4.ActionSetAccessPort, p4.ActionSetCorePort, p4.ActionSetAC, p4.ActionBlockAC,
		p4.ActionSetServiceBD, p4.ActionSetBUMBD, p4.ActionSetSourceES, p4.ActionSMACKnown, p4.ActionSMACPinned,
		p4.ActionToLocalAC, p4.ActionToRemotePE, p4.ActionToAliasingGroup, p4.ActionFDBDiscard,
		p4.ActionSetAliasingPE, p4.ActionSetRemoteServiceLabel, p4.ActionSetTunnelPort, p4.ActionReplicaToAC,
		p4.ActionReplicaToPE, p4.ActionSetACEgress, p4.ActionBlockACEgress, p4.ActionDFForward,
		p4.ActionPushESILabel, p4.ActionSetTunnel} {
		if _, err := ix.Action(a); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := ix.ActionProfile(p4.ActionProfileAliasingSelector); err != nil {
		errs = append(errs, err)
	}
	if _, err := ix.Digest(p4.DigestMACLearn); err != nil {
		errs = append(errs, err)
	}
	for _, c := range []string{p4.CounterBDIn, p4.CounterACIn, p4.CounterDropsIn, p4.CounterDropsOut} {
		if _, err := ix.Counter(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ids, err := resolveFDBIDs(ix)
	if err != nil {
		return nil, err
	}
	return &names{fdb: ids}, nil
}

// Label values: 0-15 are reserved (RFC 3032); 0 in an asic entity means
// "none" where the field allows it.
const (
	minLabel = 16
	maxLabel = 1<<p4.LabelBits - 1
)

func checkID(what string, v uint32, bits int) error {
	if v == 0 || v >= 1<<bits {
		return fmt.Errorf("%s %d: must be 1-%d", what, v, uint32(1)<<bits-1)
	}
	return nil
}

func checkLabel(what string, l uint32, optional bool) error {
	if l == 0 && optional {
		return nil
	}
	if l < minLabel || l > maxLabel {
		return fmt.Errorf("%s %d: must be %d-%d", what, l, minLabel, maxLabel)
	}
	return nil
}

// validate checks e's values against the pipeline's widths and reserved
// values; the error names the value.
func (s *Switch) validate(e asic.Entity) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch x := e.(type) {
	case asic.Port:
		add(checkID("port", uint32(x.ID), p4.PortBits))
		switch x.Kind {
		case asic.PortAccess, asic.PortCore:
			if uint32(x.ID) == s.cfg.cpuPort {
				add(fmt.Errorf("port %d is the CPU port: its kind must be cpu, not %s", x.ID, x.Kind))
			}
		case asic.PortCPU:
			if uint32(x.ID) != s.cfg.cpuPort {
				add(fmt.Errorf("port %d of kind cpu: the program's CPU port is %d", x.ID, s.cfg.cpuPort))
			}
		default:
			add(fmt.Errorf("port %d: unknown kind %s", x.ID, x.Kind))
		}
	case asic.BridgeDomain:
		add(checkID("bridge domain", uint32(x.ID), p4.BridgeDomainBits))
		add(checkLabel("unicast label", x.UnicastLabel, false))
		add(checkLabel("BUM label", x.BUMLabel, true))
	case asic.Segment:
		add(checkID("segment", uint32(x.ID), p4.EthernetSegmentBits))
		add(checkLabel("ESI label", x.ESILabel, false))
	case asic.AttachmentCircuit:
		add(checkID("attachment circuit", uint32(x.ID), p4.AttachmentCircuitBits))
		if x.VLAN >= 1<<p4.VLANIDBits || x.InnerVLAN >= 1<<p4.VLANIDBits {
			add(fmt.Errorf("attachment circuit %d: VLAN %d/%d: VLAN ids are 0-4095", x.ID, x.VLAN, x.InnerVLAN))
		}
		if x.VLAN == 0 && x.InnerVLAN != 0 {
			add(fmt.Errorf("attachment circuit %d: inner VLAN %d without an outer VLAN", x.ID, x.InnerVLAN))
		}
		if x.Segment != 0 {
			add(checkID("segment", uint32(x.Segment), p4.EthernetSegmentBits))
		}
	case asic.DFState:
		add(checkID("segment", uint32(x.Segment), p4.EthernetSegmentBits))
		add(checkID("bridge domain", uint32(x.BD), p4.BridgeDomainBits))
	case asic.RemotePE:
		add(checkID("remote PE", uint32(x.ID), p4.RemotePEBits))
		add(checkLabel(fmt.Sprintf("remote PE %d: transport label", x.ID), x.TransportLabel, true))
		if !x.Address.IsValid() {
			add(fmt.Errorf("remote PE %d: no address", x.ID))
		}
	case asic.ServiceLabel:
		add(checkID("remote PE", uint32(x.PE), p4.RemotePEBits))
		add(checkLabel(fmt.Sprintf("service label of pe %d bd %d", x.PE, x.BD), x.Label, false))
	case asic.SegmentPeer:
		add(checkID("remote PE", uint32(x.PE), p4.RemotePEBits))
		add(checkLabel(fmt.Sprintf("ESI label of pe %d segment %d", x.PE, x.Segment), x.ESILabel, false))
	case asic.AliasingGroup:
		add(checkID("aliasing group", uint32(x.ID), p4.AliasingGroupBits))
		for i, m := range x.Members {
			if slices.Contains(x.Members[:i], m) {
				add(fmt.Errorf("aliasing group %d lists pe %d twice", x.ID, m))
			}
		}
	case asic.FloodGroup:
		add(checkID("bridge domain", uint32(x.BD), p4.BridgeDomainBits))
		for _, m := range x.Members {
			if (m.AC == 0) == (m.PE == 0) {
				add(fmt.Errorf("flood group %d: member %+v must name exactly one of an AC and a PE", x.BD, m))
			} else if m.PE != 0 {
				add(checkLabel(fmt.Sprintf("flood group %d: BUM label of pe %d", x.BD, m.PE), m.BUMLabel, false))
			}
		}
	case asic.FDBEntry:
		add(checkID("bridge domain", uint32(x.BD), p4.BridgeDomainBits))
		if x.MAC[0]&1 == 1 {
			add(fmt.Errorf("fdb entry bd %d: %s is a group address", x.BD, x.MAC))
		}
		switch x.Dest.Kind {
		case asic.ToDrop, asic.ToAC, asic.ToAliasingGroup:
		case asic.ToRemotePE:
			// Checked inline: this is the hot path of bulk FDB writes.
			if l := x.Dest.Label; l < minLabel || l > maxLabel {
				add(fmt.Errorf("fdb entry bd %d %s: label %d: must be %d-%d", x.BD, x.MAC, l, minLabel, maxLabel))
			}
		default:
			add(fmt.Errorf("fdb entry bd %d %s: unknown destination kind %d", x.BD, x.MAC, x.Dest.Kind))
		}
		if x.IdleTimeout < 0 {
			add(fmt.Errorf("fdb entry bd %d %s: negative idle timeout %v", x.BD, x.MAC, x.IdleTimeout))
		}
		if x.IdleTimeout > 0 && x.Dest.Kind != asic.ToAC && !x.Pinned {
			add(fmt.Errorf("fdb entry bd %d %s: idle timeout %v on a remote MAC: the switch ages local MACs only", x.BD, x.MAC, x.IdleTimeout))
		}
	case nil:
		add(errors.New("update without an entity"))
	default:
		add(fmt.Errorf("unknown entity type %T", e))
	}
	return errors.Join(errs...)
}

// conflict reports a key of the target that e would take from another
// entity: a label of another bridge domain or segment, another AC's
// (port, VLANs).
func (v *view) conflict(e asic.Entity) error {
	switch x := e.(type) {
	case asic.BridgeDomain:
		for _, l := range []uint32{x.UnicastLabel, x.BUMLabel} {
			if owner, ok := v.serviceLabels[l]; ok && l != 0 && owner != x.ID {
				return fmt.Errorf("bridge domain %d: label %d belongs to bridge domain %d", x.ID, l, owner)
			}
		}
	case asic.Segment:
		if owner, ok := v.esiLabels[x.ESILabel]; ok && owner != x.ID {
			return fmt.Errorf("segment %d: ESI label %d belongs to segment %d", x.ID, x.ESILabel, owner)
		}
	case asic.FloodGroup:
		for _, m := range x.Members {
			if ac, ok := v.ac(m.AC); ok && ac.BD != x.BD {
				return fmt.Errorf("flood group %d: attachment circuit %d is in bridge domain %d", x.BD, m.AC, ac.BD)
			}
		}
	case asic.AttachmentCircuit:
		if owner, ok := v.acKeys[acMatch{x.Port, x.VLAN, x.InnerVLAN}]; ok && owner != x.ID {
			return fmt.Errorf("attachment circuit %d: port %d VLAN %d/%d belongs to attachment circuit %d",
				x.ID, x.Port, x.VLAN, x.InnerVLAN, owner)
		}
	}
	return nil
}

func uintv(v uint64) []byte { return p4rt.Uint(v) }

func macv(m asic.MAC) []byte { return p4rt.MAC(net.HardwareAddr(m[:])) }

func macFromBytes(b []byte) (asic.MAC, error) {
	var m asic.MAC
	if len(b) > len(m) {
		return m, fmt.Errorf("MAC %x wider than 48 bits", b)
	}
	copy(m[len(m)-len(b):], b)
	return m, nil
}

// obj is one P4Runtime entity an asic entity is made of.
type obj struct {
	ent *p4v1.Entity
	// insert, when set, is the INSERT of ent, allocated with it.
	insert *p4v1.Update
	// first marks an entry that references a group: deleted before the
	// other objects change, where every other delete comes last.
	first bool
}

func (s *Switch) table(table string, match []p4rt.FieldMatch, action p4rt.TableAction, meta []byte, idle time.Duration) (obj, error) {
	te, err := s.ix.BuildTableEntry(p4rt.TableEntry{Table: table, Match: match, Action: action, Metadata: meta, IdleTimeout: idle})
	if err != nil {
		return obj{}, err
	}
	return obj{ent: p4rt.Entity(te)}, nil
}

// Metadata layouts (big endian).
const metaShared = 1 // service_label: the unicast label is also the BUM label
const metaSingleActive = 1

func blockedACMeta(ac asic.AttachmentCircuit) []byte {
	b := make([]byte, 6)
	binary.BigEndian.PutUint16(b[0:], uint16(ac.ID))
	binary.BigEndian.PutUint16(b[2:], uint16(ac.BD))
	binary.BigEndian.PutUint16(b[4:], uint16(ac.Segment))
	return b
}

func aliasingMeta(g asic.AliasingGroup) []byte {
	b := make([]byte, 1, 1+2*len(g.Members))
	if g.SingleActive {
		b[0] = metaSingleActive
	}
	for _, m := range g.Members {
		b = binary.BigEndian.AppendUint16(b, uint16(m))
	}
	return b
}

func addrMeta(a netip.Addr) []byte { return a.AsSlice() }

// objects returns the P4Runtime entities that hold e, given the rest of
// the view, in the order they must be written.
func (s *Switch) objects(v *view, e asic.Entity) ([]obj, error) {
	var out []obj
	add := func(o obj, err error) error {
		if err != nil {
			return err
		}
		out = append(out, o)
		return nil
	}
	var err error
	switch x := e.(type) {
	case asic.Port:
		action := p4.ActionSetAccessPort
		if x.Kind == asic.PortCore {
			action = p4.ActionSetCorePort
		}
		err = add(s.table(p4.TablePortKind, []p4rt.FieldMatch{p4rt.Exact(p4.FieldPort, uintv(uint64(x.ID)))}, p4rt.Action(action), nil, 0))
	case asic.BridgeDomain:
		var meta []byte
		if x.BUMLabel == x.UnicastLabel {
			meta = []byte{metaShared}
		}
		err = add(s.table(p4.TableServiceLabel, []p4rt.FieldMatch{p4rt.Exact(p4.FieldLabel, uintv(uint64(x.UnicastLabel)))},
			p4rt.Action(p4.ActionSetServiceBD, p4rt.Arg(p4.FieldBD, uintv(uint64(x.ID)))), meta, 0))
		if err == nil && x.BUMLabel != 0 && x.BUMLabel != x.UnicastLabel {
			err = add(s.table(p4.TableServiceLabel, []p4rt.FieldMatch{p4rt.Exact(p4.FieldLabel, uintv(uint64(x.BUMLabel)))},
				p4rt.Action(p4.ActionSetBUMBD, p4rt.Arg(p4.FieldBD, uintv(uint64(x.ID)))), nil, 0))
		}
	case asic.Segment:
		var meta []byte
		if x.SingleActive {
			meta = []byte{metaSingleActive}
		}
		err = add(s.table(p4.TableESILabel, []p4rt.FieldMatch{p4rt.Exact(p4.FieldLabel, uintv(uint64(x.ESILabel)))},
			p4rt.Action(p4.ActionSetSourceES, p4rt.Arg(p4.FieldES, uintv(uint64(x.ID)))), meta, 0))
	case asic.AttachmentCircuit:
		match := []p4rt.FieldMatch{p4rt.Exact(p4.FieldPort, uintv(uint64(x.Port))),
			p4rt.Exact(p4.FieldVIDOuter, uintv(uint64(x.VLAN))), p4rt.Exact(p4.FieldVIDInner, uintv(uint64(x.InnerVLAN)))}
		egress := []p4rt.FieldMatch{p4rt.Exact(p4.FieldAC, uintv(uint64(x.ID)))}
		if v.blocked(x) {
			if err = add(s.table(p4.TableAttachmentCircuit, match, p4rt.Action(p4.ActionBlockAC), blockedACMeta(x), 0)); err == nil {
				err = add(s.table(p4.TableACEgress, egress, p4rt.Action(p4.ActionBlockACEgress), nil, 0))
			}
			break
		}
		err = add(s.table(p4.TableAttachmentCircuit, match, p4rt.Action(p4.ActionSetAC, p4rt.Arg(p4.FieldBD, uintv(uint64(x.BD))),
			p4rt.Arg(p4.FieldAC, uintv(uint64(x.ID))), p4rt.Arg(p4.FieldES, uintv(uint64(x.Segment)))), nil, 0))
		if err == nil {
			err = add(s.table(p4.TableACEgress, egress, p4rt.Action(p4.ActionSetACEgress, p4rt.Arg(p4.FieldES, uintv(uint64(x.Segment))),
				p4rt.Arg(p4.FieldVIDOuter, uintv(uint64(x.VLAN))), p4rt.Arg(p4.FieldVIDInner, uintv(uint64(x.InnerVLAN)))), nil, 0))
		}
	case asic.DFState:
		if x.DF {
			err = add(s.table(p4.TableDF, []p4rt.FieldMatch{p4rt.Exact(p4.FieldES, uintv(uint64(x.Segment))),
				p4rt.Exact(p4.FieldBD, uintv(uint64(x.BD)))}, p4rt.Action(p4.ActionDFForward), nil, 0))
		}
	case asic.RemotePE:
		pe := []p4rt.FieldMatch{p4rt.Exact(p4.FieldPE, uintv(uint64(x.ID)))}
		transport := uint64(x.TransportLabel)
		if transport == 0 {
			transport = p4.NoTransportLabel
		}
		cw := uint64(0)
		if x.ControlWord {
			cw = 1
		}
		if err = add(s.table(p4.TableTunnelPort, pe, p4rt.Action(p4.ActionSetTunnelPort, p4rt.Arg(p4.FieldPort, uintv(uint64(x.CorePort)))),
			addrMeta(x.Address), 0)); err == nil {
			err = add(s.table(p4.TableTunnel, pe, p4rt.Action(p4.ActionSetTunnel, p4rt.Arg(p4.FieldSrcMAC, macv(x.SourceMAC)),
				p4rt.Arg(p4.FieldDstMAC, macv(x.NextHopMAC)), p4rt.Arg(p4.FieldTransportLabel, uintv(transport)),
				p4rt.Arg(p4.FieldControlWord, uintv(cw))), nil, 0))
		}
	case asic.ServiceLabel:
		err = add(s.table(p4.TableRemoteServiceLabel, []p4rt.FieldMatch{p4rt.Exact(p4.FieldPE, uintv(uint64(x.PE))),
			p4rt.Exact(p4.FieldBD, uintv(uint64(x.BD)))}, p4rt.Action(p4.ActionSetRemoteServiceLabel, p4rt.Arg(p4.FieldLabel, uintv(uint64(x.Label)))), nil, 0))
	case asic.SegmentPeer:
		err = add(s.table(p4.TablePeerESILabel, []p4rt.FieldMatch{p4rt.Exact(p4.FieldPE, uintv(uint64(x.PE))),
			p4rt.Exact(p4.FieldES, uintv(uint64(x.Segment)))}, p4rt.Action(p4.ActionPushESILabel, p4rt.Arg(p4.FieldLabel, uintv(uint64(x.ESILabel)))), nil, 0))
	case asic.AliasingGroup:
		fw := forwarding(x)
		g := p4rt.ActionProfileGroup{Profile: p4.ActionProfileAliasingSelector, GroupID: uint32(x.ID)}
		for _, m := range fw {
			g.Members = append(g.Members, p4rt.GroupMember{MemberID: uint32(m)})
		}
		var pg *p4v1.ActionProfileGroup
		if pg, err = s.ix.BuildActionProfileGroup(g); err != nil {
			break
		}
		out = append(out, obj{ent: p4rt.Entity(pg)})
		if len(fw) > 0 {
			var o obj
			if o, err = s.table(p4.TableAliasing, []p4rt.FieldMatch{p4rt.Exact(p4.FieldGroup, uintv(uint64(x.ID)))},
				p4rt.GroupID(x.ID), aliasingMeta(x), 0); err == nil {
				o.first = true
				out = append(out, o)
			}
		}
	case asic.FloodGroup:
		var replicas []p4rt.Replica
		for _, m := range x.Members {
			var rid uint32
			if rid, err = v.rid(x.BD, m); err != nil {
				break
			}
			var port asic.PortID
			var action *p4rt.ActionCall
			if m.AC != 0 {
				ac, _ := v.ac(m.AC)
				port = ac.Port
				action = p4rt.Action(p4.ActionReplicaToAC, p4rt.Arg(p4.FieldAC, uintv(uint64(m.AC))))
			} else {
				pe, _ := v.remotePE(m.PE)
				port = pe.CorePort
				action = p4rt.Action(p4.ActionReplicaToPE, p4rt.Arg(p4.FieldPE, uintv(uint64(m.PE))),
					p4rt.Arg(p4.FieldLabel, uintv(uint64(m.BUMLabel))))
			}
			if err = add(s.table(p4.TableFloodReplica, []p4rt.FieldMatch{p4rt.Exact(p4.FieldRID, uintv(uint64(rid)))}, action, nil, 0)); err != nil {
				break
			}
			replicas = append(replicas, p4rt.PortReplica(uint64(port), rid))
		}
		if err != nil {
			break
		}
		var mg *p4v1.PacketReplicationEngineEntry
		if mg, err = p4rt.MulticastGroup(uint32(x.BD), replicas...); err == nil {
			out = append(out, obj{ent: p4rt.Entity(mg)})
		}
	case asic.FDBEntry:
		out, err = s.fdbObjects(v, x, out)
	default:
		err = fmt.Errorf("unknown entity type %T", e)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Key(), err)
	}
	return out, nil
}

// bdMACKey decodes the (bd, mac) key of ingress.fdb or ingress.smac.
func bdMACKey(match []p4rt.FieldMatch) (asic.BridgeDomainID, asic.MAC, error) {
	var bd uint64
	var mac asic.MAC
	var err error
	for _, m := range match {
		switch m.Field {
		case p4.FieldBD:
			bd, err = p4rt.ToUint(m.Value)
		case p4.FieldMAC:
			mac, err = macFromBytes(m.Value)
		}
		if err != nil {
			return 0, mac, err
		}
	}
	return asic.BridgeDomainID(bd), mac, nil
}
