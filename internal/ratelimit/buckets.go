package ratelimit

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/time/rate"

	"github.com/reel-video/reel/internal/shared"
)

// Buckets is a store of token buckets: key's bucket holds up to r.N tokens
// and refills at r.N per r.Per, and each Take spends one. Callers prefix
// keys with their budget, so one store holds every budget of a process.
type Buckets interface {
	Take(ctx context.Context, at time.Time, key string, r Rate) (Result, error)
}

// Result is the state of a bucket after a Take.
type Result struct {
	Allowed bool
	// Remaining is how many more Takes the bucket allows now.
	Remaining int
	// RetryAfter is how long until a refused Take would be allowed (0 when
	// this one was).
	RetryAfter time.Duration
	// Reset is how long until the bucket is full again.
	Reset time.Duration
}

// NewBuckets returns the buckets of this node: on Redis while it is
// available (r non-nil), else in this process.
func NewBuckets(r *shared.Redis, opts LocalOptions) *FallbackBuckets {
	return &FallbackBuckets{Local: NewLocalBuckets(opts), Redis: &RedisBuckets{R: r}}
}

// FallbackBuckets uses Redis and, while it is unavailable, the local
// buckets: during an outage each node limits on its own, so a client may
// get up to one budget per node, and none of its requests fails.
type FallbackBuckets struct {
	Local *LocalBuckets
	Redis *RedisBuckets
}

// Take spends on Redis, or locally when Redis did not answer
// (shared.ErrUnavailable; any other error is treated the same rather than
// failing the request). It never fails.
func (f *FallbackBuckets) Take(ctx context.Context, at time.Time, key string, r Rate) (Result, error) {
	res, err := f.Redis.Take(ctx, at, key, r)
	if err != nil {
		return f.Local.Take(ctx, at, key, r)
	}
	return res, nil
}

// LocalBuckets keeps the buckets in this process, at most MaxKeys of them
// (an otter cache: the busiest stay). A bucket unused for its Per is full
// again, so it expires then; one evicted earlier comes back full, which
// only ever errs towards allowing.
type LocalBuckets struct {
	cache *otter.Cache[string, *localBucket]
}

type localBucket struct {
	lim *rate.Limiter
	per time.Duration
}

// NewLocalBuckets returns an empty in-process store.
func NewLocalBuckets(opts LocalOptions) *LocalBuckets {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 100_000
	}
	return &LocalBuckets{cache: otter.Must(&otter.Options[string, *localBucket]{
		MaximumSize: opts.MaxKeys,
		ExpiryCalculator: otter.ExpiryAccessingFunc(func(e otter.Entry[string, *localBucket]) time.Duration {
			return e.Value.per
		}),
	})}
}

func (l *LocalBuckets) Take(_ context.Context, at time.Time, key string, r Rate) (Result, error) {
	interval := r.Per / time.Duration(r.N)
	b, _ := l.cache.ComputeIfAbsent(key, func() (*localBucket, bool) {
		return &localBucket{lim: rate.NewLimiter(rate.Every(interval), r.N), per: r.Per}, false
	})
	// AllowN spends nothing when it refuses (a reservation taken and
	// cancelled would hold the token meanwhile from concurrent requests).
	if !b.lim.AllowN(at, 1) {
		missing := 1 - b.lim.TokensAt(at)
		return Result{RetryAfter: max(time.Duration(missing*float64(interval)), time.Nanosecond),
			Reset: fullIn(b.lim, at, r.N, interval)}, nil
	}
	return Result{Allowed: true, Remaining: max(int(math.Floor(b.lim.TokensAt(at))), 0),
		Reset: fullIn(b.lim, at, r.N, interval)}, nil
}

// fullIn is how long until lim holds n tokens again.
func fullIn(lim *rate.Limiter, at time.Time, n int, interval time.Duration) time.Duration {
	return time.Duration((float64(n) - lim.TokensAt(at)) * float64(interval))
}

// RedisBuckets keeps the buckets on Redis as GCRA (the generic cell rate
// algorithm, a token bucket stored as one time: when the bucket will be
// full again), one key per bucket, so that every node spends from the same
// buckets. Times are the nodes' clocks, as for RedisWindows.
//
// A node has at most one call in flight per bucket: the Takes of one key
// that arrive meanwhile (one client's concurrent requests) wait for it and
// then go together, as one call that takes as many tokens as there are
// Takes and answers how many it could. A busy client costs Redis one call
// per round trip rather than one per request, and every token is still
// spent on Redis, where every node sees it.
//
// A call for a bucket far from empty also leases a few tokens more (see
// leaseOf), which the node then spends without asking Redis until they
// run out or a second passes; once half of them are spent, a call in the
// background tops the lease up again, so that a busy client's requests
// do not wait for Redis at all. Leased tokens are spent on Redis like the
// others, so the cluster never allows more than the limit; a token leased
// and then not used (its client went on to another node) is lost to its
// client, which may thus be refused at most a lease per node early. Near
// the limit, when it matters, nothing is leased and every token is taken
// as it is asked for.
type RedisBuckets struct {
	R *shared.Redis

	mu     sync.Mutex
	busy   map[string]*takeGroup // key → the Takes waiting for its call in flight (nil: none wait)
	leases map[string]*lease
}

// lease is tokens of a bucket that Redis gave this node ahead of its Takes.
type lease struct {
	r      Rate
	n      int       // tokens left
	until  time.Time // unused tokens are dropped then
	bucket int       // what the bucket on Redis held after the lease
	reset  time.Duration
	dry    bool // the last top-up got nothing (the bucket is under half): no more until a call leases again
}

// leaseFor is how long a node holds leased tokens: short, so that tokens
// a client's requests stop using return to its other nodes' Takes soon.
const leaseFor = time.Second

// leaseOf is how many tokens a call may lease beyond those asked for: a
// 64th of the bucket, at most 32 or, for a bucket that refills faster,
// what it refills in leaseRefill; none for buckets under 64 (logins,
// uploads: each token counts), and only while the bucket stays at least
// half full (the script checks). A lease thus costs a client that leaves
// the node at most 32 tokens or leaseRefill of its budget, and a client
// as busy as its budget allows still finds tokens here while a top-up is
// on its way.
func leaseOf(r Rate) int {
	refill := int(int64(r.N) * int64(leaseRefill) / int64(max(r.Per, 1)))
	return min(r.N/64, max(32, refill))
}

// leaseRefill bounds the leases of fast buckets: this much of their refill.
const leaseRefill = 10 * time.Millisecond

// maxLeases bounds the leases kept before the expired ones are swept.
const maxLeases = 4096

// takeGroup is the Takes of one key that go to Redis together.
type takeGroup struct {
	at   time.Time // the first one's
	r    Rate
	n    int
	done chan struct{}
	// Set before done closes:
	allowed int
	res     Result // of the last token taken, or of the refusal
	err     error
}

// bucketPrefix starts the keys of the buckets on Redis.
const bucketPrefix = shared.Prefix + "bucket:"

// gcraScript takes up to ARGV[4] tokens, and when it got them all up to
// ARGV[5] more as a lease, as long as the bucket stays at least half full.
// KEYS[1] is the bucket; ARGV the time, Per (both µs) and N. The key holds
// the theoretical arrival time (tat) of the next token: the bucket is full
// when tat <= now, and j tokens can be taken while tat + j*interval - Per
// <= now. It returns how many were taken, how many leased, the remaining,
// the retry after of the next token (0 when all asked for were taken) and
// the reset (µs).
var gcraScript = shared.NewScript(`
local now = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local extra = tonumber(ARGV[5])
local interval = per / n
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local avail = math.floor((now + per - tat) / interval)
local j = math.max(0, math.min(avail, want))
local e = 0
if j == want then e = math.max(0, math.min(extra, avail - j - math.ceil(n / 2))) end
local new_tat = tat + (j + e) * interval
local retry = 0
if j < want then retry = math.ceil(new_tat + interval - per - now) end
if j + e > 0 then
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
end
return {j, e, math.max(0, math.floor((now - (new_tat - per)) / interval)), retry, math.ceil(new_tat - now)}
`)

func (b *RedisBuckets) Take(ctx context.Context, at time.Time, key string, r Rate) (Result, error) {
	if !b.R.Available() {
		// No Redis, or its breaker is open: nothing to wait for.
		return Result{}, shared.ErrUnavailable
	}
	b.mu.Lock()
	if l := b.liveLease(key, r, at); l != nil {
		l.n--
		res := Result{Allowed: true, Remaining: l.bucket + l.n, Reset: l.reset}
		// Half spent: top it up in the background, so that a busy
		// client's Takes keep finding tokens here instead of waiting for
		// Redis each time the lease runs out.
		topUp := !l.dry && l.n <= leaseOf(r)/2 && b.startCall(key)
		b.mu.Unlock()
		if topUp {
			go b.send(key, &takeGroup{at: at, r: r})
		}
		return res, nil
	}
	if b.startCall(key) {
		// No call was in flight: this Take goes alone, now.
		b.mu.Unlock()
		g := &takeGroup{at: at, r: r, n: 1}
		b.send(key, g)
		return g.result(0)
	}
	waiting := b.busy[key]
	if waiting == nil {
		waiting = &takeGroup{at: at, r: r, done: make(chan struct{})}
		b.busy[key] = waiting
	}
	i := waiting.n
	waiting.n++
	b.mu.Unlock()
	select {
	case <-waiting.done:
		return waiting.result(i)
	case <-ctx.Done():
		// Its token may still be taken with the others': that errs
		// towards limiting, never past the limit.
		return Result{}, ctx.Err()
	}
}

// startCall marks a call in flight for key, with no Takes waiting for the
// next one yet, unless a call is in flight already (b.mu held).
func (b *RedisBuckets) startCall(key string) bool {
	if _, inFlight := b.busy[key]; inFlight {
		return false
	}
	if b.busy == nil {
		b.busy = map[string]*takeGroup{}
	}
	b.busy[key] = nil
	return true
}

// send takes g's tokens in one call, then starts the group that gathered
// meanwhile, if any, or marks the key idle.
func (b *RedisBuckets) send(key string, g *takeGroup) {
	// The call is the node's, not one request's: a caller going away must
	// not fail the others waiting on it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	// What the lease lacks, so that it never holds more than leaseOf.
	extra := leaseOf(g.r)
	b.mu.Lock()
	if l := b.liveLease(key, g.r, g.at); l != nil {
		extra -= l.n
	}
	b.mu.Unlock()
	var leased int
	g.allowed, leased, g.res, g.err = b.take(ctx, g.at, key, g.r, g.n, max(extra, 0))
	cancel()
	b.mu.Lock()
	defer b.mu.Unlock()
	if g.err == nil {
		// What is left of the lease goes on with the new tokens; either
		// way it now counts from this bucket.
		l := b.liveLease(key, g.r, g.at)
		if l == nil && leased > 0 {
			l = &lease{r: g.r}
			b.keepLease(key, g.at, l)
		}
		if l != nil {
			l.n += leased
			l.bucket, l.reset = g.res.Remaining, g.res.Reset
			if leased > 0 {
				l.until = g.at.Add(leaseFor)
			}
			l.dry = leased == 0 && g.n == 0
			g.res.Remaining += l.n // the client's: on Redis and in the lease
		}
	}
	if g.done != nil {
		close(g.done)
	}
	next := b.busy[key]
	if next != nil {
		// The Takes that queued while the lease ran dry during a top-up:
		// served from the lease it brought when it covers them all.
		if l := b.liveLease(key, next.r, next.at); l != nil && l.n >= next.n {
			l.n -= next.n
			next.allowed = next.n
			next.res = Result{Remaining: l.bucket + l.n, Reset: l.reset}
			close(next.done)
			next = nil
		}
	}
	if next == nil {
		delete(b.busy, key)
		return
	}
	b.busy[key] = nil // in flight again, nothing waiting yet
	go b.send(key, next)
}

// result is what the i-th Take of the group gets: the first ones the
// tokens taken, the rest a refusal, each as if they had gone one by one.
func (g *takeGroup) result(i int) (Result, error) {
	if g.err != nil {
		return Result{}, g.err
	}
	interval := g.r.Per / time.Duration(g.r.N)
	if i < g.allowed {
		return Result{Allowed: true, Remaining: g.res.Remaining + g.allowed - 1 - i, Reset: g.res.Reset}, nil
	}
	return Result{RetryAfter: g.res.RetryAfter + time.Duration(i-g.allowed)*interval, Reset: g.res.Reset}, nil
}

// liveLease is key's lease for r at now, if one holds tokens (b.mu held).
func (b *RedisBuckets) liveLease(key string, r Rate, now time.Time) *lease {
	if l := b.leases[key]; l != nil && l.n > 0 && l.r == r && now.Before(l.until) {
		return l
	}
	return nil
}

// keepLease keeps l as key's lease (b.mu held), sweeping the leases spent
// or expired at now when there are many.
func (b *RedisBuckets) keepLease(key string, now time.Time, l *lease) {
	if b.leases == nil {
		b.leases = map[string]*lease{}
	}
	if len(b.leases) >= maxLeases {
		for k, old := range b.leases {
			if old.n == 0 || !now.Before(old.until) {
				delete(b.leases, k)
			}
		}
	}
	b.leases[key] = l
}

// take runs the script for n tokens and up to extra leased: how many it
// took, how many it leased, and the bucket after.
func (b *RedisBuckets) take(ctx context.Context, at time.Time, key string, r Rate, n, extra int) (int, int, Result, error) {
	cmd, err := b.R.RunScript(ctx, gcraScript, []string{bucketPrefix + key}, at.UnixMicro(), r.Per.Microseconds(), r.N, n, extra)
	if err != nil {
		return 0, 0, Result{}, err
	}
	v, err := cmd.Int64Slice()
	if err != nil {
		return 0, 0, Result{}, err
	}
	if len(v) != 5 {
		return 0, 0, Result{}, errors.New("ratelimit: unexpected answer of the bucket script")
	}
	return int(v[0]), int(v[1]), Result{Remaining: int(v[2]), RetryAfter: time.Duration(v[3]) * time.Microsecond,
		Reset: time.Duration(v[4]) * time.Microsecond}, nil
}
