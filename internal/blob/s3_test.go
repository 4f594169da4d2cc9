package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/blob/s3test"
	"github.com/reel-video/reel/internal/testwait"
)

func TestS3PrefixIsolates(t *testing.T) {
	srv := s3test.Start(t)
	ctx := t.Context()
	a, b, c := newS3(t, srv, "iso1"), newS3(t, srv, "iso2"), newS3(t, srv, "iso")
	put(t, a, "videos/1/a", "from a")
	put(t, b, "videos/1/a", "from b")
	if got := read(t, b, "videos/1/a"); got != "from b" {
		t.Errorf("b reads %q", got)
	}
	if all, err := c.List(ctx, ""); err != nil || len(all) != 0 {
		t.Errorf("prefix iso lists %q (%v): the objects of iso1 and iso2", keys(all), err)
	}
	if _, err := c.Stat(ctx, "1/videos/1/a"); err == nil {
		t.Errorf("prefix iso reaches an object of iso1")
	}
	if err := a.DeletePrefix(ctx, "videos/"); err != nil {
		t.Fatal(err)
	}
	if got, want := srv.Keys(t, ""), []string{"iso2/videos/1/a"}; !slices.Equal(got, want) {
		t.Errorf("bucket holds %q, want %q", got, want)
	}
}

func TestS3KeyLimitCountsThePrefix(t *testing.T) {
	srv := s3test.Start(t)
	s := newS3(t, srv, "p") // "p/" takes 2 of S3's 1,024 bytes
	long := strings.Repeat("ab/", 340) + "cd"
	put(t, s, long, "x")
	if _, err := s.Put(t.Context(), long+"e", strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
		t.Errorf("Put of a key that S3 cannot hold under the prefix = %v, want ErrInvalidKey", err)
	}
}

func TestNewS3Refuses(t *testing.T) {
	srv := s3test.Start(t)
	ctx := t.Context()
	wrongBucket := *srv.Config("")
	wrongBucket.Bucket = "nope"
	if _, err := blob.NewS3(ctx, &wrongBucket, srv.Getenv(nil)); err == nil || !strings.Contains(err.Error(), "no such bucket") {
		t.Errorf("NewS3 of a missing bucket = %v", err)
	}
	wrongSecret := srv.Getenv(func(string) string { return "" })
	badCreds := func(name string) string {
		if name == "AWS_SECRET_ACCESS_KEY" {
			return "not-the-secret"
		}
		return wrongSecret(name)
	}
	if _, err := blob.NewS3(ctx, srv.Config(""), badCreds); err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("NewS3 with a wrong secret = %v", err)
	}
	srv.Kill()
	_, err := blob.NewS3(ctx, srv.Config(""), srv.Getenv(nil))
	if reel.ErrorCode(err) != reel.EUNAVAILABLE {
		t.Errorf("NewS3 of a server that is down = %v (%s), want unavailable", err, reel.ErrorCode(err))
	}
}

// TestS3Unavailable kills the server and expects every method to fail soon
// (each within a deadline that, reached, fails the test) with an error the
// HTTP layer answers 503.
func TestS3Unavailable(t *testing.T) {
	srv := s3test.Start(t)
	s := newS3(t, srv, "p")
	put(t, s, "videos/1/video.mp4", strings.Repeat("x", 1000))
	opened, err := s.Open(t.Context(), "videos/1/video.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	srv.Kill()

	local := writeLocal(t, "out.mp4", []byte("x"))
	calls := map[string]func(ctx context.Context) error{
		"Put": func(ctx context.Context) error {
			_, err := s.Put(ctx, "videos/2/a", strings.NewReader("x"))
			return err
		},
		"Put multipart": func(ctx context.Context) error {
			_, err := s.Put(ctx, "videos/2/b", bytes.NewReader(make([]byte, blob.PartSize+1)))
			return err
		},
		"PutFile": func(ctx context.Context) error { return s.PutFile(ctx, "videos/2/c", local) },
		"Open": func(ctx context.Context) error {
			_, err := s.Open(ctx, "videos/1/video.mp4")
			return err
		},
		"Stat": func(ctx context.Context) error {
			_, err := s.Stat(ctx, "videos/1/video.mp4")
			return err
		},
		"Read": func(context.Context) error {
			_, err := io.ReadAll(opened)
			return err
		},
		"Delete":       func(ctx context.Context) error { return s.Delete(ctx, "videos/1/video.mp4") },
		"DeletePrefix": func(ctx context.Context) error { return s.DeletePrefix(ctx, "videos/") },
		"List": func(ctx context.Context) error {
			_, err := s.List(ctx, "")
			return err
		},
	}
	var wg sync.WaitGroup
	for name, call := range calls {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			err := call(ctx)
			if reel.ErrorCode(err) != reel.EUNAVAILABLE || errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s with the server down = %v (code %q), want an unavailable error before the deadline",
					name, err, reel.ErrorCode(err))
			}
		})
	}
	wg.Wait()
	if _, err := os.Stat(local); err != nil {
		t.Errorf("a failed PutFile removed the local file: %v", err)
	}
}

func TestS3GetURL(t *testing.T) {
	srv := s3test.Start(t)
	s := newS3(t, srv, "p")
	ctx := t.Context()
	body := randomBytes(1000)
	if _, err := s.Put(ctx, "videos/1/hls/seg_00001.m4s", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	get := func(u, rng string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	u, err := s.GetURL(ctx, "videos/1/hls/seg_00001.m4s", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if resp, got := get(u, ""); resp.StatusCode != 200 || !bytes.Equal(got, body) || resp.Header.Get("Content-Type") != "video/iso.segment" {
		t.Errorf("presigned GET: %d, %q, right bytes: %v", resp.StatusCode, resp.Header.Get("Content-Type"), bytes.Equal(got, body))
	}
	if resp, got := get(u, "bytes=10-19"); resp.StatusCode != 206 || !bytes.Equal(got, body[10:20]) {
		t.Errorf("presigned GET with Range: %d, right bytes: %v", resp.StatusCode, bytes.Equal(got, body[10:20]))
	}
	// The signature covers the key, and the bucket is private.
	pu, _ := url.Parse(u)
	pu.Path = strings.Replace(pu.Path, "seg_00001", "seg_00002", 1)
	if resp, _ := get(pu.String(), ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("presigned URL with another key: %d, want 403", resp.StatusCode)
	}
	if resp, _ := get(srv.Endpoint+"/"+srv.Bucket+"/p/videos/1/hls/seg_00001.m4s", ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned GET of an object: %d, want 403", resp.StatusCode)
	}

	short, err := s.GetURL(ctx, "videos/1/hls/seg_00001.m4s", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := url.Parse(short); q.Query().Get("X-Amz-Expires") != "1" {
		t.Errorf("a 1s URL says X-Amz-Expires=%q", q.Query().Get("X-Amz-Expires"))
	}
	testwait.For(t, "the 1 s presigned URL to expire", 30*time.Second, 100*time.Millisecond, func() bool {
		resp, _ := get(short, "")
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusOK {
			t.Fatalf("expired presigned URL answers %d", resp.StatusCode)
		}
		return resp.StatusCode == http.StatusForbidden
	})

	for _, ttl := range []time.Duration{0, time.Millisecond, 8 * 24 * time.Hour} {
		if _, err := s.GetURL(ctx, "videos/1/hls/seg_00001.m4s", ttl); err == nil {
			t.Errorf("GetURL with ttl %v succeeded", ttl)
		}
	}
}

// TestS3ServerErrors runs a store against a server that accepts the bucket
// and then fails: 5xx and throttling are outages (503 to clients, after the
// client's retries), a refusal is not.
func TestS3ServerErrors(t *testing.T) {
	var answer atomic.Value // of [2]any{status, code}
	var requests atomic.Int64
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "HEAD" && r.URL.Path == "/reel" {
			return // HeadBucket at start
		}
		requests.Add(1)
		a := answer.Load().([2]any)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(a[0].(int))
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>test</Message></Error>`, a[1])
	}))
	defer fake.Close()
	loc, err := blob.ParseURL("s3://reel/p?path_style=true&endpoint="+url.QueryEscape(fake.URL), "")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
	s, err := blob.NewS3(t.Context(), loc.S3, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		status int
		code   string
		want   string
	}{
		{503, "SlowDown", reel.EUNAVAILABLE},
		{500, "InternalError", reel.EUNAVAILABLE},
		{403, "AccessDenied", reel.EINTERNAL},
	} {
		answer.Store([2]any{tc.status, tc.code})
		requests.Store(0)
		_, err := s.List(t.Context(), "")
		if got := reel.ErrorCode(err); got != tc.want {
			t.Errorf("%d %s: List = %v, code %q, want %q", tc.status, tc.code, err, got, tc.want)
		}
		if tc.status >= 500 && requests.Load() < 2 {
			t.Errorf("%d %s was not retried", tc.status, tc.code)
		}
	}
}

// TestS3PutStreams checks that Put holds a bounded number of parts: it
// reads the next part only when the server has acknowledged all the parts
// before it but the few (partConcurrency, 4) it may have in flight.
func TestS3PutStreams(t *testing.T) {
	srv := s3test.Start(t)
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		// Counted before the client sees the answer, so that the count is
		// never behind what Put knows.
		if resp.Request.Method == "PUT" && resp.Request.URL.Query().Has("partNumber") && resp.StatusCode == 200 {
			acked.Add(1)
		}
		return nil
	}
	front := httptest.NewServer(proxy)
	defer front.Close()
	loc, err := blob.ParseURL("s3://reel/p?path_style=true&endpoint="+url.QueryEscape(front.URL), "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := blob.NewS3(t.Context(), loc.S3, srv.Getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	const parts, held = 12, 4 // held: partConcurrency
	var worst int64
	r := &probeReader{size: parts * blob.PartSize, probe: func(off int) {
		worst = max(worst, int64(off/blob.PartSize)-acked.Load())
	}}
	if n, err := s.Put(t.Context(), "videos/1/original", r); err != nil || n != parts*blob.PartSize {
		t.Fatalf("Put = %d, %v", n, err)
	}
	if worst > held {
		t.Errorf("Put read %d parts ahead of the server, want at most %d: it buffers the body", worst, held)
	}
	if acked.Load() != parts {
		t.Errorf("%d parts uploaded, want %d", acked.Load(), parts)
	}
}

// probeReader yields size zero bytes and calls probe with the offset of
// each Read.
type probeReader struct {
	size, off int
	probe     func(off int)
}

func (r *probeReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	r.probe(r.off)
	n := min(len(p), r.size-r.off, 1<<20)
	clear(p[:n])
	r.off += n
	return n, nil
}

// TestS3ReadsFetchWhatIsRead counts, at a proxy in front of the server,
// what reading an object fetches: a whole read fetches the object once in
// a few requests, a range the reader was told about (LimitReads) fetches
// that range and nothing more, a short read without it at most the first
// window, and all of them keep reusing one connection.
func TestS3ReadsFetchWhatIsRead(t *testing.T) {
	srv := s3test.Start(t)
	front := srv.Front(t)
	s, err := blob.NewS3(t.Context(), front.Config("p"), srv.Getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	const size, mib = 20 << 20, 1 << 20
	body := randomBytes(size)
	if _, err := s.Put(t.Context(), "videos/1/video.mp4", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	open := func() *blob.Object {
		t.Helper()
		obj, err := s.Open(t.Context(), "videos/1/video.mp4")
		if err != nil {
			t.Fatal(err)
		}
		return obj
	}
	readAt := func(obj *blob.Object, off, n int64) {
		t.Helper()
		if _, err := obj.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if _, err := io.CopyN(&got, obj, n); err != nil || !bytes.Equal(got.Bytes(), body[off:off+n]) {
			t.Fatalf("read of %d bytes at %d: %v, right bytes: %v", n, off, err, bytes.Equal(got.Bytes(), body[off:off+n]))
		}
	}

	obj := open()
	front.Reset()
	var all bytes.Buffer
	if _, err := io.Copy(&all, obj); err != nil || !bytes.Equal(all.Bytes(), body) {
		t.Fatalf("whole read: %v, right bytes: %v", err, bytes.Equal(all.Bytes(), body))
	}
	obj.Close()
	if gets, fetched, _ := front.Counts(); fetched != size || gets > 6 {
		t.Errorf("a whole read of %d bytes fetched %d bytes in %d requests", size, fetched, gets)
	}

	obj = open()
	front.Reset()
	for i := range int64(5) {
		off := i*3*mib + 12345
		if _, err := obj.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		obj.ReadSeekCloser.(blob.ReadLimiter).LimitReads(off + mib)
		readAt(obj, off, mib)
	}
	obj.Close()
	if gets, fetched, conns := front.Counts(); fetched != 5*mib || gets != 5 || conns > 1 {
		t.Errorf("5 told reads of 1 MiB fetched %d bytes in %d requests on %d new connections", fetched, gets, conns)
	}

	// Untold, a read fetches a window at a time: 1 MiB first.
	obj = open()
	front.Reset()
	for i := range int64(5) {
		readAt(obj, i*3*mib, mib)
	}
	readAt(obj, 17*mib, 100)
	obj.Close()
	if gets, fetched, conns := front.Counts(); fetched > 6*mib || gets != 6 || conns > 1 {
		t.Errorf("6 short reads fetched %d bytes in %d requests on %d new connections", fetched, gets, conns)
	}

	// A hint is not a bound: reading on past it still reads the object.
	obj = open()
	obj.ReadSeekCloser.(blob.ReadLimiter).LimitReads(10)
	readAt(obj, 0, 3*mib)
	obj.Close()
}

// TestS3OpenSpan: an object opened with the span a request reads costs one
// GET in all, whatever the span, with the object's Info as Stat gives it;
// the reader keeps that GET's body across the seeks http.ServeContent makes
// to learn the size, and reads anywhere else as after Open.
func TestS3OpenSpan(t *testing.T) {
	srv := s3test.Start(t)
	front := srv.Front(t)
	s, err := blob.NewS3(t.Context(), front.Config("p"), srv.Getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	const size, mib = 3 << 20, 1 << 20
	body := randomBytes(size)
	const key = "videos/1/video.mp4"
	if _, err := s.Put(t.Context(), key, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	put(t, s, "videos/1/empty.jpg", "")
	stat, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		span       blob.Span
		start, end int64 // the bytes read
		fetched    int64 // the object's bytes fetched, at most when a body is dropped unread
		gets       int64
		requests   int64 // in all, the object's lookups included
	}{
		{"whole", blob.Span{End: blob.ToEnd}, 0, size, size, 1, 1},
		{"from an offset to the end", blob.Span{Start: 1000, End: blob.ToEnd}, 1000, size, size - 1000, 1, 1},
		{"a range", blob.Span{Start: 5, End: 105}, 5, 105, 100, 1, 1},
		{"a range past the end", blob.Span{Start: size - 10, End: size + 100}, size - 10, size, 10, 1, 1},
		{"the last bytes", blob.Span{Start: -1000}, size - 1000, size, 1000, 1, 1},
		{"more last bytes than there are", blob.Span{Start: -(size + 5)}, 0, size, size, 1, 1},
		{"no known end, read on", blob.Span{Start: 100}, 100, size, size - 100, 2, 2},
		// The store refuses the GET (its error is a short XML document),
		// and the object is looked up; nothing of it is read.
		{"past the end", blob.Span{Start: size + 5, End: blob.ToEnd}, size, size, 1000, 1, 2},
		// The window's rest is dropped, not fetched (the last case: what
		// the proxy was still copying would count in the next one).
		{"no known end, read a little", blob.Span{Start: 100}, 100, 200, mib, 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			front.Reset()
			obj, err := s.OpenSpan(t.Context(), key, c.span)
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Close()
			if obj.Info != stat {
				t.Errorf("Info %+v, Stat gives %+v", obj.Info, stat)
			}
			// What ServeContent does: the size, then the start.
			if end, err := obj.Seek(0, io.SeekEnd); err != nil || end != size {
				t.Fatalf("seek to the end: %d, %v", end, err)
			}
			if _, err := obj.Seek(c.start, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, c.end-c.start)
			if _, err := io.ReadFull(obj, got); err != nil || !bytes.Equal(got, body[c.start:c.end]) {
				t.Fatalf("read %d-%d: %v, right bytes: %v", c.start, c.end, err, bytes.Equal(got, body[c.start:c.end]))
			}
			obj.Close()
			gets, fetched, _ := front.Counts()
			exact := c.end-c.start == c.fetched
			if gets != c.gets || front.Requests() != c.requests || fetched > c.fetched || exact && fetched != c.fetched {
				t.Errorf("fetched %d bytes in %d GETs, %d requests in all; want %d bytes (exactly: %v) in %d GETs, %d requests",
					fetched, gets, front.Requests(), c.fetched, exact, c.gets, c.requests)
			}
		})
	}

	// A span read elsewhere than where it starts drops its body and reads
	// what is asked for.
	obj, err := s.OpenSpan(t.Context(), key, blob.Span{Start: 0, End: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.Seek(2*mib, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 10)
	if _, err := io.ReadFull(obj, got); err != nil || !bytes.Equal(got, body[2*mib:2*mib+10]) {
		t.Errorf("read elsewhere: %v, right bytes: %v", err, bytes.Equal(got, body[2*mib:2*mib+10]))
	}
	obj.Close()

	// Later windows are pinned to the version the span's GET found.
	obj, err = s.OpenSpan(t.Context(), key, blob.Span{Start: 0})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, key, "replaced")
	if _, err := io.Copy(io.Discard, obj); err == nil || !strings.Contains(err.Error(), "replaced") {
		t.Errorf("reading on past the first window of a replaced object: %v", err)
	}
	obj.Close()

	for _, span := range []blob.Span{{End: blob.ToEnd}, {}, {Start: -10}} {
		obj, err := s.OpenSpan(t.Context(), "videos/1/empty.jpg", span)
		if err != nil {
			t.Fatalf("empty object, span %+v: %v", span, err)
		}
		if n, err := io.Copy(io.Discard, obj); obj.Size != 0 || n != 0 || err != nil {
			t.Errorf("empty object, span %+v: size %d, read %d, %v", span, obj.Size, n, err)
		}
		obj.Close()
	}
	if _, err := s.OpenSpan(t.Context(), "videos/1/missing.mp4", blob.Span{End: blob.ToEnd}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing object: %v", err)
	}
	if _, err := s.OpenSpan(t.Context(), "../escape", blob.Span{End: blob.ToEnd}); err == nil {
		t.Error("a hostile key was opened")
	}
}

// startUpload begins a multipart upload of key (a full bucket key) with one
// part and leaves it unfinished, as a process killed in the middle of a
// large Put does.
func startUpload(t *testing.T, srv *s3test.Server, key string) {
	t.Helper()
	c := srv.Client(t)
	out, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key),
		UploadId: out.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part")}); err != nil {
		t.Fatal(err)
	}
}

// TestS3DeletePrefixAbortsUploads: the unfinished multipart uploads under
// the prefix go with its objects, over several pages of the listing, and
// nothing of another video does.
func TestS3DeletePrefixAbortsUploads(t *testing.T) {
	srv := s3test.Start(t)
	s := newS3(t, srv, "p")
	blob.SetUploadsPage(t, 2)
	put(t, s, "videos/1/video.mp4", "x")
	for _, k := range []string{"p/videos/1/video.mp4", "p/videos/1/hls/720p/seg_00001.m4s", "p/videos/1/hls/720p/seg_00002.m4s",
		"p/videos/1/hls/720p/seg_00003.m4s", "p/videos/1/cover.jpg", "p/videos/10/video.mp4", "p/videos/2/video.mp4", "videos/1/video.mp4"} {
		startUpload(t, srv, k)
	}
	if err := s.DeletePrefix(t.Context(), "videos/1/"); err != nil {
		t.Fatal(err)
	}
	if left := srv.MultipartUploads(t, ""); !slices.Equal(left, []string{"p/videos/10/video.mp4", "p/videos/2/video.mp4", "videos/1/video.mp4"}) {
		t.Errorf("multipart uploads left: %q", left)
	}
	if left := srv.Keys(t, "p/videos/1/"); len(left) != 0 {
		t.Errorf("objects left: %q", left)
	}
}

// TestS3AbortStaleUploads aborts the uploads under the prefix begun before
// the cutoff, and no other.
func TestS3AbortStaleUploads(t *testing.T) {
	srv := s3test.Start(t)
	s := newS3(t, srv, "p")
	blob.SetUploadsPage(t, 2)
	under := []string{"p/videos/1/video.mp4", "p/videos/1/hls/720p/seg_00001.m4s", "p/videos/2/original", "p/videos/3/cover.jpg"}
	for _, k := range append(under, "p/uploads/abc", "videos/1/video.mp4") {
		startUpload(t, srv, k)
	}
	// Begun after the cutoff (an hour ago): running, kept.
	if n, err := s.AbortStaleUploads(t.Context(), "videos/", time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("sweep of uploads begun before an hour ago = %d, %v", n, err)
	}
	if left := srv.MultipartUploads(t, ""); len(left) != 6 {
		t.Errorf("uploads left after sweeping none: %q", left)
	}
	// With the cutoff in the future, every one under the prefix is stale.
	n, err := s.AbortStaleUploads(t.Context(), "videos/", time.Now().Add(time.Minute))
	if err != nil || n != len(under) {
		t.Errorf("sweep = %d, %v, want %d", n, err, len(under))
	}
	if left := srv.MultipartUploads(t, ""); !slices.Equal(left, []string{"p/uploads/abc", "videos/1/video.mp4"}) {
		t.Errorf("uploads left: %q", left)
	}
	for _, bad := range []string{"", "videos"} {
		if _, err := s.AbortStaleUploads(t.Context(), bad, time.Now()); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("sweep under %q = %v, want ErrInvalidKey", bad, err)
		}
	}
	if _, err := s.AbortStaleUploads(t.Context(), "videos/", time.Time{}); err == nil {
		t.Errorf("a sweep without a cutoff ran")
	}
	srv.Kill()
	if _, err := s.AbortStaleUploads(t.Context(), "videos/", time.Now()); reel.ErrorCode(err) != reel.EUNAVAILABLE {
		t.Errorf("sweep with the server down = %v, want unavailable", err)
	}
}
