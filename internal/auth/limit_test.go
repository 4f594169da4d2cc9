package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestLimiterBlocksUsernameAfterFiveFailures(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now})

	for i := range 5 {
		if wait, ok := l.Allow("192.0.2.1", "alice"); !ok {
			t.Fatalf("attempt %d refused, retry after %v", i+1, wait)
		}
		l.Failed("192.0.2.1", "alice")
	}
	wait, ok := l.Allow("192.0.2.1", "alice")
	if ok {
		t.Fatal("sixth attempt allowed")
	}
	if wait != time.Minute {
		t.Errorf("retry after %v, want 1m0s", wait)
	}
	// The account is what is protected: another address, or another
	// spelling of the same name, is refused too.
	if _, ok := l.Allow("198.51.100.7", "ALICE"); ok {
		t.Error("same username from another address, other case, allowed")
	}
	// The address still has budget for other accounts.
	if _, ok := l.Allow("192.0.2.1", "bob"); !ok {
		t.Error("another username from the same address refused")
	}

	clock.Advance(wait)
	if wait, ok := l.Allow("192.0.2.1", "alice"); !ok {
		t.Fatalf("refused after waiting Retry-After, retry after %v", wait)
	}
	// The refill is one failure's worth, not a new burst.
	l.Failed("192.0.2.1", "alice")
	if _, ok := l.Allow("192.0.2.1", "alice"); ok {
		t.Error("allowed again right after the refilled failure was spent")
	}
}

func TestLimiterRetryAfterRoundsUp(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now, PerUsername: Rule{Burst: 1, Every: 1500 * time.Millisecond}})
	l.Failed("", "alice")
	if wait, ok := l.Allow("", "alice"); ok || wait != 2*time.Second {
		t.Errorf("Allow = %v, %v; want 2s, false", wait, ok)
	}
	clock.Advance(1400 * time.Millisecond)
	if wait, ok := l.Allow("", "alice"); ok || wait != time.Second {
		t.Errorf("100ms before the refill: Allow = %v, %v; want 1s, false", wait, ok)
	}
	clock.Advance(100 * time.Millisecond)
	if wait, ok := l.Allow("", "alice"); !ok {
		t.Errorf("at the refill: Allow = %v, %v; want ok", wait, ok)
	}
}

func TestLimiterSuccessResetsUsernameNotAddress(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now})
	const addr = "192.0.2.1"

	for range 5 {
		l.Failed(addr, "alice")
	}
	if _, ok := l.Allow(addr, "alice"); ok {
		t.Fatal("not blocked after 5 failures")
	}
	l.Succeeded(addr, "Alice")
	if wait, ok := l.Allow(addr, "alice"); !ok {
		t.Fatalf("still blocked after a success, retry after %v", wait)
	}
	// The 5 failures still count against the address: 15 more reach 20.
	for i := range 15 {
		l.Failed(addr, fmt.Sprintf("user%d", i))
	}
	if wait, ok := l.Allow(addr, "carol"); ok || wait != 6*time.Second {
		t.Errorf("Allow after 20 failures from one address = %v, %v; want 6s, false", wait, ok)
	}
}

func TestLimiterBlocksAddressAfterTwentyFailures(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now})
	const addr = "192.0.2.1"

	for i := range 20 {
		user := fmt.Sprintf("user%d", i)
		if wait, ok := l.Allow(addr, user); !ok {
			t.Fatalf("attempt %d refused, retry after %v", i+1, wait)
		}
		l.Failed(addr, user)
	}
	wait, ok := l.Allow(addr, "fresh")
	if ok || wait != 6*time.Second {
		t.Fatalf("21st attempt: Allow = %v, %v; want 6s, false", wait, ok)
	}
	if _, ok := l.Allow("192.0.2.2", "fresh"); !ok {
		t.Error("another address refused")
	}
	clock.Advance(wait)
	if _, ok := l.Allow(addr, "fresh"); !ok {
		t.Error("refused after waiting Retry-After")
	}
}

func TestLimiterAddressKeys(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"}, // one /64
		{"192.0.2.1", "::ffff:192.0.2.1"},
		{"192.0.2.1", "192.0.2.1:5555"},
		{"2001:db8::1", "[2001:db8::1]:443"},
	} {
		if addrKey(tc.a) != addrKey(tc.b) {
			t.Errorf("%s and %s count separately (%s, %s)", tc.a, tc.b, addrKey(tc.a), addrKey(tc.b))
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.1", "192.0.2.2"},
	} {
		if addrKey(tc.a) == addrKey(tc.b) {
			t.Errorf("%s and %s share a budget", tc.a, tc.b)
		}
	}
}

func TestLimiterMaxKeys(t *testing.T) {
	clock := newFakeClock()
	const maxKeys = 100
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now, MaxKeys: maxKeys})
	for i := range 10_000 {
		addr := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		l.Failed(addr, fmt.Sprintf("user%d", i))
		if n := len(l.entries); n > maxKeys || n != l.recent.Len() {
			t.Fatalf("after %d failures: %d entries, %d in the recency list; bound %d", i+1, n, l.recent.Len(), maxKeys)
		}
		if i%1000 == 0 {
			clock.Advance(time.Second)
		}
	}
	// The newest failures are the ones remembered.
	if _, ok := l.entries[limitKey{username: true, name: "user9999"}]; !ok {
		t.Error("the most recent username was dropped")
	}
}

// Full buckets say nothing, so they go before any bucket that still limits
// someone, however old.
func TestLimiterDropsFullBucketsFirst(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now, MaxKeys: 4})
	for i := range 3 {
		l.Failed(fmt.Sprintf("192.0.2.%d", i), "")
	}
	for range 5 {
		l.Failed("", "victim")
	}
	clock.Advance(6 * time.Second) // the three addresses refill, victim does not
	l.Failed("198.51.100.1", "")
	l.Failed("198.51.100.2", "")

	if _, ok := l.Allow("", "victim"); ok {
		t.Error("the blocked username was forgotten while full buckets were kept")
	}
	if n := len(l.entries); n > 4 {
		t.Errorf("%d entries over MaxKeys 4", n)
	}
}

func TestLimiterSweep(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now})
	l.Failed("192.0.2.1", "alice")
	for range 5 {
		l.Failed("", "bob")
	}
	clock.Advance(time.Minute) // alice and the address refill; bob has 1 of 5
	l.Sweep()
	if _, ok := l.entries[limitKey{username: true, name: "bob"}]; !ok || len(l.entries) != 1 {
		t.Errorf("after Sweep: %d entries, bob kept: %v; want only bob", len(l.entries), ok)
	}
	clock.Advance(4 * time.Minute)
	l.Sweep()
	if len(l.entries) != 0 || l.recent.Len() != 0 {
		t.Errorf("after everything refilled: %d entries, %d in the list", len(l.entries), l.recent.Len())
	}
}

func TestLimiterEmptyKeys(t *testing.T) {
	l := NewLoginLimiter(LimiterConfig{Now: newFakeClock().Now})
	for range 100 {
		l.Failed("", "")
	}
	if _, ok := l.Allow("", ""); !ok || len(l.entries) != 0 {
		t.Errorf("empty address and username were counted: %d entries", len(l.entries))
	}
}

func TestLimiterConcurrent(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now, MaxKeys: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				addr := fmt.Sprintf("192.0.2.%d", (g*500+i)%200)
				user := fmt.Sprintf("user%d", i%30)
				if _, ok := l.Allow(addr, user); ok {
					l.Failed(addr, user)
				}
				if i%7 == 0 {
					l.Succeeded(addr, user)
				}
				if i%50 == 0 {
					l.Sweep()
					clock.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	if n := len(l.entries); n > 50 || n != l.recent.Len() {
		t.Errorf("%d entries, %d in the list, bound 50", n, l.recent.Len())
	}
}
