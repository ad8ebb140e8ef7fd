package testbed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Host is a Go stand-in for a Linux host in the in-process testbed: one
// interface with a MAC, an IPv4 address and an optional 802.1Q tag, that
// answers ARP and ICMP echo, keeps an ARP cache, pings, and records what it
// receives so scenarios can count frames (a broadcast must arrive exactly
// once).
//
// Frames arrive through Deliver, which only queues them; one goroutine owned
// by the Host processes the queue, so a switch may call Deliver from its
// packet path without re-entering itself when the Host answers.
type Host struct {
	name string
	mac  net.HardwareAddr
	addr netip.Prefix
	vlan uint16
	log  *slog.Logger

	inbox chan inFrame
	done  chan struct{}
	wg    sync.WaitGroup

	// mu guards send, arp, waiters, received, dropped and watchers.
	mu       sync.Mutex
	send     func([]byte) error
	arp      map[netip.Addr]net.HardwareAddr
	waiters  map[echoKey]chan time.Time
	received []Frame
	dropped  int
	watchers map[layers.EthernetType]func(Frame)
}

// Frame is one frame a Host received, decoded enough for scenario checks.
type Frame struct {
	Src, Dst  net.HardwareAddr
	EtherType layers.EthernetType
	// Payload is the bytes after the Ethernet (and 802.1Q) header.
	Payload []byte
	At      time.Time
	// Via names the link the frame arrived on (DeliverVia); a multihomed
	// host tells its links apart by it.
	Via string
}

type echoKey struct {
	peer    netip.Addr
	id, seq uint16
}

type inFrame struct {
	via   string
	frame []byte
}

// maxRecorded bounds the frames a Host keeps for inspection.
const maxRecorded = 16384

// NewHost returns a started Host. send transmits a frame on the host's link;
// it may be replaced later with Attach (a VM that moves). vlan 0 means
// untagged. Close stops it.
func NewHost(name string, mac net.HardwareAddr, addr netip.Prefix, vlan uint16, send func([]byte) error, log *slog.Logger) (*Host, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("host %s: MAC %v is not 48 bits", name, mac)
	}
	if !addr.Addr().Is4() {
		return nil, fmt.Errorf("host %s: address %v is not IPv4", name, addr)
	}
	if vlan > 4094 {
		return nil, fmt.Errorf("host %s: VLAN %d out of range 0-4094", name, vlan)
	}
	if log == nil {
		log = slog.Default()
	}
	h := &Host{
		name: name, mac: mac, addr: addr, vlan: vlan, send: send,
		log:     log.With("host", name),
		inbox:   make(chan inFrame, 1024),
		done:    make(chan struct{}),
		arp:     map[netip.Addr]net.HardwareAddr{},
		waiters: map[echoKey]chan time.Time{},
	}
	h.wg.Add(1)
	go h.run()
	return h, nil
}

// Name returns the host's name.
func (h *Host) Name() string { return h.name }

// MAC returns the host's MAC address.
func (h *Host) MAC() net.HardwareAddr { return h.mac }

// Addr returns the host's IPv4 address and prefix.
func (h *Host) Addr() netip.Prefix { return h.addr }

// Attach replaces the function the host transmits with: the host moved to
// another link.
func (h *Host) Attach(send func([]byte) error) {
	h.mu.Lock()
	h.send = send
	h.mu.Unlock()
}

// Deliver queues a frame that arrived on the host's link. It never blocks:
// when the queue is full the frame is dropped and counted, as a NIC would.
func (h *Host) Deliver(frame []byte) { h.DeliverVia("", frame) }

// DeliverVia is Deliver for a host with several links: via names the link
// (recorded in Frame.Via).
func (h *Host) DeliverVia(via string, frame []byte) {
	b := inFrame{via: via, frame: append([]byte(nil), frame...)}
	select {
	case h.inbox <- b:
	default:
		h.mu.Lock()
		h.dropped++
		h.mu.Unlock()
	}
}

// Close stops the host's goroutine and waits for it.
func (h *Host) Close() {
	select {
	case <-h.done:
	default:
		close(h.done)
	}
	h.wg.Wait()
}

func (h *Host) run() {
	defer h.wg.Done()
	for {
		select {
		case <-h.done:
			return
		case f := <-h.inbox:
			h.handle(f.via, f.frame)
		}
	}
}

// Dropped counts frames lost because the host's queue was full.
func (h *Host) Dropped() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped
}

// Watch calls f, from the host's goroutine, for every frame of etherType
// addressed to the host (or broadcast), in addition to recording it; nil
// removes the watcher. Scenarios count streams with it without the
// record's bound.
func (h *Host) Watch(etherType layers.EthernetType, f func(Frame)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f == nil {
		delete(h.watchers, etherType)
		return
	}
	if h.watchers == nil {
		h.watchers = map[layers.EthernetType]func(Frame){}
	}
	h.watchers[etherType] = f
}

func (h *Host) handle(via string, frame []byte) {
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Lazy)
	eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if eth == nil {
		return
	}
	etherType, payload := eth.EthernetType, eth.Payload
	var tag uint16
	if q, ok := pkt.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); ok {
		tag, etherType, payload = q.VLANIdentifier, q.Type, q.Payload
	}
	if tag != h.vlan {
		return // not our VLAN: a NIC with a VLAN filter discards it
	}
	if !isBroadcastOrMulticast(eth.DstMAC) && !equalMAC(eth.DstMAC, h.mac) {
		return
	}
	fr := Frame{
		Src: eth.SrcMAC, Dst: eth.DstMAC, EtherType: etherType,
		Payload: append([]byte(nil), payload...), At: time.Now(), Via: via,
	}
	h.mu.Lock()
	if len(h.received) < maxRecorded {
		h.received = append(h.received, fr)
	}
	watch := h.watchers[etherType]
	h.mu.Unlock()
	if watch != nil {
		watch(fr)
	}

	if a, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP); ok {
		h.handleARP(a)
		return
	}
	ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok {
		return
	}
	src, _ := netip.AddrFromSlice(ip.SrcIP.To4())
	dst, _ := netip.AddrFromSlice(ip.DstIP.To4())
	if dst != h.addr.Addr() {
		return
	}
	// Learn the sender as Linux does from an incoming packet's source, so a
	// reply needs no ARP round trip.
	h.learn(src, eth.SrcMAC)
	icmp, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ok {
		return
	}
	switch icmp.TypeCode.Type() {
	case layers.ICMPv4TypeEchoRequest:
		reply := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: icmp.Id, Seq: icmp.Seq}
		if err := h.sendIPv4(eth.SrcMAC, src, reply, icmp.Payload); err != nil {
			h.log.Warn("echo reply not sent", "to", src, "err", err)
		}
	case layers.ICMPv4TypeEchoReply:
		h.mu.Lock()
		w := h.waiters[echoKey{peer: src, id: icmp.Id, seq: icmp.Seq}]
		h.mu.Unlock()
		if w != nil {
			select {
			case w <- time.Now():
			default:
			}
		}
	}
}

func (h *Host) handleARP(a *layers.ARP) {
	sender, ok := netip.AddrFromSlice(a.SourceProtAddress)
	if !ok {
		return
	}
	sender = sender.Unmap()
	target, _ := netip.AddrFromSlice(a.DstProtAddress)
	target = target.Unmap()
	// RFC 826: update an existing entry from any ARP; add one when we are the
	// target. A gratuitous ARP (sender == target) updates existing entries.
	h.mu.Lock()
	_, known := h.arp[sender]
	h.mu.Unlock()
	if known || target == h.addr.Addr() {
		h.learn(sender, net.HardwareAddr(a.SourceHwAddress))
	}
	if a.Operation == layers.ARPRequest && target == h.addr.Addr() && sender != target {
		reply := &layers.ARP{
			AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPReply,
			SourceHwAddress: h.mac, SourceProtAddress: h.addr.Addr().AsSlice(),
			DstHwAddress: a.SourceHwAddress, DstProtAddress: a.SourceProtAddress,
		}
		if err := h.transmit(net.HardwareAddr(a.SourceHwAddress), layers.EthernetTypeARP, reply); err != nil {
			h.log.Warn("ARP reply not sent", "to", sender, "err", err)
		}
	}
}

func (h *Host) learn(ip netip.Addr, mac net.HardwareAddr) {
	h.mu.Lock()
	h.arp[ip] = append(net.HardwareAddr(nil), mac...)
	h.mu.Unlock()
}

// Neighbor returns the MAC in the host's ARP cache for ip.
func (h *Host) Neighbor(ip netip.Addr) (net.HardwareAddr, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m, ok := h.arp[ip]
	return m, ok
}

// FlushNeighbors empties the ARP cache.
func (h *Host) FlushNeighbors() {
	h.mu.Lock()
	clear(h.arp)
	h.mu.Unlock()
}

// Received returns a copy of the frames recorded so far and clears the record.
func (h *Host) Received() []Frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.received
	h.received = nil
	return out
}

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func isBroadcastOrMulticast(m net.HardwareAddr) bool { return len(m) == 6 && m[0]&1 == 1 }

func equalMAC(a, b net.HardwareAddr) bool { return string(a) == string(b) }

func (h *Host) transmit(dst net.HardwareAddr, etherType layers.EthernetType, l ...gopacket.SerializableLayer) error {
	eth := &layers.Ethernet{SrcMAC: h.mac, DstMAC: dst, EthernetType: etherType}
	all := []gopacket.SerializableLayer{eth}
	if h.vlan != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		all = append(all, &layers.Dot1Q{VLANIdentifier: h.vlan, Type: etherType})
	}
	all = append(all, l...)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, all...); err != nil {
		return fmt.Errorf("host %s: serialize: %w", h.name, err)
	}
	frame := buf.Bytes()
	if len(frame) < 60 {
		frame = append(frame, make([]byte, 60-len(frame))...) // Ethernet minimum, as a NIC pads
	}
	h.mu.Lock()
	send := h.send
	h.mu.Unlock()
	if send == nil {
		return fmt.Errorf("host %s: not attached to a link", h.name)
	}
	return send(frame)
}

func (h *Host) sendIPv4(dstMAC net.HardwareAddr, dst netip.Addr, icmp *layers.ICMPv4, payload []byte) error {
	ip := &layers.IPv4{
		Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4,
		SrcIP: h.addr.Addr().AsSlice(), DstIP: dst.AsSlice(),
	}
	return h.transmit(dstMAC, layers.EthernetTypeIPv4, ip, icmp, gopacket.Payload(payload))
}

// SendBroadcast transmits one Ethernet broadcast frame with the given
// EtherType and payload (scenarios tag payloads to count copies).
func (h *Host) SendBroadcast(etherType layers.EthernetType, payload []byte) error {
	return h.transmit(broadcastMAC, etherType, gopacket.Payload(payload))
}

// SendFrameTo transmits one frame to dst with the given EtherType and payload.
func (h *Host) SendFrameTo(dst net.HardwareAddr, etherType layers.EthernetType, payload []byte) error {
	return h.transmit(dst, etherType, gopacket.Payload(payload))
}

// GratuitousARP announces the host's address, as a VM does after it moves,
// so the network learns its MAC at the new attachment point.
func (h *Host) GratuitousARP() error {
	a := &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
		SourceHwAddress: h.mac, SourceProtAddress: h.addr.Addr().AsSlice(),
		DstHwAddress: make([]byte, 6), DstProtAddress: h.addr.Addr().AsSlice(),
	}
	return h.transmit(broadcastMAC, layers.EthernetTypeARP, a)
}

// Resolve returns ip's MAC, sending ARP requests every interval until a reply
// arrives or ctx ends.
func (h *Host) Resolve(ctx context.Context, ip netip.Addr, interval time.Duration) (net.HardwareAddr, error) {
	req := &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
		SourceHwAddress: h.mac, SourceProtAddress: h.addr.Addr().AsSlice(),
		DstHwAddress: make([]byte, 6), DstProtAddress: ip.AsSlice(),
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if m, ok := h.Neighbor(ip); ok {
			return m, nil
		}
		if err := h.transmit(broadcastMAC, layers.EthernetTypeARP, req); err != nil {
			return nil, err
		}
		// Poll the cache more often than we resend, so a quick reply is seen quickly.
		for range 10 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("host %s: resolve %s: %w", h.name, ip, ctx.Err())
			case <-time.After(interval / 10):
			}
			if m, ok := h.Neighbor(ip); ok {
				return m, nil
			}
		}
	}
}

// PingResult summarises one Ping run.
type PingResult struct {
	Sent, Received int
	// Lost lists the sequence numbers that got no reply within the timeout.
	Lost []uint16
	RTTs []time.Duration
}

// ErrNoRoute is returned by Ping when the destination's MAC cannot be resolved.
var ErrNoRoute = errors.New("destination unreachable: no ARP reply")

// Ping resolves dst and sends count ICMP echo requests, one per interval,
// waiting up to timeout for each reply. It returns what was sent, received
// and lost; a lost reply is not an error.
func (h *Host) Ping(ctx context.Context, dst netip.Addr, count int, interval, timeout time.Duration) (PingResult, error) {
	rctx, cancel := context.WithTimeout(ctx, timeout*time.Duration(max(count, 3)))
	mac, err := h.Resolve(rctx, dst, timeout/3+time.Millisecond)
	cancel()
	if err != nil {
		return PingResult{}, fmt.Errorf("%w: %w", ErrNoRoute, err)
	}
	const id = 0x4242
	var res PingResult
	for seq := uint16(1); int(seq) <= count; seq++ {
		key := echoKey{peer: dst, id: id, seq: seq}
		ch := make(chan time.Time, 1)
		h.mu.Lock()
		h.waiters[key] = ch
		h.mu.Unlock()
		start := time.Now()
		req := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: seq}
		if m, ok := h.Neighbor(dst); ok {
			mac = m // follow a gratuitous ARP, as Linux does
		}
		if err := h.sendIPv4(mac, dst, req, []byte("p4evpn-testbed")); err != nil {
			return res, err
		}
		res.Sent++
		select {
		case at := <-ch:
			res.Received++
			res.RTTs = append(res.RTTs, at.Sub(start))
		case <-time.After(timeout):
			res.Lost = append(res.Lost, seq)
		case <-ctx.Done():
			h.dropWaiter(key)
			return res, ctx.Err()
		}
		h.dropWaiter(key)
		if int(seq) < count {
			select {
			case <-time.After(interval):
			case <-ctx.Done():
				return res, ctx.Err()
			}
		}
	}
	return res, nil
}

func (h *Host) dropWaiter(k echoKey) {
	h.mu.Lock()
	delete(h.waiters, k)
	h.mu.Unlock()
}
