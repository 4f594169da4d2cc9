package publish

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/httperr"
	"github.com/reel-video/reel/internal/upload"
)

// readCounter counts what is read of a body.
type readCounter struct {
	r    io.Reader
	read int
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

// TestReceive: the checks every multipart upload route makes. A declared
// size over the limit and a refused admission (queue, quota) are answered
// before a byte of the body is read; every refusal, and a bad form, asks
// for the connection to close and leaves no file; a queue refusal carries
// its own Retry-After for the error writer.
func TestReceive(t *testing.T) {
	const max = 1000
	form := upload.Form{FileField: "file", Fields: []string{"title"}}
	const boundary = "BB"
	ct := "multipart/form-data; boundary=" + boundary
	formBody := func(size int) []byte {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.SetBoundary(boundary)
		fw, _ := mw.CreateFormFile("file", "a.mp4")
		fw.Write(bytes.Repeat([]byte("v"), size))
		mw.Close()
		return b.Bytes()
	}
	good := formBody(100)

	for _, c := range []struct {
		name      string
		declared  int64 // Content-Length; 0: the body's length
		body      []byte
		admission Admission
		queued    int
		stored    int64
		code      string
		unread    bool // refused before the body
	}{
		{name: "accepted", body: good},
		{name: "declared at the limit", declared: max + FormOverhead, body: good},
		{name: "declared over the limit", declared: max + FormOverhead + 1, body: good, code: reel.ETOOLARGE, unread: true},
		{name: "queue full", body: good, admission: Admission{MaxQueued: 2}, queued: 2, code: reel.EUNAVAILABLE, unread: true},
		{name: "over the quota", body: good, admission: Admission{QuotaBytes: 1000}, stored: 999, code: reel.EQUOTA, unread: true},
		{name: "file over the limit", body: formBody(max + 1), code: reel.ETOOLARGE},
		{name: "malformed form", body: []byte("--" + boundary + "\r\nbogus\r\n\r\nx"), code: reel.EBADREQUEST},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, vs := newPublisher(t)
			p.Admission, vs.queued, p.Usage = c.admission, c.queued, usage(c.stored)
			dir := t.TempDir()
			body := &readCounter{r: bytes.NewReader(c.body)}
			r := httptest.NewRequest("POST", "/api/v1/videos", body)
			r.Header.Set("Content-Type", ct)
			r.ContentLength = int64(len(c.body))
			if c.declared != 0 {
				r.ContentLength = c.declared
			}
			w := httptest.NewRecorder()
			rec, err := p.Receive(w, r, 1, form, dir, max)
			if code := reel.ErrorCode(err); code != c.code {
				t.Fatalf("err %v, want code %q", err, c.code)
			}
			closes := w.Header().Get("Connection") == "close"
			if c.code == "" {
				if closes || rec.Size != 100 {
					t.Errorf("accepted upload: Connection %q, received %+v", w.Header().Get("Connection"), rec)
				}
				return
			}
			if !closes {
				t.Errorf("refusal without Connection: close")
			}
			if c.unread && body.read != 0 {
				t.Errorf("%d bytes of the body read before the refusal", body.read)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused upload left %d files", len(entries))
			}
			if c.code == reel.EUNAVAILABLE && httperr.RetryAfterSeconds(err) != queueRetryAfter {
				t.Errorf("Retry-After %d, want the queue's %d", httperr.RetryAfterSeconds(err), queueRetryAfter)
			}
		})
	}
}
