// Package ratelimit counts requests against limits that hold for the whole
// cluster when the nodes share a Redis (REEL_REDIS_URL) and for each node
// otherwise. It has two kinds of limit, each one interface with an
// in-process and a Redis implementation behind a fallback that uses the
// in-process one while Redis is unavailable (shared.ErrUnavailable):
//
//   - Buckets: token buckets for the API budgets (reads, writes, uploads),
//     where bursts are welcome and only the sustained rate matters;
//   - Windows: sliding-window logs for sign-ups and failed logins, where
//     "at most N in any DURATION" must hold exactly (a bucket would allow
//     up to 2N in one window).
package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is N events per Per. For a window it is at most N in any Per; for a
// bucket, a bucket of N tokens that refills at N per Per. The zero Rate
// (N == 0) is no limit at all.
type Rate struct {
	N   int
	Per time.Duration
}

// Off reports whether r limits nothing.
func (r Rate) Off() bool { return r.N == 0 }

// String writes r the way ParseRate reads it.
func (r Rate) String() string {
	if r.Off() {
		return "0"
	}
	return strconv.Itoa(r.N) + "/" + r.Per.String()
}

// MaxRateN bounds N: a limit above it is no limit, and each event a window
// counts costs memory while it is inside the window.
const MaxRateN = 1_000_000

// MinRatePer is the shortest DURATION a rate may have.
const MinRatePer = time.Second

// ParseRate reads "N/DURATION" (such as 20/1h or 5/15m) or "0" (off). N is
// 1 to MaxRateN and DURATION a Go duration of at least MinRatePer;
// anything else is an error that says what is expected.
func ParseRate(s string) (Rate, error) {
	if strings.TrimSpace(s) == "0" {
		return Rate{}, nil
	}
	want := errors.New("must be N/DURATION, such as 20/1h (20 per hour), or 0 for no limit")
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, want
	}
	count, err := strconv.Atoi(n)
	if err != nil {
		return Rate{}, want
	}
	if count < 1 || count > MaxRateN {
		if count == 0 {
			return Rate{}, errors.New("must have N of at least 1 in N/DURATION; write 0 alone for no limit")
		}
		return Rate{}, fmt.Errorf("must have N from 1 to %d in N/DURATION", MaxRateN)
	}
	d, err := time.ParseDuration(per)
	if err != nil {
		return Rate{}, want
	}
	if d < MinRatePer {
		// Shorter windows are no limit worth the name, and the Redis
		// scripts count in microseconds: 20/1ns would be a window of 0.
		return Rate{}, fmt.Errorf("must have a DURATION of at least %v in N/DURATION", MinRatePer)
	}
	return Rate{N: count, Per: d}, nil
}
