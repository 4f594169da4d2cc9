// Package testwait is the one way tests wait for a condition: poll it on a
// ticker until it holds, failing the test with what was awaited once the
// deadline passes. A test never sleeps for a guessed time instead.
package testwait

import (
	"testing"
	"time"
)

// For polls cond every interval until it holds, and fails t after d.
func For(t testing.TB, what string, d, interval time.Duration, cond func() bool) {
	t.Helper()
	if !Until(d, interval, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// Until polls cond every interval until it holds or d has passed, and
// reports whether it held: for a test that tries again when a wait fails.
func Until(d, interval time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}
