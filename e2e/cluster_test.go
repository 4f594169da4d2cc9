// Package e2e runs reel as an operator does: real processes of the built
// binary, several nodes that share only PostgreSQL and an S3-compatible
// server, killed with SIGKILL at the worst moments.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/blob/s3test"
	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
	"github.com/reel-video/reel/internal/testwait"
)

// reelBin is the reel binary, built once for every test of the package.
var reelBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "reel-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	reelBin = filepath.Join(dir, "reel")
	build := exec.Command("go", "build", "-o", reelBin, "github.com/reel-video/reel/cmd/reel")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/reel: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	mediatest.RemoveAll()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cluster is what the nodes share: one PostgreSQL schema, one bucket (under
// prefix) and the secret.
type cluster struct {
	t      *testing.T // the nodes live as long as this test
	s3     *s3test.Server
	prefix string
	env    []string
}

// newCluster makes an empty database and bucket for the test's nodes.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	db := sqltest.PostgresURL(t)
	s := s3test.Start(t)
	c := &cluster{t: t, s3: s, prefix: "reel"}
	c.env = append([]string{
		"REEL_DATABASE_URL=" + db,
		"REEL_BLOB_URL=" + s.URL(c.prefix),
		"REEL_SECRET=" + strings.Repeat("shared-by-every-node-", 3),
		"REEL_ADDR=127.0.0.1:0",
		"REEL_ADMIN_ADDR=off",
		"REEL_LOG_FORMAT=json",
		"REEL_LOG_LEVEL=debug",
		"REEL_SHUTDOWN_TIMEOUT=5s",
	}, s.Env()...)
	return c
}

// node is one reel process.
type node struct {
	name string
	URL  string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

// start runs "reel <command>" (serve or worker) with its own empty data
// directory, waits until it answers (/readyz for serve, /healthz for a
// worker, which serves nothing else) and stops it when the cluster's test
// ends. t is the (sub)test that needs the node.
func (c *cluster) start(t *testing.T, name, command string, env ...string) *node {
	t.Helper()
	cmd := exec.Command(reelBin, command)
	cmd.Env = append(append(environ(), c.env...), "REEL_DATA_DIR="+c.t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	n := &node{name: name, cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = n.log, n.log
	// Killed with the test binary, should it die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(n.done) }()
	c.t.Cleanup(func() {
		n.stop(c.t)
		if c.t.Failed() {
			c.t.Logf("log of %s:\n%s", name, tail(n.log.String(), 40))
		}
	})

	deadline := time.Now().Add(time.Minute)
	for n.URL == "" {
		select {
		case <-n.done:
			t.Fatalf("%s exited during start: %v\n%s", name, cmd.ProcessState, tail(n.log.String(), 40))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen within a minute:\n%s", name, tail(n.log.String(), 40))
		}
		for _, l := range n.log.lines() {
			if l["msg"] == "listening" && l["listener"] == "public" {
				n.URL = fmt.Sprintf("http://%s", l["addr"])
			}
		}
	}
	path := "/readyz"
	if command == "worker" {
		path = "/healthz"
	}
	waitFor(t, name+" to answer "+path, time.Minute, func() bool {
		resp, err := http.Get(n.URL + path)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return n
}

// kill ends the process at once, as a crash or the OOM killer would.
func (n *node) kill(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill %s: %v", n.name, err)
	}
	<-n.done
}

// stop asks the process to shut down (SIGTERM) and kills it if it does not
// within its shutdown timeout.
func (n *node) stop(t *testing.T) {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(45 * time.Second):
		t.Errorf("%s did not stop within 45s of SIGTERM", n.name)
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// environ is the test's environment without reel's and AWS's variables, so
// that a developer's own configuration does not leak into the nodes.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REEL_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	testwait.For(t, what, d, 100*time.Millisecond, cond)
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines parses the JSON log lines written so far.
func (s *syncBuffer) lines() []map[string]any {
	var lines []map[string]any
	for _, l := range strings.Split(s.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// client is a user talking to whichever node it is given.
type client struct {
	token string
}

// signUp registers a user through n.
func signUp(t *testing.T, n *node, name string) *client {
	t.Helper()
	c := &client{}
	var s struct {
		Token string `json:"token"`
	}
	c.json(t, n, "POST", "/api/v1/users", map[string]string{"username": name, "password": "secret-1"}, http.StatusCreated, &s)
	c.token = s.Token
	return c
}

// send sends one request to n and returns the answer, its body unread;
// body is sent as JSON unless it is an io.Reader. headers come in name,
// value pairs.
func (c *client) send(n *node, method, path string, body any, headers ...string) (*http.Response, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case io.Reader:
		r = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(j)
		headers = append(headers, "Content-Type", "application/json")
	}
	req, err := http.NewRequest(method, n.URL+path, r)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return httpClient.Do(req)
}

// httpClient bounds every exchange, so that a request a node never answers
// fails the test instead of hanging it.
var httpClient = &http.Client{Timeout: 2 * time.Minute}

// do is send for an answer that must come; it reads the body.
func (c *client) do(t *testing.T, n *node, method, path string, body any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.send(n, method, path, body, headers...)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, n.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s on %s: read body: %v", method, path, n.name, err)
	}
	return resp, b
}

// json sends a request, expects status and decodes the answer into out
// (unless out is nil).
func (c *client) json(t *testing.T, n *node, method, path string, body any, status int, out any) {
	t.Helper()
	resp, b := c.do(t, n, method, path, body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s on %s: status %d, want %d: %s", method, path, n.name, resp.StatusCode, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s on %s: decode %s: %v", method, path, n.name, b, err)
		}
	}
}

// video is what the tests read of the API's Video.
type video struct {
	ID        int64  `json:"id"`
	Status    string `json:"status"`
	Progress  int    `json:"progress"`
	Error     string `json:"error"`
	SizeBytes int64  `json:"size_bytes"`
	SHA256    string `json:"sha256"`
	CoverURL  string `json:"cover_url"`
	PlayURL   string `json:"play_url"`
	HLSURL    string `json:"hls_url"`
	DashURL   string `json:"dash_url"`
}

func (c *client) video(t *testing.T, n *node, id int64) video {
	t.Helper()
	var v video
	c.json(t, n, "GET", fmt.Sprintf("/api/v1/videos/%d", id), nil, http.StatusOK, &v)
	return v
}

// waitProcessed polls the video through n until it is ready or failed.
func (c *client) waitProcessed(t *testing.T, n *node, id int64, d time.Duration) video {
	t.Helper()
	var v video
	waitFor(t, fmt.Sprintf("video %d to be processed", id), d, func() bool {
		v = c.video(t, n, id)
		return v.Status == "ready" || v.Status == "failed"
	})
	return v
}
