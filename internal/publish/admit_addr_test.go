package publish

import (
	"fmt"
	"testing"

	"github.com/reel-video/reel"
)

// TestHoldAnonymousPerClient: anonymous upload slots are counted per client
// as every per-address limit counts them (clientaddr.Key): the addresses of
// one IPv6 /64 share the slots, an IPv4-mapped address is its IPv4 address.
func TestHoldAnonymousPerClient(t *testing.T) {
	for _, tc := range []struct {
		held        func(i int) string // the address of the i-th slot taken
		same, other string
	}{
		{func(i int) string { return fmt.Sprintf("2001:db8:1:2::%x", i+1) }, "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:3::1"},
		{func(int) string { return "::ffff:192.0.2.1" }, "192.0.2.1", "192.0.2.200"},
	} {
		p, _ := newPublisher(t)
		for i := range DefaultMaxAnonymous {
			if _, err := p.HoldAnonymous(tc.held(i)); err != nil {
				t.Fatalf("%s: %v", tc.held(i), err)
			}
		}
		if _, err := p.HoldAnonymous(tc.same); reel.ErrorCode(err) != reel.ERATELIMITED {
			t.Errorf("%s, the same client as %s: %v, want rate limited", tc.same, tc.held(0), err)
		}
		if r, err := p.HoldAnonymous(tc.other); err != nil {
			t.Errorf("%s, another client: %v", tc.other, err)
		} else {
			r()
		}
	}
}
