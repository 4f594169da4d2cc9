package cache_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/cache"
	"github.com/reel-video/reel/internal/shared"
	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
	"github.com/reel-video/reel/internal/testwait"
)

// reads is what a node serves: cards, the first feed page and the
// generation its encoded anonymous answers key on.
type reads interface {
	FindVideoByID(ctx context.Context, id, viewerID int64) (*reel.Video, error)
	Feed(ctx context.Context, viewerID int64, p reel.Page) ([]*reel.Video, string, error)
	FeedGeneration() uint64
}

// node is one reel node: its own handle on the shared database, its own
// cache (a TTL of a minute: whatever it sees fresh, it did not get from
// expiry), coherent when r is not nil.
type node struct {
	db    *sqlstore.DB
	reads reads
}

func newNode(t *testing.T, url string, r *shared.Redis) *node {
	db := sqltest.OpenDB(t, url)
	return newNodeOn(db, db, r)
}

// newNodeOn is newNode reading through store, which wraps db.
func newNodeOn(db *sqlstore.DB, store cache.Store, r *shared.Redis) *node {
	db.SetQueue(fakeQueue{})
	c := cache.New(store, time.Minute, 1000, 0)
	n := &node{db: db, reads: c}
	db.SetOnVideoChange(c.VideoChanged)
	db.SetOnUserChange(c.UsersChanged)
	if r != nil {
		k := cache.Share(c, cache.NewVersions(r), time.Minute, 1000, nil)
		n.reads = k
		db.SetOnVideoChange(k.VideoChanged)
		db.SetOnUserChange(k.UsersChanged)
	}
	return n
}

func quietRedis(t *testing.T, url string) *shared.Redis { return redistest.Open(t, url) }

// twoNodes are nodes a and b on the database at url sharing a Redis of
// their own, and a world made through a.
func twoNodes(t *testing.T, url string) (*redistest.Server, *node, *node, world) {
	srv := redistest.Start(t)
	a := newNode(t, url, quietRedis(t, srv.URL))
	b := newNode(t, url, quietRedis(t, srv.URL))
	return srv, a, b, populate(t, a.db)
}

// world is two users and three ready videos of a's.
type world struct {
	a, b   *reel.User
	videos []*reel.Video
}

func populate(t *testing.T, db *sqlstore.DB) world {
	ctx := t.Context()
	var w world
	w.a, _ = db.CreateUser(ctx, "a", "h")
	w.b, _ = db.CreateUser(ctx, "b", "h")
	for range 3 {
		v := &reel.Video{AuthorID: w.a.ID, Status: reel.StatusReady, Visibility: reel.VisibilityPublic, Title: "t"}
		if err := db.CreateVideo(ctx, v); err != nil {
			t.Fatal(err)
		}
		w.videos = append(w.videos, v)
	}
	return w
}

// agrees checks, on reader, that video v shows likes and that its author
// (in the card, and in every card of the feed when reader is coherent)
// agrees with the profile the database gives. A cache alone refreshes
// only the cards of the videos that changed: the author in the author's
// other cards waits for their TTL.
func agrees(t *testing.T, reader *node, db *sqlstore.DB, v *reel.Video, likes int64, what string) {
	t.Helper()
	ctx := t.Context()
	card, err := reader.reads.FindVideoByID(ctx, v.ID, 0)
	if err != nil {
		t.Fatalf("%s: card: %v", what, err)
	}
	profile, err := db.FindUserByID(ctx, v.AuthorID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if card.LikeCount != likes {
		t.Errorf("%s: the card shows %d likes, want %d", what, card.LikeCount, likes)
	}
	if *card.Author != *profile {
		t.Errorf("%s: the card's author %+v disagrees with the profile %+v", what, *card.Author, *profile)
	}
	page, _, err := reader.reads.Feed(ctx, 0, reel.Page{Limit: 10})
	if err != nil {
		t.Fatalf("%s: feed: %v", what, err)
	}
	found := false
	_, coherent := reader.reads.(*cache.Coherent)
	for _, fv := range page {
		if (coherent || fv.ID == v.ID) && *fv.Author != *profile {
			t.Errorf("%s: the feed's author %+v disagrees with the profile %+v", what, *fv.Author, *profile)
		}
		if fv.ID == v.ID {
			found = true
			if fv.LikeCount != likes {
				t.Errorf("%s: the feed shows %d likes, want %d", what, fv.LikeCount, likes)
			}
		}
	}
	if !found {
		t.Errorf("%s: video %d is not in the feed", what, v.ID)
	}
}

// sameNodeContract holds for a cache alone and for a coherent one: what a
// node changes, it serves at once.
func sameNodeContract(t *testing.T, url string, r *shared.Redis) {
	n := newNode(t, url, r)
	w := populate(t, n.db)
	ctx := t.Context()
	v := w.videos[0]
	agrees(t, n, n.db, v, 0, "before")
	gen := n.reads.FeedGeneration()
	if err := n.db.Like(ctx, w.b.ID, v.ID); err != nil {
		t.Fatal(err)
	}
	if r != nil && n.reads.FeedGeneration() == gen {
		// (The cache alone keeps the generation for counts: its encoded
		// answers live a second.)
		t.Error("the feed generation did not move with a like")
	}
	agrees(t, n, n.db, v, 1, "after a like")
	if err := n.db.SetBlocked(ctx, v.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := n.reads.FindVideoByID(ctx, v.ID, 0); reel.ErrorCode(err) != reel.ENOTFOUND {
		t.Errorf("a blocked video's card: %v, want not found", err)
	}
}

func TestSameNodeContractLocal(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) { sameNodeContract(t, url, nil) })
}

func TestSameNodeContractRedis(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		srv := redistest.Start(t)
		sameNodeContract(t, url, quietRedis(t, srv.URL))
	})
}

// TestCoherentAcrossNodes: a like, an unlike, a follow, a comment, an edit,
// a block and a deletion made through node a show in node b's very next
// card and feed (its TTL is a minute), with b's authors agreeing with their
// profiles; Redis killed, both keep answering; restarted, they agree again.
func TestCoherentAcrossNodes(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		srv, a, b, w := twoNodes(t, url)
		ctx := t.Context()
		v := w.videos[1]
		agrees(t, b, b.db, v, 0, "before")
		gen := b.reads.FeedGeneration()

		steps := []struct {
			what  string
			do    func() error
			likes int64
		}{
			{"a like", func() error { return a.db.Like(ctx, w.b.ID, v.ID) }, 1},
			{"a follow", func() error { return a.db.Follow(ctx, w.b.ID, w.a.ID) }, 1},
			{"a comment", func() error { _, err := a.db.AddComment(ctx, w.b.ID, v.ID, "hi"); return err }, 1},
			{"an unlike", func() error { return a.db.Unlike(ctx, w.b.ID, v.ID) }, 0},
			{"an unfollow", func() error { return a.db.Unfollow(ctx, w.b.ID, w.a.ID) }, 0},
		}
		for _, s := range steps {
			if err := s.do(); err != nil {
				t.Fatalf("%s: %v", s.what, err)
			}
			if g := b.reads.FeedGeneration(); g == gen {
				t.Errorf("after %s b's feed generation did not move", s.what)
			} else {
				gen = g
			}
			agrees(t, b, b.db, v, s.likes, "after "+s.what)
		}
		comments, _ := b.reads.FindVideoByID(ctx, v.ID, 0)
		if comments.CommentCount != 1 {
			t.Errorf("b shows %d comments, want 1", comments.CommentCount)
		}

		title := "edited"
		if _, err := a.db.UpdateVideo(ctx, v.ID, w.a.ID, reel.VideoUpdate{Title: &title}); err != nil {
			t.Fatal(err)
		}
		if got, err := b.reads.FindVideoByID(ctx, v.ID, 0); err != nil || got.Title != title {
			t.Errorf("after an edit b shows %+v (%v)", got, err)
		}
		if err := a.db.SetBlocked(ctx, v.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := b.reads.FindVideoByID(ctx, v.ID, 0); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("after a block b's card: %v, want not found", err)
		}
		if inFeed(t, b, v.ID) {
			t.Error("after a block the video is still in b's feed")
		}
		gone := w.videos[2]
		if !inFeed(t, b, gone.ID) {
			t.Fatal("video missing from b's feed")
		}
		if err := a.db.DeleteVideo(ctx, gone.ID, w.a.ID); err != nil {
			t.Fatal(err)
		}
		if inFeed(t, b, gone.ID) {
			t.Error("after a deletion the video is still in b's feed")
		}
		if _, err := b.reads.FindVideoByID(ctx, gone.ID, 0); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("after a deletion b's card: %v, want not found", err)
		}

		// Redis killed: both nodes answer from their own state.
		srv.Kill()
		kept := w.videos[0]
		if err := a.db.Like(ctx, w.b.ID, kept.ID); err != nil {
			t.Fatalf("with Redis down, a like failed: %v", err)
		}
		for _, n := range []*node{a, b} {
			if _, err := n.reads.FindVideoByID(ctx, kept.ID, 0); err != nil {
				t.Fatalf("with Redis down, a card failed: %v", err)
			}
			if _, _, err := n.reads.Feed(ctx, 0, reel.Page{Limit: 10}); err != nil {
				t.Fatalf("with Redis down, the feed failed: %v", err)
			}
			n.reads.FeedGeneration()
		}
		// a's own change shows on a at once, as on one node.
		if got, _ := a.reads.FindVideoByID(ctx, kept.ID, 0); got.LikeCount != 1 {
			t.Errorf("with Redis down, a shows %d likes of its own like", got.LikeCount)
		}

		// Restarted empty: the new epoch retires every copy, and changes
		// are shared again once the breakers let calls through.
		srv.Restart()
		n := int64(1)
		testwait.For(t, "b to see a's likes again", 10*time.Second, 20*time.Millisecond, func() bool {
			var err error
			if n == 1 {
				err = a.db.Unlike(ctx, w.b.ID, kept.ID)
				n = 0
			} else {
				err = a.db.Like(ctx, w.b.ID, kept.ID)
				n = 1
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.reads.FindVideoByID(ctx, kept.ID, 0)
			return err == nil && got.LikeCount == n
		})
		agrees(t, b, b.db, kept, n, "after the restart")
	})
}

func inFeed(t *testing.T, n *node, id int64) bool {
	t.Helper()
	page, _, err := n.reads.Feed(t.Context(), 0, reel.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range page {
		if v.ID == id {
			return true
		}
	}
	return false
}

// TestCoherentUnderConcurrentReads: while readers keep b's copies busy
// (loads under way that a request may join), every answer b gives after a
// write through a has returned shows that write.
func TestCoherentUnderConcurrentReads(t *testing.T) {
	url := sqltest.SQLiteURL(t)
	_, a, b, w := twoNodes(t, url)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	v := w.videos[0]
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				b.reads.FindVideoByID(ctx, v.ID, 0)
				b.reads.Feed(ctx, 0, reel.Page{Limit: 10})
				b.reads.FeedGeneration()
			}
		}()
	}
	for i := range 100 {
		var err error
		want := int64(1 - i%2)
		if want == 1 {
			err = a.db.Like(t.Context(), w.b.ID, v.ID)
		} else {
			err = a.db.Unlike(t.Context(), w.b.ID, v.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
		card, err := b.reads.FindVideoByID(t.Context(), v.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		page, _, err := b.reads.Feed(t.Context(), 0, reel.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, fv := range page {
			if fv.ID == v.ID && (fv.LikeCount != want || fv.Author.LikedCount != want) {
				t.Fatalf("write %d: b's feed shows %d likes, author %d received, want %d", i, fv.LikeCount, fv.Author.LikedCount, want)
			}
		}
		if card.LikeCount != want || card.Author.LikedCount != want {
			t.Fatalf("write %d: b's card shows %d likes, author %d received, want %d", i, card.LikeCount, card.Author.LikedCount, want)
		}
	}
	cancel()
	for range 4 {
		<-done
	}
}

// gatedStore holds its first VideoCards load after the database has
// answered, until released: a load under way that predates a change.
type gatedStore struct {
	*sqlstore.DB
	once     sync.Once
	loaded   chan struct{}
	released chan struct{}
}

func (g *gatedStore) VideoCards(ctx context.Context, ids []int64) (map[int64]*reel.Video, error) {
	cards, err := g.DB.VideoCards(ctx, ids)
	g.once.Do(func() {
		close(g.loaded)
		<-g.released
	})
	return cards, err
}

// TestCoherentLoadJoinedAcrossAChange: a request on b that begins after a
// write through a has returned, while b is still loading the card from
// before the write (a load it joins, or whose result it then finds
// cached), answers with the write: the copy's tag predates the marks the
// request read, so it is dropped and loaded again.
func TestCoherentLoadJoinedAcrossAChange(t *testing.T) {
	url := sqltest.SQLiteURL(t)
	srv := redistest.Start(t)
	a := newNode(t, url, quietRedis(t, srv.URL))
	w := populate(t, a.db)
	gated := &gatedStore{DB: sqltest.OpenDB(t, url), loaded: make(chan struct{}), released: make(chan struct{})}
	b := cache.Share(cache.New(gated, time.Minute, 1000, 0), cache.NewVersions(quietRedis(t, srv.URL)), time.Minute, 1000, nil)
	ctx := t.Context()
	v := w.videos[0]

	first := make(chan error, 1)
	go func() { _, err := b.FindVideoByID(ctx, v.ID, 0); first <- err }()
	<-gated.loaded // the card, with no like, is read and held
	if err := a.db.Like(ctx, w.b.ID, v.ID); err != nil {
		t.Fatal(err)
	}
	before := markReads(t, srv)
	type answer struct {
		v   *reel.Video
		err error
	}
	second := make(chan answer, 1)
	go func() { got, err := b.FindVideoByID(ctx, v.ID, 0); second <- answer{got, err} }()
	// The second request has read the stamp or the marks (with the like)
	// while the old load is still held.
	testwait.For(t, "the second request to read the marks", 10*time.Second, time.Millisecond, func() bool {
		return markReads(t, srv) > before
	})
	close(gated.released)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	got := <-second
	if got.err != nil {
		t.Fatal(got.err)
	}
	if got.v.LikeCount != 1 || got.v.Author.LikedCount != 1 {
		t.Errorf("a request begun after the like got %d likes (author received %d), want 1", got.v.LikeCount, got.v.Author.LikedCount)
	}
}

// calls is how many times srv has run cmd.
func calls(t *testing.T, srv *redistest.Server, cmd string) int {
	t.Helper()
	info, err := srv.Client(t).Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(info, "cmdstat_"+cmd+":calls=")
	n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
	return n
}

// markReads is how many reads of the marks (MGET) or of the stamp alone
// (HMGET) srv has answered.
func markReads(t *testing.T, srv *redistest.Server) int {
	return calls(t, srv, "mget") + calls(t, srv, "hmget")
}

func mgets(t *testing.T, srv *redistest.Server) int  { return calls(t, srv, "mget") }
func hmgets(t *testing.T, srv *redistest.Server) int { return calls(t, srv, "hmget") }

// TestCoherentChecksBySequence: while nothing changes, a node whose copies
// were all checked against the marks reads the sequence only; a change
// through another node moves it on, and the very next answer shows the
// change.
func TestCoherentChecksBySequence(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		srv, a, b, w := twoNodes(t, url)
		ctx := t.Context()
		v := w.videos[1]
		k := b.reads.(*cache.Coherent)
		read := func() (card *reel.Video, inFeed *reel.Video) {
			view, err := k.FeedView(ctx, w.b.ID, reel.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, fv := range view.Videos() {
				if fv.ID == v.ID {
					inFeed = fv
				}
			}
			if card, err = k.FindVideoByID(ctx, v.ID, w.b.ID); err != nil {
				t.Fatal(err)
			}
			k.FeedGeneration()
			return card, inFeed
		}
		// The first reads load the copies and check them once.
		testwait.For(t, "b's copies to be checked", 10*time.Second, time.Millisecond, func() bool {
			before := mgets(t, srv)
			read()
			return mgets(t, srv) == before
		})
		before, stamps := mgets(t, srv), hmgets(t, srv)
		gen := k.FeedGeneration()
		for range 20 {
			read()
		}
		if n := mgets(t, srv) - before; n != 0 {
			t.Errorf("b read the marks %d times while nothing changed, want 0", n)
		}
		if hmgets(t, srv) == stamps {
			t.Error("b did not read the sequence")
		}
		if g := k.FeedGeneration(); g != gen {
			t.Errorf("the feed generation moved from %d to %d while nothing changed", gen, g)
		}

		steps := []struct {
			what  string
			do    func() error
			liked bool
		}{
			{"a like", func() error { return a.db.Like(ctx, w.b.ID, v.ID) }, true},
			{"an unlike", func() error { return a.db.Unlike(ctx, w.b.ID, v.ID) }, false},
			{"a like again", func() error { return a.db.Like(ctx, w.b.ID, v.ID) }, true},
		}
		for _, s := range steps {
			before := mgets(t, srv)
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			card, fv := read()
			want := int64(0)
			if s.liked {
				want = 1
			}
			if card.LikeCount != want || card.IsLiked != s.liked || card.Author.LikedCount != want {
				t.Errorf("after %s b's card shows %d likes, liked %v, author received %d", s.what, card.LikeCount, card.IsLiked, card.Author.LikedCount)
			}
			if fv == nil || fv.LikeCount != want || fv.IsLiked != s.liked {
				t.Errorf("after %s b's feed shows %+v", s.what, fv)
			}
			if mgets(t, srv) == before {
				t.Errorf("after %s b did not read the marks", s.what)
			}
			if g := k.FeedGeneration(); g == gen {
				t.Errorf("after %s the feed generation did not move", s.what)
			} else {
				gen = g
			}
		}
	})
}
