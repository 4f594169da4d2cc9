package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reel-video/reel/internal/media/mediatest"
)

// Uploads built to make ffmpeg do more than the limits allow, sent the way
// an attacker would: a playlist naming a file on the server is refused with
// the same answer whether the file exists or not, and a clip whose header
// hides a timestamp gap or a frame size beyond REEL_MAX_PIXELS fails with
// the reason instead of being processed.
func TestHostileUploads(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_MAX_PIXELS": "160x120", "REEL_MAX_DURATION": "10s"})
	token := signUp(t, srv, "mallory")

	dir := t.TempDir()
	var messages []string
	for _, target := range []string{mediatest.Clip(t, "noaudio"), filepath.Join(dir, "missing.mp4")} {
		for _, kind := range []string{"hls", "ffconcat"} {
			ref := filepath.Join(dir, "upload-"+kind+".mp4")
			mediatest.Reference(t, ref, kind, target)
			r := uploadMultipart(t, srv, token, ref, nil, false)
			expect(t, r, http.StatusUnsupportedMediaType, "unsupported_media")
			var body struct {
				Error struct{ Message string } `json:"error"`
			}
			r.json(t, &body)
			messages = append(messages, kind+": "+body.Error.Message)
		}
	}
	if messages[0] != messages[2] || messages[1] != messages[3] {
		t.Errorf("the answer depends on whether the named file exists: %q", messages)
	}
	for _, m := range messages {
		if !strings.Contains(m, "unsupported container format") || strings.Contains(m, "missing") || strings.Contains(m, "/") {
			t.Errorf("answer %q", m)
		}
	}

	for kind, reason := range map[string]string{
		"gap":    "timestamps run past its stated duration",
		"resize": "320x240 exceeds 160x120",
	} {
		// The header is within the limits: the upload is accepted...
		r := uploadMultipart(t, srv, token, mediatest.Clip(t, kind), nil, false)
		expect(t, r, http.StatusAccepted, "")
		var v videoJSON
		r.json(t, &v)
		// ...and processing finds what it hid.
		v = waitVideo(t, srv, token, v.ID)
		if v.Status != "failed" || !strings.Contains(v.Error, reason) || v.HLSURL != "" {
			t.Errorf("%s: video %s %q (hls %q), want failed saying %q", kind, v.Status, v.Error, v.HLSURL, reason)
		}
	}
	// Nothing is left in the scratch space.
	entries, _ := os.ReadDir(filepath.Join(srv.env["REEL_DATA_DIR"], "work"))
	for _, e := range entries {
		t.Errorf("scratch left behind: %s", e.Name())
	}
}
