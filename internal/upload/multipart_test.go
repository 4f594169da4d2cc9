package upload

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/reel-video/reel"
)

var form = Form{FileField: "file", Fields: []string{"title"}}

// part is one form part: a file when filename is set.
type part struct{ name, filename, body string }

func request(t *testing.T, parts ...part) *httptestRequest {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.name, p.filename)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.body)
	}
	mw.Close()
	return &httptestRequest{body: b.Bytes(), contentType: mw.FormDataContentType()}
}

type httptestRequest struct {
	body        []byte
	contentType string
}

func (r *httptestRequest) receive(t *testing.T, dir string, max int64) (*Received, error) {
	req := httptest.NewRequest("POST", "/api/v1/videos", bytes.NewReader(r.body))
	req.Header.Set("Content-Type", r.contentType)
	return Receive(req, form, dir, max)
}

func TestReceive(t *testing.T) {
	dir := t.TempDir()
	rec, err := request(t, part{"file", "a.mp4", "0123456789"}, part{"title", "", "after the file"}).receive(t, dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(rec.Path)
	sum := sha256.Sum256([]byte("0123456789"))
	got, _ := os.ReadFile(rec.Path)
	if string(got) != "0123456789" || rec.Size != 10 || rec.SHA256 != hex.EncodeToString(sum[:]) ||
		rec.Filename != "a.mp4" || rec.Values["title"] != "after the file" {
		t.Errorf("received %+v %q", rec, got)
	}
}

// Every bad form is refused with the right code and leaves no file.
func TestReceiveRejects(t *testing.T) {
	many := make([]part, 20)
	for i := range many {
		many[i] = part{"title", "", "x"}
	}
	cases := []struct {
		name string
		req  *httptestRequest
		max  int64
		code string
	}{
		{"one byte over the limit", request(t, part{"file", "a.mp4", "01234567890"}), 10, reel.ETOOLARGE},
		{"no file", request(t, part{"title", "", "t"}), 10, reel.EINVALID},
		{"empty file", request(t, part{"file", "a.mp4", ""}), 10, reel.EUNSUPPORTED},
		{"two files", request(t, part{"file", "a.mp4", "1"}, part{"file", "b.mp4", "2"}), 10, reel.EBADREQUEST},
		{"unknown field", request(t, part{"file", "a.mp4", "1"}, part{"owner", "", "1"}), 10, reel.EBADREQUEST},
		{"field too long", request(t, part{"title", "", strings.Repeat("t", maxFieldBytes+1)}, part{"file", "a.mp4", "1"}), 10, reel.ETOOLARGE},
		{"field not UTF-8", request(t, part{"file", "a.mp4", "1"}, part{"title", "", "\xff\xfe"}), 10, reel.EINVALID},
		{"too many parts", request(t, many...), 10, reel.EBADREQUEST},
		{"not multipart", &httptestRequest{body: []byte(`{"title":"x"}`), contentType: "application/json"}, 10, reel.EUNSUPPORTED},
		{"truncated body", func() *httptestRequest {
			r := request(t, part{"file", "a.mp4", "0123456789"})
			r.body = r.body[:len(r.body)-20]
			return r
		}(), 100, reel.EBADREQUEST},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := tc.req.receive(t, dir, tc.max)
			if code := reel.ErrorCode(err); code != tc.code {
				t.Errorf("code %q (%v), want %q", code, err, tc.code)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("%d files left behind", len(entries))
			}
		})
	}
}
