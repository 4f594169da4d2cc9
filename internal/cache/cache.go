// Package cache keeps hot reads in memory: video cards and the feed's first
// page. It caches only what is the same for every viewer (a video with its
// author and counts) and applies each viewer's flags (is_liked,
// is_following, resume_position_ms) to a copy per request, so a viewer is
// never served another's. Concurrent misses of one key load it once
// (otter's loader deduplicates), entries live a short, jittered TTL, and
// the store reports changes (SetOnVideoChange) so this node drops what
// changed at once; other nodes see it when their TTL ends.
package cache

import (
	"context"
	"math/rand/v2"
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
	// ViewerFlags sets viewerID's flags on videos.
	ViewerFlags(ctx context.Context, viewerID int64, videos ...*reel.Video) error
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
}

// feedPage holds ids only: the videos themselves come from the cards, so a
// like or a comment refreshes one card, not every page that shows it.
type feedPage struct {
	ids  []int64
	next string
}

// New caches s's reads for ttl to 1.5×ttl (the jitter keeps entries loaded
// together from expiring together).
func New(s Store, ttl time.Duration, maxCards int) *Cache {
	jitter := func() time.Duration { return ttl + rand.N(ttl/2+1) }
	return &Cache{
		Store: s,
		cards: otter.Must(&otter.Options[int64, *reel.Video]{
			MaximumSize: maxCards,
			ExpiryCalculator: otter.ExpiryWritingFunc(func(otter.Entry[int64, *reel.Video]) time.Duration {
				return jitter()
			}),
		}),
		feed: otter.Must(&otter.Options[int, feedPage]{
			MaximumSize: 64,
			ExpiryCalculator: otter.ExpiryWritingFunc(func(otter.Entry[int, feedPage]) time.Duration {
				return jitter()
			}),
		}),
	}
}

// VideoChanged drops what the cache holds of a video; lists says whether the
// change can move it in or out of lists (status, visibility, block, delete)
// rather than only change its counts. The store calls it.
func (c *Cache) VideoChanged(id int64, lists bool) {
	c.cards.Invalidate(id)
	if lists {
		c.generation.Add(1)
		c.feed.InvalidateAll()
	}
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
	card, err := c.cards.Get(ctx, id, otter.LoaderFunc[int64, *reel.Video](func(ctx context.Context, id int64) (*reel.Video, error) {
		return c.Store.VideoCard(ctx, id)
	}))
	if err != nil {
		return nil, err
	}
	v := copyVideo(card)
	if err := c.Store.CanSee(ctx, v, viewerID); err != nil {
		return nil, err
	}
	return v, c.Store.ViewerFlags(ctx, viewerID, v)
}

// Feed serves the first page from the cache; later pages, which few read
// and whose cursors are many, go to the store.
func (c *Cache) Feed(ctx context.Context, viewerID int64, p reel.Page) ([]*reel.Video, string, error) {
	if p.Cursor != "" {
		return c.Store.Feed(ctx, viewerID, p)
	}
	page, err := c.feed.Get(ctx, p.Limit, otter.LoaderFunc[int, feedPage](func(ctx context.Context, limit int) (feedPage, error) {
		videos, next, err := c.Store.FeedPage(ctx, reel.Page{Limit: limit})
		if err != nil {
			return feedPage{}, err
		}
		ids := make([]int64, len(videos))
		for i, v := range videos {
			ids[i] = v.ID
			c.cards.SetIfAbsent(v.ID, v)
		}
		return feedPage{ids, next}, nil
	}))
	if err != nil {
		return nil, "", err
	}
	// Cards that expired or changed are loaded again, all in one go.
	cards, err := c.cards.BulkGet(ctx, page.ids, otter.BulkLoaderFunc[int64, *reel.Video](c.Store.VideoCards))
	if err != nil {
		return nil, "", err
	}
	videos := make([]*reel.Video, 0, len(page.ids))
	for _, id := range page.ids {
		// A video deleted since the page was cached is simply left out.
		if card, ok := cards[id]; ok {
			videos = append(videos, copyVideo(card))
		}
	}
	return videos, page.next, c.Store.ViewerFlags(ctx, viewerID, videos...)
}

// copyVideo copies what a request may change: the video, its author and
// its renditions.
func copyVideo(v *reel.Video) *reel.Video {
	c := *v
	if v.Author != nil {
		a := *v.Author
		c.Author = &a
	}
	c.Renditions = append([]reel.Rendition(nil), v.Renditions...)
	return &c
}
