package bgp

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/p4evpn/p4evpn/evpn/route"
)

// TestCloseKeepsRoutesWithNotification restarts a PE speaker (Close, then a
// new speaker with the same router ID) behind a route reflector, both with
// graceful restart. With the RFC 8538 N bit on both sides, Close's
// Cease/Administrative Reset leaves the PE's route at the reflector (stale,
// still reported, no PathWithdraw), and the restarted PE refreshes it and
// ends its table with End-of-RIB, still without a withdrawal. When either
// side lacks the N bit, the Cease ends graceful restart (RFC 4724) and the
// reflector withdraws the route: the control that proves the N bit is what
// keeps it. Shutdown withdraws it even with the N bit (Hard Reset).
func TestCloseKeepsRoutesWithNotification(t *testing.T) {
	tests := []struct {
		desc               string
		peNotify, rrNotify bool
		// shutdown stops the PE with Shutdown instead of Close.
		shutdown             bool
		wantKept             bool
		wantDownReasonSubstr string
	}{
		{desc: "N bit on both sides", peNotify: true, rrNotify: true, wantKept: true, wantDownReasonSubstr: "graceful-restart"},
		{desc: "N bit on both sides, Shutdown", peNotify: true, rrNotify: true, shutdown: true, wantKept: false, wantDownReasonSubstr: "hard-reset"},
		{desc: "N bit on the PE only", peNotify: true, rrNotify: false, wantKept: false, wantDownReasonSubstr: "administrative reset"},
		{desc: "N bit on neither", peNotify: false, rrNotify: false, wantKept: false, wantDownReasonSubstr: "peer deconfigured"},
	}
	for i, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			log := testLogger(t)
			// A /24 per case: a case's sockets may linger in TIME_WAIT.
			rrAddr := netip.AddrFrom4([4]byte{127, 0, 36, byte(10*i + 1)})
			peAddr := netip.AddrFrom4([4]byte{127, 0, 36, byte(10*i + 2)})
			sentinelAddr := netip.AddrFrom4([4]byte{127, 0, 36, byte(10*i + 3)})
			port := freePort(t, rrAddr)
			rr := startSpeaker(t, log.With("node", "rr"), Config{
				RouterID: rrAddr, ASN: testASN, ListenAddress: rrAddr, ListenPort: port,
				Neighbors:       []Neighbor{rrClient(peAddr, rrAddr), rrClient(sentinelAddr, rrAddr)},
				GracefulRestart: &GracefulRestart{RestartTime: 30 * time.Second, Notification: tc.rrNotify},
				Import:          ImportPolicy{All: true},
			})
			peCfg := Config{
				RouterID: peAddr, ASN: testASN,
				Neighbors:       []Neighbor{fastNeighbor(rrAddr, peAddr, port, testASN)},
				GracefulRestart: &GracefulRestart{RestartTime: 30 * time.Second, Notification: tc.peNotify},
			}
			pe, err := New(peCfg, WithLogger(log.With("node", "pe")))
			if err != nil {
				t.Fatal(err)
			}
			defer pe.Close()
			sentinel := startSpeaker(t, log.With("node", "sentinel"), Config{
				RouterID: sentinelAddr, ASN: testASN,
				Neighbors:       []Neighbor{fastNeighbor(rrAddr, sentinelAddr, port, testASN)},
				GracefulRestart: &GracefulRestart{RestartTime: 30 * time.Second},
			})
			up := make(map[netip.Addr]bool)
			waitEvent(t, rr, "both clients up", func(ev Event) bool {
				up[ev.Peer] = up[ev.Peer] || ev.Kind == PeerUp
				return up[peAddr] && up[sentinelAddr]
			})

			p := route.Path{
				NLRI:  route.MACIP{RD: route.AutoRD(peAddr, 100), MAC: route.MAC{2, 0, 0, 0, 0x36, 1}, Label1: 100},
				Attrs: route.Attributes{RouteTargets: []route.RouteTarget{testRT}},
			}
			key := route.Key(p.NLRI)
			if err := pe.Announce(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			waitEvent(t, rr, "the PE's route", func(ev Event) bool { return ev.Kind == PathAdd && route.Key(ev.Path.NLRI) == key })

			stop := pe.Close
			if tc.shutdown {
				stop = pe.Shutdown
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			evs := waitEvent(t, rr, "PE down", func(ev Event) bool { return ev.Kind == PeerDown && ev.Peer == peAddr })
			if reason := evs[len(evs)-1].Reason; !strings.Contains(reason, tc.wantDownReasonSubstr) {
				t.Errorf("PeerDown reason %q, want it to mention %q", reason, tc.wantDownReasonSubstr)
			}
			// GoBGP's server loop handles the session going down in one
			// step (its Neighbors state and the withdrawals), after the
			// PeerDown event, which comes from the session goroutine: once
			// the reflector's table shows the session down, a withdrawal
			// is queued before the sentinel's route.
			poll(t, "the reflector's server loop to record the PE's session down", func() (bool, error) {
				nbs, err := rr.Neighbors(context.Background())
				for _, n := range nbs {
					if n.Address == peAddr {
						return n.State != StateEstablished, err
					}
				}
				return false, err
			})
			evs = append(evs, waitSentinel(t, sentinel, rr, 1)...)
			withdrawn := false
			for _, ev := range evs {
				withdrawn = withdrawn || (ev.Kind == PathWithdraw && route.Key(ev.Path.NLRI) == key)
			}
			_, stillReported := reported(t, rr, key)
			if withdrawn == tc.wantKept || stillReported != tc.wantKept {
				t.Fatalf("after the PE's Close: withdrawn %v, still reported %v; want kept %v; events: %s",
					withdrawn, stillReported, tc.wantKept, summarize(evs))
			}
			if !tc.wantKept {
				return
			}

			// The restarted PE (R bit set) re-announces its route and
			// ends its table with End-of-RIB; the reflector then drops
			// whatever stale path was not refreshed: none here.
			restarted := peCfg
			gr := *peCfg.GracefulRestart
			gr.Restarting = true
			restarted.GracefulRestart = &gr
			pe2 := startSpeaker(t, log.With("node", "pe-restarted"), restarted)
			if err := pe2.Announce(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			evs = waitEvent(t, rr, "End-of-RIB from the restarted PE", func(ev Event) bool { return ev.Kind == EndOfRIB && ev.Peer == peAddr })
			evs = append(evs, waitSentinel(t, sentinel, rr, 2)...)
			for _, ev := range evs {
				if ev.Kind == PathWithdraw && route.Key(ev.Path.NLRI) == key {
					t.Fatalf("the reflector withdrew %s across the PE's restart; events: %s", key, summarize(evs))
				}
			}
			if from, ok := reported(t, rr, key); !ok || from != peAddr {
				t.Errorf("after the restart %s is reported from %v (%v), want from %s", key, from, ok, peAddr)
			}
		})
	}
}
