package main

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/media/mediatest"
)

// TestLimits refuses videos longer or larger than configured, with the reason.
func TestLimits(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_MAX_DURATION": "5s", "REEL_MAX_PIXELS": "600x400"})
	token := signUp(t, srv, "limits")
	r := uploadMultipart(t, srv, token, mediatest.Clip(t, "long"), nil, false) // 10 s
	expect(t, r, http.StatusUnprocessableEntity, "invalid")
	if !strings.Contains(string(r.Body), "duration") {
		t.Errorf("no reason about the duration: %s", r.Body)
	}
	r = uploadMultipart(t, srv, token, mediatest.Clip(t, "landscape"), nil, false) // 640x360
	expect(t, r, http.StatusUnprocessableEntity, "invalid")
	if !strings.Contains(string(r.Body), "640x360") {
		t.Errorf("no reason about the size: %s", r.Body)
	}
}

// TestDisconnectMidUpload: a client that goes away halfway through its
// upload leaves no file and no video behind.
func TestDisconnectMidUpload(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, map[string]string{"REEL_DATA_DIR": dataDir})
	token := signUp(t, srv, "flaky")
	data, err := os.ReadFile(mediatest.Clip(t, "long"))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "clip.mp4")
	fw.Write(data)
	mw.Close()

	conn := dial(t, strings.TrimPrefix(srv.URL, "http://"))
	fmt.Fprintf(conn, "POST /api/v1/videos HTTP/1.1\r\nHost: reel\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		token, mw.FormDataContentType(), body.Len())
	conn.Write(body.Bytes()[:body.Len()/2])
	// The server has started receiving: a file is in incoming/.
	incoming := filepath.Join(dataDir, "incoming")
	waitFor(t, "the upload to arrive", func() bool {
		entries, _ := os.ReadDir(incoming)
		return len(entries) == 1
	})
	conn.Close()
	waitFor(t, "the partial upload to be removed", func() bool {
		entries, _ := os.ReadDir(incoming)
		return len(entries) == 0
	})
	r := srv.do("GET", "/api/v1/users/1/videos", token, nil)
	if strings.Contains(string(r.Body), `"id"`) && !strings.Contains(string(r.Body), `"videos":[]`) {
		t.Errorf("a broken upload created a video: %s", r.Body)
	}
}

// TestDeleteWhileProcessing deletes a video in the middle of its ladder:
// ffmpeg is stopped and every file goes, including what the job wrote
// after the delete.
func TestDeleteWhileProcessing(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, map[string]string{"REEL_DATA_DIR": dataDir})
	token := signUp(t, srv, "impatient")
	r := uploadMultipart(t, srv, token, mediatest.Clip(t, "slow"), nil, false)
	expect(t, r, http.StatusAccepted, "")
	var v videoJSON
	r.json(t, &v)
	path := "/api/v1/videos/" + strconv.FormatInt(v.ID, 10)
	// Probe, covers and the remux of a 30 s clip come first: on two cores
	// shared with the other packages' ffmpeg runs, that takes more than
	// waitFor's 10 s.
	waitForLong(t, "the ladder to start", time.Minute, func() bool {
		srv.do("GET", path, token, nil).json(t, &v)
		return v.Progress > 10
	})
	expect(t, srv.do("DELETE", path, token, nil), http.StatusNoContent, "")
	waitFor(t, "ffmpeg to stop", func() bool { return !ffmpegRunningIn(dataDir) })
	videoDir := filepath.Join(dataDir, "blobs", "videos", strconv.FormatInt(v.ID, 10))
	waitFor(t, "the files to be removed", func() bool {
		_, err := os.Stat(videoDir)
		return os.IsNotExist(err)
	})
	waitFor(t, "the scratch space to be cleaned", func() bool {
		entries, _ := os.ReadDir(filepath.Join(dataDir, "work"))
		return len(entries) == 0
	})
}

// TestDeleteQueuedVideo: deleting a video that waits for a worker removes
// its job, so it no longer counts against the queue bound.
func TestDeleteQueuedVideo(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_WORKERS": "0", "REEL_MAX_QUEUED": "1"})
	token := signUp(t, srv, "queued")
	clip := mediatest.Clip(t, "noaudio")
	r := uploadMultipart(t, srv, token, clip, nil, false)
	expect(t, r, http.StatusAccepted, "")
	var v videoJSON
	r.json(t, &v)
	expect(t, uploadMultipart(t, srv, token, clip, nil, false), http.StatusServiceUnavailable, "unavailable")
	expect(t, srv.do("DELETE", fmt.Sprintf("/api/v1/videos/%d", v.ID), token, nil), http.StatusNoContent, "")
	expect(t, uploadMultipart(t, srv, token, clip, nil, false), http.StatusAccepted, "")
}

// TestShutdownDuringTranscode stops the server gracefully in the middle of
// a ladder: it exits within its shutdown timeout, and after a restart the
// video is finished without waiting for a crash rescue.
func TestShutdownDuringTranscode(t *testing.T) {
	env := map[string]string{"REEL_DATA_DIR": t.TempDir(), "REEL_SHUTDOWN_TIMEOUT": "1s"}
	srv := startServer(t, env)
	token := signUp(t, srv, "deploy")
	r := uploadMultipart(t, srv, token, mediatest.Clip(t, "slow"), nil, false)
	expect(t, r, http.StatusAccepted, "")
	var v videoJSON
	r.json(t, &v)
	path := "/api/v1/videos/" + strconv.FormatInt(v.ID, 10)
	// Probe, covers and the remux of a 30 s clip come first: on two cores
	// shared with the other packages' ffmpeg runs, that takes more than
	// waitFor's 10 s.
	waitForLong(t, "the ladder to start", time.Minute, func() bool {
		srv.do("GET", path, token, nil).json(t, &v)
		return v.Progress > 10
	})
	if err := srv.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if ffmpegRunningIn(env["REEL_DATA_DIR"]) {
		t.Error("ffmpeg still runs after the server stopped")
	}
	srv = startServer(t, env)
	v = waitVideo(t, srv, token, v.ID)
	if v.Status != "ready" {
		t.Fatalf("after a restart: %+v", v)
	}
	if logs := srv.stderr.String(); strings.Contains(logs, "rescued jobs of a stopped node") {
		t.Error("the interrupted job waited for a crash rescue instead of resuming")
	}
}
