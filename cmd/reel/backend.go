package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/captions"
	"github.com/reel-video/reel/internal/config"
	"github.com/reel-video/reel/internal/jobs"
	"github.com/reel-video/reel/internal/media"
	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/upload"
)

// The jobs reuse identical uploads' outputs only with a store that can
// record it: the real one must.
var _ jobs.MediaStore = (*sqlstore.DB)(nil)

// backend is what serve and worker share: the database, the blob store and
// the job queue, on the data directory's standard layout.
type backend struct {
	db    *sqlstore.DB
	blobs blob.Store
	// blobDir is the disk store's directory, "" when the blobs are on S3.
	blobDir string
	queue   *jobs.Queue
	dirs    dataDirs
	limits  media.Limits
	secret  []byte
	workers int

	// uploads is where unfinished tus uploads live: the bucket when the
	// blobs are on S3, so that any node continues any upload; the data
	// directory otherwise. uploadLocker is its locker (nil: the area's own).
	uploads      upload.Area
	uploadLocker handler.Locker

	// captions stores captions and writes them into the manifests, for
	// the API and for the jobs that write the manifests.
	captions *captions.Service
}

// dataDirs are the directories under REEL_DATA_DIR.
type dataDirs struct {
	uploads  string // unfinished tus uploads
	incoming string // multipart uploads while they arrive
	work     string // ffmpeg's scratch space
}

func newDataDirs(root string) dataDirs {
	return dataDirs{
		uploads:  filepath.Join(root, "uploads"),
		incoming: filepath.Join(root, "incoming"),
		work:     filepath.Join(root, "work"),
	}
}

// openBackend opens and migrates everything; workers is how many transcodes
// this process runs (0: it only enqueues).
func openBackend(ctx context.Context, cfg *config.Config, getenv func(string) string, log *slog.Logger, workers int) (_ *backend, err error) {
	secret, err := cfg.LoadSecret()
	if err != nil {
		return nil, err
	}
	b := &backend{dirs: newDataDirs(cfg.DataDir), secret: secret, workers: workers}
	for _, d := range []string{b.dirs.uploads, b.dirs.incoming, b.dirs.work} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	// Unfinished tus uploads are not scratch: they expire through their own
	// job (on S3, openUploadArea sweeps the parts buffered on their way).
	removeStale(b.dirs.incoming, 24*time.Hour, "", log)
	removeStale(b.dirs.work, cfg.JobTimeout+time.Hour, "", log)
	loc, err := cfg.BlobLocation()
	if err != nil {
		return nil, err // validated by config
	}
	if b.blobs, err = blob.Open(ctx, loc, getenv); err != nil {
		return nil, fmt.Errorf("blob store %s: %w", loc, err)
	}
	b.blobDir = loc.Dir
	log.Info("blob store", "url", loc.String())
	if b.uploads, err = openUploadArea(ctx, loc, getenv, b.dirs, log); err != nil {
		return nil, err
	}
	long, short, _ := cfg.Pixels() // validated by config
	b.limits = media.Limits{MaxDuration: cfg.MaxDuration, MaxLong: long, MaxShort: short}

	if b.db, err = sqlstore.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			b.db.Close()
		}
	}()
	if loc.S3 != nil {
		// An upload's lock must hold across every node sharing the
		// bucket: a lease in the shared database, which a killed node's
		// lock outlives by at most the lease's TTL.
		b.uploadLocker = upload.NewLeaseLocker(b.db, upload.LeaseOptions{})
	}
	b.captions = &captions.Service{Store: b.db, Blobs: b.blobs, Logger: log}
	b.queue, err = jobs.New(b.db.SQL(), b.db.Engine(), b.db, b.blobs, jobs.Config{
		Workers:      workers,
		JobTimeout:   cfg.JobTimeout,
		UploadExpiry: cfg.UploadExpiry,
		WorkDir:      b.dirs.work,
		Uploads:      b.uploads,
		Limits:       b.limits,
		Logger:       log,
		// The captions go into the manifests the job stores.
		PublishManifests: b.captions.Publish,
		OnLive:           onLive,
	})
	if err != nil {
		return nil, err
	}
	b.db.SetQueue(b.queue)
	err = b.db.Migrate(ctx, jobQueueMigration(b.db))
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	log.Info("database ready", "engine", b.db.Engine())
	if err := media.Available(); err != nil {
		log.Warn("videos cannot be processed on this node until ffmpeg is installed", "err", err)
	}
	if err := b.queue.Start(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// blobsReady checks that the blob store answers: on S3 a listing, which
// needs the bucket to exist and the credentials to be good. /readyz bounds
// it with its deadline.
func (b *backend) blobsReady(ctx context.Context) error {
	_, err := b.blobs.List(ctx, "health/")
	return err
}

// blobsKind is "disk" or "s3", for /readyz.
func (b *backend) blobsKind() string {
	if b.blobDir != "" {
		return "disk"
	}
	return "s3"
}

// closeWithin closes the backend after a shutdown: running jobs get the
// same grace period as requests, then are cancelled and resume on the next
// worker.
func (b *backend) closeWithin(ctx context.Context, grace time.Duration, log *slog.Logger) {
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	b.close(stopCtx, log)
}

// close stops the workers (running jobs get until ctx ends, then are
// cancelled and retried later) and closes the database.
func (b *backend) close(ctx context.Context, log *slog.Logger) {
	if err := b.queue.Stop(ctx); err != nil {
		log.Warn("stop job workers", "err", err)
	}
	if err := b.db.Close(); err != nil {
		log.Error("close database", "err", err)
	}
}

// removeStale deletes what a crash left in a scratch directory: entries
// whose name starts with prefix, older than age, which no live job can
// still be using.
func removeStale(dir string, age time.Duration, prefix string, log *slog.Logger) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < age {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err == nil {
			log.Info("removed leftover from an earlier run", "path", filepath.Join(dir, e.Name()))
		}
	}
}

// uploadDirs are the directories this node writes uploads to, whose free
// space admission checks: the blob directory too when blobs are on disk.
func (b *backend) uploadDirs() []string {
	dirs := []string{b.dirs.incoming, b.dirs.uploads}
	if b.blobDir != "" {
		dirs = append(dirs, b.blobDir)
	}
	return dirs
}

// openUploadArea opens the tus upload area beside the blobs at loc.
func openUploadArea(ctx context.Context, loc blob.Location, getenv func(string) string, dirs dataDirs, log *slog.Logger) (upload.Area, error) {
	if loc.S3 == nil {
		// The directory holds the unfinished uploads themselves: only
		// their expiry removes them.
		return upload.NewDiskArea(dirs.uploads)
	}
	// PATCHes are buffered in the data directory before they go up as
	// parts; a node killed mid-PATCH leaves its part files, which nothing
	// else would remove. None is written for anywhere near an hour.
	a, err := upload.NewS3Area(ctx, loc.S3, getenv, dirs.uploads)
	if err != nil {
		return nil, fmt.Errorf("upload area: %w", err)
	}
	removeStale(dirs.uploads, time.Hour, upload.S3ScratchPrefix, log)
	return a, nil
}

// onLive is jobs.Config.OnLive of the workers this process runs: nil, but in
// tests that hold a video while it plays from its early master.
var onLive func(ctx context.Context, videoID int64)
