package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p4evpn/p4evpn/config"
	"github.com/p4evpn/p4evpn/testbed"
)

func TestRunRefuses(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		args    []string
		wantErr string
	}{
		{desc: "no command", args: nil, wantErr: "usage"},
		{desc: "unknown command", args: []string{"launch"}, wantErr: `unknown command "launch"`},
		{desc: "up without file", args: []string{"up"}, wantErr: "want one topology FILE"},
		{desc: "up with a missing file", args: []string{"up", "/nonexistent/topo.yaml"}, wantErr: "/nonexistent/topo.yaml"},
		{desc: "exec without --", args: []string{"exec", "A", "ping"}, wantErr: "want HOST -- CMD"},
		{desc: "demo with a bad reflector kind", args: []string{"demo", "--rr", "bird"}, wantErr: `"bird"`},
		{desc: "demo with a bad target", args: []string{"demo", "--netns", "--target", "tofino"}, wantErr: `--target "tofino"`},
		{desc: "up with bmv2 in-process", args: []string{"up", "--target", "bmv2", "x.yaml"}, wantErr: "--target bmv2 needs --netns"},
		{desc: "demo with an argument", args: []string{"demo", "extra"}, wantErr: `unexpected arguments ["extra"]`},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var out strings.Builder
			err := run(tc.args, &out)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.wantErr)
			}
		})
	}
}

// TestShow prints the derived evpnd configs of the example fabric: each
// must be a valid evpnd config file.
func TestShow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(path, testbed.DemoYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run([]string{"show", path}, &out); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(out.String(), "\n# ")
	if len(docs) != 4 {
		t.Fatalf("show printed %d configs, want 4 (3 PEs, 1 reflector):\n%s", len(docs), out.String())
	}
	for _, d := range docs {
		name, body, _ := strings.Cut(strings.TrimPrefix(d, "# "), "\n")
		if _, err := config.Parse([]byte(body)); err != nil {
			t.Errorf("config of %s does not parse: %v\n%s", name, err, body)
		}
	}
}
