package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/reel-video/reel/internal/httpapi/douyin"
)

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
