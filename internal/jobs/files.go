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
	store   Store
	blobs   blob.Store
	uploads upload.Area
	log     *slog.Logger
}

// Work runs after the video's deletion committed. It deletes the video's
// files, except the outputs other videos share when it is an origin
// (MediaStore), then the outputs of every deleted origin that no video
// uses any more: those of this video when it was the last user of its
// own, or of its origin when it was the origin's last user. Every step
// can be repeated, so a failed attempt is simply retried.
func (w *deleteFilesWorker) Work(ctx context.Context, job *river.Job[DeleteFilesArgs]) error {
	id := job.Args.VideoID
	ms, _ := w.store.(MediaStore)
	if err := w.deleteOwn(ctx, ms, id); err != nil {
		return err
	}
	if ms != nil {
		if err := w.deleteUnusedOrigins(ctx, ms); err != nil {
			return err
		}
	}
	if job.Args.UploadID == "" {
		return nil
	}
	return w.uploads.Remove(ctx, job.Args.UploadID)
}

// deleteOwn deletes the files of video id, keeping its shared outputs when
// other videos have used them.
func (w *deleteFilesWorker) deleteOwn(ctx context.Context, ms MediaStore, id int64) error {
	prefix := reel.VideoKeyPrefix(id)
	if ms == nil {
		return w.blobs.DeletePrefix(ctx, prefix)
	}
	origin, err := ms.IsMediaOrigin(ctx, id)
	if err != nil {
		return err
	}
	if !origin {
		// Its own outputs, and none else uses them; or another video's
		// (the files under its prefix are then its own: its original,
		// cover and manifests, and whatever a first attempt of its job
		// made before it found the origin).
		return w.blobs.DeletePrefix(ctx, prefix)
	}
	objs, err := w.blobs.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if _, rest, ok := reel.SplitVideoKey(o.Key); ok && reel.SharedOutput(rest) {
			continue
		}
		if err := w.blobs.Delete(ctx, o.Key); err != nil {
			return err
		}
	}
	return nil
}

// deleteUnusedOrigins deletes what is left of the deleted origins that no
// video uses any more, then forgets them.
func (w *deleteFilesWorker) deleteUnusedOrigins(ctx context.Context, ms MediaStore) error {
	ids, err := ms.UnusedMediaOrigins(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := w.blobs.DeletePrefix(ctx, reel.VideoKeyPrefix(id)); err != nil {
			return err
		}
		if err := ms.ForgetMediaOrigin(ctx, id); err != nil {
			return err
		}
		w.log.Info("deleted the shared outputs of a deleted video nobody uses any more", "video_id", id)
	}
	return nil
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
