package upload

import (
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/reel-video/reel"
)

// endless repeats fill forever after head, counting what was read.
type endless struct {
	head string
	fill string
	read int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if e.head != "" {
			c := copy(p[n:], e.head)
			e.head = e.head[c:]
			n += c
			continue
		}
		n += copy(p[n:], e.fill)
	}
	e.read += int64(n)
	return n, nil
}

// TestPartHeadersAreBounded sends part heads that never end: one endless
// header line, endless header lines, an endless preamble, and an endless
// head after a proper first part. Each is refused with 413 after reading
// a few KiB (413, or 400 for a preamble without a line end), never the
// 10 MiB mime/multipart alone would hold.
func TestPartHeadersAreBounded(t *testing.T) {
	// The head's bound, plus what the buffered reader may hold from before
	// the head and read beyond it.
	const bound = MaxPartHeaderBytes + 2*lookahead
	for name, body := range map[string]*endless{
		"long line":  {head: "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\nX-Pad: ", fill: "a"},
		"many lines": {head: "--B\r\n", fill: "X-Pad: a\r\n"},
		"preamble":   {head: "", fill: "not a boundary "},
		"second part": {head: "--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n--B\r\nX-Pad: ",
			fill: "aaaaaaaa"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			req := httptest.NewRequest("POST", "/api/v1/videos", io.NopCloser(body))
			req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
			_, err := Receive(req, form, dir, 1<<30)
			if code := reel.ErrorCode(err); code != reel.ETOOLARGE && code != reel.EBADREQUEST {
				t.Fatalf("err %v, want too_large or bad_request", err)
			}
			if body.read > bound {
				t.Errorf("read %d bytes of part head, want at most %d", body.read, bound)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("left %d files behind", len(entries))
			}
		})
	}

	// Heads within the bound pass.
	pad := strings.Repeat("a", MaxPartHeaderBytes-512)
	body := "--B\r\nContent-Disposition: form-data; name=\"title\"\r\nX-Pad: " + pad + "\r\n\r\nhi\r\n" +
		"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\nX-Pad: " + pad + "\r\n\r\nvideo bytes\r\n--B--\r\n"
	req := httptest.NewRequest("POST", "/api/v1/videos", strings.NewReader(body))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
	rec, err := Receive(req, form, t.TempDir(), 1<<30)
	if err != nil {
		t.Fatalf("heads just within the bound: %v", err)
	}
	if rec.Size != int64(len("video bytes")) || rec.Values["title"] != "hi" {
		t.Errorf("received %+v", rec)
	}
}

// TestBeforeFileRefusesBeforeStoring: BeforeFile sees the fields sent
// ahead of the file, and its error stops the upload before a file exists.
func TestBeforeFileRefusesBeforeStoring(t *testing.T) {
	refused := errors.New("refused")
	var seen map[string]string
	f := form
	f.BeforeFile = func(values map[string]string) error {
		seen = values
		return refused
	}
	dir := t.TempDir()
	r := request(t, part{name: "title", body: "first"}, part{name: "file", filename: "a.mp4", body: "bytes"})
	req := httptest.NewRequest("POST", "/api/v1/videos", strings.NewReader(string(r.body)))
	req.Header.Set("Content-Type", r.contentType)
	if _, err := Receive(req, f, dir, 1<<20); !errors.Is(err, refused) {
		t.Fatalf("err %v, want the BeforeFile error", err)
	}
	if seen["title"] != "first" {
		t.Errorf("BeforeFile saw %v", seen)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a file was stored before BeforeFile refused: %d entries", len(entries))
	}
}

// TestMalformedPartHeaders: a part head that is not "Name: value" lines is
// the client's error (400), in the first part or after a file; a head of
// many short lines that the cap cuts anywhere, even mid-line, is 413.
// Neither leaves a file behind.
func TestMalformedPartHeaders(t *testing.T) {
	const file = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\nbytes\r\n"
	cases := map[string]struct {
		body string
		code string
	}{
		"missing colon":        {"--B\r\nContent-Disposition: form-data; name=\"title\"\r\nbogus\r\n\r\nx\r\n--B--\r\n", reel.EBADREQUEST},
		"space before colon":   {"--B\r\nContent-Disposition : form-data; name=\"title\"\r\n\r\nx\r\n--B--\r\n", reel.EBADREQUEST},
		"bad name":             {"--B\r\nContent-Disposition: form-data; name=\"title\"\r\nX(y): z\r\n\r\nx\r\n--B--\r\n", reel.EBADREQUEST},
		"leading continuation": {"--B\r\n folded: x\r\n\r\nx\r\n--B--\r\n", reel.EBADREQUEST},
		"after the file":       {file + "--B\r\nno colon here\r\n\r\nx\r\n--B--\r\n", reel.EBADREQUEST},
	}
	// Where the cap cuts depends on what precedes the lines: every offset
	// within a line.
	for k := range 12 {
		cases[fmt.Sprintf("many lines, offset %d", k)] = struct {
			body string
			code string
		}{"--B\r\nContent-Disposition: form-data; name=\"title\"\r\nX-P: " + strings.Repeat("p", k) + "\r\n" +
			strings.Repeat("X-Abc: b\r\n", 2000) + "\r\nx\r\n--B--\r\n", reel.ETOOLARGE}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			req := httptest.NewRequest("POST", "/api/v1/videos", strings.NewReader(c.body))
			req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
			_, err := Receive(req, form, dir, 1<<30)
			if code := reel.ErrorCode(err); code != c.code {
				t.Fatalf("err %v (code %s), want %s", err, code, c.code)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("left %d files behind", len(entries))
			}
		})
	}
}
