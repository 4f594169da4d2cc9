package main

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// TestQuotaHoldsUnderParallelUploads sends 12 uploads of one clip at once
// (native multipart, Douyin, tus creation with upload) against a quota of
// three and a half clips, on both engines: exactly three are kept, the
// others are 413 quota_exceeded (Douyin: code 8), and a refused upload
// leaves no video, no original, no incoming file and no tus file behind.
func TestQuotaHoldsUnderParallelUploads(t *testing.T) {
	clip, err := os.ReadFile(mediatest.Clip(t, "noaudio"))
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(clip))
	quota := 3*size + size/2
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		dataDir := t.TempDir()
		srv := startServer(t, map[string]string{
			"REEL_DATABASE_URL": dbURL, "REEL_DATA_DIR": dataDir, "REEL_WORKERS": "0",
			"REEL_USER_QUOTA_BYTES": strconv.FormatInt(quota, 10), "REEL_PUBLISH_PROBES": "12",
		})
		token := signUp(t, srv, "greedy")
		const n = 12
		statuses := make([]int, n)
		codes := make([]string, n)
		uploadIDs := make([]string, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				var resp *http.Response
				var b []byte
				var err error
				switch i % 3 {
				case 0:
					body, ct := multipartBody(t, "file", clip, "title", strconv.Itoa(i))
					resp, b, err = post(srv.URL+"/api/v1/videos", token, ct, bytes.NewReader(body))
				case 1:
					body, ct := multipartBody(t, "data", clip, "token", token, "title", strconv.Itoa(i))
					resp, b, err = post(srv.URL+"/douyin/publish/action/", "", ct, bytes.NewReader(body))
					if err == nil {
						switch douyinCode(t, b) {
						case 0:
							resp.StatusCode = http.StatusAccepted
						case 8:
							resp.StatusCode, b = http.StatusRequestEntityTooLarge, []byte(`{"error":{"code":"quota_exceeded"}}`)
						default:
							// Say which answer it was.
							b, _ = json.Marshal(map[string]any{"error": map[string]string{"code": string(b)}})
						}
					}
				case 2:
					req, _ := http.NewRequest("POST", srv.URL+"/api/v1/uploads/", bytes.NewReader(clip))
					req.Header.Set("Tus-Resumable", "1.0.0")
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Content-Type", "application/offset+octet-stream")
					req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
					if resp, err = http.DefaultClient.Do(req); err == nil {
						b, _ = io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusCreated {
							resp.StatusCode = http.StatusAccepted
							uploadIDs[i] = path.Base(resp.Header.Get("Location"))
						}
					}
				}
				if err != nil {
					t.Errorf("upload %d: %v", i, err)
					return
				}
				statuses[i] = resp.StatusCode
				var e struct {
					Error struct {
						Code string `json:"code"`
					} `json:"error"`
				}
				json.Unmarshal(b, &e)
				codes[i] = e.Error.Code
			})
		}
		close(start)
		wg.Wait()
		accepted := 0
		for i := range n {
			switch {
			case statuses[i] == http.StatusAccepted:
				accepted++
			case statuses[i] == http.StatusRequestEntityTooLarge && codes[i] == "quota_exceeded":
			default:
				t.Errorf("upload %d: %d %q, want 202 or 413 quota_exceeded", i, statuses[i], codes[i])
			}
		}
		if t.Failed() {
			for _, l := range strings.Split(srv.stderr.String(), "\n") {
				if strings.Contains(l, `"level":"ERROR"`) {
					t.Log(l)
				}
			}
		}
		if accepted != 3 {
			t.Errorf("%d uploads accepted, want 3 (quota %d bytes, clip %d)", accepted, quota, size)
		}
		kept := map[string]bool{}
		var stored int64
		for _, v := range myVideos(t, srv, token) {
			if v.Status != "processing" {
				t.Errorf("video %d is %s: a refused upload left it behind", v.ID, v.Status)
			}
			stored += v.SizeBytes
			kept[strconv.FormatInt(v.ID, 10)] = true
		}
		if len(kept) != accepted || stored > quota {
			t.Errorf("%d videos keep %d bytes; want %d videos within %d bytes", len(kept), stored, accepted, quota)
		}
		// Originals only of kept videos; nothing waits in incoming.
		blobs := filepath.Join(dataDir, "blobs", "videos")
		filepath.WalkDir(blobs, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(blobs, p)
				if id, _, _ := strings.Cut(rel, string(filepath.Separator)); !kept[id] {
					t.Errorf("blob %s of a refused upload left behind", rel)
				}
			}
			return nil
		})
		if names := dirEntries(t, filepath.Join(dataDir, "incoming")); len(names) != 0 {
			t.Errorf("incoming holds %v", names)
		}
		// tus files only of accepted uploads (their job, not run here,
		// would move them).
		for _, name := range dirEntries(t, filepath.Join(dataDir, "uploads")) {
			ok := false
			for _, id := range uploadIDs {
				ok = ok || (id != "" && strings.HasPrefix(name, id))
			}
			if !ok {
				t.Errorf("upload file %s of a refused upload left behind", name)
			}
		}
	})
}

// TestPendingCapHoldsUnderParallelCreations creates 100 tus uploads of
// 10000 declared bytes at once, parts of concatenations and whole uploads
// mixed, against REEL_USER_PENDING_BYTES=300000: exactly 30 are created,
// the rest are 413 quota_exceeded, and the uploads on disk declare no more
// than the cap.
func TestPendingCapHoldsUnderParallelCreations(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, map[string]string{
		"REEL_DATA_DIR": dataDir, "REEL_WORKERS": "0", "REEL_USER_PENDING_BYTES": "300000",
	})
	token := signUp(t, srv, "eager")
	const n = 100
	statuses := make([]int, n)
	codes := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/uploads/", nil)
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Upload-Length", "10000")
			if i%2 == 0 {
				req.Header.Set("Upload-Concat", "partial")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("creation %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			var e struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			json.NewDecoder(resp.Body).Decode(&e)
			statuses[i], codes[i] = resp.StatusCode, e.Error.Code
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i := range n {
		switch {
		case statuses[i] == http.StatusCreated:
			created++
		case statuses[i] == http.StatusRequestEntityTooLarge && codes[i] == "quota_exceeded":
		default:
			t.Errorf("creation %d: %d %q, want 201 or 413 quota_exceeded", i, statuses[i], codes[i])
		}
	}
	if created != 30 {
		t.Errorf("%d uploads created, want 30 (300000 bytes of 10000)", created)
	}
	infos := 0
	for _, name := range dirEntries(t, filepath.Join(dataDir, "uploads")) {
		if strings.HasSuffix(name, ".info") {
			infos++
		}
	}
	if infos*10000 > 300000 || infos != created {
		t.Errorf("%d uploads on disk (%d created) declare %d bytes, cap 300000", infos, created, infos*10000)
	}
}
