package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// The database going away is an outage, not a bug: every request that needs
// it answers 503 unavailable with Retry-After (never 500), /readyz names the
// database, and the node serves again by itself once the database is back.

// TestDatabaseOutagePostgres cuts the connection to PostgreSQL with a proxy
// (the machine's server keeps running): new connections are refused and the
// pooled ones reset, as when the server restarts or the network fails.
func TestDatabaseOutagePostgres(t *testing.T) {
	dbURL, proxy := postgresBehindProxy(t)
	srv := startServer(t, map[string]string{"REEL_DATABASE_URL": dbURL})
	alice, bob := register(t, srv, "alice"), register(t, srv, "bob")

	proxy.cut()
	for _, req := range databaseRequests(alice, bob) {
		expectUnavailable(t, req.send(t, srv))
	}
	expectNotReady(t, srv)
	expectDouyinUnavailable(t, srv, alice, bob)
	tus := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", alice.token, nil,
		"Upload-Length", "1000", "Upload-Metadata", tusMetadata("filename", "clip.mp4"))
	if tus.StatusCode != http.StatusServiceUnavailable || tus.Header.Get("Retry-After") == "" {
		t.Errorf("tus creation without the database: %d, Retry-After %q; want 503 with Retry-After",
			tus.StatusCode, tus.Header.Get("Retry-After"))
	}

	// The outage lasts until the job queue's own polling has met it, so
	// that its recovery is tested too, not only the HTTP side's.
	waitForLong(t, "the job queue to notice the outage", 30*time.Second, func() bool {
		for _, l := range srv.stderr.logLines() {
			if l["component"] == "jobs" && (l["level"] == "WARN" || l["level"] == "ERROR") {
				return true
			}
		}
		return false
	})
	// The same node, not restarted, serves again once the database is back.
	proxy.restore()
	expectRecovery(t, srv, alice, bob)
	if resp := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", alice.token, nil,
		"Upload-Length", "1000", "Upload-Metadata", tusMetadata("filename", "clip.mp4")); resp.StatusCode != http.StatusCreated {
		t.Errorf("tus creation after the outage: %d", resp.StatusCode)
	}
	// The job queue kept no broken state either: a new video is processed.
	r := uploadMultipart(t, srv, alice.token, mediatest.Clip(t, "noaudio"), map[string]string{"title": "after"}, false)
	expect(t, r, http.StatusAccepted, "")
	var v videoJSON
	r.json(t, &v)
	if v = waitVideo(t, srv, alice.token, v.ID); v.Status != "ready" {
		t.Errorf("video uploaded after the outage ended %+v", v)
	}
	expectNoServerErrors(t, srv)
}

// TestDatabaseOutageSQLiteDiskFull fills the file system the database lives
// on (a tiny tmpfs): writes are 503, reads still served, and writes succeed
// again once there is room.
func TestDatabaseOutageSQLiteDiskFull(t *testing.T) {
	data := t.TempDir()
	dbDir := mountSmallDisk(t)
	srv := startServer(t, map[string]string{
		"REEL_DATA_DIR":     data,
		"REEL_DATABASE_URL": "sqlite://" + filepath.Join(dbDir, "reel.db"),
		// Below the 8 MiB of the database's file system, so that it is
		// low only once filled.
		"REEL_MIN_FREE_BYTES": "1048576",
	})
	alice, bob := register(t, srv, "alice"), register(t, srv, "bob")
	expectDisk(t, srv, "ok")

	filler := fill(t, dbDir)
	// SQLite reuses the room its write-ahead log already has, so the first
	// writes may still fit: write until one does not, which must be a 503.
	text := strings.Repeat("x", 2000)
	var last response
	for i := 0; ; i++ {
		last = srv.do("POST", fmt.Sprintf("/api/v1/users/%d/messages", bob.id), alice.token, map[string]string{"text": text})
		if last.StatusCode != http.StatusCreated || i == 5000 {
			break
		}
	}
	expectUnavailable(t, last)
	expect(t, srv.do("GET", fmt.Sprintf("/api/v1/users/%d", bob.id), alice.token, nil), http.StatusOK, "")
	// The database still answers pings; the free-space check names the
	// disk it is on.
	expectDisk(t, srv, "low")

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitForLong(t, "a write after the disk has room again", 30*time.Second, func() bool {
		return srv.do("POST", fmt.Sprintf("/api/v1/users/%d/messages", bob.id), alice.token, map[string]string{"text": "back"}).StatusCode == http.StatusCreated
	})
	expectRecovery(t, srv, alice, bob)
	expectDisk(t, srv, "ok")
	expectNoServerErrors(t, srv)
}

// expectDisk checks the free-space part of /readyz, which is advisory: the
// node stays ready (200) whatever it says.
func expectDisk(t *testing.T, srv *instance, want string) {
	t.Helper()
	r := srv.do("GET", "/readyz", "", nil)
	var ready struct {
		Checks map[string]string `json:"checks"`
	}
	r.json(t, &ready)
	if r.StatusCode != http.StatusOK || ready.Checks["disk"] != want {
		t.Errorf("/readyz: %d %s; want 200 with disk %q", r.StatusCode, r.Body, want)
	}
}

// TestDatabaseOutageSQLiteBusy holds SQLite's write lock from another
// connection past reel's busy timeout: writes are 503, /readyz names the
// database, and both recover when the lock is released. A client that gives
// up on a write stuck behind the lock is logged at debug as 499.
func TestDatabaseOutageSQLiteBusy(t *testing.T) {
	data := t.TempDir()
	dbPath := filepath.Join(data, "reel.db")
	srv := startServer(t, map[string]string{"REEL_DATA_DIR": data, "REEL_DATABASE_URL": "sqlite://" + dbPath})
	alice, bob := register(t, srv, "alice"), register(t, srv, "bob")

	other, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	defer func() {
		if locked {
			_, _ = lock.ExecContext(context.Background(), "ROLLBACK")
		}
	}()

	expectUnavailable(t, srv.do("PUT", fmt.Sprintf("/api/v1/users/%d/follow", bob.id), alice.token, nil))
	expectUnavailable(t, srv.do("POST", fmt.Sprintf("/api/v1/users/%d/messages", bob.id), alice.token, map[string]string{"text": "hi"}))
	expectNotReady(t, srv)

	t.Run("client goes away", func(t *testing.T) { clientGoesAway(t, srv, alice, bob) })

	if _, err := lock.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	locked = false
	expectRecovery(t, srv, alice, bob)
	expectNoServerErrors(t, srv)
}

// clientGoesAway sends a write that waits for the locked database and hangs
// up while it waits: the request is logged at debug with status 499 and
// counted as 499, not as a server error.
func clientGoesAway(t *testing.T, srv *instance, alice, bob user) {
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "PUT", fmt.Sprintf("%s/api/v1/users/%d/follow", srv.URL, bob.id), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+alice.token)
	req.Header.Set("X-Request-ID", "client-goes-away")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("answered %d before the client went away", resp.StatusCode)
		}
		done <- err
	}()
	// In flight: this /metrics request and the waiting write.
	waitFor(t, "the write to be in flight", func() bool {
		return strings.Contains(string(srv.do("GET", "/metrics", "", nil).Body), "reel_http_requests_in_flight 2")
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v", err)
	}

	var line map[string]any
	waitFor(t, "the access log line of the abandoned request", func() bool {
		for _, l := range srv.stderr.logLines() {
			if l["msg"] == "request" && l["request_id"] == "client-goes-away" {
				line = l
				return true
			}
		}
		return false
	})
	if line["level"] != "DEBUG" || line["status"] != float64(499) {
		t.Errorf("access log of a request whose client went away: %v; want level DEBUG, status 499", line)
	}
	for _, l := range srv.stderr.logLines() {
		if l["request_id"] == "client-goes-away" && l["level"] != "DEBUG" {
			t.Errorf("logged above debug: %v", l)
		}
	}
	metrics := string(srv.do("GET", "/metrics", "", nil).Body)
	if !strings.Contains(metrics, `reel_http_requests_total{method="PUT",route="/api/v1/users/:id/follow",status="499"} 1`) {
		t.Errorf("/metrics does not count the abandoned request as 499:\n%s", grepLines(metrics, "reel_http_requests_total"))
	}
}

type user struct {
	token string
	id    int64
}

func register(t *testing.T, srv *instance, name string) user {
	t.Helper()
	r := srv.do("POST", "/api/v1/users", "", map[string]string{"username": name, "password": "secret-1"})
	expect(t, r, http.StatusCreated, "")
	var s session
	r.json(t, &s)
	return user{token: s.Token, id: s.User.ID}
}

// apiRequest is one request of a client.
type apiRequest struct {
	method, path, token string
	body                any
	ok                  int // its status when the database answers
}

func (a apiRequest) send(t *testing.T, srv *instance) response {
	t.Helper()
	return srv.do(a.method, a.path, a.token, a.body)
}

// databaseRequests are reads and writes that need the database (none of
// them is served from a cache).
func databaseRequests(alice, bob user) []apiRequest {
	return []apiRequest{
		{"GET", fmt.Sprintf("/api/v1/users/%d", bob.id), alice.token, nil, http.StatusOK},
		{"GET", fmt.Sprintf("/api/v1/users/%d/messages", bob.id), alice.token, nil, http.StatusOK},
		{"PUT", fmt.Sprintf("/api/v1/users/%d/follow", bob.id), alice.token, nil, http.StatusNoContent},
		{"POST", fmt.Sprintf("/api/v1/users/%d/messages", bob.id), alice.token, map[string]string{"text": "hi"}, http.StatusCreated},
	}
}

// expectUnavailable checks the answer of a request the database could not
// serve: 503, the code unavailable, Retry-After, and nothing of the cause.
func expectUnavailable(t *testing.T, r response) {
	t.Helper()
	expect(t, r, http.StatusServiceUnavailable, "unavailable")
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("%s %s: Retry-After %q, want whole seconds", r.Request.Method, r.Request.URL.Path, r.Header.Get("Retry-After"))
	}
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	r.json(t, &e)
	for _, leak := range []string{"127.0.0.1", "dial", "sqlite", "tcp", "reel.db", "sqlstate", "eof", "reset"} {
		if strings.Contains(strings.ToLower(e.Error.Message), leak) {
			t.Errorf("%s %s: the message shows internals (%q): %s", r.Request.Method, r.Request.URL.Path, leak, r.Body)
		}
	}
}

// expectNotReady checks that /readyz is 503 and names the database.
func expectNotReady(t *testing.T, srv *instance) {
	t.Helper()
	r := srv.do("GET", "/readyz", "", nil)
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	r.json(t, &ready)
	if r.StatusCode != http.StatusServiceUnavailable || ready.Checks["database"] != "unavailable" {
		t.Errorf("/readyz without the database: %d %s; want 503 naming the database", r.StatusCode, r.Body)
	}
}

// expectDouyinUnavailable checks that the Douyin API answers its own
// unavailable status code (10) with Retry-After.
func expectDouyinUnavailable(t *testing.T, srv *instance, alice, bob user) {
	t.Helper()
	r := srv.do("GET", fmt.Sprintf("/douyin/user/?user_id=%d&token=%s", bob.id, alice.token), "", nil)
	var m struct {
		StatusCode int    `json:"status_code"`
		StatusMsg  string `json:"status_msg"`
	}
	r.json(t, &m)
	if r.StatusCode != http.StatusOK || m.StatusCode != 10 || r.Header.Get("Retry-After") == "" {
		t.Errorf("/douyin/user/ without the database: %d %s, Retry-After %q; want status_code 10 with Retry-After",
			r.StatusCode, r.Body, r.Header.Get("Retry-After"))
	}
}

// expectRecovery polls until every database request succeeds again and
// /readyz is 200.
func expectRecovery(t *testing.T, srv *instance, alice, bob user) {
	t.Helper()
	for _, req := range databaseRequests(alice, bob) {
		var last response
		waitForLong(t, req.method+" "+req.path+" to succeed again", 60*time.Second, func() bool {
			last = req.send(t, srv)
			return last.StatusCode == req.ok
		})
	}
	waitForLong(t, "/readyz to be 200 again", 60*time.Second, func() bool {
		return srv.do("GET", "/readyz", "", nil).StatusCode == http.StatusOK
	})
}

// expectNoServerErrors checks that no request was answered 500.
func expectNoServerErrors(t *testing.T, srv *instance) {
	t.Helper()
	for _, l := range srv.stderr.logLines() {
		if l["msg"] == "request" && l["status"] == float64(500) {
			t.Errorf("a request was answered 500: %v", l)
		}
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// tcpProxy forwards TCP connections to a server. cut closes its listener
// and resets every connection through it; restore listens again on the
// same address: to its clients, the server went away and came back.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string

	mu      sync.Mutex
	ln      net.Listener // nil while cut
	conns   map[net.Conn]struct{}
	stalled bool // connections are accepted and never answered
}

// postgresBehindProxy returns the test database's URL through a proxy the
// test controls, and the proxy: the machine's server keeps running while
// the test cuts or stalls the node's connections.
func postgresBehindProxy(t *testing.T) (string, *tcpProxy) {
	t.Helper()
	dbURL, err := url.Parse(sqltest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, dbURL.Host)
	dbURL.Host = proxy.addr
	return dbURL.String(), proxy
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *tcpProxy) forward(client net.Conn) {
	p.mu.Lock()
	stalled := p.stalled
	p.mu.Unlock()
	if stalled {
		// Accepted, never answered: a server that hangs.
		if p.track(client) {
			defer p.untrack(client)
			_, _ = io.Copy(io.Discard, client)
		}
		client.Close()
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		client.Close()
		server.Close()
		return
	}
	defer p.untrack(client, server)
	go func() {
		_, _ = io.Copy(server, client)
		server.Close()
	}()
	_, _ = io.Copy(client, server)
	client.Close()
}

func (p *tcpProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *tcpProxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}

// cut refuses new connections and resets the open ones (RST, not FIN).
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.resetLocked()
}

// resetLocked resets every connection through the proxy (RST, not FIN).
func (p *tcpProxy) resetLocked() {
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}
	clear(p.conns)
}

// stall makes the server hang instead of going away: the open connections
// are reset, and new ones are accepted but never answered, as when the
// server is overloaded or the network drops packets.
func (p *tcpProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
	p.resetLocked()
}

// unstall ends a stall: the hung connections are reset, new ones reach the
// server again.
func (p *tcpProxy) unstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = false
	p.resetLocked()
}

func (p *tcpProxy) restore() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}
