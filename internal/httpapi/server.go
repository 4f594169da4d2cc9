// Package httpapi is reel's HTTP face: the Gin engine with its middleware,
// every route (routes.go), and the handlers that translate between HTTP and
// the services of package reel. Errors become HTTP status codes in exactly
// one place (errors.go).
package httpapi

import (
	"crypto/tls"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/maypok86/otter/v2"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/account"
	"github.com/reel-video/reel/internal/captions"
	"github.com/reel-video/reel/internal/events"
	"github.com/reel-video/reel/internal/httpapi/douyin"
	"github.com/reel-video/reel/internal/playback"
	"github.com/reel-video/reel/internal/publish"
)

// Deps are what the handlers need. Every field is required unless noted.
type Deps struct {
	Logger  *slog.Logger
	Metrics *Metrics
	Users   reel.UserService
	// Accounts signs up, signs in and out, and reads every request's token.
	Accounts *account.Service
	// Ready lists the parts /readyz checks, each answering nil when healthy.
	Ready []ReadyCheck
	// RequestTimeout bounds an ordinary API request end to end.
	RequestTimeout time.Duration
	// MaxInFlight is how many API requests this node serves at once; the
	// ones over it are shed (503). 0: no limit.
	MaxInFlight int
	// TrustedProxies are the addresses whose X-Forwarded-For is believed;
	// empty means the client address is the connection's peer.
	TrustedProxies []string

	Videos   reel.VideoService
	Playback reel.PlaybackService
	Social   reel.SocialService
	Views    *playback.Views
	// BindClientIP binds media URLs to the address of the client they are
	// handed to (URLs.BindClient); media requests are then checked against it.
	BindClientIP bool
	// Tus serves /api/v1/uploads/ (upload.NewTus); Media serves /media/
	// (playback.NewHandler); URLs signs the URLs that point there.
	Tus       http.Handler
	Media     http.Handler
	URLs      *playback.URLs
	Publisher *publish.Publisher
	// Captions stores the owners' captions and publishes them into the
	// manifests.
	Captions *captions.Service
	// PublicURL is the base of absolute URLs; "" derives it from the request,
	// whose Host is believed only when it is one of AllowedHosts (see
	// baseURL).
	PublicURL      string
	AllowedHosts   []string
	MaxUploadBytes int64
	IncomingDir    string // multipart uploads land here before the blob store
	// RateLimits are the API budgets (ratelimit.go); optional: the zero
	// value limits nothing.
	RateLimits RateLimits
	// Events carries the users' live events (GET /api/v1/events); nil is
	// a bus of this server's own, which nothing publishes to.
	Events events.Bus
	// CORSOrigins are the origins of other sites' web apps that may call
	// /api/v1 from browsers (REEL_CORS_ORIGINS): "scheme://host[:port]".
	// Their requests get CORS answers with credentials, and pass the CSRF
	// check of the session cookie.
	CORSOrigins []string
	// App is the web app's files (web.App): index.html, assets/ and the
	// files at its root. nil serves no app: every unknown path is a JSON 404.
	App fs.FS
	// MediaOrigins are origins other than reel's own that media URLs may
	// point to (REEL_PUBLIC_URL's, when it is a CDN); the app's
	// Content-Security-Policy allows them for images, media and fetches.
	MediaOrigins []string
}

// Limits that are part of the hardening of the server.
const (
	// MaxHeaderBytes is the largest request head (request line and headers)
	// reel accepts; a larger one is answered 431.
	MaxHeaderBytes = 8 << 10
	// transportMaxHeaderBytes is the hard limit given to net/http, above
	// MaxHeaderBytes so that the middleware, not net/http's plain-text reply,
	// answers the 431 in the JSON error shape for all but absurd heads.
	transportMaxHeaderBytes = 64 << 10
	// MaxJSONBody is the largest JSON request body; a larger one is answered 413.
	MaxJSONBody = 1 << 20
	// gzipMinSize: JSON answers larger than this are gzip-compressed for
	// clients that accept it (docs/api.md); smaller ones would barely shrink.
	gzipMinSize = 1 << 10
)

type server struct {
	Deps
	log     *slog.Logger
	base    *publicBase
	streams *streamLimiter
	encoded *encodedCards // the JSON of cached cards (encode.go)
	// feedAnswers are the signed-in viewers' last first pages (encode.go).
	feedAnswers *otter.Cache[int64, *feedAnswer]
	app         *appFiles // nil without Deps.App
	// crossOrigin is the CSRF check of cookie-authenticated requests (session.go).
	crossOrigin *http.CrossOriginProtection
}

// NewServer returns the handler for the public listener.
func NewServer(d Deps) (http.Handler, error) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// Redirects would answer API clients with HTML and a changed method.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	if err := e.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	base, err := newPublicBase(d.PublicURL, d.AllowedHosts, d.TrustedProxies)
	if err != nil {
		return nil, err
	}
	if d.Events == nil {
		d.Events = events.NewLocal(events.Options{})
	}
	s := &server{Deps: d, log: d.Logger, base: base, streams: newStreamLimiter(), encoded: newEncodedCards(),
		feedAnswers: newFeedAnswers()}
	if s.crossOrigin, err = newCrossOrigin(d.CORSOrigins); err != nil {
		return nil, err
	}
	if d.App != nil {
		if s.app, err = newAppFiles(d.App, d.MediaOrigins); err != nil {
			return nil, err
		}
	}
	s.routes(e)
	return e, nil
}

// douyinDeps gives the Douyin adapter the same services and helpers as the
// native handlers.
func (s *server) douyinDeps() douyin.Deps {
	return douyin.Deps{
		Logger: s.log, Users: s.Users, Videos: s.Videos, Social: s.Social,
		Accounts:  s.Accounts,
		Publisher: s.Publisher, URLs: s.URLs, BaseURL: s.baseURL,
		MaxUploadBytes: s.MaxUploadBytes, IncomingDir: s.IncomingDir,
		MaxFormBytes: MaxJSONBody,
	}
}

// ServerOptions are the connection-level settings of the public listener.
type ServerOptions struct {
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	TLS               bool
	ErrorLog          *slog.Logger
}

// NewHTTPServer wraps h in an http.Server with hardened connection settings.
// It sets no global ReadTimeout or WriteTimeout: those would cut long uploads
// and downloads. Instead each route sets its own deadlines (see deadline in
// middleware.go), and ReadHeaderTimeout and IdleTimeout stop clients that
// send nothing from holding a connection.
func NewHTTPServer(addr string, h http.Handler, o ServerOptions) *http.Server {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    transportMaxHeaderBytes,
		ConnContext:       withConn, // for corking large answers (cork.go)
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: 250,
			// Reset floods (CVE-2023-44487 style) are bounded by net/http itself;
			// a per-connection ping timeout drops dead peers.
			PingTimeout:     15 * time.Second,
			SendPingTimeout: 60 * time.Second,
		},
	}
	if o.ErrorLog != nil {
		srv.ErrorLog = slog.NewLogLogger(o.ErrorLog.Handler(), slog.LevelWarn)
	}
	if o.TLS {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		// Prior-knowledge h2c, for proxies and service meshes that speak
		// HTTP/2 to the backend without TLS.
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	return srv
}
