package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reel-video/reel/internal/blob/s3test"
	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// fetch GETs a media URL with optional headers (name, value pairs).
func fetch(t *testing.T, method, url string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, _ := fetch(t, "GET", url)
	return resp.StatusCode
}

// with returns a copy of env with more set over it.
func with(env, more map[string]string) map[string]string {
	out := make(map[string]string, len(env)+len(more))
	for k, v := range env {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// readyVideo uploads a clip with the given visibility and waits until it is ready.
func readyVideo(t *testing.T, srv *instance, token, visibility string) videoJSON {
	t.Helper()
	r := uploadMultipart(t, srv, token, mediatest.Clip(t, "noaudio"), map[string]string{"visibility": visibility}, false)
	expect(t, r, http.StatusAccepted, "")
	var v videoJSON
	r.json(t, &v)
	if v = waitVideo(t, srv, token, v.ID); v.Status != "ready" {
		t.Fatalf("video ended %+v", v)
	}
	return v
}

// firstSegment resolves the first media segment of the first variant of a
// master playlist, as a player would.
func firstSegment(t *testing.T, master string) string {
	t.Helper()
	_, body := fetch(t, "GET", master)
	variant := ""
	for _, l := range strings.Split(string(body), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			variant = l
			break
		}
	}
	base := master[:strings.LastIndex(master, "/")+1]
	_, body = fetch(t, "GET", base+variant)
	seg := ""
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasSuffix(l, ".m4s") {
			seg = l
			break
		}
	}
	if variant == "" || seg == "" {
		t.Fatalf("no segment in %s", master)
	}
	return base + variant[:strings.LastIndex(variant, "/")+1] + seg
}

// TestVisibilityAndBlocking: private videos are the owner's alone, unlisted
// ones are reachable by id only, and a blocked video's every URL is 403 at
// once on this node and within seconds on another, and back after unblocking.
func TestVisibilityAndBlocking(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		env := map[string]string{"REEL_DATABASE_URL": dbURL, "REEL_DATA_DIR": t.TempDir(), "REEL_SECRET": strings.Repeat("k", 40)}
		srv := startServer(t, env)
		owner, other, admin := signUp(t, srv, "owner"), signUp(t, srv, "other"), signUp(t, srv, "admin")
		if _, _, err := cli(t, env, "user", "promote", "admin"); err != nil {
			t.Fatal(err)
		}
		public, unlisted, private := readyVideo(t, srv, owner, "public"), readyVideo(t, srv, owner, "unlisted"), readyVideo(t, srv, owner, "private")
		get := func(token string, id int64) response {
			return srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", id), token, nil)
		}

		expect(t, get(other, private.ID), 404, "not_found")
		expect(t, get("", private.ID), 404, "not_found")
		if private.PlayURL == "" || status(t, private.PlayURL) != 200 {
			t.Error("the owner cannot play a private video")
		}
		var v videoJSON
		get(other, unlisted.ID).json(t, &v)
		if v.PlayURL == "" || status(t, v.PlayURL) != 200 {
			t.Error("an unlisted video does not play by its id")
		}
		var list struct{ Videos []videoJSON }
		srv.do("GET", "/api/v1/users/1/videos", other, nil).json(t, &list)
		if len(list.Videos) != 1 || list.Videos[0].ID != public.ID {
			t.Errorf("others see %d videos in the list, want the public one only", len(list.Videos))
		}

		// A second node on the same database.
		env2 := map[string]string{}
		for k, val := range env {
			env2[k] = val
		}
		env2["REEL_WORKERS"] = "0"
		node2 := startServer(t, env2)
		var onNode2 videoJSON
		node2.do("GET", fmt.Sprintf("/api/v1/videos/%d", public.ID), other, nil).json(t, &onNode2)
		segment := firstSegment(t, public.HLSURL)
		for _, u := range []string{public.PlayURL, public.CoverURL, public.HLSURL, segment, onNode2.PlayURL} {
			if status(t, u) != 200 {
				t.Fatalf("before blocking, %s does not play", u)
			}
		}

		// Whether a video is blocked is told to its owner and to
		// administrators, and to nobody else; an administrator is told so
		// on /me and /session only.
		blockedField := func(token string, id int64) string {
			t.Helper()
			r := get(token, id)
			expect(t, r, 200, "")
			switch b := string(r.Body); {
			case strings.Contains(b, `"blocked":true`):
				return "true"
			case strings.Contains(b, `"blocked":false`):
				return "false"
			case strings.Contains(b, `"blocked"`):
				t.Fatalf("blocked field in %s", b)
			}
			return "absent"
		}
		for token, want := range map[string]string{owner: "false", admin: "false", other: "absent", "": "absent"} {
			if got := blockedField(token, public.ID); got != want {
				t.Errorf("blocked before blocking, as %.8s: %s, want %s", token, got, want)
			}
		}
		for token, want := range map[string]string{owner: `"is_admin":false`, admin: `"is_admin":true`} {
			for _, path := range []string{"/api/v1/me", "/api/v1/session"} {
				if r := srv.do("GET", path, token, nil); r.StatusCode != 200 || !strings.Contains(string(r.Body), want) {
					t.Errorf("%s: %d %s, want %s", path, r.StatusCode, r.Body, want)
				}
			}
		}
		if r := srv.do("GET", "/api/v1/users/3", owner, nil); r.StatusCode != 200 || strings.Contains(string(r.Body), "is_admin") {
			t.Errorf("the admin's profile tells others: %d %s", r.StatusCode, r.Body)
		}
		blockedList := func(query string) (ids []int64, next string) {
			t.Helper()
			r := srv.do("GET", "/api/v1/admin/videos/blocked"+query, admin, nil)
			expect(t, r, 200, "")
			var page struct {
				Videos []struct {
					ID      int64 `json:"id"`
					Blocked *bool `json:"blocked"`
				} `json:"videos"`
				NextCursor *string `json:"next_cursor"`
			}
			if r.json(t, &page); page.Videos == nil || page.NextCursor == nil {
				t.Fatalf("blocked list: %s", r.Body)
			}
			for _, v := range page.Videos {
				if v.Blocked == nil || !*v.Blocked {
					t.Errorf("blocked list: %s", r.Body)
				}
				ids = append(ids, v.ID)
			}
			return ids, *page.NextCursor
		}
		if ids, next := blockedList(""); len(ids) != 0 || next != "" {
			t.Errorf("blocked before any block: %v %q", ids, next)
		}
		// Its page is read as every list's is (pageOf): bad ones refused.
		for _, q := range []string{"?limit=0", "?limit=51", "?limit=x", "?cursor=bogus"} {
			expect(t, srv.do("GET", "/api/v1/admin/videos/blocked"+q, admin, nil), 400, "bad_request")
		}
		expect(t, srv.do("GET", "/api/v1/admin/videos/blocked", owner, nil), 403, "forbidden")
		expect(t, srv.do("GET", "/api/v1/admin/videos/blocked", "", nil), 401, "unauthorized")

		block := fmt.Sprintf("/api/v1/admin/videos/%d/block", public.ID)
		expect(t, srv.do("POST", block, owner, nil), 403, "forbidden")
		expect(t, srv.do("POST", block, "", nil), 401, "unauthorized")
		expect(t, srv.do("POST", "/api/v1/admin/videos/999999/block", admin, nil), 404, "not_found")
		expect(t, srv.do("POST", block, admin, nil), http.StatusNoContent, "")
		for token, want := range map[string]string{owner: "true", admin: "true"} {
			if got := blockedField(token, public.ID); got != want {
				t.Errorf("blocked after blocking, as %.8s: %s, want %s", token, got, want)
			}
		}
		// The administrators' list, newest first, a page at a time.
		expect(t, srv.do("POST", fmt.Sprintf("/api/v1/admin/videos/%d/block", private.ID), admin, nil), http.StatusNoContent, "")
		if ids, next := blockedList(""); len(ids) != 2 || ids[0] != private.ID || ids[1] != public.ID || next != "" {
			t.Errorf("blocked list: %v %q", ids, next)
		}
		first, next := blockedList("?limit=1")
		second, last := blockedList("?limit=1&cursor=" + next)
		if len(first) != 1 || first[0] != private.ID || next == "" || len(second) != 1 || second[0] != public.ID || last != "" {
			t.Errorf("blocked list by pages: %v %q, %v %q", first, next, second, last)
		}
		expect(t, srv.do("DELETE", fmt.Sprintf("/api/v1/admin/videos/%d/block", private.ID), admin, nil), http.StatusNoContent, "")
		for _, u := range []string{public.PlayURL, public.CoverURL, public.HLSURL, segment} {
			resp, body := fetch(t, "GET", u)
			if resp.StatusCode != 403 || !strings.Contains(string(body), `"forbidden"`) {
				t.Errorf("blocked, %s answers %d %s", u, resp.StatusCode, body)
			}
		}
		waitFor(t, "the other node to refuse the blocked video", func() bool { return status(t, onNode2.PlayURL) == 403 })
		expect(t, get(other, public.ID), 404, "not_found")
		srv.do("GET", "/api/v1/users/1/videos", owner, nil).json(t, &list)
		for _, lv := range list.Videos {
			if lv.ID == public.ID {
				t.Error("a blocked video is still listed")
			}
		}
		get(owner, public.ID).json(t, &v)
		if v.PlayURL != "" {
			t.Error("a blocked video still gets media URLs")
		}

		expect(t, srv.do("DELETE", block, admin, nil), http.StatusNoContent, "")
		if ids, _ := blockedList(""); len(ids) != 0 || blockedField(owner, public.ID) != "false" {
			t.Errorf("unblocked, still listed as blocked: %v", ids)
		}
		if status(t, public.PlayURL) != 200 || status(t, segment) != 200 {
			t.Error("unblocked, the old URLs do not play again")
		}
		waitFor(t, "the other node to serve the unblocked video", func() bool { return status(t, onNode2.PlayURL) == 200 })
	})
}

// TestMediaURLs drives the media endpoint as players and attackers would,
// with the blobs on disk and on S3: the same answers.
func TestMediaURLs(t *testing.T) {
	onEachStore(t, nil, func(t *testing.T, env map[string]string, s *s3test.Server) {
		dataDir, secretA, secretB := t.TempDir(), strings.Repeat("a", 40), strings.Repeat("b", 40)
		srv := startServer(t, with(env, map[string]string{"REEL_DATA_DIR": dataDir, "REEL_SECRET": secretA}))
		token := signUp(t, srv, "player")
		v := readyVideo(t, srv, token, "public")
		segment := firstSegment(t, v.HLSURL)

		// Range forms through the whole stack (the handler's own tests cover more).
		resp, full := fetch(t, "GET", v.PlayURL)
		size := len(full)
		if resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Content-Type") != "video/mp4" || resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("MP4 headers: %v", resp.Header)
		}
		if !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("MP4 Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
		for _, tc := range []struct {
			rng    string
			status int
			body   string
		}{
			{"bytes=0-99", 206, string(full[:100])},
			{"bytes=-100", 206, string(full[size-100:])},
			{fmt.Sprintf("bytes=%d-", size-10), 206, string(full[size-10:])},
			{fmt.Sprintf("bytes=%d-", size+10), 416, ""},
		} {
			resp, body := fetch(t, "GET", v.PlayURL, "Range", tc.rng)
			if resp.StatusCode != tc.status || (tc.body != "" && string(body) != tc.body) {
				t.Errorf("Range %s: %d, %d bytes", tc.rng, resp.StatusCode, len(body))
			}
			if tc.status == 416 && resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
				t.Errorf("416 Content-Range %q", resp.Header.Get("Content-Range"))
			}
		}
		resp, body := fetch(t, "GET", v.PlayURL, "Range", "bytes=0-9,20-29")
		if resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") || !strings.Contains(string(body), string(full[20:30])) {
			t.Errorf("multiple ranges: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		etag := resp.Header.Get("ETag")
		if s != nil {
			// On S3 the tag is the bucket's own.
			key := "reel/" + strings.TrimPrefix(strings.Split(v.PlayURL, "?")[0], srv.URL+"/media/")
			head, err := s.Client(t).HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("reel"), Key: aws.String(key)})
			if err != nil || aws.ToString(head.ETag) != etag || resp.Header.Get("Last-Modified") != head.LastModified.UTC().Format(http.TimeFormat) {
				t.Errorf("ETag %q and Last-Modified %q, the bucket has %v (%v)", etag, resp.Header.Get("Last-Modified"), head, err)
			}
		}
		if resp, _ := fetch(t, "GET", v.PlayURL, "If-None-Match", etag); etag == "" || resp.StatusCode != 304 {
			t.Errorf("If-None-Match %q: %d", etag, resp.StatusCode)
		}
		if resp, body := fetch(t, "HEAD", v.PlayURL); resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(size) {
			t.Errorf("HEAD: %d, %d body bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
		}
		if resp, _ := fetch(t, "GET", segment); resp.Header.Get("Content-Type") != "video/iso.segment" {
			t.Errorf("segment Content-Type %q", resp.Header.Get("Content-Type"))
		}
		if resp, _ := fetch(t, "GET", v.HLSURL); resp.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" {
			t.Errorf("playlist Content-Type %q", resp.Header.Get("Content-Type"))
		}
		resp, _ = fetch(t, "OPTIONS", v.PlayURL, "Origin", "https://player.example", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "range")
		if resp.StatusCode >= 300 || resp.Header.Get("Access-Control-Allow-Origin") == "" {
			t.Errorf("CORS preflight: %d %v", resp.StatusCode, resp.Header)
		}

		// Forged, altered and escaping URLs.
		forged := []string{
			strings.Split(v.PlayURL, "?")[0],
			v.PlayURL[:len(v.PlayURL)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(v.PlayURL, "A")],
			strings.Replace(v.PlayURL, "play.mp4", "original", 1),
			strings.Replace(v.PlayURL, "/videos/1/", "/videos/2/", 1),
			strings.Replace(v.HLSURL, "master.m3u8", "../play.mp4", 1),
			strings.Replace(v.HLSURL, "master.m3u8", "..%2fplay.mp4", 1),
			strings.Replace(v.HLSURL, "/hls/", "//hls/", 1),
		}
		for _, u := range forged {
			if resp, body := fetch(t, "GET", u); resp.StatusCode != 403 && resp.StatusCode != 404 || !strings.Contains(string(body), `"error"`) {
				t.Errorf("forged %s: %d %s", u, resp.StatusCode, body)
			}
		}

		// Rotation: with the old secret kept as previous, old URLs still play;
		// once it is dropped, they do not.
		if err := srv.stop(); err != nil {
			t.Fatal(err)
		}
		oldBase := srv.URL
		srv = startServer(t, with(env, map[string]string{"REEL_DATA_DIR": dataDir, "REEL_SECRET": secretB, "REEL_PREVIOUS_SECRET": secretA}))
		// The restarted server listens elsewhere: replay the same signed paths there.
		v.PlayURL = strings.Replace(v.PlayURL, oldBase, srv.URL, 1)
		segment = strings.Replace(segment, oldBase, srv.URL, 1)
		if status(t, v.PlayURL) != 200 || status(t, segment) != 200 {
			t.Error("after rotation with REEL_PREVIOUS_SECRET, old URLs stopped working")
		}
		var fresh videoJSON
		srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", v.ID), token, nil).json(t, &fresh)
		if fresh.PlayURL == v.PlayURL || status(t, fresh.PlayURL) != 200 {
			t.Error("after rotation, new URLs are not signed with the new secret")
		}
		if err := srv.stop(); err != nil {
			t.Fatal(err)
		}
		oldBase = srv.URL
		srv = startServer(t, with(env, map[string]string{"REEL_DATA_DIR": dataDir, "REEL_SECRET": secretB}))
		v.PlayURL = strings.Replace(v.PlayURL, oldBase, srv.URL, 1)
		if status(t, v.PlayURL) != 403 {
			t.Error("with the old secret dropped, its URLs still work")
		}
	})
}

// TestURLsExpire replays a URL after its lifetime: 403.
func TestURLsExpire(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_URL_TTL": "1s"})
	token := signUp(t, srv, "replay")
	v := readyVideo(t, srv, token, "public")
	waitFor(t, "the URL to expire", func() bool { return status(t, v.PlayURL) == 403 })
	resp, body := fetch(t, "GET", v.PlayURL)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "expired") {
		t.Errorf("expired URL: %d %s", resp.StatusCode, body)
	}
}

// TestURLsBoundToClient: with REEL_URL_BIND_CLIENT a URL works only for
// the address it was handed to.
func TestURLsBoundToClient(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_URL_BIND_CLIENT": "true"})
	token := signUp(t, srv, "bound")
	v := readyVideo(t, srv, token, "public")
	if status(t, v.PlayURL) != 200 || status(t, firstSegment(t, v.HLSURL)) != 200 {
		t.Fatal("a bound URL does not play for its own client")
	}
	// The same URL from another address: 127.0.0.2 is loopback too.
	client := &http.Client{Transport: &http.Transport{DialContext: dialFrom("127.0.0.2")}}
	resp, err := client.Get(v.PlayURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("a bound URL from another address: %d, want 403", resp.StatusCode)
	}
}

// TestViewsAndResumePositions counts views once per viewer per hour (an
// anonymous viewer is its client address as every per-address rule names
// it: an IPv6 client is its /64), keeps them across a graceful restart,
// and returns each viewer's own position.
func TestViewsAndResumePositions(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		env := map[string]string{"REEL_DATABASE_URL": dbURL, "REEL_DATA_DIR": t.TempDir(), "REEL_TRUSTED_PROXIES": "127.0.0.1"}
		srv := startServer(t, env)
		alice, bob := signUp(t, srv, "alice"), signUp(t, srv, "bob")
		v := readyVideo(t, srv, alice, "public")
		views := fmt.Sprintf("/api/v1/videos/%d/views", v.ID)
		for _, token := range []string{alice, alice, bob, "", ""} {
			expect(t, srv.do("POST", views, token, nil), http.StatusNoContent, "")
		}
		for _, from := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"} {
			expect(t, srv.do("POST", views, "", nil, "X-Forwarded-For", from), http.StatusNoContent, "")
		}
		expect(t, srv.do("POST", "/api/v1/videos/999999/views", "", nil), 404, "not_found")
		// Stopped before the periodic flush: the last views are written at shutdown.
		if err := srv.stop(); err != nil {
			t.Fatal(err)
		}
		srv = startServer(t, env)
		var got struct {
			ViewCount        int64 `json:"view_count"`
			ResumePositionMS int64 `json:"resume_position_ms"`
		}
		srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", v.ID), "", nil).json(t, &got)
		if got.ViewCount != 4 {
			t.Errorf("view_count %d, want 4 (alice, bob, one anonymous IPv4 address, one IPv6 /64)", got.ViewCount)
		}

		progress := fmt.Sprintf("/api/v1/videos/%d/progress", v.ID)
		expect(t, srv.do("PUT", progress, bob, map[string]int64{"position_ms": 1500}), http.StatusNoContent, "")
		expect(t, srv.do("PUT", progress, bob, map[string]int64{"position_ms": 2100}), http.StatusNoContent, "")
		for _, tc := range []struct {
			token  string
			body   any
			status int
			code   string
		}{
			{"", map[string]int64{"position_ms": 1}, 401, "unauthorized"},
			{bob, map[string]int64{"position_ms": -1}, 422, "invalid"},
			{bob, map[string]int64{"position_ms": v.DurationMS + 1}, 422, "invalid"},
			{bob, map[string]string{}, 422, "invalid"},
			{bob, `{"position_ms":"soon"}`, 400, "bad_request"},
		} {
			expect(t, srv.do("PUT", progress, tc.token, tc.body), tc.status, tc.code)
		}
		srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", v.ID), bob, nil).json(t, &got)
		if got.ResumePositionMS != 2100 {
			t.Errorf("bob's resume_position_ms %d, want 2100", got.ResumePositionMS)
		}
		srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", v.ID), alice, nil).json(t, &got)
		if got.ResumePositionMS != 0 {
			t.Errorf("alice sees bob's position %d", got.ResumePositionMS)
		}
		var list struct {
			Videos []struct {
				ResumePositionMS int64 `json:"resume_position_ms"`
			}
		}
		srv.do("GET", "/api/v1/users/1/videos", bob, nil).json(t, &list)
		if len(list.Videos) != 1 || list.Videos[0].ResumePositionMS != 2100 {
			t.Errorf("the list does not carry bob's position: %+v", list.Videos)
		}
	})
}

// TestGzip: large JSON answers are compressed for clients that accept it,
// small ones and media never.
func TestGzip(t *testing.T) {
	srv := startServer(t, nil)
	token := signUp(t, srv, "gzip")
	v := readyVideo(t, srv, token, "public")
	raw := func(url string, gzip bool) *http.Response {
		req, _ := http.NewRequest("GET", url, nil)
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		// A transport that does not ask for gzip by itself, so the header is ours.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	list := srv.URL + "/api/v1/users/1/videos"
	if r := raw(list, true); r.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(r.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("a %d-byte list is not compressed: %v", r.ContentLength, r.Header)
	}
	if r := raw(list, false); r.Header.Get("Content-Encoding") != "" {
		t.Error("compressed for a client that did not ask")
	}
	if r := raw(srv.URL+"/api/v1/me", true); r.Header.Get("Content-Encoding") != "" {
		t.Error("a small answer was compressed")
	}
	if r := raw(v.PlayURL, true); r.Header.Get("Content-Encoding") != "" {
		t.Error("media was compressed")
	}
}
