package playback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

func TestViewsCountOncePerViewerPerHour(t *testing.T) {
	var written []map[int64]int64
	v := NewViews(func(_ context.Context, c map[int64]int64) error {
		written = append(written, c)
		return nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := time.Unix(1_000_000, 0)
	v.now = func() time.Time { return now }

	for _, viewer := range []string{"u:1", "u:1", "u:2", "a:10.0.0.1", "a:10.0.0.1"} {
		v.Record(7, viewer)
	}
	v.Record(8, "u:1") // another video counts on its own
	now = now.Add(59 * time.Minute)
	if v.Record(7, "u:1") {
		t.Error("a repeat view within the hour counted")
	}
	now = now.Add(2 * time.Minute)
	if !v.Record(7, "u:1") {
		t.Error("a view after the hour did not count")
	}
	if err := v.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(written) != 1 || written[0][7] != 4 || written[0][8] != 1 {
		t.Errorf("flushed %v, want video 7: 4, video 8: 1", written)
	}
	if err := v.Flush(t.Context()); err != nil || len(written) != 1 {
		t.Errorf("an empty flush wrote %v (%v)", written, err)
	}
}

func TestViewsKeptWhenFlushFails(t *testing.T) {
	fail := true
	var got map[int64]int64
	v := NewViews(func(_ context.Context, c map[int64]int64) error {
		if fail {
			return errors.New("database down")
		}
		got = c
		return nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	v.Record(1, "u:1")
	if err := v.Flush(t.Context()); err == nil {
		t.Fatal("the failure was not reported")
	}
	v.Record(1, "u:2")
	fail = false
	if err := v.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got[1] != 2 {
		t.Errorf("after a failed flush, %v written, want both views of video 1", got)
	}
}

// Memory stays bounded under a flood of distinct viewers, and counting
// goes on.
func TestViewsMemoryBound(t *testing.T) {
	v := NewViews(func(context.Context, map[int64]int64) error { return nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	v.max = 100
	for i := range 1000 {
		if !v.Record(1, fmt.Sprintf("a:%d", i)) {
			t.Fatalf("view %d of a new viewer did not count", i)
		}
		if len(v.seen) > v.max {
			t.Fatalf("remembering %d viewers, bound is %d", len(v.seen), v.max)
		}
	}
	if v.pending[1] != 1000 {
		t.Errorf("%d views pending, want 1000", v.pending[1])
	}
}

func TestViewsConcurrent(t *testing.T) {
	var mu sync.Mutex
	total := int64(0)
	v := NewViews(func(_ context.Context, c map[int64]int64) error {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range c {
			total += n
		}
		return nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				v.Record(int64(i%5), fmt.Sprintf("u:%d-%d", g, i))
				if i%100 == 0 {
					v.Flush(context.Background())
				}
			}
		})
	}
	wg.Wait()
	v.Flush(context.Background())
	if total != 4000 {
		t.Errorf("%d views written, want 4000", total)
	}
}
