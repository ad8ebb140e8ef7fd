package softswitch

// The v1model packet path, in simple_switch's order (targets/simple_switch/
// simple_switch.cpp of p4lang/behavioral-model): parse, verify checksums,
// ingress, ingress clone, digest, resubmit, multicast or unicast, then per
// copy: egress, egress clone, drop check, update checksums and deparse,
// recirculate, transmit.

// Process runs one frame received on inPort through the pipeline and
// transmits what comes out, synchronously in the caller's goroutine. Any
// number of goroutines may call it at once. frame is not retained.
func (s *Switch) Process(inPort uint32, frame []byte) {
	prog := s.prog.Load()
	if prog == nil {
		s.stats.noProgram.Add(1)
		return
	}
	s.stats.received.Add(1)
	p := prog.pool.Get().(*packet)
	p.sw = s
	p.buf = append(p.buf[:0], frame...)
	p.depth = 0
	s.ingress(p, inPort, instanceNormal, nil, 0)
	prog.pool.Put(p)
}

// ingress runs the parser and the ingress control on p.buf. preserve, when
// not nil, is the packet whose field list fieldList is copied in after
// parsing (resubmit and recirculate).
func (s *Switch) ingress(p *packet, inPort uint32, instance uint64, preserve *packet, fieldList int) {
	prog := p.prog
	for loops := 0; ; loops++ {
		p.resetState()
		p.data = p.buf
		p.ingressLen = len(p.buf)
		p.lenReg = len(p.buf)
		p.setStd(prog.std.ingressPort, uint64(inPort))
		p.setStd(prog.std.instanceType, instance)
		p.setStd(prog.std.packetLength, uint64(len(p.buf)))
		prog.parser.parse(p)
		s.verifyChecksums(p)
		p.setStd(prog.std.parserError, p.parseErr)
		if preserve != nil {
			p.copyFieldList(preserve, fieldList)
		}
		p.runPipeline(prog.ingress)
		p.exit = false
		if p.assertFailed {
			s.stats.dropped.Add(1)
			return
		}
		if p.cloneSession != 0 {
			s.cloneIngress(p, inPort)
		}
		if p.learnID > 0 {
			s.digest(p)
		}
		if p.resubmit > 0 && loops < maxLoops {
			// BMv2 re-parses the original frame with the field list's
			// values carried over; p.buf still holds the original.
			q := prog.pool.Get().(*packet)
			q.sw = s
			q.copyFrom(p)
			fl := p.resubmit - 1
			// simple_switch resets all metadata of the resubmitted copy,
			// ingress_port included, before copying the field list.
			instance, preserve, fieldList, inPort = instanceResubmit, q, fl, 0
			defer prog.pool.Put(q)
			continue
		}
		break
	}
	egressSpec := p.getStd(prog.std.egressSpec)
	if mgid := p.getStd(prog.std.mcastGrp); mgid != 0 {
		p.setStd(prog.std.instanceType, instanceReplication)
		s.multicast(p, uint32(mgid))
		return
	}
	if egressSpec == uint64(s.dropPort) {
		s.stats.dropped.Add(1)
		return
	}
	p.setStd(prog.std.instanceType, instanceNormal)
	s.egress(p, uint32(egressSpec))
}

// multicast sends one copy of p per replica of the group through egress.
func (s *Switch) multicast(p *packet, mgid uint32) {
	g := (*s.pre.mc.Load())[mgid]
	if g == nil || len(g.Replicas) == 0 {
		s.stats.dropped.Add(1)
		return
	}
	prog := p.prog
	q := prog.pool.Get().(*packet)
	for _, r := range g.Replicas {
		q.copyFrom(p)
		q.setStd(prog.std.egressRid, uint64(r.Rid))
		s.egress(q, r.Port)
	}
	prog.pool.Put(q)
}

// egress runs the egress control for one copy of a packet bound to port and
// transmits the result.
func (s *Switch) egress(p *packet, port uint32) {
	prog := p.prog
	p.setStd(prog.std.egressPort, uint64(port))
	p.setStd(prog.std.egressSpec, uint64(s.dropPort)+1)
	p.setStd(prog.std.packetLength, uint64(p.lenReg))
	p.cloneSession = 0
	p.runPipeline(prog.egress)
	p.exit = false
	if p.assertFailed {
		s.stats.dropped.Add(1)
		return
	}
	if p.cloneSession != 0 && p.depth < maxLoops {
		s.cloneEgress(p)
	}
	if p.getStd(prog.std.egressSpec) == uint64(s.dropPort) {
		s.stats.dropped.Add(1)
		return
	}
	out := s.deparse(p)
	if p.recirculate > 0 && p.depth < maxLoops {
		q := prog.pool.Get().(*packet)
		q.sw = s
		q.buf = append(q.buf[:0], out...)
		q.depth = p.depth + 1
		s.ingress(q, 0, instanceRecirc, p, p.recirculate-1)
		prog.pool.Put(q)
		return
	}
	s.transmit(port, out)
}

// deparse updates checksums and serialises the valid headers followed by
// the unparsed payload.
func (s *Switch) deparse(p *packet) []byte {
	prog := p.prog
	for _, ck := range prog.updateChecksums {
		if ck.cond != nil && !ck.cond(p, nil) {
			continue
		}
		f := &prog.fields[ck.target]
		p.vals[f.slot] = ck.calc.compute(p) & widthMask(f.width)
	}
	out := p.out[:0]
	for _, h := range prog.deparser {
		if p.valid[h] {
			out = p.emit(out, h)
		}
	}
	out = append(out, p.data[p.off:]...)
	if p.truncate > 0 && p.truncate < len(out) {
		out = out[:p.truncate]
	}
	p.out = out
	return out
}

func (s *Switch) verifyChecksums(p *packet) {
	prog := p.prog
	if len(prog.verifyChecksums) == 0 {
		return
	}
	bad := false
	for _, ck := range prog.verifyChecksums {
		if ck.cond != nil && !ck.cond(p, nil) {
			continue
		}
		f := &prog.fields[ck.target]
		if ck.calc.compute(p)&widthMask(f.width) != p.vals[f.slot] {
			bad = true
		}
	}
	if bad {
		p.setStd(prog.std.checksumError, 1)
	}
}

// copyFieldList copies the fields of a field list from q into p (resubmit,
// recirculate and clones preserve those).
func (p *packet) copyFieldList(q *packet, id int) {
	for _, fid := range p.prog.fieldLists[id] {
		f := &p.prog.fields[fid]
		if f.wide {
			copy(p.wide[f.slot:f.slot+f.bytes], q.wide[f.slot:f.slot+f.bytes])
		} else {
			p.vals[f.slot] = q.vals[f.slot]
		}
	}
}

// cloneIngress makes the I2E clones of p: the original frame parsed again,
// metadata reset except the field list, instance_type INGRESS_CLONE.
func (s *Switch) cloneIngress(p *packet, inPort uint32) {
	sess := (*s.pre.cs.Load())[p.cloneSession&^cloneValid]
	p.cloneSession = 0
	if sess == nil || p.depth >= maxLoops {
		return
	}
	prog := p.prog
	q := prog.pool.Get().(*packet)
	q.sw = s
	q.resetState()
	q.data, q.depth = p.buf, p.depth+1
	q.ingressLen, q.lenReg = p.ingressLen, p.ingressLen
	q.setStd(prog.std.ingressPort, uint64(inPort))
	prog.parser.parse(q)
	q.copyFieldList(p, p.cloneFieldList)
	q.setStd(prog.std.instanceType, instanceIngressClone)
	s.sendClones(q, sess)
	prog.pool.Put(q)
}

// cloneEgress makes the E2E clones of p: its headers as egress left them,
// metadata reset except the field list, instance_type EGRESS_CLONE.
func (s *Switch) cloneEgress(p *packet) {
	sess := (*s.pre.cs.Load())[p.cloneSession&^cloneValid]
	p.cloneSession = 0
	if sess == nil {
		return
	}
	prog := p.prog
	q := prog.pool.Get().(*packet)
	q.copyFrom(p)
	for i, h := range prog.headers {
		if h.metadata {
			for _, fid := range h.fields {
				f := &prog.fields[fid]
				if f.wide {
					clear(q.wide[f.slot : f.slot+f.bytes])
				} else {
					q.vals[f.slot] = 0
				}
			}
			q.valid[i] = true
		}
	}
	q.copyFieldList(p, p.cloneFieldList)
	q.setStd(prog.std.instanceType, instanceEgressClone)
	s.sendClones(q, sess)
	prog.pool.Put(q)
}

// sendClones sends a clone through egress once per replica of its session.
func (s *Switch) sendClones(q *packet, sess *CloneSession) {
	prog := q.prog
	r := prog.pool.Get().(*packet)
	for _, rep := range sess.Replicas {
		r.copyFrom(q)
		r.depth = q.depth
		r.setStd(prog.std.egressRid, uint64(rep.Rid))
		if sess.PacketLength > 0 {
			r.truncate = sess.PacketLength
		}
		s.egress(r, rep.Port)
	}
	prog.pool.Put(r)
}

// transmit writes a frame to a port, or to the controller for the CPU port.
func (s *Switch) transmit(port uint32, frame []byte) {
	if port == s.cfg.CPUPort && port != 0 {
		s.outMu.RLock()
		defer s.outMu.RUnlock()
		if s.closed {
			return
		}
		select {
		case s.packetIns <- PacketIn{Frame: append([]byte(nil), frame...)}:
			s.stats.transmitted.Add(1)
		default:
			s.stats.packetInsDropped.Add(1)
		}
		return
	}
	ps := (*s.ports.Load())[port]
	if ps == nil {
		s.stats.noPort.Add(1)
		return
	}
	if ps.pcap != nil {
		ps.pcap.write(frame)
	}
	if err := ps.port.Write(frame); err != nil {
		s.stats.portErrors.Add(1)
		return
	}
	s.stats.transmitted.Add(1)
}

// digest samples the learn list at the end of ingress, as BMv2 does.
func (s *Switch) digest(p *packet) {
	l := p.prog.learnByID[p.learnID]
	if l == nil {
		return
	}
	d := Digest{Name: l.name, Fields: make([][]byte, len(l.fields))}
	for i, fid := range l.fields {
		f := &p.prog.fields[fid]
		if f.wide {
			d.Fields[i] = append([]byte(nil), p.wide[f.slot:f.slot+f.bytes]...)
		} else {
			d.Fields[i] = uintBytes(p.vals[f.slot], f.width)
		}
	}
	s.outMu.RLock()
	defer s.outMu.RUnlock()
	if s.closed {
		return
	}
	select {
	case s.digests <- d:
	default:
		s.stats.digestsDropped.Add(1)
	}
}
