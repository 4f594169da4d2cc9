// Package douyin serves the Douyin-compatible API (/douyin/, see
// docs/api.md) as a thin adapter over the services of package reel: it
// reads the parameters the way those clients send them, calls the same
// services as /api/v1, and writes the answers in that API's shapes. It holds
// no domain logic of its own.
//
// # Conventions
//
// Every answer is HTTP 200 with {"status_code": int, "status_msg": string,
// ...}; status_code 0 is success. Parameters are read from the query string
// and from an urlencoded or multipart form body; when both carry a
// (non-empty) value the form wins. The token is the bearer token /api/v1
// issues, sent as the token parameter or as an Authorization: Bearer header.
// A token that is sent but invalid, expired or signed out is refused with
// code 2 also where the token is optional, as in /api/v1: a client that
// believes it is signed in must not be served silently as anonymous.
//
// Only transport-level failures keep a real HTTP status: a panic is 500, an
// unknown path 404 and a wrong method 405 (in /api/v1's error shape), and a
// request that outlives REEL_REQUEST_TIMEOUT is cut as on every route.
// Oversized bodies and rate limits are HTTP 200 with codes 8 and 9; a rate
// limit also sets Retry-After.
//
// # Status codes
//
//	code  meaning
//	0     success (also for a repeated action already in effect)
//	1     bad parameter: missing, not a number, out of range, unknown
//	      action_type, or invalid (username, password, text, title, following
//	      or messaging oneself)
//	2     not logged in: no token where one is required, or an invalid,
//	      expired or signed-out token
//	3     wrong username or password (login)
//	4     not found: no such user, video or comment (or not visible to you)
//	5     already exists: the username is taken (register)
//	6     forbidden: e.g. deleting someone else's comment on someone else's
//	      video, or reading another user's friend list
//	7     upload rejected: not a video ffprobe can read (random bytes, an
//	      image, a truncated file), or beyond REEL_MAX_DURATION/REEL_MAX_PIXELS
//	8     too large: the upload exceeds REEL_MAX_UPLOAD_BYTES, a form body
//	      exceeds 1 MiB, or the user's storage quota (REEL_USER_QUOTA_BYTES)
//	9     rate limited: too many failed logins or sign-ups, or too many
//	      uploads without a token from one address; see Retry-After
//	10    unavailable: the server is busy (processing queue full, too many
//	      uploads being checked, password hashing saturated, no disk space
//	      left for the upload) or its database is unreachable; try again
//	      after Retry-After
//	11    internal error (logged on the server; never shown in detail)
package douyin

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/account"
	"github.com/reel-video/reel/internal/httperr"
	"github.com/reel-video/reel/internal/playback"
	"github.com/reel-video/reel/internal/publish"
)

// Status codes of the Douyin API (see the package comment). They are part of
// the contract: clients switch on them, so they never change.
const (
	CodeOK               = 0
	CodeBadParam         = 1
	CodeNotLoggedIn      = 2
	CodeWrongCredentials = 3
	CodeNotFound         = 4
	CodeExists           = 5
	CodeForbidden        = 6
	CodeNotVideo         = 7
	CodeTooLarge         = 8
	CodeRateLimited      = 9
	CodeUnavailable      = 10
	CodeInternal         = 11
)

// codeOf maps reel's error codes to status codes; wrong credentials and
// rejected uploads are told apart where they happen.
var codeOf = map[string]int{
	reel.EBADREQUEST:   CodeBadParam,
	reel.EINVALID:      CodeBadParam,
	reel.EUNAUTHORIZED: CodeNotLoggedIn,
	reel.ENOTFOUND:     CodeNotFound,
	reel.ECONFLICT:     CodeExists,
	reel.EFORBIDDEN:    CodeForbidden,
	reel.EUNSUPPORTED:  CodeNotVideo,
	reel.ETOOLARGE:     CodeTooLarge,
	reel.EQUOTA:        CodeTooLarge,
	reel.ERATELIMITED:  CodeRateLimited,
	reel.EUNAVAILABLE:  CodeUnavailable,
	reel.ESTORAGE:      CodeUnavailable,
	reel.EINTERNAL:     CodeInternal,
}

// Sizes of the answers. This API has no paging parameters besides the
// feed's latest_time and the chat's pre_msg_time, so the other lists answer
// their first page: the newest ListLimit items.
const (
	FeedLimit = 30
	ListLimit = 50
	// DefaultMaxFormBytes bounds the form body of every endpoint but
	// publish/action when Deps.MaxFormBytes is 0.
	DefaultMaxFormBytes = 1 << 20
	// MaxCredentialLen is this API's limit on passwords (bytes). Its limit
	// of 32 on usernames is reel's own (reel.MaxUsernameLen columns), checked
	// only by reel.ValidateCredentials.
	MaxCredentialLen = 32
)

// Deps are what the handlers need. Every field is required unless noted.
type Deps struct {
	Logger *slog.Logger // nil discards

	Users  reel.UserService
	Videos reel.VideoService
	Social reel.SocialService
	// Accounts signs up and in, and reads tokens, exactly as for /api/v1.
	Accounts  *account.Service
	Publisher *publish.Publisher
	URLs      *playback.URLs
	// BaseURL returns the scheme and host that absolute media URLs start
	// with for the client of c (REEL_PUBLIC_URL, or what the client used).
	BaseURL func(c *gin.Context) string

	MaxUploadBytes int64
	IncomingDir    string // publish/action uploads land here before the blob store
	MaxFormBytes   int64  // 0: DefaultMaxFormBytes
}

// api is Deps with the defaults filled in; every handler closes over one.
type api struct {
	Deps
	now func() time.Time
}

func newAPI(d Deps) *api {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.MaxFormBytes <= 0 {
		d.MaxFormBytes = DefaultMaxFormBytes
	}
	return &api{Deps: d, now: time.Now}
}

// Status is the head of every answer.
type Status struct {
	StatusCode int    `json:"status_code"`
	StatusMsg  string `json:"status_msg"`
}

var ok = Status{StatusCode: CodeOK, StatusMsg: "ok"}

// status turns err into the head of a failed answer. err is judged as on
// every other route (httperr.Resolve): internal errors are logged with the
// request id and shown as "internal error", and an unreachable database or
// a request out of time is CodeUnavailable; it and CodeRateLimited carry
// Retry-After, as 503 and 429 do on every route.
func (a *api) status(c *gin.Context, err error) Status {
	e := httperr.Resolve(c.Request, err)
	code, found := codeOf[e.Code]
	if !found {
		code, e = CodeInternal, httperr.Resolve(nil, errors.New(e.Code))
	}
	httperr.Log(c.Request, err, httperr.Status(e.Code))
	// Retry-After by the rule of every route: unavailable (503) and rate
	// limited (429) answers carry it. Code 10 stands for 503 whatever its
	// cause (a full disk is 507 on /api/v1): its clients retry after it.
	status := httperr.Status(e.Code)
	if code == CodeUnavailable {
		status = http.StatusServiceUnavailable
	}
	httperr.SetRetryAfter(c.Writer.Header(), status, err)
	return Status{StatusCode: code, StatusMsg: message(e)}
}

// fail answers err with only the head. A client that went away gets no
// answer: it is recorded as 499, as on every route.
func (a *api) fail(c *gin.Context, err error) {
	a.failWith(c, err, func(st Status) any { return st })
}

// Fail answers err in this API's shape (HTTP 200 with status_code and
// status_msg, Retry-After by the rule of every route), for middleware that
// refuses a Douyin request before its handler runs (the node's concurrency
// limit, the API rate limits).
func Fail(c *gin.Context, err error) { (&api{}).fail(c, err) }

// failWith answers err as fail does, with the body answer builds around
// the head, for answers whose fields are present also on failure.
func (a *api) failWith(c *gin.Context, err error, answer func(Status) any) {
	if httperr.ClientGone(c.Request, err) {
		httperr.Write(c.Writer, c.Request, err)
		return
	}
	c.JSON(http.StatusOK, answer(a.status(c, err)))
}

// message is the human message of err, with the offending fields of a
// validation error spelled out, since this API has no place for them.
func message(err error) string {
	msg := reel.ErrorMessage(err)
	var e *reel.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return msg
	}
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = name + " " + e.Fields[name]
	}
	return msg + ": " + strings.Join(parts, "; ")
}

// badParam is the error of a missing or malformed parameter.
func badParam(format string, args ...any) error {
	return reel.Errorf(reel.EBADREQUEST, format, args...)
}

// parseForm reads an urlencoded or multipart body, at most MaxFormBytes, so
// that param sees it. Files in a multipart body are dropped: only
// publish/action takes one, and it streams its body itself.
func (a *api) parseForm(c *gin.Context) error {
	r := c.Request
	tooLarge := reel.Errorf(reel.ETOOLARGE, "the request body exceeds %d bytes", a.MaxFormBytes)
	if r.ContentLength > a.MaxFormBytes {
		c.Header("Connection", "close")
		return tooLarge
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(c.Writer, r.Body, a.MaxFormBytes)
	}
	var err error
	if strings.HasPrefix(c.ContentType(), "multipart/form-data") {
		// The whole body fits in memory by the limit above: nothing is
		// written to disk.
		err = r.ParseMultipartForm(a.MaxFormBytes)
		if r.MultipartForm != nil {
			_ = r.MultipartForm.RemoveAll()
		}
	} else {
		err = r.ParseForm()
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		c.Header("Connection", "close")
		return tooLarge
	case err != nil:
		return badParam("malformed query string or form body")
	}
	return nil
}

// param returns the value of name from the form body, or from the query
// string when the form has none: the form wins. Empty counts as absent.
func param(c *gin.Context, name string) string {
	r := c.Request
	if r.MultipartForm != nil {
		if v := r.MultipartForm.Value[name]; len(v) > 0 && v[0] != "" {
			return v[0]
		}
	}
	if v := r.PostForm[name]; len(v) > 0 && v[0] != "" {
		return v[0]
	}
	return c.Query(name)
}

// idParam reads a positive id below 2^53. A missing value is an error when
// required; when optional, a missing value or 0 is 0.
func idParam(c *gin.Context, name string, required bool) (int64, error) {
	raw := param(c, name)
	if raw == "" {
		if required {
			return 0, badParam("%s is required", name)
		}
		return 0, nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 0 || id > reel.MaxID || (id == 0 && required) {
		return 0, badParam("%s must be a positive whole number, not %q", name, truncate(raw))
	}
	return id, nil
}

// actionType reads action_type, which must be one of allowed.
func actionType(c *gin.Context, allowed ...int) (int, error) {
	raw := param(c, "action_type")
	n, err := strconv.Atoi(raw)
	if err != nil || !slices.Contains(allowed, n) {
		names := make([]string, len(allowed))
		for i, v := range allowed {
			names[i] = strconv.Itoa(v)
		}
		if raw == "" {
			return 0, badParam("action_type is required (%s)", strings.Join(names, " or "))
		}
		return 0, badParam("action_type must be %s, not %q", strings.Join(names, " or "), truncate(raw))
	}
	return n, nil
}

// timeParam reads an epoch time in seconds or milliseconds: values above
// 10^11 (March 1973 in milliseconds, the year 5138 in seconds) are
// milliseconds. It returns the value in milliseconds and whether it was
// given in seconds; 0 when absent.
func timeParam(c *gin.Context, name string) (ms int64, inSeconds bool, err error) {
	raw := param(c, name)
	if raw == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 || n > reel.MaxID {
		return 0, false, badParam("%s must be an epoch time in seconds or milliseconds, not %q", name, truncate(raw))
	}
	if n > 0 && n <= 1e11 {
		return n * 1000, true, nil
	}
	return n, false, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// viewer returns the user of the request's token: the token parameter, or
// an Authorization: Bearer header; 0 when there is none. A token that is
// sent but invalid, expired or signed out is EUNAUTHORIZED.
func (a *api) viewer(c *gin.Context) (int64, error) {
	return a.tokenUser(c, param(c, "token"))
}

// tokenUser authenticates the request with token (or, when it is "", its
// Authorization header) through the accounts path that /api/v1 uses.
func (a *api) tokenUser(c *gin.Context, token string) (int64, error) {
	p, err := a.Accounts.Authenticate(c.Request, token)
	return p.UserID, err
}

// requireViewer is viewer where a token is required.
func (a *api) requireViewer(c *gin.Context) (int64, error) {
	id, err := a.viewer(c)
	if err == nil && id == 0 {
		err = reel.Errorf(reel.EUNAUTHORIZED, "not logged in: send the token parameter")
	}
	return id, err
}

// userParam reads user_id; absent or 0 means the token's user. One of the
// two is needed.
func (a *api) userParam(c *gin.Context, viewer int64) (int64, error) {
	id, err := idParam(c, "user_id", false)
	if err != nil {
		return 0, err
	}
	if id == 0 {
		if viewer == 0 {
			return 0, badParam("user_id is required (or send the token of the user)")
		}
		id = viewer
	}
	return id, nil
}

// handle runs fn for a request whose form has been parsed: fn returns the
// answer, or an error answered with its status code.
func (a *api) handle(fn func(c *gin.Context) (any, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := a.parseForm(c); err != nil {
			a.fail(c, err)
			return
		}
		body, err := fn(c)
		if err != nil {
			a.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, body)
	}
}
