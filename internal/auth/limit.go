package auth

import (
	"context"
	"time"

	"github.com/reel-video/reel/internal/clientaddr"
	"github.com/reel-video/reel/internal/ratelimit"
	"github.com/reel-video/reel/internal/shared"
)

// Rate is a limit of at most N events in any window of length Per. The zero
// Rate (N == 0) is no limit at all.
type Rate = ratelimit.Rate

// MaxRateN bounds N: a limit above it is no limit, and each counted event
// costs memory while it is inside the window.
const MaxRateN = ratelimit.MaxRateN

// ParseRate reads "N/DURATION" (at most N in any DURATION, such as 20/1h or
// 5/15m) or "0" (off).
func ParseRate(s string) (Rate, error) { return ratelimit.ParseRate(s) }

// LimiterOptions are what NewLoginLimiter and NewSignupLimiter take besides
// their rates. Zero fields take the defaults.
type LimiterOptions struct {
	// Shared is the Redis the nodes share (nil: none). With it the limits
	// hold for the cluster: failures spread over nodes count together.
	// While it is unavailable each node counts in its own memory.
	Shared *shared.Redis
	// MaxEvents bounds the events remembered in memory, over all keys:
	// each costs a few bytes while it is inside its window. Default:
	// 1,000,000.
	MaxEvents int
	// Now is the clock; tests replace it. Default: time.Now.
	Now func() time.Time
}

func (o LimiterOptions) withDefaults() LimiterOptions {
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func (o LimiterOptions) windows() *ratelimit.FallbackWindows {
	return ratelimit.NewWindows(o.Shared, ratelimit.LocalOptions{MaxEvents: o.MaxEvents})
}

// maxNameLen caps how much of a username is remembered, so the memory bound
// holds whatever length clients send; a username key of 32 characters is at
// most 128 bytes (more only when folding expands it, rarely).
const maxNameLen = 160

// LoginLimiter limits failed logins per username and client address
// (REEL_LOGIN_LIMIT) and per client address (REEL_LOGIN_ADDR_LIMIT). There
// is deliberately no limit per username alone: failures against an account
// from other addresses never touch the budget of its owner's address, so
// nobody can lock anyone else out. One address guessing one account hits
// the pair limit; one address spraying many accounts hits the address
// limit; many addresses cost the attacker one budget each, and an argon2 run
// per guess.
//
// Allow counts an attempt before the password is checked, so concurrent
// attempts cannot all slip through before any is counted; Succeeded takes a
// successful one back. It is safe for concurrent use. The windows are on
// Redis when LimiterOptions.Shared is set (package ratelimit), so that the
// limits hold for the cluster.
type LoginLimiter struct {
	w          *ratelimit.FallbackWindows
	pair, addr Rate
	opts       LimiterOptions
}

// Attempt is a login attempt that LoginLimiter.Allow counted.
type Attempt struct {
	pair, addr string // window keys; "" when that limit is off
	ev         ratelimit.Event
}

// NewLoginLimiter returns a LoginLimiter allowing perPair failures per
// username and address and perAddr failures per address.
func NewLoginLimiter(perPair, perAddr Rate, opts LimiterOptions) *LoginLimiter {
	opts = opts.withDefaults()
	return &LoginLimiter{w: opts.windows(), pair: perPair, addr: perAddr, opts: opts}
}

// Allow reports whether a login for the user with usernameKey (see
// reel.UsernameKey) from addr may be tried now and, if so, counts it as a
// failure until Succeeded says otherwise. If either limit is reached it
// counts nothing, and retryAfter is how long until both allow an attempt, in
// whole seconds and at least one, ready for a Retry-After header.
func (l *LoginLimiter) Allow(ctx context.Context, addr, usernameKey string) (a Attempt, retryAfter time.Duration, ok bool) {
	key := clientaddr.Key(addr)
	// A client whose address is unknown is not limited: one budget shared
	// by all such clients would let any of them lock out the rest.
	if key == "" {
		return Attempt{}, 0, true
	}
	var keys []ratelimit.Keyed
	if !l.pair.Off() {
		a.pair = "login:pair:" + truncate(usernameKey) + "\x00" + key
		keys = append(keys, ratelimit.Keyed{Key: a.pair, Rate: l.pair})
	}
	if !l.addr.Off() {
		a.addr = "login:addr:" + key
		keys = append(keys, ratelimit.Keyed{Key: a.addr, Rate: l.addr})
	}
	if len(keys) == 0 {
		return Attempt{}, 0, true
	}
	ev, wait, _ := l.w.Take(ctx, l.opts.Now(), keys...) // the fallback never fails
	if wait > 0 {
		return Attempt{}, ceilSeconds(wait), false
	}
	a.ev = ev
	return a, 0, true
}

// Succeeded is called when the password of an attempt that Allow let
// through turned out right. The address gets back what this attempt took,
// and the pair forgets its failures: the owner has proven who they are on
// this address. The address keeps its other failures, or an attacker could
// sign in to their own account between guesses to reset them.
func (l *LoginLimiter) Succeeded(ctx context.Context, a Attempt) {
	// A client that hangs up now has still proven its password.
	ctx = context.WithoutCancel(ctx)
	if a.addr != "" {
		_ = l.w.Remove(ctx, a.addr, a.ev)
	}
	if a.pair != "" {
		_ = l.w.Forget(ctx, a.pair)
	}
}

// Cancel takes back an attempt that was never judged because the server
// failed (the store or the hasher): it is no failure of the client's.
func (l *LoginLimiter) Cancel(ctx context.Context, a Attempt) {
	ctx = context.WithoutCancel(ctx) // the server's failure, whatever the client does
	for _, k := range []string{a.addr, a.pair} {
		if k != "" {
			_ = l.w.Remove(ctx, k, a.ev)
		}
	}
}

// Sweep forgets the events that left their windows in memory. The server
// calls it periodically so memory follows the current rate of failures,
// not its peak (Redis expires its keys itself).
func (l *LoginLimiter) Sweep() { l.w.Sweep(l.opts.Now()) }

// SignupLimiter limits sign-ups per client address (REEL_SIGNUP_LIMIT).
type SignupLimiter struct {
	w    *ratelimit.FallbackWindows
	rate Rate
	opts LimiterOptions
}

// Signup is a sign-up that SignupLimiter.Allow counted.
type Signup struct {
	key string // "" when nothing was counted
	ev  ratelimit.Event
}

// NewSignupLimiter returns a SignupLimiter allowing perAddr sign-ups per
// client address.
func NewSignupLimiter(perAddr Rate, opts LimiterOptions) *SignupLimiter {
	opts = opts.withDefaults()
	return &SignupLimiter{w: opts.windows(), rate: perAddr, opts: opts}
}

// Allow counts a sign-up from addr, or reports how long until one is
// allowed (whole seconds, at least one).
func (l *SignupLimiter) Allow(ctx context.Context, addr string) (s Signup, retryAfter time.Duration, ok bool) {
	key := clientaddr.Key(addr)
	if key == "" || l.rate.Off() { // unknown addresses: see LoginLimiter.Allow
		return Signup{}, 0, true
	}
	s.key = "signup:" + key
	ev, wait, _ := l.w.Take(ctx, l.opts.Now(), ratelimit.Keyed{Key: s.key, Rate: l.rate})
	if wait > 0 {
		return Signup{}, ceilSeconds(wait), false
	}
	s.ev = ev
	return s, 0, true
}

// Undo takes back a sign-up that the server could not carry out for reasons
// of its own (too busy to hash the password).
func (l *SignupLimiter) Undo(ctx context.Context, s Signup) {
	if s.key != "" {
		_ = l.w.Remove(context.WithoutCancel(ctx), s.key, s.ev)
	}
}

// Sweep forgets the sign-ups that left their windows.
func (l *SignupLimiter) Sweep() { l.w.Sweep(l.opts.Now()) }

func truncate(s string) string {
	if len(s) > maxNameLen {
		return s[:maxNameLen]
	}
	return s
}

// ceilSeconds rounds d up to whole seconds, at least one: Retry-After counts
// seconds, and rounding down would invite a retry that is refused again.
func ceilSeconds(d time.Duration) time.Duration {
	s := d.Truncate(time.Second)
	if s < d {
		s += time.Second
	}
	return max(s, time.Second)
}
