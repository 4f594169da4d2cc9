package blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/blob/s3test"
)

// subject is a store under test with the means to look behind it.
type subject struct {
	blob.Store
	// leftovers lists what failed writes may leave that is not an object:
	// temporary files on disk, unfinished multipart uploads in a bucket.
	leftovers func(t *testing.T) []string
	// contentType is the type the store recorded with the object at key;
	// nil for a store that records none (the disk: its handler decides).
	contentType func(t *testing.T, key string) string
}

func TestDiskContract(t *testing.T) {
	testStore(t, func(t *testing.T) subject {
		dir := filepath.Join(t.TempDir(), "blobs")
		d, err := blob.NewDisk(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return subject{Store: d, leftovers: func(t *testing.T) []string { return tempFilesIn(t, dir) }}
	})
}

// TestS3Contract runs the suite on one server, each subtest under a prefix
// of its own.
func TestS3Contract(t *testing.T) {
	srv := s3test.Start(t)
	var n atomic.Int64
	testStore(t, func(t *testing.T) subject {
		prefix := fmt.Sprintf("t%d", n.Add(1))
		s := newS3(t, srv, prefix)
		return subject{
			Store:     s,
			leftovers: func(t *testing.T) []string { return srv.MultipartUploads(t, prefix+"/") },
			contentType: func(t *testing.T, key string) string {
				out, err := srv.Client(t).HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(prefix + "/" + key)})
				if err != nil {
					t.Fatalf("HeadObject(%s): %v", key, err)
				}
				return aws.ToString(out.ContentType)
			},
		}
	})
}

func newS3(t *testing.T, srv *s3test.Server, prefix string) *blob.S3 {
	t.Helper()
	s, err := blob.NewS3(t.Context(), srv.Config(prefix), srv.Getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testStore(t *testing.T, newStore func(t *testing.T) subject) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s subject)
	}{
		{"HostileKeys", testHostileKeys},
		{"RoundTrip", testRoundTrip},
		{"UnusualKeys", testUnusualKeys},
		{"ContentTypes", testContentTypes},
		{"LargePut", testLargePut},
		{"PutFile", testPutFile},
		{"PutFailureLeavesNothing", testPutFailureLeavesNothing},
		{"PutCancelled", testPutCancelled},
		{"ConcurrentPuts", testConcurrentPuts},
		{"Overwrite", testOverwrite},
		{"ReplacedWhileOpen", testReplacedWhileOpen},
		{"MissingIsNotExist", testMissingIsNotExist},
		{"DeleteIsIdempotent", testDeleteIsIdempotent},
		{"DeletePrefix", testDeletePrefix},
		{"List", testList},
		{"ListBeyond1000", testListBeyond1000},
		{"Ranges", testRanges},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newStore(t)) })
	}
}

func put(t *testing.T, s blob.Store, key, content string) {
	t.Helper()
	n, err := s.Put(t.Context(), key, strings.NewReader(content))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if n != int64(len(content)) {
		t.Fatalf("Put(%q) = %d bytes, want %d", key, n, len(content))
	}
}

func read(t *testing.T, s blob.Store, key string) string {
	t.Helper()
	obj, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if int64(len(b)) != obj.Size {
		t.Errorf("read %d bytes of %q, Info says %d", len(b), key, obj.Size)
	}
	return string(b)
}

func keys(infos []blob.Info) []string {
	var ks []string
	for _, i := range infos {
		ks = append(ks, i.Key)
	}
	return ks
}

func checkNoLeftovers(t *testing.T, s subject) {
	t.Helper()
	if left := s.leftovers(t); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func tempFilesIn(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), blob.TempPrefix) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func writeLocal(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func testHostileKeys(t *testing.T, s subject) {
	ctx := t.Context()
	local := writeLocal(t, "local", []byte("x"))
	for _, key := range blob.HostileKeys {
		checks := map[string]error{
			"ValidKey": blob.ValidKey(key),
			"PutFile":  s.PutFile(ctx, key, local),
			"Delete":   s.Delete(ctx, key),
		}
		_, checks["List"] = s.List(ctx, key+"/")
		_, checks["Put"] = s.Put(ctx, key, strings.NewReader("x"))
		_, checks["Open"] = s.Open(ctx, key)
		_, checks["Stat"] = s.Stat(ctx, key)
		if p, ok := s.Store.(blob.Presigner); ok {
			_, checks["GetURL"] = p.GetURL(ctx, key, 60e9)
		}
		if key != "" { // "" + "/" is "/", a hostile prefix in its own right
			checks["DeletePrefix"] = s.DeletePrefix(ctx, key+"/")
		}
		for name, err := range checks {
			if !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want ErrInvalidKey", name, key, err)
			}
		}
	}
	if _, err := os.Stat(local); err != nil {
		t.Errorf("a rejected PutFile consumed the local file: %v", err)
	}
	if all, err := s.List(ctx, ""); err != nil || len(all) != 0 {
		t.Errorf("hostile keys stored %v (%v)", keys(all), err)
	}
	checkNoLeftovers(t, s)
}

func testRoundTrip(t *testing.T, s subject) {
	ctx := t.Context()
	put(t, s, "videos/42/cover.jpg", "jpeg bytes")
	obj, err := s.Open(ctx, "videos/42/cover.jpg")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if obj.Key != "videos/42/cover.jpg" || obj.Size != 10 || obj.ModTime.IsZero() {
		t.Errorf("Info = %+v", obj.Info)
	}
	if len(obj.ETag) < 3 || obj.ETag[0] != '"' || obj.ETag[len(obj.ETag)-1] != '"' {
		t.Errorf("ETag %q is not a quoted strong tag", obj.ETag)
	}
	if _, err := obj.Seek(5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(obj); err != nil || string(b) != "bytes" {
		t.Errorf("after Seek(5) read %q, %v", b, err)
	}
	info, err := s.Stat(ctx, "videos/42/cover.jpg")
	if err != nil || info != obj.Info {
		t.Errorf("Stat = %+v, %v; want %+v", info, err, obj.Info)
	}

	put(t, s, "empty", "")
	if got := read(t, s, "empty"); got != "" {
		t.Errorf("empty object read %q", got)
	}
}

// testUnusualKeys stores keys that are valid but need care in a URL or
// a file name.
func testUnusualKeys(t *testing.T, s subject) {
	want := []string{
		"x/.hidden", "x/..a", "x/...", "日本/動画.mp4", "a b+c%20d&e?f#g=h;i.m4s", "q/'\"<>",
		strings.Repeat("s", 255), strings.Repeat("ab/", 300) + "c",
	}
	for _, k := range want {
		put(t, s, k, k)
		if got := read(t, s, k); got != k {
			t.Errorf("%q reads %q", k, got)
		}
	}
	all, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if got := keys(all); !slices.Equal(got, want) {
		t.Errorf("List() = %q, want %q", got, want)
	}
}

func testContentTypes(t *testing.T, s subject) {
	ctx := t.Context()
	for key, want := range map[string]string{
		"v/1/hls/master.m3u8":        "application/vnd.apple.mpegurl",
		"v/1/hls/720p/seg_00001.m4s": "video/iso.segment",
		"v/1/video.MP4":              "video/mp4",
		"v/1/cover.webp":             "image/webp",
		"v/1/hls/manifest.mpd":       "application/dash+xml",
		"v/1/hls/storyboard/sb.vtt":  "text/vtt; charset=utf-8",
		"v/1/original":               "application/octet-stream",
	} {
		if want != blob.ContentType(key) {
			t.Fatalf("ContentType(%q) = %q, want %q", key, blob.ContentType(key), want)
		}
		put(t, s, key, "x")
		viaFile := strings.Replace(key, "v/1/", "v/2/", 1)
		if err := s.PutFile(ctx, viaFile, writeLocal(t, "f", []byte("x"))); err != nil {
			t.Fatal(err)
		}
		if s.contentType == nil {
			continue
		}
		for _, k := range []string{key, viaFile} {
			if got := s.contentType(t, k); got != want {
				t.Errorf("%s stored with type %q, want %q", k, got, want)
			}
		}
	}
}

// hashReader yields n pseudo-random bytes of unknown length (no Len, no
// Seek) and hashes them as they go.
type hashReader struct {
	r io.Reader
	h io.Writer
}

func newHashReader(n int64) (*hashReader, func() []byte) {
	h := sha256.New()
	return &hashReader{r: io.LimitReader(rand.Reader, n), h: h}, func() []byte { return h.Sum(nil) }
}

func (r *hashReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	return n, err
}

func hashOf(t *testing.T, s blob.Store, key string) ([]byte, int64) {
	t.Helper()
	obj, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return h.Sum(nil), n
}

func testLargePut(t *testing.T, s subject) {
	// Sizes around the part size: exactly one part, one byte more, several.
	for _, size := range []int64{blob.PartSize, blob.PartSize + 1, 2*blob.PartSize + 12345} {
		key := fmt.Sprintf("big/%d.mp4", size)
		r, sum := newHashReader(size)
		n, err := s.Put(t.Context(), key, r)
		if err != nil || n != size {
			t.Fatalf("Put(%d bytes) = %d, %v", size, n, err)
		}
		got, gotN := hashOf(t, s, key)
		if gotN != size || !bytes.Equal(got, sum()) {
			t.Errorf("%d bytes put, %d read back, same content: %v", size, gotN, bytes.Equal(got, sum()))
		}
	}
	checkNoLeftovers(t, s)
}

func testPutFile(t *testing.T, s subject) {
	ctx := t.Context()
	for _, size := range []int{9, 2*blob.PartSize + 777} {
		body := randomBytes(size)
		local := writeLocal(t, "720p.mp4", body)
		key := fmt.Sprintf("videos/5/%d.mp4", size)
		if err := s.PutFile(ctx, key, local); err != nil {
			t.Fatal(err)
		}
		if got := read(t, s, key); got != string(body) {
			t.Errorf("%d bytes in, %d different bytes out", size, len(got))
		}
		if _, err := os.Stat(local); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the local file is still there: %v", err)
		}
	}
	target := writeLocal(t, "target.mp4", []byte("x"))
	link := filepath.Join(t.TempDir(), "link.mp4")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFile(ctx, "videos/5/linked.mp4", link); err == nil {
		t.Errorf("PutFile stored a symlink")
	}
	if err := s.PutFile(ctx, "videos/5/missing.mp4", filepath.Join(t.TempDir(), "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("PutFile of a missing file = %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	kept := writeLocal(t, "kept.mp4", []byte("x"))
	if err := s.PutFile(cancelled, "videos/5/cancelled.mp4", kept); !errors.Is(err, context.Canceled) {
		t.Errorf("PutFile with a cancelled context = %v", err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("a failed PutFile removed the local file: %v", err)
	}
	if all, _ := s.List(ctx, "videos/5/"); len(all) != 2 {
		t.Errorf("objects %v, want the two put", keys(all))
	}
	checkNoLeftovers(t, s)
}

// failingReader yields n bytes, then err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

func testPutFailureLeavesNothing(t *testing.T, s subject) {
	errBroken := errors.New("connection reset")
	for _, size := range []int{100, 2*blob.PartSize + 5} { // a single request or a multipart upload
		for _, old := range []bool{false, true} {
			key := fmt.Sprintf("videos/%d-%v/original", size, old)
			if old {
				put(t, s, key, "old")
			}
			_, err := s.Put(t.Context(), key, &failingReader{n: size, err: errBroken})
			if !errors.Is(err, errBroken) {
				t.Fatalf("Put = %v, want the reader's error", err)
			}
			if old {
				if got := read(t, s, key); got != "old" {
					t.Errorf("the previous object was damaged: %q", got[:min(len(got), 20)])
				}
			} else if _, err := s.Stat(t.Context(), key); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat after failed Put = %v, want not exist", err)
			}
		}
	}
	checkNoLeftovers(t, s)
}

// cancellingReader yields zeros and cancels once it has given after bytes.
type cancellingReader struct {
	sent, after int
	cancel      func()
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	if r.sent >= r.after {
		r.cancel()
	}
	n := min(len(p), 64<<10)
	clear(p[:n])
	r.sent += n
	return n, nil
}

func testPutCancelled(t *testing.T, s subject) {
	for _, after := range []int{1, 2*blob.PartSize + 1} {
		ctx, cancel := context.WithCancel(t.Context())
		r := &cancellingReader{after: after, cancel: cancel}
		key := fmt.Sprintf("videos/8/%d", after)
		_, err := s.Put(ctx, key, io.LimitReader(r, 64*blob.PartSize))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Put = %v, want context.Canceled", err)
		}
		if r.sent >= 64*blob.PartSize {
			t.Errorf("Put read the whole body after cancellation")
		}
		if _, err := s.Stat(t.Context(), key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat after cancelled Put = %v, want not exist", err)
		}
		if _, err := s.Put(ctx, "videos/8/other", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
			t.Errorf("Put with a cancelled context = %v", err)
		}
	}
	checkNoLeftovers(t, s)
}

func testConcurrentPuts(t *testing.T, s subject) {
	const writers, size = 4, blob.PartSize + 17
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			body := bytes.Repeat([]byte{byte('a' + i)}, size)
			if _, err := s.Put(t.Context(), "videos/9/original", bytes.NewReader(body)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := read(t, s, "videos/9/original")
	if len(got) != size || strings.Count(got, got[:1]) != size {
		t.Errorf("object is %d bytes of mixed content; want %d bytes from one writer", len(got), size)
	}
	checkNoLeftovers(t, s)
}

func testOverwrite(t *testing.T, s subject) {
	put(t, s, "a/b", "a much longer first version")
	first, err := s.Stat(t.Context(), "a/b")
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "a/b", "short")
	if got := read(t, s, "a/b"); got != "short" {
		t.Errorf("after overwrite read %q", got)
	}
	second, err := s.Stat(t.Context(), "a/b")
	if err != nil || second.ETag == first.ETag {
		t.Errorf("ETag %q before and %q (%v) after a replacement", first.ETag, second.ETag, err)
	}
}

// testReplacedWhileOpen replaces an object between Open and Read: the
// reader gets the old bytes or an error, never a mix.
func testReplacedWhileOpen(t *testing.T, s subject) {
	old := strings.Repeat("o", 1000)
	put(t, s, "r", old)
	obj, err := s.Open(t.Context(), "r")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	head := make([]byte, 10)
	if _, err := io.ReadFull(obj, head); err != nil || string(head) != old[:10] {
		t.Fatalf("first read %q, %v", head, err)
	}
	put(t, s, "r", strings.Repeat("n", 1000))
	if _, err := obj.Seek(500, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(obj)
	if err == nil && string(rest) != old[500:] {
		t.Errorf("read across a replacement mixed versions: %q...", rest[:10])
	}
}

func testMissingIsNotExist(t *testing.T, s subject) {
	ctx := t.Context()
	put(t, s, "videos/42/cover.jpg", "x")
	for _, key := range []string{
		"videos/43/cover.jpg",   // nothing there
		"videos/42",             // a prefix of keys is no object
		"videos/42/cover.jpg/x", // below an object
	} {
		if _, err := s.Open(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q) = %v, want fs.ErrNotExist", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%q) = %v, want fs.ErrNotExist", key, err)
		}
	}
}

func testDeleteIsIdempotent(t *testing.T, s subject) {
	ctx := t.Context()
	put(t, s, "videos/42/cover.jpg", "x")
	for i := range 2 {
		if err := s.Delete(ctx, "videos/42/cover.jpg"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if _, err := s.Stat(ctx, "videos/42/cover.jpg"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat after Delete = %v", err)
	}
	put(t, s, "videos/42/hls/a", "x")
	if err := s.Delete(ctx, "videos/42/hls"); err != nil {
		t.Errorf("Delete of a prefix = %v, want nil", err)
	}
	if got := read(t, s, "videos/42/hls/a"); got != "x" {
		t.Errorf("Delete of a prefix removed what it holds")
	}
}

func testDeletePrefix(t *testing.T, s subject) {
	ctx := t.Context()
	for _, k := range []string{
		"videos/4/original", "videos/42/original", "videos/42/hls/master.m3u8",
		"videos/42/hls/720p/seg_00001.m4s", "videos/420/original", "videos/42x", "avatars/42",
	} {
		put(t, s, k, k)
	}
	if err := s.DeletePrefix(ctx, "videos/42/"); err != nil {
		t.Fatal(err)
	}
	all, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"avatars/42", "videos/4/original", "videos/420/original", "videos/42x"}
	if got := keys(all); !slices.Equal(got, want) {
		t.Errorf("after DeletePrefix(videos/42/) keys = %q, want %q", got, want)
	}
	if err := s.DeletePrefix(ctx, "videos/42/"); err != nil {
		t.Errorf("DeletePrefix of nothing = %v", err)
	}
	if err := s.DeletePrefix(ctx, "videos/42x/"); err != nil {
		t.Errorf("DeletePrefix naming an object = %v", err)
	}
	if got := read(t, s, "videos/42x"); got != "videos/42x" {
		t.Errorf("DeletePrefix(videos/42x/) removed the object videos/42x")
	}
	for _, p := range []string{"videos/4", "", "/", "videos//"} {
		if err := s.DeletePrefix(ctx, p); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("DeletePrefix(%q) = %v, want ErrInvalidKey", p, err)
		}
	}
	if all, _ := s.List(ctx, ""); len(all) != len(want) {
		t.Errorf("a refused DeletePrefix deleted: %q left", keys(all))
	}
}

func testList(t *testing.T, s subject) {
	ctx := t.Context()
	for _, k := range []string{"a/b", "a-c", "a/a/z", "b", "a/c"} {
		put(t, s, k, "0123")
	}
	all, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(all), []string{"a-c", "a/a/z", "a/b", "a/c", "b"}; !slices.Equal(got, want) {
		t.Errorf("List() = %q, want %q", got, want)
	}
	for _, i := range all {
		if i.Size != 4 || i.ModTime.IsZero() {
			t.Errorf("Info %+v", i)
		}
		if i.ETag == "" {
			continue // List may leave it out
		}
		if st, err := s.Stat(ctx, i.Key); err != nil || st.ETag != i.ETag {
			t.Errorf("List gives %s the ETag %q, Stat %q (%v)", i.Key, i.ETag, st.ETag, err)
		}
	}
	under, err := s.List(ctx, "a/")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(under), []string{"a/a/z", "a/b", "a/c"}; !slices.Equal(got, want) {
		t.Errorf("List(a/) = %q, want %q", got, want)
	}
	if none, err := s.List(ctx, "nothing/"); err != nil || len(none) != 0 {
		t.Errorf("List(nothing/) = %v, %v", none, err)
	}
	if _, err := s.List(ctx, "a"); !errors.Is(err, blob.ErrInvalidKey) {
		t.Errorf("List(a) = %v, want ErrInvalidKey: a prefix ends with /", err)
	}
}

// testListBeyond1000 crosses S3's page size, where listing and deleting
// must follow continuation tokens.
func testListBeyond1000(t *testing.T, s subject) {
	ctx := t.Context()
	const n = 1100
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("many/%05d", i))
	}
	put(t, s, "many2/kept", "x")
	work := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for k := range work {
				if _, err := s.Put(ctx, k, strings.NewReader(k)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for _, k := range want {
		work <- k
	}
	close(work)
	wg.Wait()
	all, err := s.List(ctx, "many/")
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(all); !slices.Equal(got, want) {
		t.Fatalf("List(many/) = %d keys, want %d", len(got), len(want))
	}
	if err := s.DeletePrefix(ctx, "many/"); err != nil {
		t.Fatal(err)
	}
	if all, err := s.List(ctx, ""); err != nil || !slices.Equal(keys(all), []string{"many2/kept"}) {
		t.Errorf("after DeletePrefix(many/): %d keys, %v", len(all), err)
	}
}

// testRanges serves an object with http.ServeContent, as the media handler
// does, and checks every form of Range against the bytes put.
func testRanges(t *testing.T, s subject) {
	body := randomBytes(100_000)
	if _, err := s.Put(t.Context(), "videos/1/video.mp4", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	serve := func(rng string) *http.Response {
		obj, err := s.Open(t.Context(), "videos/1/video.mp4")
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		req := httptest.NewRequest("GET", "/v", nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		w := httptest.NewRecorder()
		http.ServeContent(w, req, "video.mp4", obj.ModTime, obj)
		return w.Result()
	}
	for _, tc := range []struct {
		rng        string
		status     int
		start, end int // of the single part expected
	}{
		{"", 200, 0, len(body)},
		{"bytes=0-0", 206, 0, 1},
		{"bytes=1000-1999", 206, 1000, 2000},
		{"bytes=99000-", 206, 99000, len(body)},
		{"bytes=-500", 206, len(body) - 500, len(body)},
		{"bytes=99999-200000", 206, 99999, len(body)},
	} {
		resp := serve(tc.rng)
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status || !bytes.Equal(got, body[tc.start:tc.end]) {
			t.Errorf("Range %q: %d with %d bytes (right bytes: %v), want %d with bytes %d-%d",
				tc.rng, resp.StatusCode, len(got), bytes.Equal(got, body[tc.start:tc.end]), tc.status, tc.start, tc.end)
		}
	}
	if resp := serve("bytes=100000-"); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("Range beyond the end: %d, want 416", resp.StatusCode)
	}

	resp := serve("bytes=10-19,50000-50009,-5")
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || err != nil {
		t.Fatalf("multi-range: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for _, want := range [][]byte{body[10:20], body[50000:50010], body[len(body)-5:]} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(p); !bytes.Equal(got, want) {
			t.Errorf("multi-range part %q: wrong bytes", p.Header.Get("Content-Range"))
		}
	}
}
