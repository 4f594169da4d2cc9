package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrowserPlayers plays one processed video in Chromium through the
// players people use (web/test/players.mjs): dash.js on dash_url, hls.js on
// hls_url with the owner's caption track listed and shown, and Chromium's
// own <video> on play_url. The clip is VP9 and Opus in WebM, which reel
// cannot remux, so every output comes from the ladder; the caption is
// uploaded as SRT while the video is still processing.
func TestBrowserPlayers(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	script := needBrowserScript(t, root, "players.mjs", "playwright-core", "dashjs", "hls.js")

	clip := filepath.Join(t.TempDir(), "clip.webm")
	gen := exec.Command("ffmpeg", "-nostdin", "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=6",
		"-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000:duration=6",
		"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k",
		"-c:a", "libopus", "-shortest", clip)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}

	c := &cluster{t: t, env: []string{
		"REEL_ADDR=127.0.0.1:0",
		"REEL_ADMIN_ADDR=off",
		"REEL_LOG_FORMAT=json",
		"REEL_SHUTDOWN_TIMEOUT=5s",
		"REEL_WORKERS=1",
	}}
	n := c.start(t, "players", "serve")
	owner := signUp(t, n, "player_owner")
	v := owner.uploadMultipart(t, n, clip)

	const captionText = "Hello from reel"
	srt := "1\r\n00:00:00,000 --> 00:00:06,000\r\n" + captionText + "\r\n"
	resp, body := owner.do(t, n, "PUT", fmt.Sprintf("/api/v1/videos/%d/captions/en", v.ID), strings.NewReader(srt),
		"Content-Type", "application/x-subrip")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT captions: %d: %s", resp.StatusCode, body)
	}

	v = owner.waitProcessed(t, n, v.ID, 3*time.Minute)
	if v.Status != "ready" {
		t.Fatalf("video %d is %s: %s", v.ID, v.Status, v.Error)
	}
	if v.DashURL == "" || v.HLSURL == "" || v.PlayURL == "" {
		t.Fatalf("a ready video lacks a URL: dash %q, hls %q, play %q", v.DashURL, v.HLSURL, v.PlayURL)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = root
	cmd.Env = append(environ(),
		"DASH_URL="+v.DashURL,
		"HLS_URL="+v.HLSURL,
		"MP4_URL="+v.PlayURL,
		"CAPTION_LANG=en",
		"CAPTION_TEXT="+captionText,
		"CHROMIUM="+chromium,
	)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("players:\n%s", out)
	if err != nil {
		t.Fatalf("node web/test/players.mjs: %v", err)
	}

	// Every player reported, each with picture; dash.js and hls.js also
	// with the one audio rendition beside the video rungs.
	type report struct {
		Player      string  `json:"player"`
		OK          bool    `json:"ok"`
		CurrentTime float64 `json:"current_time"`
		Width       int     `json:"width"`
		Audio       *int    `json:"audio"`
		AudioTracks *int    `json:"audio_tracks"`
	}
	seen := map[string]report{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var r report
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Player != "" {
			seen[r.Player] = r
		}
	}
	for _, p := range []string{"dash.js", "hls.js", "native"} {
		r, ok := seen[p]
		switch {
		case !ok:
			t.Errorf("%s reported nothing", p)
		case !r.OK || r.CurrentTime < 2 || r.Width != 320:
			t.Errorf("%s: %+v, want it past 2 s at 320 px wide", p, r)
		}
	}
	if r := seen["dash.js"]; r.Audio == nil || *r.Audio != 1 {
		t.Errorf("dash.js found %v audio tracks, want 1", r.Audio)
	}
	if r := seen["hls.js"]; r.AudioTracks == nil || *r.AudioTracks != 1 {
		t.Errorf("hls.js found %v audio tracks, want 1", r.AudioTracks)
	}
}
