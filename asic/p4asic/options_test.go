package p4asic_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/asic/p4asic"
	"github.com/p4evpn/p4evpn/p4"
	"github.com/p4evpn/p4evpn/p4rt"
)

// Options that cannot work are refused before anything is dialed, naming
// the value.
func TestNewRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		opts    []p4asic.Option
		wantErr string
	}{
		{desc: "no target", opts: nil, wantErr: "exactly one of WithAddress and WithClient"},
		{desc: "empty address", opts: []p4asic.Option{p4asic.WithAddress("")}, wantErr: "empty target address"},
		{desc: "batch size 0", opts: []p4asic.Option{p4asic.WithAddress("127.0.0.1:1"), p4asic.WithBatchSize(0)}, wantErr: "batch size 0"},
		{desc: "cpu port too wide", opts: []p4asic.Option{p4asic.WithAddress("127.0.0.1:1"), p4asic.WithCPUPort(512)}, wantErr: "cpu port 512"},
		{desc: "one pipeline file", opts: []p4asic.Option{p4asic.WithAddress("127.0.0.1:1"), p4asic.WithPipelineFiles("x.txtpb", "")}, wantErr: `"x.txtpb", ""`},
		{desc: "missing pipeline files", opts: []p4asic.Option{p4asic.WithAddress("127.0.0.1:1"), p4asic.WithPipelineFiles("/nonexistent/a.txtpb", "/nonexistent/a.json")}, wantErr: "/nonexistent/a.txtpb"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			sw, err := p4asic.New(context.Background(), tc.opts...)
			if err == nil {
				sw.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// Write latency and failed updates are counted by entity kind on the
// caller's registry; a second switch on the same registry is refused.
func TestMetrics(t *testing.T) {
	r := startRig(t, "127.0.0.1:0", false)
	reg := prometheus.NewRegistry()
	sw := newSwitch(t, r.addr, 1, p4asic.WithRegistry(reg))
	write(t, sw, sets(baseState()...)...)
	err := sw.Write(context.Background(), []asic.Update{asic.Delete(asic.RemotePE{ID: pe1}), asic.Set(asic.BridgeDomain{ID: 99, UnicastLabel: 1})})
	if err == nil {
		t.Fatal("Write of invalid updates succeeded")
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			kind := label(m, "kind")
			if got[f.GetName()] == nil {
				got[f.GetName()] = map[string]float64{}
			}
			if h := m.GetHistogram(); h != nil {
				got[f.GetName()][kind] = float64(h.GetSampleCount())
			} else {
				got[f.GetName()][kind] = m.GetCounter().GetValue()
			}
		}
	}
	if got["p4asic_write_seconds"]["fdb-entry"] == 0 || got["p4asic_write_seconds"]["flood-group"] == 0 {
		t.Errorf("p4asic_write_seconds samples by kind = %v, want fdb-entry and flood-group", got["p4asic_write_seconds"])
	}
	if e := got["p4asic_write_errors_total"]; e["remote-pe"] != 1 || e["bridge-domain"] != 1 {
		t.Errorf("p4asic_write_errors_total by kind = %v, want remote-pe 1, bridge-domain 1", e)
	}
	ctx := context.Background()
	if _, err := p4asic.New(ctx, p4asic.WithClient(sw.Client()), p4asic.WithRegistry(reg)); err == nil || !strings.Contains(err.Error(), "already uses this registry") {
		t.Errorf("second switch on the same registry: %v, want a refusal", err)
	}
	sw.Close()
	next := newSwitch(t, r.addr, 2, p4asic.WithRegistry(reg))
	if err := next.Close(); err != nil {
		t.Errorf("a switch on the registry of a closed one: %v", err)
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// A switch on a client its caller dialed uses it and leaves it open.
func TestWithClient(t *testing.T) {
	r := startRig(t, "127.0.0.1:0", false)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, err := p4rt.Connect(ctx, r.addr, p4rt.WithDeviceID(deviceID), p4rt.WithElectionID(p4rt.ElectionID{Low: 1}), p4rt.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sw, err := p4asic.New(ctx, p4asic.WithClient(c), p4asic.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	write(t, sw, sets(baseState()...)...)
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := c.ReadTableEntries(ctx, p4.TableFDB)
	if err != nil {
		t.Fatalf("the caller's client after the switch's Close: %v", err)
	}
	if len(entries) != 4 {
		t.Errorf("ingress.fdb holds %d entries, want the 4 of baseState", len(entries))
	}
}
