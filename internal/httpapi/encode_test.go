package httpapi

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/cache"
	"github.com/reel-video/reel/internal/playback"
)

// adminUsers knows one administrator.
type adminUsers struct {
	reel.UserService
	admin int64
}

func (u adminUsers) FindUserByID(_ context.Context, id, _ int64) (*reel.User, error) {
	return &reel.User{ID: id, IsAdmin: id == u.admin}, nil
}

// Hostile and ordinary texts: quotes, the very fields the parts are cut
// at, HTML characters encoding/json escapes, control characters, invalid
// UTF-8, line separators.
var texts = []string{"", "clip", `"is_following":false`, `x","is_following":false,"a":"`,
	`"is_liked":false,"resume_position_ms":0}`, `<script>&amp;</script>`, "tab\there\nnew", "\xff\xfe bad",
	"\u2028\u2029", `\"\\`, "日本語のタイトル", `{"}`}

func randomVideo(r *rand.Rand, stamp uint64) *reel.Video {
	pick := func() string { return texts[r.IntN(len(texts))] }
	authorID := int64(1 + r.IntN(3))
	v := &reel.Video{
		ID: int64(r.IntN(1000) + 1), AuthorID: authorID, Title: pick(), Description: pick(),
		Visibility: reel.VisibilityPublic, Status: reel.StatusReady, Error: pick(),
		DurationMS: r.Int64N(1e6), Width: 720, Height: 1280, CreatedAt: time.Unix(r.Int64N(2e9), r.Int64N(1e9)).UTC(),
		LikeCount: r.Int64N(100), CommentCount: r.Int64N(100), ViewCount: r.Int64N(1e9),
		IsLiked: r.IntN(2) == 0, ResumePositionMS: r.Int64N(3) * r.Int64N(60_000),
		CoverKey: "videos/7/cover.jpg", PlayKey: "videos/7/play.mp4", HLSKey: "videos/7/hls/master.m3u8",
		MediaGeneration: r.Int64N(3), Stamp: stamp,
		Author: &reel.User{ID: authorID, Username: pick(), CreatedAt: time.Unix(r.Int64N(2e9), 0).UTC(),
			FollowerCount: r.Int64N(10), VideoCount: r.Int64N(10), IsFollowing: r.IntN(2) == 0, AvatarURL: pick()},
	}
	if r.IntN(2) == 0 {
		v.SizeBytes, v.SHA256 = r.Int64N(1<<30)+1, "abcdef"
	}
	if r.IntN(2) == 0 {
		v.Renditions = []reel.Rendition{{Width: 720, Height: 1280, Bandwidth: 2_000_000}}
	}
	return v
}

// copyOf is what a cache hands each request: its own video and author.
func copyOf(v *reel.Video) *reel.Video {
	c := *v
	a := *v.Author
	c.Author = &a
	return &c
}

// The answer made of kept parts is the bytes encoding/json makes of the
// presented videos, for every viewer (anonymous, the author, another, an
// administrator), whether the parts were just made or kept, with texts
// that contain the fields the parts are cut at.
func TestEncodedVideos(t *testing.T) {
	gin.SetMode(gin.TestMode)
	base, err := newPublicBase("https://reel.example", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Deps: Deps{Users: adminUsers{admin: 9},
		URLs: &playback.URLs{Signer: playback.NewSigner([]byte("0123456789abcdef0123456789abcdef"), nil, time.Hour)}},
		base: base, encoded: newEncodedCards()}
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		cards := make([]*reel.Video, 1+r.IntN(5))
		for i := range cards {
			cards[i] = randomVideo(r, uint64(round*10+i+1))
		}
		for _, viewer := range []int64{0, 1, 5, 9} {
			ctx := func() *gin.Context {
				c, _ := gin.CreateTestContext(httptest.NewRecorder())
				req := httptest.NewRequest("GET", "/api/v1/feed", nil)
				c.Request = req.WithContext(context.WithValue(req.Context(), userIDKey, viewer))
				return c
			}
			copies := func() []*reel.Video {
				out := make([]*reel.Video, len(cards))
				for i, v := range cards {
					out[i] = copyOf(v)
					out[i].IsLiked, out[i].Author.IsFollowing = r.IntN(2) == 0, r.IntN(2) == 0
					out[i].ResumePositionMS = r.Int64N(2) * r.Int64N(1e6)
				}
				return out
			}
			for pass := range 2 { // the parts made, then kept
				videos := copies()
				c := ctx()
				want := make([]*reel.Video, len(videos))
				for i, v := range videos {
					want[i] = s.present(c, copyOf(v))
				}
				wantBody, err := json.Marshal(gin.H{"videos": want, "next_cursor": "next-\"<page>"})
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.encodeVideos(ctx(), videos, "next-\"<page>")
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(wantBody) {
					t.Fatalf("round %d, viewer %d, pass %d:\n got %s\nwant %s", round, viewer, pass, got, wantBody)
				}
			}
		}
	}
	if s.encoded.parts.EstimatedSize() == 0 {
		t.Error("no parts were kept")
	}
}

// fixedFeed serves the view a test sets.
type fixedFeed struct{ view cache.FeedView }

func (f *fixedFeed) FeedView(context.Context, int64, reel.Page) (cache.FeedView, error) {
	return f.view, nil
}

// A fixed view is never kept: each answer compares it with the last.
func (f *fixedFeed) Keep(cache.FeedView, int64, int) (cache.Kept, bool) { return cache.Kept{}, false }
func (f *fixedFeed) Still(context.Context, int64, cache.Kept) bool      { return false }

// A signed-in viewer's kept answer is served again only while it is made
// of the same cards and flags: new flags, a changed card or another viewer
// make a new one.
// feedServer is a server that answers viewers' feeds from feed, and the
// first card of each answer.
func feedServer(t *testing.T, feed feedViewer) func(viewer int64) map[string]any {
	gin.SetMode(gin.TestMode)
	base, err := newPublicBase("https://reel.example", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Deps: Deps{Users: adminUsers{},
		URLs: &playback.URLs{Signer: playback.NewSigner([]byte("0123456789abcdef0123456789abcdef"), nil, time.Hour)}},
		base: base, encoded: newEncodedCards(), feedAnswers: newFeedAnswers()}
	return func(viewer int64) map[string]any {
		t.Helper()
		rec := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(rec)
		req := httptest.NewRequest("GET", "/api/v1/feed", nil)
		c.Request = req.WithContext(context.WithValue(req.Context(), userIDKey, viewer))
		s.viewerFeed(c, feed, reel.Page{Limit: 20})
		var body struct{ Videos []map[string]any }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Videos) != 1 {
			t.Fatalf("answer %q: %v", rec.Body, err)
		}
		return body.Videos[0]
	}
}

func TestViewerFeedAnswers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	card := randomVideo(r, 1)
	card.AuthorID, card.Author.ID = 7, 7
	flags := func(viewer int64, liked bool) *reel.ViewerFlags {
		f := reel.NewViewerFlags(viewer, []int64{card.ID}, []int64{7})
		f.Liked[card.ID] = liked
		return f
	}
	feed := &fixedFeed{}
	answer := feedServer(t, feed)
	feed.view = cache.FeedView{Cards: []*reel.Video{card}, Flags: flags(1, true), FlagsStamp: 10}
	if v := answer(1); v["is_liked"] != true {
		t.Fatalf("viewer 1 likes it: %v", v["is_liked"])
	}
	if v := answer(1); v["is_liked"] != true {
		t.Errorf("the same view again: is_liked %v", v["is_liked"])
	}
	feed.view = cache.FeedView{Cards: []*reel.Video{card}, Flags: flags(1, false), FlagsStamp: 11}
	if v := answer(1); v["is_liked"] != false {
		t.Errorf("after viewer 1's unlike (new flags) the answer still says is_liked %v", v["is_liked"])
	}
	changed := copyOf(card)
	changed.LikeCount, changed.Stamp = card.LikeCount+5, 2
	feed.view = cache.FeedView{Cards: []*reel.Video{changed}, Flags: flags(1, false), FlagsStamp: 11}
	if v := answer(1); v["like_count"] != float64(changed.LikeCount) {
		t.Errorf("after the card changed the answer shows like_count %v, want %d", v["like_count"], changed.LikeCount)
	}
	feed.view = cache.FeedView{Cards: []*reel.Video{changed}, Flags: flags(2, true), FlagsStamp: 12}
	if v := answer(2); v["is_liked"] != true {
		t.Errorf("viewer 2 gets viewer 1's answer: is_liked %v", v["is_liked"])
	}
}

// keptFeed is a fixedFeed whose views may be kept within an era (the
// copies they are made of expire when it ends), counting the views made.
type keptFeed struct {
	fixedFeed
	era, keptEra, views int
}

func (f *keptFeed) FeedView(ctx context.Context, id int64, p reel.Page) (cache.FeedView, error) {
	f.views++
	return f.fixedFeed.FeedView(ctx, id, p)
}

func (f *keptFeed) Keep(cache.FeedView, int64, int) (cache.Kept, bool) {
	f.keptEra = f.era
	return cache.Kept{}, true
}

func (f *keptFeed) Still(context.Context, int64, cache.Kept) bool { return f.keptEra == f.era }

// A kept answer is served without a view while it is still good; once its
// copies expired, the same answer made of the new copies is kept again.
func TestViewerFeedAnswersKept(t *testing.T) {
	card := randomVideo(rand.New(rand.NewPCG(5, 6)), 1)
	feed := &keptFeed{}
	feed.view = cache.FeedView{Cards: []*reel.Video{card}, Flags: reel.NewViewerFlags(1, []int64{card.ID}, nil), FlagsStamp: 10}
	answer := feedServer(t, feed)
	for i := range 3 {
		answer(1)
		if feed.views != 1 {
			t.Fatalf("answer %d: %d views made, want 1 (the answer is kept)", i, feed.views)
		}
	}
	feed.era++ // its copies expired: made again, the same
	for i := range 3 {
		answer(1)
		if feed.views != 2 {
			t.Fatalf("after the expiry, answer %d: %d views made, want 2 (kept again)", i, feed.views)
		}
	}
}
