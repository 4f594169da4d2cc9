package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/upload"
)

// DeleteFilesArgs removes every stored file of a deleted video.
type DeleteFilesArgs struct {
	VideoID  int64  `json:"video_id"`
	UploadID string `json:"upload_id,omitempty"`
}

func (DeleteFilesArgs) Kind() string { return "delete_video_files" }

type deleteFilesWorker struct {
	river.WorkerDefaults[DeleteFilesArgs]
	blobs   blob.Store
	uploads upload.Area
}

func (w *deleteFilesWorker) Work(ctx context.Context, job *river.Job[DeleteFilesArgs]) error {
	if err := w.blobs.DeletePrefix(ctx, reel.VideoKeyPrefix(job.Args.VideoID)); err != nil {
		return err
	}
	if job.Args.UploadID == "" {
		return nil
	}
	return w.uploads.Remove(ctx, job.Args.UploadID)
}

// ExpireUploadsArgs is the periodic job that removes unfinished uploads.
type ExpireUploadsArgs struct{}

func (ExpireUploadsArgs) Kind() string { return "expire_uploads" }

type expireUploadsWorker struct {
	river.WorkerDefaults[ExpireUploadsArgs]
	store   Store
	uploads upload.Area
	expiry  time.Duration
	// Scratch older than scratchAge under workDir is left over: no
	// attempt runs that long.
	workDir    string
	scratchAge time.Duration
	// The writes to blobs that began more than writeAge ago were
	// interrupted: every write is part of a job attempt, which JobTimeout
	// ends. Those a killed process left behind unfinished (blob.Sweeper)
	// are removed.
	blobs    blob.Store
	writeAge time.Duration
	log      *slog.Logger
}

// Work sweeps stale scratch, deletes videos whose upload did not finish in
// time, then, through the upload area, any upload older than the expiry
// that no video waits for: the parts of a concatenated upload, and
// creations whose video was never stored (Area.Expire); and the upload
// locks left by nodes that died holding them; and the unfinished writes of
// videos' files that a killed worker left in the blob store.
func (w *expireUploadsWorker) Work(ctx context.Context, job *river.Job[ExpireUploadsArgs]) error {
	if w.workDir != "" {
		sweepScratch(w.workDir, w.scratchAge, w.log)
	}
	deadline := time.Now().Add(-w.expiry)
	n, err := w.store.ExpireUploads(ctx, deadline)
	if err != nil {
		return err
	}
	files, err := w.uploads.Expire(ctx, deadline, w.store.UploadInUse)
	if err != nil {
		return err
	}
	// Locks whose holder died with its lease: their uploads may be gone.
	leases, err := w.store.DeleteExpiredLeases(ctx)
	if err != nil {
		return err
	}
	if n > 0 || files > 0 || leases > 0 {
		w.log.Info("expired unfinished uploads", "videos", n, "uploads", files, "lapsed_locks", leases)
	}
	if sw, ok := w.blobs.(blob.Sweeper); ok {
		writes, err := sw.AbortStaleUploads(ctx, reel.VideosKeyPrefix, time.Now().Add(-w.writeAge))
		if err != nil {
			return err
		}
		if writes > 0 {
			w.log.Info("aborted interrupted writes to the blob store", "writes", writes)
		}
	}
	return nil
}
