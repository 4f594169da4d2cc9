package auth

import (
	"container/list"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rule is a token bucket of failed logins: Burst failures are allowed at
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

// maxKeyLen caps how much of an address or username is remembered, so the
// memory bound holds whatever length clients send. Real usernames and
// addresses are shorter.
const maxNameLen = 64

// LoginLimiter counts failed logins per client address and per username and
// says when to refuse the next attempt. It only ever remembers failures, so
// ordinary users cost nothing; its memory is bounded by MaxKeys. It is safe
// for concurrent use.
//
// Allow does not reserve anything: concurrent attempts that all pass Allow
// before any of them fails each get through. The password hasher's slots
// bound how many that can be.
type LoginLimiter struct {
	cfg LimiterConfig

	mu      sync.Mutex
	entries map[limitKey]*list.Element // values are *limitEntry
	recent  *list.List                 // most recently failed at the front
}

type limitKey struct {
	username bool // else an address
	name     string
}

type limitEntry struct {
	key    limitKey
	bucket *rate.Limiter
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
	return &LoginLimiter{cfg: cfg, entries: map[limitKey]*list.Element{}, recent: list.New()}
}

// Allow reports whether a login for username from addr may be tried now,
// without counting it. When not, retryAfter is how long until it may, in
// whole seconds and at least one, ready for a Retry-After header.
func (l *LoginLimiter) Allow(addr, username string) (retryAfter time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	var wait time.Duration
	for _, k := range limitKeys(addr, username) {
		if el, found := l.entries[k]; found {
			wait = max(wait, untilToken(el.Value.(*limitEntry).bucket, now))
		}
	}
	if wait <= 0 {
		return 0, true
	}
	return ceilSeconds(wait), false
}

// Failed counts a failed login against both the address and the username.
func (l *LoginLimiter) Failed(addr, username string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	for _, k := range limitKeys(addr, username) {
		l.touch(k).bucket.AllowN(now, 1)
	}
	if len(l.entries) > l.cfg.MaxKeys {
		l.shrink(now)
	}
}

// Succeeded forgets the username's failures: its owner has proven who they
// are. The address keeps its count, or an attacker could log into their own
// account between guesses to reset it.
func (l *LoginLimiter) Succeeded(addr, username string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range limitKeys(addr, username) {
		if k.username {
			l.remove(k)
		}
	}
}

// Sweep forgets every address and username whose bucket has refilled, since
// they no longer limit anything. The server calls it periodically so memory
// follows the current rate of failures rather than its peak.
func (l *LoginLimiter) Sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropFull(l.cfg.Now())
}

// touch returns the entry for k, creating it with a full bucket, and marks
// it as the most recently failed.
func (l *LoginLimiter) touch(k limitKey) *limitEntry {
	if el, found := l.entries[k]; found {
		l.recent.MoveToFront(el)
		return el.Value.(*limitEntry)
	}
	r := l.cfg.PerAddress
	if k.username {
		r = l.cfg.PerUsername
	}
	e := &limitEntry{key: k, bucket: rate.NewLimiter(rate.Every(r.Every), r.Burst)}
	l.entries[k] = l.recent.PushFront(e)
	return e
}

// shrink brings the map back under MaxKeys: first by dropping full buckets,
// which carry no information, then the least recently failed. It goes a tenth
// below the bound so that a flood of new keys pays for the scan once per many
// insertions, not on each.
func (l *LoginLimiter) shrink(now time.Time) {
	l.dropFull(now)
	target := l.cfg.MaxKeys - l.cfg.MaxKeys/10
	for len(l.entries) > target {
		l.remove(l.recent.Back().Value.(*limitEntry).key)
	}
}

func (l *LoginLimiter) dropFull(now time.Time) {
	for el := l.recent.Front(); el != nil; {
		next := el.Next()
		e := el.Value.(*limitEntry)
		if e.bucket.TokensAt(now) >= float64(e.bucket.Burst()) {
			l.remove(e.key)
		}
		el = next
	}
}

func (l *LoginLimiter) remove(k limitKey) {
	if el, found := l.entries[k]; found {
		l.recent.Remove(el)
		delete(l.entries, k)
	}
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

// untilToken returns how long until bucket holds a whole token again.
func untilToken(bucket *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - bucket.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(bucket.Limit()) * float64(time.Second))
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
