package upload

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob/s3test"
)

// fakeVideos is the part of the video service tus calls.
type fakeVideos struct {
	reel.VideoService
	mu     sync.Mutex
	videos map[int64]*reel.Video
}

func (f *fakeVideos) FindVideoByID(_ context.Context, id, _ int64) (*reel.Video, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.videos[id]; ok {
		c := *v
		return &c, nil
	}
	return nil, reel.Errorf(reel.ENOTFOUND, "no video")
}

func (f *fakeVideos) DeleteVideo(_ context.Context, id, _ int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.videos, id)
	return nil
}

// fakePublisher admits everything, records the pending bytes it was
// shown and what FinishTus got.
type fakePublisher struct {
	videos  *fakeVideos
	mu      sync.Mutex
	pending []int64
	sources map[int64]string
}

func (p *fakePublisher) AdmitTus(_ context.Context, _, _, pending int64, _ bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = append(p.pending, pending)
	return nil
}

func (p *fakePublisher) CreateTus(_ context.Context, authorID int64, uploadID, title, _, _ string) (int64, error) {
	p.videos.mu.Lock()
	defer p.videos.mu.Unlock()
	id := int64(len(p.videos.videos) + 100)
	p.videos.videos[id] = &reel.Video{ID: id, AuthorID: authorID, Title: title, UploadID: uploadID, Status: reel.StatusUploading}
	return id, nil
}

func (p *fakePublisher) FinishTus(_ context.Context, videoID, _ int64, source string, _ int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sources[videoID] = source
	return nil
}

func (p *fakePublisher) lastPending() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending[len(p.pending)-1]
}

// areaEnv is one area seen by two nodes: two tus handlers, each over its
// own Area value (its own client or file store), sharing the place and a
// locker.
type areaEnv struct {
	nodes  [2]*httptest.Server
	areas  [2]Area
	videos *fakeVideos
	pub    *fakePublisher
	// left lists what the area still holds: keys and multipart uploads on
	// S3, files on disk.
	left func(t *testing.T) []string
	// orphan leaves a trace of an upload without its info (a multipart
	// upload on S3, a data file on disk), created long ago.
	orphan func(t *testing.T, name string)
	s3     bool
}

func newAreaEnv(t *testing.T, open func(t *testing.T) Area, locker handler.Locker) *areaEnv {
	e := &areaEnv{videos: &fakeVideos{videos: map[int64]*reel.Video{}}}
	e.pub = &fakePublisher{videos: e.videos, sources: map[int64]string{}}
	for i := range e.nodes {
		e.areas[i] = open(t)
		h, err := NewTus(TusConfig{
			Area: e.areas[i], Locker: locker, BasePath: "/files/", MaxSize: 1 << 30, Expiry: time.Hour,
			Videos: e.videos, Publisher: e.pub, LogOutput: io.Discard,
			Authenticate: func(r *http.Request) (int64, error) {
				uid, err := strconv.ParseInt(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), 10, 64)
				if err != nil {
					return 0, reel.Errorf(reel.EUNAUTHORIZED, "who?")
				}
				return uid, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/files/", h)
		e.nodes[i] = httptest.NewServer(mux)
		t.Cleanup(e.nodes[i].Close)
	}
	return e
}

func tusDo(t *testing.T, method, url string, uid int64, body []byte, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+strconv.FormatInt(uid, 10))
	if body != nil {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// create starts an upload on node n and returns its path (/files/ID).
func (e *areaEnv) create(t *testing.T, n int, uid int64, size int, headers ...string) string {
	t.Helper()
	h := append([]string{"Upload-Length", strconv.Itoa(size), "Upload-Metadata", "title " + base64.StdEncoding.EncodeToString([]byte("t"))}, headers...)
	resp := tusDo(t, "POST", e.nodes[n].URL+"/files/", uid, nil, h...)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	return loc[strings.Index(loc, "/files/"):]
}

func (e *areaEnv) patch(t *testing.T, n int, path string, uid int64, offset int, data []byte) {
	t.Helper()
	resp := tusDo(t, "PATCH", e.nodes[n].URL+path, uid, data, "Upload-Offset", strconv.Itoa(offset))
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(offset+len(data)) {
		t.Fatalf("PATCH at %d on node %d: %d, offset %s", offset, n, resp.StatusCode, resp.Header.Get("Upload-Offset"))
	}
}

func (e *areaEnv) offset(t *testing.T, n int, path string, uid int64) int {
	t.Helper()
	resp := tusDo(t, "HEAD", e.nodes[n].URL+path, uid, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD on node %d: %d", n, resp.StatusCode)
	}
	o, _ := strconv.Atoi(resp.Header.Get("Upload-Offset"))
	return o
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func readAll(t *testing.T, r io.ReadCloser, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return readBody(t, r)
}

func open(t *testing.T, a Area, name string) []byte {
	t.Helper()
	r, err := a.Open(context.Background(), name)
	return readAll(t, r, err)
}

func readBody(t *testing.T, r io.ReadCloser) []byte {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAreaContract(t *testing.T) {
	t.Run("disk", func(t *testing.T) {
		dir := t.TempDir()
		e := newAreaEnv(t, func(t *testing.T) Area {
			a, err := NewDiskArea(dir)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}, nil)
		e.left = func(t *testing.T) []string {
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, en := range entries {
				names = append(names, en.Name())
			}
			return names
		}
		e.orphan = func(t *testing.T, name string) {
			p := dir + "/" + name
			if err := os.WriteFile(p+".info", []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-48 * time.Hour)
			_ = os.Chtimes(p+".info", old, old)
		}
		testArea(t, e)
	})
	t.Run("s3", func(t *testing.T) {
		s := s3test.Start(t)
		cfg := s.Config("inst")
		e := newAreaEnv(t, func(t *testing.T) Area {
			a, err := NewS3Area(context.Background(), cfg, s.Getenv(nil), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return a
		}, memorylocker.New())
		e.s3 = true
		e.left = func(t *testing.T) []string {
			left := s.Keys(t, "inst/")
			for _, k := range s.MultipartUploads(t, "inst/") {
				left = append(left, "multipart:"+k)
			}
			return left
		}
		e.orphan = func(t *testing.T, name string) {
			_, err := s.Client(t).CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{
				Bucket: aws.String(s.Bucket), Key: aws.String("inst/" + UploadsPrefix + name)})
			if err != nil {
				t.Fatal(err)
			}
		}
		testArea(t, e)
		// Blob keys live beside the uploads, never under them.
		if keys := s.Keys(t, "inst/videos/"); len(keys) != 0 {
			t.Errorf("the area wrote blob keys: %v", keys)
		}

		// The store gone: an upload is not answered as missing (the
		// client would start over), and nothing claims to be removed.
		path := e.create(t, 0, 7, 100)
		s.Kill()
		resp := tusDo(t, "HEAD", e.nodes[1].URL+path, 7, nil)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("HEAD with the store down: %d, want 503", resp.StatusCode)
		}
		resp = tusDo(t, "PATCH", e.nodes[0].URL+path, 7, []byte("x"), "Upload-Offset", "0")
		if resp.StatusCode < 500 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("PATCH with the store down: %d %s, want a JSON 5xx", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		name := strings.SplitN(strings.TrimPrefix(path, "/files/"), "+", 2)[0]
		if err := e.areas[0].Remove(context.Background(), name); err == nil {
			t.Error("Remove with the store down succeeded")
		}
		if _, err := e.areas[0].Open(context.Background(), name); err == nil || errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open with the store down: %v, want a failure that is not a missing upload", err)
		}
		if _, err := e.areas[0].Expire(context.Background(), time.Now(), func(context.Context, string) (bool, error) { return false, nil }); err == nil {
			t.Error("Expire with the store down succeeded")
		}
	})
}

func testArea(t *testing.T, e *areaEnv) {
	ctx := context.Background()
	const alice, bob = 7, 8

	// An upload written across both nodes: a part big enough to be an S3
	// part, a small one (S3 keeps it aside until more comes), the end. Its
	// file name is longer than any S3 keeps in its metadata.
	data := randomBytes(t, 6<<20+3000)
	long := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("é", 3000) + ".mp4"))
	path := e.create(t, 0, alice, len(data), "Upload-Metadata", "title dA==,filename "+long)
	e.patch(t, 0, path, alice, 0, data[:6<<20])
	if got := e.offset(t, 1, path, alice); got != 6<<20 {
		t.Fatalf("node 1 sees offset %d, want %d", got, 6<<20)
	}
	e.patch(t, 1, path, alice, 6<<20, data[6<<20:6<<20+1000])
	if got := e.offset(t, 0, path, alice); got != 6<<20+1000 {
		t.Fatalf("node 0 sees offset %d after node 1's PATCH", got)
	}
	if resp := tusDo(t, "HEAD", e.nodes[1].URL+path, bob, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("someone else's HEAD: %d, want 404", resp.StatusCode)
	}

	// Pending bytes: the unfinished upload counts, another user's does not.
	e.create(t, 1, bob, 10)
	if got := e.pub.lastPending(); got != 0 {
		t.Errorf("bob's pending bytes %d, want 0", got)
	}
	small := e.create(t, 1, alice, 10)
	if got := e.pub.lastPending(); got != int64(len(data)) {
		t.Errorf("alice's pending bytes %d, want %d", got, len(data))
	}

	e.patch(t, 0, path, alice, 6<<20+1000, data[6<<20+1000:])
	if got := e.pub.lastPending(); got != int64(len(data)) { // unchanged until the next creation
		t.Fatalf("pending %d", got)
	}
	e.create(t, 0, alice, 1)
	if got := e.pub.lastPending(); got != 10 {
		t.Errorf("after the upload finished, alice's pending bytes %d, want 10 (the small one)", got)
	}

	// The finished upload, found by the name the video keeps.
	var video *reel.Video
	for _, v := range e.videos.videos {
		if strings.HasSuffix(path, "/"+v.UploadID) || strings.Contains(path, "/"+v.UploadID+"+") {
			video = v
		}
	}
	if video == nil {
		t.Fatalf("no video keeps the upload id of %s", path)
	}
	if got := open(t, e.areas[1], video.UploadID); !bytes.Equal(got, data) {
		t.Fatalf("Open by the video's upload id: %d bytes, want the %d sent", len(got), len(data))
	}
	src := e.pub.sources[video.ID]
	if e.s3 {
		if !strings.HasPrefix(src, "http") {
			t.Fatalf("S3 source %q is not a URL", src)
		}
		resp, err := http.Get(src)
		if err != nil {
			t.Fatal(err)
		}
		if got := readBody(t, resp.Body); !bytes.Equal(got, data) || resp.StatusCode != 200 {
			t.Errorf("the source URL answers %d with %d bytes", resp.StatusCode, len(got))
		}
		if _, ok := e.areas[0].LocalPath(video.UploadID); ok {
			t.Error("an S3 area has a local path")
		}
	} else if p, ok := e.areas[0].LocalPath(video.UploadID); !ok || p != src {
		t.Errorf("disk source %q, local path %q", src, p)
	}
	if err := e.areas[0].Remove(ctx, video.UploadID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.areas[0].Open(ctx, video.UploadID); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open after Remove: %v", err)
	}
	if err := e.areas[1].Remove(ctx, video.UploadID); err != nil {
		t.Errorf("Remove of a removed upload: %v", err)
	}

	// Termination on the other node removes everything of an unfinished
	// upload, the S3 multipart upload included.
	before := e.left(t)
	term := e.create(t, 0, alice, 6<<20+10)
	e.patch(t, 0, term, alice, 0, data[:6<<20])
	e.patch(t, 0, term, alice, 6<<20, data[:5])
	if resp := tusDo(t, "DELETE", e.nodes[1].URL+term, alice, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	if after := e.left(t); !slices.Equal(after, before) {
		t.Errorf("termination left %v (before the upload: %v)", after, before)
	}

	// Concatenation: parts made on node 0, joined on node 1; a second
	// final naming the same parts finds them used.
	var parts []string
	for _, chunk := range [][]byte{data[:100], data[100:300]} {
		resp := tusDo(t, "POST", e.nodes[0].URL+"/files/", alice, chunk, "Upload-Length", strconv.Itoa(len(chunk)), "Upload-Concat", "partial")
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("partial: %d", resp.StatusCode)
		}
		parts = append(parts, resp.Header.Get("Location"))
	}
	final := "final;" + strings.Join(parts, " ")
	if resp := tusDo(t, "POST", e.nodes[1].URL+"/files/", bob, nil, "Upload-Concat", final); resp.StatusCode != http.StatusNotFound {
		t.Errorf("joining someone else's parts: %d", resp.StatusCode)
	}
	resp := tusDo(t, "POST", e.nodes[1].URL+"/files/", alice, nil, "Upload-Concat", final, "Upload-Metadata", "title "+base64.StdEncoding.EncodeToString([]byte("joined")))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("final: %d", resp.StatusCode)
	}
	joined, _ := strconv.ParseInt(resp.Header.Get("Video-ID"), 10, 64)
	if got := open(t, e.areas[0], e.videos.videos[joined].UploadID); !bytes.Equal(got, data[:300]) {
		t.Errorf("the joined upload has %d bytes, want the 300 of its parts", len(got))
	}
	if resp := tusDo(t, "POST", e.nodes[0].URL+"/files/", alice, nil, "Upload-Concat", final); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a second final of the same parts: %d, want 404", resp.StatusCode)
	}
	for _, p := range parts {
		if resp := tusDo(t, "HEAD", p, alice, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD of a used part: %d, want 404", resp.StatusCode)
		}
	}

	// Two finals racing for the same parts on two nodes: one wins.
	parts = parts[:0]
	for _, chunk := range [][]byte{data[:100], data[100:300]} {
		resp := tusDo(t, "POST", e.nodes[1].URL+"/files/", alice, chunk, "Upload-Length", strconv.Itoa(len(chunk)), "Upload-Concat", "partial")
		parts = append(parts, resp.Header.Get("Location"))
	}
	final = "final;" + strings.Join(parts, " ")
	statuses := make(chan int, 2)
	for n := range e.nodes {
		go func() {
			req, _ := http.NewRequest("POST", e.nodes[n].URL+"/files/", nil)
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Authorization", "Bearer "+strconv.Itoa(alice))
			req.Header.Set("Upload-Concat", final)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	got := map[int]int{<-statuses: 1}
	got[<-statuses]++
	if got[http.StatusCreated] != 1 || got[http.StatusNotFound] != 1 {
		t.Errorf("two finals over the same parts on two nodes: %v, want one 201 and one 404", got)
	}
	for _, v := range e.videos.videos {
		if v.Title == "" && v.ID != joined { // the race's winner: not kept
			_ = e.areas[0].Remove(ctx, v.UploadID)
		}
	}

	// Expiry, with every upload created before the deadline: those a video
	// waits for stay, the rest go, with what a crash left (an upload whose
	// info is gone, on S3 an orphan multipart upload).
	e.orphan(t, "7-orphan")
	kept := e.videos.videos[joined].UploadID
	inUse := func(_ context.Context, name string) (bool, error) { return name == kept, nil }
	n, err := e.areas[1].Expire(ctx, time.Now().Add(time.Hour), inUse)
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 { // small, bob's, the 1-byte one, the orphan
		t.Errorf("Expire removed %d uploads, want at least 4", n)
	}
	if got := open(t, e.areas[0], kept); len(got) != 300 {
		t.Errorf("the upload in use lost its bytes: %d", len(got))
	}
	if resp := tusDo(t, "HEAD", e.nodes[0].URL+small, alice, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of an expired upload: %d, want 404", resp.StatusCode)
	}
	if err := e.areas[0].Remove(ctx, kept); err != nil {
		t.Fatal(err)
	}
	if left := e.left(t); len(left) != 0 {
		t.Errorf("after expiry and removal the area holds %v", left)
	}
}
