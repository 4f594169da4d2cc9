package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/account"
	"github.com/reel-video/reel/internal/clientaddr"
	"github.com/reel-video/reel/internal/httpapi/douyin"
	"github.com/reel-video/reel/internal/ratelimit"
)

// RateLimits are the API's token buckets (REEL_API_READ_LIMIT,
// REEL_API_WRITE_LIMIT, REEL_API_UPLOAD_LIMIT): one bucket per budget and
// client, the client being the signed-in user or else the client address
// (clientaddr.Key). A zero Rate turns its budget off; a nil Buckets turns
// them all off.
type RateLimits struct {
	Buckets                ratelimit.Buckets
	Reads, Writes, Uploads ratelimit.Rate
}

// budget names a bucket of every client: its name is the policy name of the
// RateLimit-Policy and RateLimit headers.
type budget int

const (
	noBudget budget = iota
	reads
	writes
	uploads
)

func (b budget) String() string { return [...]string{"", "reads", "writes", "uploads"}[b] }

func (l RateLimits) rate(b budget) ratelimit.Rate {
	switch b {
	case reads:
		return l.Reads
	case writes:
		return l.Writes
	case uploads:
		return l.Uploads
	}
	return ratelimit.Rate{}
}

// byMethod is the budget of an ordinary API request: reads are GET and
// HEAD, every other method that changes something is a write. OPTIONS (a
// browser's CORS preflight) costs nothing: the request it announces pays.
func byMethod(r *http.Request) budget {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return reads
	case http.MethodOptions:
		return noBudget
	}
	return writes
}

// byUploadMethod is the budget of a request on the tus endpoint: creating
// an upload (POST) spends an upload; terminating one (DELETE) is a write.
// PATCH, HEAD and OPTIONS of an existing upload cost nothing: one upload
// over a bad network is hundreds of them, it was counted when it was
// created, and what it may send is bounded by its declared size, the quota
// and its lock.
func byUploadMethod(r *http.Request) budget {
	switch r.Method {
	case http.MethodPost:
		return uploads
	case http.MethodDelete:
		return writes
	}
	return noBudget
}

func always(b budget) func(*http.Request) budget { return func(*http.Request) budget { return b } }

// limitRate spends one token of the request's budget (which) from the
// bucket of its client, and answers 429 rate_limited with Retry-After when
// the bucket is empty. Every answer of a counted request carries the IETF
// RateLimit-Policy and RateLimit headers (draft-ietf-httpapi-ratelimit-
// headers). user finds the signed-in user: on /api/v1 authenticate has run
// before; tus and Douyin requests carry their token their own way.
func (s *server) limitRate(which func(*http.Request) budget, user func(*gin.Context) int64) gin.HandlerFunc {
	// Every counted answer carries these: made once, not per request.
	var policies [uploads + 1]string
	for b := range policies {
		r := s.RateLimits.rate(budget(b))
		policies[b] = fmt.Sprintf("%q;q=%d;w=%d", budget(b).String(), r.N, ceilSecs(r.Per))
	}
	return func(c *gin.Context) {
		b := which(c.Request)
		r := s.RateLimits.rate(b)
		if s.RateLimits.Buckets == nil || r.Off() {
			c.Next()
			return
		}
		var k [64]byte
		key := append(append(k[:0], "api:"...), b.String()...)
		if uid := user(c); uid != 0 {
			key = strconv.AppendInt(append(key, ":u:"...), uid, 10)
		} else {
			key = append(append(key, ":a:"...), clientaddr.Key(c.ClientIP())...)
		}
		res, err := s.RateLimits.Buckets.Take(c.Request.Context(), time.Now(), string(key), r)
		if err != nil {
			// Only a store without a fallback fails (serve uses
			// ratelimit.FallbackBuckets, which never does): a limit that
			// cannot be counted is no reason to refuse the request.
			c.Next()
			return
		}
		// Keys in their canonical form, set directly: Header.Set would
		// canonicalize them on every request.
		h := c.Writer.Header()
		h["Ratelimit-Policy"] = []string{policies[b]}
		if res.Allowed {
			h["Ratelimit"] = []string{rateLimitHeader(b, res.Remaining, ceilSecs(res.Reset))}
			c.Next()
			return
		}
		// t is when one more request is allowed: a client that waits for
		// the whole bucket to refill would wait far longer than it must.
		h["Ratelimit"] = []string{rateLimitHeader(b, 0, ceilSecs(res.RetryAfter))}
		refusal := &account.LimitedError{
			Err: reel.Errorf(reel.ERATELIMITED, "too many %s from this client, retry in %d s", b.String(),
				ceilSecs(res.RetryAfter)),
			RetryAfter: res.RetryAfter,
			What:       b.String(),
		}
		s.Metrics.rateLimited.WithLabelValues(b.String()).Inc()
		if isDouyin(c) {
			closeUnreadBody(c)
			douyin.Fail(c, refusal)
			c.Abort()
			return
		}
		refuse(c, refusal)
	}
}

func isDouyin(c *gin.Context) bool {
	p := c.FullPath()
	return len(p) >= len("/douyin/") && p[:len("/douyin/")] == "/douyin/"
}

// signedIn is the user authenticate found on /api/v1.
func signedIn(c *gin.Context) int64 { return viewerID(c) }

// tokenUser is the user of a request that authenticate did not see (tus,
// Douyin): the token query parameter or the Authorization header, when
// valid. An invalid token is no error here: the request is counted by its
// address, and its handler refuses it.
func (s *server) tokenUser(param string) func(*gin.Context) int64 {
	return func(c *gin.Context) int64 {
		token := ""
		if param != "" {
			token = c.Query(param)
		}
		p, err := s.Accounts.Authenticate(c.Request, token)
		if err != nil {
			return 0
		}
		return p.UserID
	}
}

// sessionUser is the user of a tus request (which authenticate does not
// see): its bearer token or session cookie, when valid; 0 otherwise, as
// for tokenUser.
func (s *server) sessionUser(c *gin.Context) int64 {
	p, _, err := s.Accounts.AuthenticateSession(c.Request)
	if err != nil {
		return 0
	}
	return p.UserID
}

// rateLimitHeader is the RateLimit header of budget b: "reads";r=2999;t=1.
func rateLimitHeader(b budget, remaining int, t int64) string {
	var v [48]byte
	out := strconv.AppendQuote(v[:0], b.String())
	out = strconv.AppendInt(append(out, ";r="...), int64(remaining), 10)
	out = strconv.AppendInt(append(out, ";t="...), t, 10)
	return string(out)
}

// ceilSecs is d in whole seconds, rounded up and at least 1: the headers
// count seconds, and a client told 0 would come back at once.
func ceilSecs(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}
