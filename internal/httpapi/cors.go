package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// CORS of /api/v1 for the web apps of other sites (REEL_CORS_ORIGINS,
// docs/api.md "Browsers on other origins"). Only the listed origins are
// answered, each by name and with credentials, so that a listed app may
// use the session cookie where the browser sends it; every other origin
// gets no CORS header and its browser keeps the answer from it. The other
// prefixes keep their own rules: tus answers any origin without
// credentials (tusd; listed origins get credentials too, see corsTus),
// media any origin ("*": signed URLs are the credential), and /douyin/
// none (its clients are apps).

// What a listed origin's scripts may send and read. The request headers
// are those reel reads; the response headers those a client needs
// besides the CORS-safelisted ones: when to retry (Retry-After and the
// rate-limit fields), what was created (Location, Video-ID), which
// request it was (X-Request-ID), and whether an answer is a stale copy
// (Age, Cache-Status; see degrade.go).
const (
	corsAllowMethods  = "GET, HEAD, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, Last-Event-ID, X-Reel-Session, X-Request-ID, Cache-Control"
	corsExposeHeaders = "Retry-After, RateLimit, RateLimit-Policy, Location, Video-ID, X-Request-ID, Age, Cache-Status, WWW-Authenticate"
	// corsMaxAge is how long a browser may keep a preflight's answer, in
	// seconds: Chromium keeps it two hours at most.
	corsMaxAge = "7200"
)

// cors answers the preflights of /api/v1 at once, before shedding,
// authentication and rate limits (a preflight carries no credentials and
// costs nothing), and adds the CORS headers of a listed origin to every
// other answer there, errors included. It runs for every request (the
// preflight of a path that has no OPTIONS route is answered too) and acts
// on /api/v1 only, tus excepted.
func (s *server) cors() gin.HandlerFunc {
	return func(c *gin.Context) {
		p := c.Request.URL.Path
		if len(s.CORSOrigins) == 0 || !strings.HasPrefix(p, "/api/v1/") || isTusPath(p) {
			c.Next()
			return
		}
		h := c.Writer.Header()
		origin := c.GetHeader("Origin")
		listed := origin != "" && slices.Contains(s.CORSOrigins, origin)
		// The answer depends on Origin: a cache must not give one
		// origin's answer to another.
		h.Add("Vary", "Origin")
		if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if listed {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Credentials", "true")
				h.Set("Access-Control-Allow-Methods", corsAllowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
			}
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		if listed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		c.Next()
	}
}

// corsTus lets the listed origins send credentials (the session cookie)
// to tus as well: tusd echoes every Origin but allows credentials to none.
func (s *server) corsTus() gin.HandlerFunc {
	return func(c *gin.Context) {
		if o := c.GetHeader("Origin"); o != "" && slices.Contains(s.CORSOrigins, o) {
			c.Writer.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		c.Next()
	}
}

// isTusPath reports whether p is tus's (routes.go: /api/v1/uploads and
// below).
func isTusPath(p string) bool {
	return p == "/api/v1/uploads" || strings.HasPrefix(p, "/api/v1/uploads/")
}
