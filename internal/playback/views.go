package playback

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Views counts video views: at most one per viewer per video per window
// (an hour), aggregated in memory and written in batches, so that a view
// costs no database write. Flush on shutdown loses none of them.
type Views struct {
	store  func(ctx context.Context, counts map[int64]int64) error
	window time.Duration
	max    int // viewer/video pairs remembered; past it, older ones are forgotten early
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	seen    map[viewKey]time.Time // when each pair may count again
	pending map[int64]int64
}

type viewKey struct {
	video  int64
	viewer string
}

// NewViews writes counts with store (PlaybackService.AddViews).
func NewViews(store func(ctx context.Context, counts map[int64]int64) error, log *slog.Logger) *Views {
	return &Views{store: store, window: time.Hour, max: 1_000_000, log: log, now: time.Now,
		seen: map[viewKey]time.Time{}, pending: map[int64]int64{}}
}

// Record counts a view of video by viewer ("u:<id>" for users, "a:<address>"
// otherwise) unless that viewer was counted within the window. It reports
// whether the view counted.
func (v *Views) Record(video int64, viewer string) bool {
	now := v.now()
	k := viewKey{video, viewer}
	v.mu.Lock()
	defer v.mu.Unlock()
	if until, ok := v.seen[k]; ok && now.Before(until) {
		return false
	}
	if len(v.seen) >= v.max {
		v.forgetExpired(now)
	}
	if len(v.seen) >= v.max {
		// Still full: a flood of distinct viewers. Memory stays bounded;
		// the price is that some repeat views may count twice.
		clear(v.seen)
	}
	v.seen[k] = now.Add(v.window)
	v.pending[video]++
	return true
}

func (v *Views) forgetExpired(now time.Time) {
	for k, until := range v.seen {
		if !now.Before(until) {
			delete(v.seen, k)
		}
	}
}

// Flush writes the pending counts. On failure they are kept for the next
// flush, added to whatever arrives meanwhile.
func (v *Views) Flush(ctx context.Context) error {
	v.mu.Lock()
	batch := v.pending
	v.pending = map[int64]int64{}
	v.forgetExpired(v.now())
	v.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := v.store(ctx, batch); err != nil {
		v.mu.Lock()
		for id, n := range batch {
			v.pending[id] += n
		}
		v.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every interval until ctx ends. The last views are written by
// a final Flush after the HTTP server has drained and Run has returned
// (serve does it), not here: requests still in flight when ctx ends may
// record views.
func (v *Views) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// A flush under way when shutdown begins must finish: cut off, its
			// batch could be lost, or counted twice if its commit got through.
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := v.Flush(flushCtx); err != nil {
				v.log.Warn("flush views", "err", err)
			}
			cancel()
		}
	}
}
