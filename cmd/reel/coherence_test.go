package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
	"github.com/reel-video/reel/internal/testwait"
)

// TestSharedStateAcrossNodes runs two nodes on one database and one Redis:
// a like and a follow through a are in b's card, feed (anonymous and
// signed in) and profiles in the very next request, counts exact; one
// viewer's views through a and b count once; a block on a makes b's media
// URLs 403 as soon as b has the message (pub/sub, not its poll); with Redis
// killed both nodes keep answering, and once it is back they agree again.
func TestSharedStateAcrossNodes(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		redis := redistest.Start(t)
		env := map[string]string{"REEL_DATABASE_URL": dbURL, "REEL_DATA_DIR": t.TempDir(),
			"REEL_SECRET": strings.Repeat("k", 40), "REEL_REDIS_URL": redis.URL}
		a := startServer(t, env)
		b := startServer(t, with(env, map[string]string{"REEL_WORKERS": "0"}))
		alice, bob := signUp(t, a, "alice"), signUp(t, b, "bob")
		admin := signUp(t, a, "admin")
		if _, _, err := cli(t, env, "user", "promote", "admin"); err != nil {
			t.Fatal(err)
		}
		v := readyVideo(t, a, alice, "public")
		videoPath := fmt.Sprintf("/api/v1/videos/%d", v.ID)

		type user struct {
			ID            int64 `json:"id"`
			FollowerCount int64 `json:"follower_count"`
			LikedCount    int64 `json:"liked_count"`
			LikeCount     int64 `json:"like_count"`
		}
		type card struct {
			ID        int64  `json:"id"`
			LikeCount int64  `json:"like_count"`
			IsLiked   bool   `json:"is_liked"`
			PlayURL   string `json:"play_url"`
			Author    user   `json:"author"`
		}
		// seen is what b answers about the video, as token sees it: its
		// card, its entry in the feed, and its author's profile.
		seen := func(token string) (c card, inFeed card, profile user) {
			t.Helper()
			expect(t, b.do("GET", videoPath, token, nil), http.StatusOK, "")
			b.do("GET", videoPath, token, nil).json(t, &c)
			var feed struct{ Videos []card }
			b.do("GET", "/api/v1/feed", token, nil).json(t, &feed)
			for _, fv := range feed.Videos {
				if fv.ID == v.ID {
					inFeed = fv
				}
			}
			if inFeed.ID == 0 {
				t.Fatalf("video %d is not in b's feed", v.ID)
			}
			b.do("GET", fmt.Sprintf("/api/v1/users/%d", c.Author.ID), token, nil).json(t, &profile)
			return c, inFeed, profile
		}
		check := func(what string, likes, followers int64) {
			t.Helper()
			for _, token := range []string{"", bob} {
				c, f, p := seen(token)
				if c.LikeCount != likes || f.LikeCount != likes {
					t.Errorf("%s: b shows %d likes in the card and %d in the feed, want %d", what, c.LikeCount, f.LikeCount, likes)
				}
				if c.Author != p || f.Author != p {
					t.Errorf("%s: b's card author %+v and feed author %+v disagree with the profile %+v", what, c.Author, f.Author, p)
				}
				// Only bob likes it: his own flag follows the count, in the
				// card and in his feed (an answer b may keep for him).
				if liked := token != "" && likes == 1; c.IsLiked != liked || f.IsLiked != liked {
					t.Errorf("%s: b shows is_liked %v in the card and %v in the feed, want %v", what, c.IsLiked, f.IsLiked, liked)
				}
				if p.LikedCount != likes || p.FollowerCount != followers {
					t.Errorf("%s: the author's profile shows %+v, want %d likes received and %d followers", what, p, likes, followers)
				}
			}
		}
		check("before", 0, 0) // b has it all cached now

		expect(t, a.do("PUT", videoPath+"/like", bob, nil), http.StatusNoContent, "")
		check("after a like through a", 1, 0)
		if c, _, _ := seen(bob); !c.IsLiked {
			t.Error("b does not show bob's like to bob")
		}
		expect(t, a.do("PUT", fmt.Sprintf("/api/v1/users/%d/follow", v.Author.ID), bob, nil), http.StatusNoContent, "")
		check("after a follow through a", 1, 1)
		expect(t, a.do("DELETE", videoPath+"/like", bob, nil), http.StatusNoContent, "")
		check("after an unlike through a", 0, 1)

		// One viewer, views through both nodes: one view.
		for _, n := range []*instance{a, b, a, b} {
			expect(t, n.do("POST", videoPath+"/views", bob, nil), http.StatusNoContent, "")
		}

		// A block on a: b refuses the URLs it handed out once it has the
		// revocation from pub/sub (its log says so).
		c, _, _ := seen(bob)
		if c.PlayURL == "" || status(t, c.PlayURL) != http.StatusOK {
			t.Fatal("b's media URL does not play")
		}
		expect(t, a.do("POST", fmt.Sprintf("/api/v1/admin/videos/%d/block", v.ID), admin, nil), http.StatusNoContent, "")
		waitFor(t, "b to hear of the block", func() bool {
			for _, l := range b.stderr.logLines() {
				if l["msg"] == "media revocation received" && l["video"] == float64(v.ID) {
					return true
				}
			}
			return false
		})
		if got := status(t, c.PlayURL); got != http.StatusForbidden {
			t.Errorf("after the block b's media URL answers %d, want 403", got)
		}
		expect(t, b.do("GET", videoPath, bob, nil), http.StatusNotFound, "not_found")
		expect(t, a.do("DELETE", fmt.Sprintf("/api/v1/admin/videos/%d/block", v.ID), admin, nil), http.StatusNoContent, "")
		check("after the unblock", 0, 1)

		// Redis killed: both nodes answer, a's writes succeed.
		redis.Kill()
		expect(t, a.do("PUT", videoPath+"/like", bob, nil), http.StatusNoContent, "")
		for _, n := range []*instance{a, b} {
			expect(t, n.do("GET", videoPath, bob, nil), http.StatusOK, "")
			expect(t, n.do("GET", "/api/v1/feed", "", nil), http.StatusOK, "")
			expect(t, n.do("GET", "/api/v1/feed", bob, nil), http.StatusOK, "")
		}

		// Back (empty): once the nodes' breakers let calls through, a's
		// changes are in b's very next answers again.
		redis.Restart()
		likes := int64(1)
		waitFor(t, "the nodes to share changes again", func() bool {
			if likes == 1 {
				expect(t, a.do("DELETE", videoPath+"/like", bob, nil), http.StatusNoContent, "")
				likes = 0
			} else {
				expect(t, a.do("PUT", videoPath+"/like", bob, nil), http.StatusNoContent, "")
				likes = 1
			}
			c, f, _ := seen("")
			return c.LikeCount == likes && f.LikeCount == likes
		})
		check("after Redis came back", likes, 1)

		// The views are written when the nodes stop.
		if err := a.stop(); err != nil {
			t.Fatal(err)
		}
		if err := b.stop(); err != nil {
			t.Fatal(err)
		}
		c2 := startServer(t, env)
		var counted struct {
			ViewCount int64 `json:"view_count"`
		}
		c2.do("GET", videoPath, "", nil).json(t, &counted)
		if counted.ViewCount != 1 {
			t.Errorf("view_count %d after one viewer's views through both nodes, want 1", counted.ViewCount)
		}
	})
}

// TestWorkerChangesReachServeCaches: a video a separate worker makes ready
// is in the serving node's cached anonymous feed in the first request
// after it is ready: the worker marks its changes in Redis too. The feed is
// read all along, so that the node always holds a page from before.
func TestWorkerChangesReachServeCaches(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		redis := redistest.Start(t)
		env := map[string]string{"REEL_DATABASE_URL": dbURL, "REEL_DATA_DIR": t.TempDir(),
			"REEL_REDIS_URL": redis.URL, "REEL_WORKERS": "0"}
		srv := startServer(t, env)
		token := signUp(t, srv, "split")
		feedHas := func(id int64) bool {
			var feed struct{ Videos []videoJSON }
			srv.do("GET", "/api/v1/feed", "", nil).json(t, &feed)
			for _, v := range feed.Videos {
				if v.ID == id {
					return true
				}
			}
			return false
		}
		r := uploadMultipart(t, srv, token, mediatest.Clip(t, "noaudio"), nil, false)
		expect(t, r, http.StatusAccepted, "")
		var v videoJSON
		r.json(t, &v)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
					resp, err := http.Get(srv.URL + "/api/v1/feed")
					if err == nil {
						resp.Body.Close()
					}
				}
			}
		}()
		// The status is read from the database itself, every few
		// milliseconds: the feed is asked right after the commit, well
		// inside the TTL of the node's page.
		db := sqltest.OpenDB(t, dbURL)
		startCommand(t, "worker", with(env, map[string]string{"REEL_WORKERS": "1"}))
		testwait.For(t, "the worker to make the video ready", 3*time.Minute, 5*time.Millisecond, func() bool {
			got, err := db.VideoForJob(t.Context(), v.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status == "failed" {
				t.Fatalf("video failed: %s", got.Error)
			}
			return got.Status == "ready"
		})
		ready := feedHas(v.ID)
		close(stop)
		<-done
		if !ready {
			t.Error("the video the worker made ready is not in the node's next feed")
		}
	})
}
