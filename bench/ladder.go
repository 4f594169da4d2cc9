package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/reel-video/reel/internal/media"
)

// benchLadder compares reel's processing of a clip with the same ffmpeg
// ladder command run by hand. Reel's job also probes, makes covers, remuxes
// the fast-path MP4 and stores the outputs: the "whole job" line shows what
// all of that adds, the "ladder step" line what running the command through
// reel costs.
func benchLadder(ctx context.Context, o options, dir string, out io.Writer) error {
	src, info, opts, err := ladderSource(ctx, o, dir)
	if err != nil {
		return err
	}
	args, dirs := media.LadderCommand(src, info, opts)

	srv, err := startServer(o.bin, filepath.Join(dir, "data"), "REEL_WORKERS=1")
	if err != nil {
		return err
	}
	defer srv.stop()

	bare, reelJob, reelLadder := time.Duration(1<<62), time.Duration(1<<62), time.Duration(1<<62)
	for round := range o.rounds {
		outDir := filepath.Join(dir, fmt.Sprintf("bare-%d", round))
		for _, d := range dirs {
			if err := os.MkdirAll(filepath.Join(outDir, d), 0o700); err != nil {
				return err
			}
		}
		start := time.Now()
		var stderr strings.Builder
		c := exec.Command("ffmpeg", args...)
		c.Dir, c.Stdout, c.Stderr = outDir, io.Discard, &stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("bare ffmpeg: %v: %s", err, stderr.String())
		}
		bare = min(bare, time.Since(start))
		os.RemoveAll(outDir)

		// Each round uploads other bytes of the same clip: reel would
		// otherwise reuse the first round's outputs (identical uploads are
		// transcoded once) and measure no ladder at all.
		upload := filepath.Join(dir, fmt.Sprintf("source-%d.mp4", round))
		if err := distinctCopy(src, upload, round); err != nil {
			return err
		}
		job, ladder, err := processThroughReel(srv, upload)
		if err != nil {
			return err
		}
		reelJob, reelLadder = min(reelJob, job), min(reelLadder, ladder)
	}
	name := fmt.Sprintf("ladder %s %ds (best of %d)", o.clipSize, o.clipSeconds, o.rounds)
	row(out, name+" step", secs(reelLadder), secs(bare)+" ffmpeg", reelLadder.Seconds()/bare.Seconds())
	row(out, name+" whole job", secs(reelJob), secs(bare)+" ffmpeg", reelJob.Seconds()/bare.Seconds())
	return nil
}

// ladderSource makes the clip the ladder scenarios encode (o.clipSize,
// o.clipSeconds, H.264 and AAC) under dir, and returns it with its probe
// and the ladder's options for it: an H.264 source takes reel's fast path,
// so its ladder has no MP4 output.
func ladderSource(ctx context.Context, o options, dir string) (string, *media.Info, media.LadderOptions, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, media.LadderOptions{}, err
	}
	src := filepath.Join(dir, "source.mp4")
	if err := makeClip(src, o.clipSize, o.clipSeconds, "h264"); err != nil {
		return "", nil, media.LadderOptions{}, err
	}
	info, err := media.Probe(ctx, src)
	if err != nil {
		return "", nil, media.LadderOptions{}, err
	}
	return src, info, media.LadderOptions{ProgressiveMP4: !media.CanRemux(info)}, nil
}

// distinctCopy copies src to dst with the same streams (-c copy) and a tag
// naming n in its metadata, so that dst's SHA-256 differs from src's.
func distinctCopy(src, dst string, n int) error {
	c := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", src, "-map", "0", "-c", "copy",
		"-metadata", fmt.Sprintf("comment=bench round %d", n), "-movflags", "+faststart", dst)
	if b, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s: %v: %s", src, err, b)
	}
	return nil
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// processThroughReel uploads src and waits until it is ready; it returns
// the job's own duration and its ladder step's, from the server's log.
func processThroughReel(srv *server, src string) (job, ladder time.Duration, err error) {
	id, err := uploadMultipart(srv, src)
	if err != nil {
		return 0, 0, err
	}
	if err := waitReady(srv, id); err != nil {
		return 0, 0, err
	}
	// The job logs its timings just after it marks the video ready.
	var line map[string]any
	for logDeadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		line = srv.logLine("video ready")
		if vid, _ := line["video_id"].(float64); int64(vid) == id || time.Now().After(logDeadline) {
			break
		}
	}
	steps, _ := line["steps_ms"].(map[string]any)
	took, _ := line["took_ms"].(float64)
	ladderMS, _ := steps["ladder"].(float64)
	if line == nil || took == 0 || ladderMS == 0 {
		return 0, 0, fmt.Errorf("no step timings in the server log")
	}
	return time.Duration(took) * time.Millisecond, time.Duration(ladderMS) * time.Millisecond, nil
}
