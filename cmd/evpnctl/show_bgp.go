package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/p4evpn/p4evpn/gnmi"
)

// show bgp summary over gNMI:
// NI/protocols/protocol[identifier=BGP][name]/bgp, its global config and
// every neighbor's session state, message counts and L2VPN_EVPN prefix
// counts (OPENCONFIG.md §4). evpnd refreshes session state on peer events
// and every timers.telemetry-interval.

// bgpSummary is one BGP instance.
type bgpSummary struct {
	NetworkInstance string        `json:"network_instance"`
	Protocol        string        `json:"protocol"`
	RouterID        string        `json:"router_id,omitempty"`
	AS              uint32        `json:"as,omitempty"`
	Neighbors       []neighborRow `json:"neighbors"`
}

// neighborRow is one BGP neighbor.
type neighborRow struct {
	Address  string `json:"address"`
	PeerAS   uint32 `json:"peer_as,omitempty"`
	PeerType string `json:"peer_type,omitempty"`
	// State is the FSM state (IDLE … ESTABLISHED); empty until evpnd has
	// published it.
	State string `json:"state,omitempty"`
	// LastEstablished is when the session last went into or out of
	// Established.
	LastEstablished *time.Time `json:"last_established,omitempty"`
	// EstablishedTransitions counts transitions into Established; Flaps
	// those out of it (all of them but a current session).
	EstablishedTransitions uint64 `json:"established_transitions"`
	Flaps                  uint64 `json:"flaps"`
	UpdatesReceived        uint64 `json:"updates_received"`
	UpdatesSent            uint64 `json:"updates_sent"`
	NotificationsReceived  uint64 `json:"notifications_received"`
	NotificationsSent      uint64 `json:"notifications_sent"`
	// EVPN is the L2VPN_EVPN address family's prefix counts; nil when not
	// served.
	EVPN *evpnPrefixes `json:"l2vpn_evpn,omitempty"`
}

// evpnPrefixes are …/afi-safi[L2VPN_EVPN]/state/prefixes.
type evpnPrefixes struct {
	Active            bool   `json:"active"`
	Received          uint32 `json:"received"`
	ReceivedPrePolicy uint32 `json:"received_pre_policy"`
	Sent              uint32 `json:"sent"`
	Installed         uint32 `json:"installed"`
}

type ocBGPGlobal struct {
	AS       ocUint `json:"as"`
	RouterID string `json:"router-id"`
}

type ocMessages struct {
	Update       ocUint `json:"UPDATE"`
	Notification ocUint `json:"NOTIFICATION"`
}

type ocNeighbor struct {
	Address string `json:"neighbor-address"`
	Config  struct {
		PeerAS   ocUint `json:"peer-as"`
		PeerType ident  `json:"peer-type"`
	} `json:"config"`
	State struct {
		PeerAS                 ocUint `json:"peer-as"`
		PeerType               ident  `json:"peer-type"`
		SessionState           ident  `json:"session-state"`
		EstablishedTransitions ocUint `json:"established-transitions"`
		LastEstablished        ocUint `json:"last-established"`
		Messages               struct {
			Sent     ocMessages `json:"sent"`
			Received ocMessages `json:"received"`
		} `json:"messages"`
	} `json:"state"`
	AFISafis struct {
		AFISafi []struct {
			Name  ident `json:"afi-safi-name"`
			State struct {
				Active   bool `json:"active"`
				Prefixes *struct {
					Received          ocUint `json:"received"`
					ReceivedPrePolicy ocUint `json:"received-pre-policy"`
					Sent              ocUint `json:"sent"`
					Installed         ocUint `json:"installed"`
				} `json:"prefixes"`
			} `json:"state"`
		} `json:"afi-safi"`
	} `json:"afi-safis"`
}

type ocBGP struct {
	Global struct {
		Config ocBGPGlobal `json:"config"`
		State  ocBGPGlobal `json:"state"`
	} `json:"global"`
	Neighbors struct {
		Neighbor []ocNeighbor `json:"neighbor"`
	} `json:"neighbors"`
}

// bgpSummaries reads every BGP instance.
func (r *gnmiReader) bgpSummaries(ctx context.Context) ([]bgpSummary, error) {
	p := path(niPrefix("*"), one(elem("protocols")), one(elem("protocol", "identifier", "BGP", "name", "*")), one(elem("bgp")))
	ups, err := r.get(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []bgpSummary
	for _, u := range ups {
		if namesOf(u.elems) != "network-instances/network-instance/protocols/protocol/bgp" {
			return nil, r.unexpected([]*gpb.Path{p}, u)
		}
		var b ocBGP
		if err := json.Unmarshal(u.json, &b); err != nil {
			return nil, r.badValue(u, err)
		}
		g := b.Global.State
		if g.AS == 0 {
			g = b.Global.Config
		}
		s := bgpSummary{NetworkInstance: u.elems[1].GetKey()["name"], Protocol: u.elems[3].GetKey()["name"], RouterID: g.RouterID,
			AS: uint32(g.AS), Neighbors: []neighborRow{}}
		for _, n := range b.Neighbors.Neighbor {
			s.Neighbors = append(s.Neighbors, neighbor(n))
		}
		slices.SortFunc(s.Neighbors, func(a, b neighborRow) int { return strings.Compare(a.Address, b.Address) })
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("evpnd at %s serves no BGP instance at %s", r.opts.addr, gnmi.FormatPath(p.GetElem()))
	}
	slices.SortFunc(out, func(a, b bgpSummary) int {
		return cmp.Or(strings.Compare(a.NetworkInstance, b.NetworkInstance), strings.Compare(a.Protocol, b.Protocol))
	})
	return out, nil
}

func neighbor(n ocNeighbor) neighborRow {
	st := n.State
	row := neighborRow{Address: n.Address, PeerAS: uint32(cmp.Or(st.PeerAS, n.Config.PeerAS)), PeerType: string(cmp.Or(st.PeerType, n.Config.PeerType)),
		State: string(st.SessionState), EstablishedTransitions: uint64(st.EstablishedTransitions),
		UpdatesReceived: uint64(st.Messages.Received.Update), UpdatesSent: uint64(st.Messages.Sent.Update),
		NotificationsReceived: uint64(st.Messages.Received.Notification), NotificationsSent: uint64(st.Messages.Sent.Notification)}
	row.Flaps = row.EstablishedTransitions
	if row.State == "ESTABLISHED" && row.Flaps > 0 {
		row.Flaps--
	}
	if st.LastEstablished != 0 {
		t := time.Unix(0, int64(st.LastEstablished)).UTC()
		row.LastEstablished = &t
	}
	for _, af := range n.AFISafis.AFISafi {
		if af.Name != "L2VPN_EVPN" || af.State.Prefixes == nil {
			continue
		}
		p := af.State.Prefixes
		row.EVPN = &evpnPrefixes{Active: af.State.Active, Received: uint32(p.Received), ReceivedPrePolicy: uint32(p.ReceivedPrePolicy),
			Sent: uint32(p.Sent), Installed: uint32(p.Installed)}
	}
	return row
}

func printBGP(out io.Writer, sums []bgpSummary) error {
	now := time.Now()
	for i, s := range sums {
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "BGP router id %s, local AS %d (network instance %s, protocol %s)\n\n", dash(s.RouterID), s.AS, s.NetworkInstance, s.Protocol)
		err := table(out, "NEIGHBOR\tAS\tTYPE\tSTATE\tUP/DOWN\tFLAPS\tUPD-RCVD\tUPD-SENT\tPFX-RCVD\tPFX-SENT\tPFX-INSTALLED", func(w io.Writer) {
			for _, n := range s.Neighbors {
				upDown := "never"
				if n.LastEstablished != nil {
					upDown = now.Sub(*n.LastEstablished).Truncate(time.Second).String()
				}
				rcvd, sent, inst := "-", "-", "-"
				if n.EVPN != nil {
					rcvd, sent, inst = fmt.Sprint(n.EVPN.Received), fmt.Sprint(n.EVPN.Sent), fmt.Sprint(n.EVPN.Installed)
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", n.Address, n.PeerAS, dash(n.PeerType), dash(n.State), upDown,
					n.Flaps, n.UpdatesReceived, n.UpdatesSent, rcvd, sent, inst)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}
