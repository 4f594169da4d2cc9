package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/publish"
)

// A job's scratch directory is named for its video, not for the attempt:
// whatever an earlier attempt left there (a crash, a node whose jobs were
// rescued) is found by name and removed when the video is next taken up,
// and when its job is rescued (rescueOrphans), instead of lying around
// until an age-based sweep (sweepScratch) finds it.

// scratchDir is the scratch directory of video id under workDir.
func scratchDir(workDir string, id int64) string {
	return filepath.Join(workDir, fmt.Sprintf("video-%d", id))
}

// newScratch empties and creates the scratch directory of video id: an
// attempt never builds on what an earlier one left.
func newScratch(workDir string, id int64) (string, error) {
	dir := scratchDir(workDir, id)
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	return dir, nil
}

// sweepScratch removes what no live job can be using any more from
// workDir: entries older than age (longer than an attempt may run). It
// catches what the removal by name misses, such as the scratch of a job
// that was rescued and then never retried here.
func sweepScratch(workDir string, age time.Duration, log *slog.Logger) {
	entries, _ := os.ReadDir(workDir)
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < age || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(workDir, e.Name())
		if err := os.RemoveAll(path); err == nil {
			log.Info("removed stale scratch", "path", path)
		}
	}
}

// scratchFactor is the room an attempt needs in its scratch directory, in
// multiples of the original's size: its local copy (on a remote store),
// the remuxed MP4, and the ladder, whose rungs are capped in bit rate and
// so together rarely larger than the original.
const scratchFactor = 3

// checkScratchSpace refuses to start an attempt on video v when the file
// system of its scratch directory has less than scratchFactor times the
// original's size free: ffmpeg would fill the disk that other jobs and
// uploads share, and fail anyway. The error is not the video's fault, so
// the job waits for room (a snooze), with the reason shown to the uploader. A size
// that cannot be known is not checked: the attempt then fails on a full
// disk like any other write.
func (w *processWorker) checkScratchSpace(ctx context.Context, v *reel.Video, work string) error {
	size := v.SizeBytes
	if size <= 0 && v.OriginalKey != "" {
		if info, err := w.blobs.Stat(ctx, v.OriginalKey); err == nil {
			size = info.Size
		}
	}
	if size <= 0 {
		return nil
	}
	free, err := publish.FreeBytes(work)
	if err != nil {
		return nil // unknown on this system
	}
	if need := scratchFactor * size; free < need {
		return &noScratchError{free: free, need: need}
	}
	return nil
}

// noScratchError is a worker without room for a video: not the video's
// fault, so it waits for room without using up its attempts. The message
// is shown to the uploader and names no path of the worker.
type noScratchError struct{ free, need int64 }

func (e *noScratchError) Error() string {
	return fmt.Sprintf("waiting for a worker with room to process it: %d bytes free, %d needed (%d times the original)", e.free, e.need, scratchFactor)
}
