// Package jobs runs reel's background work on River, in the same database as
// everything else (SQLite or PostgreSQL), so that a video and its processing
// job are written in one transaction and survive crashes together.
//
// River alone rescues a job left "running" by a crashed process only after
// RescueStuckJobsAfter, which must exceed the job timeout (tens of minutes
// for a transcode). Each process that works jobs therefore heartbeats in the
// job_nodes table, and the running jobs of a process whose heartbeat stopped
// are made available again within NodeTimeout.
package jobs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/media"
	"github.com/reel-video/reel/internal/upload"
)

// Config tunes the queue; zero values take the defaults noted.
type Config struct {
	Workers      int           // concurrent transcodes; 0: insert jobs but work none
	JobTimeout   time.Duration // one attempt of one job; default 30m
	UploadExpiry time.Duration // unfinished uploads are removed after this; default 24h
	NodeTimeout  time.Duration // a silent node's running jobs are rescued after this; default 30s
	WorkDir      string        // scratch space for ffmpeg outputs
	Uploads      upload.Area   // where unfinished tus uploads live
	Limits       media.Limits
	Rungs        []media.Rung
	Logger       *slog.Logger

	// PublishManifests, when set, is called once a video's final HLS
	// master and DASH MPD are stored, and again right after the video is
	// ready: it adds what belongs to the video alone (its captions) to
	// the stored manifests.
	PublishManifests func(ctx context.Context, videoID int64) error
	// OnLive, when set, is called once a video's early master is stored
	// and recorded (see live.go), from the job: the job does not go on
	// storing, nor become ready, before it returns. Tests hold it to look
	// at a video that plays while it is still processing.
	OnLive func(ctx context.Context, videoID int64)
}

// Queue is the job queue. It implements sqlstore.Queue.
type Queue struct {
	cfg    Config
	db     *sql.DB
	engine string
	nodeID string
	client *river.Client[*sql.Tx]
	log    *slog.Logger

	stopHeartbeat context.CancelFunc
	heartbeatDone sync.WaitGroup
}

// Migrate creates or updates River's tables. Call it under the store's
// migration lock (sqlstore.DB.Migrate takes it as a step).
func Migrate(ctx context.Context, db *sql.DB, engine string) error {
	m, err := rivermigrate.New(driverFor(db, engine), nil)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate job queue: %w", err)
	}
	return nil
}

// MigrationStatus writes one line per migration of River's tables: its
// version, its name, and whether it is applied or pending.
func MigrationStatus(ctx context.Context, db *sql.DB, engine string, w io.Writer) error {
	m, err := rivermigrate.New(driverFor(db, engine), nil)
	if err != nil {
		return err
	}
	existing, err := m.ExistingVersions(ctx)
	if err != nil {
		return fmt.Errorf("read job queue migration status: %w", err)
	}
	applied := map[int]bool{}
	for _, v := range existing {
		applied[v.Version] = true
	}
	for _, v := range m.AllVersions() {
		state := "pending"
		if applied[v.Version] {
			state = "applied"
		}
		if _, err := fmt.Fprintf(w, "river %03d  %-24s  %s\n", v.Version, v.Name, state); err != nil {
			return err
		}
	}
	return nil
}

func driverFor(db *sql.DB, engine string) riverdriver.Driver[*sql.Tx] {
	if engine == "sqlite" {
		return riversqlite.New(db)
	}
	return riverdatabasesql.New(db)
}

// New builds the queue on db (the store's writer) with the workers that
// process videos, delete their files and expire unfinished uploads.
func New(db *sql.DB, engine string, store Store, blobs blob.Store, cfg Config) (*Queue, error) {
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 30 * time.Minute
	}
	if cfg.UploadExpiry <= 0 {
		cfg.UploadExpiry = 24 * time.Hour
	}
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = 30 * time.Second
	}
	if cfg.Rungs == nil {
		cfg.Rungs = media.DefaultRungs
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	q := &Queue{cfg: cfg, db: db, engine: engine, nodeID: newNodeID(), log: cfg.Logger}

	workers := river.NewWorkers()
	river.AddWorker(workers, &processWorker{store: store, blobs: blobs, cfg: cfg, log: cfg.Logger})
	river.AddWorker(workers, &deleteFilesWorker{store: store, blobs: blobs, uploads: cfg.Uploads, log: cfg.Logger})
	river.AddWorker(workers, &expireUploadsWorker{store: store, uploads: cfg.Uploads, expiry: cfg.UploadExpiry,
		workDir: cfg.WorkDir, scratchAge: cfg.JobTimeout + 10*time.Minute,
		blobs: blobs, writeAge: cfg.JobTimeout + time.Hour, log: cfg.Logger})

	rc := &river.Config{
		ID:      q.nodeID,
		Logger:  cfg.Logger.With("component", "jobs"),
		Workers: workers,
		// A transcode may take long; the heartbeat (not this) rescues crashed ones.
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.JobTimeout + 10*time.Minute,
		MaxAttempts:          maxAttempts,
		// Neither driver listens for notifications here: poll, briskly. The
		// wait for a fetch is part of every upload's time to its first
		// playable URL (a poll is one indexed query per queue and node).
		FetchPollInterval: 100 * time.Millisecond,
		FetchCooldown:     50 * time.Millisecond,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(10*time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return ExpireUploadsArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
		},
	}
	if cfg.Workers > 0 {
		rc.Queues = map[string]river.QueueConfig{
			queueMedia:         {MaxWorkers: cfg.Workers},
			river.QueueDefault: {MaxWorkers: 2},
		}
	}
	client, err := river.NewClient(driverFor(db, engine), rc)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	q.client = client
	return q, nil
}

const (
	queueMedia  = "media"
	maxAttempts = 3
)

func newNodeID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Start begins working jobs, when this process has workers.
func (q *Queue) Start(ctx context.Context) error {
	if q.cfg.Workers == 0 {
		return nil
	}
	if err := q.heartbeat(ctx); err != nil {
		return err
	}
	hbCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.stopHeartbeat = cancel
	q.heartbeatDone.Go(func() { q.heartbeatLoop(hbCtx) })
	if err := q.client.Start(ctx); err != nil {
		cancel()
		return fmt.Errorf("start job workers: %w", err)
	}
	q.log.Info("job workers started", "node", q.nodeID, "transcodes", q.cfg.Workers)
	return nil
}

// Stop lets running jobs finish until ctx ends, then cancels them; River
// retries a cancelled attempt later, here or on another node.
func (q *Queue) Stop(ctx context.Context) error {
	if q.cfg.Workers == 0 {
		return nil
	}
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		q.log.Warn("jobs still running at shutdown: cancelling them", "err", err)
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err = q.client.StopAndCancel(stopCtx)
	}
	q.stopHeartbeat()
	q.heartbeatDone.Wait()
	// Gone cleanly: nothing of ours is running any more.
	_, _ = q.db.ExecContext(context.WithoutCancel(ctx), "DELETE FROM job_nodes WHERE id = "+q.ph(1), q.nodeID)
	return err
}

// Ready reports whether the queue's tables answer.
func (q *Queue) Ready(ctx context.Context) error {
	_, err := q.Waiting(ctx)
	return err
}

// InsertProcessTx enqueues the processing of a video inside tx.
func (q *Queue) InsertProcessTx(ctx context.Context, tx *sql.Tx, videoID int64) (int64, error) {
	res, err := q.client.InsertTx(ctx, tx, ProcessVideoArgs{VideoID: videoID}, nil)
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}

// InsertDeleteFilesTx enqueues the removal of a deleted video's files inside tx.
func (q *Queue) InsertDeleteFilesTx(ctx context.Context, tx *sql.Tx, videoID int64, uploadID string) error {
	_, err := q.client.InsertTx(ctx, tx, DeleteFilesArgs{VideoID: videoID, UploadID: uploadID}, nil)
	return err
}

// CancelTx cancels a job inside tx: a waiting job never runs, a running one
// has its context cancelled (which kills its ffmpeg).
func (q *Queue) CancelTx(ctx context.Context, tx *sql.Tx, jobID int64) error {
	_, err := q.client.JobCancelTx(ctx, tx, jobID)
	if errors.Is(err, rivertype.ErrNotFound) {
		return nil
	}
	return err
}

// Waiting counts processing jobs that wait for a worker.
func (q *Queue) Waiting(ctx context.Context) (int, error) {
	return q.waiting(ctx, q.db)
}

// WaitingTx is Waiting inside tx.
func (q *Queue) WaitingTx(ctx context.Context, tx *sql.Tx) (int, error) {
	return q.waiting(ctx, tx)
}

func (q *Queue) waiting(ctx context.Context, db interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (int, error) {
	var n int
	err := db.QueryRowContext(ctx,
		"SELECT count(*) FROM river_job WHERE kind = "+q.ph(1)+" AND state IN ('available', 'scheduled', 'retryable', 'pending')",
		ProcessVideoArgs{}.Kind()).Scan(&n)
	return n, err
}

// ph is the engine's placeholder for argument i.
func (q *Queue) ph(i int) string {
	if q.engine == "sqlite" {
		return "?"
	}
	return fmt.Sprintf("$%d", i)
}
