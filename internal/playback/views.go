package playback

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reel-video/reel/internal/shared"
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
	// shared, when set, holds the pairs for every node (see Share).
	shared *shared.Redis

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

// Share makes the pairs counted within the window the cluster's rather
// than this node's: each is SET NX with the window as its expiry in r, so
// one viewer's views through any nodes count once. While Redis is
// unavailable the node counts on its own pairs, as without it. Call it
// before serving.
func (v *Views) Share(r *shared.Redis) { v.shared = r }

// Record counts a view of video by viewer ("u:<id>" for users, "a:<address>"
// otherwise) unless that viewer was counted within the window. It reports
// whether the view counted.
func (v *Views) Record(video int64, viewer string) bool {
	now := v.now()
	k := viewKey{video, viewer}
	// The node's own pairs are asked first (a repeat through this node
	// costs no round trip) and kept with Redis too, so that an outage of
	// Redis does not count again what this node has counted.
	v.mu.Lock()
	counted := v.counted(k, now)
	v.mu.Unlock()
	if counted {
		return false
	}
	if first, err := v.firstShared(k); err == nil && !first {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.counted(k, now) { // by a concurrent Record on this node
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

// counted reports whether this node counted k within the window; v.mu is held.
func (v *Views) counted(k viewKey, now time.Time) bool {
	until, ok := v.seen[k]
	return ok && now.Before(until)
}

// firstShared reports whether k is new to the cluster within the window,
// and records it; an error (wrapping shared.ErrUnavailable) means the node
// must decide on its own.
func (v *Views) firstShared(k viewKey) (bool, error) {
	if v.shared == nil {
		return false, shared.ErrUnavailable
	}
	key := shared.Prefix + "view:" + strconv.FormatInt(k.video, 10) + ":" + k.viewer
	var first bool
	err := v.shared.Do(context.Background(), func(ctx context.Context, c *redis.Client) error {
		var err error
		first, err = c.SetNX(ctx, key, 1, v.window).Result()
		return err
	})
	if err != nil && !errors.Is(err, shared.ErrUnavailable) {
		// An answer that is not a failure of Redis (none is expected of
		// SET NX): decide locally all the same.
		err = errors.Join(shared.ErrUnavailable, err)
	}
	return first, err
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
