package shared_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reel-video/reel/internal/shared"
	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/testwait"
)

func TestParseURL(t *testing.T) {
	for _, ok := range []string{"redis://127.0.0.1:6379", "redis://127.0.0.1:6379/2", "rediss://u:p@cache.example:6380/0", "redis://:secret@h:1"} {
		if _, err := shared.ParseURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:6379", "http://h:6379", "redis://h:6379/x", "unix:///tmp/redis.sock"} {
		if _, err := shared.ParseURL(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

// TestNoRedis: without Redis every call says "use local state".
func TestNoRedis(t *testing.T) {
	var r *shared.Redis
	if r.Available() || r.Kind() != "local" {
		t.Error("a nil Redis is available")
	}
	called := false
	err := r.Do(t.Context(), func(context.Context, *redis.Client) error { called = true; return nil })
	if !errors.Is(err, shared.ErrUnavailable) || called {
		t.Errorf("Do without Redis: %v, called %v", err, called)
	}
}

// TestBreakerAroundRedis: calls go to Redis while it answers; killed, it
// fails a few calls and then none reach it (ErrUnavailable at once);
// restarted, the node uses it again after the breaker's period.
func TestBreakerAroundRedis(t *testing.T) {
	srv := redistest.Start(t)
	r, err := shared.Open(t.Context(), srv.URL, shared.Options{OpenFor: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	set := func() error {
		return r.Do(t.Context(), func(ctx context.Context, c *redis.Client) error { return c.Set(ctx, "k", "v", 0).Err() })
	}
	if err := set(); err != nil || !r.Available() {
		t.Fatalf("with Redis up: %v", err)
	}
	// A missing key is an answer, not a failure.
	for range 5 {
		err := r.Do(t.Context(), func(ctx context.Context, c *redis.Client) error { return c.Get(ctx, "missing").Err() })
		if !errors.Is(err, redis.Nil) {
			t.Fatalf("missing key: %v", err)
		}
	}
	if !r.Available() {
		t.Fatal("missing keys opened the breaker")
	}

	srv.Kill()
	for range 3 {
		if err := set(); !errors.Is(err, shared.ErrUnavailable) {
			t.Fatalf("Redis killed: %v", err)
		}
	}
	if r.Available() {
		t.Fatal("three failures in a row left the breaker closed")
	}
	called := false
	if err := r.Do(t.Context(), func(context.Context, *redis.Client) error { called = true; return nil }); !errors.Is(err, shared.ErrUnavailable) || called {
		t.Fatalf("breaker open: %v, called %v", err, called)
	}

	srv.Restart()
	testwait.For(t, "the node to use Redis again", 5*time.Second, 20*time.Millisecond, func() bool {
		return set() == nil
	})
	if !r.Available() {
		t.Error("Redis answers but the breaker is not closed")
	}
}
