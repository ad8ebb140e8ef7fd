package p4

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
)

// The expected shape of every P4Info entity the Go code touches, written
// from the contract constants so that a width or name changed on one side
// only fails here, naming the entity.

type matchSpec struct {
	Name  string
	Bits  int32
	Match string // "EXACT", ... or "" for selector fields (not in P4Info)
}

type paramSpec struct {
	Name string
	Bits int32
}

type tableSpec struct {
	Name         string
	Keys         []matchSpec
	Actions      []string // every action the table may take, sorted
	ConstDefault string   // the const default action, "" if none
	Size         int64
	Profile      string // action profile implementing the table, "" if none
	IdleTimeout  bool
}

func exact(name string, bits int32) matchSpec {
	return matchSpec{Name: name, Bits: bits, Match: "EXACT"}
}

func contractTables() []tableSpec {
	return []tableSpec{
		{
			Name:         TablePortKind,
			Keys:         []matchSpec{exact(FieldPort, PortBits)},
			Actions:      []string{ActionIngressDiscard, ActionSetAccessPort, ActionSetCorePort},
			ConstDefault: ActionIngressDiscard,
			Size:         SizePortKind,
		},
		{
			Name:         TableAttachmentCircuit,
			Keys:         []matchSpec{exact(FieldPort, PortBits), exact(FieldVIDOuter, VLANIDBits), exact(FieldVIDInner, VLANIDBits)},
			Actions:      []string{ActionBlockAC, ActionIngressDiscard, ActionSetAC},
			ConstDefault: ActionIngressDiscard,
			Size:         SizeAttachmentCircuit,
		},
		{
			Name:         TableTransportLabel,
			Keys:         []matchSpec{exact(FieldLabel, LabelBits)},
			Actions:      []string{ActionNoAction, ActionPopTransport},
			ConstDefault: ActionNoAction,
			Size:         SizeTransportLabel,
		},
		{
			Name:         TableServiceLabel,
			Keys:         []matchSpec{exact(FieldLabel, LabelBits)},
			Actions:      []string{ActionIngressDiscard, ActionSetBUMBD, ActionSetServiceBD},
			ConstDefault: ActionIngressDiscard,
			Size:         SizeServiceLabel,
		},
		{
			Name:         TableESILabel,
			Keys:         []matchSpec{exact(FieldLabel, LabelBits)},
			Actions:      []string{ActionIngressDiscard, ActionSetSourceES},
			ConstDefault: ActionIngressDiscard,
			Size:         SizeESILabel,
		},
		{
			Name:         TableSourceMAC,
			Keys:         []matchSpec{exact(FieldBD, BridgeDomainBits), exact(FieldMAC, MACBits)},
			Actions:      []string{ActionSMACKnown, ActionSMACPinned, ActionSMACUnknown},
			ConstDefault: ActionSMACUnknown,
			Size:         SizeSourceMAC,
			IdleTimeout:  true,
		},
		{
			Name: TableFDB,
			Keys: []matchSpec{exact(FieldBD, BridgeDomainBits), exact(FieldMAC, MACBits)},
			Actions: []string{ActionFDBDiscard, ActionFDBMiss, ActionToAliasingGroup,
				ActionToCPU, ActionToLocalAC, ActionToRemotePE},
			ConstDefault: ActionFDBMiss,
			Size:         SizeFDB,
		},
		{
			Name:    TableAliasing,
			Keys:    []matchSpec{exact(FieldGroup, AliasingGroupBits)},
			Actions: []string{ActionNoAction, ActionSetAliasingPE},
			Size:    SizeAliasing,
			Profile: ActionProfileAliasingSelector,
		},
		{
			Name:         TableRemoteServiceLabel,
			Keys:         []matchSpec{exact(FieldPE, RemotePEBits), exact(FieldBD, BridgeDomainBits)},
			Actions:      []string{ActionIngressDiscard, ActionSetRemoteServiceLabel},
			ConstDefault: ActionIngressDiscard,
			Size:         SizeRemoteServiceLabel,
		},
		{
			Name:         TableTunnelPort,
			Keys:         []matchSpec{exact(FieldPE, RemotePEBits)},
			Actions:      []string{ActionIngressDiscard, ActionSetTunnelPort},
			ConstDefault: ActionIngressDiscard,
			Size:         SizeTunnelPort,
		},
		{
			Name:         TableFloodReplica,
			Keys:         []matchSpec{exact(FieldRID, EgressRIDBits)},
			Actions:      []string{ActionEgressDiscard, ActionReplicaToAC, ActionReplicaToPE},
			ConstDefault: ActionEgressDiscard,
			Size:         SizeFloodReplica,
		},
		{
			Name:         TableACEgress,
			Keys:         []matchSpec{exact(FieldAC, AttachmentCircuitBits)},
			Actions:      []string{ActionBlockACEgress, ActionEgressDiscard, ActionSetACEgress},
			ConstDefault: ActionEgressDiscard,
			Size:         SizeACEgress,
		},
		{
			Name:         TableDF,
			Keys:         []matchSpec{exact(FieldES, EthernetSegmentBits), exact(FieldBD, BridgeDomainBits)},
			Actions:      []string{ActionDFForward, ActionEgressDiscard},
			ConstDefault: ActionEgressDiscard,
			Size:         SizeDF,
		},
		{
			Name:         TablePeerESILabel,
			Keys:         []matchSpec{exact(FieldPE, RemotePEBits), exact(FieldES, EthernetSegmentBits)},
			Actions:      []string{ActionNoAction, ActionPushESILabel},
			ConstDefault: ActionNoAction,
			Size:         SizePeerESILabel,
		},
		{
			Name:         TableTunnel,
			Keys:         []matchSpec{exact(FieldPE, RemotePEBits)},
			Actions:      []string{ActionEgressDiscard, ActionSetTunnel},
			ConstDefault: ActionEgressDiscard,
			Size:         SizeTunnel,
		},
	}
}

type actionSpec struct {
	Name   string
	Params []paramSpec
}

func contractActions() []actionSpec {
	return []actionSpec{
		{Name: ActionSetAccessPort},
		{Name: ActionSetCorePort},
		{Name: ActionSetAC, Params: []paramSpec{{FieldBD, BridgeDomainBits}, {FieldAC, AttachmentCircuitBits}, {FieldES, EthernetSegmentBits}}},
		{Name: ActionBlockAC},
		{Name: ActionPopTransport},
		{Name: ActionSetServiceBD, Params: []paramSpec{{FieldBD, BridgeDomainBits}}},
		{Name: ActionSetBUMBD, Params: []paramSpec{{FieldBD, BridgeDomainBits}}},
		{Name: ActionSetSourceES, Params: []paramSpec{{FieldES, EthernetSegmentBits}}},
		{Name: ActionSMACKnown, Params: []paramSpec{{FieldAC, AttachmentCircuitBits}}},
		{Name: ActionSMACPinned, Params: []paramSpec{{FieldAC, AttachmentCircuitBits}}},
		{Name: ActionSMACUnknown},
		{Name: ActionToLocalAC, Params: []paramSpec{{FieldAC, AttachmentCircuitBits}, {FieldPort, PortBits}}},
		{Name: ActionToRemotePE, Params: []paramSpec{{FieldPE, RemotePEBits}, {FieldLabel, LabelBits}}},
		{Name: ActionToAliasingGroup, Params: []paramSpec{{FieldGroup, AliasingGroupBits}}},
		{Name: ActionFDBDiscard},
		{Name: ActionToCPU},
		{Name: ActionFDBMiss},
		{Name: ActionSetAliasingPE, Params: []paramSpec{{FieldPE, RemotePEBits}}},
		{Name: ActionSetRemoteServiceLabel, Params: []paramSpec{{FieldLabel, LabelBits}}},
		{Name: ActionSetTunnelPort, Params: []paramSpec{{FieldPort, PortBits}}},
		{Name: ActionIngressDiscard, Params: []paramSpec{{FieldReason, DropReasonBits}}},
		{Name: ActionReplicaToAC, Params: []paramSpec{{FieldAC, AttachmentCircuitBits}}},
		{Name: ActionReplicaToPE, Params: []paramSpec{{FieldPE, RemotePEBits}, {FieldLabel, LabelBits}}},
		{Name: ActionSetACEgress, Params: []paramSpec{{FieldES, EthernetSegmentBits}, {FieldVIDOuter, VLANIDBits}, {FieldVIDInner, VLANIDBits}}},
		{Name: ActionBlockACEgress},
		{Name: ActionDFForward},
		{Name: ActionPushESILabel, Params: []paramSpec{{FieldLabel, LabelBits}}},
		{Name: ActionSetTunnel, Params: []paramSpec{{FieldSrcMAC, MACBits}, {FieldDstMAC, MACBits}, {FieldTransportLabel, LabelBits}, {FieldControlWord, ControlWordFlagBits}}},
		{Name: ActionEgressDiscard, Params: []paramSpec{{FieldReason, DropReasonBits}}},
		{Name: ActionNoAction},
	}
}

type counterSpec struct {
	Name string
	Size int64
	Unit string
}

func contractCounters() []counterSpec {
	const both = "BOTH"
	return []counterSpec{
		{CounterACIn, 1 << AttachmentCircuitBits, both},
		{CounterBDIn, 1 << BridgeDomainBits, both},
		{CounterDropsIn, 1 << DropReasonBits, both},
		{CounterACOut, 1 << AttachmentCircuitBits, both},
		{CounterBDOut, 1 << BridgeDomainBits, both},
		{CounterDropsOut, 1 << DropReasonBits, both},
	}
}

func loadP4Info(t *testing.T) *p4configv1.P4Info {
	t.Helper()
	info, err := EVPNP4Info()
	if err != nil {
		t.Fatalf("EVPNP4Info: %v", err)
	}
	return info
}

// p4infoIndex resolves P4Info ids to names.
type p4infoIndex struct {
	actionName map[uint32]string
	tableName  map[uint32]string
	profile    map[uint32]string
}

func indexP4Info(info *p4configv1.P4Info) p4infoIndex {
	ix := p4infoIndex{actionName: map[uint32]string{}, tableName: map[uint32]string{}, profile: map[uint32]string{}}
	for _, a := range info.GetActions() {
		ix.actionName[a.GetPreamble().GetId()] = a.GetPreamble().GetName()
	}
	for _, tb := range info.GetTables() {
		ix.tableName[tb.GetPreamble().GetId()] = tb.GetPreamble().GetName()
	}
	for _, p := range info.GetActionProfiles() {
		ix.profile[p.GetPreamble().GetId()] = p.GetPreamble().GetName()
	}
	return ix
}

// tableShape renders a P4Info table in the spec's terms.
func (ix p4infoIndex) tableShape(tb *p4configv1.Table) tableSpec {
	got := tableSpec{
		Name:        tb.GetPreamble().GetName(),
		Size:        tb.GetSize(),
		IdleTimeout: tb.GetIdleTimeoutBehavior() == p4configv1.Table_NOTIFY_CONTROL,
		Profile:     ix.profile[tb.GetImplementationId()],
	}
	for _, mf := range tb.GetMatchFields() {
		got.Keys = append(got.Keys, matchSpec{Name: mf.GetName(), Bits: mf.GetBitwidth(), Match: mf.GetMatchType().String()})
	}
	for _, ref := range tb.GetActionRefs() {
		got.Actions = append(got.Actions, ix.actionName[ref.GetId()])
	}
	sort.Strings(got.Actions)
	if id := tb.GetConstDefaultActionId(); id != 0 {
		got.ConstDefault = ix.actionName[id]
	}
	return got
}

func TestTablesMatchContract(t *testing.T) {
	info := loadP4Info(t)
	ix := indexP4Info(info)
	byName := map[string]*p4configv1.Table{}
	for _, tb := range info.GetTables() {
		byName[tb.GetPreamble().GetName()] = tb
	}
	for _, want := range contractTables() {
		t.Run(want.Name, func(t *testing.T) {
			tb, ok := byName[want.Name]
			if !ok {
				t.Fatalf("table %q is not in the P4Info", want.Name)
			}
			if diff := cmp.Diff(want, ix.tableShape(tb)); diff != "" {
				t.Errorf("table %q differs from the contract (-contract +P4Info):\n%s", want.Name, diff)
			}
		})
	}
}

func TestEveryTableIsInContract(t *testing.T) {
	covered := map[string]bool{}
	for _, spec := range contractTables() {
		covered[spec.Name] = true
	}
	for _, tb := range loadP4Info(t).GetTables() {
		if name := tb.GetPreamble().GetName(); !covered[name] {
			t.Errorf("table %q is in the P4Info but not in contract.go: add it there and to contractTables", name)
		}
	}
}

func TestActionsMatchContract(t *testing.T) {
	info := loadP4Info(t)
	byName := map[string]*p4configv1.Action{}
	for _, a := range info.GetActions() {
		byName[a.GetPreamble().GetName()] = a
	}
	covered := map[string]bool{}
	for _, want := range contractActions() {
		covered[want.Name] = true
		t.Run(want.Name, func(t *testing.T) {
			a, ok := byName[want.Name]
			if !ok {
				t.Fatalf("action %q is not in the P4Info", want.Name)
			}
			got := actionSpec{Name: want.Name}
			for _, p := range a.GetParams() {
				got.Params = append(got.Params, paramSpec{Name: p.GetName(), Bits: p.GetBitwidth()})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("action %q differs from the contract (-contract +P4Info):\n%s", want.Name, diff)
			}
		})
	}
	for name := range byName {
		if !covered[name] {
			t.Errorf("action %q is in the P4Info but not in contract.go", name)
		}
	}
}

func TestAliasingSelector(t *testing.T) {
	info := loadP4Info(t)
	ix := indexP4Info(info)
	var found *p4configv1.ActionProfile
	for _, p := range info.GetActionProfiles() {
		if p.GetPreamble().GetName() == ActionProfileAliasingSelector {
			found = p
		}
	}
	if found == nil {
		t.Fatalf("action profile %q is not in the P4Info", ActionProfileAliasingSelector)
	}
	var tables []string
	for _, id := range found.GetTableIds() {
		tables = append(tables, ix.tableName[id])
	}
	type shape struct {
		WithSelector bool
		Size         int64
		Tables       []string
	}
	want := shape{WithSelector: true, Size: SizeAliasingSelector, Tables: []string{TableAliasing}}
	got := shape{WithSelector: found.GetWithSelector(), Size: found.GetSize(), Tables: tables}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("action profile %q (-contract +P4Info):\n%s", ActionProfileAliasingSelector, diff)
	}
}

func TestCountersMatchContract(t *testing.T) {
	info := loadP4Info(t)
	byName := map[string]*p4configv1.Counter{}
	for _, c := range info.GetCounters() {
		byName[c.GetPreamble().GetName()] = c
	}
	covered := map[string]bool{}
	for _, want := range contractCounters() {
		covered[want.Name] = true
		c, ok := byName[want.Name]
		if !ok {
			t.Errorf("counter %q is not in the P4Info", want.Name)
			continue
		}
		got := counterSpec{Name: want.Name, Size: c.GetSize(), Unit: c.GetSpec().GetUnit().String()}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("counter %q (-contract +P4Info):\n%s", want.Name, diff)
		}
	}
	for name := range byName {
		if !covered[name] {
			t.Errorf("counter %q is in the P4Info but not in contract.go", name)
		}
	}
}

// structFields resolves a P4Info type spec naming a struct into its
// members' names and widths.
func structFields(t *testing.T, info *p4configv1.P4Info, spec *p4configv1.P4DataTypeSpec) []paramSpec {
	t.Helper()
	name := spec.GetStruct().GetName()
	st, ok := info.GetTypeInfo().GetStructs()[name]
	if !ok {
		t.Fatalf("type spec %v names no struct in type_info", spec)
	}
	var fields []paramSpec
	for _, m := range st.GetMembers() {
		fields = append(fields, paramSpec{Name: m.GetName(), Bits: m.GetTypeSpec().GetBitstring().GetBit().GetBitwidth()})
	}
	return fields
}

func TestDigestMatchesContract(t *testing.T) {
	info := loadP4Info(t)
	var names []string
	for _, d := range info.GetDigests() {
		names = append(names, d.GetPreamble().GetName())
		if d.GetPreamble().GetName() != DigestMACLearn {
			continue
		}
		want := []paramSpec{{DigestFieldBD, BridgeDomainBits}, {DigestFieldMAC, MACBits}, {DigestFieldAC, AttachmentCircuitBits}}
		if diff := cmp.Diff(want, structFields(t, info, d.GetTypeSpec())); diff != "" {
			t.Errorf("digest %q fields (-contract +P4Info):\n%s", DigestMACLearn, diff)
		}
	}
	if diff := cmp.Diff([]string{DigestMACLearn}, names); diff != "" {
		t.Errorf("digests (-contract +P4Info):\n%s", diff)
	}
}

func TestPacketMetadataMatchesContract(t *testing.T) {
	want := map[string][]paramSpec{
		PacketIn: {
			{PacketInIngressPort, PortBits},
			{PacketInAC, AttachmentCircuitBits},
			{PacketInBD, BridgeDomainBits},
			{PacketInReason, PuntReasonBits},
		},
		PacketOut: {
			{PacketOutEgressPort, PortBits},
			{PacketOutPad, PacketOutPadBits},
		},
	}
	got := map[string][]paramSpec{}
	for _, h := range loadP4Info(t).GetControllerPacketMetadata() {
		var fields []paramSpec
		for _, m := range h.GetMetadata() {
			fields = append(fields, paramSpec{Name: m.GetName(), Bits: m.GetBitwidth()})
		}
		got[h.GetPreamble().GetName()] = fields
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("controller packet metadata (-contract +P4Info):\n%s", diff)
	}
}

// The P4 source holds the values P4Info cannot carry (constants, widths of
// typedefs); read them from include/headers.p4 and compare.
func readHeaders(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("include", "headers.p4"))
	if err != nil {
		t.Fatalf("read P4 source: %v", err)
	}
	return string(src)
}

func TestDropReasonsMatchSource(t *testing.T) {
	src := readHeaders(t)
	re := regexp.MustCompile(`const drop_reason_t DROP_(\w+)\s*=\s*(\d+);`)
	want := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		n, err := strconv.Atoi(m[2])
		if err != nil {
			t.Fatalf("DROP_%s = %q: %v", m[1], m[2], err)
		}
		want[m[1]] = n
	}
	if len(want) == 0 {
		t.Fatal("no DROP_* constants found in include/headers.p4")
	}
	got := map[string]int{}
	for _, r := range DropReasons() {
		got[r.String()] = int(r)
		if r >= 1<<DropReasonBits {
			t.Errorf("drop reason %s = %d does not fit %d bits", r, r, DropReasonBits)
		}
		wantCounter := CounterDropsIn
		if r >= 32 {
			wantCounter = CounterDropsOut
		}
		if r.Counter() != wantCounter {
			t.Errorf("%s.Counter() = %q, want %q", r, r.Counter(), wantCounter)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("drop reasons (-headers.p4 +contract.go):\n%s", diff)
	}
}

func TestWidthsAndConstantsMatchSource(t *testing.T) {
	src := readHeaders(t)
	typedefs := map[string]int{}
	for _, m := range regexp.MustCompile(`typedef bit<(\d+)>\s+(\w+);`).FindAllStringSubmatch(src, -1) {
		n, _ := strconv.Atoi(m[1])
		typedefs[m[2]] = n
	}
	defines := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^#define (\w+) (\S+)$`).FindAllStringSubmatch(src, -1) {
		defines[m[1]] = m[2]
	}
	consts := map[string]string{}
	for _, m := range regexp.MustCompile(`const \w+ (\w+)\s*=\s*([^;]+);`).FindAllStringSubmatch(src, -1) {
		consts[m[1]] = strings.TrimSpace(m[2])
	}
	tests := []struct {
		desc string
		got  string
		want string
	}{
		{"port_t", strconv.Itoa(typedefs["port_t"]), strconv.Itoa(PortBits)},
		{"vid_t", strconv.Itoa(typedefs["vid_t"]), strconv.Itoa(VLANIDBits)},
		{"mac_t", strconv.Itoa(typedefs["mac_t"]), strconv.Itoa(MACBits)},
		{"label_t", strconv.Itoa(typedefs["label_t"]), strconv.Itoa(LabelBits)},
		{"bd_t", strconv.Itoa(typedefs["bd_t"]), strconv.Itoa(BridgeDomainBits)},
		{"ac_t", strconv.Itoa(typedefs["ac_t"]), strconv.Itoa(AttachmentCircuitBits)},
		{"es_t", strconv.Itoa(typedefs["es_t"]), strconv.Itoa(EthernetSegmentBits)},
		{"pe_t", strconv.Itoa(typedefs["pe_t"]), strconv.Itoa(RemotePEBits)},
		{"aliasing_group_t", strconv.Itoa(typedefs["aliasing_group_t"]), strconv.Itoa(AliasingGroupBits)},
		{"drop_reason_t", strconv.Itoa(typedefs["drop_reason_t"]), strconv.Itoa(DropReasonBits)},
		{"punt_reason_t", strconv.Itoa(typedefs["punt_reason_t"]), strconv.Itoa(PuntReasonBits)},
		{"CPU_PORT", defines["CPU_PORT"], strconv.Itoa(CPUPort)},
		{"LABEL_IMPLICIT_NULL", consts["LABEL_IMPLICIT_NULL"], strconv.Itoa(NoTransportLabel)},
		{"LABEL_CONTROL_WORD_BIT", consts["LABEL_CONTROL_WORD_BIT"], "0x" + strconv.FormatInt(ControlWordLabelBit, 16)},
		{"PUNT_FDB", consts["PUNT_FDB"], strconv.Itoa(PuntFDB)},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s in include/headers.p4 = %q, contract.go says %q", tc.desc, tc.got, tc.want)
		}
	}
}

// TestBuildOutputsAreCurrent catches a P4 change committed without
// recompiling: build/SOURCE_SHA256 records the sources p4c compiled.
func TestBuildOutputsAreCurrent(t *testing.T) {
	recorded, err := os.ReadFile(filepath.Join("build", "SOURCE_SHA256"))
	if err != nil {
		t.Fatalf("read build/SOURCE_SHA256 (written by make p4): %v", err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(recorded)), "\n") {
		sum, path, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("build/SOURCE_SHA256 line %q is not \"<sha256>  <path>\"", line)
		}
		want[strings.TrimPrefix(path, "p4/")] = sum
	}
	sources, err := filepath.Glob(filepath.Join("include", "*.p4"))
	if err != nil {
		t.Fatal(err)
	}
	sources = append(sources, "evpn.p4")
	got := map[string]string{}
	for _, path := range sources {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		got[filepath.ToSlash(path)] = hex.EncodeToString(sum[:])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("P4 sources changed since build/ was compiled: run make p4 and commit p4/build (-compiled +now):\n%s", diff)
	}
}

// TestJSONMatchesP4Info checks that the two embedded outputs come from the
// same compilation: every P4Info table and action is in the BMv2 JSON.
func TestJSONMatchesP4Info(t *testing.T) {
	var program struct {
		Pipelines []struct {
			Tables []struct {
				Name    string   `json:"name"`
				Actions []string `json:"actions"`
			} `json:"tables"`
		} `json:"pipelines"`
	}
	if err := json.Unmarshal(EVPNJSON(), &program); err != nil {
		t.Fatalf("parse embedded BMv2 JSON: %v", err)
	}
	inJSON := map[string][]string{}
	for _, p := range program.Pipelines {
		for _, tb := range p.Tables {
			acts := append([]string(nil), tb.Actions...)
			sort.Strings(acts)
			inJSON[tb.Name] = acts
		}
	}
	info := loadP4Info(t)
	ix := indexP4Info(info)
	for _, tb := range info.GetTables() {
		name := tb.GetPreamble().GetName()
		acts, ok := inJSON[name]
		if !ok {
			t.Errorf("table %q is in the P4Info but not in the BMv2 JSON", name)
			continue
		}
		if diff := cmp.Diff(ix.tableShape(tb).Actions, acts); diff != "" {
			t.Errorf("table %q actions (-P4Info +JSON):\n%s", name, diff)
		}
	}
}

func TestEmbeddedOutputs(t *testing.T) {
	if !strings.Contains(P4CVersion(), "Version") {
		t.Errorf("P4CVersion() = %q, want a p4c version line", P4CVersion())
	}
	a, b := EVPNJSON(), EVPNJSON()
	a[0] ^= 0xff
	if a[0] == b[0] {
		t.Error("EVPNJSON returns shared storage: a caller's write shows in the next call")
	}
	if !strings.Contains(EVPNP4InfoText(), TableFDB) {
		t.Errorf("EVPNP4InfoText does not mention %q", TableFDB)
	}
}

func TestDropReasonString(t *testing.T) {
	tests := []struct {
		desc string
		in   DropReason
		want string
	}{
		{desc: "ingress reason", in: DropACUnknown, want: "AC_UNKNOWN"},
		{desc: "egress reason", in: DropNonDF, want: "NON_DF"},
		{desc: "unknown value", in: DropReason(63), want: "DROP_63"},
	}
	for _, tc := range tests {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("%s: DropReason(%d).String() = %q, want %q", tc.desc, uint8(tc.in), got, tc.want)
		}
	}
}

// BenchmarkEVPNP4Info measures what every caller of EVPNP4Info pays: the
// prototext parse of the embedded P4Info.
func BenchmarkEVPNP4Info(b *testing.B) {
	for b.Loop() {
		if _, err := EVPNP4Info(); err != nil {
			b.Fatal(err)
		}
	}
}
