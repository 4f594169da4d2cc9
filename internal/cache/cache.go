// Package cache keeps hot reads in memory: video cards and the feed's first
// page. It caches only what is the same for every viewer (a video with its
// author and counts) and applies each viewer's flags (is_liked,
// is_following, resume_position_ms) to a copy per request, so a viewer is
// never served another's. Concurrent misses of one key load it once
// (otter's loader deduplicates), entries live a short, jittered TTL, and
// the store reports changes (SetOnVideoChange) so this node drops what
// changed at once; other nodes see it when their TTL ends.
//
// While the database cannot answer (an EUNAVAILABLE error, or a load that
// ran out of time), the last good copy of a card or of the feed's first
// page is served for up to staleFor after it was read, to callers that can
// say so: their context carries a mark (WithStaleMark) that records the
// copy's age, and the HTTP layer turns it into a header. A caller without
// the mark gets the error, so nothing is ever served stale silently.
package cache

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/reel-video/reel"
)

// Store is what the cache reads through.
type Store interface {
	reel.VideoService
	reel.SocialService
	// VideoCard is a video with its author and no viewer's flags.
	VideoCard(ctx context.Context, id int64) (*reel.Video, error)
	// CanSee answers ENOTFOUND when viewerID may not see v.
	CanSee(ctx context.Context, v *reel.Video, viewerID int64) error
	// ReadViewerFlags reads viewerID's flags for videoIDs by authorIDs.
	ReadViewerFlags(ctx context.Context, viewerID int64, videoIDs, authorIDs []int64) (*reel.ViewerFlags, error)
	// FeedPage is Feed without a viewer's flags.
	FeedPage(ctx context.Context, p reel.Page) ([]*reel.Video, string, error)
	// VideoCards are the cards of those of ids that exist, in a fixed
	// number of queries.
	VideoCards(ctx context.Context, ids []int64) (map[int64]*reel.Video, error)
}

// Cache wraps a Store; every method it does not override goes to the store.
type Cache struct {
	Store
	generation atomic.Uint64 // bumped whenever the feed pages are dropped
	cards      *otter.Cache[int64, *reel.Video]
	feed       *otter.Cache[int, feedPage] // first pages, by limit

	// The last good copies, kept staleFor after each successful load (at
	// most maxStaleCards cards and the fresh cache's number of pages), read
	// only while the database is unavailable. They share the fresh caches' values: a
	// cached video is never modified, requests get copies (copyVideo).
	staleFor  time.Duration
	goodCards *otter.Cache[int64, stamped[*reel.Video]]
	goodFeed  *otter.Cache[int, stamped[feedPage]]

	viewers viewerFlags // each signed-in viewer's flags (viewer.go)
	stamps  atomic.Uint64

	clock   otter.Clock   // the hot caches' (nil: otter's precise one)
	changes atomic.Uint64 // bumped by every change reported here (Quiet)
}

// stamped is a value with the time it was read from the store.
type stamped[V any] struct {
	v  V
	at time.Time
}

// feedPage holds ids only: the videos themselves come from the cards, so a
// like or a comment refreshes one card, not every page that shows it.
type feedPage struct {
	ids  []int64
	next string
}

// maxStaleCards bounds the last good copies of cards: they live minutes
// (REEL_STALE_FOR) where fresh cards live seconds, so they would otherwise
// hold every card read in that time. Ten thousand cover the feed's pages
// and the most read cards, which otter's policy (TinyLFU) keeps.
const maxStaleCards = 10_000

// New caches s's reads for ttl to 1.5×ttl (the jitter keeps entries loaded
// together from expiring together), and keeps the last good copy of each
// for staleFor, to serve while the database is unavailable (0: never).
func New(s Store, ttl time.Duration, maxCards int, staleFor time.Duration) *Cache {
	jitter := func() time.Duration { return ttl + rand.N(ttl/2+1) }
	// otter needs a positive expiry; with staleFor 0 nothing is read back.
	keep := max(staleFor, time.Millisecond)
	c := &Cache{
		Store:    s,
		staleFor: staleFor,
		goodCards: otter.Must(&otter.Options[int64, stamped[*reel.Video]]{
			MaximumSize:      min(maxCards, maxStaleCards),
			ExpiryCalculator: otter.ExpiryWriting[int64, stamped[*reel.Video]](keep),
		}),
		goodFeed: otter.Must(&otter.Options[int, stamped[feedPage]]{
			MaximumSize:      64,
			ExpiryCalculator: otter.ExpiryWriting[int, stamped[feedPage]](keep),
		}),
		cards: otter.Must(&otter.Options[int64, *reel.Video]{
			MaximumSize: maxCards,
			Clock:       clockFor(ttl),
			ExpiryCalculator: otter.ExpiryWritingFunc(func(otter.Entry[int64, *reel.Video]) time.Duration {
				return jitter()
			}),
		}),
		feed: otter.Must(&otter.Options[int, feedPage]{
			MaximumSize: 64,
			Clock:       clockFor(ttl),
			ExpiryCalculator: otter.ExpiryWritingFunc(func(otter.Entry[int, feedPage]) time.Duration {
				return jitter()
			}),
		}),
	}
	c.clock = clockFor(ttl)
	c.viewers.copies = otter.Must(&otter.Options[int64, viewerCopy]{
		MaximumSize: maxCards,
		Clock:       clockFor(ttl),
		ExpiryCalculator: otter.ExpiryWritingFunc(func(otter.Entry[int64, viewerCopy]) time.Duration {
			return jitter()
		}),
	})
	return c
}

// VideoChanged drops what the cache holds of a video; lists says whether the
// change can move it in or out of lists (status, visibility, block, delete)
// rather than only change its counts. The store calls it.
//
// A change of counts keeps the last good copy (an outage may serve it with
// old counts: it says it is stale); a change that can hide the video drops
// it, so that no outage serves a video that was blocked, made private or
// deleted, nor a page that lists it.
func (c *Cache) VideoChanged(id int64, lists bool) {
	c.changes.Add(1)
	c.cards.Invalidate(id)
	if lists {
		c.generation.Add(1)
		c.goodCards.Invalidate(id)
		c.goodFeed.InvalidateAll()
		c.feed.InvalidateAll()
	}
}

// coarse is the clock of the hot caches: a request looks up tens of
// entries, and reading the time for each (otter checks every entry's
// expiry) was several percent of a signed-in feed's CPU on a virtual
// machine whose clock is slow to read.
var coarse = sync.OnceValue(func() *otter.CoarseClock { return otter.NewCoarseClock(coarseResolution) })

const coarseResolution = time.Millisecond

// clockFor is the clock of a cache whose entries live ttl: the coarse one
// when its millisecond cannot matter, the precise one (nil) for the tiny
// TTLs of tests.
func clockFor(ttl time.Duration) otter.Clock {
	if ttl < 100*coarseResolution {
		return nil
	}
	return coarse()
}

// FeedVersioner is the capability of a social service that can tell when
// the feed's membership may have changed, so that an encoded feed page can
// be kept until then.
type FeedVersioner interface {
	FeedGeneration() uint64
}

// FeedGeneration changes whenever the feed's membership may have changed on
// this node, so that whatever is derived from a feed page (an encoded
// answer) can key on it.
func (c *Cache) FeedGeneration() uint64 { return c.generation.Load() }

// FindVideoByID serves the card from the cache, checked and flagged for
// this viewer.
func (c *Cache) FindVideoByID(ctx context.Context, id, viewerID int64) (*reel.Video, error) {
	card, hit := c.cards.GetIfPresent(id)
	var err error
	if !hit {
		card, err = bounded(ctx, viewerID == 0 && hasCopy(ctx, c, c.goodCards, id), func(ctx context.Context) (*reel.Video, error) {
			return c.cards.Get(ctx, id, otter.LoaderFunc[int64, *reel.Video](func(ctx context.Context, id int64) (*reel.Video, error) {
				v, err := c.Store.VideoCard(ctx, id)
				if err == nil {
					c.stamp(v)
					c.keepCard(v)
				}
				return v, err
			}))
		})
	}
	if err != nil {
		if viewerID != 0 {
			return nil, err // a signed-in answer is never stale (see mayServeStale)
		}
		good, ok := staleCopy(ctx, c, err, c.goodCards, id)
		if !ok {
			return nil, err
		}
		card = good
	}
	v := copyVideo(card)
	if err := c.Store.CanSee(ctx, v, viewerID); err != nil {
		return nil, err
	}
	return v, c.applyFlags(ctx, viewerID, v)
}

// Feed serves the first page from the cache (FeedView, copied and
// flagged); later pages, which few read and whose cursors are many, go to
// the store.
func (c *Cache) Feed(ctx context.Context, viewerID int64, p reel.Page) ([]*reel.Video, string, error) {
	if p.Cursor != "" {
		return c.Store.Feed(ctx, viewerID, p)
	}
	view, err := c.FeedView(ctx, viewerID, p)
	if err != nil {
		return nil, "", err
	}
	return view.Videos(), view.Next, nil
}

// FeedView is the feed's first page as kept: its cards, shared by every
// request and never to be changed, with a viewer's flags for them. What
// is derived from a view alone (an encoded answer) may be kept under its
// stamps.
type FeedView struct {
	Cards []*reel.Video
	Next  string
	// Flags are the viewer's (nil for an anonymous viewer), kept under
	// FlagsStamp: the same stamp, the same flags.
	Flags      *reel.ViewerFlags
	FlagsStamp uint64

	quiet   Quiet // the cache's state when the view began (Keep)
	quietOK bool
}

// Videos are the view's cards copied and flagged, for a request to change.
func (v FeedView) Videos() []*reel.Video {
	videos := make([]*reel.Video, len(v.Cards))
	for i, card := range v.Cards {
		videos[i] = copyVideo(card)
	}
	if v.Flags != nil {
		v.Flags.Apply(videos...)
	}
	return videos
}

// FeedView serves the first page of p.Limit videos (p.Cursor is ignored)
// for viewerID, as Feed does without copying.
func (c *Cache) FeedView(ctx context.Context, viewerID int64, p reel.Page) (FeedView, error) {
	// Taken before anything is read: a change while the view is made
	// leaves it behind.
	quiet := c.quietFor(viewerID)
	view, err := c.feedViewOf(ctx, viewerID, p)
	if _, stale := StaleAge(ctx); err == nil && !stale && c.quietFor(viewerID) == quiet {
		view.quiet, view.quietOK = quiet, true
	}
	return view, err
}

// Quiet is the state of a cache that a viewer's view of the first page
// depends on beyond the copies it is made of: the changes reported to this
// node, the viewer's stripe and, on a Coherent cache, the sequence of every
// node's changes.
type Quiet struct {
	changes, stripe uint64
	at              stamp
}

func (c *Cache) quietFor(viewerID int64) Quiet {
	return Quiet{changes: c.changes.Load(), stripe: c.viewers.stripe(viewerID).Load()}
}

// Kept is what a view may be kept under (Keep).
type Kept struct {
	quiet Quiet
	until int64 // unix ns: the earliest expiry of the copies it is made of
}

// Keep returns what view, made for viewerID, may be kept under: while the
// cache stays as quiet and until the first of its copies (page, cards,
// flags) expires, FeedView would make the same view (Still). False when it
// may not be kept: a copy already replaced, or a view made of old copies.
func (c *Cache) Keep(view FeedView, viewerID int64, limit int) (Kept, bool) {
	if !view.quietOK {
		return Kept{}, false
	}
	page, ok := c.feed.GetEntryQuietly(limit)
	if !ok || page.Value.next != view.Next || len(page.Value.ids) != len(view.Cards) {
		return Kept{}, false
	}
	until := page.ExpiresAtNano
	for i, card := range view.Cards {
		e, ok := c.cards.GetEntryQuietly(card.ID)
		if !ok || e.Value != card || page.Value.ids[i] != card.ID {
			return Kept{}, false
		}
		until = min(until, e.ExpiresAtNano)
	}
	if viewerID != 0 {
		e, ok := c.viewers.copies.GetEntryQuietly(viewerID)
		if !ok || e.Value.flags != view.Flags {
			return Kept{}, false
		}
		until = min(until, e.ExpiresAtNano)
	}
	return Kept{quiet: view.quiet, until: until}, until > c.nowNano()
}

// Still reports whether a view kept under kept is what FeedView would make
// for viewerID now.
func (c *Cache) Still(_ context.Context, viewerID int64, kept Kept) bool {
	return c.quietFor(viewerID) == kept.quiet && c.nowNano() < kept.until
}

// nowNano is the time as the hot caches read it (unix ns).
func (c *Cache) nowNano() int64 {
	if c.clock == nil {
		return time.Now().UnixNano()
	}
	return c.clock.NowNano()
}

func (c *Cache) feedViewOf(ctx context.Context, viewerID int64, p reel.Page) (FeedView, error) {
	page, hit := c.feed.GetIfPresent(p.Limit)
	var err error
	if !hit {
		page, err = bounded(ctx, viewerID == 0 && hasCopy(ctx, c, c.goodFeed, p.Limit), func(ctx context.Context) (feedPage, error) {
			return c.loadFeedPage(ctx, p.Limit)
		})
	}
	if err != nil {
		if viewerID != 0 {
			return FeedView{}, err
		}
		good, ok := staleCopy(ctx, c, err, c.goodFeed, p.Limit)
		if !ok {
			return FeedView{}, err
		}
		// The database just failed this request: its cards come from
		// the copies too, without waiting for it a second time.
		cards, err := c.staleCards(ctx, err, good.ids)
		if err != nil {
			return FeedView{}, err
		}
		return c.feedView(ctx, viewerID, good, func(id int64) (*reel.Video, bool) { v, ok := cards[id]; return v, ok })
	}
	// All in memory, the usual case, costs no map and no goroutine.
	inMemory := make([]*reel.Video, 0, len(page.ids))
	for _, id := range page.ids {
		if v, ok := c.cards.GetIfPresent(id); ok {
			inMemory = append(inMemory, v)
		}
	}
	if len(inMemory) == len(page.ids) {
		return c.withFlags(ctx, viewerID, FeedView{Cards: inMemory, Next: page.next})
	}
	// Cards that expired or changed are loaded again, all in one go.
	cards, err := bounded(ctx, viewerID == 0 && c.mayServeStale(ctx, errSlow), func(ctx context.Context) (map[int64]*reel.Video, error) {
		return c.cards.BulkGet(ctx, page.ids, otter.BulkLoaderFunc[int64, *reel.Video](func(ctx context.Context, ids []int64) (map[int64]*reel.Video, error) {
			cards, err := c.Store.VideoCards(ctx, ids)
			for _, v := range cards {
				c.stamp(v)
				c.keepCard(v)
			}
			return cards, err
		}))
	})
	if err != nil {
		if viewerID != 0 {
			return FeedView{}, err
		}
		if cards, err = c.staleCards(ctx, err, page.ids); err != nil {
			return FeedView{}, err
		}
	}
	return c.feedView(ctx, viewerID, page, func(id int64) (*reel.Video, bool) { v, ok := cards[id]; return v, ok })
}

// feedView is the page made of the cards card finds, with viewerID's flags.
func (c *Cache) feedView(ctx context.Context, viewerID int64, page feedPage, card func(int64) (*reel.Video, bool)) (FeedView, error) {
	view := FeedView{Cards: make([]*reel.Video, 0, len(page.ids)), Next: page.next}
	for _, id := range page.ids {
		// A video deleted since the page was cached is simply left out.
		if v, ok := card(id); ok {
			view.Cards = append(view.Cards, v)
		}
	}
	return c.withFlags(ctx, viewerID, view)
}

// withFlags adds viewerID's flags for its cards to view.
func (c *Cache) withFlags(ctx context.Context, viewerID int64, view FeedView) (FeedView, error) {
	if viewerID == 0 || len(view.Cards) == 0 {
		return view, nil
	}
	var err error
	view.Flags, view.FlagsStamp, err = c.flagsFor(ctx, viewerID, view.Cards)
	return view, err
}

// loadFeedPage reads the feed's first page of limit videos through the
// cache (one load for concurrent misses), keeping its cards.
func (c *Cache) loadFeedPage(ctx context.Context, limit int) (feedPage, error) {
	return c.feed.Get(ctx, limit, otter.LoaderFunc[int, feedPage](func(ctx context.Context, limit int) (feedPage, error) {
		videos, next, err := c.Store.FeedPage(ctx, reel.Page{Limit: limit})
		if err != nil {
			return feedPage{}, err
		}
		ids := make([]int64, len(videos))
		for i, v := range videos {
			ids[i] = v.ID
			c.stamp(v)
			c.cards.SetIfAbsent(v.ID, v)
			c.keepCard(v)
		}
		page := feedPage{ids, next}
		if c.staleFor > 0 {
			c.goodFeed.Set(limit, stamped[feedPage]{page, time.Now()})
		}
		return page, nil
	}))
}

// stamp names v, a card just read, before it is shared (reel.Video.Stamp).
func (c *Cache) stamp(v *reel.Video) { v.Stamp = c.stamps.Add(1) }

// keepCard keeps v as the last good copy of its card.
func (c *Cache) keepCard(v *reel.Video) {
	if c.staleFor > 0 {
		c.goodCards.Set(v.ID, stamped[*reel.Video]{v, time.Now()})
	}
}

// staleCards returns the cards of ids for a feed page served while the
// store failed with err: the fresh ones, else their last good copies. A
// card with neither (its video was hidden since, or its copy evicted) is
// left out, as a deleted video is.
func (c *Cache) staleCards(ctx context.Context, err error, ids []int64) (map[int64]*reel.Video, error) {
	if !c.mayServeStale(ctx, err) {
		return nil, err
	}
	cards := make(map[int64]*reel.Video, len(ids))
	for _, id := range ids {
		if v, ok := c.cards.GetIfPresent(id); ok {
			cards[id] = v
		} else if v, ok := lastGood(ctx, c.staleFor, c.goodCards, id); ok {
			cards[id] = v
		}
	}
	return cards, nil
}

// SlowRead is how long a read that has a last good copy to fall back on
// waits for the database: past it the copy is served (marked), so that a
// database that hangs rather than refuses degrades the reads the cache
// holds instead of holding them until their deadline. Reads take
// milliseconds when the database is well.
const SlowRead = time.Second

// errSlow is how bounded reports a load past SlowRead.
var errSlow = reel.Errorf(reel.EUNAVAILABLE, "the database is slow to answer; try again shortly")

// bounded runs load; when the caller has a copy to fall back on
// (fallback), it waits at most SlowRead and then answers errSlow, leaving
// the load to finish for the next readers (otter shares it): the load keeps
// the caller's deadline, not its cancellation.
func bounded[V any](ctx context.Context, fallback bool, load func(context.Context) (V, error)) (V, error) {
	if !fallback {
		return load(ctx)
	}
	lctx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
	if d, ok := ctx.Deadline(); ok {
		lctx, cancel = context.WithDeadline(lctx, d)
	}
	type result struct {
		v   V
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer cancel()
		v, err := load(lctx)
		done <- result{v, err}
	}()
	timer := time.NewTimer(SlowRead)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-timer.C:
		var zero V
		return zero, errSlow
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// hasCopy reports whether a read of key could fall back on a last good
// copy in good.
func hasCopy[K comparable, V any](ctx context.Context, c *Cache, good *otter.Cache[K, stamped[V]], key K) bool {
	if !c.mayServeStale(ctx, errSlow) {
		return false
	}
	s, ok := good.GetIfPresent(key)
	return ok && time.Since(s.at) <= c.staleFor
}

// mayServeStale reports whether a read that failed with err may be served
// from a last good copy: the database is unavailable (it said so, or did
// not answer in time) and the caller can tell its client (WithStaleMark).
// Only anonymous reads are: a signed-in viewer's answer carries their own
// flags, which a stale card would contradict (their like, missing from
// its count), so it needs the database.
func (c *Cache) mayServeStale(ctx context.Context, err error) bool {
	if c.staleFor <= 0 || markOf(ctx) == nil {
		return false
	}
	return reel.ErrorCode(err) == reel.EUNAVAILABLE || errors.Is(err, context.DeadlineExceeded)
}

// staleCopy returns the last good copy of key for a read that failed with
// err, when mayServeStale allows it (see lastGood).
func staleCopy[K comparable, V any](ctx context.Context, c *Cache, err error, good *otter.Cache[K, stamped[V]], key K) (V, bool) {
	if !c.mayServeStale(ctx, err) {
		var zero V
		return zero, false
	}
	return lastGood(ctx, c.staleFor, good, key)
}

// lastGood returns the copy of key in good when it is at most staleFor old
// (otter's expiry is not exact to the moment), and records its age in the
// mark of ctx.
func lastGood[K comparable, V any](ctx context.Context, staleFor time.Duration, good *otter.Cache[K, stamped[V]], key K) (V, bool) {
	s, ok := good.GetIfPresent(key)
	if age := time.Since(s.at); ok && age <= staleFor {
		markOf(ctx).record(age)
		return s.v, true
	}
	var zero V
	return zero, false
}

// StaleMark records that an answer was made of copies kept while the
// database was unavailable, and the age of the oldest of them.
type StaleMark struct {
	mu  sync.Mutex
	age time.Duration
	set bool
}

func (m *StaleMark) record(age time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set = true
	m.age = max(m.age, age)
}

// Age returns the age of the oldest stale copy the answer used; false when
// it used none.
func (m *StaleMark) Age() (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.age, m.set
}

type markKey struct{}

// WithStaleMark returns ctx carrying a new mark, and the mark: reads under
// ctx may then be served from last good copies while the database is
// unavailable, and say so in the mark.
func WithStaleMark(ctx context.Context) (context.Context, *StaleMark) {
	m := &StaleMark{}
	return context.WithValue(ctx, markKey{}, m), m
}

// StaleAge returns what the mark of ctx recorded (StaleMark.Age); false
// when ctx has no mark or no stale copy was used.
func StaleAge(ctx context.Context) (time.Duration, bool) {
	if m := markOf(ctx); m != nil {
		return m.Age()
	}
	return 0, false
}

func markOf(ctx context.Context) *StaleMark {
	m, _ := ctx.Value(markKey{}).(*StaleMark)
	return m
}

// copyVideo copies what a request may change: the video and its author.
// The renditions are shared, capped so that an append copies them: no
// request changes a rendition in place.
func copyVideo(v *reel.Video) *reel.Video {
	c := *v
	if v.Author != nil {
		a := *v.Author
		c.Author = &a
	}
	c.Renditions = v.Renditions[:len(v.Renditions):len(v.Renditions)]
	return &c
}
