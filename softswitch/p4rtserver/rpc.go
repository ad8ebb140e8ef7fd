package p4rtserver

import (
	"context"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// Write applies a batch of updates (spec §12) in order. With
// CONTINUE_ON_ERROR a failed update does not stop the others; with
// ROLLBACK_ON_ERROR the first failure undoes the batch. Either way the status
// of a batch with failures carries one p4.v1.Error per update.
// DATAPLANE_ATOMIC is refused with UNIMPLEMENTED.
func (s *Server) Write(_ context.Context, req *p4v1.WriteRequest) (*p4v1.WriteResponse, error) {
	if req.GetDeviceId() != s.deviceID {
		return nil, rpcError(s.unknownDevice(req.GetDeviceId()))
	}
	if writeRoleID(req) != 0 {
		return nil, rpcError(errorf(codes.InvalidArgument, "role_id %d: numeric role ids are deprecated and not supported, use role", writeRoleID(req)))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.arb.authorize(req.GetRole(), req.GetElectionId()); err != nil {
		return nil, rpcError(err)
	}
	p := s.active()
	if p == nil {
		return nil, rpcError(errorf(codes.FailedPrecondition, "no forwarding pipeline config: call SetForwardingPipelineConfig first"))
	}
	var errs []error
	switch req.GetAtomicity() {
	case p4v1.WriteRequest_CONTINUE_ON_ERROR:
		errs = make([]error, len(req.GetUpdates()))
		for i, u := range req.GetUpdates() {
			errs[i] = p.apply(u)
		}
	case p4v1.WriteRequest_ROLLBACK_ON_ERROR:
		errs = p.applyAll(req.GetUpdates())
	case p4v1.WriteRequest_DATAPLANE_ATOMIC:
		return nil, rpcError(errorf(codes.Unimplemented, "atomicity DATAPLANE_ATOMIC is not supported: use CONTINUE_ON_ERROR or ROLLBACK_ON_ERROR"))
	default:
		return nil, rpcError(errorf(codes.InvalidArgument, "unknown atomicity %v", req.GetAtomicity()))
	}
	digests := false
	for i, u := range req.GetUpdates() {
		if errs[i] != nil {
			s.log.Debug("p4rtserver: update failed", "index", i, "type", u.GetType(), "err", errs[i])
		}
		if _, ok := u.GetEntity().GetEntity().(*p4v1.Entity_DigestEntry); ok {
			digests = true
		}
	}
	if digests && p == s.running {
		s.digests.configure(p.schema, p.digestConfigs())
	}
	if err := batchError("write", errs); err != nil {
		return nil, err
	}
	return &p4v1.WriteResponse{}, nil
}

// digestConfigs copies the digest configuration for the digester.
func (p *pipeline) digestConfigs() map[uint32]*p4v1.DigestEntry_Config {
	out := make(map[uint32]*p4v1.DigestEntry_Config, len(p.digestCfg))
	for id, d := range p.digestCfg {
		out[id] = d.GetConfig()
	}
	return out
}

// SetForwardingPipelineConfig verifies, saves and commits pipelines (spec
// §15). A config that the device cannot load, or whose P4Info does not match
// the BMv2 JSON, is refused with INVALID_ARGUMENT and changes nothing.
func (s *Server) SetForwardingPipelineConfig(_ context.Context, req *p4v1.SetForwardingPipelineConfigRequest) (*p4v1.SetForwardingPipelineConfigResponse, error) {
	if req.GetDeviceId() != s.deviceID {
		return nil, rpcError(s.unknownDevice(req.GetDeviceId()))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.arb.authorize(req.GetRole(), req.GetElectionId()); err != nil {
		return nil, rpcError(err)
	}
	switch req.GetAction() {
	case p4v1.SetForwardingPipelineConfigRequest_VERIFY:
		_, err := s.prepare(req.GetConfig())
		return ok(err)
	case p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_SAVE:
		p, err := s.prepare(req.GetConfig())
		if err != nil {
			return ok(err)
		}
		s.pending = p
		s.log.Info("p4rtserver: pipeline saved", "cookie", req.GetConfig().GetCookie().GetCookie())
		return ok(nil)
	case p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT:
		p, err := s.prepare(req.GetConfig())
		if err != nil {
			return ok(err)
		}
		return ok(s.commit(p))
	case p4v1.SetForwardingPipelineConfigRequest_COMMIT:
		if req.GetConfig() != nil {
			return ok(errorf(codes.InvalidArgument, "COMMIT takes no config: it commits the one saved by VERIFY_AND_SAVE"))
		}
		if s.pending == nil {
			return ok(errorf(codes.NotFound, "COMMIT: no saved config (VERIFY_AND_SAVE first)"))
		}
		return ok(s.commit(s.pending))
	case p4v1.SetForwardingPipelineConfigRequest_RECONCILE_AND_COMMIT:
		p, err := s.prepare(req.GetConfig())
		if err != nil {
			return ok(err)
		}
		if s.running != nil {
			if err := p.adopt(s.running); err != nil {
				return ok(err)
			}
		}
		return ok(s.commit(p))
	}
	return ok(errorf(codes.InvalidArgument, "unknown action %v", req.GetAction()))
}

func ok(err error) (*p4v1.SetForwardingPipelineConfigResponse, error) {
	if err != nil {
		return nil, rpcError(err)
	}
	return &p4v1.SetForwardingPipelineConfigResponse{}, nil
}

// prepare loads cfg's device config and checks its P4Info against it.
func (s *Server) prepare(cfg *p4v1.ForwardingPipelineConfig) (*pipeline, error) {
	if cfg == nil {
		return nil, errorf(codes.InvalidArgument, "config is missing")
	}
	if cfg.GetP4Info() == nil {
		return nil, errorf(codes.InvalidArgument, "config has no p4info")
	}
	if len(cfg.GetP4DeviceConfig()) == 0 {
		return nil, errorf(codes.InvalidArgument, "config has no p4_device_config (the BMv2 JSON)")
	}
	prog, err := s.dev.Load(cfg.GetP4DeviceConfig())
	if err != nil {
		return nil, errorf(codes.InvalidArgument, "p4_device_config: %w", err)
	}
	sc, err := newSchema(cfg.GetP4Info(), prog.Schema())
	if err != nil {
		return nil, err
	}
	return newPipeline(sc, prog, proto.Clone(cfg).(*p4v1.ForwardingPipelineConfig)), nil
}

// commit makes p the running pipeline. Callers hold mu.
func (s *Server) commit(p *pipeline) error {
	if err := p.commit(s.dev); err != nil {
		return err
	}
	s.running, s.pending = p, nil
	s.headers.Store(p.schema)
	s.digests.configure(p.schema, p.digestConfigs())
	s.log.Info("p4rtserver: pipeline committed", "tables", len(p.schema.tables), "cookie", p.config.GetCookie().GetCookie())
	return nil
}

// GetForwardingPipelineConfig returns the saved or running config (spec §16).
func (s *Server) GetForwardingPipelineConfig(_ context.Context, req *p4v1.GetForwardingPipelineConfigRequest) (*p4v1.GetForwardingPipelineConfigResponse, error) {
	if req.GetDeviceId() != s.deviceID {
		return nil, rpcError(s.unknownDevice(req.GetDeviceId()))
	}
	s.mu.RLock()
	p := s.active()
	s.mu.RUnlock()
	if p == nil {
		return &p4v1.GetForwardingPipelineConfigResponse{}, nil
	}
	c := p.config
	out := &p4v1.ForwardingPipelineConfig{Cookie: c.GetCookie()}
	switch req.GetResponseType() {
	case p4v1.GetForwardingPipelineConfigRequest_ALL:
		out.P4Info, out.P4DeviceConfig = c.GetP4Info(), c.GetP4DeviceConfig()
	case p4v1.GetForwardingPipelineConfigRequest_COOKIE_ONLY:
	case p4v1.GetForwardingPipelineConfigRequest_P4INFO_AND_COOKIE:
		out.P4Info = c.GetP4Info()
	case p4v1.GetForwardingPipelineConfigRequest_DEVICE_CONFIG_AND_COOKIE:
		out.P4DeviceConfig = c.GetP4DeviceConfig()
	default:
		return nil, rpcError(errorf(codes.InvalidArgument, "unknown response type %v", req.GetResponseType()))
	}
	return &p4v1.GetForwardingPipelineConfigResponse{Config: out}, nil
}

// SetPipeline verifies and commits cfg without a controller, for a switch
// started with its program (the command-line --p4info). It replaces any
// running pipeline as VERIFY_AND_COMMIT does.
func (s *Server) SetPipeline(cfg *p4v1.ForwardingPipelineConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.prepare(cfg)
	if err != nil {
		return err
	}
	return s.commit(p)
}
