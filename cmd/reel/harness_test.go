package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/blob/s3test"
)

// instance is a reel server started in-process through run, as main starts
// it, on a random loopback port.
type instance struct {
	t      *testing.T
	URL    string
	Admin  string
	env    map[string]string
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// startServer runs "reel serve" with env (over test defaults) and waits until
// it answers /healthz.
func startServer(t *testing.T, env map[string]string, args ...string) *instance {
	t.Helper()
	return startCommand(t, "serve", env, args...)
}

// startCommand runs "reel <command>" (serve or worker) like startServer.
func startCommand(t *testing.T, command string, env map[string]string, args ...string) *instance {
	t.Helper()
	full := map[string]string{
		"REEL_ADDR":       "127.0.0.1:0",
		"REEL_ADMIN_ADDR": "off",
		"REEL_DATA_DIR":   t.TempDir(),
		"REEL_LOG_LEVEL":  "debug",
		"REEL_LOG_FORMAT": "json",
	}
	for k, v := range env {
		full[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{t: t, env: full, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		in.done <- run(ctx, append([]string{"reel", command}, args...), func(k string) string { return full[k] }, io.Discard, in.stderr)
	}()

	scheme := "http"
	if full["REEL_TLS_CERT"] != "" {
		scheme = "https"
	}
	deadline := time.Now().Add(30 * time.Second)
	for in.URL == "" || (full["REEL_ADMIN_ADDR"] != "off" && in.Admin == "") {
		select {
		case err := <-in.done:
			t.Fatalf("server exited during start: %v\n%s", err, in.stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start within 30s:\n%s", in.stderr)
		}
		for _, l := range in.stderr.logLines() {
			if l["msg"] == "listening" && l["listener"] == "public" {
				in.URL = fmt.Sprintf("%s://%s", scheme, l["addr"])
			}
			if l["msg"] == "listening" && l["listener"] == "admin" {
				in.Admin = fmt.Sprintf("http://%s", l["addr"])
			}
		}
	}
	t.Cleanup(func() { in.stop() })
	if scheme == "http" {
		in.waitHealthy()
	}
	return in
}

func (in *instance) waitHealthy() {
	in.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(in.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("/healthz not OK within 30s: %v", err)
		}
		<-time.After(20 * time.Millisecond) // poll, leaving the CPU to the server starting up
	}
}

// stop cancels the server's context, as a signal would, and returns run's error.
func (in *instance) stop() error {
	in.cancel()
	select {
	case err, ok := <-in.done:
		if ok {
			close(in.done)
		}
		return err
	case <-time.After(30 * time.Second):
		in.t.Errorf("server did not stop within 30s:\n%s", in.stderr)
		return nil
	}
}

// response is a finished HTTP exchange.
type response struct {
	*http.Response
	Body []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// errorCode returns error.code of an error body, or "" when there is none.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	r.json(t, &e)
	if e.Error.Code != "" && e.Error.Message == "" {
		t.Errorf("error without a message: %s", r.Body)
	}
	return e.Error.Code
}

// do sends a request. body may be nil, a string or []byte (sent as is), or
// anything else (sent as JSON). headers come in name, value pairs.
func (in *instance) do(method, path, token string, body any, headers ...string) response {
	in.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			in.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, in.URL+path, r)
	if err != nil {
		in.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{resp, b}
}

// expect fails the test unless r has the status and, for errors, the code.
func expect(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); status != http.StatusNoContent && !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want JSON", r.Request.Method, r.Request.URL.Path, ct)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s %s: no X-Content-Type-Options: nosniff", r.Request.Method, r.Request.URL.Path)
	}
	if code != "" {
		if got := r.errorCode(t); got != code {
			t.Fatalf("%s %s: error code %q, want %q; body %s", r.Request.Method, r.Request.URL.Path, got, code, r.Body)
		}
	}
}

// syncBuffer collects the server's log output from several goroutines.
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

// logLines parses the JSON log lines written so far.
func (s *syncBuffer) logLines() []map[string]any {
	var lines []map[string]any
	for _, l := range strings.Split(s.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

// dialFrom dials from a given local address, so one test can be two clients.
func dialFrom(ip string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return d.DialContext
}

// withS3 returns env (a copy) with the blobs on a private S3-compatible
// server (versitygw, started for the test) under prefix, and the server.
func withS3(t *testing.T, env map[string]string, prefix string) (map[string]string, *s3test.Server) {
	t.Helper()
	s := s3test.Start(t)
	out := map[string]string{"REEL_BLOB_URL": s.URL(prefix)}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	for k, v := range env {
		out[k] = v
	}
	return out, s
}

// onEachStore runs test as subtests "disk" and "s3": the same steps with
// the blobs in the data directory and on an S3-compatible server. s is nil
// on disk.
func onEachStore(t *testing.T, env map[string]string, test func(t *testing.T, env map[string]string, s *s3test.Server)) {
	t.Run("disk", func(t *testing.T) { test(t, env, nil) })
	t.Run("s3", func(t *testing.T) {
		e, s := withS3(t, env, "reel")
		test(t, e, s)
	})
}
