// Package shared connects a node to the state it shares with the other
// nodes: Redis, when REEL_REDIS_URL names one. Redis is an accelerator,
// never a single point of failure: every call goes through a circuit
// breaker (package breaker), and while it is open callers use their local,
// in-process state instead, so that no request fails because Redis does.
// Without REEL_REDIS_URL there is no Redis and everything is local, as on
// one node.
package shared

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reel-video/reel/internal/breaker"
)

// Prefix starts every key reel writes, so that a Redis shared with other
// programs keeps reel's keys apart.
const Prefix = "reel:"

// Timeouts of every call: Redis answers in well under a millisecond, and a
// call that waits longer is better given up for the local fallback than
// let hold a request.
const (
	dialTimeout = 500 * time.Millisecond
	ioTimeout   = 250 * time.Millisecond
)

// Redis is a client of the shared Redis behind a circuit breaker. A nil
// *Redis is valid and means "no Redis": Available reports false.
type Redis struct {
	Client  *redis.Client
	breaker *breaker.Breaker
	log     *slog.Logger
	batches coalescer // the queue of Batch
}

// Options are what Open takes besides the URL.
type Options struct {
	Metrics *breaker.Metrics
	Log     *slog.Logger
	// OpenFor is the breaker's period (default 2 s): how long the node
	// uses local state after Redis failed before it tries again.
	OpenFor time.Duration
}

// ParseURL checks a REEL_REDIS_URL: redis:// or rediss:// (TLS), with an
// optional user, password and database number, as redis-cli takes them.
func ParseURL(raw string) (*redis.Options, error) {
	if !strings.HasPrefix(raw, "redis://") && !strings.HasPrefix(raw, "rediss://") {
		return nil, errors.New("must be redis://[user:password@]host:port[/db] or rediss://... for TLS")
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("must be redis://[user:password@]host:port[/db]: %v", err)
	}
	return o, nil
}

// Open connects to the Redis at rawURL. A Redis that does not answer yet
// is no error: the node starts on local state and uses Redis once it
// answers (the first calls open the breaker).
func Open(ctx context.Context, rawURL string, o Options) (*Redis, error) {
	opts, err := ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REEL_REDIS_URL %w", err)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = dialTimeout, ioTimeout, ioTimeout
	opts.PoolTimeout = ioTimeout
	// Every API request may make a call (rate limits, cache marks): a pool
	// the size of go-redis's default (10 per CPU) makes bursts wait for a
	// connection, and a wait is no sign of Redis failing.
	opts.PoolSize = max(opts.PoolSize, 64, 16*runtime.GOMAXPROCS(0))
	// The breaker decides when to try again; retries inside a call would
	// only hold the request longer.
	opts.MaxRetries = -1
	opts.ContextTimeoutEnabled = true
	// RESP2: reel uses no RESP3 push (pub/sub has its own connection),
	// and under RESP3 go-redis looks for pushes before every reply, a few
	// percent of the CPU of a request that asks Redis once.
	opts.Protocol = 2
	r := &Redis{
		Client: redis.NewClient(opts),
		log:    o.Log,
		breaker: breaker.New("redis", breaker.Options{Failures: 3, OpenFor: o.OpenFor, Metrics: o.Metrics,
			Log: o.Log, What: "Redis"}),
	}
	if err := r.Do(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() }); err != nil {
		o.Log.Warn("Redis does not answer yet: this node uses local state until it does", "err", err)
	}
	return r, nil
}

// Available reports whether calls go to Redis now (false without Redis,
// or while its breaker is open).
func (r *Redis) Available() bool {
	return r != nil && r.breaker.State() != breaker.Open
}

// ErrUnavailable is Do's error when there is no Redis or its breaker is
// open: the caller uses its local state.
var ErrUnavailable = errors.New("shared state unavailable")

// errOpen is the error of a call the open breaker refused.
var errOpen = fmt.Errorf("%w: %w", ErrUnavailable, breaker.ErrOpen)

// Do runs fn against Redis through the breaker. It returns ErrUnavailable
// (wrapped) without calling fn when there is no Redis or the breaker is
// open; otherwise fn's error. redis.Nil (a missing key) is an answer, not
// a failure.
func (r *Redis) Do(ctx context.Context, fn func(ctx context.Context, c *redis.Client) error) error {
	if r == nil {
		return ErrUnavailable
	}
	if !r.breaker.Allow() {
		return errOpen
	}
	err := fn(ctx, r.Client)
	o := judge(ctx, err)
	r.learn(o, err)
	return o.answer(err)
}

// outcome is what a call's error says of Redis.
type outcome int

const (
	answered outcome = iota // Redis answered (maybe with redis.Nil or a command's error)
	failed                  // Redis failed: the breaker counts it
	busy                    // no connection was free: this node is loaded, Redis may be fine
	gaveUp                  // the caller's context ended: nothing learnt of Redis
)

// judge classifies err, the error of a call made under ctx.
func judge(ctx context.Context, err error) outcome {
	switch {
	case errors.Is(err, redis.ErrPoolTimeout):
		return busy
	case err != nil && ctx.Err() != nil:
		return gaveUp
	case failure(ctx, err):
		return failed
	}
	return answered
}

// learn tells the breaker the outcome of a call (or a batch) it allowed.
func (r *Redis) learn(o outcome, err error) {
	switch o {
	case busy, gaveUp:
		r.breaker.Skip()
	case failed:
		r.breaker.Done(err)
	default:
		r.breaker.Done(nil)
	}
}

// answer is the error a caller gets: ErrUnavailable (wrapped) when it must
// take its fallback because Redis failed or no connection was free; the
// error as it is otherwise.
func (o outcome) answer(err error) error {
	if o == failed || o == busy {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// failure reports whether err says Redis failed, rather than answered (a
// missing key, a script's own error) or the caller gave up (its context
// ended: the request went away, which says nothing of Redis).
func failure(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	if ctx.Err() != nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, redis.ErrClosed) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// Redis's own errors ("LOADING", "BUSY", "READONLY", "MASTERDOWN",
	// "OOM") say it cannot serve now; an error of the command (a wrong
	// type, a script error) is an answer.
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range []string{"LOADING", "BUSY", "READONLY", "MASTERDOWN", "OOM", "CLUSTERDOWN", "TRYAGAIN"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	return true
}

// Ping checks that Redis answers, for /readyz; without Redis there is
// nothing to check.
func (r *Redis) Ping(ctx context.Context) error {
	if r == nil {
		return nil
	}
	return r.Do(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() })
}

// Close closes the connections.
func (r *Redis) Close() error {
	if r == nil {
		return nil
	}
	return r.Client.Close()
}

// Kind is what /readyz and the start log say of the shared state.
func (r *Redis) Kind() string {
	if r == nil {
		return "local"
	}
	return "redis"
}
