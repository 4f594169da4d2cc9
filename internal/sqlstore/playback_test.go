package sqlstore_test

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

func ptr[T any](v T) *T { return &v }

// TestMediaRevocations: making a video private, blocking and deleting it are
// recorded for every node to read, and reported to this process at once;
// what does not revoke (unlisted, public again, titles) is not.
func TestMediaRevocations(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 2, 4)
		ctx := t.Context()
		owner := w.users[0].ID
		var heard []reel.MediaRevocation
		w.db.SetOnMediaRevoked(func(r reel.MediaRevocation) { heard = append(heard, r) })
		start := time.Now().Add(-time.Second)
		v := w.videos

		for _, upd := range []reel.VideoUpdate{
			{Title: ptr("renamed")},
			{Visibility: ptr(reel.VisibilityUnlisted)}, // unlisted keeps working
			{Visibility: ptr(reel.VisibilityPublic)},
		} {
			if _, err := w.db.UpdateVideo(ctx, v[0].ID, owner, upd); err != nil {
				t.Fatal(err)
			}
		}
		if len(heard) != 0 {
			t.Fatalf("changes that revoke nothing were reported: %+v", heard)
		}
		// Private: a new generation, reported and readable; private again is no change.
		for range 2 {
			if _, err := w.db.UpdateVideo(ctx, v[0].ID, owner, reel.VideoUpdate{Visibility: ptr(reel.VisibilityPrivate)}); err != nil {
				t.Fatal(err)
			}
		}
		if len(heard) != 1 || heard[0].VideoID != v[0].ID || heard[0].Generation != 1 || heard[0].Blocked || heard[0].Deleted {
			t.Fatalf("made private: heard %+v", heard)
		}
		if got := w.video(t, v[0].ID, owner); got.MediaGeneration != 1 {
			t.Errorf("the owner's copy has generation %d, want 1", got.MediaGeneration)
		}
		// Public and private again: the next generation.
		w.db.UpdateVideo(ctx, v[0].ID, owner, reel.VideoUpdate{Visibility: ptr(reel.VisibilityPublic)})
		w.db.UpdateVideo(ctx, v[0].ID, owner, reel.VideoUpdate{Visibility: ptr(reel.VisibilityPrivate)})
		if len(heard) != 2 || heard[1].Generation != 2 {
			t.Fatalf("private a second time: heard %+v", heard)
		}
		if err := w.db.SetBlocked(ctx, v[1].ID, true); err != nil {
			t.Fatal(err)
		}
		if err := w.db.DeleteVideo(ctx, v[2].ID, owner); err != nil {
			t.Fatal(err)
		}
		if len(heard) != 4 || !heard[2].Blocked || heard[2].VideoID != v[1].ID || !heard[3].Deleted || heard[3].VideoID != v[2].ID {
			t.Fatalf("block and delete: heard %+v", heard)
		}

		byID := func(revs []reel.MediaRevocation) map[int64]reel.MediaRevocation {
			m := map[int64]reel.MediaRevocation{}
			for _, r := range revs {
				m[r.VideoID] = r
			}
			return m
		}
		revs, err := w.db.MediaRevocations(ctx, start, false)
		if err != nil {
			t.Fatal(err)
		}
		m := byID(revs)
		if len(m) != 3 || m[v[0].ID].Generation != 2 || !m[v[1].ID].Blocked || !m[v[2].ID].Deleted {
			t.Errorf("read back %+v", revs)
		}
		for _, r := range revs {
			if r.ChangedAt.Before(start) || r.ChangedAt.After(time.Now().Add(time.Second)) {
				t.Errorf("revocation of video %d stamped %v", r.VideoID, r.ChangedAt)
			}
		}
		// Only what changed since is read again, except blocks when asked for.
		later := time.Now().Add(time.Second)
		if revs, _ := w.db.MediaRevocations(ctx, later, false); len(revs) != 0 {
			t.Errorf("nothing changed since, read %+v", revs)
		}
		if revs, _ := w.db.MediaRevocations(ctx, later, true); len(revs) != 1 || revs[0].VideoID != v[1].ID {
			t.Errorf("blocks of any age: read %+v", revs)
		}
		// Pruning forgets all but blocks; unblocking makes a block prunable.
		if err := w.db.PruneMediaRevocations(ctx, later); err != nil {
			t.Fatal(err)
		}
		if revs, _ := w.db.MediaRevocations(ctx, start, true); len(revs) != 1 || revs[0].VideoID != v[1].ID {
			t.Errorf("after pruning: %+v", revs)
		}
		if err := w.db.SetBlocked(ctx, v[1].ID, false); err != nil {
			t.Fatal(err)
		}
		if len(heard) != 5 || heard[4].Blocked {
			t.Errorf("unblock: heard %+v", heard[4:])
		}
		w.db.PruneMediaRevocations(ctx, time.Now().Add(time.Second))
		if revs, _ := w.db.MediaRevocations(ctx, start, true); len(revs) != 0 {
			t.Errorf("after unblocking and pruning: %+v", revs)
		}
		// A block of a video that does not exist changes nothing.
		if err := w.db.SetBlocked(ctx, 999999, true); reel.ErrorCode(err) != reel.ENOTFOUND || len(heard) != 5 {
			t.Errorf("blocking a missing video: %v, heard %d", err, len(heard))
		}
	})
}

// TestVideoCountShowsWhatTheViewerMaySee: others count an author's ready,
// public, unblocked videos wherever the author appears; the author counts
// what their own list shows: every one of their own but the blocked one and
// the one still uploading.
func TestVideoCountShowsWhatTheViewerMaySee(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 3, 2) // two ready public videos by users[0]
		ctx := t.Context()
		author, stranger := w.users[0].ID, w.users[1].ID
		w.readyVideo(t, author, reel.VisibilityPrivate)
		w.readyVideo(t, author, reel.VisibilityUnlisted)
		for _, status := range []string{reel.StatusProcessing, reel.StatusUploading} {
			if err := w.db.CreateVideo(ctx, &reel.Video{AuthorID: author, Visibility: reel.VisibilityPublic, Status: status}); err != nil {
				t.Fatal(err)
			}
		}
		failed := &reel.Video{AuthorID: author, Visibility: reel.VisibilityPublic, Status: reel.StatusUploading}
		w.db.CreateVideo(ctx, failed)
		w.db.SetProcessed(ctx, failed.ID, reel.Processed{Status: reel.StatusFailed, Error: ptr("not a video")})
		blocked := w.readyVideo(t, author, reel.VisibilityPublic)
		w.db.SetBlocked(ctx, blocked.ID, true)
		w.db.Follow(ctx, stranger, author)
		w.db.Follow(ctx, author, stranger)

		// counts collects the author's video_count from every place a viewer meets them.
		counts := func(viewer int64) map[string]int64 {
			got := map[string]int64{}
			got["profile"] = w.user(t, author, viewer).VideoCount
			got["video author"] = w.video(t, w.videos[0].ID, viewer).Author.VideoCount
			if feed, _, err := w.db.Feed(ctx, viewer, reel.Page{Limit: 10}); err == nil && len(feed) > 0 {
				got["feed author"] = feed[0].Author.VideoCount
			}
			if users, _, err := w.db.Followers(ctx, stranger, viewer, reel.Page{Limit: 10}); err == nil && len(users) == 1 {
				got["follower list"] = users[0].VideoCount
			}
			return got
		}
		for _, c := range []struct {
			name   string
			viewer int64
			want   int64
		}{
			{"anonymous", 0, 2},
			{"stranger", stranger, 2},
			{"author", author, 6},
		} {
			for where, n := range counts(c.viewer) {
				if n != c.want {
					t.Errorf("%s sees video_count %d in the %s, want %d", c.name, n, where, c.want)
				}
			}
			if len(counts(c.viewer)) != 4 {
				t.Errorf("%s: the author is missing somewhere: %v", c.name, counts(c.viewer))
			}
		}
		// Each change that lists or unlists a video moves the count.
		w.db.SetBlocked(ctx, blocked.ID, false)
		w.db.UpdateVideo(ctx, w.videos[0].ID, author, reel.VideoUpdate{Visibility: ptr(reel.VisibilityPrivate)})
		w.db.DeleteVideo(ctx, w.videos[1].ID, author)
		if n := w.user(t, author, stranger).VideoCount; n != 1 {
			t.Errorf("after unblocking one, hiding one and deleting one, others see %d, want 1", n)
		}
		if n := w.user(t, author, author).VideoCount; n != 6 {
			t.Errorf("after unblocking one and deleting one, the author sees %d, want 6", n)
		}
		if mine, _, err := w.db.ListUserVideos(ctx, author, author, "", 50); err != nil || len(mine) != 6 {
			t.Errorf("the author's own list has %d videos (%v), want the 6 of their count", len(mine), err)
		}
	})
}

// TestVideoCountUnderConcurrency: many concurrent changes to one author's
// videos leave the count others see exact.
func TestVideoCountUnderConcurrency(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 2, 12)
		ctx := t.Context()
		author := w.users[0].ID
		var wg sync.WaitGroup
		for i, v := range w.videos {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(i), 1))
				for range 6 {
					vis := []string{reel.VisibilityPublic, reel.VisibilityPrivate, reel.VisibilityUnlisted}[r.IntN(3)]
					if _, err := w.db.UpdateVideo(ctx, v.ID, author, reel.VideoUpdate{Visibility: &vis}); err != nil {
						t.Error(err)
					}
					if err := w.db.SetBlocked(ctx, v.ID, r.IntN(4) == 0); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		want := int64(0)
		for _, v := range w.videos {
			if got := w.video(t, v.ID, author); got.Visibility == reel.VisibilityPublic && !got.Blocked {
				want++
			}
		}
		if n := w.user(t, author, 0).VideoCount; n != want {
			t.Errorf("after concurrent changes others see %d videos, but %d are listed", n, want)
		}
	})
}
