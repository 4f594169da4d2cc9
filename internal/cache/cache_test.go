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
)

type fakeQueue struct{}

func (fakeQueue) InsertProcessTx(context.Context, *sql.Tx, int64) (int64, error)    { return 1, nil }
func (fakeQueue) InsertDeleteFilesTx(context.Context, *sql.Tx, int64, string) error { return nil }
func (fakeQueue) CancelTx(context.Context, *sql.Tx, int64) error                    { return nil }
func (fakeQueue) Waiting(context.Context) (int, error)                              { return 0, nil }
func (fakeQueue) WaitingTx(context.Context, *sql.Tx) (int, error)                   { return 0, nil }

// countingStore counts the loads that reach the database.
type countingStore struct {
	*sqlstore.DB
	cards, feeds atomic.Int32
}

func (s *countingStore) VideoCard(ctx context.Context, id int64) (*reel.Video, error) {
	s.cards.Add(1)
	return s.DB.VideoCard(ctx, id)
}

func (s *countingStore) FeedPage(ctx context.Context, p reel.Page) ([]*reel.Video, string, error) {
	s.feeds.Add(1)
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
	t.Helper()
	db := sqltest.OpenDB(t, url)
	db.SetQueue(fakeQueue{})
	f := &fixture{db: db, store: &countingStore{DB: db}}
	f.cache = cache.New(f.store, ttl, 1000, 0)
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
