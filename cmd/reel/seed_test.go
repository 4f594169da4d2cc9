package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/blob/s3test"
	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// TestSeed seeds a fresh install twice, then serves it the way `make demo`
// does and checks what a visitor would: a feed of ready videos with likes and
// comments, and demo users who can sign in with the printed password.
func TestSeed(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		env := map[string]string{"REEL_DATA_DIR": t.TempDir(), "REEL_DATABASE_URL": dbURL, "REEL_LOG_FORMAT": "json", "REEL_LOG_LEVEL": "warn"}
		var s *s3test.Server
		if strings.HasPrefix(dbURL, "postgres") {
			// The PostgreSQL run keeps its blobs on S3, as an install of
			// several nodes does: seed works through the store.
			env, s = withS3(t, env, "reel")
		}
		out, errOut, err := cli(t, env, "seed")
		if err != nil {
			t.Fatalf("seed: %v\n%s\n%s", err, out, errOut)
		}
		likes := 0
		for _, l := range demoLikes {
			likes += len(l.users)
		}
		for _, want := range []string{"4 created, 0 already there", "6 published, 0 already there",
			fmt.Sprintf("8 follows, %d likes, 7 comments added", likes), `password "reel-demo"`, "queued"} {
			if !strings.Contains(out, want) {
				t.Errorf("first seed does not say %q:\n%s", want, out)
			}
		}
		want := rowCounts{users: 4, videos: len(demoClips), follows: len(demoFollows), likes: likes, comments: len(demoComments)}
		if got := countRows(t, dbURL); got != want {
			t.Errorf("after the first seed: %+v, want %+v", got, want)
		}

		out, errOut, err = cli(t, env, "seed")
		if err != nil {
			t.Fatalf("second seed: %v\n%s\n%s", err, out, errOut)
		}
		for _, want := range []string{"0 created, 4 already there", "0 published, 6 already there", "0 follows, 0 likes, 0 comments added", "Nothing new"} {
			if !strings.Contains(out, want) {
				t.Errorf("second seed does not say %q:\n%s", want, out)
			}
		}
		if got := countRows(t, dbURL); got != want {
			t.Errorf("the second seed changed the data: %+v, want %+v", got, want)
		}

		if s != nil {
			originals := 0
			for _, key := range s.Keys(t, "reel/videos/") {
				if strings.Contains(key, "/original") {
					originals++
				}
			}
			if originals != len(demoClips) {
				t.Errorf("%d originals in the bucket, want %d", originals, len(demoClips))
			}
		}
		srv := startServer(t, with(env, map[string]string{"REEL_WORKERS": "2", "REEL_LOG_LEVEL": "debug"}))
		feed := waitFeed(t, srv, len(demoClips), 3*time.Minute)
		var titles []string
		liked, commented := 0, 0
		for _, v := range feed {
			titles = append(titles, v.Title)
			if v.Status != "ready" || v.PlayURL == "" || v.CoverURL == "" || v.HLSURL == "" {
				t.Errorf("feed video %q: status %q, play %q, cover %q, hls %q", v.Title, v.Status, v.PlayURL, v.CoverURL, v.HLSURL)
			}
			if !slices.Contains(demoUsers, v.Author.Username) {
				t.Errorf("feed video %q by %q, not a demo user", v.Title, v.Author.Username)
			}
			if v.LikeCount > 0 {
				liked++
			}
			if v.CommentCount > 0 {
				commented++
			}
		}
		for _, c := range demoClips {
			if !slices.Contains(titles, c.title) {
				t.Errorf("feed lacks %q: %q", c.title, titles)
			}
		}
		if liked == 0 || commented == 0 {
			t.Errorf("%d feed videos have likes and %d comments, want some of each", liked, commented)
		}

		ids := map[string]int64{}
		for _, name := range demoUsers {
			r := srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": name, "password": demoPassword})
			expect(t, r, http.StatusOK, "")
			var s session
			r.json(t, &s)
			s.check(t, name)
			ids[name] = s.User.ID
		}
		// ava follows ben and chloe, and both follow her back.
		r := srv.do("GET", fmt.Sprintf("/api/v1/users/%d/friends", ids["ava"]), "", nil)
		expect(t, r, http.StatusOK, "")
		var friends struct {
			Users []struct {
				Username string `json:"username"`
			} `json:"users"`
		}
		r.json(t, &friends)
		var names []string
		for _, u := range friends.Users {
			names = append(names, u.Username)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"ben", "chloe"}) {
			t.Errorf("ava's friends: %q, want ben and chloe", names)
		}

		// With everything processed, --wait has nothing to add or wait for.
		out, errOut, err = cli(t, env, "seed", "--wait")
		if err != nil || !strings.Contains(out, "Nothing new") || !strings.Contains(out, "All demo videos are ready.") {
			t.Errorf("seed --wait on a seeded install: %v\n%s\n%s", err, out, errOut)
		}
	})
}

type rowCounts struct{ users, videos, follows, likes, comments int }

// countRows counts what seed creates, straight from the database.
func countRows(t *testing.T, dbURL string) rowCounts {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var c rowCounts
	for table, n := range map[string]*int{"users": &c.users, "videos": &c.videos, "follows": &c.follows, "likes": &c.likes, "comments": &c.comments} {
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
	}
	return c
}

type feedVideo struct {
	Title        string `json:"title"`
	Status       string `json:"status"`
	PlayURL      string `json:"play_url"`
	CoverURL     string `json:"cover_url"`
	HLSURL       string `json:"hls_url"`
	LikeCount    int64  `json:"like_count"`
	CommentCount int64  `json:"comment_count"`
	Author       struct {
		Username string `json:"username"`
	} `json:"author"`
}

// waitFeed polls the public feed until it lists n videos, which it does
// only once they are ready.
func waitFeed(t *testing.T, srv *instance, n int, timeout time.Duration) []feedVideo {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		r := srv.do("GET", "/api/v1/feed?limit=50", "", nil)
		expect(t, r, http.StatusOK, "")
		var page struct {
			Videos []feedVideo `json:"videos"`
		}
		r.json(t, &page)
		if len(page.Videos) >= n {
			return page.Videos
		}
		if time.Now().After(deadline) {
			t.Fatalf("the feed lists %d of %d seeded videos after %v:\n%s", len(page.Videos), n, timeout, srv.stderr)
		}
		<-tick.C
	}
}
