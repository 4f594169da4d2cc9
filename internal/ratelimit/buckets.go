package ratelimit

import (
	"context"
	"errors"
	"math"
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
type RedisBuckets struct {
	R *shared.Redis
}

// bucketPrefix starts the keys of the buckets on Redis.
const bucketPrefix = shared.Prefix + "bucket:"

// gcraScript takes one token. KEYS[1] is the bucket; ARGV the time, Per
// (both µs) and N. The key holds the theoretical arrival time (tat) of the
// next token: the bucket is full when tat <= now, and a Take is allowed
// while tat + interval - Per <= now. It returns allowed (0/1), remaining,
// retry after and reset (µs).
var gcraScript = shared.NewScript(`
local now = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local interval = per / n
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - per
if now < allow_at then
  return {0, 0, math.ceil(allow_at - now), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / interval), 0, math.ceil(new_tat - now)}
`)

func (b *RedisBuckets) Take(ctx context.Context, at time.Time, key string, r Rate) (Result, error) {
	cmd, err := b.R.RunScript(ctx, gcraScript, []string{bucketPrefix + key}, at.UnixMicro(), r.Per.Microseconds(), r.N)
	if err != nil {
		return Result{}, err
	}
	v, err := cmd.Int64Slice()
	if err != nil {
		return Result{}, err
	}
	if len(v) != 4 {
		return Result{}, errors.New("ratelimit: unexpected answer of the bucket script")
	}
	return Result{Allowed: v[0] == 1, Remaining: int(v[1]), RetryAfter: time.Duration(v[2]) * time.Microsecond,
		Reset: time.Duration(v[3]) * time.Microsecond}, nil
}
