package playback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/textproto"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/httperr"
)

// HandlerOptions are the optional parts of the media handler.
type HandlerOptions struct {
	// Allowed reports whether what a verified URL grants may be served at
	// all, for instance that its video is not blocked and the URL's media
	// generation is current (Revocations.Allowed); false answers 403. Nil
	// allows everything.
	Allowed func(ctx context.Context, g Grant) bool
	// Logger receives the reason of every refusal and failure. Nil discards.
	Logger *slog.Logger
	// Redirect, when set, answers a GET of a segment, MP4 or cover with 302
	// to a short-lived URL of the store (REEL_MEDIA_DELIVERY=redirect), so
	// that the bytes go from the store to the player without reel. Playlists
	// and HEAD are still served by reel (see redirects).
	Redirect blob.Presigner
	// Resolve, when set, maps the key a verified and allowed URL names to
	// the key of the object served for it (Resolver.Resolve: a video that
	// reuses an identical upload's outputs serves them). Every check is
	// made on the URL's own key.
	Resolve func(ctx context.Context, key string) (string, error)
}

// MaxRedirectTTL bounds the lifetime of the store's URL a redirect hands
// out: the reel URL was checked (signature, blocks, private videos) just
// before, and a short lifetime keeps that check meaningful, since a URL of
// the store cannot be revoked.
const MaxRedirectTTL = 5 * time.Minute

// NewHandler serves the objects of store under Mount to holders of URLs
// signed by s. Mount it at Mount, in front of any middleware that wraps the
// ResponseWriter: a wrapper without ReadFrom turns sendfile into a copy
// through user space, and a compressing one would break Range.
func NewHandler(s *Signer, store blob.Store, opts HandlerOptions) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &handler{signer: s, store: store, allowed: opts.Allowed, log: log, redirect: opts.Redirect, resolve: opts.Resolve}
}

type handler struct {
	signer   *Signer
	store    blob.Store
	allowed  func(ctx context.Context, g Grant) bool
	log      *slog.Logger
	redirect blob.Presigner
	resolve  func(ctx context.Context, key string) (string, error)
}

const (
	allowedMethods = "GET, HEAD, OPTIONS"
	// Players on other origins (a web app on a CDN domain, hls.js) read these.
	exposedHeaders = "Content-Range, Content-Length, Accept-Ranges, ETag"
	allowedHeaders = "Range, If-Range, If-None-Match, If-Modified-Since"
)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	// On every answer, errors included, so that a browser player can read why.
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Access-Control-Expose-Headers", exposedHeaders)
	hdr.Set("X-Content-Type-Options", "nosniff")

	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		// A preflight carries no credentials, so it cannot carry a signature.
		hdr.Set("Allow", allowedMethods)
		hdr.Set("Access-Control-Allow-Methods", allowedMethods)
		hdr.Set("Access-Control-Allow-Headers", allowedHeaders)
		hdr.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		hdr.Set("Allow", allowedMethods)
		// Like the rest of the API, 405 carries the public code bad_request.
		writeError(w, r, httperr.CodeMethodNotAllowed,
			"method "+r.Method+" is not allowed here (allowed: "+allowedMethods+")")
		return
	}

	ctx := r.Context()
	grant, err := h.signer.verify(r)
	key, exp := grant.Key, grant.Expires
	if err != nil {
		h.log.DebugContext(ctx, "media URL refused", "path", r.URL.Path, "client", r.RemoteAddr, "err", err)
		msg := "invalid or missing media URL signature"
		if errors.Is(err, ErrExpired) {
			msg = "media URL has expired; ask the API for a new one"
		}
		writeError(w, r, reel.EFORBIDDEN, msg)
		return
	}
	if h.allowed != nil && !h.allowed(ctx, grant) {
		h.log.DebugContext(ctx, "media not allowed", "key", key)
		writeError(w, r, reel.EFORBIDDEN, "this media is not available")
		return
	}
	if h.resolve != nil {
		if key, err = h.resolve(ctx, key); err != nil {
			httperr.Write(w, r, fmt.Errorf("resolve media %s: %w", grant.Key, err))
			return
		}
		grant.Key = key
	}
	if h.redirects(r, key) {
		h.serveRedirect(w, r, grant)
		return
	}

	// "-0" (the last zero bytes) is dropped before the store is asked, so
	// that the span asked for is what is answered; nothing left is a 416.
	satisfiable := dropEmptySuffixRanges(r)
	obj, err := h.open(r, key, satisfiable)
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, r, reel.ENOTFOUND, "media not found")
		return
	}
	if err != nil {
		httperr.Write(w, r, fmt.Errorf("open media %s: %w", key, err))
		return
	}
	defer obj.Close()

	hdr.Set("Content-Type", blob.ContentType(key))
	// Media is never a page: should a browser still render one, it gets no
	// script, no origin and no subresources.
	hdr.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	hdr.Set("Cache-Control", cacheControl(key, exp.Sub(h.signer.now())))
	if obj.ETag != "" {
		hdr.Set("ETag", obj.ETag)
	}
	hdr.Set("Accept-Ranges", "bytes")
	// The *os.File itself, unwrapped: net/http hands it to sendfile.
	var content io.ReadSeeker = obj.ReadSeekCloser
	if obj.File != nil {
		content = obj.File
	}
	cw := &contentErrors{ResponseWriter: w, r: r, size: obj.Size, remote: obj.File == nil}
	if !satisfiable {
		cw.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return
	}
	http.ServeContent(cw, r, key, obj.ModTime, content)
}

// conditionalHeaders are those that can make ServeContent answer without
// the object's bytes (304, 412) or with other bytes than the Range names
// (If-Range).
var conditionalHeaders = []string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"}

// open opens key's object for r. On a store whose Open is a round trip of
// its own (S3), a GET whose bytes are known before the object is (at most
// one range, no condition) opens with their read already requested
// (OpenSpan): a segment or a range is one request to the store, not a
// lookup and then a read. Otherwise the object is opened, and a reader
// that fetches as it goes is told where the request's bytes end.
func (h *handler) open(r *http.Request, key string, satisfiable bool) (*blob.Object, error) {
	ctx := r.Context()
	span, ok := requestSpan(r, key)
	ok = ok && satisfiable
	if so, can := h.store.(blob.SpanOpener); can && ok && !conditional(r) {
		return so.OpenSpan(ctx, key, span)
	}
	obj, err := h.store.Open(ctx, key)
	if err != nil || !ok {
		return obj, err
	}
	if l, can := obj.ReadSeekCloser.(blob.ReadLimiter); can {
		if end := span.Limit(obj.Size); end > 0 {
			l.LimitReads(end)
		}
	}
	return obj, nil
}

func conditional(r *http.Request) bool {
	for _, h := range conditionalHeaders {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}

// requestSpan is the bytes a GET with one range, or none, reads: the
// range "a-b", the suffix "-n", and, for an object that players read whole
// (segments, covers, playlists), everything from the range's start (or the
// object's) to its end. A progressive MP4 opened with no end ("bytes=0-")
// gets a span with no end: a browser opens it so and drops the connection
// after a few KiB to seek, so its reader fetches in windows that grow
// while it is read. Several ranges, a malformed one or a HEAD have no
// span. A wrong span costs only fetching, never the answer's bytes:
// ServeContent still decides what is sent, and the reader reads wherever
// it is asked to.
func requestSpan(r *http.Request, key string) (blob.Span, bool) {
	if r.Method != http.MethodGet {
		return blob.Span{}, false
	}
	open := blob.Span{}
	if readWhole(key) {
		open.End = blob.ToEnd
	}
	h := r.Header.Get("Range")
	if h == "" {
		return open, true
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return blob.Span{}, false
	}
	// Trimmed as net/http trims the parts of a range (ASCII blanks).
	first, last, ok := strings.Cut(textproto.TrimString(spec), "-")
	first, last = textproto.TrimString(first), textproto.TrimString(last)
	if !ok {
		return blob.Span{}, false
	}
	if first == "" { // the last bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return blob.Span{}, false
		}
		return blob.Span{Start: -n}, true
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return blob.Span{}, false
	}
	if last == "" { // from start on
		open.Start = start
		return open, true
	}
	end, err := strconv.ParseInt(last, 10, 64)
	if err != nil || end < start {
		return blob.Span{}, false
	}
	if end >= blob.ToEnd-1 { // past any object's end
		return blob.Span{Start: start, End: blob.ToEnd}, true
	}
	return blob.Span{Start: start, End: end + 1}, true
}

// readWhole reports whether players fetch key's object whole: segments,
// covers and playlists.
func readWhole(key string) bool {
	switch strings.ToLower(path.Ext(key)) {
	case ".m4s", ".jpg", ".jpeg", ".webp", ".m3u8":
		return true
	}
	return false
}

// redirects reports whether r is answered with a redirect to the store.
// Manifests never are (HLS playlists, the DASH MPD, the storyboard's
// WebVTT): players resolve the URLs inside them against the manifest's own
// URL, which must stay reel's signed prefix, not the store's (whose query
// signature does not survive that resolution). HEAD never is
// either: a presigned URL signs the method, so the store would refuse a
// HEAD the player follows it with; reel answers it from the object's
// metadata without reading the object.
func (h *handler) redirects(r *http.Request, key string) bool {
	if h.redirect == nil || r.Method != http.MethodGet {
		return false
	}
	switch strings.ToLower(path.Ext(key)) {
	case ".m3u8", ".mpd", ".vtt":
		return false
	}
	return true
}

// serveRedirect answers 302 to a URL of the store for g's object, valid
// until the reel URL expires and never longer than MaxRedirectTTL. The
// answer itself may not be cached: a cached redirect would outlive the
// store URL it names, and keep a blocked video playable through it.
func (h *handler) serveRedirect(w http.ResponseWriter, r *http.Request, g Grant) {
	ttl := min(g.Expires.Sub(h.signer.now()), MaxRedirectTTL)
	// The store counts lifetimes in whole seconds; a URL that expires within
	// the second still gets one.
	ttl = max(ttl.Truncate(time.Second), time.Second)
	u, err := h.redirect.GetURL(r.Context(), g.Key, ttl)
	if err != nil {
		httperr.Write(w, r, fmt.Errorf("presign media %s: %w", g.Key, err))
		return
	}
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusFound)
}

// dropEmptySuffixRanges removes "-0" (the last zero bytes) from the Range
// header: net/http answers it with 206 and the impossible Content-Range
// "bytes N-(N-1)/N" (found by FuzzRange), where RFC 9110 says such a range
// cannot be satisfied. It reports false when no range is left.
func dropEmptySuffixRanges(r *http.Request) bool {
	spec, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
	if !ok {
		return true
	}
	var kept []string
	for _, part := range strings.Split(spec, ",") {
		// Read the number as net/http does (spaces trimmed, strconv), so that
		// "- 0", "-+0" and "-00" are caught as well.
		digits, suffix := strings.CutPrefix(textproto.TrimString(part), "-")
		if n, err := strconv.ParseInt(textproto.TrimString(digits), 10, 64); suffix && err == nil && n == 0 {
			continue
		}
		kept = append(kept, part)
	}
	if len(kept) == 0 {
		return false
	}
	r.Header.Set("Range", "bytes="+strings.Join(kept, ","))
	return true
}

// contentErrors gives the errors http.ServeContent writes itself (416, 412)
// the JSON shape of every other error, and every 416 its Content-Range:
// ServeContent omits it when the Range header is malformed rather than
// past the end. It keeps io.ReaderFrom, so bodies still go out by sendfile.
type contentErrors struct {
	http.ResponseWriter
	r      *http.Request
	size   int64
	remote bool // the body is not a file's (see ReadFrom)
	failed bool
}

func (w *contentErrors) WriteHeader(status int) {
	if status < 400 {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.failed = true
	code, msg := httperr.CodeOf(status), http.StatusText(status)
	switch status {
	case http.StatusRequestedRangeNotSatisfiable:
		w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(w.size, 10))
		code = httperr.CodeRangeNotSatisfied
		msg = "the Range header asks for no byte of this " + strconv.FormatInt(w.size, 10) + "-byte file"
	case http.StatusPreconditionFailed:
		code, msg = httperr.CodePrecondition, "precondition failed"
	}
	writeError(w.ResponseWriter, w.r, code, msg)
}

// Write drops ServeContent's plain-text error body; WriteHeader wrote JSON.
func (w *contentErrors) Write(p []byte) (int, error) {
	if w.failed {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom sends the body. A file goes out by sendfile (the server's own
// ReadFrom). The bytes of a remote object (remote) are copied through a
// larger buffer than io.Copy's 32 KiB: each write is a system call and a
// TCP transmit, which on a VM costs more than the copy itself, and which a
// proxy pays per chunk where a store answering with sendfile pays once.
func (w *contentErrors) ReadFrom(r io.Reader) (int64, error) {
	if w.failed {
		return io.Copy(struct{ io.Writer }{w}, r)
	}
	if w.remote {
		buf := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(buf)
		return io.CopyBuffer(struct{ io.Writer }{w.ResponseWriter}, r, *buf)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w}, r)
}

// copyBufs are the buffers remote objects are sent through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

const copyBufSize = 128 << 10

func (w *contentErrors) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// cacheControl: see the package comment for why playlists differ.
// cacheControl says how long caches may keep key's answer: segments,
// covers and MP4s never change, but no cache may keep an answer past the
// moment its signed URL stops working (left), or a copy would outlive both
// the URL and any block. A live.m3u8 (the early playlists of a video still
// processing) grows every few seconds, and a video's master playlist and
// MPD change when its owner edits its captions (whose replaced files are
// then removed): caches must ask each time, a 304 when nothing changed.
func cacheControl(key string, left time.Duration) string {
	secs := max(int64(left/time.Second), 0)
	switch path.Base(key) {
	case reel.LiveName, reel.MasterName, reel.MPDName:
		return "no-cache"
	}
	switch strings.ToLower(path.Ext(key)) {
	case ".m4s", ".mp4", ".jpg", ".jpeg", ".webp", ".webm":
		return fmt.Sprintf("public, max-age=%d, immutable", min(secs, 31536000))
	}
	return fmt.Sprintf("public, max-age=%d", min(secs, 60))
}

// writeError answers with the one error writer (package httperr); code
// and message are for a person, as in a *reel.Error.
func writeError(w http.ResponseWriter, r *http.Request, code, message string) {
	httperr.Write(w, r, &reel.Error{Code: code, Message: message})
}
