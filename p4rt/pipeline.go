package p4rt

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Pipeline is a forwarding pipeline: the P4Info, the target's device
// configuration (the BMv2 JSON for BMv2 and the softswitch), a cookie that
// identifies the pair, and the P4Info's index, built once here.
type Pipeline struct {
	P4Info       *p4configv1.P4Info
	DeviceConfig []byte
	// Cookie is derived from the content (the first 8 bytes of a SHA-256
	// over the deterministic P4Info encoding and the device config), so
	// the same program always has the same cookie, across controller
	// restarts and hosts.
	Cookie uint64
	Index  *Index
}

// NewPipeline indexes p4info and computes the cookie. The pipeline keeps
// both arguments; the caller must not modify them.
func NewPipeline(p4info *p4configv1.P4Info, deviceConfig []byte) (*Pipeline, error) {
	ix, err := NewIndex(p4info)
	if err != nil {
		return nil, err
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(p4info)
	if err != nil {
		return nil, fmt.Errorf("p4info: %w", err)
	}
	h := sha256.New()
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(enc))))
	h.Write(enc)
	h.Write(deviceConfig)
	return &Pipeline{P4Info: p4info, DeviceConfig: deviceConfig, Cookie: binary.BigEndian.Uint64(h.Sum(nil)), Index: ix}, nil
}

// LoadPipeline reads a P4Info file (see LoadP4Info) and a device config
// file and returns their pipeline.
func LoadPipeline(p4infoPath, deviceConfigPath string) (*Pipeline, error) {
	info, err := LoadP4Info(p4infoPath)
	if err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile(deviceConfigPath)
	if err != nil {
		return nil, fmt.Errorf("device config: %w", err)
	}
	return NewPipeline(info, cfg)
}

// SetPipeline makes p the target's pipeline and the client's index. It first
// asks the target for its cookie and, when it is p's, does not push: a
// restarted controller keeps the target's tables instead of wiping them. It
// reports whether it pushed. Only the primary may push.
func (c *Client) SetPipeline(ctx context.Context, p *Pipeline) (pushed bool, err error) {
	return c.setPipeline(ctx, p, false)
}

func (c *Client) setPipeline(ctx context.Context, p *Pipeline, restoring bool) (bool, error) {
	if !restoring && !c.IsPrimary() {
		return false, notPrimaryError("set pipeline", c.Arbitration())
	}
	cookie, err := c.targetCookie(ctx)
	if err != nil {
		return false, err
	}
	if cookie != 0 && cookie == p.Cookie {
		c.installPipeline(p, false)
		c.log.Info("target already runs the pipeline: not pushing", "cookie", p.Cookie)
		return false, nil
	}
	req := &p4v1.SetForwardingPipelineConfigRequest{
		DeviceId: c.cfg.deviceID,
		Role:     c.cfg.role,
		Action:   p4v1.SetForwardingPipelineConfigRequest_VERIFY_AND_COMMIT,
		Config: &p4v1.ForwardingPipelineConfig{
			P4Info:         p.P4Info,
			P4DeviceConfig: p.DeviceConfig,
			Cookie:         &p4v1.ForwardingPipelineConfig_Cookie{Cookie: p.Cookie},
		},
	}
	req.ElectionId = c.electionIDProto()
	if _, err := c.rpc.SetForwardingPipelineConfig(ctx, req); err != nil {
		return false, fmt.Errorf("p4rt: set pipeline (cookie %#x): %w", p.Cookie, err)
	}
	c.installPipeline(p, true)
	c.log.Info("pushed pipeline", "cookie", p.Cookie, "previous_cookie", cookie)
	return true, nil
}

// targetCookie returns the cookie of the target's pipeline, 0 when it has
// none (or one set without a cookie).
func (c *Client) targetCookie(ctx context.Context) (uint64, error) {
	resp, err := c.rpc.GetForwardingPipelineConfig(ctx, &p4v1.GetForwardingPipelineConfigRequest{
		DeviceId: c.cfg.deviceID, ResponseType: p4v1.GetForwardingPipelineConfigRequest_COOKIE_ONLY,
	})
	switch status.Code(err) {
	case codes.OK:
		return resp.GetConfig().GetCookie().GetCookie(), nil
	case codes.FailedPrecondition:
		return 0, nil // BMv2 (PI) before any pipeline
	}
	return 0, fmt.Errorf("p4rt: get pipeline cookie: %w", err)
}

// installPipeline makes p the client's pipeline. A pushed pipeline cleared
// the target's forwarding state, digest configuration included.
func (c *Client) installPipeline(p *Pipeline, pushed bool) {
	c.index.Store(p.Index)
	c.mu.Lock()
	c.pipeline = p
	if pushed {
		clear(c.digestConfigs)
	}
	c.mu.Unlock()
}

// UsePipeline makes p the client's index without contacting the target,
// for a backup or read-only client that knows the program.
func (c *Client) UsePipeline(p *Pipeline) { c.index.Store(p.Index) }

// FetchPipeline reads the target's P4Info and cookie and makes that
// pipeline the client's index. The result has no device config.
func (c *Client) FetchPipeline(ctx context.Context) (*Pipeline, error) {
	resp, err := c.rpc.GetForwardingPipelineConfig(ctx, &p4v1.GetForwardingPipelineConfigRequest{
		DeviceId: c.cfg.deviceID, ResponseType: p4v1.GetForwardingPipelineConfigRequest_P4INFO_AND_COOKIE,
	})
	if err != nil {
		return nil, fmt.Errorf("p4rt: get pipeline: %w", err)
	}
	if resp.GetConfig().GetP4Info() == nil {
		return nil, status.Error(codes.FailedPrecondition, "p4rt: get pipeline: the target has no pipeline")
	}
	ix, err := NewIndex(resp.GetConfig().GetP4Info())
	if err != nil {
		return nil, fmt.Errorf("p4rt: the target's %w", err)
	}
	p := &Pipeline{P4Info: resp.GetConfig().GetP4Info(), Cookie: resp.GetConfig().GetCookie().GetCookie(), Index: ix}
	c.index.Store(ix)
	return p, nil
}
