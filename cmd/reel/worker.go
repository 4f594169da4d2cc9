package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/reel-video/reel/internal/breaker"
	"github.com/reel-video/reel/internal/cache"
	"github.com/reel-video/reel/internal/config"
	"github.com/reel-video/reel/internal/httpapi"
)

// runWorker runs jobs only: the first step toward separate worker fleets.
// It shares the database and blob store with reel serve and answers only
// /healthz and /metrics on REEL_ADDR.
func runWorker(ctx context.Context, args []string, env *environment) error {
	fs := newFlags("worker", "[flags]", "Run background jobs (transcodes, cleanups) without the public API.", env)
	cfg, _, err := config.Load(fs, args, env.getenv)
	if err != nil {
		return err
	}
	if cfg.Workers == 0 {
		return errors.New("REEL_WORKERS is 0: a worker without transcode slots would do nothing")
	}
	log := newLogger(cfg, env).With("process", "worker")
	ctx, stop := startProcess(ctx, log, env)
	defer stop()

	metrics := httpapi.NewMetrics()
	// The status changes of this worker's jobs reach the users' event
	// streams (GET /api/v1/events) through Redis only: without it serve's
	// in-process bus is out of reach, and clients follow a video through
	// GET /api/v1/videos/{id}/events, which reads the database.
	state, err := openShared(ctx, cfg, breaker.NewMetrics(metrics.Registry), log)
	if err != nil {
		return err
	}
	defer state.Close() // after the jobs drained (deferred below)
	b, err := openBackend(ctx, cfg, env.getenv, log, cfg.Workers)
	if err != nil {
		return err
	}
	defer b.closeWithin(ctx, cfg.ShutdownTimeout, log)
	if state != nil {
		openEvents(ctx, state, b.db, metrics.Registry, log)
		// What the jobs change (a video ready, its author's count) is
		// marked in Redis, so the serving nodes' caches see it at once.
		versions := cache.NewVersions(state)
		b.db.SetOnVideoChange(versions.VideoChanged)
		b.db.SetOnUserChange(versions.UsersChanged)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	srv := &http.Server{Addr: cfg.Addr, Handler: mux, ReadHeaderTimeout: cfg.ReadHeaderTimeout, IdleTimeout: cfg.IdleTimeout}
	return serveUntilDone(ctx, log, cfg.ShutdownTimeout, []*listener{{name: "public", srv: srv}})
}
