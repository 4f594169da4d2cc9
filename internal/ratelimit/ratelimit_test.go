package ratelimit_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/ratelimit"
	"github.com/reel-video/reel/internal/shared"
	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/testwait"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openRedis(t *testing.T, srv *redistest.Server) *shared.Redis { return redistest.Open(t, srv.URL) }

// Every implementation passes the same suites: in process, on Redis, and
// the fallback both with Redis and without it (nil: no REEL_REDIS_URL).
func TestBucketsContract(t *testing.T) {
	t.Run("local", func(t *testing.T) { testBuckets(t, ratelimit.NewLocalBuckets(ratelimit.LocalOptions{})) })
	t.Run("redis", func(t *testing.T) { testBuckets(t, &ratelimit.RedisBuckets{R: openRedis(t, redistest.Start(t))}) })
	t.Run("fallback-redis", func(t *testing.T) {
		testBuckets(t, ratelimit.NewBuckets(openRedis(t, redistest.Start(t)), ratelimit.LocalOptions{}))
	})
	t.Run("fallback-none", func(t *testing.T) { testBuckets(t, ratelimit.NewBuckets(nil, ratelimit.LocalOptions{})) })
}

func TestWindowsContract(t *testing.T) {
	t.Run("local", func(t *testing.T) { testWindows(t, ratelimit.NewLocalWindows(ratelimit.LocalOptions{})) })
	t.Run("redis", func(t *testing.T) { testWindows(t, &ratelimit.RedisWindows{R: openRedis(t, redistest.Start(t))}) })
	t.Run("fallback-redis", func(t *testing.T) {
		testWindows(t, ratelimit.NewWindows(openRedis(t, redistest.Start(t)), ratelimit.LocalOptions{}))
	})
	t.Run("fallback-none", func(t *testing.T) { testWindows(t, ratelimit.NewWindows(nil, ratelimit.LocalOptions{})) })
}

func testBuckets(t *testing.T, b ratelimit.Buckets) {
	ctx := t.Context()
	r := ratelimit.Rate{N: 3, Per: time.Minute} // a token every 20 s
	take := func(key string, at time.Time) ratelimit.Result {
		t.Helper()
		res, err := b.Take(ctx, at, key, r)
		if err != nil {
			t.Fatalf("Take(%s): %v", key, err)
		}
		return res
	}
	for want := 2; want >= 0; want-- {
		res := take("a", t0)
		if !res.Allowed || res.Remaining != want || res.RetryAfter != 0 {
			t.Fatalf("take %d: %+v, want allowed with %d remaining", 3-want, res, want)
		}
		if full := time.Duration(3-want) * 20 * time.Second; res.Reset < full-time.Millisecond || res.Reset > full+time.Millisecond {
			t.Errorf("take %d: full again in %v, want %v", 3-want, res.Reset, full)
		}
	}
	res := take("a", t0.Add(5*time.Second))
	if res.Allowed || res.Remaining != 0 {
		t.Fatalf("fourth take in a burst of three: %+v, want refused", res)
	}
	if d := 15 * time.Second; res.RetryAfter < d-time.Millisecond || res.RetryAfter > d+time.Millisecond {
		t.Errorf("refused take: retry after %v, want %v (the next token)", res.RetryAfter, d)
	}
	// A refusal spends nothing: the token comes when it was announced.
	if res := take("a", t0.Add(20*time.Second)); !res.Allowed || res.Remaining != 0 {
		t.Errorf("take when a token is back: %+v, want allowed, 0 remaining", res)
	}
	if res := take("a", t0.Add(20*time.Second)); res.Allowed {
		t.Errorf("second take with one token back: %+v, want refused", res)
	}
	// Another key, or the same after a whole Per, has a full bucket.
	if res := take("b", t0.Add(20*time.Second)); !res.Allowed || res.Remaining != 2 {
		t.Errorf("other key: %+v, want allowed with 2 remaining", res)
	}
	if res := take("a", t0.Add(3*time.Minute)); !res.Allowed || res.Remaining != 2 {
		t.Errorf("after a long pause: %+v, want a full bucket", res)
	}
}

func testWindows(t *testing.T, w ratelimit.Windows) {
	ctx := t.Context()
	three := ratelimit.Rate{N: 3, Per: time.Minute}
	one := ratelimit.Rate{N: 1, Per: time.Hour}
	take := func(at time.Time, keys ...ratelimit.Keyed) (ratelimit.Event, time.Duration) {
		t.Helper()
		ev, wait, err := w.Take(ctx, at, keys...)
		if err != nil {
			t.Fatal(err)
		}
		return ev, wait
	}
	a := ratelimit.Keyed{Key: "test:a", Rate: three}
	var first ratelimit.Event
	for i := range 3 {
		ev, wait := take(t0.Add(time.Duration(i)*10*time.Second), a)
		if wait != 0 {
			t.Fatalf("event %d of 3: wait %v", i+1, wait)
		}
		if i == 0 {
			first = ev
		}
	}
	// At most 3 in any minute: the fourth waits for the first to leave.
	if _, wait := take(t0.Add(30*time.Second), a); wait != 30*time.Second {
		t.Errorf("fourth event: wait %v, want 30s", wait)
	}
	if _, wait := take(t0.Add(time.Minute), a); wait != 0 {
		t.Errorf("once the first left the window: wait %v, want 0", wait)
	}
	// Full again; a removed event makes room, a forgotten key is empty.
	if _, wait := take(t0.Add(time.Minute), a); wait == 0 {
		t.Fatal("window full again, yet allowed")
	}
	second, _ := take(t0.Add(2*time.Minute), a)
	if err := w.Remove(ctx, a.Key, second); err != nil {
		t.Fatal(err)
	}
	if err := w.Remove(ctx, a.Key, first); err != nil { // gone already: no effect
		t.Fatal(err)
	}
	if err := w.Forget(ctx, a.Key); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, wait := take(t0.Add(2*time.Minute), a); wait != 0 {
			t.Fatalf("after Forget, event %d: wait %v", i+1, wait)
		}
	}

	// Several keys: all or none.
	b := ratelimit.Keyed{Key: "test:b", Rate: one}
	c := ratelimit.Keyed{Key: "test:c", Rate: three}
	ev, wait := take(t0, b, c)
	if wait != 0 {
		t.Fatalf("first event of b and c: wait %v", wait)
	}
	if _, wait := take(t0.Add(time.Second), b, c); wait != time.Hour-time.Second {
		t.Errorf("b full: wait %v, want the rest of its hour", wait)
	}
	// c counted only the first: two more fit.
	for i := range 2 {
		if _, wait := take(t0.Add(2*time.Second), c); wait != 0 {
			t.Fatalf("c alone, event %d: wait %v (a refused Take counted)", i+2, wait)
		}
	}
	if _, wait := take(t0.Add(2*time.Second), c); wait == 0 {
		t.Error("c took a fourth event")
	}
	// Removing the shared event gives b its room back.
	if err := w.Remove(ctx, b.Key, ev); err != nil {
		t.Fatal(err)
	}
	if _, wait := take(t0.Add(3*time.Second), b); wait != 0 {
		t.Errorf("b after Remove: wait %v", wait)
	}
}

// Redis killed mid-test: every Take still answers (the node's own state,
// without error), and once Redis is back the shared state is used again.
func TestFallbackWhileRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	r := openRedis(t, srv)
	buckets := ratelimit.NewBuckets(r, ratelimit.LocalOptions{})
	windows := ratelimit.NewWindows(r, ratelimit.LocalOptions{})
	ctx := t.Context()
	rate := ratelimit.Rate{N: 5, Per: time.Hour}
	use := func(at time.Time) (ratelimit.Result, time.Duration) {
		t.Helper()
		res, err := buckets.Take(ctx, at, "k", rate)
		if err != nil {
			t.Fatalf("bucket Take failed: %v", err)
		}
		_, wait, err := windows.Take(ctx, at, ratelimit.Keyed{Key: "k", Rate: rate})
		if err != nil {
			t.Fatalf("window Take failed: %v", err)
		}
		return res, wait
	}
	for range 3 {
		use(t0)
	}
	srv.Kill()
	// Concurrent requests during the outage: none fails, and the local
	// state limits them on its own (5 per key, fresh).
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed, waited := 0, 0
	for range 20 {
		wg.Go(func() {
			res, wait := use(t0)
			mu.Lock()
			defer mu.Unlock()
			if res.Allowed {
				allowed++
			}
			if wait == 0 {
				waited++
			}
		})
	}
	wg.Wait()
	// The first calls fail on the dead connection and fall over; once the
	// breaker opens the rest go local at once.
	if allowed != 5 || waited != 5 {
		t.Errorf("during the outage: %d bucket and %d window takes allowed of 20, want 5 each (local limits)", allowed, waited)
	}
	srv.Restart()
	// Back on Redis (fresh, no data): the shared state counts again.
	testwait.For(t, "Redis used again", 10*time.Second, 20*time.Millisecond, func() bool {
		_, err := buckets.Redis.Take(ctx, t0, "probe", rate)
		return err == nil
	})
	res, err := buckets.Take(ctx, t0, "k", rate)
	if err != nil || !res.Allowed || res.Remaining != 4 {
		t.Errorf("first take on the restarted Redis: %+v, %v; want allowed with 4 remaining (a fresh bucket)", res, err)
	}
	_, err = buckets.Redis.Take(context.Background(), t0, "k", rate)
	if errors.Is(err, shared.ErrUnavailable) {
		t.Error("Redis unavailable after restart")
	}
}

// Concurrent Takes of one bucket, which go to Redis in groups, allow
// exactly its tokens among them, with remainders and retry times that
// agree with one-by-one Takes, on two nodes sharing the bucket; a caller
// that gives up does not fail the others.
func TestConcurrentTakesOfOneBucket(t *testing.T) {
	srv := redistest.Start(t)
	nodes := []*ratelimit.RedisBuckets{{R: openRedis(t, srv)}, {R: openRedis(t, srv)}}
	r := ratelimit.Rate{N: 50, Per: time.Hour}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		allowed, refused int
		remainders       = map[int]bool{}
		errs             []error
		shortRetry       bool
	)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := t.Context()
			if i%17 == 0 {
				ctx = gone // gives up at once: its answer is its own error
			}
			res, err := nodes[i%2].Take(ctx, t0, "busy", r)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && ctx == gone:
			case err != nil:
				errs = append(errs, err)
			case res.Allowed:
				allowed++
				remainders[res.Remaining] = true
			default:
				refused++
				if res.RetryAfter < time.Hour/50-time.Second {
					shortRetry = true
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("Takes failed: %v", errs)
	}
	if allowed > 50 {
		t.Errorf("%d Takes allowed, the bucket holds 50", allowed)
	}
	// Callers that gave up may have spent a token each, never more.
	if gaveUp := (200 + 16) / 17; allowed < 50-gaveUp {
		t.Errorf("only %d Takes allowed of a bucket of 50 (%d gave up)", allowed, gaveUp)
	}
	if len(remainders) != allowed {
		t.Errorf("%d allowed Takes share %d remainders: each should see its own", allowed, len(remainders))
	}
	if shortRetry {
		t.Error("a refused Take was told to retry before the next token")
	}
	if res, err := nodes[0].Take(t.Context(), t0, "busy", r); err != nil || res.Allowed {
		t.Errorf("after the burst: %+v, %v; want refused", res, err)
	}
}

// A busy bucket far from empty costs Redis one call per lease rather than
// one per Take; the two nodes sharing it still allow exactly its tokens,
// down to the last one, and each Take's remainder counts down.
func TestLeasesOfABusyBucket(t *testing.T) {
	srv := redistest.Start(t)
	nodes := []*ratelimit.RedisBuckets{{R: openRedis(t, srv)}, {R: openRedis(t, srv)}}
	r := ratelimit.Rate{N: 6400, Per: time.Hour}
	calls := func() int {
		info, err := srv.Client(t).Info(t.Context(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, cmd := range []string{"evalsha", "eval"} {
			_, rest, _ := strings.Cut(info, "cmdstat_"+cmd+":calls=")
			c, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			n += c
		}
		return n
	}
	before := calls()
	allowed, refusedInARow := 0, 0
	last := []int{r.N, r.N}
	for i := 0; refusedInARow < 2; i++ {
		res, err := nodes[i%2].Take(t.Context(), t0, "busy", r)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Allowed {
			refusedInARow++
			continue
		}
		refusedInARow = 0
		allowed++
		if res.Remaining >= last[i%2] {
			t.Fatalf("take %d: %d remaining after %d", i, res.Remaining, last[i%2])
		}
		last[i%2] = res.Remaining
		if allowed == r.N/2 {
			if n := calls() - before; n > r.N/2/16 {
				t.Errorf("%d calls to Redis for the first %d takes: leases should serve at least 16 takes a call", n, allowed)
			}
		}
	}
	if allowed != r.N {
		t.Errorf("the two nodes allowed %d takes of a bucket of %d", allowed, r.N)
	}
}

// TestConcurrentTakesWithLeases: many concurrent Takes of one bucket that
// leases, on two nodes: leases, their top-ups in the background and the
// Takes served from a top-up while they waited for it never allow more
// than the bucket holds, and every token is used.
func TestConcurrentTakesWithLeases(t *testing.T) {
	srv := redistest.Start(t)
	nodes := []*ratelimit.RedisBuckets{{R: openRedis(t, srv)}, {R: openRedis(t, srv)}}
	r := ratelimit.Rate{N: 6400, Per: time.Hour}
	const workers, each = 64, 150 // 9600 Takes
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		allowed, refused int
		errs             []error
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				res, err := nodes[w%2].Take(t.Context(), t0, "busy", r)
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err)
				case res.Allowed:
					allowed++
				default:
					refused++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("Takes failed: %v", errs[0])
	}
	if allowed != r.N || refused != workers*each-r.N {
		t.Errorf("%d allowed and %d refused of %d Takes of a bucket of %d", allowed, refused, workers*each, r.N)
	}
}
