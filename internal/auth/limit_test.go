package auth

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/shared"
	"github.com/reel-video/reel/internal/shared/redistest"
)

// onEachStore runs test with the windows in memory (r nil) and on Redis:
// the limits mean the same on both.
func onEachStore(t *testing.T, test func(t *testing.T, r *shared.Redis)) {
	t.Run("local", func(t *testing.T) { test(t, nil) })
	t.Run("redis", func(t *testing.T) {
		r, err := shared.Open(t.Context(), redistest.Start(t).URL, shared.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		test(t, r)
	})
}

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

func TestParseRate(t *testing.T) {
	good := map[string]Rate{
		"0":          {},
		" 0 ":        {},
		"20/1h":      {N: 20, Per: time.Hour},
		"5/15m":      {N: 5, Per: 15 * time.Minute},
		"1/1s":       {N: 1, Per: time.Second},
		"1000/1m30s": {N: 1000, Per: 90 * time.Second},
		"1000000/1h": {N: MaxRateN, Per: time.Hour},
	}
	for in, want := range good {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if again, err := ParseRate(got.String()); err != nil || again != got {
			t.Errorf("ParseRate(%q.String() = %q) = %+v, %v", in, got.String(), again, err)
		}
	}
	for _, in := range []string{"", "off", "5", "5/", "/1m", "5/1", "5/m", "5/1x", "-1/1m", "0/1h", "1.5/1m",
		"5/0s", "5/-1m", "5/1ns", "5/999ms", "1000001/1h", "99999999999999999999/1h", "5/1m/2", "five/1m", "0x10/1m"} {
		if r, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %+v, want an error", in, r)
		} else if msg := err.Error(); !strings.Contains(msg, "N") {
			t.Errorf("ParseRate(%q): message %q does not say what is expected", in, msg)
		}
	}
}

// allow makes one attempt that must be let through and then fails.
func allow(t *testing.T, l *LoginLimiter, addr, user string) Attempt {
	t.Helper()
	a, wait, ok := l.Allow(t.Context(), addr, user)
	if !ok {
		t.Fatalf("Allow(%q, %q) refused, retry after %v", addr, user, wait)
	}
	return a
}

// At most N in any window: the N+1st attempt waits until the oldest of the
// last N leaves the window, not a token's refill interval.
func TestLoginLimiterWindow(t *testing.T) {
	onEachStore(t, func(t *testing.T, r *shared.Redis) {
		clock := newFakeClock()
		l := NewLoginLimiter(Rate{N: 3, Per: time.Minute}, Rate{}, LimiterOptions{Shared: r, Now: clock.Now})
		allow(t, l, "192.0.2.1", "alice")
		clock.Advance(10 * time.Second)
		allow(t, l, "192.0.2.1", "alice")
		allow(t, l, "192.0.2.1", "alice")
		_, wait, ok := l.Allow(t.Context(), "192.0.2.1", "alice")
		if ok || wait != 50*time.Second {
			t.Fatalf("fourth attempt in a minute: ok %v, retry after %v; want refused for 50s", ok, wait)
		}
		clock.Advance(50*time.Second - time.Millisecond)
		if _, _, ok := l.Allow(t.Context(), "192.0.2.1", "alice"); ok {
			t.Fatal("allowed before the first attempt left the window")
		}
		clock.Advance(time.Millisecond)
		allow(t, l, "192.0.2.1", "alice")
		// Now the window holds attempts at 10s, 10s and 60s: the next is at 70s.
		if _, wait, ok := l.Allow(t.Context(), "192.0.2.1", "alice"); ok || wait != 10*time.Second {
			t.Errorf("after sliding: ok %v, retry after %v; want 10s", ok, wait)
		}
	})
}

// Nobody can lock another user out: any number of failures against alice
// from other addresses leaves her own address its whole budget.
func TestLoginLimiterNoLockout(t *testing.T) {
	onEachStore(t, func(t *testing.T, r *shared.Redis) {
		clock := newFakeClock()
		l := NewLoginLimiter(Rate{N: 5, Per: 15 * time.Minute}, Rate{N: 20, Per: 15 * time.Minute}, LimiterOptions{Shared: r, Now: clock.Now})
		for i := range 200 {
			addr := fmt.Sprintf("198.51.100.%d", i)
			for range 5 {
				allow(t, l, addr, "alice")
			}
			if _, _, ok := l.Allow(t.Context(), addr, "alice"); ok {
				t.Fatalf("sixth failure from %s allowed", addr)
			}
		}
		// Alice's own address: all five attempts, and her right password.
		for range 4 {
			allow(t, l, "203.0.113.9", "alice")
		}
		l.Succeeded(t.Context(), allow(t, l, "203.0.113.9", "alice"))
		// Her success reset her pair: five more chances on her address.
		for range 5 {
			allow(t, l, "203.0.113.9", "alice")
		}
	})
}

// One address spraying many usernames hits the address limit.
func TestLoginLimiterAddressLimit(t *testing.T) {
	onEachStore(t, func(t *testing.T, r *shared.Redis) {
		clock := newFakeClock()
		l := NewLoginLimiter(Rate{N: 5, Per: time.Minute}, Rate{N: 20, Per: time.Minute}, LimiterOptions{Shared: r, Now: clock.Now})
		for i := range 20 {
			allow(t, l, "192.0.2.1", fmt.Sprintf("user%d", i))
		}
		if _, wait, ok := l.Allow(t.Context(), "192.0.2.1", "fresh"); ok || wait != time.Minute {
			t.Errorf("21st failure from one address: ok %v, retry %v; want refused for 1m", ok, wait)
		}
		// Another address is not affected, nor is the username from it.
		allow(t, l, "192.0.2.2", "fresh")
		// A refused attempt counts nothing: after the window it is all back.
		clock.Advance(time.Minute)
		for i := range 20 {
			allow(t, l, "192.0.2.1", fmt.Sprintf("other%d", i))
		}
	})
}

// A success gives the address back only its own attempt: an attacker who
// signs in to their own account between guesses gains nothing.
func TestLoginLimiterSuccessRefundsOnlyItself(t *testing.T) {
	onEachStore(t, func(t *testing.T, r *shared.Redis) {
		clock := newFakeClock()
		l := NewLoginLimiter(Rate{N: 5, Per: time.Minute}, Rate{N: 3, Per: time.Minute}, LimiterOptions{Shared: r, Now: clock.Now})
		allow(t, l, "192.0.2.1", "victim1")
		allow(t, l, "192.0.2.1", "victim2")
		for range 10 {
			l.Succeeded(t.Context(), allow(t, l, "192.0.2.1", "mallory"))
		}
		allow(t, l, "192.0.2.1", "victim3")
		if _, _, ok := l.Allow(t.Context(), "192.0.2.1", "victim4"); ok {
			t.Error("successes in between refunded the address's failures")
		}
	})
}

func TestLoginLimiterCancel(t *testing.T) {
	onEachStore(t, func(t *testing.T, r *shared.Redis) {
		l := NewLoginLimiter(Rate{N: 1, Per: time.Hour}, Rate{N: 1, Per: time.Hour}, LimiterOptions{Shared: r})
		for range 3 {
			l.Cancel(t.Context(), allow(t, l, "192.0.2.1", "alice"))
		}
		// Three attempts under a limit of one: each was taken back.
		allow(t, l, "192.0.2.1", "alice")
		if _, _, ok := l.Allow(t.Context(), "192.0.2.1", "alice"); ok {
			t.Error("a second attempt not cancelled was allowed under a limit of one")
		}
	})
}

func TestLoginLimiterOff(t *testing.T) {
	l := NewLoginLimiter(Rate{}, Rate{}, LimiterOptions{})
	for range 10_000 {
		allow(t, l, "192.0.2.1", "alice")
	}
	if n, _ := l.w.Local.Len(); n != 0 {
		t.Error("a limit that is off remembers events")
	}
}

func TestSignupLimiter(t *testing.T) {
	onEachStore(t, func(t *testing.T, r *shared.Redis) {
		clock := newFakeClock()
		l := NewSignupLimiter(Rate{N: 2, Per: time.Hour}, LimiterOptions{Shared: r, Now: clock.Now})
		s, _, ok := l.Allow(t.Context(), "192.0.2.1")
		if !ok {
			t.Fatal("first sign-up refused")
		}
		l.Undo(t.Context(), s) // the server was too busy: it does not count
		for range 2 {
			if _, _, ok := l.Allow(t.Context(), "192.0.2.1"); !ok {
				t.Fatal("sign-up within the limit refused")
			}
		}
		if _, wait, ok := l.Allow(t.Context(), "192.0.2.1"); ok || wait != time.Hour {
			t.Errorf("third sign-up in an hour: ok %v, retry %v", ok, wait)
		}
		if _, _, ok := l.Allow(t.Context(), "192.0.2.2"); !ok {
			t.Error("another address was refused")
		}
		// IPv6 clients are their /64.
		if _, _, ok := l.Allow(t.Context(), "2001:db8::1"); !ok {
			t.Fatal("refused")
		}
		if _, _, ok := l.Allow(t.Context(), "[2001:db8::2]:4000"); !ok {
			t.Fatal("refused")
		}
		if _, _, ok := l.Allow(t.Context(), "2001:db8::ffff"); ok {
			t.Error("a third address of the same /64 got a budget of its own")
		}
		// Unknown addresses are not limited (one budget for all would let one
		// of them lock out the others).
		for range 5 {
			if _, _, ok := l.Allow(t.Context(), ""); !ok {
				t.Fatal("empty address limited")
			}
		}
		clock.Advance(time.Hour)
		if _, _, ok := l.Allow(t.Context(), "192.0.2.1"); !ok {
			t.Error("still refused after the window")
		}
	})
}

// Memory is bounded by MaxEvents whatever a flood of addresses and names
// sends, and eviction keeps the most recently limited keys.
func TestLoginLimiterMaxEvents(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(Rate{N: 2, Per: time.Hour}, Rate{N: 2, Per: time.Hour}, LimiterOptions{Now: clock.Now, MaxEvents: 1000})
	for i := range 5000 {
		clock.Advance(time.Millisecond)
		allow(t, l, fmt.Sprintf("10.0.%d.%d", i/256, i%256), strings.Repeat("x", 10_000))
		if n, _ := l.w.Local.Len(); n > 1000 {
			t.Fatalf("%d events remembered, over the bound of 1000", n)
		}
	}
	for _, key := range l.w.Local.Keys() {
		if len(key) > maxNameLen+60 {
			t.Fatalf("a key of %d bytes is remembered", len(key))
		}
	}
	// The latest addresses are still limited.
	allow(t, l, "10.0.19.135", "y")
	if _, _, ok := l.Allow(t.Context(), "10.0.19.135", "z"); ok {
		t.Error("the most recent address lost its failures to eviction")
	}
}

func TestLoginLimiterSweep(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLimiter(Rate{N: 5, Per: time.Minute}, Rate{N: 20, Per: time.Minute}, LimiterOptions{Now: clock.Now})
	for i := range 100 {
		allow(t, l, fmt.Sprintf("192.0.2.%d", i), "alice")
	}
	clock.Advance(time.Minute)
	l.Sweep()
	if n, keys := l.w.Local.Len(); n != 0 || keys != 0 {
		t.Errorf("after the window, %d events of %d keys remain", n, keys)
	}
}

// Concurrent attempts cannot slip past the limit before any is counted.
func TestLoginLimiterConcurrent(t *testing.T) {
	onEachStore(t, func(t *testing.T, r *shared.Redis) {
		l := NewLoginLimiter(Rate{N: 5, Per: time.Hour}, Rate{N: 100, Per: time.Hour}, LimiterOptions{Shared: r})
		var allowed atomic.Int64
		var wg sync.WaitGroup
		// Ten at a time: more than the Redis client's pool (10 per CPU)
		// would wait for a connection, and a wait past its timeout counts
		// as Redis failing, which sends the rest to the local fallback by
		// design (each node then limits on its own).
		sem := make(chan struct{}, 10)
		for range 50 {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if _, _, ok := l.Allow(t.Context(), "192.0.2.1", "alice"); ok {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if n := allowed.Load(); n != 5 {
			t.Errorf("%d of 50 concurrent attempts allowed, want exactly 5", n)
		}
	})
}
