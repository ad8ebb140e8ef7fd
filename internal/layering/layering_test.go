// Package layering enforces the one-way map of packages in DESIGN.md: each
// layer may only depend on the layers below it, so a reader finds a feature by
// its layer and evpn/ stays testable without gRPC or a switch.
package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/p4evpn/p4evpn"

// rule forbids every package under From (or From itself) from depending,
// directly or through other packages, on any import path with a prefix in
// Forbidden. Allowed lists exceptions inside a forbidden prefix.
type rule struct {
	from      string
	forbidden []string
	allowed   []string
	// testsMayImport maps a package (prefix) to import prefixes its tests
	// may use although the package itself may not: an integration test that
	// drives a lower layer with the real upper one.
	testsMayImport map[string][]string
}

var rules = []rule{
	{
		from: module + "/evpn",
		forbidden: []string{
			"google.golang.org/grpc", "github.com/osrg/gobgp", "github.com/p4lang/p4runtime",
			module + "/p4rt", module + "/softswitch", module + "/bgp", module + "/gnmi",
			module + "/testbed", module + "/cmd",
		},
	},
	{
		// asic/ itself is vocabulary shared with evpn/; its P4Runtime
		// implementation lives in a sub-package, checked by the next rule.
		from: module + "/asic",
		forbidden: []string{
			module + "/evpn", module + "/bgp", module + "/gnmi", module + "/testbed", module + "/cmd",
		},
		allowed: []string{module + "/evpn/route"},
		// p4asic's tests drive the real evpn.PE through the P4Runtime switch.
		testsMayImport: map[string][]string{module + "/asic/p4asic": {module + "/evpn"}},
	},
	{
		from: module + "/p4rt",
		forbidden: []string{
			module + "/evpn", module + "/bgp", module + "/asic", module + "/softswitch",
			module + "/gnmi", module + "/testbed", module + "/cmd",
		},
	},
	{
		from: module + "/bgp",
		forbidden: []string{
			module + "/evpn", module + "/asic", module + "/p4rt", module + "/softswitch",
			module + "/gnmi", module + "/testbed", module + "/cmd",
		},
		allowed: []string{module + "/evpn/route"},
	},
	{
		from: module + "/softswitch",
		forbidden: []string{
			module + "/evpn", module + "/bgp", module + "/asic", module + "/gnmi",
			module + "/testbed", module + "/cmd",
		},
	},
	{
		from: module + "/p4",
		forbidden: []string{
			module + "/evpn", module + "/bgp", module + "/asic", module + "/p4rt",
			module + "/softswitch", module + "/gnmi", module + "/testbed", module + "/cmd",
		},
	},
	{
		from:      module + "/gnmi",
		forbidden: []string{module + "/p4rt", module + "/softswitch", module + "/testbed", module + "/cmd"},
	},
}

type listedPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Standard     bool
}

func hasPathPrefix(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func listPackages(t *testing.T) map[string]*listedPackage {
	t.Helper()
	touchSources(t)
	cmd := exec.Command("go", "list", "-deps", "-test", "-json=ImportPath,Imports,TestImports,XTestImports,Standard", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]*listedPackage{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Standard {
			continue
		}
		// "-test" adds test variants named "pkg [pkg.test]"; fold them onto pkg.
		name, _, _ := strings.Cut(p.ImportPath, " ")
		// The test main and external test packages ("pkg_test") are covered
		// through pkg's TestImports and XTestImports.
		if strings.HasSuffix(name, ".test") || strings.HasSuffix(name, "_test") {
			continue
		}
		if old, ok := pkgs[name]; ok {
			old.Imports = append(old.Imports, p.Imports...)
			continue
		}
		pkgs[name] = &p
		p.ImportPath = name
	}
	return pkgs
}

// touchSources stats every Go file and go.mod in the module so that go test's
// cache, which records the files a test opens, reruns this test when any
// import changes; the go list child process is invisible to it.
func touchSources(t *testing.T) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || d.Name() == "go.mod") {
			_, err = os.ReadFile(path)
		}
		return err
	})
	if err != nil {
		t.Fatalf("walk module: %v", err)
	}
}

// chain returns the import path from one package to the first package that
// matches bad, or nil when there is none. Test-only imports of the starting
// package count too: a test of evpn/ that needs a P4Runtime target belongs in
// a higher layer.
func chain(pkgs map[string]*listedPackage, from string, bad, testOK func(string) bool) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		p := pkgs[cur]
		if p == nil {
			continue
		}
		next := slices.Clone(p.Imports)
		if cur == from {
			for _, imp := range append(slices.Clone(p.TestImports), p.XTestImports...) {
				if testOK == nil || !testOK(imp) {
					next = append(next, imp)
				}
			}
		}
		for _, imp := range next {
			imp, _, _ = strings.Cut(imp, " ")
			if _, seen := prev[imp]; seen {
				continue
			}
			prev[imp] = cur
			if bad(imp) {
				path := []string{imp}
				for at := cur; at != ""; at = prev[at] {
					path = append([]string{at}, path...)
				}
				return path
			}
			queue = append(queue, imp)
		}
	}
	return nil
}

func TestLayers(t *testing.T) {
	pkgs := listPackages(t)
	checked := 0
	for _, r := range rules {
		bad := func(path string) bool {
			for _, a := range r.allowed {
				if hasPathPrefix(path, a) {
					return false
				}
			}
			for _, f := range r.forbidden {
				if hasPathPrefix(path, f) && !hasPathPrefix(path, r.from) {
					return true
				}
			}
			return false
		}
		for name := range pkgs {
			if !hasPathPrefix(name, r.from) {
				continue
			}
			// A sub-package of asic/ (the P4Runtime implementation) is not
			// imported by evpn/ and may use p4rt/; it still must not import
			// the layers above it.
			checked++
			testOK := func(path string) bool {
				for pkg, allowed := range r.testsMayImport {
					for _, a := range allowed {
						if hasPathPrefix(name, pkg) && hasPathPrefix(path, a) {
							return true
						}
					}
				}
				return false
			}
			if c := chain(pkgs, name, bad, testOK); c != nil {
				t.Errorf("%s must not depend on %s (layer rule for %s); import chain:\n\t%s",
					name, c[len(c)-1], r.from, strings.Join(c, "\n\t→ "))
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package matched any layer rule: is the module path right?")
	}
}

// TestChainFindsIndirectImports checks the checker on a made-up graph, so
// that a broken walk cannot silently pass every real package.
func TestChainFindsIndirectImports(t *testing.T) {
	pkgs := map[string]*listedPackage{
		"a":      {ImportPath: "a", Imports: []string{"b"}, XTestImports: []string{"t"}},
		"b":      {ImportPath: "b", Imports: []string{"grpc/x"}},
		"t":      {ImportPath: "t"},
		"grpc/x": {ImportPath: "grpc/x"},
	}
	got := chain(pkgs, "a", func(p string) bool { return hasPathPrefix(p, "grpc") }, nil)
	want := []string{"a", "b", "grpc/x"}
	if !slices.Equal(got, want) {
		t.Errorf("chain = %v, want %v", got, want)
	}
	if got := chain(pkgs, "a", func(p string) bool { return p == "t" }, nil); !slices.Equal(got, []string{"a", "t"}) {
		t.Errorf("test import chain = %v, want [a t]", got)
	}
	if got := chain(pkgs, "b", func(p string) bool { return p == "t" }, nil); got != nil {
		t.Errorf("chain from b = %v, want none", got)
	}
	if got := chain(pkgs, "a", func(p string) bool { return p == "t" }, func(p string) bool { return p == "t" }); got != nil {
		t.Errorf("chain with t allowed in tests = %v, want none", got)
	}
}
