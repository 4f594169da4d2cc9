package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmoke runs every scenario at tiny sizes, so that make bench cannot
// rot unnoticed. It checks that each scenario reports its lines; the
// figures themselves mean nothing at this size and are not asserted.
func TestSmoke(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "reel")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/reel").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var out strings.Builder
	if err := run(t.Context(), []string{"-smoke", "-bin", bin}, &out); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	for _, want := range []string{"upload multipart", "upload tus", "peak RSS growth", "ladder", "whole job",
		"hls 64 KiB segments, 8 conns: req/s", "mp4 1 MiB ranges, 8 conns: MB/s", "50 slow readers, 4 MiB MP4: peak RSS growth",
		"baseline GET /healthz", "feed (20 videos), anonymous, 8 conns: req/s", "feed (20 videos), viewer, 8 conns: p50",
		"video card, 8 conns: p99", "like/unlike mix, 8 conns: errors", "like/unlike mix, 8 conns: like_count exact",
		"s3 proxy hls 64 KiB segments, 8 conns: req/s", "s3 proxy mp4 1 MiB ranges, 8 conns: MB/s", "s3 proxy whole 4 MiB MP4, 1 conn: MB/s",
		"s3 proxy mp4 1 MiB ranges: reel peak RSS growth", "s3 upload tus 16 MiB MB/s", "s3 upload tus 16 MiB: reel peak RSS growth",
		"web app JavaScript gzipped (KiB), budget", "web first video playing (ms, p50 of 1), target"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q line in:\n%s", want, out.String())
		}
	}
	// Not asserted, but a figure that is not a number is a bug.
	for _, bad := range []string{"NaN", "Inf"} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("%s in:\n%s", bad, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}
