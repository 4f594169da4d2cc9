package playback

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reel-video/reel"
)

// OriginLookup returns the video whose shared outputs video id serves (0:
// its own) and whether that answer can never change (sqlstore.DB.MediaOf).
type OriginLookup func(ctx context.Context, id int64) (origin int64, final bool, err error)

// Resolver maps the keys of a video that reuses the outputs of an
// identical upload (its origin) to the origin's objects: a shared output
// (reel.SharedOutput) such as videos/X/hls/720p/seg_001.m4s is served from
// videos/O/hls/720p/seg_001.m4s. Its Resolve is HandlerOptions.Resolve.
//
// Final answers are kept in memory: a video takes an origin once, while it
// is processing, and never changes it, so a media request costs a lookup
// only for the first segment of a video. Answers that may still change
// (a video processing, whose early playlists viewers poll) are kept for
// pendingTTL: a video can take an origin only at the start of an attempt,
// before it has outputs of its own to serve, so for that long an older
// answer serves what it would have served anyway, and the database sees
// one lookup per video and node, not one per segment and viewer.
type Resolver struct {
	lookup OriginLookup
	now    func() time.Time
	// pending holds answers that may change, video id → pendingAnswer.
	pending     sync.Map
	pendingSize atomic.Int64
	// known holds the final answers, video id → origin (0: its own): a
	// sync.Map, read without a lock by every media request, written once
	// per video. size counts them, roughly: the bound need not be exact.
	known sync.Map
	size  atomic.Int64
}

// maxResolved bounds the answers a Resolver keeps (final and pending
// alike); past it they are dropped all at once and looked up again as
// they are asked for.
const maxResolved = 1 << 18

// pendingTTL is how long an answer that may still change is kept.
const pendingTTL = 2 * time.Second

type pendingAnswer struct {
	origin int64
	until  time.Time
}

// NewResolver answers with lookup.
func NewResolver(lookup OriginLookup) *Resolver {
	return &Resolver{lookup: lookup, now: time.Now}
}

// Resolve returns the key of the object that answers for key. A video that
// no longer exists keeps its own keys (its URLs are refused before, and
// its objects are gone or going).
func (r *Resolver) Resolve(ctx context.Context, key string) (string, error) {
	id, rest, ok := reel.SplitVideoKey(key)
	if !ok || !reel.SharedOutput(rest) {
		return key, nil
	}
	origin, err := r.origin(ctx, id)
	if err != nil || origin == 0 {
		return key, err
	}
	return reel.VideoKeyPrefix(origin) + rest, nil
}

func (r *Resolver) origin(ctx context.Context, id int64) (int64, error) {
	if origin, ok := r.known.Load(id); ok {
		return origin.(int64), nil
	}
	if p, ok := r.pending.Load(id); ok && r.now().Before(p.(pendingAnswer).until) {
		return p.(pendingAnswer).origin, nil
	}
	origin, final, err := r.lookup(ctx, id)
	if reel.ErrorCode(err) == reel.ENOTFOUND {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if final {
		if r.size.Load() >= maxResolved {
			r.known.Clear()
			r.size.Store(0)
		}
		if _, had := r.known.LoadOrStore(id, origin); !had {
			r.size.Add(1)
		}
		r.pending.Delete(id)
		return origin, nil
	}
	if r.pendingSize.Load() >= maxResolved {
		r.pending.Clear()
		r.pendingSize.Store(0)
	}
	if _, had := r.pending.Swap(id, pendingAnswer{origin, r.now().Add(pendingTTL)}); !had {
		r.pendingSize.Add(1)
	}
	return origin, nil
}
