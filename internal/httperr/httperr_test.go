package httperr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/reel-video/reel"
)

// The statuses of docs/api.md, by public code.
func TestStatusOfEveryCode(t *testing.T) {
	for code, status := range map[string]int{
		reel.EBADREQUEST: 400, reel.EUNAUTHORIZED: 401, reel.EFORBIDDEN: 403, reel.ENOTFOUND: 404,
		reel.ECONFLICT: 409, reel.ETOOLARGE: 413, reel.EQUOTA: 413, reel.EUNSUPPORTED: 415,
		reel.EINVALID: 422, reel.ERATELIMITED: 429, reel.EINTERNAL: 500, reel.EUNAVAILABLE: 503,
		reel.ESTORAGE: 507, "no_such_code": 500,
	} {
		if got := Status(code); got != status {
			t.Errorf("Status(%q) = %d, want %d", code, got, status)
		}
	}
	// Every status reel answers leads back to a code with that status, and
	// every HTTP-only code is shown as a code of docs/api.md.
	for code, status := range statusOf {
		if got := Status(CodeOf(status)); got != status {
			t.Errorf("Status(CodeOf(%d)) = %d", status, got)
		}
		if publicCode[code] == "" && !isAPICode(code) {
			t.Errorf("code %q is not in docs/api.md and folds into no code that is", code)
		}
	}
	if CodeOf(599) != reel.EINTERNAL || CodeOf(418) != reel.EBADREQUEST {
		t.Errorf("unknown statuses: %q %q", CodeOf(599), CodeOf(418))
	}
}

func isAPICode(code string) bool {
	switch code {
	case reel.EBADREQUEST, reel.EUNAUTHORIZED, reel.EFORBIDDEN, reel.ENOTFOUND, reel.ECONFLICT, reel.ETOOLARGE,
		reel.EQUOTA, reel.EUNSUPPORTED, reel.EINVALID, reel.ERATELIMITED, reel.EINTERNAL, reel.EUNAVAILABLE, reel.ESTORAGE:
		return true
	}
	return false
}

type answer struct {
	status int
	header http.Header
	body   Body
	raw    string
	log    string
}

func write(t *testing.T, r *http.Request, err error) answer {
	t.Helper()
	var log bytes.Buffer
	r = r.WithContext(WithRequest(r.Context(), "req-42", slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	rec := httptest.NewRecorder()
	Write(rec, r, err)
	a := answer{status: rec.Code, header: rec.Header(), raw: rec.Body.String(), log: log.String()}
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &a.body); err != nil {
			t.Fatalf("answer is not JSON: %q", rec.Body)
		}
	}
	return a
}

func TestWrite(t *testing.T) {
	get := func() *http.Request { return httptest.NewRequest("GET", "/api/v1/things", nil) }
	secret := "open /var/lib/reel/blobs/x: permission denied"

	t.Run("internal errors are logged, never shown", func(t *testing.T) {
		for _, err := range []error{
			errors.New(secret),
			reel.Errorf(reel.EINTERNAL, "%s", secret),
			&reel.Error{Code: "made_up", Message: secret},
			Hide(reel.EINTERNAL, errors.New(secret)),
		} {
			a := write(t, get(), err)
			if a.status != 500 || a.body.Error.Code != "internal" || a.body.Error.Message != "internal error" || strings.Contains(a.raw, "/var") {
				t.Errorf("%v: answered %d %s", err, a.status, a.raw)
			}
			if !strings.Contains(a.log, "req-42") || !strings.Contains(a.log, "/var/lib/reel") || !strings.Contains(a.log, `"level":"ERROR"`) {
				t.Errorf("%v: log %s", err, a.log)
			}
		}
	})

	t.Run("hidden 5xx keep their code", func(t *testing.T) {
		a := write(t, get(), Hide(reel.EUNAVAILABLE, errors.New(secret)))
		if a.status != 503 || a.body.Error.Code != "unavailable" || strings.Contains(a.raw, "/var") || a.header.Get("Retry-After") == "" {
			t.Errorf("answered %d %s %v", a.status, a.raw, a.header)
		}
	})

	t.Run("503 carries Retry-After", func(t *testing.T) {
		a := write(t, get(), reel.Errorf(reel.EUNAVAILABLE, "busy"))
		if a.status != 503 || a.header.Get("Retry-After") != "5" || a.body.Error.Message != "busy" {
			t.Errorf("answered %d %s %v", a.status, a.raw, a.header)
		}
		if a.log != "" {
			t.Errorf("a refusal reel decided on was logged as a failure: %s", a.log)
		}
		r := get()
		rec := httptest.NewRecorder()
		rec.Header().Set("Retry-After", "30")
		Write(rec, r, reel.Errorf(reel.EUNAVAILABLE, "queue full"))
		if rec.Header().Get("Retry-After") != "30" {
			t.Errorf("a Retry-After already set was replaced by %q", rec.Header().Get("Retry-After"))
		}
		if a := write(t, get(), &retryLater{reel.Errorf(reel.EUNAVAILABLE, "queue full")}); a.header.Get("Retry-After") != "30" {
			t.Errorf("the error's own Retry-After: %q", a.header.Get("Retry-After"))
		}
	})

	t.Run("429 carries Retry-After", func(t *testing.T) {
		a := write(t, get(), reel.Errorf(reel.ERATELIMITED, "slow down"))
		if a.status != 429 || a.header.Get("Retry-After") != "5" {
			t.Errorf("a 429 without a stated wait answered %d %v", a.status, a.header)
		}
		a = write(t, get(), fmt.Errorf("sign in: %w", &retryLater{reel.Errorf(reel.ERATELIMITED, "too many")}))
		if a.status != 429 || a.header.Get("Retry-After") != "30" {
			t.Errorf("a 429 that states its wait answered %d %v", a.status, a.header)
		}
		for _, err := range []error{reel.Errorf(reel.ENOTFOUND, "no"), reel.Errorf(reel.EQUOTA, "full"), errors.New("boom")} {
			if a := write(t, get(), err); a.header.Get("Retry-After") != "" {
				t.Errorf("%d answered with Retry-After %q", a.status, a.header.Get("Retry-After"))
			}
		}
	})

	t.Run("a request out of its own time is unavailable", func(t *testing.T) {
		a := write(t, get(), fmt.Errorf("find user 2: %w", context.DeadlineExceeded))
		if a.status != 503 || a.body.Error.Code != "unavailable" {
			t.Errorf("answered %d %s", a.status, a.raw)
		}
		// The driver's own word for it: SQLite says "interrupted".
		ctx, cancel := context.WithTimeout(context.Background(), 0)
		defer cancel()
		<-ctx.Done()
		a = write(t, get().WithContext(ctx), errors.New("interrupted (9)"))
		if a.status != 503 || a.body.Error.Code != "unavailable" || a.header.Get("Retry-After") == "" {
			t.Errorf("after the deadline: answered %d %s", a.status, a.raw)
		}
	})

	t.Run("a cancellation that is not the client's is unavailable", func(t *testing.T) {
		a := write(t, get(), fmt.Errorf("load card: %w", context.Canceled))
		if a.status != 503 || a.body.Error.Code != "unavailable" {
			t.Errorf("answered %d %s", a.status, a.raw)
		}
	})

	t.Run("client errors", func(t *testing.T) {
		a := write(t, get(), reel.Invalid(map[string]string{"title": "too long"}))
		if a.status != 422 || a.body.Error.Fields["title"] != "too long" || a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("answered %d %s %v", a.status, a.raw, a.header)
		}
		if a.log != "" {
			t.Errorf("a client error was logged: %s", a.log)
		}
		a = write(t, get(), &reel.Error{Code: CodeGone, Message: "the upload expired"})
		if a.status != 410 || a.body.Error.Code != "not_found" {
			t.Errorf("gone: answered %d %s", a.status, a.raw)
		}
	})

	t.Run("a client that went away is 499 at debug", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		a := write(t, get().WithContext(ctx), fmt.Errorf("find user: %w", context.Canceled))
		if a.status != StatusClientClosed || a.raw != "" {
			t.Errorf("answered %d %s", a.status, a.raw)
		}
		if !strings.Contains(a.log, `"level":"DEBUG"`) || !strings.Contains(a.log, "req-42") {
			t.Errorf("log %s", a.log)
		}

		// A reset of the client's own connection, not of another one.
		r := get()
		r.RemoteAddr = "192.0.2.7:5555"
		reset := func(addr string) error {
			return &net.OpError{Op: "read", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP(addr), Port: 5555},
				Err: os.NewSyscallError("read", syscall.ECONNRESET)}
		}
		if a := write(t, r, reset("192.0.2.7")); a.status != StatusClientClosed {
			t.Errorf("reset of the client's connection: %d", a.status)
		}
		if a := write(t, r, reset("192.0.2.8")); a.status == StatusClientClosed {
			t.Errorf("reset of another connection counted as the client's")
		}
	})
}

func TestClassifiers(t *testing.T) {
	outage := errors.New("dependency down")
	reel.RegisterClassifier(func(err error) *reel.Error {
		if errors.Is(err, outage) {
			return reel.Errorf(reel.EUNAVAILABLE, "down for now")
		}
		return nil
	})
	a := write(t, httptest.NewRequest("GET", "/", nil), fmt.Errorf("list: %w", outage))
	if a.status != 503 || a.body.Error.Message != "down for now" {
		t.Errorf("classified error answered %d %s", a.status, a.raw)
	}
}

// retryLater is an error that says when to retry, as publish.Busy does.
type retryLater struct{ err error }

func (r *retryLater) Error() string          { return r.err.Error() }
func (r *retryLater) Unwrap() error          { return r.err }
func (r *retryLater) RetryAfterSeconds() int { return 30 }
