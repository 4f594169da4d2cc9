package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reel-video/reel/internal/shared"
)

// Windows is a store of sliding-window logs: for each key, the events still
// inside its window. A key may have another event while fewer than its
// Rate's N are inside (now-Per, now], which is exactly "at most N in any
// Per". Keys name their limit (callers prefix them), so one store holds
// every limit of a process.
type Windows interface {
	// Take counts one event at `at` under every key, all or none: when
	// some key is full it counts nothing and returns how long until every
	// key has room (> 0). The event is its Event, for Remove.
	Take(ctx context.Context, at time.Time, keys ...Keyed) (Event, time.Duration, error)
	// Remove takes back ev from key, if it is still counted there.
	Remove(ctx context.Context, key string, ev Event) error
	// Forget drops every event of key.
	Forget(ctx context.Context, key string) error
}

// Keyed is a key and the limit it is held to.
type Keyed struct {
	Key  string
	Rate Rate
}

// Event is one counted event: its time, and the name a store gave it.
type Event struct {
	At time.Time
	ID string // unique among the events of a key; "" for the local store (At is enough there)
}

// NewWindows returns the windows of this node: on Redis while it is
// available (r non-nil), else in this process. An event taken on one is
// removed from the same one.
func NewWindows(r *shared.Redis, opts LocalOptions) *FallbackWindows {
	return &FallbackWindows{Local: NewLocalWindows(opts), Redis: &RedisWindows{R: r}}
}

// FallbackWindows uses Redis and, while it is unavailable, the local store.
// It never fails: a limit is no reason for a request to fail.
type FallbackWindows struct {
	Local *LocalWindows
	Redis *RedisWindows
}

// Take counts on Redis, or locally when Redis did not answer
// (shared.ErrUnavailable; any other error, which Redis should never give,
// is treated the same rather than failing the request).
func (f *FallbackWindows) Take(ctx context.Context, at time.Time, keys ...Keyed) (Event, time.Duration, error) {
	ev, wait, err := f.Redis.Take(ctx, at, keys...)
	if err != nil {
		return f.Local.Take(ctx, at, keys...)
	}
	return ev, wait, nil
}

// Remove takes ev back from the store that counted it. If Redis does not
// answer now, the event stays counted until it leaves its window: it errs
// towards limiting.
func (f *FallbackWindows) Remove(ctx context.Context, key string, ev Event) error {
	if ev.ID == "" {
		return f.Local.Remove(ctx, key, ev)
	}
	_ = f.Redis.Remove(ctx, key, ev)
	return nil
}

// Forget forgets key in both stores: an attempt counted locally during an
// outage is as much the key's as one counted on Redis.
func (f *FallbackWindows) Forget(ctx context.Context, key string) error {
	_ = f.Local.Forget(ctx, key)
	_ = f.Redis.Forget(ctx, key)
	return nil
}

// Sweep forgets the local events that left their windows.
func (f *FallbackWindows) Sweep(now time.Time) { f.Local.Sweep(now) }

// LocalOptions bound the in-process stores.
type LocalOptions struct {
	// MaxEvents bounds the events a LocalWindows remembers over all keys
	// (each costs a few bytes while it is inside its window), and MaxKeys
	// the buckets a LocalBuckets keeps. Defaults: 1,000,000 and 100,000.
	MaxEvents int
	MaxKeys   int
}

// LocalWindows keeps the windows in this process. Memory is bounded by
// MaxEvents: past it, whole keys are forgotten, those whose latest event is
// oldest first (see evict).
type LocalWindows struct {
	mu        sync.Mutex
	logs      map[string]*eventLog
	total     int
	maxEvents int
}

type eventLog struct {
	per time.Duration
	ev  []time.Time // oldest first
}

// NewLocalWindows returns an empty in-process store.
func NewLocalWindows(opts LocalOptions) *LocalWindows {
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = 1_000_000
	}
	return &LocalWindows{logs: map[string]*eventLog{}, maxEvents: opts.MaxEvents}
}

func (w *LocalWindows) Take(_ context.Context, at time.Time, keys ...Keyed) (Event, time.Duration, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		ev := w.prune(k.Key, k.Rate.Per, at)
		if len(ev) >= k.Rate.N {
			// The event that must leave the window for one more to fit.
			wait = max(wait, ev[len(ev)-k.Rate.N].Add(k.Rate.Per).Sub(at), time.Nanosecond)
		}
	}
	if wait > 0 {
		return Event{}, wait, nil
	}
	for _, k := range keys {
		l := w.logs[k.Key]
		if l == nil {
			l = &eventLog{}
			w.logs[k.Key] = l
		}
		l.per = k.Rate.Per
		l.ev = append(l.ev, at)
		w.total++
	}
	if w.total > w.maxEvents {
		w.sweep(at)
		// Still over: give up the stalest keys until a tenth less than the
		// bound remains, so that a flood pays for the sort rarely.
		w.evict(w.maxEvents - w.maxEvents/10)
	}
	return Event{At: at}, 0, nil
}

func (w *LocalWindows) Remove(_ context.Context, key string, e Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.logs[key]
	if l == nil {
		return nil
	}
	for i := len(l.ev) - 1; i >= 0; i-- {
		if l.ev[i].Equal(e.At) {
			w.set(key, slices.Delete(l.ev, i, i+1))
			return nil
		}
	}
	return nil
}

func (w *LocalWindows) Forget(_ context.Context, key string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.set(key, nil)
	return nil
}

// Sweep forgets the events that left their windows, so that memory
// follows the current rate of events, not its peak.
func (w *LocalWindows) Sweep(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sweep(now)
}

// Len returns how many events are remembered, for tests of the bound.
func (w *LocalWindows) Len() (events, keys int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.total, len(w.logs)
}

// Keys returns the keys remembered, for tests of what is kept.
func (w *LocalWindows) Keys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Collect(maps.Keys(w.logs))
}

func (w *LocalWindows) prune(key string, per time.Duration, now time.Time) []time.Time {
	l := w.logs[key]
	if l == nil {
		return nil
	}
	cut := now.Add(-per)
	i := 0
	for i < len(l.ev) && !l.ev[i].After(cut) {
		i++
	}
	if i > 0 {
		w.set(key, l.ev[i:])
	}
	if l = w.logs[key]; l == nil {
		return nil
	}
	return l.ev
}

// set replaces the events of key, keeping total and dropping empty keys.
func (w *LocalWindows) set(key string, ev []time.Time) {
	l := w.logs[key]
	if l == nil {
		return
	}
	w.total += len(ev) - len(l.ev)
	if len(ev) == 0 {
		delete(w.logs, key)
		return
	}
	l.ev = ev
}

func (w *LocalWindows) sweep(now time.Time) {
	for key, l := range w.logs {
		w.prune(key, l.per, now)
	}
}

// evict forgets whole keys, those whose latest event is oldest first, until
// at most keep events remain: they are the ones nearest to being allowed
// anyway, so a flood of fresh keys does not wipe out an address that many
// failures have just limited.
func (w *LocalWindows) evict(keep int) {
	if w.total <= keep {
		return
	}
	keys := slices.SortedFunc(maps.Keys(w.logs), func(a, b string) int {
		ea, eb := w.logs[a].ev, w.logs[b].ev
		return ea[len(ea)-1].Compare(eb[len(eb)-1])
	})
	for _, k := range keys {
		if w.total <= keep {
			return
		}
		w.set(k, nil)
	}
}

// RedisWindows keeps the windows on Redis, one sorted set per key (members
// are events, scored by their time in microseconds), so that every node
// counts against the same windows. Times are the nodes' clocks: the
// windows are minutes long, and nodes agree to far better than that.
type RedisWindows struct {
	R *shared.Redis
}

// windowPrefix starts the keys of the windows on Redis.
const windowPrefix = shared.Prefix + "win:"

// takeScript is Take on Redis, atomic as one script: check every key, then
// count in all or none. KEYS are the windows; ARGV[1] the time (µs),
// ARGV[2] the event's member, then N and Per (µs) of each key. It returns
// 0, or the wait in µs.
var takeScript = shared.NewScript(`
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local n = tonumber(ARGV[1 + 2*i])
  local per = tonumber(ARGV[2 + 2*i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per)
  local count = redis.call('ZCARD', key)
  if count >= n then
    local oldest = redis.call('ZRANGE', key, count - n, count - n, 'WITHSCORES')
    local w = tonumber(oldest[2]) + per - now
    if w < 1 then w = 1 end
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 + 2*i]) / 1000) + 1000)
end
return 0
`)

func (w *RedisWindows) Take(ctx context.Context, at time.Time, keys ...Keyed) (Event, time.Duration, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	ev := Event{At: at, ID: strconv.FormatInt(at.UnixMicro(), 36) + "." + hex.EncodeToString(b[:])}
	names := make([]string, len(keys))
	args := []any{at.UnixMicro(), ev.ID}
	for i, k := range keys {
		names[i] = windowPrefix + k.Key
		args = append(args, k.Rate.N, k.Rate.Per.Microseconds())
	}
	cmd, err := w.R.RunScript(ctx, takeScript, names, args...)
	if err != nil {
		return Event{}, 0, err
	}
	waitUS, err := cmd.Int64()
	if err != nil {
		return Event{}, 0, err
	}
	if waitUS > 0 {
		return Event{}, time.Duration(waitUS) * time.Microsecond, nil
	}
	return ev, 0, nil
}

func (w *RedisWindows) Remove(ctx context.Context, key string, ev Event) error {
	return w.R.Batch(ctx, redis.NewIntCmd(ctx, "zrem", windowPrefix+key, ev.ID))
}

func (w *RedisWindows) Forget(ctx context.Context, key string) error {
	return w.R.Batch(ctx, redis.NewIntCmd(ctx, "del", windowPrefix+key))
}
