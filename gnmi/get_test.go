package gnmi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/p4evpn/p4evpn/evpn/route"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
)

// getAll returns every update of a Get, keyed by path, values decoded.
func getAll(t testing.TB, c gpb.GNMIClient, path string, typ gpb.GetRequest_DataType, enc gpb.Encoding) map[string]any {
	t.Helper()
	resp, err := c.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{mustPathT(path)}, Type: typ, Encoding: enc})
	if err != nil {
		t.Fatalf("Get %s: %v", path, err)
	}
	out := map[string]any{}
	for _, n := range resp.GetNotification() {
		for _, u := range n.GetUpdate() {
			raw := u.GetVal().GetJsonIetfVal()
			if enc == gpb.Encoding_JSON {
				raw = u.GetVal().GetJsonVal()
				if u.GetVal().GetJsonIetfVal() != nil {
					t.Errorf("Get with JSON answered json_ietf_val at %s", FormatPath(u.GetPath().GetElem()))
				}
			}
			out[FormatPath(u.GetPath().GetElem())] = decodeJSON(t, raw)
		}
	}
	return out
}

// getJSON returns the single value of a Get (nil when there is none).
func getJSON(t testing.TB, c gpb.GNMIClient, path string, typ gpb.GetRequest_DataType, enc gpb.Encoding) any {
	t.Helper()
	all := getAll(t, c, path, typ, enc)
	if len(all) > 1 {
		t.Fatalf("Get %s: %d updates, want one", path, len(all))
	}
	for _, v := range all {
		return v
	}
	return nil
}

var moduleNames = []string{modNetworkInstance, modNITypes, modEVPNTypes, modEthernetSegments, modInterfaces,
	modVLAN, modPolicyTypes, modBGPTypes, modIANAIfType}

// stripModules turns JSON_IETF into plain JSON: no module prefixes on
// member names or identity values.
func stripModules(v any) any {
	strip := func(s string) string {
		for _, m := range moduleNames {
			if strings.HasPrefix(s, m+":") {
				return s[len(m)+1:]
			}
		}
		return s
	}
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[strip(k)] = stripModules(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = stripModules(e)
		}
		return out
	case string:
		return strip(x)
	}
	return v
}

func TestGetConfigMatchesWhatWasSet(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dial(t, addr, "viewer", "viewer-secret")
	loadFixture(t, dial(t, addr, "admin", "admin-secret"))
	want := decodeJSON(t, []byte(fixtureJSON))
	tests := []struct {
		desc string
		enc  gpb.Encoding
		want any
	}{
		{desc: "JSON_IETF", enc: gpb.Encoding_JSON_IETF, want: want},
		{desc: "JSON", enc: gpb.Encoding_JSON, want: stripModules(want)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := getJSON(t, c, "/", gpb.GetRequest_CONFIG, tc.enc)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Get / CONFIG (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetStateAndAll(t *testing.T) {
	clk := newFakeClock()
	srv, addr := startServer(t, Options{Now: clk.Now})
	c := dial(t, addr, "viewer", "viewer-secret")
	loadFixture(t, dial(t, addr, "admin", "admin-secret"))
	srv.State().SetMACEntry("blue", MACEntry{MAC: route.MustMAC("00:00:5e:00:53:01"), VLAN: 100, EVI: 100,
		Since: clk.Now().Add(-42 * time.Second), Interface: "eth1", Subinterface: 100})
	entry := "/network-instances/network-instance[name=blue]/fdb/mac-table/entries/entry[mac-address=00:00:5e:00:53:01][vlan=100]"
	tests := []struct {
		desc string
		path string
		typ  gpb.GetRequest_DataType
		enc  gpb.Encoding
		want map[string]any // path -> JSON value
	}{
		{
			desc: "MAC entry STATE in JSON_IETF: age is a string",
			path: entry, typ: gpb.GetRequest_STATE, enc: gpb.Encoding_JSON_IETF,
			want: map[string]any{entry: decodeJSON(t, []byte(`{"mac-address": "00:00:5e:00:53:01", "vlan": 100,
				"state": {"mac-address": "00:00:5e:00:53:01", "vlan": 100, "age": "42", "entry-type": "DYNAMIC", "evi": 100},
				"interface": {"interface-ref": {"state": {"interface": "eth1", "subinterface": 100}}}}`))},
		},
		{
			desc: "MAC entry in JSON: age is a number",
			path: entry + "/state/age", typ: gpb.GetRequest_ALL, enc: gpb.Encoding_JSON,
			want: map[string]any{entry + "/state/age": float64(42)},
		},
		{
			desc: "MAC entry has no CONFIG",
			path: "/network-instances/network-instance[name=blue]/fdb/mac-table", typ: gpb.GetRequest_CONFIG, enc: gpb.Encoding_JSON_IETF,
			want: map[string]any{},
		},
		{
			desc: "ES STATE mirrors config",
			path: "/ethernet-segments/ethernet-segment[name=es1]/df-election/state", typ: gpb.GetRequest_STATE, enc: gpb.Encoding_JSON_IETF,
			want: map[string]any{"/ethernet-segments/ethernet-segment[name=es1]/df-election/state": decodeJSON(t, []byte(
				`{"df-election-method": "PREFERENCE", "preference": 200, "revertive": true, "election-wait-time": 3}`))},
		},
		{
			desc: "ES STATE in JSON: bare names",
			path: "/ethernet-segments/ethernet-segment[name=es1]/state/redundancy-mode", typ: gpb.GetRequest_STATE, enc: gpb.Encoding_JSON,
			want: map[string]any{"/ethernet-segments/ethernet-segment[name=es1]/state/redundancy-mode": "ALL_ACTIVE"},
		},
		{
			desc: "OPERATIONAL leaves out config mirrors",
			path: "/ethernet-segments/ethernet-segment[name=es1]", typ: gpb.GetRequest_OPERATIONAL, enc: gpb.Encoding_JSON_IETF,
			want: map[string]any{},
		},
		{
			desc: "ALL of a leaf-list in JSON_IETF",
			path: "/network-instances/network-instance[name=blue]/inter-instance-policies/import-export-policy/state/import-route-target",
			typ:  gpb.GetRequest_ALL, enc: gpb.Encoding_JSON_IETF,
			want: map[string]any{"/network-instances/network-instance[name=blue]/inter-instance-policies/import-export-policy/state/import-route-target": []any{"65000:100"}},
		},
		{
			desc: "wildcard key: one update per instance, identities qualified",
			path: "/network-instances/network-instance[name=*]/config/type", typ: gpb.GetRequest_ALL, enc: gpb.Encoding_JSON_IETF,
			want: map[string]any{
				"/network-instances/network-instance[name=DEFAULT]/config/type": "openconfig-network-instance-types:DEFAULT_INSTANCE",
				"/network-instances/network-instance[name=blue]/config/type":    "openconfig-network-instance-types:L2VSI",
			},
		},
		{
			desc: "key leaves list the entries",
			path: "/network-instances/network-instance[name=*]/name", typ: gpb.GetRequest_ALL, enc: gpb.Encoding_JSON_IETF,
			want: map[string]any{
				"/network-instances/network-instance[name=DEFAULT]/name": "DEFAULT",
				"/network-instances/network-instance[name=blue]/name":    "blue",
			},
		},
		{
			desc: "a numeric key leaf is a number; identity keys are qualified",
			path: "/network-instances/network-instance[name=DEFAULT]/protocols/protocol/identifier", typ: gpb.GetRequest_ALL, enc: gpb.Encoding_JSON_IETF,
			want: map[string]any{
				"/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/identifier": "openconfig-policy-types:BGP",
			},
		},
		{
			desc: "vlan-id key leaf",
			path: "/network-instances/network-instance[name=blue]/vlans/vlan/vlan-id", typ: gpb.GetRequest_ALL, enc: gpb.Encoding_JSON,
			want: map[string]any{"/network-instances/network-instance[name=blue]/vlans/vlan[vlan-id=100]/vlan-id": float64(100)},
		},
		{
			desc: "list without keys is a wildcard; augment members qualified",
			path: "/interfaces/interface/subinterfaces", typ: gpb.GetRequest_CONFIG, enc: gpb.Encoding_JSON_IETF,
			want: map[string]any{"/interfaces/interface[name=eth1]/subinterfaces": decodeJSON(t, []byte(`{"subinterface": [{"index": 100,
				"config": {"index": 100}, "openconfig-vlan:vlan": {"match": {"single-tagged": {"config": {"vlan-id": 100}}}}}]}`))},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := getAll(t, c, tc.path, tc.typ, tc.enc)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Get %s (-want +got):\n%s", tc.path, diff)
			}
		})
	}
}

func TestGetRootQualifiesTopLevel(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dial(t, addr, "viewer", "viewer-secret")
	loadFixture(t, dial(t, addr, "admin", "admin-secret"))
	got, _ := getJSON(t, c, "/", gpb.GetRequest_ALL, gpb.Encoding_JSON_IETF).(map[string]any)
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	want := []string{"openconfig-ethernet-segments:ethernet-segments", "openconfig-interfaces:interfaces", "openconfig-network-instance:network-instances"}
	if diff := cmp.Diff(want, keys, cmpSortStrings); diff != "" {
		t.Errorf("top-level members (-want +got):\n%s", diff)
	}
}

var cmpSortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestGetErrors(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dial(t, addr, "viewer", "viewer-secret")
	loadFixture(t, dial(t, addr, "admin", "admin-secret"))
	tests := []struct {
		desc     string
		req      *gpb.GetRequest
		wantCode codes.Code
		wantMsg  string
	}{
		{desc: "unknown node", req: &gpb.GetRequest{Path: []*gpb.Path{mustPathT("/network-instances/network-instance[name=blue]/vrf")}, Encoding: gpb.Encoding_JSON_IETF},
			wantCode: codes.NotFound, wantMsg: `path /network-instances/network-instance[name=blue]/vrf: no node "vrf"`},
		{desc: "unknown key", req: &gpb.GetRequest{Path: []*gpb.Path{mustPathT("/network-instances/network-instance[id=blue]")}, Encoding: gpb.Encoding_JSON_IETF},
			wantCode: codes.InvalidArgument, wantMsg: `list "network-instance" has no key "id"`},
		{desc: "bad key value", req: &gpb.GetRequest{Path: []*gpb.Path{mustPathT("/network-instances/network-instance[name=blue]/vlans/vlan[vlan-id=x]")}, Encoding: gpb.Encoding_JSON_IETF},
			wantCode: codes.InvalidArgument, wantMsg: `key vlan-id="x"`},
		{desc: "absent entry", req: &gpb.GetRequest{Path: []*gpb.Path{mustPathT("/network-instances/network-instance[name=green]")}, Encoding: gpb.Encoding_JSON_IETF},
			wantCode: codes.NotFound, wantMsg: "network-instance[name=green]: no such data"},
		{desc: "unsupported encoding", req: &gpb.GetRequest{Encoding: gpb.Encoding_ASCII},
			wantCode: codes.Unimplemented, wantMsg: "encoding ASCII is not supported"},
		{desc: "foreign origin", req: &gpb.GetRequest{Path: []*gpb.Path{{Origin: "cli"}}, Encoding: gpb.Encoding_JSON_IETF},
			wantCode: codes.NotFound, wantMsg: `origin "cli" is not served`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := c.Get(context.Background(), tc.req)
			if status.Code(err) != tc.wantCode || !strings.Contains(status.Convert(err).Message(), tc.wantMsg) {
				t.Errorf("Get error = %v, want %v containing %q", err, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestGetAcceptsOpenconfigOriginAndTarget(t *testing.T) {
	srv, addr := startServer(t, Options{Target: "pe1"})
	c := dial(t, addr, "viewer", "viewer-secret")
	loadFixture(t, dial(t, addr, "admin", "admin-secret"))
	_ = srv
	resp, err := c.Get(context.Background(), &gpb.GetRequest{
		Prefix:   &gpb.Path{Origin: "openconfig", Target: "pe1", Elem: mustPathT("/interfaces/interface[name=eth2]").Elem},
		Path:     []*gpb.Path{mustPathT("/config/name")},
		Encoding: gpb.Encoding_JSON,
	})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	want := &gpb.Update{Path: mustPathT("/interfaces/interface[name=eth2]/config/name"),
		Val: &gpb.TypedValue{Value: &gpb.TypedValue_JsonVal{JsonVal: []byte(`"eth2"`)}}}
	if diff := cmp.Diff([]*gpb.Update{want}, resp.GetNotification()[0].GetUpdate(), protocmp.Transform()); diff != "" {
		t.Errorf("updates (-want +got):\n%s", diff)
	}
}

func TestCapabilities(t *testing.T) {
	_, addr := startServer(t, Options{})
	resp, err := dial(t, addr, "viewer", "viewer-secret").Capabilities(context.Background(), &gpb.CapabilityRequest{})
	if err != nil {
		t.Fatalf("Capabilities: %v", err)
	}
	if resp.GetGNMIVersion() != "0.10.0" {
		t.Errorf("gNMI version = %q, want 0.10.0", resp.GetGNMIVersion())
	}
	if diff := cmp.Diff([]gpb.Encoding{gpb.Encoding_JSON, gpb.Encoding_JSON_IETF}, resp.GetSupportedEncodings()); diff != "" {
		t.Errorf("encodings (-want +got):\n%s", diff)
	}
	got := map[string]string{}
	for _, m := range resp.GetSupportedModels() {
		got[m.GetName()] = m.GetOrganization() + " " + m.GetVersion()
	}
	for name, want := range map[string]string{
		"openconfig-network-instance":  "OpenConfig working group 4.7.0",
		"openconfig-evpn":              "OpenConfig working group 0.11.0",
		"openconfig-ethernet-segments": "OpenConfig working group 0.2.0",
		"openconfig-bgp":               "OpenConfig working group 9.9.1",
		"openconfig-interfaces":        "OpenConfig working group 3.8.1",
		"openconfig-vlan":              "OpenConfig working group 3.2.2",
		"p4evpn-ethernet-segment-df":   "p4evpn 0.1.0",
	} {
		if got[name] != want {
			t.Errorf("model %s = %q, want %q", name, got[name], want)
		}
	}
}

// TestMACAgeCountsUp: a MAC entry's age is the time since it entered the
// table. Subscribers get the age at the publication's timestamp; Get
// answers the age at the time of the Get without the device republishing.
func TestMACAgeCountsUp(t *testing.T) {
	clk := newFakeClock()
	srv, addr := startServer(t, Options{Now: clk.Now})
	c := dial(t, addr, "viewer", "viewer-secret")
	mac := "00:00:5e:00:53:01"
	age := macEntryPath(mac, 100) + "/state/age"
	srv.State().SetMACEntry("blue", localMAC(mac, clk.Now().Add(-42*time.Second)))
	published := clk.Now()
	tests := []struct {
		desc    string
		advance time.Duration
		enc     gpb.Encoding
		want    any
	}{
		{desc: "right after the publication", enc: gpb.Encoding_JSON, want: float64(42)},
		{desc: "a minute and a half second later", advance: 60*time.Second + 500*time.Millisecond, enc: gpb.Encoding_JSON, want: float64(102)},
		{desc: "an hour later, JSON_IETF (uint64 as a string)", advance: time.Hour, enc: gpb.Encoding_JSON_IETF, want: "3702"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			clk.Advance(tc.advance)
			if diff := cmp.Diff(map[string]any{age: tc.want}, getAll(t, c, age, gpb.GetRequest_STATE, tc.enc)); diff != "" {
				t.Errorf("Get age (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("the whole entry ages too", func(t *testing.T) {
		got := getJSON(t, c, macEntryPath(mac, 100), gpb.GetRequest_STATE, gpb.Encoding_JSON)
		if a := got.(map[string]any)["state"].(map[string]any)["age"]; a != float64(3702) {
			t.Errorf("entry's state/age = %v, want 3702", a)
		}
	})
	t.Run("a subscriber gets the age as of the publication", func(t *testing.T) {
		sc := openSub(t, c, &gpb.SubscriptionList{Mode: gpb.SubscriptionList_ONCE, Subscription: []*gpb.Subscription{sub(age, 0)}})
		r := sc.next(t)
		u := r.GetUpdate()
		if len(u.GetUpdate()) != 1 || u.GetUpdate()[0].GetVal().GetUintVal() != 42 || time.Unix(0, u.GetTimestamp()).Sub(published) >= time.Second {
			t.Errorf("ONCE update %v, want age 42 stamped at the publication (%v)", u, published)
		}
	})
	t.Run("an entry whose entry time is unknown has no age", func(t *testing.T) {
		srv.State().SetMACEntry("blue", MACEntry{MAC: route.MustMAC("00:00:5e:00:53:02"), VLAN: 100})
		got := getAll(t, c, macEntryPath("00:00:5e:00:53:02", 100)+"/state", gpb.GetRequest_STATE, gpb.Encoding_JSON)
		for _, v := range got {
			if _, ok := v.(map[string]any)["age"]; ok {
				t.Errorf("state %v has an age, want none", v)
			}
		}
	})
}
