package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// fakeQueue satisfies sqlstore.Queue for store tests: the jobs it would
// insert are not what these tests look at.
type fakeQueue struct{}

func (fakeQueue) InsertProcessTx(context.Context, *sql.Tx, int64) (int64, error)    { return 1, nil }
func (fakeQueue) InsertDeleteFilesTx(context.Context, *sql.Tx, int64, string) error { return nil }
func (fakeQueue) CancelTx(context.Context, *sql.Tx, int64) error                    { return nil }
func (fakeQueue) Waiting(context.Context) (int, error)                              { return 0, nil }
func (fakeQueue) WaitingTx(context.Context, *sql.Tx) (int, error)                   { return 0, nil }

// world is a store with users and ready videos.
type world struct {
	db     *sqlstore.DB
	users  []*reel.User
	videos []*reel.Video // ready and public, by users[0]
}

func newWorld(t *testing.T, url string, users, videos int) *world {
	t.Helper()
	db := sqltest.OpenDB(t, url)
	db.SetQueue(fakeQueue{})
	w := &world{db: db}
	ctx := t.Context()
	for i := range users {
		u, err := db.CreateUser(ctx, fmt.Sprintf("user%d", i), "hash")
		if err != nil {
			t.Fatal(err)
		}
		w.users = append(w.users, u)
	}
	for range videos {
		w.videos = append(w.videos, w.readyVideo(t, w.users[0].ID, reel.VisibilityPublic))
	}
	return w
}

func (w *world) readyVideo(t *testing.T, author int64, visibility string) *reel.Video {
	t.Helper()
	v := &reel.Video{AuthorID: author, Title: "v", Visibility: visibility, Status: reel.StatusUploading}
	if err := w.db.CreateVideo(t.Context(), v); err != nil {
		t.Fatal(err)
	}
	if err := w.db.SetProcessed(t.Context(), v.ID, reel.Processed{Status: reel.StatusReady}); err != nil {
		t.Fatal(err)
	}
	return v
}

func (w *world) user(t *testing.T, id, viewer int64) *reel.User {
	t.Helper()
	u, err := w.db.FindUserByID(t.Context(), id, viewer)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (w *world) video(t *testing.T, id, viewer int64) *reel.Video {
	t.Helper()
	v, err := w.db.FindVideoByID(t.Context(), id, viewer)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestLikes(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 3, 2)
		ctx := t.Context()
		author, fan := w.users[0], w.users[1]
		v := w.videos[0]
		for range 2 { // idempotent
			if err := w.db.Like(ctx, fan.ID, v.ID); err != nil {
				t.Fatal(err)
			}
		}
		if got := w.video(t, v.ID, fan.ID); got.LikeCount != 1 || !got.IsLiked {
			t.Errorf("after liking twice: like_count %d, is_liked %v", got.LikeCount, got.IsLiked)
		}
		if got := w.video(t, v.ID, author.ID); got.IsLiked {
			t.Error("is_liked leaks to another viewer")
		}
		if u := w.user(t, fan.ID, 0); u.LikeCount != 1 {
			t.Errorf("fan like_count %d", u.LikeCount)
		}
		if u := w.user(t, author.ID, 0); u.LikedCount != 1 {
			t.Errorf("author liked_count %d", u.LikedCount)
		}
		liked, next, err := w.db.LikedVideos(ctx, fan.ID, 0, reel.Page{Limit: 10})
		if err != nil || len(liked) != 1 || liked[0].ID != v.ID || next != "" {
			t.Errorf("LikedVideos: %v %q %v", liked, next, err)
		}
		for range 2 {
			if err := w.db.Unlike(ctx, fan.ID, v.ID); err != nil {
				t.Fatal(err)
			}
		}
		if got := w.video(t, v.ID, fan.ID); got.LikeCount != 0 || got.IsLiked {
			t.Errorf("after unliking twice: %d %v", got.LikeCount, got.IsLiked)
		}
		// Missing and someone else's private videos cannot be liked.
		private := w.readyVideo(t, author.ID, reel.VisibilityPrivate)
		for _, id := range []int64{999999, private.ID} {
			if err := w.db.Like(ctx, fan.ID, id); reel.ErrorCode(err) != reel.ENOTFOUND {
				t.Errorf("like video %d: %v", id, err)
			}
		}
		// Deleting a liked video takes its likes out of both users' counts.
		if err := w.db.Like(ctx, fan.ID, w.videos[1].ID); err != nil {
			t.Fatal(err)
		}
		if err := w.db.DeleteVideo(ctx, w.videos[1].ID, author.ID); err != nil {
			t.Fatal(err)
		}
		if u := w.user(t, fan.ID, 0); u.LikeCount != 0 {
			t.Errorf("after deleting the liked video, fan like_count %d", u.LikeCount)
		}
		if u := w.user(t, author.ID, author.ID); u.LikedCount != 0 || u.VideoCount != 2 {
			t.Errorf("after deleting the liked video, author liked_count %d video_count %d", u.LikedCount, u.VideoCount)
		}
	})
}

// 200 concurrent likes and unlikes of one video by 20 users end with every
// count equal to the rows.
func TestLikeCountsUnderConcurrency(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 21, 1)
		ctx := t.Context()
		v := w.videos[0]
		var wg sync.WaitGroup
		var failures atomic.Int32
		for i := range 200 {
			fan := w.users[1+i%20].ID
			wg.Go(func() {
				var err error
				if i%3 == 0 {
					err = w.db.Unlike(ctx, fan, v.ID)
				} else {
					err = w.db.Like(ctx, fan, v.ID)
				}
				if err != nil {
					failures.Add(1)
					t.Error(err)
				}
			})
		}
		wg.Wait()
		var rows int64
		if err := w.db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM likes WHERE video_id = "+placeholder(w.db), v.ID).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if got := w.video(t, v.ID, 0); got.LikeCount != rows {
			t.Errorf("like_count %d, rows %d", got.LikeCount, rows)
		}
		if u := w.user(t, w.users[0].ID, 0); u.LikedCount != rows {
			t.Errorf("author liked_count %d, rows %d", u.LikedCount, rows)
		}
		var given int64
		for _, u := range w.users[1:] {
			given += w.user(t, u.ID, 0).LikeCount
		}
		if given != rows {
			t.Errorf("likes given add up to %d, rows %d", given, rows)
		}
	})
}

// Concurrent likes and unlikes by many users of videos by two authors
// (batched together on SQLite), with likes of a missing and of a private
// video among them, end with every count equal to its rows, and the
// refused likes are refused without failing the others.
func TestLikeCountsOfManyUsersUnderConcurrency(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 12, 3)
		ctx := t.Context()
		videos := append(w.videos, w.readyVideo(t, w.users[1].ID, reel.VisibilityPublic))
		private := w.readyVideo(t, w.users[0].ID, reel.VisibilityPrivate)
		var wg sync.WaitGroup
		for i := range 400 {
			user, video := w.users[i%len(w.users)].ID, videos[(i/len(w.users))%len(videos)].ID
			wg.Go(func() {
				var err error
				switch {
				case i%50 == 7:
					if err := w.db.Like(ctx, user, 999999); reel.ErrorCode(err) != reel.ENOTFOUND {
						t.Errorf("like of a missing video: %v", err)
					}
					return
				case i%50 == 9 && user != w.users[0].ID:
					if err := w.db.Like(ctx, user, private.ID); reel.ErrorCode(err) != reel.ENOTFOUND {
						t.Errorf("like of someone else's private video: %v", err)
					}
					return
				case i%3 == 0:
					err = w.db.Unlike(ctx, user, video)
				default:
					err = w.db.Like(ctx, user, video)
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		count := func(query string, args ...any) int64 {
			t.Helper()
			var n int64
			query = strings.ReplaceAll(query, "?", placeholder(w.db))
			if err := w.db.SQL().QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, v := range videos {
			if got, rows := w.video(t, v.ID, 0).LikeCount, count("SELECT count(*) FROM likes WHERE video_id = ?", v.ID); got != rows {
				t.Errorf("video %d: like_count %d, %d rows", v.ID, got, rows)
			}
		}
		for _, u := range w.users {
			got := w.user(t, u.ID, 0)
			if given := count("SELECT count(*) FROM likes WHERE user_id = ?", u.ID); got.LikeCount != given {
				t.Errorf("user %d: like_count %d, %d rows", u.ID, got.LikeCount, given)
			}
			received := count("SELECT count(*) FROM likes JOIN videos ON videos.id = likes.video_id WHERE videos.author_id = ?", u.ID)
			if got.LikedCount != received {
				t.Errorf("user %d: liked_count %d, %d rows", u.ID, got.LikedCount, received)
			}
		}
		if n := count("SELECT count(*) FROM likes"); n == 0 {
			t.Error("no like was written")
		}
	})
}

func TestComments(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 3, 1)
		ctx := t.Context()
		owner, a, b := w.users[0], w.users[1], w.users[2]
		v := w.videos[0]
		c1, err := w.db.AddComment(ctx, a.ID, v.ID, "first")
		if err != nil || c1.User.ID != a.ID || c1.Text != "first" || c1.VideoID != v.ID {
			t.Fatalf("AddComment: %+v %v", c1, err)
		}
		c2, _ := w.db.AddComment(ctx, b.ID, v.ID, "second")
		for _, text := range []string{"", "   ", string(make([]rune, 501)), "\xff"} {
			if _, err := w.db.AddComment(ctx, a.ID, v.ID, text); reel.ErrorCode(err) != reel.EINVALID {
				t.Errorf("comment %q: %v", text, err)
			}
		}
		if _, err := w.db.AddComment(ctx, a.ID, 999999, "x"); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("comment on a missing video: %v", err)
		}
		list, next, err := w.db.Comments(ctx, v.ID, 0, reel.Page{Limit: 1})
		if err != nil || len(list) != 1 || list[0].ID != c2.ID || next == "" {
			t.Fatalf("first page: %v %q %v", list, next, err)
		}
		list, next, _ = w.db.Comments(ctx, v.ID, 0, reel.Page{Cursor: next, Limit: 1})
		if len(list) != 1 || list[0].ID != c1.ID || next != "" {
			t.Errorf("second page: %v %q", list, next)
		}
		if got := w.video(t, v.ID, 0); got.CommentCount != 2 {
			t.Errorf("comment_count %d", got.CommentCount)
		}
		if err := w.db.DeleteComment(ctx, c1.ID, b.ID); reel.ErrorCode(err) != reel.EFORBIDDEN {
			t.Errorf("someone else deleting a comment: %v", err)
		}
		if err := w.db.DeleteComment(ctx, c1.ID, a.ID); err != nil {
			t.Errorf("the author deleting: %v", err)
		}
		if err := w.db.DeleteComment(ctx, c2.ID, owner.ID); err != nil {
			t.Errorf("the video's owner deleting: %v", err)
		}
		if err := w.db.DeleteComment(ctx, c2.ID, owner.ID); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("deleting again: %v", err)
		}
		if got := w.video(t, v.ID, 0); got.CommentCount != 0 {
			t.Errorf("comment_count after deletes %d", got.CommentCount)
		}
	})
}

func TestFollowsAndMessages(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 4, 0)
		ctx := t.Context()
		a, b, c := w.users[0], w.users[1], w.users[2]
		if err := w.db.Follow(ctx, a.ID, a.ID); reel.ErrorCode(err) != reel.EINVALID {
			t.Errorf("following oneself: %v", err)
		}
		if err := w.db.Follow(ctx, a.ID, 999999); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("following a missing user: %v", err)
		}
		for range 2 {
			for _, f := range [][2]int64{{a.ID, b.ID}, {b.ID, a.ID}, {a.ID, c.ID}} {
				if err := w.db.Follow(ctx, f[0], f[1]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if u := w.user(t, a.ID, 0); u.FollowingCount != 2 || u.FollowerCount != 1 {
			t.Errorf("a: following %d followers %d", u.FollowingCount, u.FollowerCount)
		}
		if u := w.user(t, b.ID, a.ID); !u.IsFollowing {
			t.Error("is_following false for a followed user")
		}
		if u := w.user(t, b.ID, c.ID); u.IsFollowing {
			t.Error("is_following leaks to another viewer")
		}
		following, _, _ := w.db.Following(ctx, a.ID, 0, reel.Page{Limit: 10})
		followers, _, _ := w.db.Followers(ctx, a.ID, 0, reel.Page{Limit: 10})
		friends, _, _ := w.db.Friends(ctx, a.ID, 0, reel.Page{Limit: 10})
		if len(following) != 2 || following[0].ID != c.ID || len(followers) != 1 || followers[0].ID != b.ID ||
			len(friends) != 1 || friends[0].ID != b.ID {
			t.Errorf("following %v, followers %v, friends %v", ids(following), ids(followers), ids(friends))
		}
		page1, next, _ := w.db.Following(ctx, a.ID, a.ID, reel.Page{Limit: 1})
		page2, last, _ := w.db.Following(ctx, a.ID, a.ID, reel.Page{Cursor: next, Limit: 1})
		if len(page1) != 1 || len(page2) != 1 || page1[0].ID == page2[0].ID || last != "" || !page1[0].IsFollowing || !page2[0].IsFollowing {
			t.Errorf("paging following as a: %v %v %q", ids(page1), ids(page2), last)
		}
		for range 2 {
			if err := w.db.Unfollow(ctx, a.ID, b.ID); err != nil {
				t.Fatal(err)
			}
		}
		if u := w.user(t, b.ID, 0); u.FollowerCount != 0 {
			t.Errorf("b follower_count after unfollow %d", u.FollowerCount)
		}

		m1, err := w.db.SendMessage(ctx, a.ID, b.ID, "hi b")
		if err != nil {
			t.Fatal(err)
		}
		m2, _ := w.db.SendMessage(ctx, b.ID, a.ID, "hi a")
		w.db.SendMessage(ctx, a.ID, c.ID, "hi c")
		if _, err := w.db.SendMessage(ctx, a.ID, a.ID, "me"); reel.ErrorCode(err) != reel.EINVALID {
			t.Errorf("messaging oneself: %v", err)
		}
		if _, err := w.db.SendMessage(ctx, a.ID, 999999, "x"); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("messaging a missing user: %v", err)
		}
		for _, pair := range [][2]int64{{a.ID, b.ID}, {b.ID, a.ID}} {
			conv, err := w.db.Conversation(ctx, pair[0], pair[1], 0)
			if err != nil || len(conv) != 2 || conv[0].ID != m1.ID || conv[1].ID != m2.ID {
				t.Errorf("conversation from %d: %v %v", pair[0], conv, err)
			}
		}
		if conv, _ := w.db.Conversation(ctx, a.ID, b.ID, m1.ID); len(conv) != 1 || conv[0].ID != m2.ID {
			t.Errorf("conversation after %d: %v", m1.ID, conv)
		}
		latest, err := w.db.LatestMessages(ctx, a.ID, []int64{b.ID, c.ID, w.users[3].ID})
		if err != nil || latest[b.ID].ID != m2.ID || latest[c.ID].Text != "hi c" || latest[w.users[3].ID] != nil {
			t.Errorf("latest messages: %v %v", latest, err)
		}
	})
}

// The feed pages newest first; videos added between two pages neither
// repeat nor hide one; private, unlisted, blocked and unfinished ones stay out.
func TestFeed(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 2, 5)
		ctx := t.Context()
		w.readyVideo(t, w.users[0].ID, reel.VisibilityPrivate)
		w.readyVideo(t, w.users[0].ID, reel.VisibilityUnlisted)
		blocked := w.readyVideo(t, w.users[0].ID, reel.VisibilityPublic)
		w.db.SetBlocked(ctx, blocked.ID, true)
		w.db.CreateVideo(ctx, &reel.Video{AuthorID: w.users[0].ID, Status: reel.StatusUploading})

		first, next, err := w.db.Feed(ctx, 0, reel.Page{Limit: 3})
		if err != nil || len(first) != 3 || next == "" || first[0].ID != w.videos[4].ID {
			t.Fatalf("first page: %v %q %v", vids(first), next, err)
		}
		w.readyVideo(t, w.users[1].ID, reel.VisibilityPublic) // arrives between the pages
		second, last, _ := w.db.Feed(ctx, 0, reel.Page{Cursor: next, Limit: 3})
		if len(second) != 2 || second[0].ID != w.videos[1].ID || second[1].ID != w.videos[0].ID || last != "" {
			t.Errorf("second page: %v %q", vids(second), last)
		}
		if _, _, err := w.db.Feed(ctx, 0, reel.Page{Cursor: "garbage", Limit: 3}); reel.ErrorCode(err) != reel.EBADREQUEST {
			t.Errorf("bad cursor: %v", err)
		}
		// Following feed: only followed authors.
		if f, _, _ := w.db.FollowingFeed(ctx, w.users[1].ID, reel.Page{Limit: 10}); len(f) != 0 {
			t.Errorf("following feed before following: %v", vids(f))
		}
		w.db.Follow(ctx, w.users[1].ID, w.users[0].ID)
		f, _, _ := w.db.FollowingFeed(ctx, w.users[1].ID, reel.Page{Limit: 10})
		if len(f) != 5 || !f[0].Author.IsFollowing {
			t.Errorf("following feed: %v", vids(f))
		}
	})
}

// Lists cost the same number of queries for one item as for twenty.
func TestListQueriesDoNotGrowWithLength(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 3, 20)
		ctx := t.Context()
		viewer := w.users[1].ID
		for _, v := range w.videos {
			w.db.Like(ctx, viewer, v.ID)
			w.db.SaveProgress(ctx, viewer, v.ID, 10)
			w.db.AddComment(ctx, w.users[2].ID, v.ID, "c")
		}
		// The viewer follows last: it is on the first page of followers of
		// any length, with its own video_count (one count whatever the length).
		w.db.Follow(ctx, w.users[2].ID, w.users[0].ID)
		w.db.Follow(ctx, viewer, w.users[0].ID)
		counter := &queryCounter{}
		// WithQueryHook would hook a copy; the count is of the store's own handles.
		//lint:ignore SA1019 the replacement returns a clone the store does not use
		w.db.Reader().AddQueryHook(counter)
		if w.db.Writer() != w.db.Reader() {
			//lint:ignore SA1019 as above
			w.db.Writer().AddQueryHook(counter)
		}
		lists := map[string]func(limit int) int{
			"feed": func(n int) int { l, _, _ := w.db.Feed(ctx, viewer, reel.Page{Limit: n}); return len(l) },
			"following feed": func(n int) int {
				l, _, _ := w.db.FollowingFeed(ctx, viewer, reel.Page{Limit: n})
				return len(l)
			},
			"user videos": func(n int) int {
				l, _, err := w.db.ListUserVideos(ctx, w.users[0].ID, viewer, "", n)
				if err != nil {
					t.Fatal(err)
				}
				return len(l)
			},
			"liked": func(n int) int { l, _, _ := w.db.LikedVideos(ctx, viewer, viewer, reel.Page{Limit: n}); return len(l) },
			"comments": func(n int) int {
				l, _, _ := w.db.Comments(ctx, w.videos[0].ID, viewer, reel.Page{Limit: n})
				return len(l)
			},
			"followers": func(n int) int {
				l, _, _ := w.db.Followers(ctx, w.users[0].ID, viewer, reel.Page{Limit: n})
				return len(l)
			},
		}
		for name, list := range lists {
			counter.n.Store(0)
			if got := list(1); got != 1 {
				t.Fatalf("%s: %d items, want 1", name, got)
			}
			one := counter.n.Load()
			counter.n.Store(0)
			many := list(20)
			if name != "comments" && name != "followers" && many != 20 {
				t.Fatalf("%s: %d items, want 20", name, many)
			}
			if got := counter.n.Load(); got != one {
				t.Errorf("%s: %d queries for 1 item, %d for %d", name, one, got, many)
			}
		}
	})
}

type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *queryCounter) AfterQuery(context.Context, *bun.QueryEvent) {}

func ids(users []*reel.User) []int64 {
	out := make([]int64, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func vids(videos []*reel.Video) []int64 {
	out := make([]int64, len(videos))
	for i, v := range videos {
		out[i] = v.ID
	}
	return out
}

func placeholder(db *sqlstore.DB) string {
	if db.Engine() == sqlstore.EnginePostgres {
		return "$1"
	}
	return "?"
}

// Likes racing the delete of their video neither deadlock (PostgreSQL) nor
// leave counts behind: whatever wins, every count equals its rows after.
func TestDeleteWhileLiking(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 21, 0)
		ctx := t.Context()
		for round := range 5 {
			v := w.readyVideo(t, w.users[0].ID, reel.VisibilityPublic)
			var wg sync.WaitGroup
			for i := range 20 {
				fan := w.users[1+i].ID
				wg.Go(func() {
					if err := w.db.Like(ctx, fan, v.ID); err != nil && reel.ErrorCode(err) != reel.ENOTFOUND {
						t.Errorf("round %d: like: %v", round, err)
					}
				})
			}
			wg.Go(func() {
				if err := w.db.DeleteVideo(ctx, v.ID, w.users[0].ID); err != nil {
					t.Errorf("round %d: delete: %v", round, err)
				}
			})
			wg.Wait()
		}
		var likes int64
		if err := w.db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM likes").Scan(&likes); err != nil {
			t.Fatal(err)
		}
		var given int64
		for _, u := range w.users[1:] {
			given += w.user(t, u.ID, 0).LikeCount
		}
		author := w.user(t, w.users[0].ID, 0)
		if likes != 0 || given != 0 || author.LikedCount != 0 || author.VideoCount != 0 {
			t.Errorf("after deleting every video: %d like rows, %d likes given, %d received, %d videos", likes, given, author.LikedCount, author.VideoCount)
		}
	})
}

// Nobody but its author acts on an unfinished upload, so its expiry takes
// no one's counts with it.
func TestUnfinishedVideosCannotBeLiked(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 2, 0)
		ctx := t.Context()
		v := &reel.Video{AuthorID: w.users[0].ID, Status: reel.StatusUploading, Visibility: reel.VisibilityPublic}
		if err := w.db.CreateVideo(ctx, v); err != nil {
			t.Fatal(err)
		}
		if err := w.db.Like(ctx, w.users[1].ID, v.ID); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("liking someone's unfinished upload: %v", err)
		}
		if _, err := w.db.AddComment(ctx, w.users[1].ID, v.ID, "x"); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("commenting someone's unfinished upload: %v", err)
		}
		if err := w.db.Like(ctx, w.users[0].ID, v.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := w.db.ExpireUploads(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("ExpireUploads = %d, %v", n, err)
		}
		if u := w.user(t, w.users[0].ID, 0); u.LikeCount != 0 || u.LikedCount != 0 || u.VideoCount != 0 {
			t.Errorf("after the upload expired: %+v", u)
		}
	})
}
