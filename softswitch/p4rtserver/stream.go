package p4rtserver

import (
	"context"
	"fmt"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
)

// StreamChannel runs one controller session (spec §16): arbitration,
// packet-out, digest acks in; arbitration advisories, packet-ins, digest
// lists and stream errors out.
func (s *Server) StreamChannel(stream p4v1.P4Runtime_StreamChannelServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	c := &controller{id: s.nextController.Add(1), out: newOutbox(s.queue, func() { s.streamDropped.Add(1) })}
	log := s.log.With("controller", c.id)
	defer s.arb.leave(c)

	sendErr := make(chan error, 1)
	go func() { sendErr <- c.out.run(ctx, stream.Send) }()
	// gRPC forbids Send after the handler returns: wait for the sender.
	defer func() {
		cancel()
		<-sendErr
	}()

	recvErr := make(chan error, 1)
	msgs := make(chan *p4v1.StreamMessageRequest)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				recvErr <- ctx.Err()
				return
			}
		}
	}()
	for {
		var m *p4v1.StreamMessageRequest
		select {
		case m = <-msgs:
		case err := <-recvErr:
			log.Debug("p4rtserver: stream ended", "err", err)
			return nil
		case err := <-sendErr:
			sendErr <- err // for the deferred wait
			return err
		}
		switch u := m.GetUpdate().(type) {
		case *p4v1.StreamMessageRequest_Arbitration:
			if err := s.arb.update(c, u.Arbitration); err != nil {
				log.Info("p4rtserver: arbitration refused", "err", err)
				return rpcError(err)
			}
			log.Debug("p4rtserver: arbitration", "role", u.Arbitration.GetRole().GetName(), "election_id", u.Arbitration.GetElectionId())
		case *p4v1.StreamMessageRequest_Packet:
			if !s.arb.isPrimary(c) {
				c.out.control(streamError(codes.PermissionDenied, "packet-out from a controller that is not primary", &p4v1.StreamError_PacketOut{PacketOut: &p4v1.PacketOutError{PacketOut: u.Packet}}))
				continue
			}
			if err := s.packetOut(u.Packet); err != nil {
				log.Debug("p4rtserver: packet-out refused", "err", err)
				c.out.control(streamError(codeOf(err), err.Error(), &p4v1.StreamError_PacketOut{PacketOut: &p4v1.PacketOutError{PacketOut: u.Packet}}))
			}
		case *p4v1.StreamMessageRequest_DigestAck:
			if err := s.digests.ack(u.DigestAck); err != nil {
				c.out.control(streamError(codeOf(err), err.Error(), &p4v1.StreamError_DigestListAck{DigestListAck: &p4v1.DigestListAckError{DigestListAck: u.DigestAck}}))
			}
		default:
			c.out.control(streamError(codes.Unimplemented, fmt.Sprintf("stream message %T is not supported", m.GetUpdate()), &p4v1.StreamError_Other{Other: &p4v1.StreamOtherError{}}))
		}
	}
}

func streamError(code codes.Code, msg string, details any) *p4v1.StreamMessageResponse {
	e := &p4v1.StreamError{CanonicalCode: int32(code), Message: msg}
	switch d := details.(type) {
	case *p4v1.StreamError_PacketOut:
		e.Details = d
	case *p4v1.StreamError_DigestListAck:
		e.Details = d
	case *p4v1.StreamError_Other:
		e.Details = d
	}
	return &p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_Error{Error: e}}
}

// run sends queued messages until ctx is done or send fails.
func (o *outbox) run(ctx context.Context, send func(*p4v1.StreamMessageResponse) error) error {
	for {
		for _, m := range o.takeControls() {
			if err := send(m); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-o.wake:
		case m := <-o.data:
			// Controls queued meanwhile go first.
			for _, c := range o.takeControls() {
				if err := send(c); err != nil {
					return err
				}
			}
			if err := send(m); err != nil {
				return err
			}
		}
	}
}

// packetOut serializes the packet_out controller header from the metadata
// and injects the packet at the CPU port.
func (s *Server) packetOut(po *p4v1.PacketOut) error {
	sc := s.headers.Load()
	if sc == nil {
		return errorf(codes.FailedPrecondition, "packet-out: no forwarding pipeline config")
	}
	h := sc.packetOut
	if h == nil {
		if len(po.GetMetadata()) > 0 {
			return errorf(codes.InvalidArgument, "packet-out: %d metadata given, but the program has no packet_out header", len(po.GetMetadata()))
		}
		return deviceError(s.dev.PacketOut(po.GetPayload()))
	}
	values := make([][]byte, len(h.fields))
	for _, m := range po.GetMetadata() {
		i, ok := h.index[m.GetMetadataId()]
		if !ok {
			return errorf(codes.InvalidArgument, "packet-out: unknown metadata id %d", m.GetMetadataId())
		}
		if values[i] != nil {
			return errorf(codes.InvalidArgument, "packet-out: metadata %q given twice", h.fields[i].GetName())
		}
		v, err := canonicalize(m.GetValue(), h.fields[i].GetBitwidth(), func() string { return "packet-out metadata " + quote(h.fields[i].GetName()) })
		if err != nil {
			return err
		}
		values[i] = v
	}
	frame := make([]byte, h.bits/8, int(h.bits/8)+len(po.GetPayload()))
	off := int32(0)
	for i, f := range h.fields {
		if values[i] == nil {
			return errorf(codes.InvalidArgument, "packet-out: metadata %q (id %d) is missing", f.GetName(), f.GetId())
		}
		putBits(frame, off, f.GetBitwidth(), values[i])
		off += f.GetBitwidth()
	}
	frame = append(frame, po.GetPayload()...)
	return deviceError(s.dev.PacketOut(frame))
}

// eventSink is the Server seen as the device's EventSink.
type eventSink Server

// ToCPU parses the packet_in header and sends a PacketIn to every primary.
func (e *eventSink) ToCPU(frame []byte) {
	s := (*Server)(e)
	sc := s.headers.Load()
	if sc == nil {
		return
	}
	pin := &p4v1.PacketIn{}
	if h := sc.packetIn; h != nil {
		if len(frame) < int(h.bits/8) {
			s.log.Warn("p4rtserver: packet to CPU is shorter than the packet_in header; dropped", "len", len(frame), "header_bytes", h.bits/8)
			return
		}
		off := int32(0)
		for _, f := range h.fields {
			v := getBits(frame, off, f.GetBitwidth())
			pin.Metadata = append(pin.Metadata, &p4v1.PacketMetadata{MetadataId: f.GetId(), Value: trimCanonical(v)})
			off += f.GetBitwidth()
		}
		frame = frame[h.bits/8:]
	}
	pin.Payload = append([]byte(nil), frame...)
	m := &p4v1.StreamMessageResponse{Update: &p4v1.StreamMessageResponse_Packet{Packet: pin}}
	for _, o := range s.arb.primaries() {
		o.offer(m)
	}
}

// Digest hands a digest message to the digester.
func (e *eventSink) Digest(name string, fields [][]byte) {
	(*Server)(e).digests.offer(name, fields)
}

// putBits writes the low width bits of the big-endian value v into buf at
// bit offset off (MSB first).
func putBits(buf []byte, off, width int32, v []byte) {
	for i := int32(0); i < width; i++ {
		// Bit i of the field, counted from its most significant bit.
		src := int32(len(v))*8 - width + i
		bit := byte(0)
		if src >= 0 {
			bit = (v[src/8] >> (7 - src%8)) & 1
		}
		dst := off + i
		buf[dst/8] |= bit << (7 - dst%8)
	}
}

// getBits reads width bits at bit offset off of buf as a big-endian value of
// (width+7)/8 bytes.
func getBits(buf []byte, off, width int32) []byte {
	n := (width + 7) / 8
	out := make([]byte, n)
	for i := int32(0); i < width; i++ {
		src := off + i
		bit := (buf[src/8] >> (7 - src%8)) & 1
		dst := n*8 - width + i
		out[dst/8] |= bit << (7 - dst%8)
	}
	return out
}
