package playback

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reel-video/reel"
)

// Revocations answers "may this signed URL still be served?" for every media
// request from memory: a URL of a blocked or deleted video may not, nor one
// signed for a media generation its video has moved past (the video was made
// private). Each node keeps a copy of the revocations and reads what changed
// since its last read every interval, so a revocation made on any node takes
// effect everywhere within that interval without a database query per
// segment; the node that makes it applies it at once (Apply).
//
// The copy stays small: besides blocked videos it keeps a revocation only
// while a URL it revokes can still be unexpired (keep), so its size follows
// the rate of revocations, not the number of videos.
type Revocations struct {
	store RevocationStore
	keep  time.Duration
	log   *slog.Logger
	now   func() time.Time

	state atomic.Pointer[map[int64]reel.MediaRevocation]
	mu    sync.Mutex // serialises updates of state and the fields below
	since time.Time  // what the next incremental read starts from; zero before the first read
	// changed hears of each video whose revocation changed, after the
	// change took effect (OnChange).
	changed func(videoID int64)
}

// OnChange registers fn to hear of every video whose revocation this node
// learns of, after it is in force: caches of the video's card drop it, so
// that its new visibility shows here as soon as its URLs stop. Set it
// before Refresh and Run.
func (r *Revocations) OnChange(fn func(videoID int64)) { r.changed = fn }

// RevocationStore is where revocations are kept (the SQL store).
type RevocationStore interface {
	MediaRevocations(ctx context.Context, since time.Time, blocked bool) ([]reel.MediaRevocation, error)
	PruneMediaRevocations(ctx context.Context, before time.Time) error
}

// revocationOverlap is how far back each incremental read reaches before the
// previous one started. A revocation is stamped by the node that makes it
// before its transaction commits, so it can become visible later than
// rows stamped after it; the overlap covers that and clock skew between
// nodes. Reading a revocation twice is harmless.
const revocationOverlap = time.Minute

// NewRevocations reads revocations from store. keep is the longest a signed
// URL can live (Signer.MaxLifetime) plus a margin for clock skew: after that,
// every URL a revocation refused has expired anyway.
func NewRevocations(store RevocationStore, keep time.Duration, log *slog.Logger) *Revocations {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Revocations{store: store, keep: keep, log: log, now: time.Now}
	r.state.Store(&map[int64]reel.MediaRevocation{})
	return r
}

// Refresh reads what changed since the last read; the first read loads every
// revocation that still matters.
func (r *Revocations) Refresh(ctx context.Context) error {
	r.mu.Lock()
	since, full := r.since, r.since.IsZero()
	r.mu.Unlock()
	start := r.now()
	if full {
		since = start.Add(-r.keep)
	}
	rows, err := r.store.MediaRevocations(ctx, since, full)
	if err != nil {
		return err
	}
	forgotten := func(rev reel.MediaRevocation) bool {
		return !rev.Blocked && rev.ChangedAt.Before(start.Add(-r.keep))
	}
	// Most reads of a quiet second change nothing: the copy is not rebuilt.
	if len(rows) > 0 || anyOf(*r.state.Load(), forgotten) {
		r.update(func(m map[int64]reel.MediaRevocation) (changed []int64) {
			for _, rev := range rows {
				old, had := m[rev.VideoID]
				m[rev.VideoID] = merge(old, rev)
				if !had || m[rev.VideoID] != old {
					changed = append(changed, rev.VideoID)
				}
			}
			for id, rev := range m {
				if forgotten(rev) {
					delete(m, id)
				}
			}
			return changed
		})
	}
	r.mu.Lock()
	r.since = start.Add(-revocationOverlap)
	r.mu.Unlock()
	return nil
}

func anyOf(m map[int64]reel.MediaRevocation, f func(reel.MediaRevocation) bool) bool {
	for _, rev := range m {
		if f(rev) {
			return true
		}
	}
	return false
}

// Run refreshes every interval until ctx ends, and every pruneEvery also
// deletes the revocations nobody needs any more from the store (every node
// does it; it is idempotent and cheap). A failed refresh keeps the previous
// copy: serving with a slightly stale copy beats refusing to serve.
func (r *Revocations) Run(ctx context.Context, every, pruneEvery time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	lastPrune := r.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("refresh media revocations", "err", err)
			}
			if r.now().Sub(lastPrune) >= pruneEvery {
				lastPrune = r.now()
				if err := r.store.PruneMediaRevocations(ctx, lastPrune.Add(-r.keep)); err != nil && ctx.Err() == nil {
					r.log.Warn("prune media revocations", "err", err)
				}
			}
		}
	}
}

// Apply takes a revocation this node has just committed into its copy at
// once, without waiting for Run.
func (r *Revocations) Apply(rev reel.MediaRevocation) {
	r.update(func(m map[int64]reel.MediaRevocation) []int64 {
		m[rev.VideoID] = merge(m[rev.VideoID], rev)
		return []int64{rev.VideoID}
	})
}

// update replaces the copy with a changed one (readers never lock), then
// reports the videos change says it changed.
func (r *Revocations) update(change func(map[int64]reel.MediaRevocation) (changed []int64)) {
	r.mu.Lock()
	old := *r.state.Load()
	next := make(map[int64]reel.MediaRevocation, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	changed := change(next)
	r.state.Store(&next)
	r.mu.Unlock()
	if r.changed != nil {
		for _, id := range changed {
			r.changed(id)
		}
	}
}

// merge combines what is known of one video: the latest state wins, a
// generation never goes back and a deletion is never undone (ids are not
// reused), whatever order a concurrent read and Apply arrive in.
func merge(known, rev reel.MediaRevocation) reel.MediaRevocation {
	out := rev
	if known.ChangedAt.After(rev.ChangedAt) {
		out = known
	}
	out.Generation = max(known.Generation, rev.Generation)
	out.Deleted = known.Deleted || rev.Deleted
	return out
}

// Allowed is the media handler's check (HandlerOptions.Allowed): a URL of a
// blocked or deleted video ("videos/<id>/...") is refused, and so is one
// signed for an earlier generation than the video's.
func (r *Revocations) Allowed(_ context.Context, g Grant) bool {
	rest, ok := strings.CutPrefix(g.Key, "videos/")
	if !ok {
		return true
	}
	idText, _, _ := strings.Cut(rest, "/")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return true
	}
	rev, ok := (*r.state.Load())[id]
	return !ok || (!rev.Blocked && !rev.Deleted && g.Generation >= rev.Generation)
}
