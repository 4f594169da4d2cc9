// Package redistest starts real Redis servers for tests: redis-server on a
// free loopback port with no persistence, one process per test, so that a
// test may stop, kill or restart its server without touching anyone
// else's (never the machine's shared one).
package redistest

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reel-video/reel/internal/shared"
	"github.com/reel-video/reel/internal/shared/redisserver"
)

// Binary returns the path of redis-server: $REEL_TEST_REDIS_SERVER, or
// redis-server on PATH. Missing, it fails the test with the command that
// installs it: a skipped Redis test would pass unnoticed.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("REEL_TEST_REDIS_SERVER"); p != "" {
		return p
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redistest: redis-server is missing: run scripts/deps.sh redis (apt-get install -y redis-server); make test does it")
	}
	return p
}

// Server is one redis-server for one test.
type Server struct {
	Addr string // host:port
	URL  string // redis://host:port/0, for REEL_REDIS_URL
	bin  string
	dir  string
	srv  *redisserver.Server
	t    testing.TB
}

// Start runs a server for the test; it is killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{bin: Binary(t), dir: t.TempDir(), t: t}
	addr, err := redisserver.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s.Addr, s.URL = addr, "redis://"+addr+"/0"
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// Restart starts the server again on the same address (after Kill), with
// no data: what a Redis without persistence has after a crash.
func (s *Server) Restart() {
	s.t.Helper()
	srv, err := redisserver.Start(s.bin, s.dir, s.Addr)
	if err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	s.srv = srv
}

// Kill stops the server at once (SIGKILL), as a crash would; it is safe
// to call twice.
func (s *Server) Kill() {
	if s.srv == nil {
		return
	}
	s.srv.Kill()
	s.srv = nil
}

// Client is a plain client of the server, for a test to look at or change
// what is stored; it is closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// Open connects to the Redis at url as a node would (shared.Open), with
// its log discarded (the tests that stop Redis would fill it) and a short
// first connection; it is closed when the test ends.
func Open(t testing.TB, url string) *shared.Redis {
	t.Helper()
	r, err := shared.Open(t.Context(), url, shared.Options{OpenFor: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
