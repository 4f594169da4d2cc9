package shared_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reel-video/reel/internal/breaker"
	"github.com/reel-video/reel/internal/shared"
	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/testwait"
)

func openRedis(t *testing.T, srv *redistest.Server) *shared.Redis { return redistest.Open(t, srv.URL) }

// TestBatchAnswersEachCaller: many callers at once, each with commands of
// its own; every one gets its own answers, in its order, and the commands
// of concurrent callers share pipelines.
func TestBatchAnswersEachCaller(t *testing.T) {
	srv := redistest.Start(t)
	r := openRedis(t, srv)
	ctx := t.Context()
	const callers, rounds = 64, 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			key := "count:" + strconv.Itoa(i)
			for n := 1; n <= rounds; n++ {
				incr := redis.NewIntCmd(ctx, "incr", key)
				echo := redis.NewStringCmd(ctx, "echo", fmt.Sprintf("%d/%d", i, n))
				get := redis.NewStringCmd(ctx, "get", key)
				missing := redis.NewStringCmd(ctx, "get", "missing:"+strconv.Itoa(i))
				if err := r.Batch(ctx, incr, echo, get); err != nil {
					errs <- err
					return
				}
				if incr.Val() != int64(n) || echo.Val() != fmt.Sprintf("%d/%d", i, n) || get.Val() != strconv.Itoa(n) {
					errs <- fmt.Errorf("caller %d round %d: incr %d, echo %q, get %q", i, n, incr.Val(), echo.Val(), get.Val())
					return
				}
				// A missing key is the caller's answer, not a failure.
				if err := r.Batch(ctx, missing); !errors.Is(err, redis.Nil) {
					errs <- fmt.Errorf("caller %d: missing key: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !r.Available() {
		t.Error("answers (redis.Nil among them) opened the breaker")
	}
}

// TestBatchReadsSeeCompletedWrites: writers increment a counter (through
// Batch and directly) and publish each value once its write completed;
// readers note the highest published value, then read the counter through
// Batch: the read was queued after those writes completed, so it must see
// at least that value, and each reader's reads never go back. A read
// answered from a pipeline written before it was queued (or shared with an
// earlier identical read) would see less.
func TestBatchReadsSeeCompletedWrites(t *testing.T) {
	srv := redistest.Start(t)
	r := openRedis(t, srv)
	ctx := t.Context()
	const writers, readers, rounds = 8, 32, 200
	var done atomic.Int64 // highest counter value whose write completed
	publish := func(v int64) {
		for {
			cur := done.Load()
			if v <= cur || done.CompareAndSwap(cur, v) {
				return
			}
		}
	}
	if err := srv.Client(t).Set(ctx, "counter", 0, 0).Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers+readers)
	for i := range writers {
		wg.Go(func() {
			for range rounds {
				var v int64
				if i%2 == 0 {
					incr := redis.NewIntCmd(ctx, "incr", "counter")
					if err := r.Batch(ctx, incr); err != nil {
						errs <- err
						return
					}
					v = incr.Val()
				} else {
					err := r.Do(ctx, func(ctx context.Context, c *redis.Client) error {
						var err error
						v, err = c.Incr(ctx, "counter").Result()
						return err
					})
					if err != nil {
						errs <- err
						return
					}
				}
				publish(v)
			}
		})
	}
	for i := range readers {
		wg.Go(func() {
			last := int64(0)
			for n := 0; n < rounds; n++ {
				floor := done.Load()
				get := redis.NewStringCmd(ctx, "get", "counter")
				if err := r.Batch(ctx, get); err != nil {
					errs <- err
					return
				}
				v, _ := strconv.ParseInt(get.Val(), 10, 64)
				if v < floor || v < last {
					errs <- fmt.Errorf("reader %d: read %d after writes up to %d had completed (its last read %d)", i, v, floor, last)
					return
				}
				last = v
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := done.Load(); got != writers*rounds {
		t.Errorf("counter reached %d, want %d", got, writers*rounds)
	}
}

// holdPipelines is a hook that stops every pipeline holding the command
// ECHO hold before it is written, until the test releases it.
type holdPipelines struct {
	entered chan struct{}
	release chan struct{}
}

func (h holdPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h holdPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h holdPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if a := c.Args(); len(a) == 2 && a[0] == "echo" && a[1] == "hold" {
				h.entered <- struct{}{}
				<-h.release
			}
		}
		return next(ctx, cmds)
	}
}

// TestBatchCallerGivesUp: a caller whose context ends gets its context's
// error at once, whether its commands are queued behind a pipeline in
// flight or in that pipeline; queued commands of such a caller are not
// sent; the other callers get their answers and the breaker stays closed.
func TestBatchCallerGivesUp(t *testing.T) {
	srv := redistest.Start(t)
	r := openRedis(t, srv)
	h := holdPipelines{entered: make(chan struct{}), release: make(chan struct{})}
	r.Client.AddHook(h)
	ctx := t.Context()
	direct := srv.Client(t)

	if err := r.Batch(canceled(), redis.NewIntCmd(ctx, "incr", "never")); !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller cancelled before: %v", err)
	}

	// A pipeline in flight (held before it is written), with a caller
	// that will give up in it.
	inFlightCtx, giveUpInFlight := context.WithCancel(ctx)
	inFlightDone := make(chan error, 1)
	go func() {
		inFlightDone <- r.Batch(inFlightCtx, redis.NewStringCmd(ctx, "echo", "hold"), redis.NewIntCmd(ctx, "incr", "in-flight"))
	}()
	<-h.entered

	// Callers queued behind it: one gives up, one waits.
	queuedCtx, giveUpQueued := context.WithCancel(ctx)
	queuedDone := make(chan error, 1)
	go func() { queuedDone <- r.Batch(queuedCtx, redis.NewIntCmd(ctx, "incr", "queued")) }()
	other := redis.NewIntCmd(ctx, "incr", "other")
	otherDone := make(chan error, 1)
	go func() { otherDone <- r.Batch(ctx, other) }()
	// The sender is held: they wait in the queue until it is released.
	giveUpInFlight()
	if err := <-inFlightDone; !errors.Is(err, context.Canceled) {
		t.Errorf("caller in flight gave up: %v", err)
	}
	testwait.For(t, "two callers queued", 5*time.Second, time.Millisecond, func() bool { return r.Queued() == 2 })
	giveUpQueued()
	if err := <-queuedDone; !errors.Is(err, context.Canceled) {
		t.Errorf("queued caller gave up: %v", err)
	}
	h.release <- struct{}{} // the pipeline goes; then the queue
	if err := <-otherDone; err != nil || other.Val() != 1 {
		t.Errorf("the other caller: %d, %v", other.Val(), err)
	}
	// The pipeline in flight went on without its caller; the queued
	// caller's command was never sent.
	if n, err := direct.Get(ctx, "in-flight").Int(); err != nil || n != 1 {
		t.Errorf("in-flight command: %d, %v", n, err)
	}
	for _, k := range []string{"never", "queued"} {
		if n, err := direct.Exists(ctx, k).Result(); err != nil || n != 0 {
			t.Errorf("%s: sent after its caller gave up (%d, %v)", k, n, err)
		}
	}
	if !r.Available() {
		t.Error("callers giving up opened the breaker")
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestBatchRedisKilled: killed, Redis fails a few pipelines, the breaker
// opens and callers get ErrUnavailable without a call; restarted (empty,
// scripts included), Batch and RunScript work again.
func TestBatchRedisKilled(t *testing.T) {
	srv := redistest.Start(t)
	r := openRedis(t, srv)
	ctx := t.Context()
	script := shared.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)
	run := func() (int64, error) {
		cmd, err := r.RunScript(ctx, script, []string{"n"}, 2)
		if err != nil {
			return 0, err
		}
		return cmd.Int64()
	}
	// The first run finds no script on the server: EVALSHA, then EVAL.
	for want := int64(2); want <= 4; want += 2 {
		if n, err := run(); err != nil || n != want {
			t.Fatalf("script: %d, %v (want %d)", n, err, want)
		}
	}

	srv.Kill()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				err := r.Batch(ctx, redis.NewStringCmd(ctx, "get", "n"))
				if !errors.Is(err, shared.ErrUnavailable) {
					errs <- fmt.Errorf("Redis killed: %v", err)
					return
				}
				if errors.Is(err, breaker.ErrOpen) {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if r.Available() {
		t.Fatal("the breaker did not open")
	}

	srv.Restart()
	testwait.For(t, "Batch to use Redis again", 5*time.Second, 20*time.Millisecond, func() bool {
		return r.Batch(ctx, redis.NewStatusCmd(ctx, "ping")) == nil
	})
	if n, err := run(); err != nil || n != 2 {
		t.Errorf("script after the restart: %d, %v", n, err)
	}
	if !r.Available() {
		t.Error("Redis answers but the breaker is not closed")
	}
}

// poolTimeouts is a hook that fails every pipeline as go-redis does when no
// connection is free in time.
type poolTimeouts struct{}

func (poolTimeouts) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (poolTimeouts) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (poolTimeouts) ProcessPipelineHook(redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(_ context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			c.SetErr(redis.ErrPoolTimeout)
		}
		return redis.ErrPoolTimeout
	}
}

// TestBatchPoolTimeout: a pipeline that found no free connection sends its
// callers to their fallback, and says nothing of Redis: however many, the
// breaker stays closed.
func TestBatchPoolTimeout(t *testing.T) {
	srv := redistest.Start(t)
	r := openRedis(t, srv)
	r.Client.AddHook(poolTimeouts{})
	for range 10 {
		err := r.Batch(t.Context(), redis.NewStatusCmd(t.Context(), "ping"))
		if !errors.Is(err, shared.ErrUnavailable) || !errors.Is(err, redis.ErrPoolTimeout) {
			t.Fatalf("no connection free: %v", err)
		}
	}
	if !r.Available() {
		t.Error("pool timeouts opened the breaker")
	}
}

// TestBatchWithoutRedis: no Redis, no call.
func TestBatchWithoutRedis(t *testing.T) {
	var r *shared.Redis
	if err := r.Batch(t.Context(), redis.NewStatusCmd(t.Context(), "ping")); !errors.Is(err, shared.ErrUnavailable) {
		t.Errorf("Batch without Redis: %v", err)
	}
}

// BenchmarkMGet compares a round trip per caller (Do) with Batch, for
// callers as many as the bench's connections.
func BenchmarkMGet(b *testing.B) {
	srv := redistest.Start(b)
	r, err := shared.Open(b.Context(), srv.URL, shared.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	keys := []string{"a", "b", "c", "d"}
	args := []any{"mget", "a", "b", "c", "d"}
	b.Run("Do", func(b *testing.B) {
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := r.Do(b.Context(), func(ctx context.Context, c *redis.Client) error { return c.MGet(ctx, keys...).Err() }); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("Batch", func(b *testing.B) {
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := r.Batch(b.Context(), redis.NewSliceCmd(b.Context(), args...)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
