package softswitch

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mutate loads testdata/<name>.json as a generic document, applies f and
// re-encodes it.
func mutate(t *testing.T, name string, f func(doc map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	f(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func firstAction(doc map[string]any, name string) map[string]any {
	for _, a := range doc["actions"].([]any) {
		am := a.(map[string]any)
		if am["name"] == name {
			return am
		}
	}
	panic("no action " + name)
}

func TestLoadRejectsWhatItCannotRunAndNamesIt(t *testing.T) {
	meter, err := os.ReadFile(filepath.Join("testdata", "meter.json"))
	if err != nil {
		t.Fatal(err)
	}
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		desc     string
		json     []byte
		wantErr  error
		wantText string
	}{
		{desc: "a program executing a meter", json: meter, wantErr: ErrUnsupported, wantText: `primitive "execute_meter"`},
		{desc: "header unions (testdata/programs/misc)", json: read("testdata/programs/misc/prog.json"), wantErr: ErrUnsupported, wantText: "header_union_types"},
		{desc: "a parser value set (testdata/programs/value_set)", json: read("testdata/programs/value_set/prog.json"), wantErr: ErrUnsupported, wantText: "parse_vsets"},
		{desc: "not JSON", json: []byte("{"), wantErr: ErrInvalid, wantText: "bmv2 json"},
		{desc: "format version 1", wantErr: ErrUnsupported, wantText: "format version",
			json: mutate(t, "tables", func(d map[string]any) { d["__meta__"] = map[string]any{"version": []int{1, 0}} })},
		{desc: "an unknown primitive", wantErr: ErrUnsupported, wantText: `action "ig.set_lpm": primitive 0 (frobnicate)`,
			json: mutate(t, "tables", func(d map[string]any) {
				firstAction(d, "ig.set_lpm")["primitives"].([]any)[0].(map[string]any)["op"] = "frobnicate"
			})},
		{desc: "an unknown hash algorithm", wantErr: ErrUnsupported, wantText: `hash algorithm "crc64"`,
			json: mutate(t, "externs", func(d map[string]any) {
				d["calculations"].([]any)[0].(map[string]any)["algo"] = "crc64"
			})},
		{desc: "a header union", wantErr: ErrUnsupported, wantText: "header_unions",
			json: mutate(t, "tables", func(d map[string]any) { d["header_unions"] = []any{map[string]any{"name": "u"}} })},
		{desc: "a variable-length field", wantErr: ErrUnsupported, wantText: `field "opt": variable-length`,
			json: mutate(t, "tables", func(d map[string]any) {
				for _, ht := range d["header_types"].([]any) {
					for _, f := range ht.(map[string]any)["fields"].([]any) {
						if fs := f.([]any); fs[0] == "opt" {
							fs[1] = "*"
						}
					}
				}
			})},
		{desc: "a field that does not exist", wantErr: ErrInvalid, wantText: "unknown field k.nope",
			json: mutate(t, "tables", func(d map[string]any) {
				p := firstAction(d, "ig.set_lpm")["primitives"].([]any)[0].(map[string]any)
				p["parameters"].([]any)[0].(map[string]any)["value"] = []any{"k", "nope"}
			})},
		{desc: "arithmetic on a 128-bit value", wantErr: ErrUnsupported, wantText: `operator "+"`,
			json: mutate(t, "tables", func(d map[string]any) {
				p := firstAction(d, "ig.set_wide")["primitives"].([]any)[1].(map[string]any)
				p["parameters"].([]any)[1] = map[string]any{"type": "expression", "value": map[string]any{
					"op": "+", "left": map[string]any{"type": "runtime_data", "value": 1}, "right": map[string]any{"type": "hexstr", "value": "0x1"}}}
			})},
	}
	for _, tc := range tests {
		_, err := Compile(tc.json)
		if !errors.Is(err, tc.wantErr) || !strings.Contains(fmtErr(err), tc.wantText) {
			t.Errorf("%s: Compile error %q, want %v naming %q", tc.desc, fmtErr(err), tc.wantErr, tc.wantText)
		}
	}
	// A failed load leaves the running program in place.
	s, _ := loadProgram(t, "tables", Config{})
	if err := s.Load(meter); err == nil {
		t.Fatal("meter.json loaded")
	}
	p, err := s.Program()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Table("ig.macs"); err != nil {
		t.Errorf("after a failed load the tables program is gone: %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestIntrospectionByName(t *testing.T) {
	s, _ := loadProgram(t, "externs", Config{})
	p, err := s.Program()
	if err != nil {
		t.Fatal(err)
	}
	tb, err := p.Table("ig.sel")
	if err != nil {
		t.Fatal(err)
	}
	want := TableInfo{Name: "ig.sel", Keys: []KeyFieldInfo{{Name: "h.cmd.arg", Kind: MatchExact, Bitwidth: 16}},
		Actions: []string{"ig.send", "NoAction"}, ActionProfile: "ig.ecmp", MaxSize: 64}
	if diff := cmp.Diff(want, tb); diff != "" {
		t.Errorf("table ig.sel (-want +got):\n%s", diff)
	}
	a, err := p.Action(".ig.send") // P4Info's @name(".x") form works too
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ActionInfo{Name: "ig.send", Params: []ParamInfo{{Name: "port", Bitwidth: 9}}}, a); diff != "" {
		t.Errorf("action ig.send (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]ActionProfileInfo{{Name: "ig.ecmp", Tables: []string{"ig.sel"}, MaxSize: 64, WithSelector: true, SelectorAlgo: "crc32"}}, p.ActionProfiles()); diff != "" {
		t.Errorf("action profiles (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]CounterInfo{{Name: "ig.cnt", Size: 32}}, p.Counters()); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]RegisterInfo{{Name: "ig.reg", Size: 16, Bitwidth: 32}}, p.Registers()); diff != "" {
		t.Errorf("registers (-want +got):\n%s", diff)
	}
	d := p.Digests()
	if len(d) != 1 || d[0].Name != "learn_t" || len(d[0].Fields) != 2 || d[0].Fields[0].Bitwidth != 32 || d[0].Fields[1].Bitwidth != 9 {
		t.Errorf("digests = %+v, want learn_t with 32- and 9-bit fields", d)
	}
	var pin *HeaderTypeInfo
	for _, ht := range p.HeaderTypes() {
		if ht.Name == "packet_in_t" {
			pin = &ht
		}
	}
	if pin == nil || !cmp.Equal(pin.Fields, []ParamInfo{{Name: "ingress_port", Bitwidth: 9}, {Name: "pad", Bitwidth: 7}}) {
		t.Errorf("packet_in_t = %+v, want ingress_port:9 pad:7", pin)
	}
	if _, err := p.Table("ig.nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown table: %v, want ErrNotFound", err)
	}
}
