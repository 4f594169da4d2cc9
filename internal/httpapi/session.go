package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/account"
)

// Sessions in the browser (docs/api.md, Sessions in the browser). The web
// app asks for its session as a cookie (sessionHeader on sign-up and
// sign-in): the token then travels in an HttpOnly cookie that no script
// can read, so an XSS cannot steal it, and the answer's "token" is "".
// Every route that takes a bearer token takes the cookie too (a bearer
// header wins), event streams included, which EventSource cannot send
// headers to. Since a browser attaches the cookie to requests other sites
// make, every request it authenticates that changes something must come
// from reel's own pages or a trusted origin (sameOrigin), as must the
// sign-in that sets it; SameSite=Lax stops most cross-site sends already.

// sessionHeader asks for the session as a cookie: "X-Reel-Session: cookie".
const sessionHeader = "X-Reel-Session"

// newCrossOrigin is the CSRF check of cookie-authenticated requests:
// net/http's CrossOriginProtection (Sec-Fetch-Site, else Origin against
// Host), with the CORS origins trusted as well.
func newCrossOrigin(trusted []string) (*http.CrossOriginProtection, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range trusted {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("CORS origin %q: %w", o, err)
		}
	}
	return cop, nil
}

// sameOrigin refuses an unsafe request (POST, PUT, PATCH, DELETE) that a
// browser sent from another origin than reel's own or a trusted one.
// Requests of other clients, which send neither Sec-Fetch-Site nor Origin,
// pass.
func (s *server) sameOrigin(r *http.Request) error {
	if err := s.crossOrigin.Check(r); err != nil {
		return reel.Errorf(reel.EFORBIDDEN,
			"cross-origin request refused: a request signed in by the session cookie must come from reel's own pages or an origin in REEL_CORS_ORIGINS (other clients send Authorization: Bearer)")
	}
	return nil
}

// guardCookie refuses the cross-origin unsafe requests that the session
// cookie would authenticate, on routes that authenticate by themselves
// (tus); authenticate does the same on the rest of /api/v1.
func (s *server) guardCookie() gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := account.CookieToken(c.Request); ok {
			if err := s.sameOrigin(c.Request); err != nil {
				refuse(c, err)
				return
			}
		}
		c.Next()
	}
}

// wantsCookie reads sessionHeader: true for "cookie", false when absent.
func wantsCookie(c *gin.Context) (bool, error) {
	switch v := c.GetHeader(sessionHeader); v {
	case "":
		return false, nil
	case "cookie":
		return true, nil
	default:
		return false, reel.Errorf(reel.EBADREQUEST, "%s must be \"cookie\" (or absent for a bearer token), not %q", sessionHeader, v)
	}
}

// setSessionCookie puts a session's token in the session cookie, for as
// long as the token lives. It is Secure when the request came over TLS
// (directly or through a trusted proxy that says so): a browser keeps a
// Secure cookie only from an https origin.
func (s *server) setSessionCookie(c *gin.Context, token string, expires time.Time) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: account.SessionCookie, Value: token, Path: "/",
		Expires: expires, MaxAge: max(1, int(time.Until(expires).Seconds())),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.base.secure(c.Request),
	})
}

// dropCookie clears the session cookie of a request that was signed in by
// it (a sign-out); bearer clients get no Set-Cookie.
func (s *server) dropCookie(c *gin.Context) {
	if _, ok := account.CookieToken(c.Request); ok {
		s.clearSessionCookie(c)
	}
}

// clearSessionCookie tells the browser to drop the session cookie.
func (s *server) clearSessionCookie(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: account.SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.base.secure(c.Request),
	})
}
