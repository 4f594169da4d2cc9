package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/httpapi"
)

// Degrade, don't fail (docs/api.md, "When reel is degraded"): with the
// database gone, the anonymous feed and video cards are served from the
// node's last good copies, marked, for REEL_STALE_FOR; writes are 503; and
// over REEL_MAX_INFLIGHT, API requests are shed at once while media and
// health checks keep answering.

// staleFor is REEL_STALE_FOR in the tests: long enough for the checks made
// while the copies are served, short enough to wait for its end.
const staleFor = 10 * time.Second

// TestStaleReadsWhileDatabaseCutPostgres cuts PostgreSQL with the proxy the
// test controls (the machine's server keeps running).
func TestStaleReadsWhileDatabaseCutPostgres(t *testing.T) {
	dbURL, proxy := postgresBehindProxy(t)
	srv := startServer(t, map[string]string{
		"REEL_DATABASE_URL": dbURL,
		"REEL_STALE_FOR":    staleFor.String(),
	})
	alice, bob := register(t, srv, "alice"), register(t, srv, "bob")
	v := readyVideo(t, srv, alice.token, "public")
	feed, card, dyFeed := "/api/v1/feed", fmt.Sprintf("/api/v1/videos/%d", v.ID), "/douyin/feed/"

	// An anonymous viewer reads them while the database answers: fresh,
	// unmarked, and now cached on the node.
	for _, path := range []string{feed, card, dyFeed} {
		r := srv.do("GET", path, "", nil)
		expect(t, r, http.StatusOK, "")
		expectFresh(t, r)
		expectShowsVideo(t, r, v.ID)
	}

	proxy.cut()
	for _, path := range []string{feed, card, dyFeed} {
		r := waitStale(t, srv, path)
		expectShowsVideo(t, r, v.ID)
	}
	if r := srv.do("GET", dyFeed, "", nil); douyinStatus(t, r) != 0 {
		t.Errorf("stale Douyin feed: %s, want status_code 0", r.Body)
	}
	// Writes, a signed-in viewer's reads and reads the node never made
	// need the database: 503.
	for _, req := range databaseRequests(alice, bob) {
		expectUnavailable(t, req.send(t, srv))
	}
	expectUnavailable(t, srv.do("PUT", card+"/like", alice.token, nil))
	expectUnavailable(t, srv.do("GET", card, alice.token, nil))
	expectUnavailable(t, srv.do("GET", feed+"?limit=7", "", nil))

	// Past REEL_STALE_FOR the copies are no longer served.
	waitForLong(t, "the stale feed to give way to 503", 3*staleFor, func() bool {
		return srv.do("GET", feed, "", nil).StatusCode == http.StatusServiceUnavailable
	})
	expectUnavailable(t, srv.do("GET", feed, "", nil))
	expectUnavailable(t, srv.do("GET", card, "", nil))
	if r := srv.do("GET", dyFeed, "", nil); douyinStatus(t, r) != 10 || r.Header.Get("Retry-After") == "" {
		t.Errorf("Douyin feed past REEL_STALE_FOR: %s, Retry-After %q; want status_code 10 with Retry-After", r.Body, r.Header.Get("Retry-After"))
	}

	// The database is back: fresh answers again, unmarked.
	proxy.restore()
	expectRecovery(t, srv, alice, bob)
	for _, path := range []string{feed, card, dyFeed} {
		var r response
		waitForLong(t, path+" to be answered fresh", 60*time.Second, func() bool {
			r = srv.do("GET", path, "", nil)
			return r.StatusCode == http.StatusOK && r.Header.Get("Cache-Status") == ""
		})
		expectFresh(t, r)
		expectShowsVideo(t, r, v.ID)
	}
	expectNoServerErrors(t, srv)
}

// TestStaleReadsWhileDatabaseHangsPostgres makes PostgreSQL hang instead
// of refusing (connections accepted, never answered): the reads wait for
// the database until their deadline (REEL_REQUEST_TIMEOUT), then are
// served from the last good copies, marked, rather than answered 503.
func TestStaleReadsWhileDatabaseHangsPostgres(t *testing.T) {
	dbURL, proxy := postgresBehindProxy(t)
	srv := startServer(t, map[string]string{
		"REEL_DATABASE_URL":    dbURL,
		"REEL_STALE_FOR":       "5m",
		"REEL_REQUEST_TIMEOUT": "2s",
	})
	alice, bob := register(t, srv, "alice"), register(t, srv, "bob")
	v := readyVideo(t, srv, alice.token, "public")
	feed, card := "/api/v1/feed", fmt.Sprintf("/api/v1/videos/%d", v.ID)
	for _, path := range []string{feed, card} {
		expect(t, srv.do("GET", path, "", nil), http.StatusOK, "")
	}

	proxy.stall()
	for _, path := range []string{feed, card} {
		expectShowsVideo(t, waitStale(t, srv, path), v.ID)
	}
	expectUnavailable(t, srv.do("PUT", card+"/like", alice.token, nil))

	proxy.unstall()
	expectRecovery(t, srv, alice, bob)
	waitForLong(t, "the feed to be answered fresh", 60*time.Second, func() bool {
		r := srv.do("GET", feed, "", nil)
		return r.StatusCode == http.StatusOK && r.Header.Get("Cache-Status") == ""
	})
	expectNoServerErrors(t, srv)
}

// waitStale polls path until it is served from a stale copy (the fresh
// cache may answer for its short TTL first); every answer meanwhile must be
// a 200. It checks the marks of the stale answer and returns it.
func waitStale(t *testing.T, srv *instance, path string) response {
	t.Helper()
	var r response
	waitFor(t, path+" to be served stale", func() bool {
		r = srv.do("GET", path, "", nil)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s without the database: %d %s; want 200 from the stale copy", path, r.StatusCode, r.Body)
		}
		return r.Header.Get("Cache-Status") != ""
	})
	if got := r.Header.Get("Cache-Status"); got != httpapi.StaleCacheStatus {
		t.Errorf("GET %s: Cache-Status %q, want %q", path, got, httpapi.StaleCacheStatus)
	}
	age, err := strconv.Atoi(r.Header.Get("Age"))
	if err != nil || age < 0 || age > int(staleFor/time.Second) {
		t.Errorf("GET %s: Age %q, want whole seconds up to REEL_STALE_FOR", path, r.Header.Get("Age"))
	}
	return r
}

// expectFresh checks that an answer carries no stale marks.
func expectFresh(t *testing.T, r response) {
	t.Helper()
	if r.Header.Get("Cache-Status") != "" || r.Header.Get("Age") != "" {
		t.Errorf("%s %s: marked stale (Cache-Status %q, Age %q) while the database answers",
			r.Request.Method, r.Request.URL.Path, r.Header.Get("Cache-Status"), r.Header.Get("Age"))
	}
}

// expectShowsVideo checks that a card, a feed page or a Douyin feed holds
// the video id.
func expectShowsVideo(t *testing.T, r response, id int64) {
	t.Helper()
	var body struct {
		ID        int64                `json:"id"`
		Videos    []struct{ ID int64 } `json:"videos"`
		VideoList []struct{ ID int64 } `json:"video_list"`
	}
	r.json(t, &body)
	ids := []int64{body.ID}
	for _, v := range append(body.Videos, body.VideoList...) {
		ids = append(ids, v.ID)
	}
	for _, got := range ids {
		if got == id {
			return
		}
	}
	t.Errorf("%s %s: video %d missing from %s", r.Request.Method, r.Request.URL.Path, id, r.Body)
}

func douyinStatus(t *testing.T, r response) int {
	t.Helper()
	var m struct {
		StatusCode int `json:"status_code"`
	}
	r.json(t, &m)
	if r.StatusCode != http.StatusOK {
		t.Errorf("Douyin answer with HTTP status %d", r.StatusCode)
	}
	return m.StatusCode
}

// TestLoadShedding fills REEL_MAX_INFLIGHT with requests whose bodies
// never finish arriving (each holds its place until its deadline, minutes
// away): further API requests are refused at once with 503 and
// Retry-After, on /api/v1 and /douyin alike, while media, health checks,
// metrics and uploads keep answering; once the slow requests end, the API
// answers again.
func TestLoadShedding(t *testing.T) {
	srv := startServer(t, map[string]string{
		"REEL_MAX_INFLIGHT":    "2",
		"REEL_REQUEST_TIMEOUT": "5m",
	})
	alice := register(t, srv, "alice")
	v := readyVideo(t, srv, alice.token, "public")

	// One at a time, and nothing else meanwhile, so that neither is shed
	// in place of another request.
	var held []net.Conn
	for i := range 2 {
		held = append(held, holdRequest(t, srv))
		// In flight: the held requests and this /metrics request.
		inFlight := fmt.Sprintf("reel_http_requests_in_flight %d\n", i+2)
		waitFor(t, "the slow request to be in flight", func() bool {
			return strings.Contains(string(srv.do("GET", "/metrics", "", nil).Body), inFlight)
		})
	}
	var shed response
	waitFor(t, "API requests to be shed", func() bool {
		shed = srv.do("GET", "/api/v1/feed", "", nil)
		return shed.StatusCode == http.StatusServiceUnavailable
	})
	expectUnavailable(t, shed)
	if got := shed.Header.Get("Retry-After"); got != "1" {
		t.Errorf("shed request: Retry-After %q, want 1", got)
	}
	expectUnavailable(t, srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", v.ID), alice.token, nil))
	if r := srv.do("GET", "/douyin/feed/", "", nil); douyinStatus(t, r) != 10 || r.Header.Get("Retry-After") != "1" {
		t.Errorf("shed Douyin request: %s, Retry-After %q; want status_code 10 with Retry-After 1", r.Body, r.Header.Get("Retry-After"))
	}

	// What is not counted keeps answering.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if r := srv.do("GET", path, "", nil); r.StatusCode != http.StatusOK {
			t.Errorf("GET %s while the API is saturated: %d %s", path, r.StatusCode, r.Body)
		}
	}
	for _, u := range []string{v.CoverURL, v.PlayURL} {
		resp, body := fetch(t, "GET", u)
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("media %s while the API is saturated: %d", u, resp.StatusCode)
		}
	}
	tus := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", alice.token, nil,
		"Upload-Length", "1000", "Upload-Metadata", tusMetadata("filename", "clip.mp4"))
	if tus.StatusCode != http.StatusCreated {
		t.Errorf("tus creation while the API is saturated: %d, want 201", tus.StatusCode)
	}
	metrics := string(srv.do("GET", "/metrics", "", nil).Body)
	if n := metricValue(metrics, "reel_http_requests_shed_total"); n < 3 {
		t.Errorf("reel_http_requests_shed_total %v, want at least the 3 requests shed above:\n%s", n, grepLines(metrics, "shed"))
	}

	for _, c := range held {
		c.Close()
	}
	waitFor(t, "the API to answer again", func() bool {
		return srv.do("GET", "/api/v1/feed", "", nil).StatusCode == http.StatusOK
	})
	expectNoServerErrors(t, srv)
}

// holdRequest starts a sign-in whose body never finishes arriving: the
// handler waits for it, holding its place among the requests in flight,
// until the connection closes.
func holdRequest(t *testing.T, srv *instance) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_, err = io.WriteString(c, "POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"+
		"Content-Type: application/json\r\nContent-Length: 64\r\n\r\n{\"username\":")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// metricValue returns the value of an unlabelled metric, -1 when absent.
func metricValue(metrics, name string) float64 {
	sc := bufio.NewScanner(strings.NewReader(metrics))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return f
			}
		}
	}
	return -1
}
