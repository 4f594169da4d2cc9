package playback

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// BlockList answers "is this video blocked?" for every media request from
// memory. Each node reloads the whole (small) set of blocked ids every
// interval, so a block takes effect everywhere within that interval without
// a database query per segment; the node that handles the block applies it
// at once with Set.
type BlockList struct {
	load func(ctx context.Context) ([]int64, error)
	ids  atomic.Pointer[map[int64]struct{}]
	log  *slog.Logger
}

// NewBlockList reads the blocked ids with load.
func NewBlockList(load func(ctx context.Context) ([]int64, error), log *slog.Logger) *BlockList {
	b := &BlockList{load: load, log: log}
	b.ids.Store(&map[int64]struct{}{})
	return b
}

// Refresh reloads the set.
func (b *BlockList) Refresh(ctx context.Context) error {
	ids, err := b.load(ctx)
	if err != nil {
		return err
	}
	set := make(map[int64]struct{}, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	b.ids.Store(&set)
	return nil
}

// Run refreshes every interval until ctx ends. A failed refresh keeps the
// previous set: serving with a slightly stale list beats refusing to serve.
func (b *BlockList) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := b.Refresh(ctx); err != nil && ctx.Err() == nil {
				b.log.Warn("refresh blocked videos", "err", err)
			}
		}
	}
}

// Set applies a block or unblock on this node without waiting for Run.
func (b *BlockList) Set(id int64, blocked bool) {
	for {
		old := b.ids.Load()
		next := make(map[int64]struct{}, len(*old)+1)
		for k := range *old {
			next[k] = struct{}{}
		}
		if blocked {
			next[id] = struct{}{}
		} else {
			delete(next, id)
		}
		if b.ids.CompareAndSwap(old, &next) {
			return
		}
	}
}

// Blocked reports whether video id is blocked.
func (b *BlockList) Blocked(id int64) bool {
	_, ok := (*b.ids.Load())[id]
	return ok
}

// Allowed is the media handler's check (HandlerOptions.Allowed): a key of a
// blocked video ("videos/<id>/...") is refused.
func (b *BlockList) Allowed(_ context.Context, key string) bool {
	rest, ok := strings.CutPrefix(key, "videos/")
	if !ok {
		return true
	}
	idText, _, _ := strings.Cut(rest, "/")
	id, err := strconv.ParseInt(idText, 10, 64)
	return err != nil || !b.Blocked(id)
}
