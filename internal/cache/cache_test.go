package cache_test

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/cache"
	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
	"github.com/reel-video/reel/internal/testwait"
)

type fakeQueue struct{}

func (fakeQueue) InsertProcessTx(context.Context, *sql.Tx, int64) (int64, error)    { return 1, nil }
func (fakeQueue) InsertDeleteFilesTx(context.Context, *sql.Tx, int64, string) error { return nil }
func (fakeQueue) CancelTx(context.Context, *sql.Tx, int64) error                    { return nil }
func (fakeQueue) Waiting(context.Context) (int, error)                              { return 0, nil }
func (fakeQueue) WaitingTx(context.Context, *sql.Tx) (int, error)                   { return 0, nil }

// countingStore counts the loads that reach the database; while down, the
// loads fail as an unreachable database's do.
type countingStore struct {
	*sqlstore.DB
	cards, feeds atomic.Int32
	down         atomic.Bool
	hang         atomic.Bool // loads wait for their context to end
}

var errDown = reel.Errorf(reel.EUNAVAILABLE, "the database is unreachable; try again shortly")

func (s *countingStore) VideoCard(ctx context.Context, id int64) (*reel.Video, error) {
	s.cards.Add(1)
	if s.hang.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if s.down.Load() {
		return nil, errDown
	}
	return s.DB.VideoCard(ctx, id)
}

func (s *countingStore) VideoCards(ctx context.Context, ids []int64) (map[int64]*reel.Video, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.DB.VideoCards(ctx, ids)
}

func (s *countingStore) FeedPage(ctx context.Context, p reel.Page) ([]*reel.Video, string, error) {
	s.feeds.Add(1)
	if s.hang.Load() {
		<-ctx.Done()
		return nil, "", ctx.Err()
	}
	if s.down.Load() {
		return nil, "", errDown
	}
	return s.DB.FeedPage(ctx, p)
}

type fixture struct {
	db     *sqlstore.DB
	store  *countingStore
	cache  *cache.Cache
	a, b   *reel.User
	videos []*reel.Video
}

func setup(t *testing.T, url string, ttl time.Duration) *fixture {
	return setupStale(t, url, ttl, 0)
}

// setupStale keeps the last good copies for staleFor.
func setupStale(t *testing.T, url string, ttl, staleFor time.Duration) *fixture {
	t.Helper()
	db := sqltest.OpenDB(t, url)
	db.SetQueue(fakeQueue{})
	f := &fixture{db: db, store: &countingStore{DB: db}}
	f.cache = cache.New(f.store, ttl, 1000, staleFor)
	db.SetOnVideoChange(f.cache.VideoChanged)
	ctx := t.Context()
	f.a, _ = db.CreateUser(ctx, "a", "h")
	f.b, _ = db.CreateUser(ctx, "b", "h")
	for range 3 {
		v := &reel.Video{AuthorID: f.a.ID, Status: reel.StatusUploading, Visibility: reel.VisibilityPublic}
		if err := db.CreateVideo(ctx, v); err != nil {
			t.Fatal(err)
		}
		db.SetProcessed(ctx, v.ID, reel.Processed{Status: reel.StatusReady})
		f.videos = append(f.videos, v)
	}
	return f
}

// A stampede of viewers on a cold card loads it once, and each gets its
// own flags.
func TestStampedeLoadsOnceAndFlagsStayPerViewer(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		f := setup(t, url, time.Minute)
		ctx := t.Context()
		v := f.videos[0]
		if err := f.db.Like(ctx, f.b.ID, v.ID); err != nil {
			t.Fatal(err)
		}
		f.store.cards.Store(0)
		var wg sync.WaitGroup
		var wrong atomic.Int32
		for i := range 64 {
			viewer := []int64{0, f.a.ID, f.b.ID}[i%3]
			wg.Go(func() {
				got, err := f.cache.FindVideoByID(ctx, v.ID, viewer)
				if err != nil || got.IsLiked != (viewer == f.b.ID) || got.LikeCount != 1 {
					wrong.Add(1)
				}
			})
		}
		wg.Wait()
		if n := f.store.cards.Load(); n != 1 {
			t.Errorf("%d loads for 64 concurrent reads of one card, want 1", n)
		}
		if wrong.Load() != 0 {
			t.Errorf("%d reads got another viewer's flags or a wrong count", wrong.Load())
		}

		f.store.feeds.Store(0)
		for i := range 32 {
			viewer := []int64{0, f.b.ID}[i%2]
			wg.Go(func() {
				videos, _, err := f.cache.Feed(ctx, viewer, reel.Page{Limit: 20})
				if err != nil || len(videos) != 3 {
					wrong.Add(1)
					return
				}
				for _, got := range videos {
					if got.IsLiked != (viewer == f.b.ID && got.ID == v.ID) {
						wrong.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if n := f.store.feeds.Load(); n != 1 {
			t.Errorf("%d loads of the feed's first page for 32 readers, want 1", n)
		}
		if wrong.Load() != 0 {
			t.Error("feed readers got another viewer's flags")
		}
	})
}

// A change on this node is visible at once: status, visibility, blocking,
// deletion, and counts.
func TestChangesInvalidate(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		f := setup(t, url, time.Hour) // only invalidation can refresh within the test
		ctx := t.Context()
		v := f.videos[0]
		feedIDs := func() []int64 {
			videos, _, err := f.cache.Feed(ctx, f.b.ID, reel.Page{Limit: 20})
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, x := range videos {
				ids = append(ids, x.ID)
			}
			return ids
		}
		if got := feedIDs(); len(got) != 3 {
			t.Fatalf("feed %v", got)
		}
		if _, err := f.cache.FindVideoByID(ctx, v.ID, f.b.ID); err != nil {
			t.Fatal(err)
		}

		f.db.AddComment(ctx, f.b.ID, v.ID, "hi")
		if got, _ := f.cache.FindVideoByID(ctx, v.ID, f.b.ID); got.CommentCount != 1 {
			t.Errorf("comment_count %d after a comment", got.CommentCount)
		}
		private := reel.VisibilityPrivate
		if _, err := f.db.UpdateVideo(ctx, v.ID, f.a.ID, reel.VideoUpdate{Visibility: &private}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.cache.FindVideoByID(ctx, v.ID, f.b.ID); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("a video made private is still served to others: %v", err)
		}
		if got := feedIDs(); len(got) != 2 {
			t.Errorf("feed after making one private: %v", got)
		}
		f.db.SetBlocked(ctx, f.videos[1].ID, true)
		if got := feedIDs(); len(got) != 1 {
			t.Errorf("feed after a block: %v", got)
		}
		f.db.DeleteVideo(ctx, f.videos[2].ID, f.a.ID)
		if got := feedIDs(); len(got) != 0 {
			t.Errorf("feed after a delete: %v", got)
		}
		if _, err := f.cache.FindVideoByID(ctx, f.videos[2].ID, f.a.ID); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("a deleted video is still served: %v", err)
		}
	})
}

// A change this node was not told of (made by another node) shows once the
// short TTL ends.
func TestTTLCoversOtherNodes(t *testing.T) {
	f := setup(t, sqltest.SQLiteURL(t), 50*time.Millisecond)
	ctx := t.Context()
	v := f.videos[0]
	if got, _ := f.cache.FindVideoByID(ctx, v.ID, 0); got.LikeCount != 0 {
		t.Fatal("unexpected likes")
	}
	f.db.SetOnVideoChange(nil) // the like below happens "elsewhere"
	f.db.Like(ctx, f.b.ID, v.ID)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := f.cache.FindVideoByID(ctx, v.ID, 0)
		if err == nil && got.LikeCount == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the cached card never expired")
		}
		<-time.After(10 * time.Millisecond)
	}
}

// While the database is unavailable, the last good copies of the feed's
// first page and of cards are served to callers that can say so, with
// their age; a change that hides a video drops them; callers without a
// mark get the error.
func TestStaleWhileDatabaseUnavailable(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		// A TTL of a nanosecond: every read goes to the store.
		f := setupStale(t, url, time.Nanosecond, time.Hour)
		ctx := t.Context()
		fresh, mark := cache.WithStaleMark(ctx)
		if videos, _, err := f.cache.Feed(fresh, 0, reel.Page{Limit: 20}); err != nil || len(videos) != 3 {
			t.Fatalf("feed: %d videos, %v", len(videos), err)
		}
		if _, err := f.cache.FindVideoByID(fresh, f.videos[0].ID, 0); err != nil {
			t.Fatal(err)
		}
		if _, stale := mark.Age(); stale {
			t.Error("answers read from the database are marked stale")
		}

		f.store.down.Store(true)
		if _, err := f.cache.FindVideoByID(ctx, f.videos[0].ID, 0); reel.ErrorCode(err) != reel.EUNAVAILABLE {
			t.Errorf("a caller without a stale mark: %v, want the database's error", err)
		}
		if _, _, err := f.cache.Feed(ctx, 0, reel.Page{Limit: 20}); reel.ErrorCode(err) != reel.EUNAVAILABLE {
			t.Errorf("feed for a caller without a stale mark: %v, want the database's error", err)
		}
		staleCtx, mark := cache.WithStaleMark(ctx)
		v, err := f.cache.FindVideoByID(staleCtx, f.videos[0].ID, 0)
		if err != nil || v.ID != f.videos[0].ID {
			t.Fatalf("card while the database is down: %v, %v", v, err)
		}
		if age, stale := mark.Age(); !stale || age < 0 || age > time.Hour {
			t.Errorf("card served stale: mark %v %v", age, stale)
		}
		staleCtx, mark = cache.WithStaleMark(ctx)
		if videos, _, err := f.cache.Feed(staleCtx, 0, reel.Page{Limit: 20}); err != nil || len(videos) != 3 {
			t.Errorf("feed while the database is down: %d videos, %v", len(videos), err)
		}
		if _, stale := mark.Age(); !stale {
			t.Error("feed served stale is not marked")
		}
		// A signed-in viewer's answer is never stale: it needs the database.
		signed, mark := cache.WithStaleMark(ctx)
		if _, err := f.cache.FindVideoByID(signed, f.videos[0].ID, f.b.ID); reel.ErrorCode(err) != reel.EUNAVAILABLE {
			t.Errorf("a signed-in card while the database is down: %v, want the database's error", err)
		}
		if _, _, err := f.cache.Feed(signed, f.b.ID, reel.Page{Limit: 20}); reel.ErrorCode(err) != reel.EUNAVAILABLE {
			t.Errorf("a signed-in feed while the database is down: %v, want the database's error", err)
		}
		if _, stale := mark.Age(); stale {
			t.Error("a signed-in answer was made of stale copies")
		}
		// A page of another size was never read: nothing to serve.
		if _, _, err := f.cache.Feed(staleCtx, 0, reel.Page{Limit: 5}); reel.ErrorCode(err) != reel.EUNAVAILABLE {
			t.Errorf("a page never read: %v, want the database's error", err)
		}

		// A block (made through a connection that still works) drops the
		// copies that would show the video.
		if err := f.db.SetBlocked(ctx, f.videos[1].ID, true); err != nil {
			t.Fatal(err)
		}
		staleCtx, _ = cache.WithStaleMark(ctx)
		if _, err := f.cache.FindVideoByID(staleCtx, f.videos[1].ID, 0); reel.ErrorCode(err) != reel.EUNAVAILABLE {
			t.Errorf("the card of a video blocked since: %v, want the database's error", err)
		}
		if _, _, err := f.cache.Feed(staleCtx, 0, reel.Page{Limit: 20}); reel.ErrorCode(err) != reel.EUNAVAILABLE {
			t.Errorf("a feed page that listed a video blocked since: %v, want the database's error", err)
		}
		// A change of counts keeps the copy.
		if err := f.db.Like(ctx, f.b.ID, f.videos[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.cache.FindVideoByID(staleCtx, f.videos[0].ID, 0); err != nil {
			t.Errorf("a card whose counts changed is no longer served stale: %v", err)
		}

		// Back: fresh answers, unmarked.
		f.store.down.Store(false)
		fresh, mark = cache.WithStaleMark(ctx)
		if videos, _, err := f.cache.Feed(fresh, 0, reel.Page{Limit: 20}); err != nil || len(videos) != 2 {
			t.Errorf("feed after the outage: %d videos, %v", len(videos), err)
		}
		if _, stale := mark.Age(); stale {
			t.Error("the feed after the outage is marked stale")
		}
	})
}

// A last good copy older than staleFor is not served.
func TestStaleCopiesExpire(t *testing.T) {
	f := setupStale(t, sqltest.SQLiteURL(t), time.Nanosecond, 50*time.Millisecond)
	ctx, _ := cache.WithStaleMark(t.Context())
	if _, _, err := f.cache.Feed(ctx, 0, reel.Page{Limit: 20}); err != nil {
		t.Fatal(err)
	}
	f.store.down.Store(true)
	if _, _, err := f.cache.Feed(ctx, 0, reel.Page{Limit: 20}); err != nil {
		t.Fatalf("feed right after the database went down: %v", err)
	}
	var err error
	testwait.For(t, "the stale feed to be refused", 10*time.Second, 10*time.Millisecond, func() bool {
		_, _, err = f.cache.Feed(ctx, 0, reel.Page{Limit: 20})
		return err != nil
	})
	if reel.ErrorCode(err) != reel.EUNAVAILABLE {
		t.Errorf("feed past staleFor: %v, want the database's error", err)
	}

	// With staleFor 0, nothing is kept.
	off := setupStale(t, sqltest.SQLiteURL(t), time.Nanosecond, 0)
	if _, _, err := off.cache.Feed(ctx, 0, reel.Page{Limit: 20}); err != nil {
		t.Fatal(err)
	}
	off.store.down.Store(true)
	if _, _, err := off.cache.Feed(ctx, 0, reel.Page{Limit: 20}); reel.ErrorCode(err) != reel.EUNAVAILABLE {
		t.Errorf("feed with staleFor 0: %v, want the database's error", err)
	}
}

// A database that hangs instead of refusing: a read with a last good copy
// waits SlowRead for it, then is served the copy, marked, well before its
// deadline; a read without a mark waits for the database.
func TestStaleWhileDatabaseHangs(t *testing.T) {
	f := setupStale(t, sqltest.SQLiteURL(t), time.Nanosecond, time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	fresh, _ := cache.WithStaleMark(ctx)
	if _, _, err := f.cache.Feed(fresh, 0, reel.Page{Limit: 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cache.FindVideoByID(fresh, f.videos[0].ID, 0); err != nil {
		t.Fatal(err)
	}
	f.store.hang.Store(true)
	staleCtx, mark := cache.WithStaleMark(ctx)
	if videos, _, err := f.cache.Feed(staleCtx, 0, reel.Page{Limit: 20}); err != nil || len(videos) != 3 {
		t.Errorf("feed while the database hangs: %d videos, %v", len(videos), err)
	}
	if _, err := f.cache.FindVideoByID(staleCtx, f.videos[0].ID, 0); err != nil {
		t.Errorf("card while the database hangs: %v", err)
	}
	if _, stale := mark.Age(); !stale {
		t.Error("answers served while the database hangs are not marked")
	}
	if err := ctx.Err(); err != nil {
		t.Errorf("the reads waited for their deadline: %v", err)
	}
	short, cancelShort := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancelShort()
	if _, err := f.cache.FindVideoByID(short, f.videos[0].ID, 0); err == nil {
		t.Error("a read without a stale mark was served while the database hangs")
	}
}
