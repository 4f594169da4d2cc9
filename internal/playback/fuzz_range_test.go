package playback

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/blob"
)

// FuzzRange sends arbitrary Range headers to the media handler, on disk
// and on S3 (where the handler asks the store for the range itself, parsed
// from the header). Whatever the header, the answer is 200, 206 or 416,
// the same on both stores, never a panic, and every byte it returns is the
// file's byte at the offset it claims.
func FuzzRange(f *testing.F) {
	for _, seed := range []string{
		"bytes=0-99", "bytes=-100", "bytes=100-", "bytes=0-9,20-29", "bytes=5000-", "bytes=0-0,-1",
		"bytes=9-0", "bytes=--5", "bytes=0-99999999999999999999", "items=0-9", "bytes=,", "bytes= 1 - 2 ",
	} {
		f.Add(seed)
	}
	store, err := blob.NewDisk(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	file := bytes.Repeat([]byte("0123456789abcdef"), 250) // 4000 bytes, each position recognisable in context
	if _, err := store.Put(f.Context(), "videos/1/play.mp4", bytes.NewReader(file)); err != nil {
		f.Fatal(err)
	}
	s3store := newS3Store(f, map[string][]byte{"videos/1/play.mp4": file})
	signer := NewSigner([]byte(strings.Repeat("s", 32)), nil, time.Hour)
	disk, onS3 := NewHandler(signer, store, HandlerOptions{}), NewHandler(signer, s3store, HandlerOptions{})
	url := signer.SignPath("/media/videos/1/play.mp4")

	f.Fuzz(func(t *testing.T, rng string) {
		code := checkRange(t, disk, url, rng, file)
		if s3code := checkRange(t, onS3, url, rng, file); s3code != code {
			t.Fatalf("Range %q: %d on disk, %d on S3", rng, code, s3code)
		}
	})
}

// checkRange sends a GET of url with the Range header rng to h and checks
// that its answer is file's bytes where it says they are.
func checkRange(t *testing.T, h http.Handler, url, rng string, file []byte) int {
	t.Helper()
	size := len(file)
	req := httptest.NewRequest("GET", url, nil)
	req.Header.Set("Range", rng)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	switch rec.Code {
	case http.StatusOK:
		if !bytes.Equal(body, file) {
			t.Fatalf("Range %q: 200 with %d bytes, not the file", rng, len(body))
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if got := rec.Header().Get("Content-Range"); got != fmt.Sprintf("bytes */%d", size) {
			t.Fatalf("Range %q: 416 with Content-Range %q", rng, got)
		}
	case http.StatusPartialContent:
		mediaType, params, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
		if mediaType != "multipart/byteranges" {
			checkPart(t, rng, rec.Header().Get("Content-Range"), body, file)
			return rec.Code
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Range %q: bad multipart body: %v", rng, err)
			}
			b, _ := io.ReadAll(p)
			checkPart(t, rng, p.Header.Get("Content-Range"), b, file)
		}
	default:
		t.Fatalf("Range %q: status %d", rng, rec.Code)
	}
	return rec.Code
}

// checkPart checks that body is file[first:last+1] for "bytes first-last/size".
func checkPart(t *testing.T, rng, contentRange string, body, file []byte) {
	t.Helper()
	var first, last, size int
	if _, err := fmt.Sscanf(contentRange, "bytes %d-%d/%d", &first, &last, &size); err != nil {
		t.Fatalf("Range %q: Content-Range %q: %v", rng, contentRange, err)
	}
	if size != len(file) || first < 0 || last < first || last >= size || !bytes.Equal(body, file[first:last+1]) {
		t.Fatalf("Range %q: Content-Range %q with %d bytes that are not the file's", rng, contentRange, len(body))
	}
}
