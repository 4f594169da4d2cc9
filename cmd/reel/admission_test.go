package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/blob/s3test"
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

// streamed is an upload whose body the test sends bit by bit: the form up
// to the file part's first bytes at once, the rest when it says so.
type streamed struct {
	pw   *io.PipeWriter
	mw   *multipart.Writer
	resp chan result
}

type result struct {
	status  int
	body    []byte
	retryIn string
	close   bool // the server closes the connection after the answer
	err     error
}

// startStreamed begins a POST of a multipart form to url from the client
// address from: fields ahead of the file, then the file part with 64 KiB of
// it (or, flooding, file bytes until the body is cut); the body stays open
// until finish or abort.
func startStreamed(t *testing.T, url, from, bearer, fileField string, flood bool, fields ...string) *streamed {
	t.Helper()
	pr, pw := io.Pipe()
	s := &streamed{pw: pw, mw: multipart.NewWriter(pw), resp: make(chan result, 1)}
	req, err := http.NewRequest("POST", url, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", s.mw.FormDataContentType())
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: dialFrom(from)}}
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			s.resp <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		s.resp <- result{status: resp.StatusCode, body: b, retryIn: resp.Header.Get("Retry-After"), close: resp.Close, err: err}
	}()
	go func() {
		for i := 0; i+1 < len(fields); i += 2 {
			if s.mw.WriteField(fields[i], fields[i+1]) != nil {
				return
			}
		}
		fw, err := s.mw.CreateFormFile(fileField, "clip.mp4")
		chunk := make([]byte, 64<<10)
		for err == nil {
			_, err = fw.Write(chunk)
			if !flood {
				return
			}
		}
	}()
	return s
}

// answer waits for the response.
func (s *streamed) answer(t *testing.T) result {
	t.Helper()
	select {
	case r := <-s.resp:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no answer within 30s")
	}
	return result{}
}

// abort cuts the body, as a client that goes away.
func (s *streamed) abort() { s.pw.CloseWithError(errors.New("client gone")) }

// finish ends the file part and sends the fields after it.
func (s *streamed) finish(fields ...string) {
	go func() {
		for i := 0; i+1 < len(fields); i += 2 {
			s.mw.WriteField(fields[i], fields[i+1])
		}
		s.mw.Close()
		s.pw.Close()
	}()
}

// douyinCode reads status_code of a Douyin answer.
func douyinCode(t *testing.T, b []byte) int {
	t.Helper()
	var st struct {
		Code *int `json:"status_code"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Code == nil {
		t.Fatalf("not a Douyin answer: %s", b)
	}
	return *st.Code
}

// TestBadTokenRefusedBeforeBody: whenever the token is known before the
// file (header, query, or a form field ahead of the file), a bad one (or
// none, where one is required) is refused while the body is still being
// sent, nothing was stored, and the answer closes the connection, so the
// server does not read on through the unwanted body to keep it.
func TestBadTokenRefusedBeforeBody(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, map[string]string{"REEL_DATA_DIR": dataDir})
	good := signUp(t, srv, "holder")
	incoming := filepath.Join(dataDir, "incoming")
	forged := good[:len(good)-4] + "AAAA"
	for _, c := range []struct {
		name, path, bearer, field string
		fields                    []string
	}{
		{"native header", "/api/v1/videos", "not-a-token", "file", nil},
		{"native without a token", "/api/v1/videos", "", "file", nil},
		{"native forged header", "/api/v1/videos", forged, "file", []string{"title", "x"}},
		{"douyin header", "/douyin/publish/action/", forged, "data", nil},
		{"douyin query", "/douyin/publish/action/?token=" + forged, "", "data", nil},
		{"douyin field ahead of the file", "/douyin/publish/action/", "", "data", []string{"title", "x", "token", forged}},
		{"douyin empty token then bad", "/douyin/publish/action/", "", "data", []string{"token", "expired.or.garbage"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// 64 KiB of the file, then the client waits with the body
			// open: a server that read on through the body to keep the
			// connection would wait with it and never answer.
			s := startStreamed(t, srv.URL+c.path, "127.0.0.1", c.bearer, c.field, false, c.fields...)
			defer s.abort()
			r := s.answer(t)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if strings.HasPrefix(c.path, "/douyin") {
				if code := douyinCode(t, r.body); code != 2 {
					t.Errorf("status_code %d, want 2 (not logged in): %s", code, r.body)
				}
			} else if r.status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401: %s", r.status, r.body)
			}
			if !r.close {
				t.Error("the refusal keeps the connection: the server reads on through the body")
			}
			// The body is still open: the refusal came before the file.
			if names := dirEntries(t, incoming); len(names) != 0 {
				t.Errorf("incoming holds %v while the refused body is still being sent", names)
			}
		})
	}
}

// TestAnonymousUploadsPerAddress: a Douyin client that sends its token
// after the file may stream only publish.DefaultMaxAnonymous uploads at
// once per address; others are refused at once (code 9, with Retry-After),
// another address is not affected, and nothing an anonymous upload sent
// outlives it.
func TestAnonymousUploadsPerAddress(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, map[string]string{"REEL_DATA_DIR": dataDir})
	token := signUp(t, srv, "late")
	incoming := filepath.Join(dataDir, "incoming")
	url := srv.URL + "/douyin/publish/action/"

	held := []*streamed{startStreamed(t, url, "127.0.0.1", "", "data", false), startStreamed(t, url, "127.0.0.1", "", "data", false)}
	waitFor(t, "two anonymous uploads streaming", func() bool { return len(dirEntries(t, incoming)) == 2 })
	third := startStreamed(t, url, "127.0.0.1", "", "data", false, "title", "one too many")
	r := third.answer(t)
	third.abort()
	if r.err != nil || douyinCode(t, r.body) != 9 {
		t.Fatalf("third anonymous upload from one address: %v %s, want status_code 9", r.err, r.body)
	}
	// A rate limit says when to retry, as every 429 does.
	if secs, err := strconv.Atoi(r.retryIn); err != nil || secs < 1 {
		t.Errorf("third anonymous upload: Retry-After %q, want whole seconds", r.retryIn)
	}
	other := startStreamed(t, url, "127.0.0.2", "", "data", false)
	waitFor(t, "an upload from another address streaming", func() bool { return len(dirEntries(t, incoming)) == 3 })

	// However they end, nothing they sent stays.
	held[0].finish("token", "bad.token.value")
	if r := held[0].answer(t); r.err != nil || douyinCode(t, r.body) != 2 {
		t.Errorf("anonymous upload with a bad token after the file: %v %s", r.err, r.body)
	}
	held[1].abort()
	other.finish() // no token at all
	if r := other.answer(t); r.err != nil || douyinCode(t, r.body) != 2 {
		t.Errorf("upload without a token: %v %s", r.err, r.body)
	}
	waitFor(t, "incoming emptied", func() bool { return len(dirEntries(t, incoming)) == 0 })

	// The slots are free again: a real clip with its token after the file.
	clip, err := os.ReadFile(mediatest.Clip(t, "noaudio"))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("data", "clip.mp4")
	fw.Write(clip)
	mw.WriteField("token", token)
	mw.WriteField("title", "token last")
	mw.Close()
	resp, b, err := post(url, "", mw.FormDataContentType(), &body)
	if err != nil || resp.StatusCode != 200 || douyinCode(t, b) != 0 {
		t.Fatalf("upload with the token after the file: %v %s", err, b)
	}
}

// TestQuotaAndPendingCaps: REEL_USER_QUOTA_BYTES bounds the originals a
// user keeps, REEL_USER_PENDING_BYTES their unfinished tus uploads; over
// either every route answers 413 quota_exceeded (Douyin: code 8).
func TestQuotaAndPendingCaps(t *testing.T) {
	clip, err := os.ReadFile(mediatest.Clip(t, "noaudio"))
	if err != nil {
		t.Fatal(err)
	}
	size := len(clip)
	srv := startServer(t, map[string]string{
		"REEL_WORKERS": "0", "REEL_USER_QUOTA_BYTES": strconv.Itoa(size * 3 / 2), "REEL_USER_PENDING_BYTES": "1000",
	})
	token := signUp(t, srv, "hoarder")
	expect(t, uploadMultipart(t, srv, token, mediatest.Clip(t, "noaudio"), nil, false), http.StatusAccepted, "")
	expect(t, uploadMultipart(t, srv, token, mediatest.Clip(t, "noaudio"), nil, true), http.StatusRequestEntityTooLarge, "quota_exceeded")
	body, ct := multipartBody(t, "data", clip, "token", token)
	if r := srv.do("POST", "/douyin/publish/action/", "", body, "Content-Type", ct); douyinCode(t, r.Body) != 8 {
		t.Errorf("Douyin upload over the quota: %s", r.Body)
	}
	resp := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", token, nil, "Upload-Length", strconv.Itoa(size))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("tus creation over the quota: %d, want 413", resp.StatusCode)
	}
	if n := len(myVideos(t, srv, token)); n != 1 {
		t.Errorf("%d videos after refusals, want 1", n)
	}

	// Pending: 600 + 600 declared bytes exceed 1000, whole or partial.
	other := signUp(t, srv, "pending")
	loc, _ := createUpload(t, srv, other, 600)
	for _, h := range [][]string{{"Upload-Length", "600"}, {"Upload-Length", "600", "Upload-Concat", "partial"}} {
		r := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", other, nil, h...)
		if r.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("tus creation %v beyond the pending cap: %d, want 413", h, r.StatusCode)
		}
	}
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/uploads/", nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+other)
	req.Header.Set("Upload-Length", "600")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !bytes.Contains(b, []byte(`"quota_exceeded"`)) {
		t.Errorf("pending cap answer: %d %s", r.StatusCode, b)
	}
	if resp := tusReq(t, "DELETE", loc, other, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	createUpload(t, srv, other, 600) // room again
}

// TestTusConcatenationAndRejectedFiles: a part serves one final upload
// only and is deleted once used, even when two finals race for it; the
// files of a rejected upload (not a video) are deleted, on every route.
func TestTusConcatenationAndRejectedFiles(t *testing.T) {
	onEachStore(t, nil, testTusConcatenationAndRejectedFiles)
}

func testTusConcatenationAndRejectedFiles(t *testing.T, base map[string]string, s *s3test.Server) {
	dataDir := t.TempDir()
	env := map[string]string{"REEL_DATA_DIR": dataDir}
	for k, v := range base {
		env[k] = v
	}
	srv := startServer(t, env)
	token := signUp(t, srv, "joiner")
	incoming := filepath.Join(dataDir, "incoming")
	// inArea lists the names in the upload area: files on disk, objects
	// and multipart uploads on S3.
	inArea := func() []string {
		if s == nil {
			return dirEntries(t, filepath.Join(dataDir, "uploads"))
		}
		var names []string
		for _, k := range uploadObjects(t, s) {
			names = append(names, path.Base(k))
		}
		return names
	}
	data, err := os.ReadFile(mediatest.Clip(t, "noaudio"))
	if err != nil {
		t.Fatal(err)
	}
	cut := len(data) / 2
	var parts []string
	for _, chunk := range [][]byte{data[:cut], data[cut:]} {
		resp := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", token, chunk,
			"Upload-Length", strconv.Itoa(len(chunk)), "Upload-Concat", "partial")
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("partial: %d", resp.StatusCode)
		}
		parts = append(parts, resp.Header.Get("Location"))
	}
	final := "final;" + strings.Join(parts, " ")
	statuses := make(chan int, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/uploads/", nil)
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Upload-Concat", final)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if got[http.StatusCreated] != 1 || got[http.StatusNotFound] != 1 {
		t.Errorf("two finals over the same parts: %v, want one 201 and one 404", got)
	}
	for _, p := range parts {
		// On S3 the tus id is the upload's name, "+", its multipart upload's id.
		id, _, _ := strings.Cut(path.Base(p), "+")
		waitFor(t, "part "+id+" deleted", func() bool {
			for _, name := range inArea() {
				if strings.HasPrefix(name, id) {
					return false
				}
			}
			return true
		})
	}
	if resp := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", token, nil, "Upload-Concat", final); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a third final over used parts: %d, want 404", resp.StatusCode)
	}

	// Not a video: refused when complete, and its files go.
	junk, _ := os.ReadFile(mediatest.Clip(t, "random"))
	before := inArea()
	resp := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", token, junk, "Upload-Length", strconv.Itoa(len(junk)))
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("random bytes through tus: %d, want 415", resp.StatusCode)
	}
	// Only files that were there before (the joined upload, until its job
	// moves it) may remain.
	waitFor(t, "the rejected upload's files deleted", func() bool {
		for _, name := range inArea() {
			if !slices.Contains(before, name) {
				return false
			}
		}
		return true
	})
	body, ct := multipartBody(t, "file", junk)
	expect(t, srv.do("POST", "/api/v1/videos", token, body, "Content-Type", ct), http.StatusUnsupportedMediaType, "unsupported_media")
	if names := dirEntries(t, incoming); len(names) != 0 {
		t.Errorf("incoming holds %v after a rejected upload", names)
	}
	for _, v := range myVideos(t, srv, token) {
		if v.Status == "uploading" {
			t.Errorf("a rejected upload left video %d behind", v.ID)
		}
	}
}

// TestTusFinishRefusedThenRetried: a tus upload that completes while the
// queue is full is 503 with Retry-After and keeps its bytes and video;
// repeating the last PATCH once there is room finishes it.
func TestTusFinishRefusedThenRetried(t *testing.T) {
	onEachStore(t, map[string]string{"REEL_WORKERS": "0", "REEL_MAX_QUEUED": "1"}, func(t *testing.T, env map[string]string, _ *s3test.Server) {
		testTusFinishRefusedThenRetried(t, env)
	})
}

func testTusFinishRefusedThenRetried(t *testing.T, env map[string]string) {
	srv := startServer(t, env)
	token := signUp(t, srv, "patient")
	clip, err := os.ReadFile(mediatest.Clip(t, "noaudio"))
	if err != nil {
		t.Fatal(err)
	}
	loc, videoID := createUpload(t, srv, token, len(clip))
	r := uploadMultipart(t, srv, token, mediatest.Clip(t, "noaudio"), nil, false)
	expect(t, r, http.StatusAccepted, "") // the queue is now full
	var first videoJSON
	r.json(t, &first)

	resp := tusReq(t, "PATCH", loc, token, clip, "Upload-Offset", "0")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("completing PATCH with a full queue: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	var v videoJSON
	srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", videoID), token, nil).json(t, &v)
	if v.Status != "uploading" {
		t.Fatalf("video of the refused finish: %+v", v)
	}
	resp = tusReq(t, "HEAD", loc, token, nil)
	if resp.Header.Get("Upload-Offset") != strconv.Itoa(len(clip)) {
		t.Fatalf("the bytes were not kept: offset %q", resp.Header.Get("Upload-Offset"))
	}

	expect(t, srv.do("DELETE", fmt.Sprintf("/api/v1/videos/%d", first.ID), token, nil), http.StatusNoContent, "")
	resp = tusReq(t, "PATCH", loc, token, []byte{}, "Upload-Offset", strconv.Itoa(len(clip)))
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Video-ID") != strconv.FormatInt(videoID, 10) {
		t.Fatalf("repeated PATCH: %d Video-ID %q", resp.StatusCode, resp.Header.Get("Video-ID"))
	}
	srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", videoID), token, nil).json(t, &v)
	if v.Status != "processing" {
		t.Errorf("after the repeated PATCH: %+v", v)
	}
}
