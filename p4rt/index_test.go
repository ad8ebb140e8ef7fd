package p4rt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	"google.golang.org/protobuf/proto"
)

// unitIndex loads testdata/unit.p4info.txtpb, a P4Info with one object of
// every kind.
func unitIndex(t testing.TB) *Index {
	t.Helper()
	info, err := LoadP4Info("testdata/unit.p4info.txtpb")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := NewIndex(info)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestIndexLookups(t *testing.T) {
	ix := unitIndex(t)
	tests := []struct {
		desc    string
		lookup  func() (uint32, error)
		want    uint32
		wantErr string
	}{
		{desc: "table by full name", lookup: func() (uint32, error) { x, err := ix.Table("ingress.fib"); return id(x, err) }, want: 33554433},
		{desc: "table by alias", lookup: func() (uint32, error) { x, err := ix.Table("fib"); return id(x, err) }, want: 33554433},
		{desc: "table by id", lookup: func() (uint32, error) { x, err := ix.TableByID(33554434); return id(x, err) }, want: 33554434},
		{desc: "unknown table", lookup: func() (uint32, error) { x, err := ix.Table("ingress.fibb"); return id(x, err) }, wantErr: `table "ingress.fibb": unknown name`},
		{desc: "unknown table id", lookup: func() (uint32, error) { x, err := ix.TableByID(7); return id(x, err) }, wantErr: "table id 0x7: unknown name"},
		{desc: "action by alias", lookup: func() (uint32, error) { x, err := ix.Action("forward"); return id(x, err) }, want: 16777217},
		{desc: "ambiguous alias", lookup: func() (uint32, error) { x, err := ix.Action("drop"); return id(x, err) }, wantErr: `action "drop": unknown name (an alias of several objects`},
		{desc: "full name despite shared alias", lookup: func() (uint32, error) { x, err := ix.Action("egress.drop"); return id(x, err) }, want: 16777221},
		{desc: "action profile", lookup: func() (uint32, error) { x, err := ix.ActionProfile("ecmp_selector"); return id(x, err) }, want: 285212673},
		{desc: "counter", lookup: func() (uint32, error) { x, err := ix.Counter("port_counter"); return id(x, err) }, want: 302006273},
		{desc: "direct counter", lookup: func() (uint32, error) { x, err := ix.DirectCounter("ingress.fib_counter"); return id(x, err) }, want: 318767105},
		{desc: "meter", lookup: func() (uint32, error) { x, err := ix.Meter("port_meter"); return id(x, err) }, want: 335544321},
		{desc: "register", lookup: func() (uint32, error) { x, err := ix.Register("last_seen"); return id(x, err) }, want: 369098753},
		{desc: "digest", lookup: func() (uint32, error) { x, err := ix.Digest("mac_learn_t"); return id(x, err) }, want: 385875969},
		{desc: "packet metadata", lookup: func() (uint32, error) { x, err := ix.PacketMetadata("packet_out"); return id(x, err) }, want: 67121543},
		{desc: "unknown digest", lookup: func() (uint32, error) { x, err := ix.Digest("nope"); return id(x, err) }, wantErr: `digest "nope": unknown name`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := tc.lookup()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrUnknownName) {
					t.Fatalf("error = %v, want one containing %q and wrapping ErrUnknownName", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("id = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

type hasID interface {
	*TableInfo | *ActionInfo | *ActionProfileInfo | *CounterInfo | *DirectCounterInfo | *MeterInfo |
		*RegisterInfo | *DigestInfo | *PacketMetadataInfo
}

func id[T hasID](x T, err error) (uint32, error) {
	if err != nil {
		return 0, err
	}
	switch x := any(x).(type) {
	case *TableInfo:
		return x.ID, nil
	case *ActionInfo:
		return x.ID, nil
	case *ActionProfileInfo:
		return x.ID, nil
	case *CounterInfo:
		return x.ID, nil
	case *DirectCounterInfo:
		return x.ID, nil
	case *MeterInfo:
		return x.ID, nil
	case *RegisterInfo:
		return x.ID, nil
	case *DigestInfo:
		return x.ID, nil
	case *PacketMetadataInfo:
		return x.ID, nil
	}
	return 0, nil
}

func TestIndexTableDetails(t *testing.T) {
	ix := unitIndex(t)
	fib, _ := ix.Table("fib")
	if fib.NeedsPriority || !fib.IdleTimeout || fib.DirectCounter == nil || fib.DirectCounter.Name != "ingress.fib_counter" || fib.ActionProfile != nil {
		t.Errorf("fib = %+v: want exact-only, idle timeout, direct counter fib_counter, no profile", fib)
	}
	acl, _ := ix.Table("acl")
	if !acl.NeedsPriority {
		t.Errorf("acl.NeedsPriority = false, want true (ternary, range, optional fields)")
	}
	ecmp, _ := ix.Table("ecmp")
	if ecmp.ActionProfile == nil || !ecmp.ActionProfile.WithSelector || ecmp.ConstDefaultActionID != 16777219 {
		t.Errorf("ecmp = %+v: want selector implementation and a const default", ecmp)
	}
	f, err := fib.Field("hdr.ethernet.dst_addr")
	if err != nil || f.Bitwidth != 48 || f.ID != 2 {
		t.Errorf("fib field dst = %+v, %v", f, err)
	}
	if _, err := fib.Field("dst"); !errors.Is(err, ErrUnknownName) || !strings.Contains(err.Error(), `table "ingress.fib": match field "dst"`) {
		t.Errorf("unknown field error = %v", err)
	}
	if entry, def := fib.AllowsAction(16777219); entry || !def {
		t.Errorf("fib NoAction allowed entry=%t default=%t, want false true (DEFAULT_ONLY)", entry, def)
	}
	d, _ := ix.Digest("mac_learn_t")
	want := []DigestField{{Name: "bd", Bitwidth: 16}, {Name: "mac", Bitwidth: 48}, {Name: "port", Bitwidth: 9}}
	if len(d.Fields) != len(want) {
		t.Fatalf("digest fields = %+v, want %+v", d.Fields, want)
	}
	for i := range want {
		if d.Fields[i] != want[i] {
			t.Errorf("digest field %d = %+v, want %+v", i, d.Fields[i], want[i])
		}
	}
}

func TestNewIndexRejectsInconsistentP4Info(t *testing.T) {
	base, err := LoadP4Info("testdata/unit.p4info.txtpb")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc    string
		mutate  func(*p4configv1.P4Info)
		wantErr string
	}{
		{desc: "duplicate table id", mutate: func(p *p4configv1.P4Info) {
			p.Tables[1].Preamble.Id = p.Tables[0].Preamble.Id
		}, wantErr: `table "ingress.route": id 0x2000001 is used twice`},
		{desc: "duplicate action name", mutate: func(p *p4configv1.P4Info) {
			p.Actions[1].Preamble.Name = p.Actions[0].Preamble.Name
		}, wantErr: `action name "ingress.forward" is used twice`},
		{desc: "table refers to unknown action", mutate: func(p *p4configv1.P4Info) {
			p.Tables[0].ActionRefs[0].Id = 16777299
		}, wantErr: `table "ingress.fib" refers to action id 0x1000053: unknown name`},
		{desc: "unknown implementation", mutate: func(p *p4configv1.P4Info) {
			p.Tables[3].ImplementationId = 285212699
		}, wantErr: `table "ingress.ecmp" implementation: action profile id 0x1100001b`},
		{desc: "duplicate match field", mutate: func(p *p4configv1.P4Info) {
			p.Tables[0].MatchFields[1].Name = "bd"
		}, wantErr: `table "ingress.fib": match field "bd" is declared twice`},
		{desc: "duplicate param id", mutate: func(p *p4configv1.P4Info) {
			p.Actions[0].Params[1].Id = 1
		}, wantErr: `action "ingress.forward": param id 1 is used twice`},
		{desc: "zero id", mutate: func(p *p4configv1.P4Info) {
			p.Counters[0].Preamble.Id = 0
		}, wantErr: `counter "ingress.port_counter" has id 0`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			info := proto.Clone(base).(*p4configv1.P4Info)
			tc.mutate(info)
			_, err := NewIndex(info)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewIndex error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoadP4InfoBinaryAndErrors(t *testing.T) {
	text, err := LoadP4Info("testdata/unit.p4info.txtpb")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "unit.p4info.bin")
	data, err := proto.Marshal(text)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadP4Info(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, text) {
		t.Error("binary P4Info differs from the text one it was written from")
	}
	bad := filepath.Join(dir, "bad.txtpb")
	if err := os.WriteFile(bad, []byte("tables { nonsense: 1 }"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadP4Info(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadP4Info(bad text) error = %v, want one naming %s", err, bad)
	}
	if _, err := LoadP4Info(filepath.Join(dir, "missing.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadP4Info(missing) error = %v, want ErrNotExist", err)
	}
}

func TestPipelineCookieIsAFunctionOfContent(t *testing.T) {
	info, err := LoadP4Info("testdata/unit.p4info.txtpb")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := NewPipeline(info, []byte("config v1"))
	again, _ := NewPipeline(proto.Clone(info).(*p4configv1.P4Info), []byte("config v1"))
	otherConfig, _ := NewPipeline(info, []byte("config v2"))
	changed := proto.Clone(info).(*p4configv1.P4Info)
	changed.Tables[0].Size++
	otherInfo, _ := NewPipeline(changed, []byte("config v1"))
	if a.Cookie != again.Cookie {
		t.Error("the same program has two cookies")
	}
	if a.Cookie == otherConfig.Cookie || a.Cookie == otherInfo.Cookie || a.Cookie == 0 {
		t.Errorf("cookies %#x, %#x, %#x: a changed device config or P4Info must change the cookie", a.Cookie, otherConfig.Cookie, otherInfo.Cookie)
	}
}
