//go:build linux

package softswitch

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/vishvananda/netns"

	"github.com/p4evpn/p4evpn/p4rt"
)

// The differential test: the same evpn.p4, the same forwarding state and
// the same frames on the softswitch and on BMv2's simple_switch_grpc (run in
// a network namespace of its own, on veth pairs, programmed over P4Runtime
// through p4rt). Every frame out must be the same, port by port, in order.

// bmv2Target writes the softswitch API's entities to BMv2 over P4Runtime.
type bmv2Target struct {
	ctx context.Context
	c   *p4rt.Client
}

func (b *bmv2Target) write(u *p4v1.Update) error { return b.c.Write(b.ctx, []*p4v1.Update{u}) }

func (b *bmv2Target) InsertEntry(table string, e TableEntry) error {
	ix := b.c.Index()
	ti, err := ix.Table(table)
	if err != nil {
		return err
	}
	pe := p4rt.TableEntry{Table: table, Priority: e.Priority}
	for i, m := range e.Match {
		f := ti.Fields[i]
		switch f.MatchType {
		case p4configv1.MatchField_EXACT:
			pe.Match = append(pe.Match, p4rt.Exact(f.Name, m.Value))
		case p4configv1.MatchField_LPM:
			if m.PrefixLen > 0 {
				pe.Match = append(pe.Match, p4rt.LPM(f.Name, m.Value, int32(m.PrefixLen)))
			}
		case p4configv1.MatchField_TERNARY:
			if m.Mask != nil {
				pe.Match = append(pe.Match, p4rt.Ternary(f.Name, m.Value, m.Mask))
			}
		case p4configv1.MatchField_RANGE:
			if m.Value != nil || m.High != nil {
				pe.Match = append(pe.Match, p4rt.Range(f.Name, m.Value, m.High))
			}
		case p4configv1.MatchField_OPTIONAL:
			if m.Value != nil {
				pe.Match = append(pe.Match, p4rt.Optional(f.Name, m.Value))
			}
		default:
			return fmt.Errorf("table %q field %q: match type %v", table, f.Name, f.MatchType)
		}
	}
	switch {
	case e.Action.IsGroup:
		pe.Action = p4rt.GroupID(e.Action.GroupID)
	case e.Action.IsMember:
		pe.Action = p4rt.MemberID(e.Action.MemberID)
	default:
		a, err := b.call(e.Action.Action, e.Action.Params)
		if err != nil {
			return err
		}
		pe.Action = a
	}
	te, err := ix.BuildTableEntry(pe)
	if err != nil {
		return err
	}
	return b.write(p4rt.Insert(te))
}

func (b *bmv2Target) call(action string, params [][]byte) (*p4rt.ActionCall, error) {
	ai, err := b.c.Index().Action(action)
	if err != nil {
		return nil, err
	}
	var ps []p4rt.Param
	for i, v := range params {
		ps = append(ps, p4rt.Arg(ai.Params[i].Name, v))
	}
	return p4rt.Action(action, ps...), nil
}

func (b *bmv2Target) InsertMember(profile string, m Member) error {
	a, err := b.call(m.Action, m.Params)
	if err != nil {
		return err
	}
	pm, err := b.c.Index().BuildActionProfileMember(p4rt.ActionProfileMember{Profile: profile, MemberID: m.ID, Action: a})
	if err != nil {
		return err
	}
	return b.write(p4rt.Insert(pm))
}

func (b *bmv2Target) InsertGroup(profile string, g Group) error {
	pg := p4rt.ActionProfileGroup{Profile: profile, GroupID: g.ID}
	for _, m := range g.Members {
		pg.Members = append(pg.Members, p4rt.GroupMember{MemberID: m.ID, Weight: int32(m.Weight)})
	}
	e, err := b.c.Index().BuildActionProfileGroup(pg)
	if err != nil {
		return err
	}
	return b.write(p4rt.Insert(e))
}

func (b *bmv2Target) InsertMulticastGroup(g MulticastGroup) error {
	var rs []p4rt.Replica
	for _, r := range g.Replicas {
		rs = append(rs, p4rt.PortReplica(uint64(r.Port), uint32(r.Rid)))
	}
	e, err := p4rt.MulticastGroup(g.ID, rs...)
	if err != nil {
		return err
	}
	return b.write(p4rt.Insert(e))
}

// bmv2Rig is simple_switch_grpc in a namespace with four veth pairs, and the
// host ends of the pairs as ports the test writes and reads.
type bmv2Rig struct {
	host map[uint32]*InterfacePort
	rx   chan portFrame // every host port's frames, merged
}

type portFrame struct {
	port  uint32
	frame []byte
}

func startBMv2Rig(t *testing.T) (*bmv2Rig, evpnTarget) {
	t.Helper()
	return startBMv2RigFor(t, evpnJSON, strings.TrimSuffix(evpnJSON, ".json")+".p4info.txtpb", 4)
}

// startBMv2RigFor runs simple_switch_grpc with the given program and ports
// 1..nports.
func startBMv2RigFor(t *testing.T, jsonPath, p4infoPath string, nports int) (*bmv2Rig, *bmv2Target) {
	t.Helper()
	bin, err := exec.LookPath("simple_switch_grpc")
	if err != nil {
		t.Skip("simple_switch_grpc is not on PATH: differential test against BMv2 skipped")
	}
	if os.Geteuid() != 0 {
		t.Skip("the BMv2 differential test needs root (network namespace, veth, AF_PACKET)")
	}
	if _, err := os.Stat(jsonPath); err != nil {
		t.Skipf("%s missing: %v", jsonPath, err)
	}
	ns := fmt.Sprintf("ssw-bmv2-%d-%s", os.Getpid(), strings.TrimSuffix(filepath.Base(jsonPath), ".json"))
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() }) //nolint:errcheck // best effort
	// No IPv6: the kernel would otherwise send its own frames on the links.
	run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
	for p := 1; p <= nports; p++ {
		run("ip", "-n", ns, "link", "add", fmt.Sprintf("bm%d", p), "type", "veth", "peer", "name", fmt.Sprintf("h%d", p))
		run("ip", "-n", ns, "link", "set", fmt.Sprintf("bm%d", p), "up")
		run("ip", "-n", ns, "link", "set", fmt.Sprintf("h%d", p), "up")
	}
	dir := t.TempDir()
	sock := "unix://" + filepath.Join(dir, "p4rt.sock")
	args := []string{"netns", "exec", ns, bin, "--no-p4", "--device-id", "1", "--log-level", "off",
		"--notifications-addr", "ipc://" + filepath.Join(dir, "notify.ipc")}
	for p := 1; p <= nports; p++ {
		args = append(args, "-i", fmt.Sprintf("%d@bm%d", p, p))
	}
	args = append(args, "--", "--grpc-server-addr", sock, "--cpu-port", fmt.Sprint(evpnCPU))
	cmd := exec.Command("ip", args...)
	var logs bytes.Buffer
	var logMu sync.Mutex
	cmd.Stdout, cmd.Stderr = &lockedWriter{&logMu, &logs}, &lockedWriter{&logMu, &logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // it is ours
		cmd.Wait()         //nolint:errcheck // killed on purpose
		if t.Failed() {
			logMu.Lock()
			t.Logf("simple_switch_grpc output:\n%s", logs.String())
			logMu.Unlock()
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	var c *p4rt.Client
	for c == nil {
		if _, err := os.Stat(strings.TrimPrefix(sock, "unix://")); err == nil {
			c, err = p4rt.Connect(ctx, sock, p4rt.WithDeviceID(1), p4rt.WithElectionID(p4rt.ElectionID{Low: 1}), p4rt.WithLogger(quietLogger))
			if err != nil {
				t.Fatalf("connect to simple_switch_grpc: %v", err)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("simple_switch_grpc never opened its P4Runtime socket")
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Cleanup(func() { c.Close() })
	if err := c.WaitPrimary(ctx); err != nil {
		t.Fatal(err)
	}
	pl, err := p4rt.LoadPipeline(p4infoPath, jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetPipeline(ctx, pl); err != nil {
		t.Fatal(err)
	}

	rig := &bmv2Rig{host: map[uint32]*InterfacePort{}, rx: make(chan portFrame, 4096)}
	func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			t.Fatal(err)
		}
		defer orig.Close()
		h, err := netns.GetFromName(ns)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			t.Fatal(err)
		}
		defer netns.Set(orig) //nolint:errcheck // the thread is locked; restoring is best effort
		for p := uint32(1); p <= uint32(nports); p++ {
			ip, err := OpenInterface(fmt.Sprintf("h%d", p))
			if err != nil {
				t.Fatal(err)
			}
			rig.host[p] = ip
		}
	}()
	for p, ip := range rig.host {
		go func() {
			buf := make([]byte, 9000)
			for {
				n, err := ip.Read(buf)
				if err != nil {
					return
				}
				rig.rx <- portFrame{p, append([]byte(nil), buf[:n]...)}
			}
		}()
		t.Cleanup(func() { ip.Close() })
	}
	return rig, &bmv2Target{ctx: ctx, c: c}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Markers bound the output of one input frame without timing. BMv2 reads
// its ports in separate threads, so only frames entering by the same port
// keep their order: after the input, a "port marker" enters by the same
// port and floods; once a copy of it comes out, the input has been through
// ingress. Then the "end marker" floods from port 2's untagged AC to every
// port, and each port's frames before it are the input's output (BMv2 keeps
// each egress port's frames in order).
var (
	macPortMarker = net.HardwareAddr{0x02, 0xee, 0, 0, 0, 0xaa}
	macEndMarker  = net.HardwareAddr{0x02, 0xee, 0, 0, 0, 0xee}
)

func portMarker(t testing.TB, port uint32) []byte {
	switch port {
	case pAccess1:
		return frame(t, tagged(100, macBcast, macPortMarker)...)
	case pAccess2:
		return frame(t, customer(macBcast, macPortMarker)...)
	}
	return frame(t, encap(macPE, []uint32{lblBUM}, false, customer(macBcast, macPortMarker)...)...)
}

func hasSource(f []byte, mac net.HardwareAddr) bool { return bytes.Contains(f, mac) }

// run sends one frame into BMv2 and returns what came out, by port.
func (r *bmv2Rig) run(t *testing.T, port uint32, in []byte) map[uint32][][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := map[uint32][][]byte{}
	next := func() portFrame {
		select {
		case pf := <-r.rx:
			return pf
		case <-ctx.Done():
			t.Fatal("BMv2 stopped sending the markers")
			return portFrame{}
		}
	}
	if err := r.host[port].Write(in); err != nil {
		t.Fatal(err)
	}
	if err := r.host[port].Write(portMarker(t, port)); err != nil {
		t.Fatal(err)
	}
	for {
		pf := next()
		if hasSource(pf.frame, macPortMarker) {
			break
		}
		out[pf.port] = append(out[pf.port], pf.frame)
	}
	if err := r.host[pAccess2].Write(frame(t, customer(macBcast, macEndMarker)...)); err != nil {
		t.Fatal(err)
	}
	ended := map[uint32]bool{}
	for len(ended) < 4 {
		pf := next()
		switch {
		case hasSource(pf.frame, macEndMarker):
			ended[pf.port] = true
		case hasSource(pf.frame, macPortMarker):
		default:
			out[pf.port] = append(out[pf.port], pf.frame)
		}
	}
	return out
}

func TestEVPNAgreesWithBMv2(t *testing.T) {
	rig, bm := startBMv2Rig(t)
	evpnConfigure(t, bm)
	s, far := evpnLoad(t)

	type input struct {
		desc  string
		port  uint32
		frame []byte
	}
	var inputs []input
	add := func(desc string, port uint32, ls ...gopacket.SerializableLayer) {
		inputs = append(inputs, input{desc, port, frame(t, ls...)})
	}
	add("known unicast to a local AC", pAccess1, tagged(100, macHostB, macHostA)...)
	add("untagged AC to a tagged AC", pAccess2, customer(macHostA, macHostB)...)
	add("known unicast to a remote PE", pAccess1, tagged(100, macRemote1, macHostA)...)
	add("unknown (port, VLAN)", pAccess1, tagged(999, macHostB, macHostA)...)
	add("discard MAC", pAccess1, tagged(100, macBlack, macHostA)...)
	add("multicast source MAC", pAccess1, tagged(100, macHostB, net.HardwareAddr{0x03, 0, 0, 0, 0, 1})...)
	add("three VLAN tags", pAccess1, eth(macHostB, macHostA, layers.EthernetTypeDot1Q), tag(100, layers.EthernetTypeDot1Q), tag(101, layers.EthernetTypeDot1Q), tag(102, 0x88b5))
	add("QinQ on an AC that is not one", pAccess1, eth(macHostB, macHostA, layers.EthernetTypeQinQ), tag(100, layers.EthernetTypeDot1Q), tag(7, 0x88b5))
	add("core: transport and service label", pCore1, encap(macPE, []uint32{lblTransportIn, lblUnicast}, false, customer(macHostB, macRemote1)...)...)
	add("core: label not ours", pCore1, encap(macPE, []uint32{4444}, false, customer(macHostB, macRemote1)...)...)
	add("core: BUM label with ESI label", pCore2, encap(macPE, []uint32{lblBUM, lblESI}, false, customer(macBcast, macRemote1)...)...)
	add("core: BUM label, DF", pCore1, encap(macPE, []uint32{lblBUM}, false, customer(macBcast, macRemote1)...)...)
	add("core: control word", pCore1, encap(macPE, []uint32{lblUnicast | 0x80000}, true, customer(macHostB, macRemote1)...)...)
	add("broadcast from a single-homed AC", pAccess1, tagged(100, macBcast, macHostA)...)
	add("broadcast from the multihomed AC", pAccess2, tagged(100, macBcast, macHostB)...)
	add("unknown unicast", pAccess2, customer(macNew, macHostB)...)
	for i := 0; i < 64; i++ {
		add(fmt.Sprintf("aliasing flow %d", i), pAccess1, tagged(100, macAlias, net.HardwareAddr{0x02, 0x10, 0, 0, byte(i >> 8), byte(i)})...)
	}
	add("runt", pAccess1, eth(macHostB, macHostA, 0x8100))
	// A MAC behind an aliasing group with no ingress.aliasing entry (what
	// asic/p4asic leaves when a group empties: p4/README.md): the
	// selector table misses, and both targets take its __MISS__ branch
	// and drop (ALIASING_GROUP_UNKNOWN).
	macAliasGone := net.HardwareAddr{0x02, 0, 0, 0, 8, 0x08}
	for _, tg := range []evpnTarget{s, bm} {
		if err := tg.InsertEntry("ingress.fdb", TableEntry{Match: exact(be(bd, 2), macAliasGone), Action: call("ingress.to_aliasing_group", be(aliasGroup+1, 2))}); err != nil {
			t.Fatal(err)
		}
	}
	add("aliasing group without an entry", pAccess1, tagged(100, macAliasGone, macHostA)...)
	aliasDrops := dropCount(t, s, "ingress", dropAliasingGroupUnknown)

	for _, in := range inputs {
		s.Process(in.port, in.frame)
		want := map[uint32][][]byte{}
		for _, o := range drain(far) {
			want[o.Port] = append(want[o.Port], o.Frame)
		}
		got := rig.run(t, in.port, in.frame)
		// Copies to one port may leave in any order (the replication
		// engines order replicas differently); compare them as sets.
		for _, m := range []map[uint32][][]byte{want, got} {
			for _, fs := range m {
				sort.Slice(fs, func(i, j int) bool { return bytes.Compare(fs[i], fs[j]) < 0 })
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: softswitch (-) and BMv2 (+) disagree:\n%s", in.desc, diff)
		}
	}
	if got := dropCount(t, s, "ingress", dropAliasingGroupUnknown) - aliasDrops; got != 1 {
		t.Errorf("softswitch counted %d ALIASING_GROUP_UNKNOWN drops, want 1", got)
	}
}

// reflect sends a frame into a program that returns frames by their ingress
// port (the engine's test programs), then a marker frame: everything before
// the marker's reflection is the frame's output.
func (r *bmv2Rig) reflect(t *testing.T, in, mark []byte) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, f := range [][]byte{in, mark} {
		if err := r.host[1].Write(f); err != nil {
			t.Fatal(err)
		}
	}
	var out [][]byte
	for {
		select {
		case pf := <-r.rx:
			// Programs add headers in front of the payload: the marker's
			// reflection ends like the marker.
			if bytes.HasSuffix(pf.frame, mark[len(mark)-12:]) {
				return out
			}
			out = append(out, pf.frame)
		case <-ctx.Done():
			t.Fatal("the marker never came back from BMv2")
		}
	}
}

// TestEngineProgramsAgreeWithBMv2 runs the engine's own test programs on
// both targets with the same frames: parser errors, header stacks, match
// kinds and priorities, arithmetic at odd widths.
func TestEngineProgramsAgreeWithBMv2(t *testing.T) {
	type program struct {
		name    string
		entries func(t *testing.T, tg evpnTarget)
		inputs  func(t *testing.T) [][]byte
		marker  []byte
	}
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	programs := []program{
		{
			name: "stack",
			entries: func(t *testing.T, tg evpnTarget) {
				must(t, tg.InsertEntry("ig.op", TableEntry{Match: exact(be(0xa, 6)), Action: call("ig.push_label", be(100, 3))}))
				must(t, tg.InsertEntry("ig.op", TableEntry{Match: exact(be(0xb, 6)), Action: call("ig.pop_label")}))
			},
			inputs: func(t *testing.T) [][]byte {
				payload := []byte("payload-payload-payload-payload-payload-payload")
				return [][]byte{
					join(ethHdr(1, 1, 0x8847), mplsLabel(10, false, 1), mplsLabel(20, true, 2), payload),
					join(ethHdr(1, 1, 0x8847), mplsLabel(1, false, 1), mplsLabel(2, false, 1), mplsLabel(3, false, 1), mplsLabel(4, true, 1), payload),
					join(ethHdr(1, 1, 0x9042), []byte{5, 6}, payload),
					join(ethHdr(1, 1, 0x9042), []byte{0xff, 6}, payload),
					join(ethHdr(0xa, 1, 0x8847), mplsLabel(20, true, 2), payload),
					join(ethHdr(0xa, 1, 0x0800), payload),
					join(ethHdr(0xb, 1, 0x8847), mplsLabel(10, false, 1), mplsLabel(20, true, 2), payload),
					join(ethHdr(0xb, 1, 0x8847), mplsLabel(20, true, 2), payload),
					join(ethHdr(1, 0, 0x0800), payload),
				}
			},
			marker: join(ethHdr(0x77, 0x77, 0x0801), []byte("marker-marker-marker-marker-marker-marker-marker")),
		},
		{
			name: "tables",
			entries: func(t *testing.T, tg evpnTarget) {
				v8 := func(v byte) [][]byte { return [][]byte{{v}} }
				must(t, tg.InsertEntry("ig.route", TableEntry{Match: []FieldMatch{{Value: []byte{10, 0, 0, 0}, PrefixLen: 8}}, Action: ActionCall{Action: "ig.set_lpm", Params: v8(1)}}))
				must(t, tg.InsertEntry("ig.route", TableEntry{Match: []FieldMatch{{Value: []byte{10, 1, 0, 0}, PrefixLen: 16}}, Action: ActionCall{Action: "ig.set_lpm", Params: v8(2)}}))
				must(t, tg.InsertEntry("ig.acl", TableEntry{Priority: 10, Match: []FieldMatch{{Value: []byte{6}, Mask: []byte{0xff}}, {}, {}}, Action: ActionCall{Action: "ig.set_acl", Params: v8(10)}}))
				must(t, tg.InsertEntry("ig.acl", TableEntry{Priority: 20, Match: []FieldMatch{{Value: []byte{6}, Mask: []byte{0xff}}, {Value: []byte{80}, High: []byte{90}}, {}}, Action: ActionCall{Action: "ig.set_acl", Params: v8(20)}}))
				must(t, tg.InsertEntry("ig.acl", TableEntry{Priority: 30, Match: []FieldMatch{{}, {}, {Value: []byte{7}, Mask: []byte{0xff}}}, Action: ActionCall{Action: "ig.set_acl", Params: v8(30)}}))
				must(t, tg.InsertEntry("ig.macs", TableEntry{Match: []FieldMatch{{Value: []byte{0xab, 0xcd}}}, Action: ActionCall{Action: "ig.set_exact", Params: v8(5)}}))
				must(t, tg.InsertEntry("ig.macs", TableEntry{Match: []FieldMatch{{Value: []byte{0x77}}}, Action: ActionCall{Action: "ig.set_exact", Params: v8(7)}}))
				must(t, tg.InsertEntry("ig.wide", TableEntry{Match: []FieldMatch{{Value: b16(9)}}, Action: ActionCall{Action: "ig.set_wide", Params: [][]byte{{6}, bytes16(0x20)}}}))
			},
			inputs: func(t *testing.T) [][]byte {
				pad := make([]byte, 20)
				return [][]byte{
					join(tablesFrame(0x0a010203, 85, 6, 0, 0xabcd, b16(9), 0x01), pad),
					join(tablesFrame(0x0a01ff00, 91, 6, 0, 0xabcd, b16(8), 0x05), pad),
					join(tablesFrame(0x0aff0000, 85, 6, 7, 0xabcd, b16(8), 0x35), pad),
					join(tablesFrame(0x0b000000, 85, 17, 0, 0xabcd, b16(8), 0x35), pad),
					join(tablesFrame(0x0b000000, 85, 17, 0, 0x1234, b16(8), 0x35), pad),
				}
			},
			marker: join(tablesFrame(0, 0, 0, 0, 0x77, b16(0x77), 0x77), []byte("marker-marker-marker")),
		},
		{
			name: "checksum",
			inputs: func(t *testing.T) [][]byte {
				return [][]byte{ipv4Frame(t, 64, false), ipv4Frame(t, 1, false), ipv4Frame(t, 64, true), ipv4Frame(t, 0, true)}
			},
			marker: join(ethHdr(0x77, 0x77, 0x0801), []byte("marker-marker-marker-marker-marker-marker-marker")),
		},
		{
			name: "arith",
			inputs: func(t *testing.T) [][]byte {
				var out [][]byte
				for i := 0; i < 40; i++ {
					b := make([]byte, 43)
					for j := range b {
						b[j] = byte(i*131 + j*17 + j*j*i)
					}
					out = append(out, join(b, []byte("padding-padding-padding")))
				}
				return out
			},
			marker: join(bytes.Repeat([]byte{0x77}, 43), []byte("marker-marker-marker-marker")),
		},
	}
	for _, pg := range programs {
		t.Run(pg.name, func(t *testing.T) {
			jsonPath := filepath.Join("testdata", pg.name+".json")
			rig, bm := startBMv2RigFor(t, jsonPath, filepath.Join("testdata", pg.name+".p4info.txtpb"), 1)
			s, far := loadProgram(t, pg.name, Config{}, 1)
			if pg.entries != nil {
				pg.entries(t, s)
				pg.entries(t, bm)
			}
			// The marker's reflection is the marker with headers added:
			// match on its payload.
			mark := pg.marker
			total := 0
			for i, in := range pg.inputs(t) {
				s.Process(1, in)
				var want [][]byte
				for {
					f, ok := far[1].TryRecv()
					if !ok {
						break
					}
					want = append(want, f)
				}
				got := rig.reflect(t, in, mark)
				total += len(got)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("input %d %x: softswitch (-) and BMv2 (+) disagree:\n%s", i, in, diff)
				}
			}
			if total == 0 {
				t.Error("no input produced a frame: the comparison proved nothing")
			}
		})
	}
}

func (b *bmv2Target) InsertCloneSession(c CloneSession) error {
	var rs []p4rt.Replica
	for _, r := range c.Replicas {
		rs = append(rs, p4rt.PortReplica(uint64(r.Port), uint32(r.Rid)))
	}
	e, err := p4rt.BuildCloneSession(p4rt.CloneSession{ID: c.ID, Replicas: rs, PacketLengthBytes: int32(c.PacketLength)})
	if err != nil {
		return err
	}
	return b.write(p4rt.Insert(e))
}

// TestExternsAgreeWithBMv2 compares multicast, I2E and E2E clones,
// resubmit, recirculate, registers, hashes, the action selector and
// truncation (testdata/externs.p4) on both targets. Its marker is a
// multicast to all four ports, sent after the input by the same port.
func TestExternsAgreeWithBMv2(t *testing.T) {
	jsonPath := filepath.Join("testdata", "externs.json")
	rig, bm := startBMv2RigFor(t, jsonPath, filepath.Join("testdata", "externs.p4info.txtpb"), 4)
	s, far := loadProgram(t, "externs", Config{CPUPort: cpuPort}, 1, 2, 3, 4)
	all := MulticastGroup{ID: 99, Replicas: []Replica{{Port: 1, Rid: 1}, {Port: 2, Rid: 1}, {Port: 3, Rid: 1}, {Port: 4, Rid: 1}}}
	for _, tg := range []interface {
		evpnTarget
		InsertCloneSession(CloneSession) error
	}{s, bm} {
		for _, err := range []error{
			tg.InsertMulticastGroup(all),
			tg.InsertMulticastGroup(MulticastGroup{ID: 9, Replicas: []Replica{{Port: 2, Rid: 100}, {Port: 3, Rid: 200}, {Port: 3, Rid: 201}}}),
			tg.InsertCloneSession(CloneSession{ID: 5, Replicas: []Replica{{Port: 4, Rid: 7}}}),
			// No PacketLength: BMv2's P4Runtime server refuses clone
			// sessions with packet_length_bytes ("Error when creating
			// clone session in target"); truncation is TestReplicationEngine's.
			tg.InsertCloneSession(CloneSession{ID: 6, Replicas: []Replica{{Port: 2, Rid: 3}}}),
			tg.InsertMember("ig.ecmp", Member{ID: 2, Action: "ig.send", Params: [][]byte{{2}}}),
			tg.InsertMember("ig.ecmp", Member{ID: 3, Action: "ig.send", Params: [][]byte{{3}}}),
			tg.InsertMember("ig.ecmp", Member{ID: 4, Action: "ig.send", Params: [][]byte{{4}}}),
			tg.InsertGroup("ig.ecmp", Group{ID: 1, Members: []GroupMember{{ID: 2, Weight: 1}, {ID: 3, Weight: 1}, {ID: 4, Weight: 1}}}),
			tg.InsertEntry("ig.sel", TableEntry{Match: exact([]byte{1}), Action: ActionCall{GroupID: 1, IsGroup: true}}),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	pad := []byte("0123456789abcdef0123456789abcdef")
	var inputs [][]byte
	for _, c := range []struct {
		op   uint8
		arg  uint16
		data uint32
	}{{1, 3, 0}, {2, 9, 0}, {2, 77, 0}, {3, 5, 0}, {4, 6, 0}, {5, 0, 0}, {6, 0, 0}, {7, 4, 0}, {7, 4, 0}, {8, 0x1234, 0xdeadbeef}, {12, 0, 0}, {13, 3, 0}, {99, 0, 0}} {
		inputs = append(inputs, join(cmdFrame(c.op, c.arg, c.data), pad))
	}
	for flow := uint32(0); flow < 48; flow++ {
		inputs = append(inputs, join(cmdFrame(10, 1, flow*7919), pad))
	}
	mark := join(cmdFrame(2, 99, 0x77777777), []byte("MARKER-MARKER-MARKER"))
	isMark := func(f []byte) bool { return bytes.HasSuffix(f, []byte("MARKER-MARKER-MARKER")) }
	total := 0
	for i, in := range inputs {
		s.Process(1, in)
		want := map[uint32][][]byte{}
		for _, o := range drainPorts(far) {
			want[o.Port] = append(want[o.Port], o.Frame)
		}
		for _, f := range [][]byte{in, mark} {
			if err := rig.host[1].Write(f); err != nil {
				t.Fatal(err)
			}
		}
		got := map[uint32][][]byte{}
		ended := map[uint32]bool{}
		// A recirculated copy re-enters BMv2's ingress queue behind the
		// marker, so it may come out after it: wait for as many frames as
		// the softswitch made too (a missing one fails the comparison
		// below when the wait ends; an extra one fails the next input).
		nWant, nGot := 0, 0
		for _, fs := range want {
			nWant += len(fs)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	collect:
		for len(ended) < 4 || nGot < nWant {
			select {
			case pf := <-rig.rx:
				if isMark(pf.frame) {
					ended[pf.port] = true
				} else {
					got[pf.port] = append(got[pf.port], pf.frame)
					nGot++
				}
			case <-ctx.Done():
				if len(ended) < 4 {
					t.Fatalf("input %d: the marker did not come out of every port", i)
				}
				break collect
			}
		}
		cancel()
		for _, m := range []map[uint32][][]byte{want, got} {
			for _, fs := range m {
				total += len(fs)
				sort.Slice(fs, func(i, j int) bool { return bytes.Compare(fs[i], fs[j]) < 0 })
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("input %d %x: softswitch (-) and BMv2 (+) disagree:\n%s", i, in[:7], diff)
		}
	}
	if total == 0 {
		t.Error("no input produced a frame: the comparison proved nothing")
	}
}

// drainPorts collects the frames queued on the far ends of ports 1-4.
func drainPorts(far map[uint32]*MemPort) []evpnOut { return drain(far) }
