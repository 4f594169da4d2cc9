package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/media/mediatest"
)

// sessionCookie returns the reel_session cookie r sets, or nil.
func sessionCookie(r response) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == "reel_session" {
			return c
		}
	}
	return nil
}

// browserSignIn signs name in (or up, with path /api/v1/users) as the web
// app does, and checks the cookie it gets: HttpOnly, SameSite=Lax, Path=/,
// for the token's lifetime, and a body without the token.
func browserSignIn(t *testing.T, srv *instance, path, name string, headers ...string) *http.Cookie {
	t.Helper()
	r := srv.do("POST", path, "", map[string]string{"username": name, "password": "secret-1"},
		append([]string{"X-Reel-Session", "cookie", "Sec-Fetch-Site", "same-origin", "Origin", srv.URL}, headers...)...)
	if r.StatusCode != 200 && r.StatusCode != 201 {
		t.Fatalf("%s: %d %s", path, r.StatusCode, r.Body)
	}
	var s session
	r.json(t, &s)
	if s.Token != "" || s.User.Username != name || !strings.Contains(string(r.Body), `"expires_at"`) {
		t.Errorf("%s answered %s: the body must not carry the token", path, r.Body)
	}
	c := sessionCookie(r)
	if c == nil || c.Value == "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" ||
		c.MaxAge < int((7*24*time.Hour-time.Minute).Seconds()) {
		t.Fatalf("%s: session cookie %+v (Set-Cookie %q)", path, c, r.Header.Values("Set-Cookie"))
	}
	return c
}

// withCookie is a browser request's headers on reel's own page: the cookie
// and what Chromium sends for a same-origin fetch.
func withCookie(srv *instance, c *http.Cookie, extra ...string) []string {
	return append([]string{"Cookie", c.Name + "=" + c.Value, "Sec-Fetch-Site", "same-origin", "Origin", srv.URL}, extra...)
}

// TestBrowserSession is the web app's session: signed in by a cookie that
// no script can read, accepted wherever a bearer token is (event streams
// and tus uploads included), refused for changes sent from other sites,
// and gone at sign-out.
func TestBrowserSession(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_CORS_ORIGINS": "https://partner.example", "REEL_TRUSTED_PROXIES": "127.0.0.1"})
	ann := signUp(t, srv, "ann")
	r := uploadMultipart(t, srv, ann, mediatest.Clip(t, "noaudio"), map[string]string{"title": "ann's"}, false)
	expect(t, r, http.StatusAccepted, "")
	var v videoJSON
	r.json(t, &v)
	like := fmt.Sprintf("/api/v1/videos/%d/like", v.ID)

	// A bearer client gets its token and no cookie, as before.
	r = srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": "ann", "password": "secret-1"})
	if sessionCookie(r) != nil || !strings.Contains(string(r.Body), `"token":"ey`) {
		t.Errorf("bearer sign-in: Set-Cookie %q, body %s", r.Header.Values("Set-Cookie"), r.Body)
	}
	expect(t, srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": "ann", "password": "secret-1"},
		"X-Reel-Session", "please"), 400, "bad_request")

	browserSignIn(t, srv, "/api/v1/users", "bob")
	bob := browserSignIn(t, srv, "/api/v1/sessions", "bob")
	if bob.Secure {
		t.Error("the cookie is Secure over plain HTTP: a browser would not keep it")
	}
	var me struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
	}
	r = srv.do("GET", "/api/v1/me", "", nil, withCookie(srv, bob)...)
	expect(t, r, 200, "")
	if r.json(t, &me); me.Username != "bob" || !strings.Contains(string(r.Body), `"is_admin":false`) {
		t.Fatalf("me: %s", r.Body)
	}
	// Who is signed in, asked without an error: the same user by the
	// cookie or the bearer token, null for nobody; a bad token is 401.
	r = srv.do("GET", "/api/v1/session", "", nil, withCookie(srv, bob)...)
	expect(t, r, 200, "")
	if want := `{"user":` + string(bytes.TrimSpace(srv.do("GET", "/api/v1/me", "", nil, withCookie(srv, bob)...).Body)) + "}"; string(bytes.TrimSpace(r.Body)) != want {
		t.Errorf("session by cookie: %s, want %s", r.Body, want)
	}
	if r = srv.do("GET", "/api/v1/session", ann, nil); r.StatusCode != 200 || !strings.Contains(string(r.Body), `{"user":{"id":1,"username":"ann",`) ||
		!strings.Contains(string(r.Body), `"is_admin":false}}`) {
		t.Errorf("session by bearer: %d %s", r.StatusCode, r.Body)
	}
	if r = srv.do("GET", "/api/v1/session", "", nil); r.StatusCode != 200 || string(bytes.TrimSpace(r.Body)) != `{"user":null}` || sessionCookie(r) != nil {
		t.Errorf("session of nobody: %d %s %q", r.StatusCode, r.Body, r.Header.Values("Set-Cookie"))
	}
	expect(t, srv.do("GET", "/api/v1/session", "not-a-token", nil), http.StatusUnauthorized, "unauthorized")

	// Changes: from reel's own pages, yes; from another site, no. An
	// origin of REEL_CORS_ORIGINS is trusted; a bearer token is no cookie
	// a browser attaches by itself, so it is not checked.
	expect(t, srv.do("PUT", like, "", nil, withCookie(srv, bob)...), http.StatusNoContent, "")
	cookie := "reel_session=" + bob.Value
	for _, h := range [][]string{
		{"Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
		{"Cookie", cookie, "Sec-Fetch-Site", "same-site", "Origin", "https://sub.evil.example"},
		{"Cookie", cookie, "Origin", "https://evil.example"}, // a browser without Sec-Fetch-Site
	} {
		expect(t, srv.do("DELETE", like, "", nil, h...), http.StatusForbidden, "forbidden")
		expect(t, srv.do("PUT", "/api/v1/users/1/follow", "", nil, h...), http.StatusForbidden, "forbidden")
		expect(t, srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": "bob", "password": "secret-1"},
			append(h, "X-Reel-Session", "cookie")...), http.StatusForbidden, "forbidden")
		expect(t, srv.do("GET", "/api/v1/me", "", nil, h...), 200, "") // reads are not changes
	}
	var card struct {
		IsLiked   bool  `json:"is_liked"`
		LikeCount int64 `json:"like_count"`
	}
	srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", v.ID), "", nil, withCookie(srv, bob)...).json(t, &card)
	if !card.IsLiked || card.LikeCount != 1 {
		t.Fatalf("after the refused cross-site unlike: %+v", card)
	}
	expect(t, srv.do("PUT", "/api/v1/users/1/follow", "", nil,
		"Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", "https://partner.example"), http.StatusNoContent, "")
	expect(t, srv.do("DELETE", fmt.Sprintf("/api/v1/users/%d/follow", me.ID), ann, nil, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"),
		http.StatusNoContent, "")

	// EventSource sends no header but the cookie: the stream is bob's.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/events", nil)
	req.Header.Set("Cookie", cookie)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events with the cookie: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && sc.Text() != ": subscribed" {
	}
	expect(t, srv.do("PUT", fmt.Sprintf("/api/v1/users/%d/follow", me.ID), ann, nil), http.StatusNoContent, "")
	var lines []string
	for sc.Scan() && (sc.Text() != "" || len(lines) == 0) {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, ":") {
			lines = append(lines, l)
		}
	}
	if got := strings.Join(lines, "\n"); !strings.Contains(got, "event: follow") || !strings.Contains(got, `"user_id":1`) {
		t.Fatalf("bob's stream: %q", got)
	}
	cancel()

	// tus: created and resumed with the cookie alone, refused cross-site.
	create := func(headers ...string) *http.Response {
		return tusReq(t, "POST", srv.URL+"/api/v1/uploads/", "", nil,
			append([]string{"Upload-Length", "1000", "Upload-Metadata", tusMetadata("filename", "clip.mp4")}, headers...)...)
	}
	up := create(withCookie(srv, bob)...)
	if up.StatusCode != http.StatusCreated || up.Header.Get("Video-ID") == "" {
		t.Fatalf("tus creation with the cookie: %d", up.StatusCode)
	}
	if head := tusReq(t, "HEAD", up.Header.Get("Location"), "", nil, withCookie(srv, bob)...); head.StatusCode != 200 || head.Header.Get("Upload-Offset") != "0" {
		t.Errorf("tus HEAD with the cookie: %d", head.StatusCode)
	}
	if patch := tusReq(t, "PATCH", up.Header.Get("Location"), "", make([]byte, 10),
		"Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example", "Upload-Offset", "0"); patch.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site tus PATCH with the cookie: %d", patch.StatusCode)
	}
	if c := create("Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); c.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site tus creation with the cookie: %d", c.StatusCode)
	}
	if c := create(); c.StatusCode != http.StatusUnauthorized {
		t.Errorf("tus creation without credentials: %d", c.StatusCode)
	}

	// Sign-out clears the cookie, and its token stops working: with the
	// cookie a reader goes on as anonymous (and is told again to drop
	// it), a route that needs a user is 401.
	r = srv.do("DELETE", "/api/v1/sessions/current", "", nil, withCookie(srv, bob)...)
	expect(t, r, http.StatusNoContent, "")
	if c := sessionCookie(r); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("sign-out: Set-Cookie %q", r.Header.Values("Set-Cookie"))
	}
	r = srv.do("GET", "/api/v1/me", "", nil, withCookie(srv, bob)...)
	expect(t, r, http.StatusUnauthorized, "unauthorized")
	if c := sessionCookie(r); c == nil || c.MaxAge >= 0 {
		t.Errorf("a dead cookie is not dropped: Set-Cookie %q", r.Header.Values("Set-Cookie"))
	}
	r = srv.do("GET", "/api/v1/session", "", nil, withCookie(srv, bob)...)
	if c := sessionCookie(r); r.StatusCode != 200 || string(bytes.TrimSpace(r.Body)) != `{"user":null}` || c == nil || c.MaxAge >= 0 {
		t.Errorf("session with the signed-out cookie: %d %s, Set-Cookie %q", r.StatusCode, r.Body, r.Header.Values("Set-Cookie"))
	}
	srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", v.ID), "", nil, withCookie(srv, bob)...).json(t, &card)
	if card.IsLiked {
		t.Error("the signed-out cookie still reads as bob")
	}
	expect(t, srv.do("PUT", like, "", nil, withCookie(srv, bob)...), http.StatusUnauthorized, "unauthorized")
	expect(t, srv.do("GET", "/api/v1/me", bob.Value, nil), http.StatusUnauthorized, "unauthorized")
	if c := create(withCookie(srv, bob)...); c.StatusCode != http.StatusUnauthorized {
		t.Errorf("tus creation with the signed-out cookie: %d", c.StatusCode)
	}

	// Secure when the client came over https through a trusted proxy
	// (127.0.0.1 here); not on a forwarded header from anyone else.
	if c := browserSignIn(t, srv, "/api/v1/sessions", "bob", "X-Forwarded-Proto", "https"); !c.Secure {
		t.Error("no Secure flag behind a trusted proxy speaking https")
	}
	other := &http.Client{Transport: &http.Transport{DialContext: dialFrom("127.0.0.2")}}
	req, _ = http.NewRequest("POST", srv.URL+"/api/v1/sessions", strings.NewReader(`{"username":"bob","password":"secret-1"}`))
	req.Header.Set("X-Reel-Session", "cookie")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err = other.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := sessionCookie(response{Response: resp}); resp.StatusCode != 200 || c == nil || c.Secure {
		t.Errorf("X-Forwarded-Proto from an untrusted client: %d, cookie %+v", resp.StatusCode, c)
	}
}

// Over TLS the session cookie is Secure.
func TestBrowserSessionOverTLS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t)
	srv := startServer(t, map[string]string{"REEL_TLS_CERT": certFile, "REEL_TLS_KEY": keyFile})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/users", strings.NewReader(`{"username":"tess","password":"secret-1"}`))
		req.Header.Set("X-Reel-Session", "cookie")
		if resp, err = client.Do(req); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := sessionCookie(response{Response: resp}); resp.StatusCode != 201 || c == nil || !c.Secure || !c.HttpOnly {
		t.Errorf("sign-up over TLS: %d, cookie %+v", resp.StatusCode, c)
	}
}

// TestCORS: the web apps of REEL_CORS_ORIGINS may call /api/v1 from
// browsers, with credentials and the headers they need; no other origin
// may read its answers. Preflights are answered before authentication and
// rate limits. tus, media and the Douyin API keep their own rules.
func TestCORS(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_CORS_ORIGINS": "https://app.example,http://localhost:5173", "REEL_API_READ_LIMIT": "3/1m"})
	const app, evil = "https://app.example", "https://evil.example"
	preflight := func(path, origin, method string) response {
		return srv.do("OPTIONS", path, "", nil, "Origin", origin, "Access-Control-Request-Method", method,
			"Access-Control-Request-Headers", "authorization,content-type,x-reel-session")
	}
	hasAll := func(list string, want ...string) bool {
		for _, w := range want {
			if !strings.Contains(strings.ToLower(list), strings.ToLower(w)) {
				return false
			}
		}
		return true
	}
	for _, path := range []string{"/api/v1/me", "/api/v1/videos/7/like", "/api/v1/sessions", "/api/v1/events"} {
		r := preflight(path, app, "PUT")
		h := r.Header
		if r.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != app ||
			h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Max-Age") == "" ||
			!hasAll(h.Get("Access-Control-Allow-Methods"), "GET", "POST", "PUT", "PATCH", "DELETE") ||
			!hasAll(h.Get("Access-Control-Allow-Headers"), "Authorization", "Content-Type", "Last-Event-ID", "X-Reel-Session") ||
			!hasAll(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Errorf("preflight of %s from %s: %d %v", path, app, r.StatusCode, h)
		}
		r = preflight(path, evil, "PUT")
		if r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight of %s from %s: %d %v", path, evil, r.StatusCode, r.Header)
		}
	}
	if r := preflight("/api/v1/feed", "http://localhost:5173", "GET"); r.Header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" {
		t.Errorf("second listed origin: %v", r.Header)
	}

	// Answers, errors included, carry the listed origin and expose what
	// clients need; others carry no CORS at all but Vary.
	checkListed := func(r response, what string) {
		t.Helper()
		h := r.Header
		if h.Get("Access-Control-Allow-Origin") != app || h.Get("Access-Control-Allow-Credentials") != "true" ||
			!hasAll(h.Get("Access-Control-Expose-Headers"), "Retry-After", "RateLimit", "RateLimit-Policy", "Location",
				"Video-ID", "X-Request-ID", "Cache-Status", "Age") || !hasAll(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Errorf("%s from %s: %d %v", what, app, r.StatusCode, h)
		}
	}
	r := srv.do("GET", "/api/v1/feed", "", nil, "Origin", app)
	expect(t, r, 200, "")
	checkListed(r, "feed")
	r = srv.do("GET", "/api/v1/feed", "", nil, "Origin", evil)
	if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "" || !hasAll(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
		t.Errorf("feed from %s: %d %v", evil, r.StatusCode, r.Header)
	}
	r = srv.do("GET", "/api/v1/me", "", nil, "Origin", app)
	expect(t, r, http.StatusUnauthorized, "unauthorized")
	checkListed(r, "401")
	// The read budget (3) is spent; a preflight costs none and is still
	// answered, and the 429 is readable with its Retry-After.
	r = srv.do("GET", "/api/v1/feed", "", nil, "Origin", app)
	expect(t, r, http.StatusTooManyRequests, "rate_limited")
	checkListed(r, "429")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if r := preflight("/api/v1/feed", app, "GET"); r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("preflight after the budget is spent: %d %v", r.StatusCode, r.Header)
	}

	// tus answers every origin as before, with credentials for the listed
	// ones; media every origin ("*"); the Douyin API none.
	for origin, creds := range map[string]string{app: "true", evil: ""} {
		r := srv.do("OPTIONS", "/api/v1/uploads/", "", nil, "Origin", origin, "Access-Control-Request-Method", "POST")
		if r.Header.Get("Access-Control-Allow-Origin") != origin || r.Header.Get("Access-Control-Allow-Credentials") != creds ||
			!hasAll(r.Header.Get("Access-Control-Allow-Headers"), "Authorization", "Upload-Length", "Tus-Resumable") {
			t.Errorf("tus preflight from %s: %d %v", origin, r.StatusCode, r.Header)
		}
	}
	r = srv.do("OPTIONS", "/media/videos/1/play.mp4", "", nil, "Origin", evil, "Access-Control-Request-Method", "GET")
	if r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("media preflight: %d %v", r.StatusCode, r.Header)
	}
	r = srv.do("GET", "/douyin/feed/", "", nil, "Origin", app)
	if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("douyin feed from %s: %d %v", app, r.StatusCode, r.Header)
	}
}

// Without REEL_CORS_ORIGINS /api/v1 answers no CORS at all, as before.
func TestNoCORS(t *testing.T) {
	srv := startServer(t, nil)
	r := srv.do("GET", "/api/v1/feed", "", nil, "Origin", "https://app.example")
	if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "" || len(r.Header.Values("Vary")) != 0 && strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
		t.Errorf("feed: %d %v", r.StatusCode, r.Header)
	}
	r = srv.do("OPTIONS", "/api/v1/feed", "", nil, "Origin", "https://app.example", "Access-Control-Request-Method", "GET")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight: %d %v", r.StatusCode, r.Header)
	}
}

// TestProfileByName: /u/{username} pages find their user by name, as
// sign-in does (any case, any normal form), and the owner's own list shows
// what is still processing and what failed, with the reason, which nobody
// else sees.
func TestProfileByName(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_MAX_DURATION": "10s"})
	jose := signUp(t, srv, "Jos\u00e9")
	bob := signUp(t, srv, "bob")
	var byID struct {
		ID          int64  `json:"id"`
		Username    string `json:"username"`
		IsFollowing bool   `json:"is_following"`
		VideoCount  int64  `json:"video_count"`
	}
	r := srv.do("GET", "/api/v1/me", jose, nil)
	r.json(t, &byID)
	want := string(srv.do("GET", fmt.Sprintf("/api/v1/users/%d", byID.ID), "", nil).Body)
	for _, name := range []string{"Jos%C3%A9", "jos%C3%A9", "JOS%C3%89", "Jose%CC%81" /* e + combining acute */} {
		r := srv.do("GET", "/api/v1/users/@"+name, "", nil)
		expect(t, r, 200, "")
		if string(r.Body) != want {
			t.Errorf("@%s: %s, want %s", name, r.Body, want)
		}
	}
	for _, name := range []string{"nobody", "", strings.Repeat("a", 2000)} {
		expect(t, srv.do("GET", "/api/v1/users/@"+name, "", nil), 404, "not_found")
	}
	expect(t, srv.do("PUT", fmt.Sprintf("/api/v1/users/%d/follow", byID.ID), bob, nil), http.StatusNoContent, "")
	srv.do("GET", "/api/v1/users/@jos%C3%A9", bob, nil).json(t, &byID)
	if !byID.IsFollowing || byID.Username != "Jos\u00e9" {
		t.Errorf("as bob: %+v", byID)
	}
	expect(t, srv.do("GET", "/api/v1/users/@bob", "not-a-token", nil), 401, "unauthorized")

	// One upload that will fail in processing (its header hides a
	// timestamp gap), one that goes through.
	r = uploadMultipart(t, srv, jose, mediatest.Clip(t, "gap"), map[string]string{"title": "too big"}, false)
	expect(t, r, http.StatusAccepted, "")
	var failed videoJSON
	r.json(t, &failed)
	if failed = waitVideo(t, srv, jose, failed.ID); failed.Status != "failed" {
		t.Fatalf("video %+v, want failed", failed)
	}
	r = uploadMultipart(t, srv, jose, mediatest.Clip(t, "noaudio"), map[string]string{"title": "fine", "visibility": "private"}, false)
	expect(t, r, http.StatusAccepted, "")
	var fine videoJSON
	r.json(t, &fine)

	own := myVideos(t, srv, jose)
	if len(own) != 2 || own[0].ID != fine.ID || own[1].ID != failed.ID {
		t.Fatalf("the owner's list: %+v", own)
	}
	if own[1].Status != "failed" || !strings.Contains(own[1].Error, "past its stated duration") || own[1].Title != "too big" {
		t.Errorf("the failed video in the owner's list: %+v", own[1])
	}
	if own[0].Status == "failed" || own[0].Error != "" || own[0].Visibility != "private" || own[0].SizeBytes == 0 {
		t.Errorf("the processing video in the owner's list: %+v", own[0])
	}
	var theirs struct {
		Videos []videoJSON `json:"videos"`
	}
	srv.do("GET", fmt.Sprintf("/api/v1/users/%d/videos", byID.ID), bob, nil).json(t, &theirs)
	if len(theirs.Videos) != 0 {
		t.Errorf("bob sees jose's unfinished, failed or private videos: %+v", theirs.Videos)
	}
}
