package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/p4evpn/p4evpn/evpn/route"
)

const testASN = 65000

var (
	testRT    = route.RouteTarget{Admin: route.Admin{ASN: testASN}, Assigned: 100}
	testRT4   = route.RouteTarget{Admin: route.Admin{ASN: 4200000000, FourOctet: true}, Assigned: 7}
	testRTIP  = route.RouteTarget{Admin: route.Admin{IP: netip.MustParseAddr("192.0.2.9")}, Assigned: 9}
	otherRT   = route.RouteTarget{Admin: route.Admin{ASN: testASN}, Assigned: 999}
	testESI   = route.ESIFromLACP(route.MustMAC("02:00:00:00:aa:01"), 7)
	testESImp = testESI.ESImportRT()
)

// samplePaths is one path of every route type and variant PE pe originates.
func samplePaths(pe netip.Addr) []route.Path {
	rd := route.AutoRD(pe, 100)
	esImport := testESI.ESImportRT()
	return []route.Path{
		{ // RT-1 per-ES: ESI label, single-active
			NLRI:  route.EthernetAD{RD: rd, ESI: testESI, EthernetTag: route.MaxEthernetTag},
			Attrs: route.Attributes{RouteTargets: []route.RouteTarget{testRT}, ESILabel: &route.ESILabel{SingleActive: true, Label: 1001}},
		},
		{ // RT-1 per-EVI: aliasing label
			NLRI:  route.EthernetAD{RD: rd, ESI: testESI, EthernetTag: 0, Label: 5000},
			Attrs: route.Attributes{RouteTargets: []route.RouteTarget{testRT}},
		},
		{ // RT-2 MAC + IPv4, two labels, ESI, mobility, default gateway, all RT kinds
			NLRI: route.MACIP{RD: rd, ESI: testESI, MAC: route.MustMAC("00:00:5e:00:53:01"),
				IP: netip.MustParseAddr("198.51.100.7"), Label1: 5000, Label2: route.MaxLabel},
			Attrs: route.Attributes{
				RouteTargets:   []route.RouteTarget{testRT, testRT4, testRTIP},
				MACMobility:    &route.MACMobility{Sequence: 3, Sticky: true},
				DefaultGateway: true,
			},
		},
		{ // RT-2 MAC + IPv6, one label, single-homed
			NLRI:  route.MACIP{RD: rd, EthernetTag: 10, MAC: route.MustMAC("00:00:5e:00:53:02"), IP: netip.MustParseAddr("2001:db8::7"), Label1: 16},
			Attrs: route.Attributes{RouteTargets: []route.RouteTarget{testRT}},
		},
		{ // RT-2 MAC only
			NLRI:  route.MACIP{RD: rd, MAC: route.MustMAC("00:00:5e:00:53:03"), Label1: 5000},
			Attrs: route.Attributes{RouteTargets: []route.RouteTarget{testRT}, MACMobility: &route.MACMobility{Sequence: 1}},
		},
		{ // RT-3 with ingress replication PMSI
			NLRI: route.InclusiveMulticast{RD: rd, OriginatorIP: pe},
			Attrs: route.Attributes{RouteTargets: []route.RouteTarget{testRT},
				PMSI: &route.PMSITunnel{TunnelType: route.TunnelTypeIngressReplication, Label: 5001, TunnelID: pe}},
		},
		{ // RT-4 with ES-import, no DF election community (default modulo)
			NLRI:  route.EthernetSegment{RD: rd, ESI: testESI, OriginatorIP: pe},
			Attrs: route.Attributes{ESImport: &esImport},
		},
		// RT-4 with the DF Election community of RFC 8584, one per algorithm
		// (each under its own RD so the keys differ). GoBGP v3.37.0 treated
		// these UPDATEs as withdraw; third_party/gobgp/PATCHES.md fixes it.
		{ // RT-4, DF election modulo
			NLRI:  route.EthernetSegment{RD: route.AutoRD(pe, 101), ESI: testESI, OriginatorIP: pe},
			Attrs: route.Attributes{ESImport: &esImport, DFElection: &route.DFElection{Algorithm: route.DFModulo}},
		},
		{ // RT-4, DF election HRW with AC-DF
			NLRI:  route.EthernetSegment{RD: route.AutoRD(pe, 102), ESI: testESI, OriginatorIP: pe},
			Attrs: route.Attributes{ESImport: &esImport, DFElection: &route.DFElection{Algorithm: route.DFHRW, AC: true}},
		},
		{ // RT-4, DF election preference 300 with the don't-preempt bit (RFC 9785)
			NLRI:  route.EthernetSegment{RD: route.AutoRD(pe, 103), ESI: testESI, OriginatorIP: pe},
			Attrs: route.Attributes{ESImport: &esImport, DFElection: &route.DFElection{Algorithm: route.DFPreference, Preference: 300, DontPreempt: true}},
		},
	}
}

// dfElectionPaths are samplePaths' RT-4 routes with a DF Election community.
func dfElectionPaths(pe netip.Addr) []route.Path {
	return samplePaths(pe)[7:]
}

func keysOf(paths []route.Path) []route.NLRI {
	out := make([]route.NLRI, len(paths))
	for i, p := range paths {
		out[i] = p.NLRI
	}
	return out
}

// fabric is PE1, PE2 and an RR, all GoBGP, on 127.0.<net>.1-3.
type fabric struct {
	rrAddr, pe1Addr, pe2Addr netip.Addr
	rr, pe1, pe2             *Speaker
}

func newFabric(t *testing.T, net byte) *fabric {
	t.Helper()
	log := testLogger(t)
	f := &fabric{
		rrAddr:  netip.AddrFrom4([4]byte{127, 0, net, 1}),
		pe1Addr: netip.AddrFrom4([4]byte{127, 0, net, 2}),
		pe2Addr: netip.AddrFrom4([4]byte{127, 0, net, 3}),
	}
	port := freePort(t, f.rrAddr)
	f.rr = startSpeaker(t, log.With("node", "rr"), Config{
		RouterID: f.rrAddr, ASN: testASN, ListenAddress: f.rrAddr, ListenPort: port,
		Neighbors: []Neighbor{rrClient(f.pe1Addr, f.rrAddr), rrClient(f.pe2Addr, f.rrAddr)},
		Import:    ImportPolicy{All: true},
	})
	pe := func(a netip.Addr, name string) *Speaker {
		return startSpeaker(t, log.With("node", name), Config{
			RouterID: a, ASN: testASN,
			Neighbors: []Neighbor{fastNeighbor(f.rrAddr, a, port, testASN)},
			Import:    ImportPolicy{RouteTargets: []route.RouteTarget{testRT}, ESImport: []route.MAC{testESImp}},
		})
	}
	f.pe1 = pe(f.pe1Addr, "pe1")
	f.pe2 = pe(f.pe2Addr, "pe2")
	waitPeerUp(t, f.pe1, f.rrAddr)
	waitPeerUp(t, f.pe2, f.rrAddr)
	return f
}

// reflected is what a PE receives for a path another PE announced through a
// route reflector: the next hop is the originator and ORIGINATOR_ID is set.
func reflected(p route.Path, originator netip.Addr) route.Path {
	p.Attrs.NextHop = originator
	p.Attrs.OriginatorID = originator
	return p
}

// pathOpts compares typed paths: route targets in any order.
var pathOpts = cmp.Options{
	cmpopts.SortSlices(func(a, b route.RouteTarget) bool { return a.String() < b.String() }),
	cmpopts.EquateComparable(netip.Addr{}),
}

func TestThreeSpeakersEveryRouteTypeThroughReflector(t *testing.T) {
	f := newFabric(t, 11)
	ctx := context.Background()
	paths := samplePaths(f.pe1Addr)
	for _, p := range paths {
		if err := f.pe1.Announce(ctx, p); err != nil {
			t.Fatalf("announce %s: %v", p.NLRI, err)
		}
	}
	got := collectPaths(t, f.pe2, PathAdd, keysOf(paths))
	for _, p := range paths {
		ev := got[route.Key(p.NLRI)]
		if ev.Peer != f.rrAddr || ev.PeerASN != testASN {
			t.Errorf("%s: from peer %s AS %d, want the RR %s AS %d", p.NLRI, ev.Peer, ev.PeerASN, f.rrAddr, testASN)
		}
		if diff := cmp.Diff(reflected(p, f.pe1Addr), ev.Path, pathOpts); diff != "" {
			t.Errorf("%s at PE2 (-want +got):\n%s", p.NLRI, diff)
		}
	}

	// Replacing a path reports the new one.
	moved := paths[4]
	moved.Attrs.MACMobility = &route.MACMobility{Sequence: 2}
	if err := f.pe1.Announce(ctx, moved); err != nil {
		t.Fatal(err)
	}
	upd := waitEvent(t, f.pe2, "replaced RT-2", func(ev Event) bool {
		return ev.Kind == PathAdd && route.Key(ev.Path.NLRI) == route.Key(moved.NLRI)
	})
	if diff := cmp.Diff(reflected(moved, f.pe1Addr), upd[len(upd)-1].Path, pathOpts); diff != "" {
		t.Errorf("replaced RT-2 at PE2 (-want +got):\n%s", diff)
	}

	for _, p := range paths {
		if err := f.pe1.Withdraw(ctx, p.NLRI); err != nil {
			t.Fatalf("withdraw %s: %v", p.NLRI, err)
		}
	}
	collectPaths(t, f.pe2, PathWithdraw, keysOf(paths))

	st, err := f.pe2.RIB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Reported != 0 || st.Paths != 0 {
		t.Errorf("PE2 RIB after withdrawals = %+v, want empty", st)
	}
}

func TestImportPolicyFiltersAndSetImportPolicyReevaluates(t *testing.T) {
	f := newFabric(t, 12)
	ctx := context.Background()
	foreign := route.Path{
		NLRI:  route.MACIP{RD: route.AutoRD(f.pe1Addr, 999), MAC: route.MustMAC("00:00:5e:00:53:99"), Label1: 99},
		Attrs: route.Attributes{RouteTargets: []route.RouteTarget{otherRT}},
	}
	if err := f.pe1.Announce(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	poll(t, "foreign route in PE2's RIB", func() (bool, error) {
		st, err := f.pe2.RIB(ctx)
		return err == nil && st.Paths == 1, err
	})
	if st := f.pe2.Stats(); st.Filtered != 1 {
		t.Errorf("PE2 filtered %d paths, want 1", st.Filtered)
	}
	if st, _ := f.pe2.RIB(ctx); st.Reported != 0 {
		t.Errorf("PE2 reported %d paths with a foreign route target, want 0", st.Reported)
	}

	if err := f.pe2.SetImportPolicy(ctx, ImportPolicy{RouteTargets: []route.RouteTarget{testRT, otherRT}}); err != nil {
		t.Fatal(err)
	}
	evs := waitEvent(t, f.pe2, "foreign route after import", func(ev Event) bool { return ev.Kind == PathAdd })
	if diff := cmp.Diff(reflected(foreign, f.pe1Addr), evs[len(evs)-1].Path, pathOpts); diff != "" {
		t.Errorf("imported path (-want +got):\n%s", diff)
	}
	if err := f.pe2.SetImportPolicy(ctx, ImportPolicy{RouteTargets: []route.RouteTarget{testRT}}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, f.pe2, "foreign route after un-import", func(ev Event) bool {
		return ev.Kind == PathWithdraw && route.Key(ev.Path.NLRI) == route.Key(foreign.NLRI)
	})
}

func TestSessionLossIsReportedWithReasonAndWithdrawsPaths(t *testing.T) {
	f := newFabric(t, 13)
	ctx := context.Background()
	paths := samplePaths(f.pe1Addr)[:3]
	for _, p := range paths {
		if err := f.pe1.Announce(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	collectPaths(t, f.pe2, PathAdd, keysOf(paths))

	// The RR drops PE1: PE1 hears a Cease, PE2 loses PE1's routes.
	if err := f.rr.DeleteNeighbor(ctx, f.pe1Addr); err != nil {
		t.Fatal(err)
	}
	evs := waitEvent(t, f.pe1, "PE1 session down", func(ev Event) bool { return ev.Kind == PeerDown })
	down := evs[len(evs)-1]
	if down.Peer != f.rrAddr || !strings.Contains(down.Reason, "notification-received") {
		t.Errorf("PE1 PeerDown = peer %s reason %q, want the RR and a received notification", down.Peer, down.Reason)
	}
	collectPaths(t, f.pe2, PathWithdraw, keysOf(paths))

	// PE2's own session loss, seen from the RR, when PE2 stops.
	if err := f.pe2.Close(); err != nil {
		t.Fatal(err)
	}
	evs = waitEvent(t, f.rr, "RR sees PE2 down", func(ev Event) bool { return ev.Kind == PeerDown && ev.Peer == f.pe2Addr })
	if r := evs[len(evs)-1].Reason; r == "" {
		t.Error("PeerDown without a reason")
	}
	// PeerDown is reported from GoBGP's session goroutine, ahead of the
	// state its server loop reports, so the neighbor table may lag.
	poll(t, "RR's neighbor table shows PE2 down", func() (bool, error) {
		ns, err := f.rr.Neighbors(ctx)
		if err != nil {
			return false, err
		}
		if len(ns) != 1 || ns[0].Address != f.pe2Addr {
			return false, fmt.Errorf("RR neighbors %+v, want PE2 only", ns)
		}
		return ns[0].State != StateEstablished, nil
	})
}

func TestNeighborsReportsCounts(t *testing.T) {
	f := newFabric(t, 14)
	ctx := context.Background()
	paths := samplePaths(f.pe1Addr)
	for _, p := range paths {
		if err := f.pe1.Announce(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	collectPaths(t, f.pe2, PathAdd, keysOf(paths))
	ns, err := f.pe2.Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 {
		t.Fatalf("PE2 has %d neighbors, want 1", len(ns))
	}
	n := ns[0]
	want := NeighborState{Address: f.rrAddr, ASN: testASN, RouterID: f.rrAddr, State: StateEstablished,
		Received: uint64(len(paths)), Accepted: uint64(len(paths)), Advertised: 0}
	if diff := cmp.Diff(want, n, pathOpts, cmpopts.IgnoreFields(NeighborState{}, "EstablishedAt", "Uptime", "UpdatesReceived", "UpdatesSent")); diff != "" {
		t.Errorf("PE2 neighbor state (-want +got):\n%s", diff)
	}
	if n.EstablishedAt.IsZero() || n.Uptime <= 0 || n.UpdatesReceived == 0 {
		t.Errorf("PE2 neighbor state lacks uptime or update counts: %+v", n)
	}
	ns, err = f.pe1.Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ns[0].Advertised != uint64(len(paths)) {
		t.Errorf("PE1 advertised %d paths, want %d", ns[0].Advertised, len(paths))
	}
}
