package main

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// rateLimitHeader reads the remaining units r of a RateLimit field for
// budget ("reads";r=N;t=S), failing the test on any other shape.
func rateLimitHeader(t *testing.T, r response, budget string) (remaining, reset int) {
	t.Helper()
	m := regexp.MustCompile(`^"` + budget + `";r=(\d+);t=(\d+)$`).FindStringSubmatch(r.Header.Get("RateLimit"))
	if m == nil {
		t.Fatalf("%s %s: RateLimit %q, want \"%s\";r=N;t=S", r.Request.Method, r.Request.URL.Path, r.Header.Get("RateLimit"), budget)
	}
	remaining, _ = strconv.Atoi(m[1])
	reset, _ = strconv.Atoi(m[2])
	return remaining, reset
}

// expectLimited checks a 429 of an API budget: the error envelope, a
// Retry-After of at least a second, and the draft's fields.
func expectLimited(t *testing.T, r response, budget, policy string) {
	t.Helper()
	expect(t, r, http.StatusTooManyRequests, "rate_limited")
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("429 with Retry-After %q", r.Header.Get("Retry-After"))
	}
	if got := r.Header.Get("RateLimit-Policy"); got != policy {
		t.Errorf("429 with RateLimit-Policy %q, want %q", got, policy)
	}
	if remaining, reset := rateLimitHeader(t, r, budget); remaining != 0 || reset < 1 {
		t.Errorf("429 with RateLimit r=%d t=%d, want r=0 and t ≥ 1", remaining, reset)
	}
}

// TestAPIRateLimits: one node, no Redis. Each budget counts its own
// requests per client, answers 429 with the headers once spent, and
// neither health nor another budget is touched by it; Douyin reads spend
// the same budget and are refused in Douyin's shape.
func TestAPIRateLimits(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_API_READ_LIMIT": "3/1h", "REEL_API_WRITE_LIMIT": "5/1m"})
	for i := range 3 {
		r := srv.do("GET", "/api/v1/feed", "", nil)
		expect(t, r, http.StatusOK, "")
		if got := r.Header.Get("RateLimit-Policy"); got != `"reads";q=3;w=3600` {
			t.Errorf("RateLimit-Policy %q", got)
		}
		if remaining, _ := rateLimitHeader(t, r, "reads"); remaining != 2-i {
			t.Errorf("read %d: r=%d, want %d", i+1, remaining, 2-i)
		}
	}
	expectLimited(t, srv.do("GET", "/api/v1/feed", "", nil), "reads", `"reads";q=3;w=3600`)
	// The same address on /douyin: the same reads budget, refused as
	// Douyin answers (code 9), with the same headers.
	dr := srv.do("GET", "/douyin/feed/", "", nil)
	var m map[string]any
	dr.json(t, &m)
	expectCode(t, "a Douyin read over the budget", m, 9)
	if dr.StatusCode != http.StatusOK || dr.Header.Get("Retry-After") == "" || dr.Header.Get("RateLimit-Policy") != `"reads";q=3;w=3600` {
		t.Errorf("Douyin refusal: %d, Retry-After %q, RateLimit-Policy %q", dr.StatusCode, dr.Header.Get("Retry-After"), dr.Header.Get("RateLimit-Policy"))
	}
	// Media is not an API route: a bad media URL is still 403, not 429.
	expect(t, srv.do("GET", "/media/v/1/nothing.mp4", "", nil), http.StatusForbidden, "forbidden")
	// Health is never limited.
	for range 5 {
		expect(t, srv.do("GET", "/healthz", "", nil), http.StatusOK, "")
	}
	// Writes are another budget; a signed-in user is a client of their own.
	token := signUp(t, srv, "reader")
	for i := range 3 {
		r := srv.do("GET", "/api/v1/me", token, nil)
		expect(t, r, http.StatusOK, "")
		if remaining, _ := rateLimitHeader(t, r, "reads"); remaining != 2-i {
			t.Errorf("user's read %d: r=%d, want %d", i+1, remaining, 2-i)
		}
	}
	expectLimited(t, srv.do("GET", "/api/v1/me", token, nil), "reads", `"reads";q=3;w=3600`)
	r := srv.do("PUT", "/api/v1/me/password", token, map[string]string{"old_password": "secret-1", "new_password": "secret-2"})
	expect(t, r, http.StatusNoContent, "")
	if remaining, _ := rateLimitHeader(t, r, "writes"); remaining != 4 {
		t.Errorf("the user's first write (the sign-up was the address's): r=%d, want 4 of 5", remaining)
	}
}

// TestRateLimitsAcrossNodes: two nodes sharing one database and one Redis
// hold every limit for the pair. Failed logins spread over A and B are
// refused at exactly REEL_LOGIN_LIMIT; a read budget spread over them runs
// out at exactly REEL_API_READ_LIMIT. With Redis killed, both keep
// answering on their own budgets; once it is back they share again.
func TestRateLimitsAcrossNodes(t *testing.T) {
	redis := redistest.Start(t)
	env := map[string]string{
		"REEL_DATABASE_URL":     sqltest.PostgresURL(t),
		"REEL_SECRET":           "a shared secret of at least thirty-two bytes",
		"REEL_REDIS_URL":        redis.URL,
		"REEL_LOGIN_LIMIT":      "4/1h",
		"REEL_LOGIN_ADDR_LIMIT": "100/1h",
		"REEL_API_READ_LIMIT":   "10/1h",
	}
	a := startServer(t, env)
	b := startServer(t, env)
	nodes := []*instance{a, b}
	token := signUp(t, a, "wanderer")

	wrong := map[string]string{"username": "wanderer", "password": "not-the-password"}
	for i := range 4 {
		expect(t, nodes[i%2].do("POST", "/api/v1/sessions", "", wrong), http.StatusUnauthorized, "unauthorized")
	}
	for i, n := range nodes {
		r := n.do("POST", "/api/v1/sessions", "", wrong)
		expect(t, r, http.StatusTooManyRequests, "rate_limited")
		if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 {
			t.Errorf("login refused on node %d with Retry-After %q", i, r.Header.Get("Retry-After"))
		}
	}

	for i := range 10 {
		r := nodes[i%2].do("GET", "/api/v1/me", token, nil)
		expect(t, r, http.StatusOK, "")
		if remaining, _ := rateLimitHeader(t, r, "reads"); remaining != 9-i {
			t.Errorf("read %d (node %d): r=%d, want %d: the nodes do not share the budget", i+1, i%2, remaining, 9-i)
		}
	}
	for _, n := range nodes {
		expectLimited(t, n.do("GET", "/api/v1/me", token, nil), "reads", `"reads";q=10;w=3600`)
	}

	// Redis gone: each node limits on its own (a fresh local budget), and
	// no request fails.
	redis.Kill()
	for i, n := range nodes {
		for j := range 12 {
			r := n.do("GET", "/api/v1/me", token, nil)
			if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("node %d, read %d with Redis down: %d %s", i, j+1, r.StatusCode, r.Body)
			}
			if j == 11 {
				expectLimited(t, r, "reads", `"reads";q=10;w=3600`)
			}
		}
	}
	// Back (empty, as after a crash): the nodes share a fresh budget again.
	redis.Restart()
	waitFor(t, "both nodes back on Redis", func() bool {
		r := a.do("GET", "/api/v1/me", token, nil)
		if r.StatusCode != http.StatusOK {
			return false
		}
		remaining, _ := rateLimitHeader(t, r, "reads")
		return remaining == 9 // the first read of a fresh shared bucket
	})
	// B's own bucket is spent: its first 200 comes from Redis.
	var r response
	waitFor(t, "node B back on Redis", func() bool {
		r = b.do("GET", "/api/v1/me", token, nil)
		return r.StatusCode == http.StatusOK
	})
	if remaining, _ := rateLimitHeader(t, r, "reads"); remaining != 8 {
		t.Errorf("node B after the restart: r=%d, want 8 (the bucket A spent from)", remaining)
	}
}

// TestUploadRateLimit: creating a tus upload spends the uploads budget of
// its user; the PATCHes of an upload spend nothing.
func TestUploadRateLimit(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_API_UPLOAD_LIMIT": "1/1h", "REEL_WORKERS": "0"})
	token := signUp(t, srv, "uploader")
	// Without the slash tus's endpoint is not there: the JSON 404 that
	// names the right URL, and nothing spent (the one upload below).
	for _, m := range []string{"POST", "PATCH", "GET"} {
		r := srv.do(m, "/api/v1/uploads", token, nil, "Upload-Length", "1000", "Tus-Resumable", "1.0.0")
		expect(t, r, http.StatusNotFound, "not_found")
		if !strings.Contains(string(r.Body), "/api/v1/uploads/ (with the trailing slash)") || r.Header.Get("RateLimit") != "" {
			t.Errorf("%s /api/v1/uploads: %v %s", m, r.Header, r.Body)
		}
	}
	loc, _ := createUpload(t, srv, token, 1000)
	for off := 0; off < 500; off += 100 {
		resp := tusReq(t, "PATCH", loc, token, make([]byte, 100), "Upload-Offset", strconv.Itoa(off))
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH at %d: %d", off, resp.StatusCode)
		}
		if h := resp.Header.Get("RateLimit"); h != "" {
			t.Errorf("a PATCH was counted: RateLimit %q", h)
		}
	}
	resp := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", token, nil, "Upload-Length", "1000",
		"Upload-Metadata", tusMetadata("filename", "clip.mp4"))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("RateLimit-Policy") != `"uploads";q=1;w=3600` || resp.Header.Get("RateLimit") == "" {
		t.Errorf("second upload in the hour: %d, Retry-After %q, RateLimit-Policy %q, RateLimit %q", resp.StatusCode,
			resp.Header.Get("Retry-After"), resp.Header.Get("RateLimit-Policy"), resp.Header.Get("RateLimit"))
	}
	// The multipart route spends the same budget.
	expect(t, srv.do("POST", "/api/v1/videos", token, nil), http.StatusTooManyRequests, "rate_limited")
	// Another user has a budget of their own.
	createUpload(t, srv, signUp(t, srv, "neighbour"), 1000)
}
