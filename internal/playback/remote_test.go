package playback

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/blob/s3test"
)

// onStores runs test on a disk store (objects served from *os.File, by
// sendfile), on a remote one in memory (a lazy ranged reader and the
// store's own ETag, whose reads are counted) and on S3 itself: the answers
// must be the same.
func onStores(t *testing.T, opts HandlerOptions, test func(t *testing.T, f *fixture)) {
	t.Run("disk", func(t *testing.T) { test(t, newFixture(t, opts)) })
	t.Run("remote", func(t *testing.T) {
		files := media()
		test(t, newFixtureOn(t, newRemoteStore(t, files), files, opts))
	})
	t.Run("s3", func(t *testing.T) {
		files := media()
		test(t, newFixtureOn(t, newS3Store(t, files), files, opts))
	})
}

// newS3Store is a blob.S3 on a private S3-compatible server holding files.
func newS3Store(t testing.TB, files map[string][]byte) *blob.S3 {
	t.Helper()
	srv := s3test.Start(t)
	store, err := blob.NewS3(t.Context(), srv.Config("reel"), srv.Getenv(os.Getenv))
	if err != nil {
		t.Fatal(err)
	}
	for k, b := range files {
		if _, err := store.Put(t.Context(), k, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

// remoteStore is a read-only blob.Store that behaves like an object store:
// Open fetches nothing, reads fetch only what they ask for (and are
// counted), ETags are the store's (an MD5, like S3's), and it presigns URLs
// of a bucket server of its own.
type remoteStore struct {
	files   map[string][]byte
	virtual map[string]int64 // objects made up on the fly: key -> size
	bucket  *httptest.Server

	mu       sync.Mutex
	read     int64 // bytes handed to readers
	maxRead  int   // the largest buffer a reader was asked to fill
	presigns []time.Duration
	fail     error // GetURL's error when set
}

func newRemoteStore(t *testing.T, files map[string][]byte) *remoteStore {
	s := &remoteStore{files: files, virtual: map[string]int64{}}
	s.bucket = httptest.NewServer(http.HandlerFunc(s.serveBucket))
	t.Cleanup(s.bucket.Close)
	return s
}

var (
	modTime     = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	errReadOnly = errors.New("read-only test store")
)

// virtualByte is byte i of every virtual object.
func virtualByte(i int64) byte { return byte(i*7 + i>>10) }

func (s *remoteStore) info(key string) (blob.Info, bool) {
	if b, ok := s.files[key]; ok {
		sum := md5.Sum(b)
		return blob.Info{Key: key, Size: int64(len(b)), ModTime: modTime, ETag: `"` + hex.EncodeToString(sum[:]) + `"`}, true
	}
	if n, ok := s.virtual[key]; ok {
		return blob.Info{Key: key, Size: n, ModTime: modTime, ETag: fmt.Sprintf(`"virtual-%d"`, n)}, true
	}
	return blob.Info{}, false
}

func (s *remoteStore) Open(ctx context.Context, key string) (*blob.Object, error) {
	info, ok := s.info(key)
	if !ok {
		return nil, fmt.Errorf("remote: %s: %w", key, fs.ErrNotExist)
	}
	return &blob.Object{Info: info, ReadSeekCloser: &lazyReader{s: s, key: key, size: info.Size}}, nil
}

func (s *remoteStore) Stat(ctx context.Context, key string) (blob.Info, error) {
	if info, ok := s.info(key); ok {
		return info, nil
	}
	return blob.Info{}, fmt.Errorf("remote: %s: %w", key, fs.ErrNotExist)
}

func (s *remoteStore) Put(context.Context, string, io.Reader) (int64, error) { return 0, errReadOnly }
func (s *remoteStore) PutFile(context.Context, string, string) error         { return errReadOnly }
func (s *remoteStore) Delete(context.Context, string) error                  { return errReadOnly }
func (s *remoteStore) DeletePrefix(context.Context, string) error            { return errReadOnly }
func (s *remoteStore) List(context.Context, string) ([]blob.Info, error)     { return nil, errReadOnly }

// GetURL signs nothing real: the bucket answers any URL that names an
// object and carries the ttl it was made for.
func (s *remoteStore) GetURL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return "", s.fail
	}
	s.presigns = append(s.presigns, ttl)
	return s.bucket.URL + "/bucket/" + key + "?X-Amz-Expires=" + strconv.Itoa(int(ttl/time.Second)), nil
}

func (s *remoteStore) stats() (read int64, maxRead int, presigns []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read, s.maxRead, append([]time.Duration(nil), s.presigns...)
}

// serveBucket is the store's own HTTP server, which redirected players
// fetch from. Like S3's, a presigned URL answers GET only.
func (s *remoteStore) serveBucket(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, "/bucket/")
	if r.Method != http.MethodGet || !ok || r.URL.Query().Get("X-Amz-Expires") == "" {
		http.Error(w, "SignatureDoesNotMatch", http.StatusForbidden)
		return
	}
	obj, err := s.Open(r.Context(), key)
	if err != nil {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	w.Header().Set("ETag", obj.ETag)
	w.Header().Set("Content-Type", blob.ContentType(key))
	http.ServeContent(w, r, "", obj.ModTime, obj)
}

// lazyReader reads like an S3 object's: a Seek only moves the offset, and a
// Read fetches at most what it was asked for.
type lazyReader struct {
	s         *remoteStore
	key       string
	off, size int64
}

func (r *lazyReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.size-r.off))
	if b, ok := r.s.files[r.key]; ok {
		copy(p, b[r.off:r.off+int64(n)])
	} else {
		for i := range n {
			p[i] = virtualByte(r.off + int64(i))
		}
	}
	r.off += int64(n)
	r.s.mu.Lock()
	r.s.read += int64(n)
	r.s.maxRead = max(r.s.maxRead, len(p))
	r.s.mu.Unlock()
	return n, nil
}

func (r *lazyReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	}
	if offset < 0 {
		return 0, errors.New("negative offset")
	}
	r.off = offset
	return offset, nil
}

func (r *lazyReader) Close() error { return nil }

// A proxied object streams through bounded buffers whatever its size: a
// range of a 4 GiB object reads that range and nothing else, a HEAD reads
// nothing, and no reader is ever asked to fill more than the copy buffer.
func TestRemoteReadsOnlyWhatIsSent(t *testing.T) {
	const size = 4 << 30
	store := newRemoteStore(t, map[string][]byte{})
	store.virtual["videos/42/video.mp4"] = size
	f := newFixtureOn(t, store, nil, HandlerOptions{})
	u := f.signer.SignPath("/media/videos/42/video.mp4")

	resp, body := f.do(t, http.MethodHead, u)
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != strconv.Itoa(size) ||
		resp.Header.Get("ETag") != `"virtual-4294967296"` || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("HEAD: status %d, headers %v", resp.StatusCode, resp.Header)
	}
	if read, _, _ := store.stats(); read != 0 {
		t.Errorf("HEAD read %d bytes of the object", read)
	}

	const from, n = 3 << 30, 1 << 20
	resp, body = f.get(t, u, "Range", fmt.Sprintf("bytes=%d-%d", from, from+n-1))
	if resp.StatusCode != 206 || len(body) != n {
		t.Fatalf("range: status %d, %d bytes", resp.StatusCode, len(body))
	}
	for i, b := range body {
		if b != virtualByte(from+int64(i)) {
			t.Fatalf("byte %d of the range is wrong", i)
		}
	}
	read, maxRead, _ := store.stats()
	if read != n {
		t.Errorf("a range of %d bytes read %d bytes of the object", n, read)
	}
	if maxRead > copyBufSize {
		t.Errorf("a reader was asked for %d bytes at once, more than the copy buffer: something buffers the object", maxRead)
	}
}

// TestRedirect: with Redirect set, segments, MP4s and covers answer 302 to
// the store after every check a proxied answer gets; playlists and HEAD
// are still reel's.
func TestRedirect(t *testing.T) {
	files := media()
	store := newRemoteStore(t, files)
	blocked := false
	f := newFixtureOn(t, store, files, HandlerOptions{
		Redirect: store,
		Allowed:  func(ctx context.Context, g Grant) bool { return !blocked },
	})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(t *testing.T, method, target string, header ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	master := f.signer.SignPath("/media/videos/42/hls/master.m3u8", WithPrefix("/media/videos/42/hls/"))
	segment := strings.Replace(master, "master.m3u8", "720p/seg_00001.m4s", 1)

	for _, target := range []string{segment, f.signer.SignPath("/media/videos/42/video.mp4"), f.signer.SignPath("/media/videos/42/cover.jpg")} {
		resp := get(t, http.MethodGet, target, "Origin", "https://app.example")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), store.bucket.URL+"/bucket/videos/42/") {
			t.Fatalf("%s: status %d Location %q", target, resp.StatusCode, resp.Header.Get("Location"))
		}
		for name, want := range map[string]string{
			"Cache-Control":                 "private, no-store",
			"Access-Control-Allow-Origin":   "*",
			"Access-Control-Expose-Headers": exposedHeaders,
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("302 %s: %q, want %q", name, got, want)
			}
		}
	}
	// The reel URL lives an hour: the store's is capped.
	if _, _, presigns := store.stats(); len(presigns) != 3 || presigns[0] != MaxRedirectTTL {
		t.Errorf("presigned for %v, want 3 × %v", presigns, MaxRedirectTTL)
	}

	// Playlists stay on reel, so relative URLs resolve under its signed
	// prefix; so do the other manifests that name files relatively.
	if resp := get(t, http.MethodGet, master); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Errorf("master: status %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, manifest := range []string{"manifest.mpd", "storyboard/storyboard.vtt"} {
		if resp := get(t, http.MethodGet, strings.Replace(master, "master.m3u8", manifest, 1)); resp.StatusCode != 200 {
			t.Errorf("%s: status %d, want it served by reel", manifest, resp.StatusCode)
		}
	}
	// HEAD is answered by reel from the metadata, reading nothing.
	before, _, _ := store.stats()
	if resp := get(t, http.MethodHead, segment); resp.StatusCode != 200 || resp.Header.Get("Content-Length") != "4000" || resp.Header.Get("ETag") == "" {
		t.Errorf("HEAD: status %d %v", resp.StatusCode, resp.Header)
	}
	if after, _, _ := store.stats(); after != before {
		t.Errorf("HEAD read %d bytes", after-before)
	}

	// A player follows the redirect with its Range and gets the bytes.
	resp, body := f.get(t, segment, "Range", "bytes=10-19")
	if resp.StatusCode != 206 || string(body) != string(files["videos/42/hls/720p/seg_00001.m4s"][10:20]) {
		t.Errorf("followed: status %d, %d bytes", resp.StatusCode, len(body))
	}

	// Near the end of the reel URL, the store's ends with it.
	*f.clock = time.Unix(f.signer.expiry(), 0).Add(-90*time.Second - 300*time.Millisecond)
	get(t, http.MethodGet, segment)
	if _, _, presigns := store.stats(); presigns[len(presigns)-1] != 90*time.Second {
		t.Errorf("presigned for %v with 90 s left on the reel URL", presigns[len(presigns)-1])
	}
	*f.clock = t0

	// Nothing is presigned for a request refused by reel's own checks.
	_, _, presigns := store.stats()
	forged := strings.Replace(segment, "/videos/42/", "/videos/43/", 1) // outside the signed prefix
	for name, target := range map[string]string{
		"unsigned": "/media/videos/42/hls/720p/seg_00001.m4s",
		"forged":   forged,
	} {
		if resp := get(t, http.MethodGet, target); resp.StatusCode != 403 {
			t.Errorf("%s: status %d, want 403", name, resp.StatusCode)
		}
	}
	blocked = true
	if resp := get(t, http.MethodGet, segment); resp.StatusCode != 403 {
		t.Errorf("blocked: status %d, want 403", resp.StatusCode)
	}
	blocked = false
	*f.clock = t0.Add(2 * ttl)
	if resp := get(t, http.MethodGet, segment); resp.StatusCode != 403 {
		t.Errorf("expired: status %d, want 403", resp.StatusCode)
	}
	*f.clock = t0
	if _, _, now := store.stats(); len(now) != len(presigns) {
		t.Errorf("refused requests were presigned: %v", now[len(presigns):])
	}

	// A store that cannot presign fails the request the one JSON way.
	store.mu.Lock()
	store.fail = errors.New("credentials expired")
	store.mu.Unlock()
	resp, body = f.get(t, segment)
	if e := decodeError(t, resp, body); resp.StatusCode != 500 || e.Error.Code != "internal" || strings.Contains(string(body), "credentials") {
		t.Errorf("presign failure: status %d %+v", resp.StatusCode, e.Error)
	}
}

// TestRedirectHLSPlayback plays through redirects the way a player does:
// playlists from reel, every segment from the store, resolved against the
// playlist's URL.
func TestRedirectHLSPlayback(t *testing.T) {
	files := media()
	store := newRemoteStore(t, files)
	f := newFixtureOn(t, store, files, HandlerOptions{Redirect: store})
	master := f.signer.SignPath("/media/videos/42/hls/master.m3u8", WithPrefix("/media/videos/42/hls/"))
	var fromStore int
	var play func(target string)
	play = func(target string) {
		resp, body := f.get(t, target)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", target, resp.StatusCode)
		}
		if resp.Request.URL.Host == strings.TrimPrefix(store.bucket.URL, "http://") {
			fromStore++
		}
		if !strings.HasSuffix(target, ".m3u8") {
			return
		}
		if resp.Request.URL.Host != strings.TrimPrefix(f.srv.URL, "http://") {
			t.Errorf("playlist %s came from %s", target, resp.Request.URL.Host)
		}
		for _, uri := range playlistURIs(string(body)) {
			play(resolve(t, f.srv.URL+target, uri)[len(f.srv.URL):])
		}
	}
	play(master)
	if fromStore != 3 { // init and two segments
		t.Errorf("%d objects came from the store, want 3", fromStore)
	}
}

// TestRedirectOnS3 follows the redirects to the S3 server itself: the
// presigned URL answers GET with Range with the object's bytes, and its
// lifetime is the capped one.
func TestRedirectOnS3(t *testing.T) {
	files := media()
	store := newS3Store(t, files)
	f := newFixtureOn(t, store, files, HandlerOptions{Redirect: store})
	master := f.signer.SignPath("/media/videos/42/hls/master.m3u8", WithPrefix("/media/videos/42/hls/"))
	segment := strings.Replace(master, "master.m3u8", "720p/seg_00001.m4s", 1)
	want := files["videos/42/hls/720p/seg_00001.m4s"]

	resp, body := f.get(t, segment, "Range", "bytes=100-199")
	if resp.StatusCode != 206 || !bytes.Equal(body, want[100:200]) || resp.Request.URL.Host == strings.TrimPrefix(f.srv.URL, "http://") {
		t.Fatalf("range through the redirect: %d, %d bytes from %s", resp.StatusCode, len(body), resp.Request.URL)
	}
	if got := resp.Request.URL.Query().Get("X-Amz-Expires"); got != strconv.Itoa(int(MaxRedirectTTL/time.Second)) {
		t.Errorf("presigned for %s s, want %v", got, MaxRedirectTTL)
	}
	if resp.Header.Get("Content-Type") != "video/iso.segment" {
		t.Errorf("the bucket serves the segment as %q", resp.Header.Get("Content-Type"))
	}
	// The bucket's answer carries the same validators as reel's proxy.
	proxied, _ := f.do(t, http.MethodHead, segment)
	if proxied.StatusCode != 200 || proxied.Header.Get("ETag") == "" || proxied.Header.Get("ETag") != resp.Header.Get("ETag") {
		t.Errorf("ETag from reel %q, from the bucket %q", proxied.Header.Get("ETag"), resp.Header.Get("ETag"))
	}
	if resp, body := f.get(t, master); resp.StatusCode != 200 || !bytes.Equal(body, files["videos/42/hls/master.m3u8"]) || resp.Request.URL.Host != strings.TrimPrefix(f.srv.URL, "http://") {
		t.Errorf("master: %d from %s", resp.StatusCode, resp.Request.URL)
	}
}

// TestS3ProxyFetchesWhatIsSent counts, at a proxy in front of the S3
// server, what answering fetches: a range fetches that range in one request
// on a connection that stays open, a whole object is fetched once in a few
// requests, and several ranges are answered right within a window each.
func TestS3ProxyFetchesWhatIsSent(t *testing.T) {
	srv := s3test.Start(t)
	front := srv.Front(t)
	store, err := blob.NewS3(t.Context(), front.Config("reel"), srv.Getenv(os.Getenv))
	if err != nil {
		t.Fatal(err)
	}
	const size, mib = 20 << 20, 1 << 20
	whole := make([]byte, size)
	for i := range whole {
		whole[i] = virtualByte(int64(i))
	}
	if _, err := store.Put(t.Context(), "videos/42/video.mp4", bytes.NewReader(whole)); err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, store, nil, HandlerOptions{})
	u := f.signer.SignPath("/media/videos/42/video.mp4")

	// A range longer than the first window: told where it ends, the reader
	// fetches it at once and exactly.
	front.Reset()
	const n = 3 * mib / 2
	for i := range int64(5) {
		from := i*3*mib + 777
		resp, body := f.get(t, u, "Range", fmt.Sprintf("bytes=%d-%d", from, from+n-1))
		if resp.StatusCode != 206 || !bytes.Equal(body, whole[from:from+n]) {
			t.Fatalf("range at %d: status %d, %d bytes, right: %v", from, resp.StatusCode, len(body), bytes.Equal(body, whole[from:from+n]))
		}
	}
	if gets, fetched, conns := front.Counts(); fetched != 5*n || gets != 5 || conns > 1 || front.Requests() != 5 {
		t.Errorf("5 ranges of %d bytes fetched %d bytes in %d GETs (%d requests) on %d new connections", n, fetched, gets, front.Requests(), conns)
	}

	front.Reset()
	if resp, body := f.get(t, u, "Range", "bytes=-1000"); resp.StatusCode != 206 || !bytes.Equal(body, whole[size-1000:]) {
		t.Errorf("suffix range: status %d, %d bytes", resp.StatusCode, len(body))
	}
	if gets, fetched, _ := front.Counts(); fetched != 1000 || gets != 1 || front.Requests() != 1 {
		t.Errorf("the last 1000 bytes fetched %d bytes in %d GETs (%d requests)", fetched, gets, front.Requests())
	}

	// Conditional requests look the object up first, so that a 304 or a
	// 412 fetches none of its bytes; an If-Range that does not match still
	// gets the whole object.
	resp, _ := f.get(t, u)
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on a proxied answer")
	}
	front.Reset()
	if resp, body := f.get(t, u, "If-None-Match", etag); resp.StatusCode != 304 || len(body) != 0 {
		t.Errorf("If-None-Match: status %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := f.get(t, u, "If-Match", `"other"`); resp.StatusCode != 412 {
		t.Errorf("If-Match of another version: status %d", resp.StatusCode)
	}
	if _, fetched, _ := front.Counts(); fetched != 0 {
		t.Errorf("304 and 412 fetched %d bytes of the object", fetched)
	}
	if resp, body := f.get(t, u, "Range", "bytes=0-99", "If-Range", `"other"`); resp.StatusCode != 200 || !bytes.Equal(body, whole) {
		t.Errorf("If-Range of another version: status %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, body := f.get(t, u, "Range", "bytes=0-99", "If-Range", etag); resp.StatusCode != 206 || !bytes.Equal(body, whole[:100]) {
		t.Errorf("If-Range of this version: status %d, %d bytes", resp.StatusCode, len(body))
	}

	// A range past the end is refused with the object's size, as on disk.
	for _, rng := range []string{fmt.Sprintf("bytes=%d-", size), fmt.Sprintf("bytes=%d-%d", size+10, size+20)} {
		resp, _ := f.get(t, u, "Range", rng)
		if resp.StatusCode != 416 || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
			t.Errorf("%s: status %d, Content-Range %q", rng, resp.StatusCode, resp.Header.Get("Content-Range"))
		}
	}

	front.Reset()
	if resp, body := f.get(t, u); resp.StatusCode != 200 || !bytes.Equal(body, whole) {
		t.Errorf("whole: status %d, %d bytes", resp.StatusCode, len(body))
	}
	if gets, fetched, _ := front.Counts(); fetched != size || gets > 6 {
		t.Errorf("the whole object fetched %d bytes in %d requests", fetched, gets)
	}

	// A browser opens a progressive MP4 with "bytes=0-" and drops it after
	// a few KiB: the store is asked for the first window, not for the rest
	// of the file (3 MiB here, which a whole read would fetch at once).
	if _, err := store.Put(t.Context(), "videos/42/small.mp4", bytes.NewReader(whole[:3*mib])); err != nil {
		t.Fatal(err)
	}
	front.Reset()
	req, err := http.NewRequest("GET", f.srv.URL+f.signer.SignPath("/media/videos/42/small.mp4"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", "bytes=0-")
	resp0, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp0.Body, make([]byte, 4096)); err != nil || resp0.StatusCode != 206 {
		t.Fatalf("bytes=0-: status %d, %v", resp0.StatusCode, err)
	}
	resp0.Body.Close()
	if asked := front.Ranges(); len(asked) == 0 || asked[0] != "bytes=0-1048575" {
		t.Errorf("a bytes=0- read asked the store for %q first, want the first 1 MiB window", asked)
	}

	// A whole segment (here 1.5 MiB, more than the first window) and the
	// rest of one from an offset are fetched in one request each.
	segment := whole[:3*mib/2]
	if _, err := store.Put(t.Context(), "videos/42/hls/seg.m4s", bytes.NewReader(segment)); err != nil {
		t.Fatal(err)
	}
	su := f.signer.SignPath("/media/videos/42/hls/seg.m4s")
	for _, rng := range []string{"", "bytes=1000-"} {
		front.Reset()
		headers := []string{}
		want := segment
		if rng != "" {
			headers, want = []string{"Range", rng}, segment[1000:]
		}
		if resp, body := f.get(t, su, headers...); resp.StatusCode/100 != 2 || !bytes.Equal(body, want) {
			t.Errorf("segment %q: status %d, %d bytes", rng, resp.StatusCode, len(body))
		}
		if gets, fetched, _ := front.Counts(); fetched != int64(len(want)) || gets != 1 || front.Requests() != 1 {
			t.Errorf("segment %q fetched %d bytes in %d GETs (%d requests), want %d in 1", rng, fetched, gets, front.Requests(), len(want))
		}
	}

	front.Reset()
	resp, body := f.get(t, u, "Range", "bytes=0-9,10485760-10485859,-5")
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || err != nil {
		t.Fatalf("several ranges: status %d, %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for i, w := range [][2]int{{0, 10}, {10 << 20, 10<<20 + 100}, {size - 5, size}} {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		got, err := io.ReadAll(part)
		if err != nil || !bytes.Equal(got, whole[w[0]:w[1]]) {
			t.Errorf("part %d (%s): %d bytes, right: %v", i, part.Header.Get("Content-Range"), len(got), bytes.Equal(got, whole[w[0]:w[1]]))
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("after the last part: %v", err)
	}
	if _, fetched, _ := front.Counts(); fetched > 3*mib {
		t.Errorf("3 short ranges fetched %d bytes", fetched)
	}
}
