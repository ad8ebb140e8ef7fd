package evpn

import (
	"cmp"
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"slices"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// dfCandidate is one PE eligible to be DF of a segment.
type dfCandidate struct {
	addr netip.Addr
	alg  route.DFAlgorithm
	pref uint16
	dp   bool
}

// scheduleElection (re)starts the election timer of local segment s: a new
// candidate waits ElectionTimer so every PE on the segment sees the same
// candidate list before electing (RFC 7432 §8.5). Until the first election
// this PE is non-DF.
func (pe *PE) scheduleElection(s *ethernetSegment) {
	if !s.local.up || len(s.evis()) == 0 {
		return
	}
	pe.stopTimer(s.local.timer)
	if a := pe.adopted; a != nil && a.holding {
		// A restarted PE elects at its first Reconcile, on the whole
		// table (see adoption.elections); the switch keeps the previous
		// run's DF state meanwhile.
		s.local.timer = nil
		if a.elections == nil {
			a.elections = make(map[*ethernetSegment]bool)
		}
		a.elections[s] = true
		return
	}
	wait := pe.cfg.ElectionTimer
	if d := s.local.cfg.ElectionTimer; d > 0 {
		wait = d
	}
	s.local.timer = pe.after(wait, func() {
		s.local.timer = nil
		pe.elect(s)
	})
}

// candidates lists this PE and the originators of ES routes for s.
func (pe *PE) candidates(s *ethernetSegment) []dfCandidate {
	self := dfCandidate{addr: pe.cfg.RouterID, alg: s.local.cfg.DF.Algorithm, pref: s.local.advPref, dp: s.local.advDP}
	out := []dfCandidate{self}
	for k, df := range s.esRoutes {
		if slices.ContainsFunc(out, func(c dfCandidate) bool { return c.addr == k.originator }) {
			continue
		}
		c := dfCandidate{addr: k.originator, alg: route.DFModulo}
		if df != nil {
			c.alg, c.pref, c.dp = df.Algorithm, df.Preference, df.DontPreempt
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b dfCandidate) int { return a.addr.Compare(b.addr) })
	return out
}

// elect runs the DF election of local segment s for each of its EVIs and
// programs the result.
func (pe *PE) elect(s *ethernetSegment) {
	if !s.local.up {
		return
	}
	prevPref, prevDP := s.local.advPref, s.local.advDP
	nonRevertive := s.local.cfg.DF.Algorithm == route.DFPreference && s.local.cfg.DF.NonRevertive
	if nonRevertive && !s.local.advDP {
		s.local.advPref = pe.deferredPref(s)
	}
	cands := pe.candidates(s)
	alg := cands[0].alg
	for _, c := range cands[1:] {
		if c.alg != alg {
			// Candidates that disagree fall back to the default
			// algorithm (RFC 8584 §2.2.1).
			pe.log.Warn("DF algorithm mismatch on segment; using modulo", "esi", s.esi.String())
			alg = route.DFModulo
			break
		}
	}
	for _, e := range s.evis() {
		df := electDF(alg, cands, e.vlan, s.esi)
		if old, ok := s.local.elected[e]; !ok || old != df {
			s.local.elected[e] = df
			pe.publish(Event{Kind: EventDFElected, EVI: e.id, ESI: s.esi, Peer: df, DF: df == pe.cfg.RouterID})
		}
		pe.setDF(s, e, df == pe.cfg.RouterID)
	}
	if nonRevertive && alg == route.DFPreference {
		pe.nonRevertive(s, cands)
	}
	if s.local.advPref != prevPref || s.local.advDP != prevDP {
		pe.announce(pe.esRoute(s))
	}
}

// nonRevertive keeps an elected DF in place (RFC 9785 §4.2). The DF
// advertises the Don't Preempt bit; a PE that is not DF advertises no bit and
// at most the preference of any candidate that has it, so the bit wins the
// tie and a returning PE with a higher configured preference does not take
// over. When the DF with the bit goes away, the configured preferences
// decide again.
func (pe *PE) nonRevertive(s *ethernetSegment, cands []dfCandidate) {
	pref, dp := pe.deferredPref(s), false
	if electDF(route.DFPreference, cands, 0, s.esi) == pe.cfg.RouterID {
		pref, dp = s.local.advPref, true
	}
	s.local.advPref, s.local.advDP = pref, dp
}

// deferredPref is the preference a non-revertive PE that is not DF
// advertises: its configured one, lowered to that of any candidate holding
// the Don't Preempt bit.
func (pe *PE) deferredPref(s *ethernetSegment) uint16 {
	pref := s.local.cfg.DF.Preference
	if s.local.cfg.DF.Algorithm != route.DFPreference || !s.local.cfg.DF.NonRevertive {
		return pref
	}
	for _, df := range s.esRoutes {
		if df != nil && df.Algorithm == route.DFPreference && df.DontPreempt && df.Preference < pref {
			pref = df.Preference
		}
	}
	return pref
}

func (pe *PE) setDF(s *ethernetSegment, e *evi, df bool) {
	if have, ok := s.local.dfInstalled[e]; ok && have == df {
		return
	}
	s.local.dfInstalled[e] = df
	pe.counters.DFChanges++
	pe.write(asic.Set(asic.DFState{Segment: s.local.id, BD: e.bd, DF: df}))
}

// electDF returns the DF among cands (sorted by address) for VLAN v.
func electDF(alg route.DFAlgorithm, cands []dfCandidate, v uint16, esi route.ESI) netip.Addr {
	switch alg {
	case route.DFHRW:
		best := cands[0]
		bw := hrwWeight(v, esi, best.addr)
		for _, c := range cands[1:] {
			// Ties go to the lower address, which came first.
			if w := hrwWeight(v, esi, c.addr); w > bw {
				best, bw = c, w
			}
		}
		return best.addr
	case route.DFPreference:
		// RFC 9785 §4.1 Highest-Preference: highest preference, then the
		// Don't Preempt bit set, then the lowest address.
		best := slices.MinFunc(cands, func(a, b dfCandidate) int {
			if c := cmp.Compare(b.pref, a.pref); c != 0 {
				return c
			}
			if a.dp != b.dp {
				if a.dp {
					return -1
				}
				return 1
			}
			return a.addr.Compare(b.addr)
		})
		return best.addr
	}
	// RFC 7432 §8.5 service carving: the (V mod N)th PE by address.
	return cands[int(v)%len(cands)].addr
}

// hrwWeight is RFC 8584 §3.2's Wrand(v, Es, Si) =
// (1103515245 × ((1103515245 × Si + 12345) XOR D(v, Es)) + 12345) mod 2^31,
// with D the CRC-32 of the 4-octet Ethernet tag and the 10-octet ESI, and Si
// the PE's IPv4 address.
func hrwWeight(v uint16, esi route.ESI, addr netip.Addr) uint32 {
	var buf [14]byte
	binary.BigEndian.PutUint32(buf[:4], uint32(v))
	copy(buf[4:], esi[:])
	d := uint64(crc32.ChecksumIEEE(buf[:]) & 0x7FFFFFFF)
	var si uint64
	if addr.Is4() {
		a := addr.As4()
		si = uint64(binary.BigEndian.Uint32(a[:]))
	} else {
		a := addr.As16()
		si = uint64(crc32.ChecksumIEEE(a[:]))
	}
	const m = 1 << 31
	x := (1103515245*si + 12345) % m
	return uint32((1103515245*(x^d) + 12345) % m)
}
