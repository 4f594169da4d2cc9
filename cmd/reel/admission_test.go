package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// multipartBody is a form with text fields before a file part.
func multipartBody(t *testing.T, fileField string, file []byte, fields ...string) ([]byte, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile(fileField, "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	mw.Close()
	return body.Bytes(), mw.FormDataContentType()
}

// post sends one request without failing the test, for use in goroutines.
func post(url, token, contentType string, body io.Reader) (*http.Response, []byte, error) {
	req, err := http.NewRequest("POST", url, body)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// myVideos lists the videos of the token's user as their owner sees them.
func myVideos(t *testing.T, srv *instance, token string) []videoJSON {
	t.Helper()
	var me struct {
		ID int64 `json:"id"`
	}
	srv.do("GET", "/api/v1/me", token, nil).json(t, &me)
	var list struct {
		Videos []videoJSON `json:"videos"`
	}
	srv.do("GET", fmt.Sprintf("/api/v1/users/%d/videos?limit=50", me.ID), token, nil).json(t, &list)
	return list.Videos
}

// dirEntries lists the names in dir (none when it does not exist).
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestQueueCapHoldsUnderParallelUploads sends 50 uploads at once against
// REEL_MAX_QUEUED=20 with nothing processing them: exactly 20 are queued,
// the 30 others are 503 with Retry-After and leave no video behind, on
// both engines, through both multipart routes and tus.
func TestQueueCapHoldsUnderParallelUploads(t *testing.T) {
	clip, err := os.ReadFile(mediatest.Clip(t, "noaudio"))
	if err != nil {
		t.Fatal(err)
	}
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, map[string]string{
			"REEL_DATABASE_URL": dbURL, "REEL_WORKERS": "0", "REEL_MAX_QUEUED": "20",
			"REEL_PUBLISH_PROBES": "50",
		})
		token := signUp(t, srv, "racer")
		const n = 50
		statuses := make([]int, n)
		retry := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				var resp *http.Response
				var err error
				switch i % 3 {
				case 0: // native multipart
					body, ct := multipartBody(t, "file", clip, "title", strconv.Itoa(i))
					resp, _, err = post(srv.URL+"/api/v1/videos", token, ct, bytes.NewReader(body))
				case 1: // Douyin, the token as a form field ahead of the file
					body, ct := multipartBody(t, "data", clip, "token", token, "title", strconv.Itoa(i))
					var b []byte
					resp, b, err = post(srv.URL+"/douyin/publish/action/", "", ct, bytes.NewReader(body))
					if err == nil {
						var st struct {
							Code int `json:"status_code"`
						}
						json.Unmarshal(b, &st)
						switch st.Code {
						case 0:
							resp.StatusCode = http.StatusAccepted
						case 10:
							resp.StatusCode = http.StatusServiceUnavailable
						default:
							resp.StatusCode = 1000 + st.Code
						}
					}
				case 2: // tus, creation with upload
					req, _ := http.NewRequest("POST", srv.URL+"/api/v1/uploads/", bytes.NewReader(clip))
					req.Header.Set("Tus-Resumable", "1.0.0")
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Content-Type", "application/offset+octet-stream")
					req.Header.Set("Upload-Length", strconv.Itoa(len(clip)))
					resp, err = http.DefaultClient.Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusCreated {
							resp.StatusCode = http.StatusAccepted
						}
					}
				}
				if err != nil {
					errs[i] = err
					return
				}
				statuses[i], retry[i] = resp.StatusCode, resp.Header.Get("Retry-After")
			})
		}
		close(start)
		wg.Wait()
		accepted, refused := 0, 0
		for i := range n {
			switch {
			case errs[i] != nil:
				t.Errorf("upload %d: %v", i, errs[i])
			case statuses[i] == http.StatusAccepted:
				accepted++
			case statuses[i] == http.StatusServiceUnavailable:
				refused++
				if s, err := strconv.Atoi(retry[i]); err != nil || s < 1 {
					t.Errorf("upload %d: 503 with Retry-After %q", i, retry[i])
				}
			default:
				t.Errorf("upload %d: status %d", i, statuses[i])
			}
		}
		if accepted != 20 || refused != 30 {
			t.Errorf("%d accepted and %d refused, want 20 and 30", accepted, refused)
		}
		queued := 0
		for _, v := range myVideos(t, srv, token) {
			if v.Status == "processing" {
				queued++
			}
		}
		// tus uploads refused when they completed keep their video, still
		// uploading, so that the client can finish them later.
		if queued != 20 {
			t.Errorf("%d videos queued, want 20", queued)
		}
	})
}
