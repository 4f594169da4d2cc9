package cache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/cache"
	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
	"github.com/reel-video/reel/internal/testwait"
)

// flagStore counts the reads of viewers' flags, and runs during (once)
// inside the next one, after it read: a change committed while a read is
// under way.
type flagStore struct {
	*sqlstore.DB
	reads  atomic.Int32
	during atomic.Pointer[func()]
}

func (s *flagStore) ReadViewerFlags(ctx context.Context, viewerID int64, videoIDs, authorIDs []int64) (*reel.ViewerFlags, error) {
	s.reads.Add(1)
	f, err := s.DB.ReadViewerFlags(ctx, viewerID, videoIDs, authorIDs)
	if d := s.during.Swap(nil); d != nil {
		(*d)()
	}
	return f, err
}

// viewerNodes are a writer and a reader: the same node on its own, or two
// nodes sharing a Redis.
func viewerNodes(t *testing.T, url string, shared bool) (writer, reader *node, store *flagStore) {
	db := sqltest.OpenDB(t, url)
	store = &flagStore{DB: db}
	if !shared {
		n := newNodeOn(db, store, nil)
		return n, n, store
	}
	srv := redistest.Start(t)
	reader = newNodeOn(db, store, quietRedis(t, srv.URL))
	return newNode(t, url, quietRedis(t, srv.URL)), reader, store
}

// seen is what viewer sees of v on reader: in the feed and on the card,
// which must agree.
func seen(t *testing.T, reader *node, viewerID int64, v *reel.Video) *reel.Video {
	t.Helper()
	page, _, err := reader.reads.Feed(t.Context(), viewerID, reel.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	card, err := reader.reads.FindVideoByID(t.Context(), v.ID, viewerID)
	if err != nil {
		t.Fatal(err)
	}
	for _, fv := range page {
		if fv.ID == v.ID {
			if fv.IsLiked != card.IsLiked || fv.ResumePositionMS != card.ResumePositionMS ||
				fv.Author.IsFollowing != card.Author.IsFollowing || fv.Author.VideoCount != card.Author.VideoCount {
				t.Errorf("the feed shows %+v/%+v, the card %+v/%+v", *fv, *fv.Author, *card, *card.Author)
			}
			return card
		}
	}
	t.Fatalf("video %d is not in the feed", v.ID)
	return nil
}

// A viewer's flags are read once and kept, and each like, follow, watch
// position and change of their own videos made through the writer shows
// in the reader's very next answer (the reader's TTL is a minute).
func TestViewerFlagsFollowTheViewer(t *testing.T) {
	for _, shared := range []bool{false, true} {
		name := map[bool]string{false: "local", true: "redis"}[shared]
		t.Run(name, func(t *testing.T) {
			sqltest.Engines(t, func(t *testing.T, url string) {
				writer, reader, store := viewerNodes(t, url, shared)
				w := populate(t, writer.db)
				ctx := t.Context()
				v := w.videos[1]
				if got := seen(t, reader, w.b.ID, v); got.IsLiked || got.Author.IsFollowing || got.ResumePositionMS != 0 {
					t.Fatalf("before anything: %+v", got)
				}
				before := store.reads.Load()
				seen(t, reader, w.b.ID, v)
				if n := store.reads.Load() - before; n != 0 {
					t.Errorf("nothing changed, yet the flags were read %d more times", n)
				}

				steps := []struct {
					what  string
					do    func() error
					check func(*reel.Video) bool
				}{
					{"a like", func() error { return writer.db.Like(ctx, w.b.ID, v.ID) },
						func(v *reel.Video) bool { return v.IsLiked }},
					{"a follow", func() error { return writer.db.Follow(ctx, w.b.ID, w.a.ID) },
						func(v *reel.Video) bool { return v.IsLiked && v.Author.IsFollowing }},
					{"a watch position", func() error { return writer.db.SaveProgress(ctx, w.b.ID, v.ID, 1234) },
						func(v *reel.Video) bool { return v.ResumePositionMS == 1234 && v.Author.IsFollowing }},
					{"an unlike", func() error { return writer.db.Unlike(ctx, w.b.ID, v.ID) },
						func(v *reel.Video) bool { return !v.IsLiked && v.Author.IsFollowing }},
					{"an unfollow", func() error { return writer.db.Unfollow(ctx, w.b.ID, w.a.ID) },
						func(v *reel.Video) bool { return !v.IsLiked && !v.Author.IsFollowing }},
				}
				for _, s := range steps {
					if err := s.do(); err != nil {
						t.Fatalf("%s: %v", s.what, err)
					}
					if got := seen(t, reader, w.b.ID, v); !s.check(got) {
						t.Errorf("after %s the reader shows %+v by %+v", s.what, *got, *got.Author)
					}
				}

				// The author as viewer sees their own count, which a block changes.
				if got := seen(t, reader, w.a.ID, v); got.Author.VideoCount != 3 {
					t.Errorf("the author sees a count of %d, want 3", got.Author.VideoCount)
				}
				if err := writer.db.SetBlocked(ctx, w.videos[0].ID, true); err != nil {
					t.Fatal(err)
				}
				if got := seen(t, reader, w.a.ID, v); got.Author.VideoCount != 2 {
					t.Errorf("after a block the author sees a count of %d, want 2", got.Author.VideoCount)
				}
			})
		})
	}
}

// A change committed while the reader was reading the viewer's flags is
// in the reader's next answer: the copy that read stored cannot be served
// after it.
func TestViewerFlagsReadAcrossAChange(t *testing.T) {
	for _, shared := range []bool{false, true} {
		name := map[bool]string{false: "local", true: "redis"}[shared]
		t.Run(name, func(t *testing.T) {
			writer, reader, store := viewerNodes(t, sqltest.SQLiteURL(t), shared)
			w := populate(t, writer.db)
			v := w.videos[0]
			like := func() {
				if err := writer.db.Like(t.Context(), w.b.ID, v.ID); err != nil {
					t.Error(err)
				}
			}
			store.during.Store(&like)
			// Its read is before the like: either answer is right.
			if _, _, err := reader.reads.Feed(t.Context(), w.b.ID, reel.Page{Limit: 10}); err != nil {
				t.Fatal(err)
			}
			if store.during.Load() != nil {
				t.Fatal("the flags were not read")
			}
			if got := seen(t, reader, w.b.ID, v); !got.IsLiked {
				t.Error("a like committed during a read of the flags is missing from the next answer")
			}
		})
	}
}

// keeper is what the API needs of a node to keep a viewer's answer.
type keeper interface {
	FeedView(ctx context.Context, viewerID int64, p reel.Page) (cache.FeedView, error)
	Keep(view cache.FeedView, viewerID int64, limit int) (cache.Kept, bool)
	Still(ctx context.Context, viewerID int64, kept cache.Kept) bool
}

// keepView makes viewerID's view of the first page on k until it may be
// kept (its copies loaded and checked), and returns what it was kept under.
func keepView(t *testing.T, k keeper, viewerID int64) cache.Kept {
	t.Helper()
	var kept cache.Kept
	testwait.For(t, "a view that may be kept", 10*time.Second, time.Millisecond, func() bool {
		view, err := k.FeedView(t.Context(), viewerID, reel.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		kept, ok = k.Keep(view, viewerID, 10)
		return ok
	})
	return kept
}

// A kept view stays good while nothing it shows changes, and stops being
// good at once when anything does: the viewer's own likes and follows,
// anyone's like or comment on its videos, an edit, a block; through the
// same node alone or through another node sharing a Redis.
func TestKeptViews(t *testing.T) {
	for _, shared := range []bool{false, true} {
		name := "one node"
		if shared {
			name = "two nodes"
		}
		t.Run(name, func(t *testing.T) {
			sqltest.Engines(t, func(t *testing.T, url string) {
				writer, reader, _ := viewerNodes(t, url, shared)
				w := populate(t, writer.db)
				k := reader.reads.(keeper)
				ctx := t.Context()
				v := w.videos[1]
				title := "edited"
				steps := []struct {
					what string
					do   func() error
				}{
					{"the viewer's like", func() error { return writer.db.Like(ctx, w.b.ID, v.ID) }},
					{"the viewer's follow", func() error { return writer.db.Follow(ctx, w.b.ID, w.a.ID) }},
					{"another user's like", func() error { return writer.db.Like(ctx, w.a.ID, v.ID) }},
					{"a comment", func() error { _, err := writer.db.AddComment(ctx, w.a.ID, v.ID, "hi"); return err }},
					{"an edit", func() error {
						_, err := writer.db.UpdateVideo(ctx, v.ID, w.a.ID, reel.VideoUpdate{Title: &title})
						return err
					}},
					{"a block", func() error { return writer.db.SetBlocked(ctx, v.ID, true) }},
				}
				for _, s := range steps {
					kept := keepView(t, k, w.b.ID)
					for range 3 {
						if !k.Still(ctx, w.b.ID, kept) {
							t.Fatalf("before %s: a view kept while nothing changed is not still good", s.what)
						}
					}
					if err := s.do(); err != nil {
						t.Fatal(err)
					}
					if k.Still(ctx, w.b.ID, kept) {
						t.Errorf("after %s the kept view is still good", s.what)
					}
				}
			})
		})
	}
}

// A kept view is good no longer than the copies it was made of.
func TestKeptViewExpires(t *testing.T) {
	db := sqltest.OpenDB(t, sqltest.SQLiteURL(t))
	w := populate(t, db)
	c := cache.New(db, 50*time.Millisecond, 1000, 0)
	kept := keepView(t, c, w.b.ID)
	testwait.For(t, "the kept view to expire", 10*time.Second, 5*time.Millisecond, func() bool {
		return !c.Still(t.Context(), w.b.ID, kept)
	})
}
