package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// mountSmallDisk mounts an 8 MiB tmpfs at a new directory, unmounted when
// the test ends (after the servers it started have stopped).
func mountSmallDisk(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a small tmpfs to fill a real disk and must run as root (make test and CI do); run it with sudo")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "--lazy", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file into dir until the file system is full, and returns
// its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return path
		}
	}
}

// unknownLength hides a reader's length, so the client sends it chunked
// and the server cannot refuse it up front.
type unknownLength struct{ io.Reader }

// TestFullDisk fills a real (small) disk under the data directory: uploads
// that cannot fit are 507 before their body, a disk that fills up mid-write
// is 507 with the partial file removed, the node keeps serving, tus DELETE
// works on the full disk, and /readyz reports it.
func TestFullDisk(t *testing.T) {
	dataDir := mountSmallDisk(t)
	srv := startServer(t, map[string]string{
		"REEL_DATA_DIR": dataDir, "REEL_DATABASE_URL": sqltest.SQLiteURL(t),
		"REEL_WORKERS": "0", "REEL_MIN_FREE_BYTES": "1048576",
	})
	token := signUp(t, srv, "filler")
	incoming, uploads := filepath.Join(dataDir, "incoming"), filepath.Join(dataDir, "uploads")
	clip, err := os.ReadFile(mediatest.Clip(t, "noaudio"))
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 9<<20)
	rand.Read(big)

	// Declared sizes that do not fit are refused before the body.
	body, ct := multipartBody(t, "file", big)
	r := srv.do("POST", "/api/v1/videos", token, body, "Content-Type", ct)
	expect(t, r, http.StatusInsufficientStorage, "insufficient_storage")
	body, ct = multipartBody(t, "data", big, "token", token)
	r = srv.do("POST", "/douyin/publish/action/", "", body, "Content-Type", ct)
	if !bytes.Contains(r.Body, []byte(`"status_code":10`)) {
		t.Errorf("Douyin upload larger than the disk: %s", r.Body)
	}
	resp := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", token, nil, "Upload-Length", strconv.Itoa(len(big)))
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Errorf("tus creation larger than the disk: %d, want 507", resp.StatusCode)
	}
	if names := dirEntries(t, incoming); len(names) != 0 {
		t.Errorf("incoming holds %v after refusals", names)
	}

	// Undeclared, the disk fills up while the file arrives.
	body, ct = multipartBody(t, "file", big)
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/videos", unknownLength{bytes.NewReader(body)})
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err == nil { // the server may close before reading all
		resp.Body.Close()
		if resp.StatusCode != http.StatusInsufficientStorage {
			t.Errorf("upload filling the disk: %d, want 507", resp.StatusCode)
		}
	}
	if names := dirEntries(t, incoming); len(names) != 0 {
		t.Errorf("the partial file was not removed: incoming holds %v", names)
	}

	// The node still serves, uploads included, once there is room.
	expect(t, srv.do("GET", "/readyz", "", nil), http.StatusOK, "")
	r = uploadMultipart(t, srv, token, mediatest.Clip(t, "noaudio"), nil, false)
	expect(t, r, http.StatusAccepted, "")

	// A tus upload started before the disk filled up: its next PATCH is
	// 507, /readyz says the disk is low, and DELETE still works.
	loc, _ := createUpload(t, srv, token, len(clip))
	filler := fill(t, dataDir)
	resp = tusReq(t, "PATCH", loc, token, clip, "Upload-Offset", "0")
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Errorf("PATCH on a full disk: %d, want 507", resp.StatusCode)
	}
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	r = srv.do("GET", "/readyz", "", nil)
	r.json(t, &ready)
	if ready.Checks["disk"] != "low" {
		t.Errorf("/readyz on a full disk: %s", r.Body)
	}
	expect(t, srv.do("GET", "/healthz", "", nil), http.StatusOK, "")
	if resp := tusReq(t, "DELETE", loc, token, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE on a full disk: %d, want 204", resp.StatusCode)
	}
	for _, name := range dirEntries(t, uploads) {
		if filepath.Base(loc) == name || filepath.Base(loc)+".info" == name {
			t.Errorf("the deleted upload's file %s is still there", name)
		}
	}
	os.Remove(filler)
	r = srv.do("GET", "/readyz", "", nil)
	r.json(t, &ready)
	if ready.Checks["disk"] != "ok" {
		t.Errorf("/readyz once space is back: %s", r.Body)
	}
}

// TestFullDiskSharedWithDatabase is the default layout, the SQLite
// database in REEL_DATA_DIR beside the uploads, on a disk that fills up:
// tus DELETE still answers 204 and frees the upload's space although the
// database cannot be written; the upload's video, left in status
// uploading, is removed by the expiry of unfinished uploads once the
// database can be written again.
func TestFullDiskSharedWithDatabase(t *testing.T) {
	dataDir := mountSmallDisk(t)
	// The upload must live while the test works on it, however slow the
	// machine: only the node started after it sweeps with a short expiry.
	env := map[string]string{"REEL_DATA_DIR": dataDir, "REEL_MIN_FREE_BYTES": "1048576", "REEL_UPLOAD_EXPIRY": "1h"}
	srv := startServer(t, env)
	token := signUp(t, srv, "sharer")
	uploads := filepath.Join(dataDir, "uploads")
	clip, err := os.ReadFile(mediatest.Clip(t, "noaudio"))
	if err != nil {
		t.Fatal(err)
	}
	loc, id := createUpload(t, srv, token, len(clip))
	created := time.Now()
	half := len(clip) / 2
	if resp := tusReq(t, "PATCH", loc, token, clip[:half], "Upload-Offset", "0"); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH: %d", resp.StatusCode)
	}
	filler := fill(t, dataDir)
	if resp := tusReq(t, "DELETE", loc, token, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE on a disk full for the database too: %d, want 204", resp.StatusCode)
	}
	for _, name := range dirEntries(t, uploads) {
		if strings.HasPrefix(name, filepath.Base(loc)) {
			t.Errorf("the deleted upload's file %s is still there", name)
		}
	}
	if resp := tusReq(t, "HEAD", loc, token, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of the deleted upload: %d, want 404", resp.StatusCode)
	}

	// Room again; a node starting sweeps unfinished uploads past their expiry.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the upload to be older than REEL_UPLOAD_EXPIRY", func() bool { return time.Since(created) > 2*time.Second })
	env["REEL_UPLOAD_EXPIRY"] = "1s"
	srv = startServer(t, env)
	waitFor(t, "the abandoned upload's video to be removed", func() bool {
		return srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", id), token, nil).StatusCode == http.StatusNotFound
	})
}
