package jobs

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
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
