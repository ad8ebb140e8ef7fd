package evpn

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/asic/memswitch"
	"github.com/p4evpn/p4evpn/evpn/route"
)

func TestConfigErrors(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	tests := []struct {
		desc    string
		cfg     Config
		wantErr string
	}{
		{desc: "router id must be IPv4", cfg: Config{RouterID: netip.MustParseAddr("2001:db8::1")}, wantErr: "router id 2001:db8::1"},
		{desc: "label range inside 16..2^20-1", cfg: Config{RouterID: pe1Addr, Labels: LabelRange{First: 5, Last: 10}}, wantErr: "label range 5-10"},
		{desc: "core port required", cfg: Config{RouterID: pe1Addr, Labels: LabelRange{First: 100, Last: 200}}, wantErr: "core port 0"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New: err %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	evis := []struct {
		desc    string
		cfg     EVIConfig
		wantErr string
	}{
		{desc: "EVI 0", cfg: EVIConfig{ID: 0, BD: 1}, wantErr: "add evi 0"},
		{desc: "EVI beyond 16 bits", cfg: EVIConfig{ID: 70000, BD: 1}, wantErr: "add evi 70000"},
		{desc: "unknown segment", cfg: EVIConfig{ID: 5, BD: 5, ACs: []ACConfig{{ID: 9, Port: 9, ESI: esi1}}}, wantErr: "segment " + esi1.String()},
		{desc: "static MAC on foreign AC", cfg: EVIConfig{ID: 5, BD: 5, ACs: []ACConfig{{ID: 9, Port: 9}}, StaticMACs: []StaticMAC{{MAC: mac1, AC: 7}}}, wantErr: "attachment circuit 7"},
		{desc: "VLAN out of range", cfg: EVIConfig{ID: 5, BD: 5, ACs: []ACConfig{{ID: 9, Port: 9, VLAN: 4095}}}, wantErr: "VLAN 4095 inner 0"},
		{desc: "port and VLAN used twice", cfg: EVIConfig{ID: 5, BD: 5, ACs: []ACConfig{{ID: 8, Port: 9, VLAN: 7}, {ID: 9, Port: 9, VLAN: 7}}}, wantErr: "port 9 VLAN 7 inner 0 already belongs to attachment circuit 8"},
		{desc: "inner tag without an outer one", cfg: EVIConfig{ID: 5, BD: 5, ACs: []ACConfig{{ID: 9, Port: 9, InnerVLAN: 7}}}, wantErr: "an inner tag needs an outer one"},
		{desc: "AC on the core port", cfg: EVIConfig{ID: 5, BD: 5, ACs: []ACConfig{{ID: 9, Port: corePort}}}, wantErr: "port 100 is a core port"},
	}
	for _, tc := range evis {
		t.Run(tc.desc, func(t *testing.T) {
			err := h.pe.AddEVI(h.ctx, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("AddEVI: err %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if err := h.pe.AddSegment(h.ctx, SegmentConfig{ESI: route.ESI{2, 1}}); err == nil || !strings.Contains(err.Error(), "ESI type 2") {
		t.Errorf("AddSegment type 2: err %v, want ESI type error", err)
	}
}

func TestEVIAutoDerivation_RFC7432_7_9_7_10(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.singleHomed()
	rt := h.sp.routes(route.TypeInclusiveMulticast)
	if len(rt) != 1 {
		t.Fatalf("IMET routes: %v, want 1", rt)
	}
	n := rt[0].NLRI.(route.InclusiveMulticast)
	if want := route.MustRD("192.0.2.1:10"); n.RD != want {
		t.Errorf("§7.9 RD = %v, want %v", n.RD, want)
	}
	if want := []route.RouteTarget{mustRT("65000:10")}; !slices.Equal(rt[0].Attrs.RouteTargets, want) {
		t.Errorf("§7.10.1 RTs = %v, want %v", rt[0].Attrs.RouteTargets, want)
	}
	ev := h.pe.EVIs()[0]
	if ev.UnicastLabel < 1000 || ev.UnicastLabel > 1999 || ev.BUMLabel < 1000 || ev.BUMLabel > 1999 || ev.UnicastLabel == ev.BUMLabel {
		t.Errorf("labels %d/%d, want two distinct labels from 1000-1999", ev.UnicastLabel, ev.BUMLabel)
	}
	if got := rt[0].Attrs.PMSI; got == nil || got.Label != ev.BUMLabel || got.TunnelType != route.TunnelTypeIngressReplication {
		t.Errorf("§11.1 PMSI = %+v, want ingress replication with BUM label %d", got, ev.BUMLabel)
	}
	bd, ok := h.sw.Get(asic.BridgeDomain{ID: 10}.Key())
	if want := (asic.BridgeDomain{ID: 10, UnicastLabel: ev.UnicastLabel, BUMLabel: ev.BUMLabel}); !ok || bd != want {
		t.Errorf("bridge domain %v, want %v", bd, want)
	}
}

func TestLabelRangeExhausted(t *testing.T) {
	h := newHarness(t, pe1Addr, func(c *Config) { c.Labels = LabelRange{First: 100, Last: 102} })
	h.must(h.pe.AddEVI(h.ctx, EVIConfig{ID: 1, BD: 1}))
	err := h.pe.AddEVI(h.ctx, EVIConfig{ID: 2, BD: 2})
	if err == nil || !strings.Contains(err.Error(), "label range 100-102 exhausted") {
		t.Fatalf("second EVI: err %v, want exhaustion naming the range", err)
	}
}

func TestLocalLearning_RFC7432_9_1(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.multiHomed(SegmentConfig{})
	h.learn(mac1, 1)
	h.learn(mac2, 2)
	tests := []struct {
		desc    string
		mac     route.MAC
		wantAC  asic.ACID
		wantESI route.ESI
	}{
		{desc: "MAC on the segment carries its ESI", mac: mac1, wantAC: 1, wantESI: esi1},
		{desc: "single-homed MAC carries the zero ESI", mac: mac2, wantAC: 2},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			f, ok := h.fdb(tc.mac)
			if !ok || f.Dest != (asic.Destination{Kind: asic.ToAC, AC: tc.wantAC}) {
				t.Errorf("FDB %v, want to AC %d", f, tc.wantAC)
			}
			p, ok := h.sp.macRoute(tc.mac)
			if !ok {
				t.Fatalf("no RT-2 for %s", tc.mac)
			}
			if got := p.NLRI.(route.MACIP).ESI; got != tc.wantESI {
				t.Errorf("RT-2 ESI %v, want %v", got, tc.wantESI)
			}
			if p.Attrs.MACMobility != nil {
				t.Errorf("first advertisement carries MAC mobility %+v, want none (sequence 0)", p.Attrs.MACMobility)
			}
		})
	}
	if err := h.pe.HandleSwitchEvent(h.ctx, asic.Event{Kind: asic.EventLearn, BD: 10, MAC: route.MustMAC("01:00:5e:00:00:01"), AC: 1}); err == nil {
		t.Error("learning a multicast MAC succeeded, want an error")
	}
	if err := h.pe.HandleSwitchEvent(h.ctx, asic.Event{Kind: asic.EventLearn, BD: 99, MAC: mac1, AC: 1}); err == nil || !strings.Contains(err.Error(), "bridge domain 99") {
		t.Errorf("learn in unknown bd: err %v, want one naming bridge domain 99", err)
	}
}

func TestAgeing_RFC7432_9_1(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.singleHomed()
	h.learn(mac1, 1)
	h.learn(mac2, 1)
	h.clock.Advance(200 * time.Second)
	h.must(h.pe.HandleSwitchEvent(h.ctx, asic.Event{Kind: asic.EventActivity, BD: 10, MAC: mac2}))
	h.clock.Advance(131 * time.Second) // 331 s: mac1 idle past 300 s plus one sweep
	if _, ok := h.fdb(mac1); ok {
		t.Error("idle MAC still in the FDB after ageing")
	}
	if _, ok := h.sp.macRoute(mac1); ok {
		t.Error("idle MAC's RT-2 not withdrawn")
	}
	if _, ok := h.fdb(mac2); !ok {
		t.Error("active MAC aged out")
	}
	if c := h.pe.Counters(); c.Aged != 1 {
		t.Errorf("Aged = %d, want 1", c.Aged)
	}
}

func TestMACLimits(t *testing.T) {
	tests := []struct {
		desc        string
		eviLimit    int
		acLimit     int
		wantMACs    int
		wantDrops   uint64
		wantACDrops uint64
	}{
		{desc: "per-EVI limit", eviLimit: 2, wantMACs: 2, wantDrops: 2},
		{desc: "per-AC limit", acLimit: 3, wantMACs: 3, wantDrops: 1, wantACDrops: 1},
		{desc: "no limit", wantMACs: 4},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := newHarness(t, pe1Addr, nil)
			h.must(h.pe.AddEVI(h.ctx, EVIConfig{ID: 10, BD: 10, MACLimit: tc.eviLimit, ACs: []ACConfig{{ID: 1, Port: 1, MACLimit: tc.acLimit}}}))
			for i := range 4 {
				h.learn(route.MAC{2, 0, 0, 0, 1, byte(i)}, 1)
			}
			if got := len(h.sw.Entities(asic.KindFDBEntry)); got != tc.wantMACs {
				t.Errorf("FDB entries %d, want %d", got, tc.wantMACs)
			}
			if c := h.pe.Counters(); c.MACLimitDrops != tc.wantDrops {
				t.Errorf("MACLimitDrops %d, want %d", c.MACLimitDrops, tc.wantDrops)
			}
			st := h.pe.EVIs()[0]
			if st.MACLimitDrops != tc.wantDrops {
				t.Errorf("EVI MACLimitDrops %d, want %d", st.MACLimitDrops, tc.wantDrops)
			}
			if st.ACs[0].MACLimitDrops != tc.wantACDrops || st.ACs[0].LocalMACs != tc.wantMACs {
				t.Errorf("AC state %+v, want %d drops by its own limit and %d MACs", st.ACs[0], tc.wantACDrops, tc.wantMACs)
			}
		})
	}
}

func TestRemoteMAC_RFC7432_9_2_2(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.singleHomed()
	h.path(macPath(pe2Addr, mac1, route.ESI{}, 3001, 0, false))
	f, ok := h.fdb(mac1)
	if !ok || f.Dest.Kind != asic.ToRemotePE || f.Dest.Label != 3001 {
		t.Fatalf("FDB %+v, want to remote PE with label 3001", f)
	}
	r, ok := h.sw.Get(asic.RemotePE{ID: f.Dest.PE}.Key())
	want := asic.RemotePE{ID: f.Dest.PE, Address: pe2Addr, CorePort: corePort,
		SourceMAC: route.MustMAC("02:ff:00:00:00:aa"), NextHopMAC: route.MustMAC("02:ff:00:00:00:01"), TransportLabel: 16001}
	if !ok || r != want {
		t.Errorf("tunnel %+v, want %+v", r, want)
	}
	h.must(h.pe.HandleWithdraw(h.ctx, route.MACIP{RD: rd(pe2Addr, 10), MAC: mac1}))
	if _, ok := h.fdb(mac1); ok {
		t.Error("FDB entry survives the withdrawal")
	}
	if n := len(h.sw.Entities(asic.KindRemotePE)); n != 0 {
		t.Errorf("%d tunnels left, want 0 after the last route of the PE went", n)
	}
	// A route with no matching route target is not imported.
	p := macPath(pe2Addr, mac2, route.ESI{}, 3001, 0, false)
	p.Attrs.RouteTargets = []route.RouteTarget{mustRT("65000:999")}
	h.path(p)
	if _, ok := h.fdb(mac2); ok {
		t.Error("route with a foreign RT installed")
	}
}

func TestAliasing_RFC7432_8_4_14_1(t *testing.T) {
	tests := []struct {
		desc         string
		routes       []route.Path
		wantMembers  []string
		singleActive bool
	}{
		{
			desc: "§8.4 all-active: both PEs with per-ES and per-EVI A-D",
			routes: []route.Path{
				perESPathFor(pe2Addr, esi1, 5001, false), perESPathFor(pe3Addr, esi1, 6001, false),
				perEVIPathFor(pe2Addr, esi1, 3001), perEVIPathFor(pe3Addr, esi1, 4001),
				macPath(pe2Addr, mac1, esi1, 3001, 0, false),
			},
			wantMembers: []string{"192.0.2.2", "192.0.2.3"},
		},
		{
			desc: "§8.4 no per-EVI A-D from PE3: not an aliasing member",
			routes: []route.Path{
				perESPathFor(pe2Addr, esi1, 5001, false), perESPathFor(pe3Addr, esi1, 6001, false),
				perEVIPathFor(pe2Addr, esi1, 3001),
				macPath(pe2Addr, mac1, esi1, 3001, 0, false),
			},
			wantMembers: []string{"192.0.2.2"},
		},
		{
			desc: "§8.2 no per-ES A-D at all: the MAC is unresolved and drops",
			routes: []route.Path{
				perEVIPathFor(pe2Addr, esi1, 3001),
				macPath(pe2Addr, mac1, esi1, 3001, 0, false),
			},
			wantMembers: nil,
		},
		{
			desc: "§14.1.1 single-active: the advertising PE first, the other as backup",
			routes: []route.Path{
				perESPathFor(pe2Addr, esi1, 5001, true), perESPathFor(pe3Addr, esi1, 6001, true),
				perEVIPathFor(pe2Addr, esi1, 3001), perEVIPathFor(pe3Addr, esi1, 4001),
				macPath(pe3Addr, mac1, esi1, 4001, 0, false),
			},
			wantMembers:  []string{"192.0.2.3", "192.0.2.2"},
			singleActive: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := newHarness(t, pe1Addr, nil)
			h.singleHomed()
			for _, p := range tc.routes {
				h.path(p)
			}
			f, ok := h.fdb(mac1)
			if !ok || f.Dest.Kind != asic.ToAliasingGroup {
				t.Fatalf("FDB %+v, want to an aliasing group", f)
			}
			g, _ := h.sw.Get(asic.AliasingGroup{ID: f.Dest.Group}.Key())
			var got []string
			for _, id := range g.(asic.AliasingGroup).Members {
				r, _ := h.sw.Get(asic.RemotePE{ID: id}.Key())
				got = append(got, r.(asic.RemotePE).Address.String())
			}
			if diff := cmp.Diff(tc.wantMembers, got); diff != "" {
				t.Errorf("members (-want +got):\n%s", diff)
			}
			if g.(asic.AliasingGroup).SingleActive != tc.singleActive {
				t.Errorf("SingleActive %v, want %v", g.(asic.AliasingGroup).SingleActive, tc.singleActive)
			}
		})
	}
}

func TestMassWithdrawal_RFC7432_8_2(t *testing.T) {
	for _, trigger := range []string{"per-ES A-D withdrawal", "PE3 ES link down"} {
		t.Run(trigger, func(t *testing.T) {
			h := newHarness(t, pe1Addr, nil)
			h.singleHomed()
			for _, p := range []route.Path{
				perESPathFor(pe2Addr, esi1, 5001, false), perESPathFor(pe3Addr, esi1, 6001, false),
				perEVIPathFor(pe2Addr, esi1, 3001), perEVIPathFor(pe3Addr, esi1, 4001),
			} {
				h.path(p)
			}
			const n = 1000
			for i := range n {
				h.path(macPath(pe3Addr, route.MAC{2, 1, 0, 0, byte(i >> 8), byte(i)}, esi1, 4001, 0, false))
			}
			h.sw.TakeLog()
			h.must(h.pe.HandleWithdraw(h.ctx, route.EthernetAD{RD: rd(pe3Addr, 0), ESI: esi1, EthernetTag: route.MaxEthernetTag}))
			log := h.sw.TakeLog()
			if len(log) != 1 || log[0].Op != asic.OpSet || log[0].Entity.Key().Kind != asic.KindAliasingGroup {
				t.Fatalf("mass withdrawal of %d MACs wrote %v, want one aliasing group update", n, log)
			}
			g := log[0].Entity.(asic.AliasingGroup)
			r, _ := h.sw.Get(asic.RemotePE{ID: g.Members[0]}.Key())
			if len(g.Members) != 1 || r.(asic.RemotePE).Address != pe2Addr {
				t.Errorf("group after withdrawal %+v, want only %v", g, pe2Addr)
			}
		})
	}
}

// TestBackupPath_RFC7432_14_1_1: on a single-active remote segment the
// primary's per-ES A-D withdrawal switches every MAC to the backup PE in
// one write.
func TestBackupPath_RFC7432_14_1_1(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.singleHomed()
	for _, p := range []route.Path{
		perESPathFor(pe2Addr, esi1, 5001, true), perESPathFor(pe3Addr, esi1, 6001, true),
		perEVIPathFor(pe2Addr, esi1, 3001), perEVIPathFor(pe3Addr, esi1, 4001),
	} {
		h.path(p)
	}
	for i := range 50 {
		h.path(macPath(pe3Addr, route.MAC{2, 3, 0, 0, 0, byte(i)}, esi1, 4001, 0, false))
	}
	h.sw.TakeLog()
	h.must(h.pe.HandleWithdraw(h.ctx, perESPathFor(pe3Addr, esi1, 0, true).NLRI))
	log := h.sw.TakeLog()
	if len(log) != 1 {
		t.Fatalf("failover of 50 MACs wrote %v, want one group update", log)
	}
	g := log[0].Entity.(asic.AliasingGroup)
	r, _ := h.sw.Get(asic.RemotePE{ID: g.Members[0]}.Key())
	if !g.SingleActive || len(g.Members) != 1 || r.(asic.RemotePE).Address != pe2Addr {
		t.Errorf("group after failover %+v, want single-active [%v]", g, pe2Addr)
	}
}

func TestPeerDown_RFC7432_8_2(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.singleHomed()
	for _, p := range []route.Path{
		perESPathFor(pe2Addr, esi1, 5001, false), perESPathFor(pe3Addr, esi1, 6001, false),
		perEVIPathFor(pe2Addr, esi1, 3001), perEVIPathFor(pe3Addr, esi1, 4001),
		imetPathFor(pe2Addr, 3002), imetPathFor(pe3Addr, 4002),
		macPath(pe2Addr, mac1, esi1, 3001, 0, false), macPath(pe3Addr, mac1, esi1, 4001, 0, false),
		macPath(pe3Addr, mac2, route.ESI{}, 4001, 0, false),
	} {
		h.path(p)
	}
	h.sw.TakeLog()
	h.must(h.pe.PeerDown(h.ctx, pe3Addr))
	log := h.sw.TakeLog()
	if len(log) == 0 || log[0].Entity.Key().Kind != asic.KindAliasingGroup {
		t.Fatalf("first update after PeerDown %v, want the aliasing group (fast failover first)", log)
	}
	want := []string{
		"fdb bd 10 02:00:00:00:00:01 -> group[192.0.2.2] sa false pinned false",
		"flood bd 10 192.0.2.2/3002,ac1,ac2",
		"service bd 10 192.0.2.2 label 3001",
	}
	if diff := cmp.Diff(want, forwarding(t, h.sw)); diff != "" {
		t.Errorf("forwarding after PE3 went down (-want +got):\n%s", diff)
	}
}

func TestLabelFallback_FRRLostRT1Label(t *testing.T) {
	tests := []struct {
		desc      string
		adLabel   uint32
		routes    []route.Path
		wantLabel uint32
		wantCount uint64
	}{
		{desc: "per-EVI A-D label kept", adLabel: 3001, routes: []route.Path{macPath(pe2Addr, mac1, esi1, 3001, 0, false)}, wantLabel: 3001},
		{desc: "label lost as 0: RT-2 label used", adLabel: 0, routes: []route.Path{macPath(pe2Addr, mac1, esi1, 3001, 0, false)}, wantLabel: 3001, wantCount: 1},
		{desc: "label of another route: RT-2 label used", adLabel: 7777, routes: []route.Path{macPath(pe2Addr, mac1, esi1, 3001, 0, false)}, wantLabel: 3001, wantCount: 1},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := newHarness(t, pe1Addr, nil)
			h.singleHomed()
			h.path(perESPathFor(pe2Addr, esi1, 5001, false))
			h.path(perEVIPathFor(pe2Addr, esi1, tc.adLabel))
			for _, p := range tc.routes {
				h.path(p)
			}
			ls := h.sw.Entities(asic.KindServiceLabel)
			if len(ls) != 1 || ls[0].(asic.ServiceLabel).Label != tc.wantLabel {
				t.Fatalf("service labels %v, want one with label %d", ls, tc.wantLabel)
			}
			if c := h.pe.Counters(); c.LabelFallbacks != tc.wantCount {
				t.Errorf("LabelFallbacks %d, want %d", c.LabelFallbacks, tc.wantCount)
			}
		})
	}
	t.Run("label lost, no RT-2: IMET label used", func(t *testing.T) {
		h := newHarness(t, pe1Addr, nil)
		h.singleHomed()
		h.path(imetPathFor(pe2Addr, 3002))
		h.path(perEVIPathFor(pe2Addr, esi1, 0))
		ls := h.sw.Entities(asic.KindServiceLabel)
		if len(ls) != 1 || ls[0].(asic.ServiceLabel).Label != 3002 {
			t.Fatalf("service labels %v, want the IMET label 3002", ls)
		}
	})
}

func TestFloodList_RFC7432_11(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.singleHomed()
	h.path(imetPathFor(pe2Addr, 3002))
	p := imetPathFor(pe3Addr, 4002)
	p.Attrs.PMSI.TunnelID = netip.MustParseAddr("198.51.100.1") // rewritten by an RR
	h.path(p)
	want := []string{"flood bd 10 192.0.2.2/3002,192.0.2.3/4002,ac1,ac2"}
	if diff := cmp.Diff(want, forwarding(t, h.sw)); diff != "" {
		t.Errorf("flood list (-want +got):\n%s", diff)
	}
	h.must(h.pe.HandleWithdraw(h.ctx, route.InclusiveMulticast{RD: rd(pe2Addr, 10), OriginatorIP: pe2Addr}))
	want = []string{"flood bd 10 192.0.2.3/4002,ac1,ac2"}
	if diff := cmp.Diff(want, forwarding(t, h.sw)); diff != "" {
		t.Errorf("flood list after withdrawal (-want +got):\n%s", diff)
	}
	p = imetPathFor(pe2Addr, 3002)
	p.Attrs.PMSI = nil
	if err := h.pe.HandlePath(h.ctx, p); err == nil || !strings.Contains(err.Error(), "PMSI") {
		t.Errorf("IMET without PMSI: err %v, want a PMSI error", err)
	}
	if err := h.pe.HandlePath(h.ctx, imetPathFor(pe2Addr, 1<<20)); err == nil || !strings.Contains(err.Error(), "label 1048576") {
		t.Errorf("IMET with a 21-bit label: err %v, want one naming the label", err)
	}
	if err := h.pe.HandlePath(h.ctx, macPath(pe2Addr, mac1, route.ESI{}, 5_000_000, 0, false)); err == nil || !strings.Contains(err.Error(), "label 5000000") {
		t.Errorf("RT-2 with a VNI-sized label: err %v, want one naming the label", err)
	}
}

func TestSplitHorizon_RFC7432_8_3(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.multiHomed(SegmentConfig{})
	segs := h.pe.Segments()
	per := h.sp.routes(route.TypeEthernetAD)
	var perES *route.Path
	for i := range per {
		if per[i].NLRI.(route.EthernetAD).PerES() {
			perES = &per[i]
		}
	}
	if perES == nil || perES.Attrs.ESILabel == nil || perES.Attrs.ESILabel.Label != segs[0].ESILabel {
		t.Fatalf("per-ES A-D %+v, want ESI label %d", perES, segs[0].ESILabel)
	}
	if !slices.Equal(perES.Attrs.RouteTargets, []route.RouteTarget{remoteRT}) {
		t.Errorf("per-ES A-D RTs %v, want the EVI's %v", perES.Attrs.RouteTargets, remoteRT)
	}
	h.path(perESPathFor(pe2Addr, esi1, 5001, false))
	sp := h.sw.Entities(asic.KindSegmentPeer)
	if len(sp) != 1 || sp[0].(asic.SegmentPeer).ESILabel != 5001 {
		t.Fatalf("segment peers %v, want PE2 with ESI label 5001", sp)
	}
	seg, _ := h.sw.Get(asic.Segment{ID: sp[0].(asic.SegmentPeer).Segment}.Key())
	if seg.(asic.Segment).ESILabel != segs[0].ESILabel {
		t.Errorf("segment filter label %d, want own ESI label %d", seg.(asic.Segment).ESILabel, segs[0].ESILabel)
	}
	h.must(h.pe.HandleWithdraw(h.ctx, perESPathFor(pe2Addr, esi1, 0, false).NLRI))
	if sp := h.sw.Entities(asic.KindSegmentPeer); len(sp) != 0 {
		t.Errorf("segment peers after withdrawal %v, want none", sp)
	}
}

func TestOwnReflectedRouteIgnored_RFC4456(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.singleHomed()
	h.path(macPath(pe2Addr, mac1, route.ESI{}, 3001, 0, false))
	// The same key comes back with our own next hop: it replaces PE2's path.
	p := macPath(pe2Addr, mac1, route.ESI{}, 3001, 0, false)
	p.Attrs.OriginatorID = pe1Addr
	h.path(p)
	if _, ok := h.fdb(mac1); ok {
		t.Error("stale path survived its replacement by our own reflected route")
	}
	if c := h.pe.Counters(); c.OwnRoutesIgnored != 1 {
		t.Errorf("OwnRoutesIgnored %d, want 1", c.OwnRoutesIgnored)
	}
}

func TestReconcile(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.multiHomed(SegmentConfig{})
	h.learn(mac1, 1)
	h.path(imetPathFor(pe2Addr, 3002))
	h.path(macPath(pe2Addr, mac2, route.ESI{}, 3001, 0, false))
	n, err := h.pe.Reconcile(h.ctx)
	if err != nil || n != 0 {
		t.Fatalf("Reconcile of an intact switch: %d updates, err %v; want 0", n, err)
	}
	f, _ := h.fdb(mac2)
	f.Dest.Label = 9999
	h.must(h.sw.Write(h.ctx, []asic.Update{asic.Set(f), asic.Delete(asic.FDBEntry{BD: 10, MAC: mac1})}))
	before := forwarding(t, h.sw)
	n, err = h.pe.Reconcile(h.ctx)
	if err != nil || n != 2 {
		t.Fatalf("Reconcile of 2 corrupted entries: %d updates, err %v; want 2", n, err)
	}
	if cmp.Equal(before, forwarding(t, h.sw)) {
		t.Error("Reconcile changed nothing")
	}
	if f, _ := h.fdb(mac2); f.Dest.Label != 3001 {
		t.Errorf("repaired entry label %d, want 3001", f.Dest.Label)
	}
	if _, ok := h.fdb(mac1); !ok {
		t.Error("deleted entry not restored")
	}
}

func TestSubscribe(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.singleHomed()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := h.pe.Subscribe(ctx, 2)
	h.must(err)
	h.learn(mac1, 1)
	h.learn(mac2, 1)
	h.learn(route.MustMAC("02:00:00:00:00:03"), 1)
	ev := <-ch
	if ev.Kind != EventMACAdded || ev.MAC != mac1 || ev.AC != 1 {
		t.Errorf("first event %+v, want mac-added %s on AC 1", ev, mac1)
	}
	if c := h.pe.Counters(); c.EventsDropped != 1 {
		t.Errorf("EventsDropped %d, want 1 (buffer of 2, 3 events)", c.EventsDropped)
	}
	cancel()
	n := 0
	for range ch {
		n++
	}
	if n != 1 {
		t.Errorf("%d events left after cancel, want 1", n)
	}
	if err := h.pe.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.pe.Subscribe(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
}

// TestSegmentDown_RFC7432_8_2: a failed segment withdraws its per-ES A-D
// route first (what remote PEs act on), then the per-EVI A-D and ES routes,
// and the MACs learned on it.
func TestSegmentDown_RFC7432_8_2(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.multiHomed(SegmentConfig{})
	h.learn(mac1, 1)
	h.learn(mac2, 2)
	h.clock.Advance(3 * time.Second)
	h.sp.takeOps()
	h.must(h.pe.SetSegmentUp(h.ctx, esi1, false))
	ops := h.sp.takeOps()
	uni := h.pe.EVIs()[0].UnicastLabel
	want := []string{
		"withdraw [1][192.0.2.1:0][" + esi1.String() + "][4294967295] label 0",
		fmt.Sprintf("withdraw [1][192.0.2.1:10][%s][0] label %d", esi1, uni),
		"withdraw [4][192.0.2.1:0][" + esi1.String() + "][192.0.2.1]",
		fmt.Sprintf("withdraw [2][192.0.2.1:10][%s][0][02:00:00:00:00:01][] labels %d/0", esi1, uni),
	}
	if diff := cmp.Diff(want, ops); diff != "" {
		t.Errorf("speaker operations (-want +got):\n%s", diff)
	}
	if _, ok := h.fdb(mac2); !ok {
		t.Error("single-homed MAC flushed with the segment")
	}
	if s := h.pe.Segments()[0]; s.Up || s.DF[0].Local {
		t.Errorf("segment state %+v, want down and non-DF", s)
	}
	if err := h.pe.SetSegmentUp(h.ctx, route.ESI{0, 9}, false); err == nil {
		t.Error("SetSegmentUp of an unknown segment succeeded")
	}
}

// TestSegmentTypes_RFC7432_5_7_6: segments of ESI types 0, 1 and 3 are
// accepted and their ES route carries the ES-Import RT derived from the ESI.
func TestSegmentTypes_RFC7432_5_7_6(t *testing.T) {
	sys := route.MustMAC("00:aa:bb:cc:dd:ee")
	tests := []struct {
		desc string
		esi  route.ESI
	}{
		{desc: "type 0 operator", esi: esi1},
		{desc: "type 1 LACP", esi: route.ESIFromLACP(sys, 0x1234)},
		{desc: "type 3 MAC", esi: route.ESIFromMAC(sys, 0x42)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := newHarness(t, pe1Addr, nil)
			h.must(h.pe.AddSegment(h.ctx, SegmentConfig{ESI: tc.esi, Redundancy: SingleActive}))
			h.must(h.pe.AddEVI(h.ctx, EVIConfig{ID: 10, BD: 10, ACs: []ACConfig{{ID: 1, Port: 1, ESI: tc.esi}}}))
			es := h.sp.routes(route.TypeEthernetSegment)
			if len(es) != 1 {
				t.Fatalf("ES routes %v, want 1", es)
			}
			if got, want := es[0].Attrs.ESImport, tc.esi.ESImportRT(); got == nil || *got != want {
				t.Errorf("ES-Import %v, want %v", got, want)
			}
			if n := es[0].NLRI.(route.EthernetSegment); n.ESI != tc.esi || n.OriginatorIP != pe1Addr {
				t.Errorf("ES route %v, want ESI %v from %v", n, tc.esi, pe1Addr)
			}
			seg, _ := h.sw.Get(asic.Segment{ID: 1}.Key())
			if !seg.(asic.Segment).SingleActive {
				t.Errorf("segment filter %+v, want single-active", seg)
			}
		})
	}
}

func TestConfiguredRDAndRTs(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	rdc := route.MustRD("65000:777")
	imp, exp := mustRT("65000:1"), mustRT("65000:2")
	h.must(h.pe.AddEVI(h.ctx, EVIConfig{ID: 10, BD: 10, RD: &rdc, ImportRTs: []route.RouteTarget{imp}, ExportRTs: []route.RouteTarget{exp}, ACs: []ACConfig{{ID: 1, Port: 1}}}))
	im := h.sp.routes(route.TypeInclusiveMulticast)[0]
	if im.NLRI.Distinguisher() != rdc || !slices.Equal(im.Attrs.RouteTargets, []route.RouteTarget{exp}) {
		t.Errorf("IMET %v RTs %v, want RD %v RT %v", im.NLRI, im.Attrs.RouteTargets, rdc, exp)
	}
	p := macPath(pe2Addr, mac1, route.ESI{}, 3001, 0, false)
	p.Attrs.RouteTargets = []route.RouteTarget{imp}
	h.path(p)
	if _, ok := h.fdb(mac1); !ok {
		t.Error("route with the configured import RT not installed")
	}
}

func TestRemoveEVI(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.multiHomed(SegmentConfig{})
	h.must(h.pe.AddEVI(h.ctx, EVIConfig{ID: 11, BD: 11, ACs: []ACConfig{{ID: 3, Port: 1, VLAN: 11, ESI: esi1}}}))
	h.learn(mac1, 1)
	for _, p := range []route.Path{
		perESPathFor(pe2Addr, esi1, 5001, false), perEVIPathFor(pe2Addr, esi1, 3001), esPathFor(pe2Addr, esi1, nil),
		imetPathFor(pe2Addr, 3002), macPath(pe2Addr, mac2, esi1, 3001, 0, false),
		macPath(pe3Addr, route.MustMAC("02:00:00:00:00:03"), route.ESI{}, 4001, 0, false),
	} {
		h.path(p)
	}
	h.clock.Advance(3 * time.Second)
	h.must(h.pe.RemoveEVI(h.ctx, 10))
	for _, kind := range []asic.Kind{asic.KindFDBEntry, asic.KindServiceLabel, asic.KindAliasingGroup} {
		if got := h.sw.Entities(kind); len(got) != 0 {
			t.Errorf("%v left after RemoveEVI: %v", kind, got)
		}
	}
	if _, ok := h.sw.Get(asic.BridgeDomain{ID: 10}.Key()); ok {
		t.Error("bridge domain 10 left")
	}
	if got := len(h.sw.Entities(asic.KindRemotePE)); got != 1 {
		t.Errorf("%d tunnels left, want 1 (PE2's per-ES A-D still references it)", got)
	}
	for _, p := range h.sp.routes(route.TypeMACIP) {
		t.Errorf("MAC route %v still announced", p.NLRI)
	}
	if got := h.sp.routes(route.TypeEthernetSegment); len(got) != 1 {
		t.Errorf("ES routes %v, want the segment's (EVI 11 still uses it)", got)
	}
	if c := h.pe.Counters(); c.MACMoves != 0 {
		t.Errorf("MACMoves %d: dismantling an EVI is not a move", c.MACMoves)
	}
	if n, err := h.pe.Reconcile(h.ctx); err != nil || n != 0 {
		t.Errorf("Reconcile after RemoveEVI: %d updates, %v; want 0", n, err)
	}
	h.must(h.pe.RemoveEVI(h.ctx, 11))
	if got := h.sp.routes(route.TypeEthernetSegment); len(got) != 0 {
		t.Errorf("ES routes %v after the last EVI went, want none", got)
	}
	if err := h.pe.RemoveEVI(h.ctx, 11); err == nil || !strings.Contains(err.Error(), "evi 11") {
		t.Errorf("second RemoveEVI: %v, want an error naming evi 11", err)
	}
	if err := h.pe.RemoveSegment(h.ctx, esi1); err != nil {
		t.Fatalf("RemoveSegment: %v", err)
	}
	for _, kind := range []asic.Kind{asic.KindSegment, asic.KindSegmentPeer, asic.KindDFState, asic.KindAttachmentCircuit} {
		if got := h.sw.Entities(kind); len(got) != 0 {
			t.Errorf("%v left after removing everything: %v", kind, got)
		}
	}
	// The EVI can come back with the same labels and ids.
	h.singleHomed()
}

func TestRemoveSegmentInUse(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.multiHomed(SegmentConfig{})
	if err := h.pe.RemoveSegment(h.ctx, esi1); err == nil || !strings.Contains(err.Error(), "still used by evi 10") {
		t.Errorf("RemoveSegment of a used segment: %v, want an error naming evi 10", err)
	}
}

func TestSwitchAgeing(t *testing.T) {
	h := newHarness(t, pe1Addr, func(c *Config) { c.SwitchAgeing = true })
	h.singleHomed()
	h.learn(mac1, 1)
	h.path(macPath(pe2Addr, mac2, route.ESI{}, 3001, 0, false))
	if f, _ := h.fdb(mac1); f.IdleTimeout != DefaultMACAgeing {
		t.Errorf("learned entry idle timeout %v, want %v", f.IdleTimeout, DefaultMACAgeing)
	}
	if f, _ := h.fdb(mac2); f.IdleTimeout != 0 {
		t.Errorf("remote entry idle timeout %v, want none", f.IdleTimeout)
	}
	h.clock.Advance(time.Hour)
	if _, ok := h.fdb(mac1); !ok {
		t.Fatal("PE aged a MAC the switch ages")
	}
	h.must(h.pe.HandleSwitchEvent(h.ctx, asic.Event{Kind: asic.EventIdle, BD: 10, MAC: mac1}))
	if _, ok := h.fdb(mac1); ok {
		t.Error("idle MAC still installed")
	}
	if _, ok := h.sp.macRoute(mac1); ok {
		t.Error("idle MAC still advertised")
	}
	h.must(h.pe.HandleSwitchEvent(h.ctx, asic.Event{Kind: asic.EventIdle, BD: 10, MAC: mac2}))
	if _, ok := h.fdb(mac2); !ok {
		t.Error("an idle report removed a remote MAC")
	}
}

// flakySwitch loses the next failures Write batches, as a switch that
// restarted or a dropped P4Runtime stream would.
type flakySwitch struct {
	*memswitch.Switch
	mu       sync.Mutex
	failures int
}

func (s *flakySwitch) Write(ctx context.Context, u []asic.Update) error {
	s.mu.Lock()
	fail := s.failures > 0
	if fail {
		s.failures--
	}
	s.mu.Unlock()
	if fail {
		return errors.New("switch unreachable")
	}
	return s.Switch.Write(ctx, u)
}

func TestRepairAfterFailedWrite(t *testing.T) {
	sw := &flakySwitch{Switch: memswitch.New()}
	clock := newFakeClock()
	pe, err := New(Config{RouterID: pe1Addr, ASN: testASN, Labels: LabelRange{First: 1000, Last: 1999},
		Core: Core{Port: corePort}, Speaker: newSpeaker(), Switch: sw, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer pe.Close()
	ctx := context.Background()
	if err := pe.AddEVI(ctx, EVIConfig{ID: 10, BD: 10, ACs: []ACConfig{{ID: 1, Port: 1}}}); err != nil {
		t.Fatal(err)
	}
	events, _ := pe.Subscribe(ctx, 8)
	sw.mu.Lock()
	sw.failures = 2 // the write and the first repair attempt
	sw.mu.Unlock()
	if err := pe.HandleSwitchEvent(ctx, asic.Event{Kind: asic.EventLearn, BD: 10, MAC: mac1, AC: 1}); err != nil {
		t.Fatal(err)
	}
	if _, ok := sw.Get(asic.FDBEntry{BD: 10, MAC: mac1}.Key()); ok {
		t.Fatal("entry present although its write failed")
	}
	clock.Advance(RepairDelay) // repair attempt fails, another is scheduled
	clock.Advance(RepairDelay)
	if _, ok := sw.Get(asic.FDBEntry{BD: 10, MAC: mac1}.Key()); !ok {
		t.Error("entry not repaired")
	}
	c := pe.Counters()
	if c.SwitchWriteErrors != 2 || c.Repairs != 2 || c.RepairUpdates != 1 {
		t.Errorf("counters %+v, want 2 write errors, 2 repairs, 1 repair update", c)
	}
	failed := 0
	for len(events) > 0 {
		if ev := <-events; ev.Kind == EventSwitchWriteFailed && ev.Err != nil {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d switch-write-failed events, want 2", failed)
	}
}

// TestConcurrentUse drives one PE from several goroutines (BGP, data plane,
// telemetry) with the real clock; run with -race. The final state must be
// complete and agree with the snapshot.
func TestConcurrentUse(t *testing.T) {
	sw := memswitch.New()
	pe, err := New(Config{RouterID: pe1Addr, ASN: testASN, Labels: LabelRange{First: 1000, Last: 1999},
		Core: Core{Port: corePort}, Speaker: newSpeaker(), Switch: sw})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := pe.AddEVI(ctx, EVIConfig{ID: 10, BD: 10, ACs: []ACConfig{{ID: 1, Port: 1}}}); err != nil {
		t.Fatal(err)
	}
	events, _ := pe.Subscribe(ctx, 16)
	var wg sync.WaitGroup
	const per = 200
	for g := range 3 {
		wg.Go(func() {
			from := netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + g)})
			for i := range per {
				if err := pe.HandlePath(ctx, macPath(from, route.MAC{2, byte(g), 0, 0, byte(i >> 8), byte(i)}, route.ESI{}, 3001, 0, false)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range per {
			if err := pe.HandleSwitchEvent(ctx, asic.Event{Kind: asic.EventLearn, BD: 10, MAC: route.MAC{2, 9, 0, 0, byte(i >> 8), byte(i)}, AC: 1}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		for range 50 {
			if _, err := pe.MACTable(10); err != nil {
				t.Error(err)
				return
			}
			_ = pe.Segments()
			_ = pe.Counters()
		}
	})
	drained := make(chan struct{})
	go func() {
		for range events { // until Close closes the channel
		}
		close(drained)
	}()
	wg.Wait()
	if got, want := len(sw.Entities(asic.KindFDBEntry)), 4*per; got != want {
		t.Errorf("%d FDB entries, want %d", got, want)
	}
	if n, err := pe.Reconcile(ctx); err != nil || n != 0 {
		t.Errorf("Reconcile: %d updates, %v; want 0", n, err)
	}
	if err := pe.Close(); err != nil {
		t.Fatal(err)
	}
	<-drained
	if err := pe.HandlePath(ctx, macPath(pe2Addr, mac1, route.ESI{}, 1, 0, false)); !errors.Is(err, ErrClosed) {
		t.Errorf("HandlePath after Close: %v, want ErrClosed", err)
	}
}

// inEVI moves a test path built for EVI 10 into EVI evi (RD and RT).
func inEVI(p route.Path, evi uint16) route.Path {
	from := p.Attrs.NextHop
	p.Attrs.RouteTargets = []route.RouteTarget{route.AutoRouteTarget(testASN, uint32(evi))}
	switch n := p.NLRI.(type) {
	case route.MACIP:
		n.RD = rd(from, evi)
		p.NLRI = n
	case route.EthernetAD:
		if !n.PerES() {
			n.RD = rd(from, evi)
		}
		p.NLRI = n
	}
	return p
}

// TestAliasingGroupSharing_RFC7432_8_4: EVIs with the same members share
// one group; a per-EVI A-D withdrawal splits only that EVI off, and a
// per-ES A-D withdrawal then rewrites each remaining group once.
func TestAliasingGroupSharing_RFC7432_8_4(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.singleHomed()
	h.must(h.pe.AddEVI(h.ctx, EVIConfig{ID: 11, BD: 11, ACs: []ACConfig{{ID: 3, Port: 1, VLAN: 11}}}))
	for _, from := range []netip.Addr{pe2Addr, pe3Addr} {
		h.path(perESPathFor(from, esi1, 5001, false))
		for _, evi := range []uint16{10, 11} {
			h.path(inEVI(perEVIPathFor(from, esi1, 3001), evi))
		}
	}
	for i := range 10 {
		for _, evi := range []uint16{10, 11} {
			h.path(inEVI(macPath(pe2Addr, route.MAC{2, byte(evi), 0, 0, 0, byte(i)}, esi1, 3001, 0, false), evi))
		}
	}
	if got := len(h.sw.Entities(asic.KindAliasingGroup)); got != 1 {
		t.Fatalf("%d aliasing groups, want 1 shared by both EVIs", got)
	}
	h.sw.TakeLog()
	h.must(h.pe.HandleWithdraw(h.ctx, inEVI(perEVIPathFor(pe3Addr, esi1, 0), 11).NLRI))
	log := h.sw.TakeLog()
	fdb := 0
	for _, u := range log {
		if u.Entity.Key().Kind == asic.KindFDBEntry {
			fdb++
		}
	}
	if fdb != 10 {
		t.Errorf("split wrote %d FDB entries, want EVI 11's 10: %v", fdb, log)
	}
	want := map[asic.BridgeDomainID][]netip.Addr{10: {pe2Addr, pe3Addr}, 11: {pe2Addr}}
	for bd, members := range want {
		if got := h.group(t, route.MAC{2, byte(bd), 0, 0, 0, 3}, bd); !slices.Equal(got, members) {
			t.Errorf("bd %d group %v, want %v", bd, got, members)
		}
	}
	h.must(h.pe.HandleWithdraw(h.ctx, perESPathFor(pe3Addr, esi1, 0, false).NLRI))
	log = h.sw.TakeLog()
	if len(log) != 1 || log[0].Entity.Key().Kind != asic.KindAliasingGroup {
		t.Errorf("per-ES withdrawal wrote %v, want EVI 10's group only", log)
	}
	if got := h.group(t, route.MAC{2, 10, 0, 0, 0, 3}, 10); !slices.Equal(got, []netip.Addr{pe2Addr}) {
		t.Errorf("bd 10 group %v, want [%v]", got, pe2Addr)
	}
}

// TestFrozenOwnerGone_RFC7432_15_1: a frozen MAC stays where it was frozen
// until that route goes away; then it follows what is left.
func TestFrozenOwnerGone_RFC7432_15_1(t *testing.T) {
	h := newHarness(t, pe1Addr, func(c *Config) { c.DuplicateDetection.Moves = 2 })
	h.singleHomed()
	h.path(macPath(pe2Addr, mac1, route.ESI{}, 3001, 1, false))
	h.path(macPath(pe3Addr, mac1, route.ESI{}, 4001, 2, false)) // move 1
	h.path(macPath(pe2Addr, mac1, route.ESI{}, 3001, 3, false)) // move 2: frozen at PE2
	tbl, _ := h.pe.MACTable(10)
	if !tbl[0].Frozen || tbl[0].Peer != pe2Addr {
		t.Fatalf("table %+v, want frozen at PE2", tbl)
	}
	h.path(macPath(pe3Addr, mac1, route.ESI{}, 4001, 4, false))
	if f, _ := h.fdb(mac1); f.Dest.Label != 3001 || !f.Pinned {
		t.Errorf("FDB %+v moved while frozen, want pinned to PE2 (label 3001)", f)
	}
	h.must(h.pe.HandleWithdraw(h.ctx, route.MACIP{RD: rd(pe2Addr, 10), MAC: mac1}))
	if f, _ := h.fdb(mac1); f.Dest.Label != 4001 {
		t.Errorf("FDB %+v after PE2 withdrew, want PE3 (label 4001)", f)
	}
}

func TestHandlePaths(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.singleHomed()
	bad := imetPathFor(pe2Addr, 1)
	bad.Attrs.PMSI = nil
	before, _ := h.sw.Stats()
	err := h.pe.HandlePaths(h.ctx, []route.Path{
		macPath(pe2Addr, mac1, route.ESI{}, 3001, 0, false), bad, {}, macPath(pe3Addr, mac2, route.ESI{}, 4001, 0, false),
	})
	if err == nil || !strings.Contains(err.Error(), "PMSI") || !strings.Contains(err.Error(), "nil NLRI") {
		t.Errorf("HandlePaths: %v, want errors for the IMET without PMSI and the nil NLRI", err)
	}
	_, ok1 := h.fdb(mac1)
	_, ok2 := h.fdb(mac2)
	if !ok1 || !ok2 {
		t.Errorf("good paths installed: %v %v, want both despite the bad ones", ok1, ok2)
	}
	if after, _ := h.sw.Stats(); after-before != 1 {
		t.Errorf("HandlePaths wrote %d switch batches, want 1", after-before)
	}
}

func TestDoubleTaggedAC(t *testing.T) {
	h := newHarness(t, pe1Addr, nil)
	h.must(h.pe.AddEVI(h.ctx, EVIConfig{ID: 10, BD: 10, ACs: []ACConfig{{ID: 1, Port: 3, VLAN: 100, InnerVLAN: 10}, {ID: 2, Port: 3, VLAN: 100, InnerVLAN: 11}}}))
	got, _ := h.sw.Get(asic.AttachmentCircuit{ID: 1}.Key())
	if want := (asic.AttachmentCircuit{ID: 1, Port: 3, VLAN: 100, InnerVLAN: 10, BD: 10}); got != want {
		t.Errorf("AC %+v, want %+v", got, want)
	}
	if p, _ := h.sw.Get(asic.Port{ID: 3}.Key()); p != (asic.Port{ID: 3, Kind: asic.PortAccess}) {
		t.Errorf("port %+v, want an access port", p)
	}
}
