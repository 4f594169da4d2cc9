package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/account"
	"github.com/reel-video/reel/internal/auth"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/breaker"
	"github.com/reel-video/reel/internal/cache"
	"github.com/reel-video/reel/internal/config"
	"github.com/reel-video/reel/internal/httpapi"
	"github.com/reel-video/reel/internal/playback"
	"github.com/reel-video/reel/internal/publish"
	"github.com/reel-video/reel/internal/ratelimit"
	"github.com/reel-video/reel/internal/shared"
	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/upload"
	"github.com/reel-video/reel/web"
)

func runServe(ctx context.Context, args []string, env *environment) error {
	fs := newFlags("serve", "[flags]", "Run the HTTP server.", env)
	cfg, _, err := config.Load(fs, args, env.getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, env)
	ctx, stop := startProcess(ctx, log, env)
	defer stop()

	metrics := httpapi.NewMetrics()
	// Shared state (REEL_REDIS_URL), behind a breaker: while Redis is away
	// every part of it falls back to this node's own state.
	state, err := openShared(ctx, cfg, breaker.NewMetrics(metrics.Registry), log)
	if err != nil {
		return err
	}
	defer state.Close() // after the embedded jobs drained (deferred below)
	b, err := openBackend(ctx, cfg, env.getenv, log, cfg.Workers)
	if err != nil {
		return err
	}
	defer b.closeWithin(ctx, cfg.ShutdownTimeout, log)

	var previous []byte
	if cfg.PreviousSecret != "" {
		previous = []byte(cfg.PreviousSecret)
	}
	tokens := auth.NewTokens(b.secret, cfg.TokenTTL)
	tokens.AcceptPrevious(previous)
	signupRate, loginRate, loginAddrRate := cfg.Limits()
	// Sign-up and login limits hold for the cluster when Redis is shared.
	limits := auth.LimiterOptions{Shared: state}
	accounts := account.New(account.Config{
		Users:    b.db,
		Sessions: b.db,
		// Each hash holds its memory cost while it runs: bound them to the CPUs.
		Passwords: auth.NewHasher(auth.DefaultParams, max(2, runtime.NumCPU())),
		Tokens:    tokens,
		Logins:    auth.NewLoginLimiter(loginRate, loginAddrRate, limits),
		Signups:   auth.NewSignupLimiter(signupRate, limits),
	})
	go sweepEvery(ctx, time.Minute, accounts.Sweep)
	go sweepEvery(ctx, sessionPurge, func() {
		if _, err := accounts.PurgeExpired(ctx); err != nil && ctx.Err() == nil {
			log.Warn("purge expired sessions", "err", err)
		}
	})
	// Sign-outs, blocks, visibility changes and deletions reach the other
	// nodes through pub/sub at once; their polls and TTLs stay the fallback.
	broadcast := shared.NewBroadcast(state, log)
	accounts.Share(broadcast)
	accounts.Listen(ctx, nil)
	signer := playback.NewSigner(b.secret, previous, cfg.URLTTL)
	// Revocations outlive every URL they revoke by a minute of clock skew.
	revocations := playback.NewRevocations(b.db, signer.MaxLifetime()+time.Minute, log)
	b.db.SetOnMediaRevoked(revocations.Committed(broadcast))
	if err := revocations.Refresh(ctx); err != nil {
		return fmt.Errorf("load media revocations: %w", err)
	}
	views := playback.NewViews(b.db.AddViews, log)
	views.Share(state) // one count per viewer across the nodes
	viewsCtx, stopViews := context.WithCancel(ctx)
	viewsDone := make(chan struct{})
	go func() {
		views.Run(viewsCtx, viewFlush)
		close(viewsDone)
	}()
	defer func() {
		// After the HTTP drain (the views of the last requests are in) and
		// after a periodic flush still under way has finished. The loop is
		// stopped here, not by the signal: serve may also end by an error.
		stopViews()
		<-viewsDone
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := views.Flush(flushCtx); err != nil {
			log.Error("views lost at shutdown", "err", err)
		}
	}()
	// Every upload route is admitted and published by this one publisher.
	b.db.SetMaxQueued(cfg.MaxQueued)
	b.db.SetUserQuota(cfg.UserQuotaBytes)
	publisher := &publish.Publisher{
		Videos: b.db, Blobs: b.blobs, Limits: b.limits, WorkDir: b.dirs.work, Usage: b.db,
		Admission: publish.Admission{
			MaxQueued:    cfg.MaxQueued,
			QuotaBytes:   cfg.UserQuotaBytes,
			PendingBytes: cfg.UserPendingBytes,
			MinFreeBytes: cfg.MinFreeBytes,
			Dirs:         b.uploadDirs(),
		},
		Work: publish.NewGate(cfg.PublishProbes, publishWait),
	}
	tus, err := upload.NewTus(upload.TusConfig{
		Area:         b.uploads,
		Locker:       b.uploadLocker,
		BasePath:     "/api/v1/uploads/",
		MaxSize:      cfg.MaxUploadBytes,
		Expiry:       cfg.UploadExpiry,
		Videos:       b.db,
		Publisher:    publisher,
		Authenticate: sessionUser(accounts),
		LogOutput:    env.stderr,
	})
	if err != nil {
		return err
	}

	// Hot reads (video cards, the feed's first page) come from memory; the
	// store tells the cache what changed. While the database is down, their
	// last good copies are served for REEL_STALE_FOR, marked.
	cached := cache.New(b.db, cacheTTL, 100_000, cfg.StaleFor)
	b.db.SetOnVideoChange(cached.VideoChanged)
	b.db.SetOnUserChange(cached.UsersChanged)
	// A revocation made on another node also drops this node's copy of the
	// video, so its new visibility shows here as soon as its URLs stop.
	revocations.OnChange(func(id int64) { cached.VideoChanged(id, true) })
	// Listening starts once the hooks it calls are set.
	revocations.Listen(ctx, broadcast, nil)
	reads := sharedReads(cached, state, b.db, log)
	go revocations.Run(ctx, revocationRefresh, revocationPrune)
	liveEvents := openEvents(ctx, state, b.db, metrics.Registry, log)

	// A video that reuses an identical upload's outputs serves them.
	media := playback.HandlerOptions{Logger: log, Allowed: revocations.Allowed, Resolve: playback.NewResolver(b.db.MediaOf).Resolve}
	if cfg.MediaDelivery == "redirect" {
		// config allows redirect only on S3, whose store presigns.
		p, ok := b.blobs.(blob.Presigner)
		if !ok {
			return fmt.Errorf("REEL_MEDIA_DELIVERY=redirect: the blob store cannot hand out URLs of its own; use proxy")
		}
		media.Redirect = p
	}
	log.Info("media delivery", "mode", cfg.MediaDelivery)
	app, built := web.App()
	if !built {
		log.Warn("this binary carries no web app (web/dist was not built when it was compiled): / serves a page that says how to build it (make build)")
	}
	var mediaOrigins []string
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Host != "" { // validated by config
		mediaOrigins = append(mediaOrigins, u.Scheme+"://"+u.Host)
	}

	handler, err := httpapi.NewServer(httpapi.Deps{
		Logger:   log,
		Metrics:  metrics,
		Users:    b.db,
		Accounts: accounts,
		Ready: []httpapi.ReadyCheck{
			{Name: "database", Check: b.db.Ping, Kind: b.db.Engine()},
			{Name: "blob_store", Check: b.blobsReady, Kind: b.blobsKind()},
			{Name: "queue", Check: b.queue.Ready},
			{Name: "disk", Check: diskReady(publisher, b.db.Dir()), Advisory: true, Problem: "low"},
			// Without Redis the node serves from local state: degraded
			// across nodes, but ready.
			{Name: "shared_state", Check: state.Ping, Kind: state.Kind(), Advisory: true, Problem: "unavailable"},
		},
		RequestTimeout: cfg.RequestTimeout,
		MaxInFlight:    cfg.MaxInFlight,
		TrustedProxies: cfg.TrustedProxies,
		CORSOrigins:    cfg.CORSOrigins,
		Videos:         reads,
		Playback:       b.db,
		Social:         reads,
		Views:          views,
		BindClientIP:   cfg.URLBindClient,
		Tus:            tus,
		Media:          playback.NewHandler(signer, b.blobs, media),
		URLs:           &playback.URLs{Signer: signer, BindClient: cfg.URLBindClient},
		Publisher:      publisher,
		Captions:       b.captions,
		PublicURL:      cfg.PublicURL,
		AllowedHosts:   cfg.AllowedHosts,
		MaxUploadBytes: cfg.MaxUploadBytes,
		IncomingDir:    b.dirs.incoming,
		RateLimits:     apiLimits(cfg, state),
		Events:         liveEvents,
		App:            app,
		MediaOrigins:   mediaOrigins,
	})
	if err != nil {
		return err
	}

	servers := []*listener{{
		name: "public",
		srv: httpapi.NewHTTPServer(cfg.Addr, handler, httpapi.ServerOptions{
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			TLS:               cfg.TLS(),
			ErrorLog:          log,
		}),
		certFile: cfg.TLSCert, keyFile: cfg.TLSKey,
		sendBuffer: cfg.SendBuffer,
	}}
	if cfg.AdminAddr != "" {
		servers = append(servers, &listener{name: "admin", srv: &http.Server{
			Addr: cfg.AdminAddr, Handler: httpapi.NewAdminHandler(metrics),
			ReadHeaderTimeout: cfg.ReadHeaderTimeout, IdleTimeout: cfg.IdleTimeout,
		}})
	}
	// Requests drain first, then running jobs get the same grace period.
	return serveUntilDone(ctx, log, cfg.ShutdownTimeout, servers)
}

// How stale a node's view of media revocations (blocks, deletions, videos
// made private) may be: well inside the 2 seconds the README promises, with
// room for the read itself; how often the revocations nobody needs any more
// are deleted; and how long views wait in memory before they are written.
const (
	revocationRefresh = time.Second
	revocationPrune   = 10 * time.Minute
	viewFlush         = 5 * time.Second
	// cacheTTL bounds how stale a cached card or feed page may be on a node
	// that did not make the change itself (up to 1.5× with jitter).
	cacheTTL = 2 * time.Second
	// publishWait is how long an upload waits for a turn to be probed
	// before it is refused with 503 (REEL_PUBLISH_PROBES).
	publishWait = 5 * time.Second
	// sessionPurge is how often expired sessions are deleted: they are
	// refused for their expiry anyway, so this only bounds the table.
	sessionPurge = time.Hour
)

// sessionUser authenticates a request by its bearer token or a browser's
// session cookie, for tusd's hooks, through the accounts path every route
// uses; one of them is required. (The CSRF check of the cookie is the tus
// route's, in httpapi.)
func sessionUser(accounts *account.Service) func(r *http.Request) (int64, error) {
	return func(r *http.Request) (int64, error) {
		p, _, err := accounts.AuthenticateSession(r)
		if err == nil && p.UserID == 0 {
			err = reel.Errorf(reel.EUNAUTHORIZED, "sign in first: send Authorization: Bearer <token>")
		}
		return p.UserID, err
	}
}

// listener is one http.Server with the files it needs for TLS.
type listener struct {
	name              string
	srv               *http.Server
	certFile, keyFile string
	sendBuffer        int // SO_SNDBUF of accepted connections; 0 leaves the kernel's autotuning
}

// serveUntilDone binds every listener first (so a taken port fails the start
// before anything is served), serves until ctx ends or a server fails, then
// shuts all of them down, letting in-flight requests finish within timeout.
func serveUntilDone(ctx context.Context, log *slog.Logger, timeout time.Duration, servers []*listener) error {
	var lc net.ListenConfig
	lns := make([]net.Listener, 0, len(servers))
	for _, s := range servers {
		ln, err := lc.Listen(ctx, "tcp", s.srv.Addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("%s listener: %w", s.name, err)
		}
		if tl, ok := ln.(*net.TCPListener); ok && s.sendBuffer > 0 {
			ln = sendBufferListener{tl, s.sendBuffer}
		}
		lns = append(lns, ln)
	}

	errc := make(chan error, len(servers))
	for i, s := range servers {
		scheme := "http"
		if s.certFile != "" {
			scheme = "https"
		}
		log.Info("listening", "listener", s.name, "addr", lns[i].Addr().String(), "url", scheme+"://"+lns[i].Addr().String())
		go func() {
			var err error
			if s.certFile != "" {
				err = s.srv.ServeTLS(lns[i], s.certFile, s.keyFile)
			} else {
				err = s.srv.Serve(lns[i])
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s listener: %w", s.name, err)
				return
			}
			errc <- nil
		}()
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining in-flight requests", "timeout", timeout.String())
	case serveErr = <-errc:
		log.Error("server failed, shutting down", "err", serveErr)
	}

	// The parent context is already cancelled; the drain gets its own deadline.
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	for _, s := range servers {
		if err := s.srv.Shutdown(drainCtx); err != nil {
			log.Warn("drain incomplete: closing remaining connections", "listener", s.name, "err", err)
			s.srv.Close()
		}
	}
	log.Info("stopped")
	return serveErr
}

// startProcess does what every long-running command does first: report
// unknown REEL_* variables and turn SIGINT/SIGTERM into a cancelled context.
func startProcess(ctx context.Context, log *slog.Logger, env *environment) (context.Context, func()) {
	if unknown := config.Unknown(os.Environ()); len(unknown) > 0 {
		log.Warn("ignoring unknown configuration variables (typos?)", "variables", unknown)
	}
	return shutdownOnSignal(ctx, log, env)
}

// sendBufferListener sets the send buffer of each accepted connection. A
// media response goes out in sendfile calls as large as the buffer; with the
// kernel's autotuned buffers one call copies a whole segment, long enough
// that Go's runtime hands the processor to another thread each time, which
// cost reel half its throughput beside nginx on a core of its own (make
// bench). It returns the *net.TCPConn itself, so sendfile still applies.
type sendBufferListener struct {
	*net.TCPListener
	size int
}

func (l sendBufferListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	_ = c.SetWriteBuffer(l.size) // a failure leaves the kernel's default: still correct
	return c, nil
}

// shutdownOnSignal cancels the returned context on the first SIGINT or
// SIGTERM, so that the server drains; a second one exits at once, for the
// operator who does not want to wait.
func shutdownOnSignal(parent context.Context, log *slog.Logger, env *environment) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			log.Info("signal received: shutting down gracefully (send it again to exit at once)", "signal", sig.String())
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			fmt.Fprintln(env.stderr, "reel: second signal: exiting without draining")
			os.Exit(1)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

func newLogger(cfg *config.Config, env *environment) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(env.stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(env.stderr, opts))
}

// sweepEvery calls fn every interval until ctx ends.
func sweepEvery(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// diskReady is /readyz's free-space check: the directories uploads are
// written to (publisher.DiskReady) and, on SQLite, the database's directory:
// a full disk there makes every write 503 while the database still answers
// pings. Both are held to REEL_MIN_FREE_BYTES by the one rule of DiskReady.
func diskReady(publisher *publish.Publisher, dbDir string) func(context.Context) error {
	if dbDir == "" {
		return publisher.DiskReady
	}
	db := &publish.Publisher{Admission: publish.Admission{Dirs: []string{dbDir}, MinFreeBytes: publisher.Admission.MinFreeBytes}}
	return func(ctx context.Context) error {
		return errors.Join(publisher.DiskReady(ctx), db.DiskReady(ctx))
	}
}

// sharedReads makes the cache coherent across the nodes sharing Redis: the
// store's changes are marked there, and every request checks its copies
// against the marks. Without Redis it is the cache itself.
func sharedReads(cached *cache.Cache, state *shared.Redis, db *sqlstore.DB, log *slog.Logger) interface {
	reel.VideoService
	reel.SocialService
} {
	if state == nil {
		return cached
	}
	coherent := cache.Share(cached, cache.NewVersions(state), cacheTTL, 100_000, log)
	db.SetOnVideoChange(coherent.VideoChanged)
	db.SetOnUserChange(coherent.UsersChanged)
	return coherent
}

// openShared connects to REEL_REDIS_URL; without it the shared state is
// this process's own (a nil *shared.Redis).
func openShared(ctx context.Context, cfg *config.Config, breakers *breaker.Metrics, log *slog.Logger) (*shared.Redis, error) {
	if cfg.RedisURL == "" {
		log.Info("shared state", "kind", "local")
		return nil, nil
	}
	r, err := shared.Open(ctx, cfg.RedisURL, shared.Options{Metrics: breakers, Log: log})
	if err != nil {
		return nil, err
	}
	log.Info("shared state", "kind", "redis", "addr", r.Client.Options().Addr)
	return r, nil
}

// apiLimits are the API budgets of REEL_API_*_LIMIT, on the shared Redis
// when there is one (per cluster), else per node.
func apiLimits(cfg *config.Config, state *shared.Redis) httpapi.RateLimits {
	reads, writes, uploads := cfg.APILimits()
	return httpapi.RateLimits{Buckets: ratelimit.NewBuckets(state, ratelimit.LocalOptions{}),
		Reads: reads, Writes: writes, Uploads: uploads}
}
