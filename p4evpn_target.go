package p4evpn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/p4evpn/p4evpn/softswitch"
	"github.com/p4evpn/p4evpn/softswitch/p4rtserver"
)

// EmbeddedTarget is the in-process P4Runtime target: the softswitch engine
// behind a P4Runtime server on a loopback listener. A Daemon without a target
// address builds one and programs it through asic/p4asic over real
// P4Runtime, the code path BMv2 and hardware take.
//
// The P4Runtime server keeps the view of what controllers wrote, so a target
// that must outlive a Daemon (the in-process testbed restarting a
// controller without disturbing its data plane) is built by the caller with
// NewEmbeddedTarget and handed to each Daemon with WithEmbeddedTarget; the
// Daemon then leaves it running on Close, like a switch whose controller
// process restarts.
type EmbeddedTarget struct {
	sw     *softswitch.Switch
	srv    *p4rtserver.Server
	lis    net.Listener
	cancel context.CancelFunc
	done   chan error
}

// NewEmbeddedTarget serves sw over P4Runtime as device deviceID on addr
// ("127.0.0.1:0" picks a free port). The target does not own sw: Close
// stops the server and leaves the engine (and its ports) to the caller.
func NewEmbeddedTarget(sw *softswitch.Switch, addr string, deviceID uint64, log *slog.Logger) (*EmbeddedTarget, error) {
	if sw == nil {
		return nil, errors.New("embedded target: nil softswitch")
	}
	if log == nil {
		log = slog.Default()
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded target: listen %s: %w", addr, err)
	}
	srv := p4rtserver.New(p4rtserver.NewEngineDevice(sw), p4rtserver.WithDeviceID(deviceID),
		p4rtserver.WithLogger(log.With("component", "p4rtserver")))
	ctx, cancel := context.WithCancel(context.Background())
	t := &EmbeddedTarget{sw: sw, srv: srv, lis: lis, cancel: cancel, done: make(chan error, 1)}
	go func() { t.done <- srv.Serve(ctx, lis) }()
	return t, nil
}

// Addr is the P4Runtime server's bound address.
func (t *EmbeddedTarget) Addr() net.Addr { return t.lis.Addr() }

// Softswitch is the engine the target serves.
func (t *EmbeddedTarget) Softswitch() *softswitch.Switch { return t.sw }

// Server is the P4Runtime server, for its Stats.
func (t *EmbeddedTarget) Server() *p4rtserver.Server { return t.srv }

// Close stops serving and waits for the server; the engine keeps running.
func (t *EmbeddedTarget) Close() error {
	t.cancel()
	err := <-t.done
	t.done <- err // a second Close returns the same result
	return errors.Join(err, t.srv.Close())
}
