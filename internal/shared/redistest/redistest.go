// Package redistest starts real Redis servers for tests: redis-server on a
// free loopback port with no persistence, one process per test, so that a
// test may stop, kill or restart its server without touching anyone
// else's (never the machine's shared one).
package redistest

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
	cmd  *exec.Cmd
	done chan struct{}
	t    testing.TB
}

// Start runs a server for the test; it is killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{bin: Binary(t), dir: t.TempDir(), t: t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	ln.Close()
	s.URL = "redis://" + s.Addr + "/0"
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// Restart starts the server again on the same address (after Kill), with
// no data: what a Redis without persistence has after a crash.
func (s *Server) Restart() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	log, err := os.Create(filepath.Join(s.dir, "redis-"+port+".log"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(s.bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--protected-mode", "no")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	c := redis.NewClient(&redis.Options{Addr: s.Addr, DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-done:
			s.t.Fatalf("redistest: redis-server exited: %s", tail(log.Name()))
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: redis-server did not answer at %s: %v", s.Addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL), as a crash would; it is safe
// to call twice.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Client is a plain client of the server, for a test to look at or change
// what is stored; it is closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

func tail(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines[max(0, len(lines)-10):], "\n")
}
