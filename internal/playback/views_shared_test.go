package playback

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/shared"
	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/testwait"
)

// counter collects what a Views writes.
type counter struct {
	mu    sync.Mutex
	total map[int64]int64
}

func (c *counter) add(_ context.Context, counts map[int64]int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, n := range counts {
		c.total[id] += n
	}
	return nil
}

func (c *counter) of(id int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total[id]
}

func newCountedViews(r *shared.Redis) (*Views, *counter) {
	c := &counter{total: map[int64]int64{}}
	v := NewViews(c.add, slog.New(slog.NewTextHandler(io.Discard, nil)))
	v.Share(r)
	return v, c
}

// viewsContract is what every Views keeps, in-process (r nil) or on Redis:
// one count per viewer per video per window.
func viewsContract(t *testing.T, r *shared.Redis) {
	v, c := newCountedViews(r)
	for _, viewer := range []string{"u:1", "u:1", "u:2", "a:10.0.0.1", "a:10.0.0.1"} {
		v.Record(7, viewer)
	}
	if v.Record(7, "u:2") {
		t.Error("a repeat view counted")
	}
	if !v.Record(8, "u:1") {
		t.Error("a view of another video did not count")
	}
	if err := v.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c.of(7) != 3 || c.of(8) != 1 {
		t.Errorf("counted %v, want video 7: 3, video 8: 1", c.total)
	}
}

func TestViewsContractLocal(t *testing.T) { viewsContract(t, nil) }

func TestViewsContractRedis(t *testing.T) {
	srv := redistest.Start(t)
	viewsContract(t, openRedis(t, srv.URL))
}

func openRedis(t *testing.T, url string) *shared.Redis { return redistest.Open(t, url) }

// TestViewsAcrossNodes: two nodes on one Redis count one viewer's views
// once between them; with Redis killed each counts on its own and no
// Record fails; restarted, they share again.
func TestViewsAcrossNodes(t *testing.T) {
	srv := redistest.Start(t)
	a, ca := newCountedViews(openRedis(t, srv.URL))
	b, cb := newCountedViews(openRedis(t, srv.URL))
	if !a.Record(1, "u:5") {
		t.Fatal("the first view did not count")
	}
	if b.Record(1, "u:5") || a.Record(1, "u:5") {
		t.Error("a repeat view through another node counted")
	}
	if !b.Record(1, "u:6") {
		t.Error("another viewer's view did not count")
	}

	srv.Kill()
	// Each node decides alone: a's own viewer stays counted, b counts u:5
	// once (it never counted it itself).
	if a.Record(1, "u:5") {
		t.Error("with Redis down, a counted its own viewer again")
	}
	if !b.Record(2, "u:5") || b.Record(2, "u:5") {
		t.Error("with Redis down, b did not count once on its own")
	}

	srv.Restart()
	// Once the breakers let calls through again, the nodes share: of one
	// viewer's first views of a video through a and b, only a's counts.
	video := int64(100)
	testwait.For(t, "the nodes to share their views again", 10*time.Second, 20*time.Millisecond, func() bool {
		video++
		return a.Record(video, "u:9") && !b.Record(video, "u:9")
	})
	for _, v := range []*Views{a, b} {
		if err := v.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := ca.of(1) + cb.of(1); got != 2 {
		t.Errorf("video 1 counted %d times over both nodes, want 2 (u:5 and u:6)", got)
	}
}
