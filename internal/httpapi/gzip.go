package httpapi

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
)

// gzipLevel is the compression level of JSON responses. BestSpeed costs a
// half to a quarter of the CPU time of DefaultCompression on reel's JSON
// (video lists of 1 KiB to 100 KiB) and its output is only about a tenth
// larger (about 16% against 14% of the original size): a lot of CPU per
// request for a few hundred bytes is a bad trade for an API server.
const gzipLevel = gzip.BestSpeed

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzipLevel) // the error is for bad levels only
	return w
}}

var errHijackAfterBody = errors.New("httpapi: hijack after the response body was written")

// gzipJSON compresses JSON responses larger than minSize bytes when the
// client accepts gzip (docs/api.md, Conventions).
//
// The body is held back until it exceeds minSize; only then, and only when
// the response is JSON (application/json or application/*+json), has no
// Content-Encoding or Content-Range, may carry a body (not 1xx, 204, 304,
// not HEAD), is it sent gzip-compressed, streaming the rest through a pooled
// gzip.Writer. Everything else is passed through unchanged: a response that
// is not a candidate (an event stream, media, an error page) from its first
// write or flush, without delay; a small JSON one when the handler ends.
// JSON responses carry Vary: Accept-Encoding whether compressed or not.
//
// A Flush before the body exceeds minSize sends the response uncompressed (a
// handler that flushes wants the bytes out now); a Flush of a compressed
// response flushes the compressor too. WriteHeaderNow commits the headers,
// so a response whose headers are forced out before its body is not
// compressed. Hijack works until the handler writes body bytes, as in gin.
//
// Inside the chain, c.Writer.Size() counts the bytes the handlers wrote
// (before compression). When the middleware returns it puts the original
// writer back, so what runs after it (the access log in observe) sees the
// bytes sent on the wire: after compression.
//
// If a handler panics before anything was sent, the held-back body is
// dropped, so that recovery can still answer with the JSON error; if the
// compressed stream had begun, it is left unterminated, so that the client
// sees a truncated response rather than a well-formed partial one.
func gzipJSON(minSize int) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Writer.Written() {
			c.Next()
			return
		}
		orig := c.Writer
		w := &gzipWriter{
			ResponseWriter: orig,
			minSize:        max(minSize, 0),
			accept:         acceptsGzip(c.Request.Header.Values("Accept-Encoding")),
			head:           c.Request.Method == http.MethodHead,
			status:         orig.Status(),
		}
		c.Writer = w
		finished := false
		defer func() {
			if !finished { // a panic or runtime.Goexit
				w.abandon()
			}
			c.Writer = orig
		}()
		c.Next()
		w.finish()
		finished = true
	}
}

// States of a gzipWriter.
const (
	gzPending     = iota // nothing written, the decision is still open
	gzBuffering          // a compression candidate, body held back in buf
	gzCompressing        // headers sent with Content-Encoding: gzip
	gzPassthrough        // headers sent (or to be sent) unchanged
	gzHijacked           // the connection belongs to the handler
)

// gzipWriter is the gin.ResponseWriter that gzipJSON installs. Like gin's
// own, it is used by one goroutine at a time.
type gzipWriter struct {
	gin.ResponseWriter
	minSize int
	accept  bool // the client accepts gzip
	head    bool
	state   int
	status  int    // until the headers are sent
	json    bool   // the Content-Type is JSON; set when the state leaves gzPending
	buf     []byte // gzBuffering: the body so far
	gz      *gzip.Writer
	n       int // gzCompressing: bytes written by the handlers
}

var _ gin.ResponseWriter = (*gzipWriter)(nil)

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (w *gzipWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WriteHeader records the status; as in gin, it is sent with the body (or
// by WriteHeaderNow, or Flush), and ignored once the body is written.
func (w *gzipWriter) WriteHeader(code int) {
	switch w.state {
	case gzPending:
		if code > 0 {
			w.status = code
		}
	case gzPassthrough, gzCompressing:
		w.ResponseWriter.WriteHeader(code) // gin ignores it, with a warning in debug mode
	}
}

func (w *gzipWriter) Status() int {
	if w.state == gzPending || w.state == gzBuffering {
		return w.status
	}
	return w.ResponseWriter.Status()
}

func (w *gzipWriter) Written() bool { return w.state != gzPending }

// Size is the number of body bytes the handlers have written, before
// compression; -1 before anything was written.
func (w *gzipWriter) Size() int {
	switch w.state {
	case gzPending:
		return -1
	case gzBuffering:
		return len(w.buf)
	case gzCompressing:
		return w.n
	}
	return w.ResponseWriter.Size()
}

func (w *gzipWriter) Write(p []byte) (int, error) {
	if w.state == gzPending {
		w.decide()
	}
	switch w.state {
	case gzBuffering:
		if len(w.buf)+len(p) <= w.minSize {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		if err := w.startGzip(); err != nil {
			return 0, err
		}
		fallthrough
	case gzCompressing:
		n, err := w.gz.Write(p)
		w.n += n
		return n, err
	}
	return w.ResponseWriter.Write(p) // passthrough, or hijacked (net/http refuses)
}

func (w *gzipWriter) WriteString(s string) (int, error) {
	if w.state == gzPassthrough {
		return w.ResponseWriter.WriteString(s)
	}
	return w.Write([]byte(s))
}

// WriteHeaderNow sends the headers: the body cannot be compressed any more.
func (w *gzipWriter) WriteHeaderNow() {
	switch w.state {
	case gzPending:
		w.decide()
		w.passthrough()
	case gzBuffering:
		w.passthrough()
	}
}

// Flush sends what was written so far. Below minSize that means sending it
// uncompressed.
func (w *gzipWriter) Flush() {
	switch w.state {
	case gzPending:
		w.decide()
		w.passthrough()
	case gzBuffering:
		w.passthrough()
	case gzCompressing:
		_ = w.gz.Flush() // an error is the connection's; the next Write reports it
	case gzHijacked:
		return
	}
	w.ResponseWriter.Flush()
}

// Hijack hands the connection over unless body bytes were written.
func (w *gzipWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	switch w.state {
	case gzBuffering:
		if len(w.buf) > 0 {
			return nil, nil, errHijackAfterBody
		}
	case gzCompressing:
		return nil, nil, errHijackAfterBody
	}
	conn, rw, err := w.ResponseWriter.Hijack()
	if err == nil {
		w.state, w.buf = gzHijacked, nil
	}
	return conn, rw, err
}

// decide leaves gzPending, at the first write, flush or WriteHeaderNow: a
// response that cannot be compressed goes to gzPassthrough at once, so that
// streams are neither delayed nor buffered.
func (w *gzipWriter) decide() {
	h := w.Header()
	w.json = isJSON(h.Get("Content-Type"))
	_, encoded := h["Content-Encoding"]
	_, ranged := h["Content-Range"]
	if w.accept && w.json && !encoded && !ranged && !w.head && bodyAllowed(w.status) && w.status != http.StatusPartialContent {
		w.state = gzBuffering
		return
	}
	w.passthrough()
}

// passthrough sends the headers unchanged, then what was held back.
func (w *gzipWriter) passthrough() {
	buf := w.buf
	w.buf = nil
	w.state = gzPassthrough
	w.sendHeader()
	if len(buf) > 0 {
		_, _ = w.ResponseWriter.Write(buf) // a failure shows in the handler's next write
	}
}

func (w *gzipWriter) sendHeader() {
	if w.json {
		addVary(w.Header(), "Accept-Encoding")
	}
	w.ResponseWriter.WriteHeader(w.status)
	w.ResponseWriter.WriteHeaderNow()
}

// startGzip sends the headers of a compressed response and the body so far.
func (w *gzipWriter) startGzip() error {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Encoding", "gzip")
	// A strong validator names one byte sequence; the compressed one differs.
	if et := h.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Set("ETag", "W/"+et)
	}
	w.state = gzCompressing
	w.sendHeader()
	w.gz = gzipWriters.Get().(*gzip.Writer)
	w.gz.Reset(w.ResponseWriter)
	buf := w.buf
	w.buf = nil
	n, err := w.gz.Write(buf)
	w.n += n
	return err
}

// finish completes the response when the handlers return.
func (w *gzipWriter) finish() {
	switch w.state {
	case gzPending:
		// Nothing written: leave the headers unsent, so that what runs after
		// (or gin itself) can still answer, but hand over the status.
		if isJSON(w.Header().Get("Content-Type")) {
			addVary(w.Header(), "Accept-Encoding")
		}
		w.ResponseWriter.WriteHeader(w.status)
	case gzBuffering:
		w.passthrough() // it stayed small
	case gzCompressing:
		_ = w.gz.Close() // nobody is left to report an error to
		w.gz.Reset(io.Discard)
		gzipWriters.Put(w.gz)
		w.gz = nil
	}
}

// abandon is finish for a panicking handler.
func (w *gzipWriter) abandon() {
	switch w.state {
	case gzBuffering:
		w.state, w.buf = gzPending, nil
	case gzCompressing:
		// Not closed on purpose, and not pooled: it may be mid-write.
		w.gz = nil
	}
}

// acceptsGzip reads Accept-Encoding (RFC 9110 §12.5.3): gzip (or its alias
// x-gzip) with a non-zero weight, or, when gzip is not named, * with one.
func acceptsGzip(values []string) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(elem, ";")
			coding = strings.TrimSpace(coding)
			if coding == "" {
				continue
			}
			q := weight(params)
			switch {
			case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
				gzipQ = max(gzipQ, q)
			case coding == "*":
				starQ = max(starQ, q)
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// weight is the q parameter in params (";q=0.5;x=y"): 1 when absent, 0 when
// malformed, which refuses the coding rather than guessing.
func weight(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}

// isJSON reports whether a Content-Type is application/json, or a
// structured +json type such as application/problem+json.
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// bodyAllowed is net/http's rule for which statuses may carry a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// addVary adds field to the Vary header unless it is there already.
func addVary(h http.Header, field string) {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			if f == "*" || strings.EqualFold(f, field) {
				return
			}
		}
	}
	h.Add("Vary", field)
}
