package gnmi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
)

func TestSetReplaceWholeConfig(t *testing.T) {
	dev := &testDevice{}
	srv, addr := startServer(t, Options{Device: dev})
	c := dial(t, addr, "admin", "admin-secret")
	resp, err := c.Set(context.Background(), &gpb.SetRequest{Replace: []*gpb.Update{{Path: &gpb.Path{}, Val: jsonIETF(fixtureJSON)}}})
	if err != nil {
		t.Fatalf("Set: %v", err)
	}
	want := []*gpb.UpdateResult{{Path: &gpb.Path{}, Op: gpb.UpdateResult_REPLACE}}
	if diff := cmp.Diff(want, resp.GetResponse(), protocmp.Transform()); diff != "" {
		t.Errorf("UpdateResults (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(fixtureConfig(), srv.Running()); diff != "" {
		t.Errorf("running config (-want +got):\n%s", diff)
	}
	n, vrfs := dev.snapshot()
	wantVRFs := map[string]deviceMACVRF{"blue": {RD: "AUTO", EVI: "100", RTs: []string{"65000:100"}, ACs: []string{"eth1.100"}}}
	if n != 1 || !cmp.Equal(wantVRFs, vrfs) {
		t.Errorf("device applied %d configs, tables %+v; want 1 and %+v", n, vrfs, wantVRFs)
	}
}

func TestSetOperations(t *testing.T) {
	tests := []struct {
		desc string
		req  *gpb.SetRequest
		edit func(*Config) // what the request does to fixtureConfig
		ops  []gpb.UpdateResult_Operation
	}{
		{
			desc: "update a leaf with a scalar value",
			req: &gpb.SetRequest{Update: []*gpb.Update{{
				Path: mustPathT("/network-instances/network-instance[name=blue]/config/description"),
				Val:  &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: "tenant blue"}}}}},
			edit: func(c *Config) { c.NetworkInstances["blue"].Description = "tenant blue" },
			ops:  []gpb.UpdateResult_Operation{gpb.UpdateResult_UPDATE},
		},
		{
			desc: "update mac-mobility with JSON under a prefix",
			req: &gpb.SetRequest{
				Prefix: mustPathT("/network-instances/network-instance[name=blue]/fdb"),
				Update: []*gpb.Update{{Path: mustPathT("/mac-mobility/config"),
					Val: jsonIETF(`{"mac-mobility-window": 60, "mac-mobility-threshold": 3}`)}}},
			edit: func(c *Config) {
				c.NetworkInstances["blue"].FDB.MACMobilityWindow = ptr(uint16(60))
				c.NetworkInstances["blue"].FDB.MACMobilityThreshold = ptr(uint8(3))
			},
			ops: []gpb.UpdateResult_Operation{gpb.UpdateResult_UPDATE},
		},
		{
			desc: "replace an ES's df-election drops leaves not sent",
			req: &gpb.SetRequest{Replace: []*gpb.Update{{
				Path: mustPathT("/ethernet-segments/ethernet-segment[name=es1]/df-election"),
				Val:  jsonIETF(`{"config": {"df-election-method": "HIGHEST_RANDOM_WEIGHT"}}`)}}},
			edit: func(c *Config) {
				es := c.EthernetSegments["es1"]
				es.DFElectionMethod, es.Preference, es.Revertive, es.ElectionWaitTime = DFHighestRandomWeight, nil, nil, nil
			},
			ops: []gpb.UpdateResult_Operation{gpb.UpdateResult_REPLACE},
		},
		{
			desc: "create a MAC-VRF with EVI, VLAN and AC in one update (JSON encoding)",
			req: &gpb.SetRequest{Update: []*gpb.Update{
				{Path: mustPathT("/interfaces/interface[name=eth1]/subinterfaces/subinterface[index=200]"),
					Val: &gpb.TypedValue{Value: &gpb.TypedValue_JsonVal{JsonVal: []byte(`{"openconfig-vlan:vlan": {"match": {"single-tagged": {"config": {"vlan-id": 200}}}}}`)}}},
				{Path: mustPathT("/network-instances/network-instance[name=red]"),
					Val: &gpb.TypedValue{Value: &gpb.TypedValue_JsonVal{JsonVal: []byte(`{
					"config": {"type": "L2VSI", "route-distinguisher": "65000:200"},
					"vlans": {"vlan": [{"vlan-id": 200, "config": {"vlan-id": 200}}]},
					"interfaces": {"interface": [{"id": "eth1.200", "config": {"interface": "eth1", "subinterface": 200}}]},
					"evpn": {"evpn-instances": {"evpn-instance": [{"evi": "200", "config": {"service-type": "VLAN_BASED"}}]}}}`)}}},
			}},
			edit: func(c *Config) {
				c.Interfaces["eth1"].Subinterfaces[200] = &Subinterface{Index: 200, VLAN: 200}
				c.NetworkInstances["red"] = &NetworkInstance{Name: "red", Type: NetworkInstanceL2VSI, RouteDistinguisher: "65000:200",
					VLANs:         map[uint16]*VLAN{200: {ID: 200}},
					Interfaces:    map[string]*NetworkInstanceInterface{"eth1.200": {ID: "eth1.200", Interface: "eth1", Subinterface: ptr(uint32(200))}},
					EVPNInstances: map[string]*EVPNInstance{"200": {EVI: "200", ServiceType: ServiceVLANBased}}}
			},
			ops: []gpb.UpdateResult_Operation{gpb.UpdateResult_UPDATE, gpb.UpdateResult_UPDATE},
		},
		{
			desc: "delete, replace and update in one transaction",
			req: &gpb.SetRequest{
				Delete: []*gpb.Path{mustPathT("/ethernet-segments/ethernet-segment[name=es1]")},
				Replace: []*gpb.Update{{Path: mustPathT("/network-instances/network-instance[name=blue]/inter-instance-policies/import-export-policy/config/import-route-target"),
					Val: jsonIETF(`["65000:100", "192.0.2.1:7"]`)}},
				Update: []*gpb.Update{{Path: mustPathT("/interfaces/interface[name=eth2]/config/mtu"),
					Val: &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: 1500}}}},
			},
			edit: func(c *Config) {
				delete(c.EthernetSegments, "es1")
				c.NetworkInstances["blue"].ImportRouteTargets = []string{"65000:100", "192.0.2.1:7"}
				c.Interfaces["eth2"].MTU = 1500
			},
			ops: []gpb.UpdateResult_Operation{gpb.UpdateResult_DELETE, gpb.UpdateResult_REPLACE, gpb.UpdateResult_UPDATE},
		},
		{
			desc: "delete of an absent entry is a no-op",
			req:  &gpb.SetRequest{Delete: []*gpb.Path{mustPathT("/network-instances/network-instance[name=nope]")}},
			edit: func(*Config) {},
			ops:  []gpb.UpdateResult_Operation{gpb.UpdateResult_DELETE},
		},
		{
			desc: "delete the BGP neighbor's afi-safi list entry",
			req: &gpb.SetRequest{Delete: []*gpb.Path{mustPathT(
				"/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address=192.0.2.254]/afi-safis/afi-safi[afi-safi-name=L2VPN_EVPN]")}},
			edit: func(c *Config) {
				c.NetworkInstances["DEFAULT"].BGP["BGP"].Neighbors["192.0.2.254"].AFISafis = nil
			},
			ops: []gpb.UpdateResult_Operation{gpb.UpdateResult_DELETE},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			srv, addr := startServer(t, Options{})
			c := dial(t, addr, "admin", "admin-secret")
			loadFixture(t, c)
			resp, err := c.Set(context.Background(), tc.req)
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			var ops []gpb.UpdateResult_Operation
			for _, r := range resp.GetResponse() {
				ops = append(ops, r.GetOp())
			}
			if diff := cmp.Diff(tc.ops, ops); diff != "" {
				t.Errorf("UpdateResult ops (-want +got):\n%s", diff)
			}
			want := fixtureConfig()
			tc.edit(want)
			if diff := cmp.Diff(want, srv.Running(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("running config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetRefusedLeavesConfigUntouched(t *testing.T) {
	tests := []struct {
		desc     string
		req      *gpb.SetRequest
		wantCode codes.Code
		wantMsg  []string
	}{
		{
			desc:     "unknown leaf",
			req:      &gpb.SetRequest{Update: []*gpb.Update{{Path: mustPathT("/network-instances/network-instance[name=blue]/config/colour"), Val: jsonIETF(`"red"`)}}},
			wantCode: codes.NotFound,
			wantMsg:  []string{"/network-instances/network-instance[name=blue]/config/colour", `no node "colour"`},
		},
		{
			desc:     "unknown JSON member",
			req:      &gpb.SetRequest{Update: []*gpb.Update{{Path: mustPathT("/network-instances/network-instance[name=blue]/fdb"), Val: jsonIETF(`{"config": {"mac-learnin": true}}`)}}},
			wantCode: codes.NotFound,
			wantMsg:  []string{"/network-instances/network-instance[name=blue]/fdb/config", `unknown member "mac-learnin"`},
		},
		{
			desc:     "out of range value",
			req:      &gpb.SetRequest{Update: []*gpb.Update{{Path: mustPathT("/network-instances/network-instance[name=blue]/fdb/mac-mobility/config/mac-mobility-window"), Val: jsonIETF(`601`)}}},
			wantCode: codes.InvalidArgument,
			wantMsg:  []string{"mac-mobility-window", "601 is out of range 0..600"},
		},
		{
			desc:     "wrong type",
			req:      &gpb.SetRequest{Update: []*gpb.Update{{Path: mustPathT("/interfaces/interface[name=eth1]/config/enabled"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: "yes"}}}}},
			wantCode: codes.InvalidArgument,
			wantMsg:  []string{"/interfaces/interface[name=eth1]/config/enabled", `string "yes" is not a boolean`},
		},
		{
			desc:     "bad route distinguisher",
			req:      &gpb.SetRequest{Update: []*gpb.Update{{Path: mustPathT("/network-instances/network-instance[name=blue]/config/route-distinguisher"), Val: jsonIETF(`"blue:1"`)}}},
			wantCode: codes.InvalidArgument,
			wantMsg:  []string{"route-distinguisher", `"blue:1" is not a route-distinguisher`},
		},
		{
			desc:     "identity from the wrong module",
			req:      &gpb.SetRequest{Update: []*gpb.Update{{Path: mustPathT("/network-instances/network-instance[name=blue]/config/type"), Val: jsonIETF(`"openconfig-evpn-types:L2VSI"`)}}},
			wantCode: codes.InvalidArgument,
			wantMsg:  []string{`identity "openconfig-evpn-types:L2VSI" is not from module openconfig-network-instance-types`},
		},
		{
			desc:     "state is read-only",
			req:      &gpb.SetRequest{Update: []*gpb.Update{{Path: mustPathT("/network-instances/network-instance[name=blue]/state/description"), Val: jsonIETF(`"x"`)}}},
			wantCode: codes.InvalidArgument,
			wantMsg:  []string{"state (config false) and cannot be set"},
		},
		{
			desc:     "unsupported protocol",
			req:      &gpb.SetRequest{Update: []*gpb.Update{{Path: mustPathT("/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=ISIS][name=1]/config/name"), Val: jsonIETF(`"1"`)}}},
			wantCode: codes.InvalidArgument,
			wantMsg:  []string{`key identifier="ISIS"`},
		},
		{
			desc:     "key in the body differs from the path",
			req:      &gpb.SetRequest{Update: []*gpb.Update{{Path: mustPathT("/network-instances/network-instance[name=blue]"), Val: jsonIETF(`{"name": "green"}`)}}},
			wantCode: codes.InvalidArgument,
			wantMsg:  []string{`key value "green" differs from the path's "blue"`},
		},
		{
			desc:     "delete a list key leaf",
			req:      &gpb.SetRequest{Delete: []*gpb.Path{mustPathT("/network-instances/network-instance[name=blue]/config/name")}},
			wantCode: codes.InvalidArgument,
			wantMsg:  []string{"is a list key"},
		},
		{
			desc: "a valid update followed by an invalid one changes nothing",
			req: &gpb.SetRequest{Update: []*gpb.Update{
				{Path: mustPathT("/network-instances/network-instance[name=blue]/config/description"), Val: jsonIETF(`"ok"`)},
				{Path: mustPathT("/network-instances/network-instance[name=blue]/vlans/vlan[vlan-id=5000]"), Val: jsonIETF(`{}`)},
			}},
			wantCode: codes.InvalidArgument,
			wantMsg:  []string{`key vlan-id="5000"`, "out of range 1..4094"},
		},
		{
			desc:     "semantic validation: AC on a missing port",
			req:      &gpb.SetRequest{Update: []*gpb.Update{{Path: mustPathT("/network-instances/network-instance[name=blue]/interfaces/interface[id=x]/config/interface"), Val: jsonIETF(`"eth9"`)}}},
			wantCode: codes.InvalidArgument,
			wantMsg:  []string{`interface "eth9" does not exist under /interfaces`},
		},
		{
			desc:     "the device refuses: MAC-VRF without RD",
			req:      &gpb.SetRequest{Delete: []*gpb.Path{mustPathT("/network-instances/network-instance[name=blue]/config/route-distinguisher"), mustPathT("/network-instances/network-instance[name=blue]/evpn")}},
			wantCode: codes.Aborted,
			wantMsg:  []string{"MAC-VRF blue has no route distinguisher"},
		},
		{
			desc:     "wildcards are not allowed in Set",
			req:      &gpb.SetRequest{Delete: []*gpb.Path{mustPathT("/network-instances/network-instance[name=*]")}},
			wantCode: codes.InvalidArgument,
			wantMsg:  []string{`needs key "name"`},
		},
		{
			desc:     "wrong target",
			req:      &gpb.SetRequest{Prefix: &gpb.Path{Target: "other-pe"}, Delete: []*gpb.Path{mustPathT("/interfaces")}},
			wantCode: codes.NotFound,
			wantMsg:  []string{`target "other-pe" is not served`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			dev := &testDevice{}
			srv, addr := startServer(t, Options{Device: dev})
			c := dial(t, addr, "admin", "admin-secret")
			loadFixture(t, c)
			before := getJSON(t, c, "/", gpb.GetRequest_ALL, gpb.Encoding_JSON_IETF)
			_, err := c.Set(context.Background(), tc.req)
			if got := status.Code(err); got != tc.wantCode {
				t.Fatalf("Set error = %v, want code %v", err, tc.wantCode)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(status.Convert(err).Message(), m) {
					t.Errorf("Set error %q does not name %q", status.Convert(err).Message(), m)
				}
			}
			if diff := cmp.Diff(fixtureConfig(), srv.Running()); diff != "" {
				t.Errorf("running config changed (-want +got):\n%s", diff)
			}
			if n, _ := dev.snapshot(); n != 1 {
				t.Errorf("device applied %d configs, want only the fixture", n)
			}
			if diff := cmp.Diff(before, getJSON(t, c, "/", gpb.GetRequest_ALL, gpb.Encoding_JSON_IETF)); diff != "" {
				t.Errorf("served tree changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestSetDeviceFailureRollsBack(t *testing.T) {
	dev := &testDevice{}
	srv, addr := startServer(t, Options{Device: dev})
	c := dial(t, addr, "admin", "admin-secret")
	loadFixture(t, c)
	_, tablesBefore := dev.snapshot()
	dev.failNextApply(errors.New("FIB full: no room for MAC-VRF red"))
	req := &gpb.SetRequest{Update: []*gpb.Update{{Path: mustPathT("/network-instances/network-instance[name=red]"),
		Val: jsonIETF(`{"config": {"type": "openconfig-network-instance-types:L2VSI", "route-distinguisher": "65000:7"}}`)}}}
	_, err := c.Set(context.Background(), req)
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "FIB full: no room for MAC-VRF red") {
		t.Fatalf("Set error = %v, want Aborted naming the device error", err)
	}
	if diff := cmp.Diff(fixtureConfig(), srv.Running()); diff != "" {
		t.Errorf("running config changed after a failed apply (-want +got):\n%s", diff)
	}
	if _, tables := dev.snapshot(); !cmp.Equal(tablesBefore, tables) {
		t.Errorf("device tables changed after a failed apply: %+v", tables)
	}
	_, err = c.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{mustPathT("/network-instances/network-instance[name=red]")}, Encoding: gpb.Encoding_JSON_IETF})
	if status.Code(err) != codes.NotFound {
		t.Errorf("Get of the refused MAC-VRF = %v, want NotFound", err)
	}
	// The same Set succeeds once the device accepts it.
	if _, err := c.Set(context.Background(), req); err != nil {
		t.Fatalf("retry Set: %v", err)
	}
	if got := srv.Running().NetworkInstances["red"]; got == nil || got.RouteDistinguisher != "65000:7" {
		t.Errorf("after retry, red = %+v", got)
	}
}
