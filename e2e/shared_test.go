package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/shared/redistest"
)

// card is what these tests read of a video as a viewer sees it.
type card struct {
	ID        int64  `json:"id"`
	LikeCount int64  `json:"like_count"`
	ViewCount int64  `json:"view_count"`
	IsLiked   bool   `json:"is_liked"`
	PlayURL   string `json:"play_url"`
	Author    struct {
		LikedCount    int64 `json:"liked_count"`
		FollowerCount int64 `json:"follower_count"`
	} `json:"author"`
}

type feed struct {
	Videos []card `json:"videos"`
}

// TestSharedStateOnRedis runs two reel serve processes on one PostgreSQL,
// one bucket and one Redis, as a cluster behind a load balancer: what a
// client does through one node is what the other answers in the very next
// request (likes, in cards and the feed), limits hold for the pair (failed
// logins), a viewer's views count once, a block reaches the other node's
// media URLs through pub/sub, a message sent through one node arrives on
// an event stream held on the other; with Redis killed both nodes keep
// answering, and once it is back they share state again.
func TestSharedStateOnRedis(t *testing.T) {
	c := newCluster(t)
	rdb := redistest.Start(t)
	env := []string{"REEL_REDIS_URL=" + rdb.URL, "REEL_LOGIN_LIMIT=3/5m", "REEL_LOGIN_ADDR_LIMIT=0"}
	a := c.start(t, "a", "serve", append(env, "REEL_WORKERS=1")...)
	b := c.start(t, "b", "serve", append(env, "REEL_WORKERS=0")...)

	author := signUp(t, a, "author")
	viewer := signUp(t, b, "viewer")
	other := signUp(t, a, "other")
	var viewerID int64
	{
		var me struct {
			ID int64 `json:"id"`
		}
		viewer.json(t, b, "GET", "/api/v1/me", nil, http.StatusOK, &me)
		viewerID = me.ID
	}
	v := author.uploadMultipart(t, a, mediatest.Clip(t, "landscape"))
	if v = author.waitProcessed(t, a, v.ID, 2*time.Minute); v.Status != "ready" {
		t.Fatalf("video %d: %s (%s)", v.ID, v.Status, v.Error)
	}
	cardOf := func(cl *client, n *node) card {
		t.Helper()
		var cd card
		cl.json(t, n, "GET", fmt.Sprintf("/api/v1/videos/%d", v.ID), nil, http.StatusOK, &cd)
		return cd
	}
	inFeed := func(cl *client, n *node) card {
		t.Helper()
		var f feed
		cl.json(t, n, "GET", "/api/v1/feed", nil, http.StatusOK, &f)
		for _, cd := range f.Videos {
			if cd.ID == v.ID {
				return cd
			}
		}
		t.Fatalf("video %d is not in %s's feed", v.ID, n.name)
		return card{}
	}
	anon := &client{}

	t.Run("a like through a is in b's next answers", func(t *testing.T) {
		// b has the card and the feed cached before the like.
		if cd := cardOf(viewer, b); cd.LikeCount != 0 || cd.IsLiked {
			t.Fatalf("before: %+v", cd)
		}
		inFeed(anon, b)
		viewer.json(t, a, "PUT", fmt.Sprintf("/api/v1/videos/%d/like", v.ID), nil, http.StatusNoContent, nil)
		if cd := cardOf(viewer, b); cd.LikeCount != 1 || !cd.IsLiked || cd.Author.LikedCount != 1 {
			t.Errorf("b's card right after the like on a: %+v", cd)
		}
		if cd := inFeed(anon, b); cd.LikeCount != 1 {
			t.Errorf("b's anonymous feed right after the like on a: like_count %d", cd.LikeCount)
		}
		if cd := inFeed(viewer, b); cd.LikeCount != 1 || !cd.IsLiked {
			t.Errorf("b's feed for the viewer right after the like on a: %+v", cd)
		}
		viewer.json(t, b, "DELETE", fmt.Sprintf("/api/v1/videos/%d/like", v.ID), nil, http.StatusNoContent, nil)
		if cd := cardOf(viewer, a); cd.LikeCount != 0 || cd.IsLiked {
			t.Errorf("a's card right after the unlike on b: %+v", cd)
		}
	})

	t.Run("failed logins over a and b count for the pair", func(t *testing.T) {
		nodes := []*node{a, b, a, b}
		for i, n := range nodes {
			resp, body := anon.do(t, n, "POST", "/api/v1/sessions", map[string]string{"username": "other", "password": "wrong-password"})
			want := http.StatusUnauthorized
			if i == 3 {
				want = http.StatusTooManyRequests // REEL_LOGIN_LIMIT=3/5m, for the pair
			}
			if resp.StatusCode != want {
				t.Fatalf("failed login %d on %s: %d %s, want %d", i+1, n.name, resp.StatusCode, body, want)
			}
		}
	})

	t.Run("a viewer's views through a and b count once", func(t *testing.T) {
		path := fmt.Sprintf("/api/v1/videos/%d/views", v.ID)
		for _, n := range []*node{a, b, a, b} {
			viewer.json(t, n, "POST", path, nil, http.StatusNoContent, nil)
		}
		// Another viewer's view through each node, after the duplicates:
		// once both are counted, each node has written what it held.
		other.json(t, a, "POST", path, nil, http.StatusNoContent, nil)
		author.json(t, b, "POST", path, nil, http.StatusNoContent, nil)
		var cd card
		waitFor(t, "the views to be written", 30*time.Second, func() bool {
			cd = cardOf(anon, a)
			return cd.ViewCount >= 3
		})
		if cd.ViewCount != 3 {
			t.Errorf("view_count %d, want 3 (one per viewer)", cd.ViewCount)
		}
	})

	t.Run("a message through a arrives on a stream held on b", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "GET", b.URL+"/api/v1/events", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+viewer.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("event stream on b: %d", resp.StatusCode)
		}
		author.json(t, a, "POST", fmt.Sprintf("/api/v1/users/%d/messages", viewerID), map[string]string{"text": "hello across nodes"}, http.StatusCreated, nil)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data:") && strings.Contains(sc.Text(), "hello across nodes") {
				return
			}
		}
		t.Fatalf("the stream on b ended without the message: %v", sc.Err())
	})

	t.Run("a block on a reaches b's media URLs through pub/sub", func(t *testing.T) {
		play := cardOf(viewer, b).PlayURL
		if got := getStatus(t, play); got != http.StatusOK {
			t.Fatalf("media before the block: %d", got)
		}
		promote := exec.Command(reelBin, "user", "promote", "other")
		promote.Env = append(environ(), c.env...)
		if out, err := promote.CombinedOutput(); err != nil {
			t.Fatalf("reel user promote: %v\n%s", err, out)
		}
		other.json(t, a, "POST", fmt.Sprintf("/api/v1/admin/videos/%d/block", v.ID), nil, http.StatusNoContent, nil)
		// b learns of it by the message (its log says so) or by its
		// database poll a second later; the message is what is checked.
		waitFor(t, "b to receive the revocation", 10*time.Second, func() bool {
			for _, l := range b.log.lines() {
				if l["msg"] == "media revocation received" {
					return true
				}
			}
			return false
		})
		if got := getStatus(t, play); got != http.StatusForbidden {
			t.Errorf("b's media URL after the block reached b: %d", got)
		}
		other.json(t, a, "DELETE", fmt.Sprintf("/api/v1/admin/videos/%d/block", v.ID), nil, http.StatusNoContent, nil)
	})

	t.Run("Redis killed, then back", func(t *testing.T) {
		rdb.Kill()
		for _, n := range []*node{a, b} {
			cardOf(viewer, n)
			inFeed(anon, n)
			var s struct {
				Token string `json:"token"`
			}
			anon.json(t, n, "POST", "/api/v1/sessions", map[string]string{"username": "viewer", "password": "secret-1"}, http.StatusOK, &s)
		}
		viewer.json(t, a, "PUT", fmt.Sprintf("/api/v1/videos/%d/like", v.ID), nil, http.StatusNoContent, nil)
		if cd := cardOf(viewer, a); cd.LikeCount != 1 {
			t.Errorf("a's own card after a like without Redis: %+v", cd)
		}

		rdb.Restart()
		// Each node uses Redis again once its breaker let a call through
		// (its /readyz asks Redis).
		for _, n := range []*node{a, b} {
			waitFor(t, n.name+" to use Redis again", 30*time.Second, func() bool {
				var r struct {
					Checks map[string]string `json:"checks"`
				}
				resp, body := anon.do(t, n, "GET", "/readyz", nil)
				return resp.StatusCode == http.StatusOK && jsonInto(body, &r) && r.Checks["shared_state"] == "ok"
			})
		}
		viewer.json(t, a, "DELETE", fmt.Sprintf("/api/v1/videos/%d/like", v.ID), nil, http.StatusNoContent, nil)
		if cd := cardOf(viewer, b); cd.LikeCount != 0 || cd.IsLiked {
			t.Errorf("b's card right after an unlike on a, Redis back: %+v", cd)
		}
	})
}

// jsonInto decodes b into v and reports whether it could.
func jsonInto(b []byte, v any) bool { return json.Unmarshal(b, v) == nil }
