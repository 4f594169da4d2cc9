package httpapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// The web app (package web, built into web/dist) is served by the same
// binary: its pages at / and at every app route, its hashed files under
// /assets/. Its files are few and small (the JavaScript budget is 250 KB
// gzipped), so they are read into memory once, each compressed once, and
// served from there.

// appCSP is the Content-Security-Policy of the app's answers: everything
// from reel itself, no inline script or style, no framing. Media and
// covers may also come from the origin of REEL_PUBLIC_URL (a CDN in front
// of /media/), which newAppFiles adds to img-src, media-src and
// connect-src (hls.js fetches playlists and segments).
const appCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; font-src 'self'; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Cache policies: hashed asset names change with their content, so a copy
// never goes stale; index.html and the other files at the app's root keep
// their names and are revalidated on every use (their ETag makes that a 304).
const (
	immutableCache = "public, max-age=31536000, immutable"
	revalidate     = "no-cache"
)

// appFiles are the app's files in memory.
type appFiles struct {
	files map[string]*appFile // by path in the app's root, "assets/app-1a2b.js"
	csp   string
}

// appFile is one file of the app, with its gzip-compressed form when that
// is worth sending.
type appFile struct {
	name        string
	data, gz    []byte
	etag        string // of data; the gzip form's is etag with -gz
	contentType string
}

// newAppFiles reads every file of app. mediaOrigins are origins besides
// reel's own that media URLs may point to.
func newAppFiles(app fs.FS, mediaOrigins []string) (*appFiles, error) {
	a := &appFiles{files: map[string]*appFile{}, csp: withMediaOrigins(appCSP, mediaOrigins...)}
	err := fs.WalkDir(app, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(app, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		f := &appFile{name: name, data: data, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, contentType: contentTypeOf(name)}
		if compressible(f.contentType) && len(data) > gzipMinSize {
			if gz := gzipBytes(data); len(gz) < len(data)*9/10 {
				f.gz = gz
			}
		}
		a.files[name] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web app: %w", err)
	}
	if a.files["index.html"] == nil {
		return nil, fmt.Errorf("web app: no index.html")
	}
	return a, nil
}

// withMediaOrigins adds origins to the directives that media URLs meet:
// covers (img-src), playback (media-src) and hls.js's fetches (connect-src).
func withMediaOrigins(csp string, origins ...string) string {
	if len(origins) == 0 {
		return csp
	}
	extra := strings.Join(origins, " ")
	for _, dir := range []string{"img-src 'self'", "media-src 'self'", "connect-src 'self'"} {
		csp = strings.Replace(csp, dir, dir+" "+extra, 1)
	}
	return csp
}

// appCSPFor is the policy of one answer: media URLs start with the base
// URL of the request (baseurl.go), which is the page's own origin unless
// the Host is not one reel believes (not in REEL_ALLOWED_HOSTS): then they
// name the address the connection came in on, which the policy must allow
// too, or the app would show no video when opened by such a name.
func (s *server) appCSPFor(r *http.Request) string {
	if s.PublicURL != "" {
		return s.app.csp // its origin is in it already
	}
	base := s.base.of(r)
	if _, host, _ := strings.Cut(base, "://"); host == strings.ToLower(r.Host) {
		return s.app.csp
	}
	return withMediaOrigins(s.app.csp, base)
}

// handleAsset serves /assets/*path: hashed names, cached for good.
func (s *server) handleAsset() gin.HandlerFunc {
	return func(c *gin.Context) {
		var f *appFile
		if s.app != nil {
			f = s.app.files["assets/"+strings.TrimPrefix(c.Param("path"), "/")]
		}
		if f == nil {
			s.notFound()(c)
			return
		}
		s.app.serve(c, f, immutableCache, s.appCSPFor(c.Request))
	}
}

// appOrNotFound answers what no route matched: the app's page for a
// browser's navigation to one of its routes (/, /v/12, /u/alice, ...: any
// GET that accepts HTML outside the paths of the API, media and service),
// a file at the app's root (favicon.ico), and the JSON 404 for the rest, so
// that an API client never gets HTML.
func (s *server) appOrNotFound() gin.HandlerFunc {
	notFound := s.notFound()
	return func(c *gin.Context) {
		r := c.Request
		if s.app == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) || reservedPath(r.URL.Path) {
			notFound(c)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if f := s.app.files[name]; f != nil && name != "index.html" && !strings.HasPrefix(name, "assets/") {
			c.Set(appPageKey, true)
			s.app.serve(c, f, revalidate, s.appCSPFor(r))
			return
		}
		if r.URL.Path == "/" || name == "index.html" || acceptsHTML(r) {
			c.Set(appPageKey, true)
			s.app.serve(c, s.app.files["index.html"], revalidate, s.appCSPFor(r))
			return
		}
		notFound(c)
	}
}

// appPageKey marks (in the gin context) a request that appOrNotFound
// answered from the app, so that observe counts it under appRoute rather
// than with the unmatched paths of scans.
const (
	appPageKey = "reel.app_page"
	appRoute   = "/{app}"
)

// reservedPath reports whether path belongs to the API, media or the
// service endpoints, whose unknown paths are JSON 404s whatever the client
// accepts.
func reservedPath(p string) bool {
	for _, prefix := range []string{"/api", "/douyin", "/media", "/assets"} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	switch p {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

// acceptsHTML reports whether the client asks for HTML, as a browser's
// navigation does (fetch and XHR send */* or application/json).
func acceptsHTML(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(v, "text/html") || strings.Contains(v, "application/xhtml+xml") {
			return true
		}
	}
	return false
}

// serve answers f with its security headers (csp: appCSPFor) and cache policy, compressed
// when the client accepts gzip; http.ServeContent answers conditional
// requests (the ETag), ranges and HEAD.
func (a *appFiles) serve(c *gin.Context, f *appFile, cache, csp string) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", csp)
	// X-Content-Type-Options: nosniff is every answer's (noSniff).
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", cache)
	h.Set("Content-Type", f.contentType)
	data, etag := f.data, f.etag
	if f.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(c.Request.Header.Values("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			data, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(c.Writer, c.Request, f.name, time.Time{}, bytes.NewReader(data))
}

// contentTypeOf names the type of an app file. Go's table lacks the font
// and manifest types, and with nosniff a wrong type stops a browser from
// using the file.
func contentTypeOf(name string) string {
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case ".woff2":
		return "font/woff2"
	case ".woff":
		return "font/woff"
	case ".ttf":
		return "font/ttf"
	case ".otf":
		return "font/otf"
	case ".ico":
		return "image/x-icon"
	case ".webmanifest":
		return "application/manifest+json"
	case ".map":
		return "application/json"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// compressible reports whether a type shrinks under gzip: text, scripts,
// JSON and SVG do; images, fonts (woff2 is compressed already) and media
// do not.
func compressible(contentType string) bool {
	t, _, _ := strings.Cut(contentType, ";")
	return strings.HasPrefix(t, "text/") || t == "application/json" || t == "application/manifest+json" ||
		t == "image/svg+xml" || t == "image/x-icon" || t == "font/ttf" || t == "font/otf"
}

func gzipBytes(data []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // the error is for bad levels only
	_, _ = w.Write(data)                                  // a bytes.Buffer does not fail
	_ = w.Close()
	return b.Bytes()
}
