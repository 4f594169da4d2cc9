package httpapi

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// standInApp is a tiny built app: what npm run build writes, in miniature.
var standInApp = fstest.MapFS{
	"index.html":                {Data: []byte(`<!doctype html><html><head><script type="module" src="/assets/app-1a2b3c.js"></script></head><body></body></html>`)},
	"assets/app-1a2b3c.js":      {Data: []byte(strings.Repeat("console.log('reel');\n", 200))},
	"assets/app-4d5e6f.css":     {Data: []byte("body{margin:0}")},
	"assets/inter-7a8b9c.woff2": {Data: []byte("wOF2 not really")},
	"favicon.ico":               {Data: []byte("ico")},
}

func appServer(t *testing.T, d Deps) http.Handler {
	t.Helper()
	d.Logger, d.Metrics = slog.New(slog.DiscardHandler), NewMetrics()
	if d.AllowedHosts == nil {
		d.AllowedHosts = []string{"example.com"} // httptest's Host
	}
	h, err := NewServer(d)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(h http.Handler, path string, headers ...string) *httptest.ResponseRecorder {
	return send(h, "GET", path, headers...)
}

func send(h http.Handler, method, path string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// A browser's navigation to any app route gets index.html, revalidated on
// every use, with the strict headers of the contract; API, media, asset and
// service paths keep their JSON 404s, and so does a client that does not
// ask for HTML.
func TestAppPages(t *testing.T) {
	h := appServer(t, Deps{App: standInApp})
	index := string(standInApp["index.html"].Data)
	for _, path := range []string{"/", "/following", "/upload", "/messages", "/messages/7", "/account", "/signin",
		"/signup", "/v/12", "/u/alice", "/u/%E5%BC%A0%E4%B8%89", "/index.html", "/somewhere/else?x=1"} {
		w := get(h, path, "Accept", browserAccept)
		if w.Code != 200 || w.Body.String() != index {
			t.Errorf("GET %s: %d %q", path, w.Code, w.Body)
			continue
		}
		hdr := w.Header()
		for k, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
				"media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; font-src 'self'; object-src 'none'; " +
				"base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "same-origin",
			"Cache-Control":          "no-cache",
			"Content-Type":           "text/html; charset=utf-8",
		} {
			if got := hdr.Get(k); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, want)
			}
		}
	}
	// / is the app whatever the client accepts: curl localhost:8080 shows it.
	if w := get(h, "/"); w.Code != 200 || w.Body.String() != index {
		t.Errorf("GET / without Accept: %d", w.Code)
	}
	if w := send(h, "HEAD", "/v/3", "Accept", browserAccept); w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD /v/3: %d %q %v", w.Code, w.Body, w.Header())
	}

	for _, c := range []struct{ method, path, accept string }{
		{"GET", "/api/v1/nope", browserAccept},
		{"GET", "/api/v2", browserAccept},
		{"GET", "/api", browserAccept},
		{"GET", "/douyin/nope/", browserAccept},
		{"GET", "/media", browserAccept}, // /media/* is the media handler's
		{"GET", "/assets/missing-1234.js", browserAccept},
		{"GET", "/assets/", browserAccept},
		{"GET", "/v/12", ""},
		{"GET", "/v/12", "application/json"},
		{"GET", "/u/alice", "*/*"},
		{"POST", "/upload", browserAccept},
		{"DELETE", "/", browserAccept},
	} {
		w := send(h, c.method, c.path, "Accept", c.accept)
		if w.Code != 404 || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") ||
			!strings.Contains(w.Body.String(), `"not_found"`) {
			t.Errorf("%s %s (Accept %q): %d %s %q", c.method, c.path, c.accept, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
	// The service endpoints are routes of their own, never the app.
	if w := get(h, "/healthz", "Accept", browserAccept); w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
		t.Errorf("/healthz: %d %s", w.Code, w.Body)
	}
}

// Hashed assets are cached for good, typed (nosniff holds the browser to
// the type), compressed for clients that accept gzip, and revalidate with
// their ETag; files at the app's root keep their names and are revalidated.
func TestAppAssets(t *testing.T) {
	h := appServer(t, Deps{App: standInApp})
	js := standInApp["assets/app-1a2b3c.js"].Data

	w := get(h, "/assets/app-1a2b3c.js")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), js) || w.Header().Get("Content-Encoding") != "" {
		t.Fatalf("plain: %d %v", w.Code, w.Header())
	}
	for k, want := range map[string]string{
		"Cache-Control":          "public, max-age=31536000, immutable",
		"Content-Type":           "text/javascript; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"Vary":                   "Accept-Encoding",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	plainTag := w.Header().Get("ETag")

	w = get(h, "/assets/app-1a2b3c.js", "Accept-Encoding", "gzip, br")
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || w.Body.Len() >= len(js) {
		t.Fatalf("gzip: %d %v, %d bytes", w.Code, w.Header(), w.Body.Len())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); !bytes.Equal(b, js) {
		t.Error("the gzip form is not the file")
	}
	gzTag := w.Header().Get("ETag")
	if plainTag == "" || gzTag == "" || plainTag == gzTag {
		t.Errorf("ETags %q and %q: each form needs its own", plainTag, gzTag)
	}
	if w := get(h, "/assets/app-1a2b3c.js", "Accept-Encoding", "gzip", "If-None-Match", gzTag); w.Code != 304 {
		t.Errorf("If-None-Match: %d", w.Code)
	}

	for path, want := range map[string]string{
		"/assets/app-4d5e6f.css":     "text/css; charset=utf-8",
		"/assets/inter-7a8b9c.woff2": "font/woff2",
	} {
		w := get(h, path, "Accept-Encoding", "gzip")
		if w.Code != 200 || w.Header().Get("Content-Type") != want || w.Header().Get("Content-Encoding") != "" {
			t.Errorf("%s: %d %v (small or compressed files are sent as they are)", path, w.Code, w.Header())
		}
	}
	w = get(h, "/favicon.ico")
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-cache" || w.Body.String() != "ico" {
		t.Errorf("/favicon.ico: %d %v", w.Code, w.Header())
	}
}

// Without an app (a server built by a test, say), every unknown path is
// the JSON 404 it always was.
func TestNoApp(t *testing.T) {
	h := appServer(t, Deps{})
	for _, path := range []string{"/", "/v/1", "/assets/app.js"} {
		if w := get(h, path, "Accept", browserAccept); w.Code != 404 || !strings.Contains(w.Body.String(), `"not_found"`) {
			t.Errorf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	if _, err := NewServer(Deps{Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(),
		App: fstest.MapFS{"assets/a.js": {}}}); err == nil {
		t.Error("an app without index.html was accepted")
	}
}

// The origin of a CDN in front of /media/ (REEL_PUBLIC_URL) is allowed
// for the app's images, media and fetches, and for nothing else; so is the
// address that media URLs name when the page was opened by a Host that
// reel does not believe (REEL_ALLOWED_HOSTS).
func TestAppMediaOrigins(t *testing.T) {
	h := appServer(t, Deps{App: standInApp, PublicURL: "https://cdn.example", MediaOrigins: []string{"https://cdn.example"}})
	csp := get(h, "/").Header().Get("Content-Security-Policy")
	for _, want := range []string{"img-src 'self' https://cdn.example data: blob:;", "media-src 'self' https://cdn.example blob:;",
		"connect-src 'self' https://cdn.example;", "script-src 'self';", "default-src 'self';"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}

	h = appServer(t, Deps{App: standInApp, AllowedHosts: []string{"reel.example"}})
	r := httptest.NewRequest("GET", "/v/1", nil)
	r.Host = "unknown.example:8080"
	r.Header.Set("Accept", browserAccept)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	csp = w.Header().Get("Content-Security-Policy")
	if w.Code != 200 || !strings.Contains(csp, "media-src 'self' http://localhost blob:;") || !strings.Contains(csp, "connect-src 'self' http://localhost;") {
		t.Errorf("Host not believed: %d CSP %q", w.Code, csp)
	}
	r.Host = "reel.example:8080"
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if csp := w.Header().Get("Content-Security-Policy"); strings.Contains(csp, "localhost") || !strings.Contains(csp, "media-src 'self' blob:;") {
		t.Errorf("Host believed: CSP %q", csp)
	}
}
