package p4asic

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/p4evpn/p4evpn/p4rt"
)

// TestWithLearningDelay: a delay keeps the default batching; zero asks for
// lists of one (BMv2 would otherwise hold samples until a list is full).
func TestWithLearningDelay(t *testing.T) {
	base := p4rt.DigestConfig{MaxTimeout: time.Millisecond, MaxListSize: 100, AckTimeout: time.Second}
	for _, tc := range []struct {
		desc    string
		delay   time.Duration
		want    p4rt.DigestConfig
		wantErr bool
	}{
		{desc: "default delay", delay: time.Millisecond, want: base},
		{desc: "longer delay", delay: 50 * time.Millisecond, want: p4rt.DigestConfig{MaxTimeout: 50 * time.Millisecond, MaxListSize: 100, AckTimeout: time.Second}},
		{desc: "each at once", delay: 0, want: p4rt.DigestConfig{MaxListSize: 1, AckTimeout: time.Second}},
		{desc: "negative", delay: -time.Millisecond, wantErr: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c := config{digest: base}
			err := WithLearningDelay(tc.delay)(&c)
			if (err != nil) != tc.wantErr {
				t.Fatalf("WithLearningDelay(%v) error = %v, wantErr %v", tc.delay, err, tc.wantErr)
			}
			if err == nil {
				if diff := cmp.Diff(tc.want, c.digest); diff != "" {
					t.Errorf("digest config (-want +got):\n%s", diff)
				}
			}
		})
	}
}
