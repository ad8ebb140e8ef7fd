package gnmi

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/p4evpn/p4evpn/evpn/route"
	"google.golang.org/protobuf/encoding/prototext"
)

// installGnmiCli builds openconfig's gnmi_cli at the module's version into
// a temporary GOBIN; it skips the test when that is impossible.
func installGnmiCli(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the gnmi_cli interop test in -short mode (it builds gnmi_cli)")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("skipping: no go tool on PATH to install gnmi_cli: %v", err)
	}
	gobin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "install", "github.com/openconfig/gnmi/cmd/gnmi_cli@v0.14.1")
	// Outside this module, so its go.mod does not constrain gnmi_cli's.
	cmd.Dir = gobin
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("skipping: go install gnmi_cli@v0.14.1 failed (module proxy unreachable?): %v\n%s", err, out)
	}
	return filepath.Join(gobin, "gnmi_cli")
}

// runCli runs gnmi_cli against addr as the admin user and returns stdout.
func runCli(t *testing.T, bin, addr string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-address", addr, "-insecure", "-with_user_pass"}, args...)...)
	cmd.Env = append(os.Environ(), "GNMI_USER=admin", "GNMI_PASS=admin-secret")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gnmi_cli %v: %v\nstdout: %s\nstderr: %s", args, err, out, stderr.String())
	}
	return string(out)
}

func TestGnmiCliInterop(t *testing.T) {
	bin := installGnmiCli(t)
	srv, addr := startServer(t, Options{})

	t.Run("capabilities", func(t *testing.T) {
		var resp gpb.CapabilityResponse
		if err := prototext.Unmarshal([]byte(runCli(t, bin, addr, "-capabilities")), &resp); err != nil {
			t.Fatalf("parse capabilities output: %v", err)
		}
		found := false
		for _, m := range resp.GetSupportedModels() {
			found = found || (m.GetName() == "openconfig-evpn" && m.GetVersion() == "0.11.0")
		}
		if !found || resp.GetGNMIVersion() != "0.10.0" {
			t.Errorf("capabilities lack openconfig-evpn 0.11.0 or gNMI 0.10.0: %v", &resp)
		}
	})

	t.Run("set replaces the config", func(t *testing.T) {
		req := &gpb.SetRequest{Replace: []*gpb.Update{{Path: &gpb.Path{}, Val: jsonIETF(fixtureJSON)}}}
		file := filepath.Join(t.TempDir(), "set.textproto")
		if err := os.WriteFile(file, []byte(prototext.Format(req)), 0o600); err != nil {
			t.Fatal(err)
		}
		var resp gpb.SetResponse
		if err := prototext.Unmarshal([]byte(runCli(t, bin, addr, "-set", "-proto_file", file)), &resp); err != nil {
			t.Fatalf("parse set output: %v", err)
		}
		if len(resp.GetResponse()) != 1 || resp.GetResponse()[0].GetOp() != gpb.UpdateResult_REPLACE {
			t.Errorf("set response = %v, want one REPLACE", &resp)
		}
		if diff := cmp.Diff(fixtureConfig(), srv.Running()); diff != "" {
			t.Errorf("running config after gnmi_cli set (-want +got):\n%s", diff)
		}
	})

	t.Run("get a MAC-VRF's config", func(t *testing.T) {
		out := runCli(t, bin, addr, "-get", "-proto", `encoding: JSON_IETF type: CONFIG
			path: <elem: <name: "network-instances"> elem: <name: "network-instance" key: <key: "name" value: "blue">> elem: <name: "config">>`)
		var resp gpb.GetResponse
		if err := prototext.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("parse get output: %v\n%s", err, out)
		}
		got := decodeJSON(t, resp.GetNotification()[0].GetUpdate()[0].GetVal().GetJsonIetfVal())
		want := map[string]any{"name": "blue", "type": "openconfig-network-instance-types:L2VSI", "route-distinguisher": "192.0.2.1:100"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("gnmi_cli get (-want +got):\n%s", diff)
		}
	})

	t.Run("subscribe once to the MAC table", func(t *testing.T) {
		srv.State().SetMACEntry("blue", MACEntry{MAC: route.MustMAC("00:00:5e:00:53:01"), VLAN: 100, EVI: 100,
			Interface: "eth1", Subinterface: 100})
		out := runCli(t, bin, addr, "-query_type", "once", "-display_type", "single",
			"-query", "/network-instances/network-instance[name=blue]/fdb/mac-table/entries/entry[mac-address=*][vlan=*]/state")
		for _, want := range []string{"entry-type", "DYNAMIC", "00:00:5e:00:53:01", "evi"} {
			if !strings.Contains(out, want) {
				t.Errorf("gnmi_cli subscribe output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("stream on_change sees the device's update", func(t *testing.T) {
		srv.State().SetInterface(InterfaceState{Name: "eth1", OperStatus: "UP"})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-address", addr, "-insecure", "-with_user_pass", "-query_type", "streaming",
			"-display_type", "single", "-query", "/interfaces/interface[name=eth1]/state/oper-status")
		cmd.Env = append(os.Environ(), "GNMI_USER=viewer", "GNMI_PASS=viewer-secret")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		var out []string
		for l := range lines {
			out = append(out, l)
			if strings.Contains(l, "UP") {
				break // synced: now the device changes the leaf
			}
		}
		srv.State().SetInterface(InterfaceState{Name: "eth1", OperStatus: "DOWN"})
		sawDown := false
		for l := range lines {
			out = append(out, l)
			if strings.Contains(l, "DOWN") {
				sawDown = true
				break
			}
		}
		cancel() // a stream runs until the client stops it
		for range lines {
		}
		_ = cmd.Wait()
		if !sawDown {
			t.Errorf("gnmi_cli stream output lacks the ON_CHANGE update to DOWN:\n%s", strings.Join(out, "\n"))
		}
	})
}
