package auth

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reel-video/reel/internal/clientaddr"
)

// Rate is a limit of at most N events in any window of length Per. The zero
// Rate (N == 0) is no limit at all.
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

// MaxRateN bounds N: a limit above it is no limit, and each counted event
// costs memory while it is inside the window.
const MaxRateN = 1_000_000

// ParseRate reads "N/DURATION" (at most N in any DURATION, such as 20/1h or
// 5/15m) or "0" (off). N is 1 to MaxRateN and DURATION a positive Go
// duration; anything else is an error that says what is expected.
func ParseRate(s string) (Rate, error) {
	if strings.TrimSpace(s) == "0" {
		return Rate{}, nil
	}
	want := errors.New("must be N/DURATION, such as 20/1h (at most 20 in any hour), or 0 for no limit")
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
	if d <= 0 {
		return Rate{}, errors.New("must have a positive DURATION in N/DURATION")
	}
	return Rate{N: count, Per: d}, nil
}

// LimiterOptions are what NewLoginLimiter and NewSignupLimiter take besides
// their rates. Zero fields take the defaults.
type LimiterOptions struct {
	// MaxEvents bounds the events remembered, over all keys: each costs a
	// few bytes while it is inside its window. Default: 1,000,000.
	MaxEvents int
	// Now is the clock; tests replace it. Default: time.Now.
	Now func() time.Time
}

func (o LimiterOptions) withDefaults() LimiterOptions {
	if o.MaxEvents <= 0 {
		o.MaxEvents = 1_000_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
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
// successful one back. It is safe for concurrent use.
type LoginLimiter struct {
	mu   sync.Mutex
	pair *window // key: username key, NUL, address key
	addr *window // key: address key
	opts LimiterOptions
}

// Attempt is a login attempt that LoginLimiter.Allow counted.
type Attempt struct {
	pair, addr string
	at         time.Time
}

// NewLoginLimiter returns a LoginLimiter allowing perPair failures per
// username and address and perAddr failures per address.
func NewLoginLimiter(perPair, perAddr Rate, opts LimiterOptions) *LoginLimiter {
	opts = opts.withDefaults()
	return &LoginLimiter{pair: newWindow(perPair), addr: newWindow(perAddr), opts: opts}
}

// Allow reports whether a login for the user with usernameKey (see
// reel.UsernameKey) from addr may be tried now and, if so, counts it as a
// failure until Succeeded says otherwise. If either limit is reached it
// counts nothing, and retryAfter is how long until both allow an attempt, in
// whole seconds and at least one, ready for a Retry-After header.
func (l *LoginLimiter) Allow(addr, usernameKey string) (a Attempt, retryAfter time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a = Attempt{addr: clientaddr.Key(addr), at: l.opts.Now()}
	if a.addr != "" {
		a.pair = truncate(usernameKey) + "\x00" + a.addr
	}
	if wait := max(l.pair.wait(a.pair, a.at), l.addr.wait(a.addr, a.at)); wait > 0 {
		return Attempt{}, ceilSeconds(wait), false
	}
	l.pair.add(a.pair, a.at)
	l.addr.add(a.addr, a.at)
	l.bound()
	return a, 0, true
}

// Succeeded is called when the password of an attempt that Allow let
// through turned out right. The address gets back what this attempt took,
// and the pair forgets its failures: the owner has proven who they are on
// this address. The address keeps its other failures, or an attacker could
// sign in to their own account between guesses to reset them.
func (l *LoginLimiter) Succeeded(a Attempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addr.remove(a.addr, a.at)
	l.pair.forget(a.pair)
}

// Cancel takes back an attempt that was never judged because the server
// failed (the store or the hasher): it is no failure of the client's.
func (l *LoginLimiter) Cancel(a Attempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addr.remove(a.addr, a.at)
	l.pair.remove(a.pair, a.at)
}

// Sweep forgets the events that left their windows. The server calls it
// periodically so memory follows the current rate of failures, not its peak.
func (l *LoginLimiter) Sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	l.pair.sweep(now)
	l.addr.sweep(now)
}

func (l *LoginLimiter) bound() {
	if l.pair.total+l.addr.total <= l.opts.MaxEvents {
		return
	}
	now := l.opts.Now()
	l.pair.sweep(now)
	l.addr.sweep(now)
	// Still over: each window gives up its stalest keys until the two hold
	// a tenth less than the bound, so a flood pays for the sort rarely.
	keep := l.opts.MaxEvents - l.opts.MaxEvents/10
	l.pair.evict(keep / 2)
	l.addr.evict(keep - l.pair.total)
}

// SignupLimiter limits sign-ups per client address (REEL_SIGNUP_LIMIT).
type SignupLimiter struct {
	mu   sync.Mutex
	w    *window
	opts LimiterOptions
}

// Signup is a sign-up that SignupLimiter.Allow counted.
type Signup struct {
	addr string
	at   time.Time
}

// NewSignupLimiter returns a SignupLimiter allowing perAddr sign-ups per
// client address.
func NewSignupLimiter(perAddr Rate, opts LimiterOptions) *SignupLimiter {
	return &SignupLimiter{w: newWindow(perAddr), opts: opts.withDefaults()}
}

// Allow counts a sign-up from addr, or reports how long until one is
// allowed (whole seconds, at least one).
func (l *SignupLimiter) Allow(addr string) (s Signup, retryAfter time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s = Signup{addr: clientaddr.Key(addr), at: l.opts.Now()}
	if wait := l.w.wait(s.addr, s.at); wait > 0 {
		return Signup{}, ceilSeconds(wait), false
	}
	l.w.add(s.addr, s.at)
	if l.w.total > l.opts.MaxEvents {
		l.w.sweep(s.at)
		l.w.evict(l.opts.MaxEvents - l.opts.MaxEvents/10)
	}
	return s, 0, true
}

// Undo takes back a sign-up that the server could not carry out for reasons
// of its own (too busy to hash the password).
func (l *SignupLimiter) Undo(s Signup) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.remove(s.addr, s.at)
}

// Sweep forgets the sign-ups that left their windows.
func (l *SignupLimiter) Sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.sweep(l.opts.Now())
}

// window is a sliding-window log: for each key, the times of its events
// still inside the window, oldest first. A new event is allowed while fewer
// than rate.N are inside (now-rate.Per, now], which is exactly "at most N in
// any Per" (a token bucket would allow bursts of up to 2N). The owner locks.
type window struct {
	rate   Rate
	events map[string][]time.Time
	total  int
}

func newWindow(r Rate) *window { return &window{rate: r, events: map[string][]time.Time{}} }

// wait returns how long until key may have another event; 0 means now.
// The empty key, a client whose address is unknown, is not limited: one
// budget shared by all such clients would let any of them lock out the rest.
func (w *window) wait(key string, now time.Time) time.Duration {
	if w.rate.Off() || key == "" {
		return 0
	}
	ev := w.prune(key, now)
	if len(ev) < w.rate.N {
		return 0
	}
	// The event that must leave the window for one more to fit.
	return max(ev[len(ev)-w.rate.N].Add(w.rate.Per).Sub(now), time.Nanosecond)
}

func (w *window) add(key string, at time.Time) {
	if w.rate.Off() || key == "" {
		return
	}
	w.events[key] = append(w.events[key], at)
	w.total++
}

// remove takes back one event of key at exactly at, if it is still there.
func (w *window) remove(key string, at time.Time) {
	ev := w.events[key]
	for i := len(ev) - 1; i >= 0; i-- {
		if ev[i].Equal(at) {
			w.set(key, slices.Delete(ev, i, i+1))
			return
		}
	}
}

func (w *window) forget(key string) { w.set(key, nil) }

// prune drops the events of key that left the window and returns the rest.
func (w *window) prune(key string, now time.Time) []time.Time {
	ev := w.events[key]
	cut := now.Add(-w.rate.Per)
	i := 0
	for i < len(ev) && !ev[i].After(cut) {
		i++
	}
	if i > 0 {
		ev = ev[i:]
		w.set(key, ev)
	}
	return ev
}

// set replaces the events of key, keeping total and dropping empty keys.
func (w *window) set(key string, ev []time.Time) {
	w.total += len(ev) - len(w.events[key])
	if len(ev) == 0 {
		delete(w.events, key)
		return
	}
	w.events[key] = ev
}

func (w *window) sweep(now time.Time) {
	for key := range w.events {
		w.prune(key, now)
	}
}

// evict forgets whole keys, those whose latest event is oldest first, until
// at most keep events remain: they are the ones nearest to being allowed
// anyway, so a flood of fresh keys does not wipe out an address that many
// failures have just limited.
func (w *window) evict(keep int) {
	if w.total <= keep {
		return
	}
	keys := slices.SortedFunc(maps.Keys(w.events), func(a, b string) int {
		ea, eb := w.events[a], w.events[b]
		return ea[len(ea)-1].Compare(eb[len(eb)-1])
	})
	for _, k := range keys {
		if w.total <= keep {
			return
		}
		w.forget(k)
	}
}

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
