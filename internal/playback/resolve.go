package playback

import (
	"context"
	"sync"

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
// only for the first segment of a video, and while it is processing.
type Resolver struct {
	lookup OriginLookup
	mu     sync.Mutex
	known  map[int64]int64 // final answers: video id → origin (0: its own)
}

// maxResolved bounds the answers a Resolver keeps; past it they are
// dropped all at once and looked up again as they are asked for.
const maxResolved = 1 << 18

// NewResolver answers with lookup.
func NewResolver(lookup OriginLookup) *Resolver {
	return &Resolver{lookup: lookup, known: map[int64]int64{}}
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
	r.mu.Lock()
	origin, ok := r.known[id]
	r.mu.Unlock()
	if ok {
		return origin, nil
	}
	origin, final, err := r.lookup(ctx, id)
	if reel.ErrorCode(err) == reel.ENOTFOUND {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if final {
		r.mu.Lock()
		if len(r.known) >= maxResolved {
			clear(r.known)
		}
		r.known[id] = origin
		r.mu.Unlock()
	}
	return origin, nil
}
