package route

import (
	"net/netip"
	"testing"
)

func TestParseRD(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		in      string
		want    RD
		wantErr bool
	}{
		{desc: "type 0", in: "65000:100", want: RD{Admin: Admin{ASN: 65000}, Assigned: 100}},
		{desc: "type 1", in: "192.0.2.1:7", want: RD{Admin: Admin{IP: netip.MustParseAddr("192.0.2.1")}, Assigned: 7}},
		{desc: "type 2", in: "4200000000:7", want: RD{Admin: Admin{ASN: 4200000000, FourOctet: true}, Assigned: 7}},
		{desc: "type 2 number too wide", in: "4200000000:70000", wantErr: true},
		{desc: "type 1 number too wide", in: "192.0.2.1:70000", wantErr: true},
		{desc: "IPv6 admin", in: "2001:db8::1:7", wantErr: true},
		{desc: "no colon", in: "65000", wantErr: true},
		{desc: "garbage admin", in: "x:1", wantErr: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := ParseRD(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseRD(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("ParseRD(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if err == nil && got.String() != tc.in {
				t.Errorf("ParseRD(%q).String() = %q", tc.in, got.String())
			}
		})
	}
}

func TestESI(t *testing.T) {
	e := ESIFromLACP(MustMAC("00:aa:bb:cc:dd:ee"), 0x0102)
	if got, want := e.String(), "01:00:aa:bb:cc:dd:ee:01:02:00"; got != want {
		t.Errorf("ESIFromLACP = %s, want %s", got, want)
	}
	back, err := ParseESI(e.String())
	if err != nil || back != e {
		t.Errorf("ParseESI(%s) = %v, %v", e, back, err)
	}
	if got, want := e.ESImportRT(), MustMAC("00:aa:bb:cc:dd:ee"); got != want {
		t.Errorf("ESImportRT = %s, want %s", got, want)
	}
	if _, err := ParseESI("00:11"); err == nil {
		t.Error("ParseESI accepted a 2-octet ESI")
	}
	if (ESI{}).IsZero() != true || e.IsZero() {
		t.Error("IsZero wrong")
	}
}

func TestAutoRouteTarget(t *testing.T) {
	got := AutoRouteTarget(4200000001, 100)
	if got.String() != "59905:100" { // 4200000001 = 0xFA56EA01; low 16 bits 0xEA01
		t.Errorf("AutoRouteTarget = %s", got)
	}
}

func TestNLRIIsComparable(t *testing.T) {
	m := map[NLRI]int{}
	a := MACIP{RD: MustRD("65000:1"), MAC: MustMAC("00:00:00:00:00:01")}
	m[a] = 1
	b := a
	if m[b] != 1 {
		t.Error("equal MACIP values do not find the same map entry")
	}
}
