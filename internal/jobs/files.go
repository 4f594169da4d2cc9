package jobs

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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
	blobs     blob.Store
	uploadDir string
}

func (w *deleteFilesWorker) Work(ctx context.Context, job *river.Job[DeleteFilesArgs]) error {
	if err := w.blobs.DeletePrefix(ctx, reel.VideoKeyPrefix(job.Args.VideoID)); err != nil {
		return err
	}
	return removeUpload(w.uploadDir, job.Args.UploadID)
}

// removeUpload deletes a tus upload's data and info files.
func removeUpload(dir, id string) error {
	if id == "" || strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return nil
	}
	for _, p := range []string{filepath.Join(dir, id), filepath.Join(dir, id+".info")} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// removeClaimedPart deletes an abandoned claimed part of a concatenation:
// its data, its claimed info and its stop marker.
func removeClaimedPart(dir, id string) error {
	if id == "" || strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return nil
	}
	for _, p := range []string{filepath.Join(dir, id), filepath.Join(dir, id+upload.StopFileSuffix), filepath.Join(dir, id+upload.ClaimedInfoSuffix)} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// ExpireUploadsArgs is the periodic job that removes unfinished uploads.
type ExpireUploadsArgs struct{}

func (ExpireUploadsArgs) Kind() string { return "expire_uploads" }

type expireUploadsWorker struct {
	river.WorkerDefaults[ExpireUploadsArgs]
	store     Store
	uploadDir string
	expiry    time.Duration
	// Scratch older than scratchAge under workDir is left over: no
	// attempt runs that long.
	workDir    string
	scratchAge time.Duration
	log        *slog.Logger
}

// Work sweeps stale scratch, deletes videos whose upload did not finish in
// time, then any upload file older than the expiry that no video waits
// for: the parts of a concatenated upload, and creations whose video was
// never stored. Parts claimed by a concatenation longer ago than
// upload.ClaimLifetime go too: the process that claimed them died before
// joining them, and nothing else would ever remove them.
func (w *expireUploadsWorker) Work(ctx context.Context, job *river.Job[ExpireUploadsArgs]) error {
	if w.workDir != "" {
		sweepScratch(w.workDir, w.scratchAge, w.log)
	}
	deadline := time.Now().Add(-w.expiry)
	n, err := w.store.ExpireUploads(ctx, deadline)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(w.uploadDir)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	files := 0
	claimDeadline := time.Now().Add(-upload.ClaimLifetime)
	for _, e := range entries {
		if id, claimed := strings.CutSuffix(e.Name(), upload.ClaimedInfoSuffix); claimed {
			if info, err := e.Info(); err == nil && info.ModTime().Before(claimDeadline) && removeClaimedPart(w.uploadDir, id) == nil {
				files++
			}
			continue
		}
		id, isInfo := strings.CutSuffix(e.Name(), ".info")
		if !isInfo {
			continue
		}
		info, err := e.Info()
		if err != nil || info.ModTime().After(deadline) {
			continue
		}
		if inUse, err := w.store.UploadInUse(ctx, id); err != nil || inUse {
			continue
		}
		if err := removeUpload(w.uploadDir, id); err == nil {
			files++
		}
	}
	if n > 0 || files > 0 {
		w.log.Info("expired unfinished uploads", "videos", n, "upload_files", files)
	}
	return nil
}
