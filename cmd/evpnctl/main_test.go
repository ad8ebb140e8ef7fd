package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
)

// TestArgumentErrors: bad commands and flag combinations fail before any
// connection, with an error naming the value.
func TestArgumentErrors(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{desc: "no command", args: nil, wantErr: "no command"},
		{desc: "unknown command", args: []string{"show", "evpn", "routes"}, wantErr: `unknown command "show evpn routes"`},
		{desc: "EVI not a number", args: []string{"show", "evpn", "mac", "blue"}, wantErr: `EVI "blue": want a number from 1 to 16777215`},
		{desc: "EVI zero", args: []string{"show", "evpn", "mac", "0"}, wantErr: `EVI "0"`},
		{desc: "EVI beyond 24 bits", args: []string{"show", "evpn", "mac", "16777216"}, wantErr: `EVI "16777216"`},
		{desc: "EVI negative", args: []string{"show", "evpn", "mac", "-1"}, wantErr: `EVI "-1"`},
		{desc: "two EVIs", args: []string{"show", "evpn", "mac", "1", "2"}, wantErr: `unknown command "show evpn mac 1 2"`},
		{desc: "p4 table without a name", args: []string{"show", "p4", "table"}, wantErr: `unknown command "show p4 table"`},
		{desc: "p4 table with an empty name", args: []string{"show", "p4", "table", ""}, wantErr: `table ""`},
		{desc: "unknown flag", args: []string{"--bogus", "show", "bgp", "summary"}, wantErr: "flag provided but not defined: -bogus"},
		{desc: "gNMI address without a port", args: []string{"--gnmi", "pe1", "show", "bgp", "summary"}, wantErr: `--gnmi "pe1": want HOST:PORT`},
		{desc: "gNMI address from the environment", env: map[string]string{"EVPNCTL_GNMI": "pe1"}, args: []string{"show", "bgp", "summary"},
			wantErr: `--gnmi "pe1"`},
		{desc: "plaintext with a CA", args: []string{"--plaintext", "--ca", "ca.pem", "show", "evpn", "es"}, wantErr: "--plaintext and --ca"},
		{desc: "plaintext with insecure", args: []string{"--plaintext", "--insecure", "show", "evpn", "es"}, wantErr: "--plaintext and --insecure"},
		{desc: "insecure with a CA", args: []string{"--insecure", "--ca", "ca.pem", "show", "evpn", "es"}, wantErr: `--insecure and --ca "ca.pem"`},
		{desc: "certificate without key", args: []string{"--cert", "c.pem", "show", "evpn", "es"}, wantErr: `--cert "c.pem" and --key ""`},
		{desc: "user without password", args: []string{"--username", "noc", "show", "evpn", "es"}, wantErr: `--username "noc" without a password`},
		{desc: "password without user", args: []string{"--password", "x", "show", "evpn", "es"}, wantErr: "--password without --username"},
		{desc: "gNMI flags with the API alone", args: []string{"--api", "127.0.0.1:1", "--plaintext", "show", "evpn", "es"},
			wantErr: "--plaintext configure gNMI, but only --api is named"},
		{desc: "gNMI flags with the API from the environment", env: map[string]string{"EVPNCTL_API": "127.0.0.1:1"},
			args: []string{"--username", "noc", "--password", "x", "show", "evpn", "es"}, wantErr: "--username, --password configure gNMI"},
		{desc: "zero timeout", args: []string{"--timeout", "0s", "show", "evpn", "es"}, wantErr: "--timeout 0s"},
		{desc: "missing CA file", args: []string{"--ca", "/nonexistent/ca.pem", "show", "evpn", "es"}, wantErr: "/nonexistent/ca.pem"},
		{desc: "missing client certificate", args: []string{"--cert", "/nonexistent/c.pem", "--key", "/nonexistent/c.key", "show", "evpn", "es"},
			wantErr: "--cert /nonexistent/c.pem / --key /nonexistent/c.key"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tc.args, &out, func(k string) string { return tc.env[k] })
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("evpnctl %q: error %v, want one containing %q", tc.args, err, tc.wantErr)
			}
			if out.Len() != 0 {
				t.Errorf("evpnctl %q printed %q with its error", tc.args, out.String())
			}
		})
	}
}

// TestModeSelection: what each flag combination reads.
func TestModeSelection(t *testing.T) {
	for _, tc := range []struct {
		desc         string
		args         []string
		env          map[string]string
		wantGNMI     bool
		wantGNMIAddr string
		wantAPI      string
	}{
		{desc: "defaults", wantGNMI: true, wantGNMIAddr: defaultGNMI, wantAPI: defaultAPI},
		{desc: "--api alone", args: []string{"--api", "127.0.0.1:1"}, wantGNMIAddr: defaultGNMI, wantAPI: "127.0.0.1:1"},
		{desc: "--addr, the old name", args: []string{"--addr", "127.0.0.1:1"}, wantGNMIAddr: defaultGNMI, wantAPI: "127.0.0.1:1"},
		{desc: "$EVPNCTL_ADDR, the old variable", env: map[string]string{"EVPNCTL_ADDR": "127.0.0.1:1"}, wantGNMIAddr: defaultGNMI, wantAPI: "127.0.0.1:1"},
		{desc: "both named", args: []string{"--api", "127.0.0.1:1", "--gnmi", "127.0.0.1:2"}, wantGNMI: true, wantGNMIAddr: "127.0.0.1:2", wantAPI: "127.0.0.1:1"},
		{desc: "gNMI from the environment, API by flag", env: map[string]string{"EVPNCTL_GNMI": "127.0.0.1:2"}, args: []string{"--api", "127.0.0.1:1"},
			wantGNMI: true, wantGNMIAddr: "127.0.0.1:2", wantAPI: "127.0.0.1:1"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			o, _, err := parseFlags(tc.args, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if o.useGNMI != tc.wantGNMI || o.gnmi.addr != tc.wantGNMIAddr || o.api != tc.wantAPI {
				t.Errorf("parseFlags(%q) = gNMI %v at %s, API %s; want gNMI %v at %s, API %s", tc.args, o.useGNMI, o.gnmi.addr, o.api,
					tc.wantGNMI, tc.wantGNMIAddr, tc.wantAPI)
			}
		})
	}
}

// TestPathNotServed: a gNMI server that serves none of evpnctl's paths
// (one implementing no RPC: a unit test of the error, not of evpnd) gets an
// error naming the server and the path.
func TestPathNotServed(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	gpb.RegisterGNMIServer(srv, gpb.UnimplementedGNMIServer{})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	addr := lis.Addr().String()
	for _, tc := range []struct {
		desc     string
		command  []string
		wantPath string
	}{
		{desc: "MAC", command: []string{"show", "evpn", "mac"}, wantPath: "/network-instances/network-instance[name=*]/evpn/evpn-instances/evpn-instance[evi=*]"},
		{desc: "ES", command: []string{"show", "evpn", "es"}, wantPath: "/ethernet-segments/ethernet-segment[name=*]"},
		{desc: "BGP", command: []string{"show", "bgp", "summary"},
			wantPath: "/network-instances/network-instance[name=*]/protocols/protocol[identifier=BGP][name=*]/bgp"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			err := run(context.Background(), append([]string{"--gnmi", addr, "--plaintext"}, tc.command...), &bytes.Buffer{}, func(string) string { return "" })
			for _, w := range []string{addr, "does not serve", tc.wantPath} {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %v, want one containing %q", strings.Join(tc.command, " "), err, w)
				}
			}
		})
	}
}

// TestNormalizeJSON: RFC 7951 module prefixes leave member names, never
// values (MACs, IPv6 addresses, identities are read by their types).
func TestNormalizeJSON(t *testing.T) {
	for _, tc := range []struct {
		desc, in, want string
	}{
		{desc: "no prefix is left as is", in: `{"mac-address": "02:00:00:00:aa:01", "peer-ip":"2001:db8::1"}`,
			want: `{"mac-address": "02:00:00:00:aa:01", "peer-ip":"2001:db8::1"}`},
		{desc: "prefixed members", in: `{"openconfig-network-instance:entries":{"entry":[{"p4evpn-x:local" : true,"mac":"02:00:00:00:aa:01"}]}}`,
			want: `{"entries":{"entry":[{"local":true,"mac":"02:00:00:00:aa:01"}]}}`},
		{desc: "escaped quote in a value", in: `{"description":"a \"b:c\": d","x:y":1}`, want: `{"description":"a \"b:c\": d","y":1}`},
		{desc: "identity value keeps its prefix here", in: `{"type":"openconfig-evpn-types:ALL_ACTIVE"}`,
			want: `{"type":"openconfig-evpn-types:ALL_ACTIVE"}`},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := normalizeJSON([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("normalizeJSON(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
	if _, err := normalizeJSON([]byte(`{"a:b": `)); err == nil {
		t.Error("normalizeJSON of truncated JSON with a prefixed member: no error")
	}
}

// TestOCTypes: JSON_IETF's quoted 64-bit integers and module-qualified
// identities decode like plain JSON's.
func TestOCTypes(t *testing.T) {
	var v struct {
		Age   ocUint `json:"age"`
		Label ocUint `json:"label"`
		Mode  ident  `json:"mode"`
		State ident  `json:"state"`
	}
	if err := json.Unmarshal([]byte(`{"age":"18446744073709551615","label":100001,"mode":"openconfig-evpn-types:ALL_ACTIVE","state":"ESTABLISHED"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.Age != 1<<64-1 || v.Label != 100001 || v.Mode != "ALL_ACTIVE" || v.State != "ESTABLISHED" {
		t.Errorf("decoded %+v", v)
	}
	for _, bad := range []string{`{"age":"-1"}`, `{"age":true}`, `{"mode":7}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("json.Unmarshal(%s): no error", bad)
		}
	}
}

// TestHelp: -h prints the usage and every flag, and is no error.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &out, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"show evpn mac [EVI]", "local API only: no OpenConfig path", "-gnmi HOST:PORT", "-plaintext", "-api HOST:PORT"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("evpnctl -h lacks %q:\n%s", w, out.String())
		}
	}
}
