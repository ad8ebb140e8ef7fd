package softswitch

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"sync/atomic"
)

type atomicUint64 = atomic.Uint64

// counterCell is one packets-and-bytes counter.
type counterCell struct {
	packets atomic.Uint64
	bytes   atomic.Uint64
}

func (c *counterCell) add(n uint64) {
	c.packets.Add(1)
	c.bytes.Add(n)
}

func (c *counterCell) load() CounterData {
	return CounterData{Packets: c.packets.Load(), Bytes: c.bytes.Load()}
}

func (c *counterCell) store(d CounterData) {
	c.packets.Store(d.Packets)
	c.bytes.Store(d.Bytes)
}

type counterArray struct {
	name        string
	size        int
	directTable string
	cells       []counterCell
}

type registerArray struct {
	name  string
	width int
	size  int
	cells []atomicUint64
}

// learnList is a digest: the fields sampled at the end of ingress.
type learnList struct {
	id     int
	name   string
	fields []int
	info   []ParamInfo
}

// fieldsInfo names the digest fields after their last dotted component
// (p4c names the copies it makes "scalars.digest_t.mac" style).
func (l *learnList) fieldsInfo() {
	for i := range l.info {
		l.info[i].Name = lastDotted(l.info[i].Name)
	}
}

// calculation is a hash over a list of fields, constants and headers, with
// BMv2's input layout: the bits of each element (skipping fields and headers
// of invalid headers) packed most significant first, zero-padded to a byte.
type calculation struct {
	name     string
	maxBytes int // of the input without payload
	algo     func([]byte) uint64
	items    []calcItem
}

type calcItem struct {
	field   int // field id, or -1
	header  int // header id of the field or whole header
	whole   bool
	payload bool
	konst   []byte
	kbits   int
}

func (c *compiler) compileCalculation(name, algo string, input []jTV) (*calculation, error) {
	calc := &calculation{name: name}
	switch algo {
	case "crc16":
		calc.algo = crc16ARC
	case "crc32":
		calc.algo = crc32IEEE
	case "identity":
		calc.algo = identityHash
	case "csum16":
		calc.algo = csum16
	case "xor16":
		calc.algo = xor16
	default:
		return nil, fmt.Errorf("calculation %q: hash algorithm %q: %w", name, algo, ErrUnsupported)
	}
	for _, in := range input {
		switch in.Type {
		case "field":
			id, err := c.fieldRef(in.Value)
			if err != nil {
				return nil, fmt.Errorf("calculation %q: %w", name, err)
			}
			calc.items = append(calc.items, calcItem{field: id, header: c.p.fields[id].header})
		case "header":
			hn, err := unmarshalString(in.Value)
			if err != nil {
				return nil, err
			}
			h, ok := c.p.headerByName[hn]
			if !ok {
				return nil, fmt.Errorf("calculation %q: unknown header %q: %w", name, hn, ErrInvalid)
			}
			calc.items = append(calc.items, calcItem{field: -1, header: h.id, whole: true})
		case "hexstr":
			var s string
			if err := json.Unmarshal(in.Value, &s); err != nil {
				return nil, fmt.Errorf("calculation %q constant: %w", name, ErrInvalid)
			}
			bits := in.Bitwidth
			if bits > maxFieldWidth {
				return nil, fmt.Errorf("calculation %q constant of %d bits: %w", name, bits, ErrUnsupported)
			}
			if bits <= 0 {
				return nil, fmt.Errorf("calculation %q constant without bitwidth: %w", name, ErrInvalid)
			}
			b, err := hexBytes(s, (bits+7)/8)
			if err != nil {
				return nil, err
			}
			calc.items = append(calc.items, calcItem{field: -1, header: -1, konst: b, kbits: bits})
		case "payload":
			calc.items = append(calc.items, calcItem{field: -1, header: -1, payload: true})
		default:
			return nil, fmt.Errorf("calculation %q input of type %q: %w", name, in.Type, ErrUnsupported)
		}
	}
	bits := 0
	for _, it := range calc.items {
		switch {
		case it.konst != nil:
			bits += it.kbits
		case it.whole:
			bits += c.p.headers[it.header].typ.bits
		case it.field >= 0:
			bits += c.p.fields[it.field].width
		}
	}
	calc.maxBytes = (bits + 7) / 8
	c.p.maxCalcBytes = max(c.p.maxCalcBytes, calc.maxBytes)
	return calc, nil
}

// compute hashes the calculation's input for packet p.
func (calc *calculation) compute(p *packet) uint64 {
	buf := p.hashBuf[:calc.maxBytes]
	clear(buf)
	nbits := 0
	prog := p.prog
	for i := range calc.items {
		it := &calc.items[i]
		switch {
		case it.payload:
			buf = append(buf[:(nbits+7)/8], p.data[p.off:]...)
			nbits = len(buf) * 8
		case it.konst != nil:
			putBits(buf, nbits, it.kbits, it.konst)
			nbits += it.kbits
		case it.whole:
			if !p.valid[it.header] {
				continue
			}
			for _, fid := range prog.headers[it.header].fields {
				nbits = p.packField(buf, nbits, fid)
			}
		default:
			if !p.valid[it.header] {
				continue
			}
			nbits = p.packField(buf, nbits, it.field)
		}
	}
	if cap(buf) > cap(p.hashBuf) {
		p.hashBuf = buf[:0] // grown by a payload: keep the bigger buffer
	}
	return calc.algo(buf[:(nbits+7)/8])
}

// packField writes one field's bits at bit offset nbits of buf (zeroed).
func (p *packet) packField(buf []byte, nbits, fid int) int {
	f := &p.prog.fields[fid]
	if f.wide {
		putBits(buf, nbits, f.width, p.wide[f.slot:f.slot+f.bytes])
	} else {
		writeBits(buf, nbits, f.width, p.vals[f.slot])
	}
	return nbits + f.width
}

// checksum is a verify/update checksum (v1model verify_checksum and
// update_checksum).
type checksum struct {
	name   string
	calc   *calculation
	target int
	cond   boolFn
}

var crc16Table = func() [256]uint16 {
	var t [256]uint16
	for i := range t {
		crc := uint16(i)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// crc16ARC is BMv2's crc16: CRC-16/ARC (polynomial 0x8005 reflected, initial
// value 0, no final xor).
func crc16ARC(b []byte) uint64 {
	var crc uint16
	for _, c := range b {
		crc = crc>>8 ^ crc16Table[byte(crc)^c]
	}
	return uint64(crc)
}

// crc32IEEE is BMv2's crc32 (CRC-32/ISO-HDLC, as Ethernet's FCS).
func crc32IEEE(b []byte) uint64 { return uint64(crc32.ChecksumIEEE(b)) }

// identityHash is BMv2's identity: the first 8 bytes as a big-endian number.
func identityHash(b []byte) uint64 {
	var v uint64
	for i := 0; i < len(b) && i < 8; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// csum16 is the Internet checksum (RFC 1071) of b.
func csum16(b []byte) uint64 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint64(^uint16(sum))
}

// xor16 is BMv2's xor16: the xor of the input's 16-bit words, zero-padded.
func xor16(b []byte) uint64 {
	var v uint16
	for i := 0; i < len(b); i += 2 {
		w := uint16(b[i]) << 8
		if i+1 < len(b) {
			w |= uint16(b[i+1])
		}
		v ^= w
	}
	return uint64(v)
}
