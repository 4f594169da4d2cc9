package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reel-video/reel/internal/httpapi/douyin"
)

// TestUploadClientGoesAway: a client that declares a 10 MB body, sends
// 100 KB of it and closes the connection is counted as 499 and logged at
// debug on both multipart routes, and its partial file is removed.
func TestUploadClientGoesAway(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, map[string]string{"REEL_DATA_DIR": dataDir})
	token := signUp(t, srv, "leaver")
	incoming := filepath.Join(dataDir, "incoming")
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, field string }{
		{"/api/v1/videos", "file"},
		{"/douyin/publish/action/", "data"},
	} {
		t.Run(c.path, func(t *testing.T) {
			id := "gone-" + c.field
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			head := fmt.Sprintf("--BB\r\nContent-Disposition: form-data; name=%q; filename=\"a.mp4\"\r\n\r\n", c.field)
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nX-Request-ID: %s\r\n"+
				"Content-Type: multipart/form-data; boundary=BB\r\nContent-Length: %d\r\n\r\n%s",
				c.path, u.Host, token, id, 10<<20, head)
			if _, err := conn.Write(bytes.Repeat([]byte("v"), 100<<10)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the partial file", func() bool { return len(dirEntries(t, incoming)) == 1 })
			conn.Close()

			metric := fmt.Sprintf(`reel_http_requests_total{method="POST",route=%q,status="499"} 1`, c.path)
			waitFor(t, "the upload counted as 499", func() bool {
				return strings.Contains(string(srv.do("GET", "/metrics", "", nil).Body), metric)
			})
			if names := dirEntries(t, incoming); len(names) != 0 {
				t.Errorf("incoming holds %v after the client went away", names)
			}
			for _, l := range srv.stderr.logLines() {
				if l["request_id"] == id && l["level"] != "DEBUG" {
					t.Errorf("logged above debug: %v", l)
				}
			}
		})
	}
}

// TestMalformedPartHeaderIsBadRequest: a part head that is not "Name:
// value" lines is the client's error on both multipart routes (400;
// Douyin: its bad-parameter code), and a head of many short lines that
// the cap cuts is 413; no server error is logged.
func TestMalformedPartHeaderIsBadRequest(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_DATA_DIR": t.TempDir()})
	token := signUp(t, srv, "sloppy")
	malformed := "--BB\r\nContent-Disposition: form-data; name=\"title\"\r\nbogus\r\n\r\nx\r\n--BB--\r\n"
	long := "--BB\r\nContent-Disposition: form-data; name=\"title\"\r\n" + strings.Repeat("X-Abc: b\r\n", 2000) + "\r\nx\r\n--BB--\r\n"
	ct := "multipart/form-data; boundary=BB"
	for _, c := range []struct {
		body   string
		status int
		code   string
		douyin int
	}{{malformed, 400, "bad_request", douyin.CodeBadParam}, {long, 413, "too_large", douyin.CodeTooLarge}} {
		r := srv.do("POST", "/api/v1/videos", token, c.body, "Content-Type", ct)
		expect(t, r, c.status, c.code)
		r = srv.do("POST", "/douyin/publish/action/?token="+url.QueryEscape(token), "", c.body, "Content-Type", ct)
		if code := douyinCode(t, r.Body); code != c.douyin {
			t.Errorf("Douyin answers %s with status_code %d, want %d: %s", c.code, code, c.douyin, r.Body)
		}
	}
	for _, l := range srv.stderr.logLines() {
		if l["level"] == "ERROR" {
			t.Errorf("server error logged: %v", l)
		}
	}
}

// TestTusDeferredLengthRefused: a tus creation with Upload-Defer-Length
// (alone, beside Upload-Length, for a part of a concatenation) is the
// client's error: 400 bad_request telling it to send Upload-Length, not a
// logged server failure, and nothing is created.
func TestTusDeferredLengthRefused(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, map[string]string{"REEL_DATA_DIR": dataDir})
	token := signUp(t, srv, "deferrer")
	for _, headers := range [][]string{
		{"Upload-Defer-Length", "1"},
		{"Upload-Defer-Length", "1", "Upload-Length", "10"},
		{"Upload-Defer-Length", "1", "Upload-Concat", "partial"},
		{"Upload-Defer-Length", "yes"},
	} {
		headers = append(headers, "Tus-Resumable", "1.0.0")
		r := srv.do("POST", "/api/v1/uploads/", token, nil, headers...)
		expect(t, r, http.StatusBadRequest, "bad_request")
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		r.json(t, &e)
		if !strings.Contains(e.Error.Message, "Upload-Length") {
			t.Errorf("%v: message %q does not say to send Upload-Length", headers, e.Error.Message)
		}
	}
	if names := dirEntries(t, filepath.Join(dataDir, "uploads")); len(names) != 0 {
		t.Errorf("uploads holds %v after refused creations", names)
	}
	if v := myVideos(t, srv, token); len(v) != 0 {
		t.Errorf("refused creations left videos: %v", v)
	}
	for _, l := range srv.stderr.logLines() {
		if l["level"] == "ERROR" {
			t.Errorf("server error logged: %v", l)
		}
	}
}
