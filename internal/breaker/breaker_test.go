package breaker

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBreaker(t *testing.T) {
	now := time.Unix(1000, 0)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	b := New("redis", Options{Failures: 3, OpenFor: 2 * time.Second, Metrics: m, Now: func() time.Time { return now }})
	boom := errors.New("boom")
	calls := 0
	fail := func() error { calls++; return boom }
	ok := func() error { calls++; return nil }

	// Failures below the threshold, broken by a success, keep it closed.
	for _, f := range []func() error{fail, fail, ok, fail, fail} {
		_ = b.Do(f)
	}
	if b.State() != Closed {
		t.Fatalf("after 2 failures, a success and 2 failures: %v", b.State())
	}
	if err := b.Do(fail); err != boom || b.State() != Open {
		t.Fatalf("third failure in a row: %v, state %v", err, b.State())
	}
	calls = 0
	if err := b.Do(ok); err != ErrOpen || calls != 0 {
		t.Fatalf("open: %v after %d calls", err, calls)
	}
	if got := testutil.ToFloat64(m.state.WithLabelValues("redis")); got != float64(Open) {
		t.Errorf("state metric %v", got)
	}

	// After the period, one trial at a time; a failed trial opens it again.
	now = now.Add(2 * time.Second)
	if b.State() != HalfOpen || !b.Allow() {
		t.Fatalf("after the period: state %v, not allowed", b.State())
	}
	if b.Allow() {
		t.Fatal("a second trial was allowed while one is in flight")
	}
	b.Done(boom)
	if b.State() != Open || b.Allow() {
		t.Fatalf("failed trial: state %v", b.State())
	}
	// A trial that never reached the dependency frees the trial slot and
	// decides nothing.
	now = now.Add(2 * time.Second)
	if !b.Allow() {
		t.Fatal("no trial after the period")
	}
	b.Skip()
	if b.State() != HalfOpen {
		t.Fatalf("skipped trial: state %v", b.State())
	}
	if err := b.Do(ok); err != nil || b.State() != Closed {
		t.Fatalf("successful trial: %v, state %v", err, b.State())
	}
	if got := testutil.ToFloat64(m.state.WithLabelValues("redis")); got != float64(Closed) {
		t.Errorf("state metric %v", got)
	}
	want := `
# HELP reel_breaker_transitions_total Circuit breaker state changes, by name and the state entered.
# TYPE reel_breaker_transitions_total counter
reel_breaker_transitions_total{name="redis",to="closed"} 1
reel_breaker_transitions_total{name="redis",to="half-open"} 2
reel_breaker_transitions_total{name="redis",to="open"} 2
`
	if err := testutil.CollectAndCompare(m.transitions, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestBreakerConcurrent: under concurrent calls during an outage, only one
// trial at a time reaches the dependency once the period is over.
func TestBreakerConcurrent(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	b := New("x", Options{Failures: 1, OpenFor: time.Second, Now: clock})
	_ = b.Do(func() error { return errors.New("down") })
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	var allowed sync.WaitGroup
	var n int
	var nmu sync.Mutex
	for range 50 {
		allowed.Go(func() {
			if b.Allow() {
				nmu.Lock()
				n++
				nmu.Unlock()
			}
		})
	}
	allowed.Wait()
	if n != 1 {
		t.Errorf("%d trials allowed at once, want 1", n)
	}
}
