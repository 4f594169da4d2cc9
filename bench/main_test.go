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
		"one pass vs per-rendition", "vs per-rendition, 2 at a time", "rung 360p 640x360: MiB (init+segments)",
		"rung 240p 426x240: SSIM (All) vs source", "rung 240p 426x240: PSNR (average) vs source, dB",
		"first play HEVC 320x240 2s (s), target", "first play H.264 320x240 2s (s), target", "first play HEVC: played from",
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

// The first-play check follows a master playlist as a player does: the
// first variant listed, the audio rendition when there is one, and each
// media playlist's init segment and first segment.
func TestParsePlaylists(t *testing.T) {
	master := []byte(`#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/live.m3u8"

#EXT-X-STREAM-INF:BANDWIDTH=4943000,RESOLUTION=1920x1080,CODECS="avc1.640028,mp4a.40.2",FRAME-RATE=30.000,AUDIO="audio"
1080p/live.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=2803000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=30.000,AUDIO="audio"
720p/live.m3u8
`)
	if v, a := parseMaster(master); v != "1080p/live.m3u8" || a != "audio/live.m3u8" {
		t.Errorf("parseMaster: variant %q audio %q", v, a)
	}
	muxed := []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=426x240\n240p/index.m3u8\n")
	if v, a := parseMaster(muxed); v != "240p/index.m3u8" || a != "" {
		t.Errorf("parseMaster without audio rendition: variant %q audio %q", v, a)
	}
	growing := []byte("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI=\"init.mp4\"\n")
	if i, s := parseMedia(growing); i != "init.mp4" || s != "" {
		t.Errorf("parseMedia of a playlist with no segment yet: init %q segment %q", i, s)
	}
	growing = append(growing, "#EXTINF:4.000000,\nseg_000.m4s\n#EXTINF:4.000000,\nseg_001.m4s\n"...)
	if i, s := parseMedia(growing); i != "init.mp4" || s != "seg_000.m4s" {
		t.Errorf("parseMedia: init %q segment %q", i, s)
	}
	if u, err := resolve("http://127.0.0.1:1/media/s/tok/videos/1/hls/live.m3u8", "1080p/live.m3u8"); err != nil ||
		u != "http://127.0.0.1:1/media/s/tok/videos/1/hls/1080p/live.m3u8" {
		t.Errorf("resolve: %q %v", u, err)
	}
}
