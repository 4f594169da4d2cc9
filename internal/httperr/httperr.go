// Package httperr writes reel's one error answer: the JSON shape of docs/api.md
// (`{"error": {"code", "message", "fields"}}`), the one mapping from error
// codes to HTTP status codes, and the rules every failed request follows
// whichever package answers it (the API, the media handler, tus uploads):
//
//   - an error that is not a *reel.Error, and is not recognised by a
//     registered reel.Classifier, is internal: clients see a generic
//     message, the log gets the full error with the request id. The
//     message of a *reel.Error is shown whatever its status: it is written
//     for a person, so never put another error's text in one;
//   - 503 and 429 carry Retry-After: what the error says (a
//     RetryAfterSeconds method anywhere in its chain), else RetryAfter;
//   - a request whose client went away is not a server error: it is logged
//     at debug and recorded with status 499, as nginx does;
//   - no cache keeps an error.
package httperr

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/reel-video/reel"
)

// Codes that exist only at the HTTP layer: they name statuses that the
// protocols reel speaks (HTTP itself, tus) need, and fold into the public
// codes of docs/api.md in the answer.
const (
	CodeMethodNotAllowed   = "method_not_allowed"    // 405, shown as bad_request
	CodeGone               = "gone"                  // 410, shown as not_found
	CodePrecondition       = "precondition_failed"   // 412, shown as bad_request
	CodeRangeNotSatisfied  = "range_not_satisfiable" // 416, shown as bad_request
	CodeLocked             = "locked"                // 423, shown as conflict
	CodeHeadersTooLarge    = "headers_too_large"     // 431, shown as too_large
	CodeChecksumMismatch   = "checksum_mismatch"     // 460 (tus), shown as bad_request
	StatusClientClosed     = 499                     // the client went away before the answer
	statusChecksumMismatch = 460
)

// statusOf is the one mapping from error codes to HTTP status codes.
var statusOf = map[string]int{
	reel.EBADREQUEST:      http.StatusBadRequest,
	reel.EUNAUTHORIZED:    http.StatusUnauthorized,
	reel.EFORBIDDEN:       http.StatusForbidden,
	reel.ENOTFOUND:        http.StatusNotFound,
	CodeMethodNotAllowed:  http.StatusMethodNotAllowed,
	reel.ECONFLICT:        http.StatusConflict,
	CodeGone:              http.StatusGone,
	CodePrecondition:      http.StatusPreconditionFailed,
	reel.ETOOLARGE:        http.StatusRequestEntityTooLarge,
	reel.EQUOTA:           http.StatusRequestEntityTooLarge,
	reel.EUNSUPPORTED:     http.StatusUnsupportedMediaType,
	CodeRangeNotSatisfied: http.StatusRequestedRangeNotSatisfiable,
	reel.EINVALID:         http.StatusUnprocessableEntity,
	CodeLocked:            http.StatusLocked,
	CodeHeadersTooLarge:   http.StatusRequestHeaderFieldsTooLarge,
	reel.ERATELIMITED:     http.StatusTooManyRequests,
	CodeChecksumMismatch:  statusChecksumMismatch,
	reel.EINTERNAL:        http.StatusInternalServerError,
	reel.EUNAVAILABLE:     http.StatusServiceUnavailable,
	reel.ESTORAGE:         http.StatusInsufficientStorage,
}

// publicCode folds the HTTP-only codes into the codes docs/api.md lists.
var publicCode = map[string]string{
	CodeMethodNotAllowed:  reel.EBADREQUEST,
	CodeGone:              reel.ENOTFOUND,
	CodePrecondition:      reel.EBADREQUEST,
	CodeRangeNotSatisfied: reel.EBADREQUEST,
	CodeLocked:            reel.ECONFLICT,
	CodeHeadersTooLarge:   reel.ETOOLARGE,
	CodeChecksumMismatch:  reel.EBADREQUEST,
}

// codeOfStatus is statusOf read backwards, for answers that come with only a
// status (tusd's own errors); where two codes share a status, the general one.
var codeOfStatus = func() map[int]string {
	m := make(map[int]string, len(statusOf))
	for code, status := range statusOf {
		m[status] = code
	}
	m[http.StatusRequestEntityTooLarge] = reel.ETOOLARGE
	return m
}()

// Status returns the HTTP status of an error code; 500 for a code it does not know.
func Status(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CodeOf returns the code of an HTTP error status: bad_request for an
// unknown 4xx, internal for an unknown 5xx.
func CodeOf(status int) string {
	if c, ok := codeOfStatus[status]; ok {
		return c
	}
	if status >= 500 {
		return reel.EINTERNAL
	}
	return reel.EBADREQUEST
}

// RetryAfter is what 503 and 429 answers advise when the error does not say
// more: long enough for a database to come back from a restart or failover,
// short enough that a client does not give up on a blip.
const RetryAfter = 5 * time.Second

// RetryHint returns the Retry-After that err itself states, in seconds: a
// RetryAfterSeconds method anywhere in its chain (publish.Busy,
// account.LimitedError); false when it states none.
func RetryHint(err error) (int, bool) {
	var hint interface{ RetryAfterSeconds() int }
	if errors.As(err, &hint) && hint.RetryAfterSeconds() > 0 {
		return hint.RetryAfterSeconds(), true
	}
	return 0, false
}

// RetryAfterSeconds is the Retry-After of err, a refusal to retry later
// (503, 429): what the error states (RetryHint), else RetryAfter.
func RetryAfterSeconds(err error) int {
	if secs, ok := RetryHint(err); ok {
		return secs
	}
	return int(RetryAfter / time.Second)
}

// SetRetryAfter sets the Retry-After header of an answer with status, the
// failure err, when the status asks the client to retry later (503, 429)
// and no header is set yet. Every answer of such a status goes through it,
// the Douyin API's status codes included.
func SetRetryAfter(h http.Header, status int, err error) {
	if (status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests) && h.Get("Retry-After") == "" {
		h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds(err)))
	}
}

// Body is the JSON error shape of docs/api.md.
type Body struct {
	Error Detail `json:"error"`
}

// Detail is the inside of Body.
type Detail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Hide returns an error with the given code whose text is for the log only:
// clients see the code's generic message. It is for errors that arrive as a
// status and a text written by a library (tusd), which may name paths.
func Hide(code string, err error) error { return &hidden{code: code, err: err} }

type hidden struct {
	code string
	err  error
}

func (h *hidden) Error() string { return h.err.Error() }
func (h *hidden) Unwrap() error { return h.err }

// Resolve returns what a client may be told of err, the failure of r: its
// *reel.Error (or what a registered classifier makes of it), with a generic
// message for anything internal. A request that ran out of its own deadline
// is unavailable: the server, or something it waits for, is too slow right
// now (drivers do not always say so: SQLite answers "interrupted"). r may
// be nil.
func Resolve(r *http.Request, err error) *reel.Error {
	e := resolve(err)
	if e.Code == reel.EINTERNAL && r != nil && errors.Is(r.Context().Err(), context.DeadlineExceeded) {
		return timedOut()
	}
	return e
}

func timedOut() *reel.Error {
	return &reel.Error{Code: reel.EUNAVAILABLE, Message: "the server could not answer in time; try again shortly"}
}

func resolve(err error) *reel.Error {
	var h *hidden
	if errors.As(err, &h) {
		return &reel.Error{Code: h.code, Message: genericMessage(h.code)}
	}
	e := reel.AsError(err)
	switch {
	case e != nil:
		if _, known := statusOf[e.Code]; !known {
			return &reel.Error{Code: reel.EINTERNAL, Message: genericMessage(reel.EINTERNAL)}
		}
		if e.Code == reel.EINTERNAL {
			return &reel.Error{Code: reel.EINTERNAL, Message: genericMessage(reel.EINTERNAL)}
		}
		return e
	case errors.Is(err, context.DeadlineExceeded):
		return timedOut()
	case errors.Is(err, context.Canceled):
		// Not this request's cancellation (Write tells that apart first):
		// work it shared with another request, whose client left, was
		// abandoned. Asking again will do it afresh.
		return &reel.Error{Code: reel.EUNAVAILABLE, Message: "the request was interrupted; try again"}
	}
	return &reel.Error{Code: reel.EINTERNAL, Message: genericMessage(reel.EINTERNAL)}
}

func genericMessage(code string) string {
	switch Status(code) {
	case http.StatusServiceUnavailable:
		return "the service is unavailable for now; try again shortly"
	case http.StatusInsufficientStorage:
		return "the server has no room for this now"
	case http.StatusInternalServerError:
		return "internal error"
	}
	return http.StatusText(Status(code))
}

// Write answers err on w in the JSON error shape (see the package comment
// for the rules). r is the request being answered: its context tells
// whether the client is still there and carries the request id and logger
// (WithRequest). r may be nil for a refusal (4xx), which is not logged.
func Write(w http.ResponseWriter, r *http.Request, err error) {
	if ClientGone(r, err) {
		Log(r, err, StatusClientClosed)
		// Nobody reads it: the status is for the access log and metrics.
		w.WriteHeader(StatusClientClosed)
		return
	}
	e := Resolve(r, err)
	status := Status(e.Code)
	Log(r, err, status)
	detail := Detail{Code: e.Code, Message: e.Message, Fields: e.Fields}
	if pc, ok := publicCode[e.Code]; ok {
		detail.Code = pc
	}
	h := w.Header()
	SetRetryAfter(h, status, err)
	h.Set("Content-Type", "application/json; charset=utf-8")
	// A refusal may stop applying (the database returns, a URL is renewed,
	// a segment is written later): no cache may keep it.
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Body{Error: detail})
}

// Log records err, the cause of an answer with status, at the level it
// deserves: a client that went away at debug, unavailability at warn (it is
// the dependency's fault and floods during an outage), any other server
// error at error. Client errors (4xx) are not logged here, nor refusals
// reel decided on (a *reel.Error such as a full queue's 503): the access
// log has them.
func Log(r *http.Request, err error, status int) {
	var deliberate *reel.Error
	if errors.As(err, &deliberate) && status != StatusClientClosed {
		if known, ok := statusOf[deliberate.Code]; ok && known == status && deliberate.Code != reel.EINTERNAL {
			return
		}
	}
	var level slog.Level
	switch {
	case status == StatusClientClosed:
		level = slog.LevelDebug
	case status == http.StatusServiceUnavailable || status == http.StatusInsufficientStorage:
		level = slog.LevelWarn
	case status >= 500:
		level = slog.LevelError
	default:
		return
	}
	if r == nil {
		r = &http.Request{URL: &url.URL{}}
	}
	ctx := r.Context()
	msg := "server error"
	switch level {
	case slog.LevelDebug:
		msg = "client went away"
	case slog.LevelWarn:
		msg = "service unavailable"
	}
	Logger(ctx).Log(ctx, level, msg, "request_id", RequestID(ctx), "method", r.Method,
		"path", r.URL.Path, "status", status, "err", err)
}

// ClientGone reports whether the request's client went away: its context was
// cancelled (the connection closed, or an HTTP/2 stream was reset), or err
// is a broken pipe or reset on the client's own connection. A reset on a
// connection to the database is not the client's doing: the connection's
// peer tells them apart. An error that already is a *reel.Error was judged
// for the client and is answered as such: net/http also cancels the context
// when the body does not arrive in time, which is the client's fault (400).
func ClientGone(r *http.Request, err error) bool {
	var e *reel.Error
	if r == nil || errors.As(err, &e) {
		return false
	}
	if errors.Is(r.Context().Err(), context.Canceled) {
		// Past the request's deadline, a cancelled context is the timeout
		// itself: the connection's read deadline (set to the same bound)
		// makes net/http cancel the request when it passes, which can come
		// first. The client is still there, and gets the timeout's 503.
		if dl, ok := r.Context().Deadline(); ok && !time.Now().Before(dl) {
			return false
		}
		return true
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Addr == nil || op.Addr.String() != r.RemoteAddr {
		return false
	}
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	loggerKey
)

// WithRequest returns ctx carrying the request's id and the logger its
// errors go to; the request id middleware calls it first thing.
func WithRequest(ctx context.Context, id string, log *slog.Logger) context.Context {
	ctx = context.WithValue(ctx, requestIDKey, id)
	return context.WithValue(ctx, loggerKey, log)
}

// RequestID returns the request id of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Logger returns the logger of ctx, or slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}
