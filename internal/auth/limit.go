package auth

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Rule is a token bucket of login attempts: Burst attempts are allowed at
// once, and one more comes back every Every.
type Rule struct {
	Burst int
	Every time.Duration
}

// LimiterConfig configures a LoginLimiter. Zero fields take the defaults.
type LimiterConfig struct {
	// PerUsername slows guessing one account's password from many
	// addresses. Default: 5 failures, then one per minute.
	PerUsername Rule
	// PerAddress slows one client trying many accounts. Default: 20
	// failures, then one every 6 seconds.
	PerAddress Rule
	// MaxKeys bounds the number of addresses and usernames remembered.
	// Default: 100000.
	MaxKeys int
	// Now is the clock; tests replace it. Default: time.Now.
	Now func() time.Time
}

// maxNameLen caps how much of an address or username is remembered, so the
// memory bound holds whatever length clients send. Real usernames and
// addresses are shorter.
const maxNameLen = 64

// LoginLimiter limits failed logins per client address and per username. It
// is safe for concurrent use.
//
// Allow takes one token from both the address's and the username's bucket
// before the password is checked, so concurrent attempts cannot all slip
// through before any is counted. A failed attempt keeps what it took;
// Succeeded gives it back, so successful logins cost nobody anything.
//
// Only buckets that are not full are remembered, at most MaxKeys of them.
type LoginLimiter struct {
	cfg LimiterConfig

	mu sync.Mutex
	// full holds, for each bucket that is not full, when it will be full
	// again: a bucket of rule r full at f holds (r.Every*r.Burst - (f-now))
	// worth of tokens at now. Taking a token moves f an Every later;
	// a missing key is a full bucket.
	full map[limitKey]time.Time
}

type limitKey struct {
	username bool // else an address
	name     string
}

// NewLoginLimiter returns a LoginLimiter for cfg, with defaults for its zero
// fields.
func NewLoginLimiter(cfg LimiterConfig) *LoginLimiter {
	cfg.PerUsername = cfg.PerUsername.orDefault(Rule{Burst: 5, Every: time.Minute})
	cfg.PerAddress = cfg.PerAddress.orDefault(Rule{Burst: 20, Every: 6 * time.Second})
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 100_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &LoginLimiter{cfg: cfg, full: map[limitKey]time.Time{}}
}

// Allow reports whether a login for username from addr may be tried now and,
// if so, takes one token from the address's and the username's bucket
// together: the attempt counts as failed until Succeeded says otherwise. If
// either bucket is empty it takes nothing, and retryAfter is how long until
// both have a token, in whole seconds and at least one, ready for a
// Retry-After header.
func (l *LoginLimiter) Allow(addr, username string) (retryAfter time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	keys := limitKeys(addr, username)
	var wait time.Duration
	for _, k := range keys {
		if f, found := l.full[k]; found {
			r := l.rule(k)
			// A token is there once f is at most Burst-1 tokens away.
			wait = max(wait, f.Sub(now)-time.Duration(r.Burst-1)*r.Every)
		}
	}
	if wait > 0 {
		return ceilSeconds(wait), false
	}
	for _, k := range keys {
		f := l.full[k]
		if f.Before(now) {
			f = now
		}
		l.full[k] = f.Add(l.rule(k).Every)
	}
	if len(l.full) > l.cfg.MaxKeys {
		l.evict()
	}
	return 0, true
}

// Succeeded is called after the password of an attempt that Allow let
// through turned out right. It gives the address back the token the attempt
// took, and forgets the username's failures: its owner has proven who they
// are. The address keeps its earlier failures, or an attacker could log into
// their own account between guesses to reset them.
func (l *LoginLimiter) Succeeded(addr, username string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	for _, k := range limitKeys(addr, username) {
		f, found := l.full[k]
		if !found {
			continue
		}
		f = f.Add(-l.rule(k).Every) // the token this attempt took
		if k.username || !f.After(now) {
			delete(l.full, k)
		} else {
			l.full[k] = f
		}
	}
}

// Sweep forgets every address and username whose bucket has refilled, since
// they no longer limit anything. The server calls it periodically so memory
// follows the current rate of failures rather than its peak.
func (l *LoginLimiter) Sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	maps.DeleteFunc(l.full, func(_ limitKey, f time.Time) bool { return !f.After(now) })
}

// evict brings the map a tenth below MaxKeys, so that a flood of new keys
// pays for the sort once per many insertions. It forgets the buckets that
// will be full soonest: full ones first, then those whose limit matters for
// the shortest time, so a flood of fresh keys does not wipe out an account
// that many failures have locked.
func (l *LoginLimiter) evict() {
	keep := l.cfg.MaxKeys - l.cfg.MaxKeys/10
	fulls := slices.SortedFunc(maps.Values(l.full), time.Time.Compare)
	cutoff := fulls[len(fulls)-keep-1] // the latest of those to forget
	for k, f := range l.full {
		if len(l.full) <= keep {
			return
		}
		if !f.After(cutoff) {
			delete(l.full, k)
		}
	}
}

func (l *LoginLimiter) rule(k limitKey) Rule {
	if k.username {
		return l.cfg.PerUsername
	}
	return l.cfg.PerAddress
}

// limitKeys returns the buckets an attempt counts against. An empty address or
// username gets none: one shared bucket for every client whose address is
// unknown would let a single one of them lock out all the others.
func limitKeys(addr, username string) []limitKey {
	ks := make([]limitKey, 0, 2)
	if addr != "" {
		ks = append(ks, limitKey{name: addrKey(addr)})
	}
	if username != "" {
		// Usernames are unique case-insensitively, so "Alice" and "alice"
		// are the same account and share one budget.
		ks = append(ks, limitKey{username: true, name: truncate(strings.ToLower(username))})
	}
	return ks
}

// addrKey names the client behind addr. An IPv6 client is its /64: a single
// host usually owns the whole prefix and could otherwise take a fresh
// address, and a fresh budget, for every attempt.
func addrKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return truncate(addr)
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64) // cannot fail: 64 fits an IPv6 address
		return p.String()
	}
	return ip.String()
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

func (r Rule) orDefault(def Rule) Rule {
	if r.Burst <= 0 {
		r.Burst = def.Burst
	}
	if r.Every <= 0 {
		r.Every = def.Every
	}
	return r
}
