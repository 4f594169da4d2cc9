package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// mediaURLs are the URLs of a video a client was handed, with the first
// segment of its ladder resolved as a player would.
func mediaURLs(t *testing.T, v videoJSON) []string {
	t.Helper()
	if v.PlayURL == "" || v.CoverURL == "" || v.HLSURL == "" {
		t.Fatalf("video %d came without media URLs: %+v", v.ID, v)
	}
	return []string{v.PlayURL, v.CoverURL, v.HLSURL, firstSegment(t, v.HLSURL)}
}

// waitStatuses polls until every URL answers want.
func waitStatuses(t *testing.T, what string, urls []string, want int) {
	t.Helper()
	waitFor(t, what, func() bool {
		for _, u := range urls {
			if status(t, u) != want {
				return false
			}
		}
		return true
	})
}

func expectStatuses(t *testing.T, what string, urls []string, want int) {
	t.Helper()
	for _, u := range urls {
		if got := status(t, u); got != want {
			t.Errorf("%s: %s answers %d, want %d", what, u, got, want)
		}
	}
}

// TestVisibilityRevokesURLs: making a video private, deleting it or an
// administrator blocking it stops the media URLs already handed out, on the node that made the change at
// once and on another node on the same database within its refresh, while
// unlisting does not; a video made public again plays from new URLs.
func TestVisibilityRevokesURLs(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		env := map[string]string{"REEL_DATABASE_URL": dbURL, "REEL_DATA_DIR": t.TempDir(), "REEL_SECRET": strings.Repeat("v", 40)}
		node1 := startServer(t, env)
		env2 := map[string]string{"REEL_WORKERS": "0"}
		for k, v := range env {
			env2[k] = v
		}
		node2 := startServer(t, env2)
		owner, viewer, admin := signUp(t, node1, "owner"), signUp(t, node1, "viewer"), signUp(t, node1, "warden")
		if _, _, err := cli(t, map[string]string{"REEL_DATA_DIR": env["REEL_DATA_DIR"], "REEL_DATABASE_URL": dbURL}, "user", "promote", "warden"); err != nil {
			t.Fatal(err)
		}
		hidden, deleted, unlisted := readyVideo(t, node1, owner, "public"), readyVideo(t, node1, owner, "public"), readyVideo(t, node1, owner, "public")
		blocked := readyVideo(t, node1, owner, "public")

		// What a viewer was handed by each node.
		handed := func(node *instance, id int64) []string {
			var v videoJSON
			r := node.do("GET", fmt.Sprintf("/api/v1/videos/%d", id), viewer, nil)
			expect(t, r, 200, "")
			r.json(t, &v)
			return mediaURLs(t, v)
		}
		hidden1, hidden2 := handed(node1, hidden.ID), handed(node2, hidden.ID)
		deleted1, deleted2 := handed(node1, deleted.ID), handed(node2, deleted.ID)
		unlisted1, unlisted2 := handed(node1, unlisted.ID), handed(node2, unlisted.ID)
		blocked1, blocked2 := handed(node1, blocked.ID), handed(node2, blocked.ID)
		all := [][]string{hidden1, hidden2, deleted1, deleted2, unlisted1, unlisted2, blocked1, blocked2}
		for _, urls := range all {
			expectStatuses(t, "before any change", urls, 200)
		}
		patch := func(id int64, visibility string) {
			expect(t, node1.do("PATCH", fmt.Sprintf("/api/v1/videos/%d", id), owner, map[string]string{"visibility": visibility}), 200, "")
		}

		patch(unlisted.ID, "unlisted")
		patch(hidden.ID, "private")
		expect(t, node1.do("DELETE", fmt.Sprintf("/api/v1/videos/%d", deleted.ID), owner, nil), http.StatusNoContent, "")
		expect(t, node1.do("POST", fmt.Sprintf("/api/v1/admin/videos/%d/block", blocked.ID), admin, nil), http.StatusNoContent, "")
		// The node that made the changes refuses at once, every URL of both nodes.
		for _, urls := range [][]string{hidden1, hidden2, deleted1, deleted2, blocked1, blocked2} {
			for _, u := range urls {
				if !strings.HasPrefix(u, node1.URL) {
					continue
				}
				resp, body := fetch(t, "GET", u)
				if resp.StatusCode != 403 || !strings.Contains(string(body), `"forbidden"`) {
					t.Errorf("revoked on this node, %s answers %d %s", u, resp.StatusCode, body)
				}
			}
		}
		// The other node follows within its refresh interval.
		waitStatuses(t, "the other node to refuse the private video's URLs", hidden2, 403)
		waitStatuses(t, "the other node to refuse the deleted video's URLs", deleted2, 403)
		waitStatuses(t, "the other node to refuse the blocked video's URLs", blocked2, 403)
		// Also when the URL signed by one node is played through the other.
		for _, u := range append(hidden1[:1:1], deleted1[0], blocked1[0]) {
			if got := status(t, strings.Replace(u, node1.URL, node2.URL, 1)); got != 403 {
				t.Errorf("a revoked URL of node 1 answers %d on node 2", got)
			}
		}
		// Unlisted keeps playing, on both nodes (both have refreshed by now).
		expectStatuses(t, "unlisted", unlisted1, 200)
		expectStatuses(t, "unlisted", unlisted2, 200)

		// The owner still plays a private video, from either node.
		var mine videoJSON
		node2.do("GET", fmt.Sprintf("/api/v1/videos/%d", hidden.ID), owner, nil).json(t, &mine)
		ownerURLs := mediaURLs(t, mine)
		expectStatuses(t, "the owner's URLs of a private video", ownerURLs, 200)
		expectStatuses(t, "the owner's URLs of a private video, through the other node",
			[]string{strings.Replace(ownerURLs[0], node2.URL, node1.URL, 1)}, 200)
		// Others get nothing, from either node, once it has refused the URLs
		// (the other node's copy of the video is dropped with them).
		expect(t, node1.do("GET", fmt.Sprintf("/api/v1/videos/%d", hidden.ID), viewer, nil), 404, "not_found")
		waitFor(t, "the other node to hide the private video", func() bool {
			return node2.do("GET", fmt.Sprintf("/api/v1/videos/%d", hidden.ID), viewer, nil).StatusCode == 404
		})

		// Public again: new URLs play everywhere; the URLs handed out before
		// it went private stay revoked, the owner's of the private period work.
		patch(hidden.ID, "public")
		// The other node shows it again when its cached copy expires.
		waitFor(t, "the other node to show the video made public again", func() bool {
			return node2.do("GET", fmt.Sprintf("/api/v1/videos/%d", hidden.ID), viewer, nil).StatusCode == 200
		})
		again1, again2 := handed(node1, hidden.ID), handed(node2, hidden.ID)
		waitStatuses(t, "the URLs of a video made public again to play", append(again1, again2...), 200)
		expectStatuses(t, "URLs handed out before the video went private", append(hidden1, hidden2...), 403)
		expectStatuses(t, "the owner's URLs of the private period", ownerURLs, 200)
	})
}

// hostGet sends GET path to srv with the given Host header and extra headers.
func hostGet(t *testing.T, srv *instance, host, path, token string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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
	return resp.StatusCode, string(b)
}

// TestHostileHost: a Host header that is not an allowed host never makes it
// into a URL: not into the answer of the client who sent it, not into a
// cached answer a later client gets. Forwarding headers from a client that
// is not a trusted proxy change nothing.
func TestHostileHost(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_SECRET": strings.Repeat("h", 40)})
	token := signUp(t, srv, "hosted")
	v := readyVideo(t, srv, token, "public")
	u, _ := url.Parse(srv.URL)
	paths := []string{
		"/api/v1/feed", "/api/v1/feed?limit=5", fmt.Sprintf("/api/v1/videos/%d", v.ID), "/api/v1/users/1/videos",
		"/douyin/feed/", "/douyin/publish/list/?user_id=1",
	}
	for _, host := range []string{"evil.example", "evil.example:" + u.Port(), "localhost.evil.example", "127.0.0.1.evil.example", "[::2]", "*.localhost", "localhost@evil.example"} {
		for _, path := range paths {
			status, body := hostGet(t, srv, host, path, "", "X-Forwarded-Host", "forwarded.example", "X-Forwarded-Proto", "https")
			if status != 200 && status != 400 {
				t.Errorf("Host %q, %s: status %d", host, path, status)
			}
			for _, bad := range []string{"evil", "forwarded.example", "https://", "[::2]", "*."} {
				if strings.Contains(body, bad) {
					t.Errorf("Host %q, %s: %q appears in the answer: %.300s", host, path, bad, body)
				}
			}
			if status == 200 && !strings.Contains(body, `"`+srv.URL+"/media/") {
				t.Errorf("Host %q, %s: URLs do not use the address the connection came in on (%s): %.300s", host, path, srv.URL, body)
			}
		}
	}
	// A normal client afterwards gets its own host, from the caches too.
	for _, path := range paths {
		_, body := hostGet(t, srv, u.Host, path, "")
		if strings.Contains(body, "evil") || !strings.Contains(body, `"`+srv.URL+"/media/") {
			t.Errorf("a later client's %s: %.300s", path, body)
		}
	}
	// An allowed name is used as the client spelt it, any port.
	_, body := hostGet(t, srv, "localhost:"+u.Port(), "/api/v1/feed", "")
	if !strings.Contains(body, `"http://localhost:`+u.Port()+"/media/") {
		t.Errorf("Host localhost: %.300s", body)
	}
	// The URLs handed to the hostile client still play: they point here.
	_, body = hostGet(t, srv, "evil.example", fmt.Sprintf("/api/v1/videos/%d", v.ID), "")
	var hv videoJSON
	response{Body: []byte(body)}.json(t, &hv)
	expectStatuses(t, "the URLs handed to a hostile Host", []string{hv.PlayURL, hv.CoverURL}, 200)

}

// TestWhatOthersSee: video_count of a profile counts what the viewer may
// see, sha256 and size_bytes of an original go only to its owner and
// administrators, and event streams are capped per address and per user.
func TestWhatOthersSee(t *testing.T) {
	env := map[string]string{"REEL_SECRET": strings.Repeat("w", 40)}
	srv := startServer(t, env)
	owner, stranger, admin := signUp(t, srv, "maker"), signUp(t, srv, "stranger"), signUp(t, srv, "boss")
	if _, _, err := cli(t, map[string]string{"REEL_DATA_DIR": srv.env["REEL_DATA_DIR"]}, "user", "promote", "boss"); err != nil {
		t.Fatal(err)
	}
	public := readyVideo(t, srv, owner, "public")
	readyVideo(t, srv, owner, "private")
	readyVideo(t, srv, owner, "unlisted")
	_, uploading := createUpload(t, srv, owner, 1000) // never finished: not ready

	countFor := func(token string) int64 {
		var u struct {
			VideoCount int64 `json:"video_count"`
		}
		r := srv.do("GET", "/api/v1/users/1", token, nil)
		expect(t, r, 200, "")
		r.json(t, &u)
		return u.VideoCount
	}
	for name, c := range map[string]struct {
		token string
		want  int64
	}{"anonymous": {"", 1}, "stranger": {stranger, 1}, "admin": {admin, 1}, "owner": {owner, 3}} {
		if got := countFor(c.token); got != c.want {
			t.Errorf("%s sees video_count %d on the profile, want %d", name, got, c.want)
		}
	}
	// The owner's count is their lists' length, on both APIs: the video
	// still uploading (no file yet) is in neither.
	var mine struct {
		Videos []videoJSON `json:"videos"`
	}
	srv.do("GET", "/api/v1/users/1/videos", owner, nil).json(t, &mine)
	var ownDy struct {
		User struct {
			WorkCount int64 `json:"work_count"`
		} `json:"user"`
		VideoList []struct {
			ID int64 `json:"id"`
		} `json:"video_list"`
	}
	srv.do("GET", "/douyin/user/?user_id=1&token="+owner, "", nil).json(t, &ownDy)
	srv.do("GET", "/douyin/publish/list/?user_id=1&token="+owner, "", nil).json(t, &ownDy)
	if len(mine.Videos) != 3 || len(ownDy.VideoList) != 3 || ownDy.User.WorkCount != 3 {
		t.Errorf("the owner's list has %d videos, Douyin's %d, work_count %d: want 3 each", len(mine.Videos), len(ownDy.VideoList), ownDy.User.WorkCount)
	}
	for _, v := range mine.Videos {
		if v.ID == uploading {
			t.Errorf("the owner's list shows video %d, still uploading", uploading)
		}
	}
	var dy struct {
		User struct {
			WorkCount int64 `json:"work_count"`
		} `json:"user"`
	}
	srv.do("GET", "/douyin/user/?user_id=1&token="+stranger, "", nil).json(t, &dy)
	if dy.User.WorkCount != 1 {
		t.Errorf("Douyin work_count %d for a stranger, want 1", dy.User.WorkCount)
	}

	// sha256 and size_bytes: in every answer that carries the video.
	for name, c := range map[string]struct {
		token string
		sees  bool
	}{"anonymous": {"", false}, "stranger": {stranger, false}, "owner": {owner, true}, "admin": {admin, true}} {
		for _, path := range []string{fmt.Sprintf("/api/v1/videos/%d", public.ID), "/api/v1/feed", "/api/v1/users/1/videos"} {
			r := srv.do("GET", path, c.token, nil)
			expect(t, r, 200, "")
			has := strings.Contains(string(r.Body), `"sha256"`) || strings.Contains(string(r.Body), `"size_bytes"`)
			if has != c.sees {
				t.Errorf("%s, %s: sha256/size_bytes present %v, want %v", name, path, has, c.sees)
			}
			if c.sees && !strings.Contains(string(r.Body), `"size_bytes":`+fmt.Sprint(public.SizeBytes)) {
				t.Errorf("%s, %s: size_bytes is not the original's %d", name, path, public.SizeBytes)
			}
		}
	}
	if public.SizeBytes == 0 || len(public.SHA256) != 64 {
		t.Errorf("the owner's upload answer lacks size_bytes or sha256: %+v", public)
	}

	// Event streams: 8 per client address, 8 per user.
	events := fmt.Sprintf("/api/v1/videos/%d/events", uploading)
	open := func(from, token string) (*http.Response, func()) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		client := &http.Client{Transport: &http.Transport{DialContext: dialFrom(from)}}
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+events, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		return resp, func() { cancel(); resp.Body.Close(); client.CloseIdleConnections() }
	}
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	hold := func(n int, from, token string) {
		for range n {
			resp, closeIt := open(from, token)
			closers = append(closers, closeIt)
			if resp.StatusCode != 200 {
				t.Fatalf("stream from %s: %d", from, resp.StatusCode)
			}
		}
	}
	refused := func(from, token string) bool {
		resp, closeIt := open(from, token)
		defer closeIt()
		if resp.StatusCode != http.StatusTooManyRequests {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `"rate_limited"`) && resp.Header.Get("Retry-After") != ""
	}
	// Per address: anonymous streams from one address.
	hold(8, "127.0.0.2", "")
	if !refused("127.0.0.2", "") {
		t.Error("a ninth stream from one address was not refused with 429")
	}
	if refused("127.0.0.3", "") {
		t.Error("another address was refused")
	}
	// Per user: one user's streams from several addresses.
	hold(4, "127.0.0.4", owner)
	hold(4, "127.0.0.5", owner)
	if !refused("127.0.0.6", owner) {
		t.Error("a ninth stream of one user was not refused with 429")
	}
	if refused("127.0.0.6", stranger) {
		t.Error("another user on a fresh address was refused")
	}
	// A closed stream frees its place.
	closers[len(closers)-1]()
	closers = closers[:len(closers)-1]
	waitFor(t, "a closed stream to free its place", func() bool { return !refused("127.0.0.7", owner) })
}

// TestHostileHostTusLocation: the Location of a new tus upload follows the
// rule of every absolute URL: a Host that is not allowed (and forwarding
// headers from a client that is not a trusted proxy) never appears in it,
// and REEL_PUBLIC_URL, with its path, replaces scheme and host.
func TestHostileHostTusLocation(t *testing.T) {
	create := func(srv *instance, token, host string) string {
		t.Helper()
		req, err := http.NewRequest("POST", srv.URL+"/api/v1/uploads/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Upload-Length", "1000")
		req.Header.Set("Upload-Metadata", tusMetadata("filename", "clip.mp4", "title", "hosted"))
		req.Header.Set("X-Forwarded-Host", "forwarded.example")
		req.Header.Set("Forwarded", "host=forwarded.example;proto=https")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("Host %q: create upload: %d", host, resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	srv := startServer(t, nil)
	token := signUp(t, srv, "tushost")
	u, _ := url.Parse(srv.URL)
	for _, host := range []string{"evil.example", "evil.example:" + u.Port(), "localhost.evil.example", "[::2]"} {
		loc := create(srv, token, host)
		if !strings.HasPrefix(loc, srv.URL+"/api/v1/uploads/") {
			t.Errorf("Host %q: Location %q, want it on the address the connection came in on (%s)", host, loc, srv.URL)
		}
		// It points here: the upload answers at it.
		if resp := tusReq(t, "HEAD", loc, token, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD %s: %d", loc, resp.StatusCode)
		}
	}
	if loc := create(srv, token, "localhost:"+u.Port()); !strings.HasPrefix(loc, "http://localhost:"+u.Port()+"/api/v1/uploads/") {
		t.Errorf("allowed Host localhost: Location %q", loc)
	}

	fixed := startServer(t, map[string]string{"REEL_PUBLIC_URL": "https://cdn.example.com/reel/"})
	token = signUp(t, fixed, "tusfixed")
	for _, host := range []string{"evil.example", u.Host} {
		loc := create(fixed, token, host)
		rest, ok := strings.CutPrefix(loc, "https://cdn.example.com/reel/api/v1/uploads/")
		if !ok || rest == "" || strings.Contains(rest, "/") {
			t.Errorf("REEL_PUBLIC_URL set, Host %q: Location %q", host, loc)
		}
	}
}
