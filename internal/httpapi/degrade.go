package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/cache"
)

// Degrading instead of failing (docs/api.md, "When the server is degraded"):
// an API request over the node's concurrency limit is refused at once
// (shed), and a read the cache can answer while the database is down is
// served stale, saying so.

// shedder refuses API requests beyond a number in flight on this node with
// an immediate 503 unavailable and Retry-After, instead of letting them
// queue for the database until their deadline: a client retries elsewhere
// or later, and the requests already admitted keep their pace. Only the
// routes that carry its middleware count: uploads and event streams are
// long-lived and bounded by limits of their own (the probe gate, the upload
// queue, the stream cap), and media and health checks must keep answering
// while the API is saturated.
type shedder struct {
	slots   chan struct{} // nil: no limit
	metrics *Metrics
}

// newShedder admits max requests at once; max 0 admits everything.
func newShedder(max int, m *Metrics) *shedder {
	s := &shedder{metrics: m}
	if max > 0 {
		s.slots = make(chan struct{}, max)
	}
	return s
}

// admit counts a route's requests against the one limit of the node; a
// request over it is answered by refuse (the error shape of its API).
func (s *shedder) admit(refuse func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.slots == nil {
			c.Next()
			return
		}
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
			c.Next()
		default:
			s.metrics.shed.Inc()
			refuse(c, overloaded{reel.Errorf(reel.EUNAVAILABLE, "the server is busy; try again shortly")})
		}
	}
}

// shedRetryAfter is the Retry-After of a shed request: a saturated node
// usually has room again within a second, and a client that waits the
// generic 5 s (httperr.RetryAfter) would wait longer than it needs to.
const shedRetryAfter = 1

// overloaded is the refusal of a shed request.
type overloaded struct{ err *reel.Error }

func (o overloaded) Error() string          { return o.err.Error() }
func (o overloaded) Unwrap() error          { return o.err }
func (o overloaded) RetryAfterSeconds() int { return shedRetryAfter }

// serveStale lets the reads of a request be served from the cache's last
// good copies while the database is unavailable (cache.WithStaleMark), and
// marks a successful answer made of them with Age (seconds since the
// oldest copy was read from the database, RFC 9111) and
// Cache-Status: reel; hit; detail=db-unavailable (RFC 9211). Answers of
// routes that do not read through the cache never carry them.
func serveStale() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, mark := cache.WithStaleMark(c.Request.Context())
		c.Request = c.Request.WithContext(ctx)
		orig := c.Writer
		c.Writer = &staleWriter{ResponseWriter: orig, mark: mark}
		defer func() { c.Writer = orig }()
		c.Next()
	}
}

// staleWriter sets the stale headers just before the response's head goes
// out: gin sends it on the first write or flush, or on WriteHeaderNow.
type staleWriter struct {
	gin.ResponseWriter
	mark *cache.StaleMark
	done bool
}

func (w *staleWriter) setStaleHeaders() {
	if w.done || w.ResponseWriter.Written() {
		return
	}
	w.done = true
	age, stale := w.mark.Age()
	if status := w.Status(); !stale || status < 200 || status > 299 {
		return
	}
	h := w.Header()
	h.Set("Age", strconv.FormatInt(int64(age/time.Second), 10))
	h.Set("Cache-Status", StaleCacheStatus)
}

// StaleCacheStatus is the Cache-Status of an answer served from copies
// kept while the database is unavailable.
const StaleCacheStatus = "reel; hit; detail=db-unavailable"

func (w *staleWriter) Write(b []byte) (int, error) {
	w.setStaleHeaders()
	return w.ResponseWriter.Write(b)
}

func (w *staleWriter) WriteString(s string) (int, error) {
	w.setStaleHeaders()
	return w.ResponseWriter.WriteString(s)
}

func (w *staleWriter) WriteHeaderNow() {
	w.setStaleHeaders()
	w.ResponseWriter.WriteHeaderNow()
}

func (w *staleWriter) Flush() {
	w.setStaleHeaders()
	w.ResponseWriter.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *staleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// isStale reports whether the answer being made for c used stale copies.
func isStale(c *gin.Context) bool {
	_, stale := cache.StaleAge(c.Request.Context())
	return stale
}
