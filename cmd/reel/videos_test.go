package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/blob/s3test"
	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mediatest.RemoveAll()
	os.Exit(code)
}

type videoJSON struct {
	ID          int64  `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Visibility  string `json:"visibility"`
	Status      string `json:"status"`
	Progress    int    `json:"progress"`
	Error       string `json:"error"`
	DurationMS  int64  `json:"duration_ms"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	SizeBytes   int64  `json:"size_bytes"`
	SHA256      string `json:"sha256"`
	CoverURL    string `json:"cover_url"`
	PlayURL     string `json:"play_url"`
	HLSURL      string `json:"hls_url"`
	Renditions  []struct {
		Width, Height, Bandwidth int
	} `json:"renditions"`
	Author struct {
		ID         int64 `json:"id"`
		VideoCount int64 `json:"video_count"`
	} `json:"author"`
}

// signUp registers a user and returns its token.
func signUp(t *testing.T, srv *instance, name string) string {
	t.Helper()
	r := srv.do("POST", "/api/v1/users", "", map[string]string{"username": name, "password": "secret-1"})
	expect(t, r, http.StatusCreated, "")
	var s session
	r.json(t, &s)
	return s.Token
}

// uploadMultipart posts path as the file part; fields go after the file
// when fieldsLast is set, to show that their order does not matter.
func uploadMultipart(t *testing.T, srv *instance, token, path string, fields map[string]string, fieldsLast bool) response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	writeFields := func() {
		for k, v := range fields {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !fieldsLast {
		writeFields()
	}
	if path != "" {
		fw, err := mw.CreateFormFile("file", filepath.Base(path))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(b)
	}
	if fieldsLast {
		writeFields()
	}
	mw.Close()
	return srv.do("POST", "/api/v1/videos", token, body.Bytes(), "Content-Type", mw.FormDataContentType())
}

// waitVideo follows the video's event stream until it is ready or failed,
// checking that progress never goes backwards, and returns its last state.
func waitVideo(t *testing.T, srv *instance, token string, id int64) videoJSON {
	t.Helper()
	// A stream may end before the video does (the server bounds its life);
	// like EventSource, reconnect until a final status or the deadline.
	deadline := time.Now().Add(3 * time.Minute)
	var v videoJSON
	progress := -1
	for {
		var ended error
		v, progress, ended = watchVideo(t, srv, token, id, progress, time.Until(deadline))
		if v.Status == "ready" || v.Status == "failed" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("event stream ended at status %q (%v)", v.Status, ended)
		}
	}
}

// watchVideo reads one event stream of video id until it ends, and returns
// the last status it carried and the last progress seen.
func watchVideo(t *testing.T, srv *instance, token string, id int64, progress int, timeout time.Duration) (videoJSON, int, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/videos/%d/events", srv.URL, id), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: timeout}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("events: %d %s %s\nserver log:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body, srv.stderr)
	}
	var v videoJSON
	event := ""
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "status":
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v); err != nil {
				t.Fatalf("event data: %v", err)
			}
			if v.Progress < progress {
				t.Errorf("progress went back from %d to %d", progress, v.Progress)
			}
			progress = v.Progress
		}
	}
	return v, progress, sc.Err()
}

// probe runs ffprobe on a URL as a player would and returns its streams.
type probed struct {
	Streams []struct {
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
}

func probe(t *testing.T, url string) probed {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-print_format", "json", "-show_streams", url).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", url, err)
	}
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p probed) count(kind string) int {
	n := 0
	for _, s := range p.Streams {
		if s.CodecType == kind {
			n++
		}
	}
	return n
}

// TestPipeline sends each kind of clip through the whole pipeline on both
// engines and checks what a viewer gets: an upright, decodable ladder, a
// faststart MP4, covers, and the facts of the video.
func TestPipeline(t *testing.T) {
	cases := []struct {
		kind          string
		width, height int
		audio         bool
	}{
		{"landscape", 640, 360, true},
		{"portrait", 360, 640, true},
		{"noaudio", 640, 360, false},
		{"vp9", 640, 360, true},
	}
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, map[string]string{"REEL_DATABASE_URL": dbURL})
		token := signUp(t, srv, "uploader")
		for i, tc := range cases {
			t.Run(tc.kind, func(t *testing.T) {
				path := mediatest.Clip(t, tc.kind)
				r := uploadMultipart(t, srv, token, path, map[string]string{"title": "clip " + tc.kind, "description": "d"}, i%2 == 0)
				expect(t, r, http.StatusAccepted, "")
				var v videoJSON
				r.json(t, &v)
				if v.Status != "processing" || v.Title != "clip "+tc.kind || v.Visibility != "public" || v.SizeBytes == 0 || len(v.SHA256) != 64 {
					t.Fatalf("upload answer %s", r.Body)
				}
				v = waitVideo(t, srv, token, v.ID)
				if v.Status != "ready" || v.Progress != 100 || v.Error != "" {
					t.Fatalf("video ended %+v", v)
				}
				if v.Width != tc.width || v.Height != tc.height || v.DurationMS < 2900 || v.DurationMS > 3200 {
					t.Errorf("video facts %dx%d %d ms, want %dx%d about 3000 ms", v.Width, v.Height, v.DurationMS, tc.width, tc.height)
				}
				if len(v.Renditions) == 0 || (v.Renditions[0].Width > v.Renditions[0].Height) != (tc.width > tc.height) {
					t.Errorf("renditions %+v do not keep the orientation", v.Renditions)
				}

				hls := probe(t, v.HLSURL)
				if hls.count("video") != len(v.Renditions) || (hls.count("audio") > 0) != tc.audio {
					t.Errorf("HLS over HTTP: %d video and %d audio streams for %d renditions (audio %v)",
						hls.count("video"), hls.count("audio"), len(v.Renditions), tc.audio)
				}
				for _, s := range hls.Streams {
					if s.CodecType == "video" && (s.Width > s.Height) != (tc.width > tc.height) {
						t.Errorf("rendition %dx%d is not upright", s.Width, s.Height)
					}
				}
				mp4 := probe(t, v.PlayURL)
				if mp4.count("video") != 1 {
					t.Errorf("play_url has %d video streams", mp4.count("video"))
				}
				resp, err := http.Get(v.CoverURL)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
					t.Errorf("cover: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
				}
			})
		}
		// The author's list shows every upload, and their count.
		r := srv.do("GET", "/api/v1/users/1/videos?limit=3", token, nil)
		expect(t, r, 200, "")
		var page struct {
			Videos     []videoJSON `json:"videos"`
			NextCursor string      `json:"next_cursor"`
		}
		r.json(t, &page)
		if len(page.Videos) != 3 || page.NextCursor == "" || page.Videos[0].ID < page.Videos[1].ID || page.Videos[0].Author.VideoCount != int64(len(cases)) {
			t.Errorf("first page: %d videos, next %q, count %d", len(page.Videos), page.NextCursor, page.Videos[0].Author.VideoCount)
		}
		r = srv.do("GET", "/api/v1/users/1/videos?limit=3&cursor="+page.NextCursor, token, nil)
		r.json(t, &page)
		if len(page.Videos) != 1 || page.NextCursor != "" {
			t.Errorf("second page: %d videos, next %q", len(page.Videos), page.NextCursor)
		}
	})
}

// TestUploadRejects sends what is not a video, or too much of one: each is
// refused with a clear error, and nothing of it stays on disk.
func TestUploadRejects(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, map[string]string{"REEL_DATA_DIR": dataDir, "REEL_MAX_UPLOAD_BYTES": "300000", "REEL_MAX_DURATION": "5s"})
	token := signUp(t, srv, "rejects")
	for _, tc := range []struct {
		name, path string
		fields     map[string]string
		status     int
		code       string
	}{
		{"random bytes", mediatest.Clip(t, "random"), nil, 415, "unsupported_media"},
		{"a text file", mediatest.Clip(t, "text"), nil, 415, "unsupported_media"},
		{"an image", mediatest.Clip(t, "image"), nil, 415, "unsupported_media"},
		{"a truncated MP4", mediatest.Clip(t, "truncated"), nil, 415, "unsupported_media"},
		{"over the size limit", mediatest.Clip(t, "long"), nil, 413, "too_large"},
		{"no file", "", map[string]string{"title": "x"}, 422, "invalid"},
		{"unknown field", mediatest.Clip(t, "noaudio"), map[string]string{"owner": "1"}, 400, "bad_request"},
		{"bad visibility", mediatest.Clip(t, "noaudio"), map[string]string{"visibility": "secret"}, 422, "invalid"},
		{"title too long", mediatest.Clip(t, "noaudio"), map[string]string{"title": strings.Repeat("t", 151)}, 422, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, uploadMultipart(t, srv, token, tc.path, tc.fields, false), tc.status, tc.code)
		})
	}
	expect(t, uploadMultipart(t, srv, "", mediatest.Clip(t, "noaudio"), nil, false), 401, "unauthorized")
	expect(t, srv.do("POST", "/api/v1/videos", token, `{"title":"json"}`), 415, "unsupported_media")

	entries, _ := os.ReadDir(filepath.Join(dataDir, "incoming"))
	if len(entries) != 0 {
		t.Errorf("rejected uploads left %d files in incoming/", len(entries))
	}
	blobs, _ := os.ReadDir(filepath.Join(dataDir, "blobs"))
	for _, e := range blobs {
		if e.Name() == "videos" {
			t.Errorf("a rejected upload reached the blob store")
		}
	}
	// The rejected uploads created no videos.
	r := srv.do("GET", "/api/v1/me", token, nil)
	var me struct {
		VideoCount int `json:"video_count"`
	}
	r.json(t, &me)
	if me.VideoCount != 0 {
		t.Errorf("video_count %d after rejected uploads", me.VideoCount)
	}
}

// TestDeleteRemovesEverything deletes a processed video: it is gone for
// everyone, its media URLs stop working and every file of it is removed,
// from the disk or the bucket.
func TestDeleteRemovesEverything(t *testing.T) {
	onEachStore(t, nil, func(t *testing.T, env map[string]string, s *s3test.Server) {
		dataDir := t.TempDir()
		srv := startServer(t, with(env, map[string]string{"REEL_DATA_DIR": dataDir}))
		owner, other := signUp(t, srv, "owner"), signUp(t, srv, "other")
		r := uploadMultipart(t, srv, owner, mediatest.Clip(t, "noaudio"), map[string]string{"visibility": "unlisted"}, false)
		expect(t, r, http.StatusAccepted, "")
		var v videoJSON
		r.json(t, &v)
		v = waitVideo(t, srv, owner, v.ID)
		path := "/api/v1/videos/" + strconv.FormatInt(v.ID, 10)
		// What is stored of the video, by key.
		stored := func() []string {
			if s != nil {
				return s.Keys(t, fmt.Sprintf("reel/videos/%d/", v.ID))
			}
			var keys []string
			videoDir := filepath.Join(dataDir, "blobs", "videos", strconv.FormatInt(v.ID, 10))
			filepath.WalkDir(videoDir, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					keys = append(keys, path)
				}
				return nil
			})
			return keys
		}
		if len(stored()) == 0 {
			t.Fatal("no files stored for the video")
		}
		if s != nil {
			// More objects than one listing returns (1,000), as a long video's
			// ladder has: deletion must page.
			putObjects(t, s, fmt.Sprintf("reel/videos/%d/hls/extra/", v.ID), 1100)
		}

		expect(t, srv.do("PATCH", path, other, map[string]string{"title": "mine now"}), 403, "forbidden")
		expect(t, srv.do("DELETE", path, other, nil), 403, "forbidden")
		r = srv.do("PATCH", path, owner, map[string]string{"title": "renamed", "visibility": "private"})
		expect(t, r, 200, "")
		r.json(t, &v)
		if v.Title != "renamed" || v.Visibility != "private" {
			t.Errorf("after PATCH: %+v", v)
		}
		expect(t, srv.do("GET", path, other, nil), 404, "not_found")
		expect(t, srv.do("PATCH", path, owner, map[string]string{"visibility": "hidden"}), 422, "invalid")

		expect(t, srv.do("DELETE", path, owner, nil), http.StatusNoContent, "")
		expect(t, srv.do("GET", path, owner, nil), 404, "not_found")
		expect(t, srv.do("DELETE", path, owner, nil), 404, "not_found")
		waitFor(t, "the video's files to be removed", func() bool { return len(stored()) == 0 })
		resp, err := http.Get(v.PlayURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 { // revoked, like every URL of a deleted video
			t.Errorf("play_url after delete: %d", resp.StatusCode)
		}
	})
}
