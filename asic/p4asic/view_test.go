package p4asic

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/p4evpn/p4evpn/asic"
	"github.com/p4evpn/p4evpn/evpn/route"
)

// references must agree with asic.References, which it shortcuts.
func TestReferencesMatchesAsic(t *testing.T) {
	mac := route.MustMAC("02:00:00:00:00:01")
	for _, e := range []asic.Entity{
		asic.FDBEntry{BD: 1, MAC: mac},
		asic.FDBEntry{BD: 1, MAC: mac, Dest: asic.Destination{Kind: asic.ToAC, AC: 2}},
		asic.FDBEntry{BD: 1, MAC: mac, Dest: asic.Destination{Kind: asic.ToRemotePE, PE: 3, Label: 100}},
		asic.FDBEntry{BD: 1, MAC: mac, Dest: asic.Destination{Kind: asic.ToAliasingGroup, Group: 4}},
		asic.AttachmentCircuit{ID: 1, Port: 2, BD: 3, Segment: 4},
	} {
		if diff := cmp.Diff(asic.References(e), references(e, &[2]asic.Key{})); diff != "" {
			t.Errorf("references(%v) (-asic +ours):\n%s", e, diff)
		}
	}
}
