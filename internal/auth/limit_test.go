package auth

import (
	"fmt"
	"sync"
	"sync/atomic"
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

// fail makes one attempt that Allow must let through and that then fails.
func fail(t *testing.T, l *LoginLimiter, addr, username string) {
	t.Helper()
	if wait, ok := l.Allow(addr, username); !ok {
		t.Fatalf("Allow(%q, %q) refused, retry after %v", addr, username, wait)
	}
}

func TestLimiterBlocksUsernameAfterFiveFailures(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now})

	for range 5 {
		fail(t, l, "192.0.2.1", "alice")
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
	fail(t, l, "192.0.2.1", "alice")
	// The refill is one attempt's worth, not a new burst.
	if _, ok := l.Allow("192.0.2.1", "alice"); ok {
		t.Error("allowed again right after the refilled attempt was spent")
	}
}

func TestLimiterBlocksAddressAfterTwentyFailures(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now})
	const addr = "192.0.2.1"

	for i := range 20 {
		fail(t, l, addr, fmt.Sprintf("user%d", i))
	}
	wait, ok := l.Allow(addr, "fresh")
	if ok || wait != 6*time.Second {
		t.Fatalf("21st attempt: Allow = %v, %v; want 6s, false", wait, ok)
	}
	if _, ok := l.Allow("192.0.2.2", "fresh"); !ok {
		t.Error("another address refused")
	}
	clock.Advance(wait)
	fail(t, l, addr, "fresh")
	if _, ok := l.Allow(addr, "fresher"); ok {
		t.Error("allowed again right after the refilled attempt was spent")
	}
}

// A refused attempt takes nothing, from either bucket.
func TestLimiterRefusedTakesNothing(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now})

	for range 5 {
		fail(t, l, "192.0.2.1", "alice")
	}
	// Attempts on the locked account do not use up another address.
	for range 100 {
		if _, ok := l.Allow("192.0.2.2", "alice"); ok {
			t.Fatal("locked username allowed")
		}
	}
	for i := range 20 {
		fail(t, l, "192.0.2.2", fmt.Sprintf("user%d", i))
	}
	// Attempts from the spent address do not use up another username.
	for range 100 {
		if _, ok := l.Allow("192.0.2.2", "bob"); ok {
			t.Fatal("spent address allowed")
		}
	}
	for range 5 {
		fail(t, l, "192.0.2.3", "bob")
	}
}

func TestLimiterRetryAfterRoundsUp(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now, PerUsername: Rule{Burst: 1, Every: 1500 * time.Millisecond}})
	fail(t, l, "", "alice")
	if wait, ok := l.Allow("", "alice"); ok || wait != 2*time.Second {
		t.Errorf("Allow = %v, %v; want 2s, false", wait, ok)
	}
	clock.Advance(1 * time.Second)
	if wait, ok := l.Allow("", "alice"); ok || wait != time.Second {
		t.Errorf("500ms before the refill: Allow = %v, %v; want 1s, false", wait, ok)
	}
	clock.Advance(499 * time.Millisecond)
	if wait, ok := l.Allow("", "alice"); ok || wait != time.Second {
		t.Errorf("1ms before the refill: Allow = %v, %v; want 1s, false", wait, ok)
	}
	clock.Advance(time.Millisecond)
	if wait, ok := l.Allow("", "alice"); !ok {
		t.Errorf("at the refill: Allow = %v, %v; want ok", wait, ok)
	}
}

// The larger of the two waits is the one to report.
func TestLimiterRetryAfterIsTheLongerWait(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{
		Now:         clock.Now,
		PerUsername: Rule{Burst: 1, Every: 10 * time.Second},
		PerAddress:  Rule{Burst: 1, Every: 3 * time.Second},
	})
	fail(t, l, "192.0.2.1", "alice")
	if wait, ok := l.Allow("192.0.2.1", "alice"); ok || wait != 10*time.Second {
		t.Errorf("Allow = %v, %v; want 10s, false", wait, ok)
	}
	clock.Advance(4 * time.Second) // the address refills, alice does not
	if wait, ok := l.Allow("192.0.2.1", "alice"); ok || wait != 6*time.Second {
		t.Errorf("Allow = %v, %v; want 6s, false", wait, ok)
	}
}

func TestLimiterSuccessRefundsAddressAndResetsUsername(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now})
	const addr = "192.0.2.1"

	for range 4 {
		fail(t, l, addr, "alice")
	}
	fail(t, l, addr, "alice") // the right password, this time
	l.Succeeded(addr, "Alice")
	// alice has a full bucket again...
	for range 5 {
		fail(t, l, "198.51.100.7", "alice")
	}
	if _, ok := l.Allow("198.51.100.7", "alice"); ok {
		t.Error("alice allowed a sixth failure after her reset")
	}
	// ...and the address keeps its 4 failures but not the success: 16 more
	// reach 20.
	for i := range 16 {
		fail(t, l, addr, fmt.Sprintf("user%d", i))
	}
	if wait, ok := l.Allow(addr, "carol"); ok || wait != 6*time.Second {
		t.Errorf("Allow after 20 failures from one address = %v, %v; want 6s, false", wait, ok)
	}
}

func TestLimiterSuccessesCostNothing(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now})
	for i := range 1000 {
		user := fmt.Sprintf("user%d", i%3)
		fail(t, l, "192.0.2.1", user)
		l.Succeeded("192.0.2.1", user)
	}
	if n := len(l.full); n != 0 {
		t.Errorf("%d buckets remembered after only successes", n)
	}
	// A success never gives back more than its attempt took.
	fail(t, l, "192.0.2.1", "mallory")
	l.Succeeded("192.0.2.1", "mallory")
	l.Succeeded("192.0.2.1", "mallory")
	for i := range 20 {
		fail(t, l, "192.0.2.1", fmt.Sprintf("guess%d", i))
	}
	if _, ok := l.Allow("192.0.2.1", "guess"); ok {
		t.Error("extra Succeeded calls raised the address above its burst")
	}
}

// Concurrent attempts for one account get exactly its burst between them,
// however they interleave: Allow takes the token it checks.
func TestLimiterConcurrentAllowReserves(t *testing.T) {
	for _, tc := range []struct {
		name       string
		addr, user func(i int) string
		want       int64
	}{
		{"one username", func(i int) string { return fmt.Sprintf("10.0.0.%d", i) }, func(int) string { return "alice" }, 5},
		{"one address", func(int) string { return "192.0.2.1" }, func(i int) string { return fmt.Sprintf("user%d", i) }, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLoginLimiter(LimiterConfig{Now: newFakeClock().Now})
			const n = 40
			var oks atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					if _, ok := l.Allow(tc.addr(i), tc.user(i)); ok {
						oks.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			if got := oks.Load(); got != tc.want {
				t.Errorf("%d of %d concurrent attempts allowed, want %d", got, n, tc.want)
			}
		})
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
	for range 5 {
		fail(t, l, "198.51.100.1", "victim")
	}
	for i := range 10_000 {
		addr := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		fail(t, l, addr, fmt.Sprintf("user%d", i))
		if n := len(l.full); n > maxKeys {
			t.Fatalf("after %d attempts: %d buckets, bound %d", i+1, n, maxKeys)
		}
		if i%1000 == 0 {
			clock.Advance(time.Second)
		}
	}
	// The flood of single failures went first; the locked account, whose
	// limit lasts longest, is still locked.
	if _, ok := l.Allow("198.51.100.2", "victim"); ok {
		t.Error("a flood of fresh keys unlocked the victim")
	}
	// Long names cost no more than maxNameLen.
	long := string(make([]byte, 10_000))
	fail(t, l, long, long+"x")
	for k := range l.full {
		if len(k.name) > maxNameLen {
			t.Errorf("a %d-byte name is remembered", len(k.name))
		}
	}
}

// Full buckets say nothing, so they go before any bucket that still limits
// someone, however old.
func TestLimiterDropsFullBucketsFirst(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now, MaxKeys: 4})
	for range 5 {
		fail(t, l, "", "victim")
	}
	for i := range 3 {
		fail(t, l, fmt.Sprintf("192.0.2.%d", i), "")
	}
	clock.Advance(6 * time.Second) // the three addresses refill, victim does not
	fail(t, l, "198.51.100.1", "")
	fail(t, l, "198.51.100.2", "")

	if _, ok := l.Allow("", "victim"); ok {
		t.Error("the blocked username was forgotten while full buckets were kept")
	}
	if n := len(l.full); n > 4 {
		t.Errorf("%d buckets over MaxKeys 4", n)
	}
}

func TestLimiterSweep(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Now: clock.Now})
	fail(t, l, "192.0.2.1", "alice")
	for range 5 {
		fail(t, l, "", "bob")
	}
	clock.Advance(time.Minute) // alice and the address refill; bob has 1 of 5
	l.Sweep()
	if _, ok := l.full[limitKey{username: true, name: "bob"}]; !ok || len(l.full) != 1 {
		t.Errorf("after Sweep: %d buckets, bob kept: %v; want only bob", len(l.full), ok)
	}
	clock.Advance(4 * time.Minute)
	l.Sweep()
	if n := len(l.full); n != 0 {
		t.Errorf("after everything refilled: %d buckets", n)
	}
}

func TestLimiterEmptyKeys(t *testing.T) {
	l := NewLoginLimiter(LimiterConfig{Now: newFakeClock().Now})
	for range 100 {
		fail(t, l, "", "")
	}
	l.Succeeded("", "")
	if n := len(l.full); n != 0 {
		t.Errorf("empty address and username were counted: %d buckets", n)
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
				if _, ok := l.Allow(addr, user); ok && i%7 == 0 {
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
	if n := len(l.full); n > 50 {
		t.Errorf("%d buckets, bound 50", n)
	}
}
