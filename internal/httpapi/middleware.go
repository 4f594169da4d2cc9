package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/account"
	"github.com/reel-video/reel/internal/httperr"
)

type ctxKey int

const (
	userIDKey ctxKey = iota
	sessionIDKey
)

// noSniff keeps browsers from reading any answer (JSON, errors, tus,
// media) as another type than it declares: a JSON body that holds a
// user's text is never run as a script or shown as HTML. The header is
// set once per request, before any handler, by one map assignment.
func noSniff() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Writer.Header()["X-Content-Type-Options"] = noSniffValue
		c.Next()
	}
}

// noSniffValue is shared by every answer; nothing appends to it.
var noSniffValue = []string{"nosniff"}

// requestID takes the caller's X-Request-ID when it is a sane token, so that
// a request can be followed through proxies, and makes one up otherwise.
func (s *server) requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-ID")
		if !validRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Header("X-Request-ID", id)
		c.Request = c.Request.WithContext(httperr.WithRequest(c.Request.Context(), id, s.log))
		c.Next()
	}
}

// validRequestID accepts what proxies generate (UUIDs, hex, base64url) and
// nothing that could forge log lines or headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:+/=", r)) {
			return false
		}
	}
	return true
}

// RequestIDFrom returns the request id of ctx, or "".
func RequestIDFrom(ctx context.Context) string { return httperr.RequestID(ctx) }

// recovery turns a panic into the JSON internal error and logs the stack;
// one broken request must not take the process or the connection down.
func (s *server) recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(p)
			}
			s.log.ErrorContext(c.Request.Context(), "panic serving request",
				"request_id", RequestIDFrom(c.Request.Context()), "method", c.Request.Method,
				"path", c.Request.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				writeError(c, errors.New("panic"))
			}
			c.Abort()
		}()
		c.Next()
	}
}

// observe writes the access log line and the request metrics. A request
// whose client went away is recorded with status 499 (httperr.Write) and
// logged at debug: a phone that lost its signal is not a server error.
func (s *server) observe() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		s.Metrics.inFlight.Inc()
		defer s.Metrics.inFlight.Dec()
		c.Next()

		elapsed := time.Since(start)
		route := c.FullPath()
		if route == "" {
			route = "unmatched" // keeps label cardinality bounded under scans
			if c.GetBool(appPageKey) {
				route = appRoute
			}
		}
		status := c.Writer.Status()
		s.Metrics.observe(c.Request.Method, route, status, elapsed)

		level := slog.LevelInfo
		switch {
		case status == httperr.StatusClientClosed:
			// The client hung up (httperr.Write): its business, not an error.
			level = slog.LevelDebug
		case status == http.StatusServiceUnavailable || status == http.StatusInsufficientStorage:
			// Shed load and outages of a dependency: expected under
			// pressure, and an outage makes one per request.
			level = slog.LevelWarn
		case status >= 500:
			level = slog.LevelError
		case route == "/healthz" || route == "/readyz" || route == "/metrics":
			level = slog.LevelDebug
		case (route == "/media/*path" || route == "/assets/*path") && status < 400:
			// A minute of video is dozens of segment requests per viewer,
			// and a page load a few assets: counted in the metrics, logged
			// only at debug.
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("request_id", RequestIDFrom(c.Request.Context())),
			slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.Duration("duration", elapsed),
			slog.String("client", c.ClientIP()),
			slog.String("proto", c.Request.Proto),
		}
		if uid, ok := c.Request.Context().Value(userIDKey).(int64); ok {
			attrs = append(attrs, slog.Int64("user_id", uid))
		}
		s.log.LogAttrs(c.Request.Context(), level, "request", attrs...)
	}
}

// limitHeaders answers 431 when the request head is larger than max bytes,
// counted as net/http counts them (request line and header lines).
func limitHeaders(max int) gin.HandlerFunc {
	return func(c *gin.Context) {
		r := c.Request
		n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 + len("Host: \r\n") + len(r.Host)
		for k, vs := range r.Header {
			for _, v := range vs {
				n += len(k) + len(v) + 4
			}
		}
		if n > max {
			c.Header("Connection", "close")
			writeError(c, reel.Errorf(httperr.CodeHeadersTooLarge, "request headers exceed %d bytes", max))
			c.Abort()
			return
		}
		c.Next()
	}
}

// limitBody refuses bodies larger than max: at once when Content-Length says
// so, and while reading otherwise (decodeJSON turns that into 413).
func limitBody(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > max {
			c.Header("Connection", "close")
			writeError(c, reel.Errorf(reel.ETOOLARGE, "request body exceeds %d bytes", max))
			c.Abort()
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		c.Next()
	}
}

// connDeadlines sets the connection's read and write deadlines for this
// request only. Without them a client that announces a body and never sends
// it would hold the connection (net/http reads an unread body before
// answering), and no global ReadTimeout or WriteTimeout can be used: those
// would cut long uploads and downloads, whose routes set their own.
//
// The read deadline covers the body only, and is lifted once the body has
// been read to its end: from then on net/http reads the connection in the
// background to notice the client leaving, and a read deadline passing
// there (a handler slower than d) would cancel the connection's context,
// and with it every later request on that keep-alive connection.
func connDeadlines(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		now := time.Now()
		rc := http.NewResponseController(c.Writer)
		// Errors mean the connection cannot take deadlines (a test recorder).
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			_ = rc.SetReadDeadline(now.Add(d))
			c.Request.Body = &bodyDeadline{ReadCloser: c.Request.Body, rc: rc}
		} else {
			_ = rc.SetReadDeadline(time.Time{})
		}
		// The write deadline leaves room to send the error of a timed-out handler.
		_ = rc.SetWriteDeadline(now.Add(d + 5*time.Second))
		c.Next()
	}
}

// bodyDeadline lifts the connection's read deadline when the body ends
// (see connDeadlines).
type bodyDeadline struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *bodyDeadline) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// deadline bounds an API request's work: its context ends after d.
func (s *server) deadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// mediaWriteTimeout bounds one media response: a 200 MB MP4 at 1 Mbit/s
// takes under half of it.
const mediaWriteTimeout = time.Hour

// writeDeadline replaces the default write deadline; the body is served with
// sendfile in one call, so the bound is on the whole response.
func writeDeadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(d))
		c.Next()
	}
}

// authenticate reads the bearer token, or else the browser's session
// cookie, when there is one (account.AuthenticateSession, the one place
// credentials are read). A bearer token that is present but invalid,
// expired or signed out is 401 even on routes where auth is optional: the
// client believes it is signed in, and silently treating it as anonymous
// would hide the problem. A cookie that no longer works is dropped and the
// request goes on as anonymous (401 where a user is required): the app
// cannot remove an HttpOnly cookie itself, and learns who is signed in from
// GET /api/v1/me. A cookie-authenticated request that changes something
// must come from reel's own pages (sameOrigin).
func (s *server) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, byCookie, err := s.Accounts.AuthenticateSession(c.Request)
		if byCookie {
			if err := s.sameOrigin(c.Request); err != nil {
				refuse(c, err)
				return
			}
		}
		switch {
		case err == nil:
		case reel.ErrorCode(err) == reel.EUNAUTHORIZED && byCookie:
			s.clearSessionCookie(c)
			p = account.Principal{}
		case reel.ErrorCode(err) == reel.EUNAUTHORIZED:
			unauthorized(c, err)
			return
		default: // the store could not say: not the client's fault
			refuse(c, err)
			return
		}
		if p.UserID != 0 {
			ctx := context.WithValue(c.Request.Context(), userIDKey, p.UserID)
			c.Request = c.Request.WithContext(context.WithValue(ctx, sessionIDKey, p.SessionID))
		}
		c.Next()
	}
}

// requireUser answers 401 unless authenticate found a valid token.
func (s *server) requireUser() gin.HandlerFunc {
	return func(c *gin.Context) {
		if viewerID(c) == 0 {
			unauthorized(c, reel.Errorf(reel.EUNAUTHORIZED, "sign in first: send Authorization: Bearer <token>"))
			return
		}
		c.Next()
	}
}

func unauthorized(c *gin.Context, err error) {
	c.Header("WWW-Authenticate", `Bearer realm="reel"`)
	refuse(c, err)
}

// refuse answers err to a request stopped before its handler read any of
// its body, and ends the chain.
func refuse(c *gin.Context, err error) {
	closeUnreadBody(c)
	writeError(c, err)
	c.Abort()
}

// closeUnreadBody makes the answer to a request whose body is refused
// unread (an upload) close the connection: otherwise Go's server would
// read and discard up to 256 KiB of it before answering, to keep the
// connection. A request without a body keeps its connection.
func closeUnreadBody(c *gin.Context) {
	if c.Request.ContentLength != 0 { // declared, or chunked (-1)
		c.Header("Connection", "close")
	}
}

// principal is who the request acts for (authenticate); zero when anonymous.
func principal(c *gin.Context) account.Principal {
	sid, _ := c.Request.Context().Value(sessionIDKey).(string)
	return account.Principal{UserID: viewerID(c), SessionID: sid}
}

// viewerID is the signed-in user's id, or 0 for anonymous requests.
func viewerID(c *gin.Context) int64 {
	id, _ := c.Request.Context().Value(userIDKey).(int64)
	return id
}

// uploadIdle is how long an upload or stream may go without progress.
const uploadIdle = 60 * time.Second

// streaming is the deadline policy of long-lived requests: the body must
// keep arriving (each read pushes the read deadline idle further), and the
// write deadline is lifted so that a long upload's answer is not cut; the
// handlers of streams set write deadlines per write.
func (s *server) streaming(idle time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		rc := http.NewResponseController(c.Writer)
		_ = rc.SetWriteDeadline(time.Time{})
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			_ = rc.SetReadDeadline(time.Now().Add(idle))
			c.Request.Body = &idleReader{ReadCloser: c.Request.Body, rc: rc, idle: idle}
		} else {
			// Nothing more is read from a request without a body (an event
			// stream), but net/http keeps reading the connection to notice
			// the client leaving: a read deadline there would end the
			// stream after idle, however lively it is. The stream's own
			// write deadlines and keep-alives notice a dead client instead.
			_ = rc.SetReadDeadline(time.Time{})
		}
		c.Next()
	}
}

// idleReader extends the read deadline before each read of the body.
type idleReader struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	_ = r.rc.SetReadDeadline(time.Now().Add(r.idle))
	return r.ReadCloser.Read(p)
}
