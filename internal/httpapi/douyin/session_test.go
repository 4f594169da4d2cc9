package douyin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/account"
	"github.com/reel-video/reel/internal/httperr"
)

// TestSessionFailures: register and login fail as every Douyin handler
// does: a client that went away is recorded as 499, not answered 200; a
// client still there gets the head with user_id and token.
func TestSessionFailures(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, c := range []struct {
		name   string
		leave  bool
		err    error
		status int
		code   int
	}{
		{"client gone", true, fmt.Errorf("hash password: %w", context.Canceled), httperr.StatusClientClosed, -1},
		{"client gone, store failing", true, errors.New("connection reset"), httperr.StatusClientClosed, -1},
		{"wrong credentials", false, account.ErrWrongCredentials, http.StatusOK, CodeWrongCredentials},
		{"internal", false, errors.New("disk on fire"), http.StatusOK, CodeInternal},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newAPI(Deps{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := httptest.NewRequest(http.MethodPost, "/douyin/user/login/?username=u&password=p", strings.NewReader("")).WithContext(ctx)
			rec := httptest.NewRecorder()
			gc, _ := gin.CreateTestContext(rec)
			gc.Request = r
			a.session(func(*gin.Context, string, string) (*account.Session, error) {
				if c.leave {
					cancel()
				}
				return nil, c.err
			})(gc)
			// The status gin records (the access log's), which the
			// recorder sees only once a body is written.
			if got := gc.Writer.Status(); got != c.status {
				t.Fatalf("answered %d %s, want %d", got, rec.Body, c.status)
			}
			if c.code < 0 {
				return
			}
			body := rec.Body.String()
			if !strings.Contains(body, fmt.Sprintf(`"status_code":%d`, c.code)) || !strings.Contains(body, `"user_id":0`) || !strings.Contains(body, `"token":""`) {
				t.Errorf("answer %s, want status_code %d with user_id 0 and token \"\"", body, c.code)
			}
		})
	}
}

// TestStatusRetryAfter: the answers that ask the client to retry later
// (code 9, rate limited; code 10, unavailable, a full disk included) carry
// Retry-After, the error's own wait or the default; others carry none.
func TestStatusRetryAfter(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, c := range []struct {
		err   error
		code  int
		after string
	}{
		{reel.Errorf(reel.ERATELIMITED, "too many"), CodeRateLimited, "5"},
		{&account.LimitedError{Err: reel.Errorf(reel.ERATELIMITED, "too many"), RetryAfter: 90 * time.Second}, CodeRateLimited, "90"},
		{reel.Errorf(reel.EUNAVAILABLE, "busy"), CodeUnavailable, "5"},
		{reel.Errorf(reel.ESTORAGE, "disk full"), CodeUnavailable, "5"},
		{reel.Errorf(reel.ENOTFOUND, "no such video"), CodeNotFound, ""},
		{errors.New("boom"), CodeInternal, ""},
	} {
		rec := httptest.NewRecorder()
		gc, _ := gin.CreateTestContext(rec)
		gc.Request = httptest.NewRequest(http.MethodGet, "/douyin/feed/", nil)
		st := newAPI(Deps{}).status(gc, c.err)
		if st.StatusCode != c.code || rec.Header().Get("Retry-After") != c.after {
			t.Errorf("%v: status_code %d, Retry-After %q; want %d, %q", c.err, st.StatusCode, rec.Header().Get("Retry-After"), c.code, c.after)
		}
	}
}
