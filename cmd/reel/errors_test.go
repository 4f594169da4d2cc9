package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTusServerErrorsHideInternals makes tusd fail on the server's side
// with an error whose text names a path (the upload's file is replaced by a
// directory): the client sees the generic internal error in the JSON shape,
// and the log has the full text under the request id.
func TestTusServerErrorsHideInternals(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, map[string]string{"REEL_DATA_DIR": data})
	token := signUp(t, srv, "alice")
	location, _ := createUpload(t, srv, token, 1<<20)
	file := filepath.Join(data, "uploads", path.Base(location))
	if err := os.Remove(file); err != nil {
		t.Fatalf("the upload's file is not where this test expects it: %v", err)
	}
	if err := os.Mkdir(file, 0o700); err != nil {
		t.Fatal(err)
	}
	// tusd takes the offset from the file's size: the directory's.
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}

	req, err := http.NewRequest("PATCH", location, bytes.NewReader(make([]byte, 10)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Upload-Offset", strconv.FormatInt(st.Size(), 10))
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	expect(t, response{resp, body}, http.StatusInternalServerError, "internal")
	for _, leak := range []string{data, "directory", "ERR_"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("the answer shows the server's text (%q): %s", leak, body)
		}
	}
	id := resp.Header.Get("X-Request-ID")
	found := false
	for _, l := range srv.stderr.logLines() {
		if err, _ := l["err"].(string); l["request_id"] == id && l["level"] == "ERROR" && strings.Contains(err, file) {
			found = true
		}
	}
	if !found {
		t.Errorf("no error log line with request id %s naming %s:\n%s", id, file, grepLines(srv.stderr.String(), id))
	}
}
