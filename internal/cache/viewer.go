package cache

import (
	"context"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/maypok86/otter/v2"

	"github.com/reel-video/reel"
)

// A signed-in viewer's flags (is_liked, is_following, resume positions,
// their own video count, whether they are an administrator) are kept per
// viewer, so that a signed-in feed or card costs no query while nothing of
// the viewer changed: one viewer reads the same page again and again.
//
// What a viewer does goes through the store, which reports the viewer as a
// changed user (SetOnUserChange) after the commit: their likes, follows,
// watch positions, their own videos and their administrator right. Each
// report moves the viewer's stripe on (UsersChanged); a kept copy whose
// stripe moved since its read began is never served, so a viewer sees their
// own like in their very next answer, even when a read that began before
// the like stores its copy after it. Across nodes, Coherent checks the
// copies against the viewer's mark in Redis as well (flagTag). A change
// made outside any serving process (the admin command) shows within the
// cache's TTL.

// viewerStripes is how many counters the viewers share: a change of one
// viewer also drops the copies of the viewers of its stripe, which costs
// them a query, never a wrong answer.
const viewerStripes = 4096

// maxKnownVideos bounds the videos a viewer's copy remembers: past it, a
// read starts a new copy instead of extending the old one.
const maxKnownVideos = 1000

// viewerCopy is a viewer's flags as read, never modified once stored.
type viewerCopy struct {
	flags  *reel.ViewerFlags
	stamp  uint64 // names this copy (FeedView.FlagsStamp)
	stripe uint64 // the viewer's stripe when the read began
	tag    flagTag
}

// flagTag is what Coherent knew of the viewer's mark when the read began.
type flagTag struct {
	load        uint64
	known       bool
	epoch, mark string
	checked     *checkedAt // nil unless the request read the stamp
}

// viewerFlags is the per-viewer part of a Cache.
type viewerFlags struct {
	copies  *otter.Cache[int64, viewerCopy]
	stripes [viewerStripes]atomic.Uint64
	// Coherent's checks; nil on a cache of its own.
	tagRead func(ctx context.Context, viewerID int64) flagTag
	fresh   func(ctx context.Context, viewerID int64, t flagTag) bool
}

func (f *viewerFlags) stripe(viewerID int64) *atomic.Uint64 {
	return &f.stripes[uint64(viewerID)%viewerStripes]
}

// UsersChanged is the store's hook (SetOnUserChange): what these users see
// as viewers may have changed.
func (c *Cache) UsersChanged(ids []int64) {
	for _, id := range ids {
		c.viewers.stripe(id).Add(1)
	}
}

// flagsFor returns viewerID's flags for videos, with their stamp: the kept
// copy when it knows them all and is still good, else one read of the
// store, kept.
func (c *Cache) flagsFor(ctx context.Context, viewerID int64, videos []*reel.Video) (*reel.ViewerFlags, uint64, error) {
	f := &c.viewers
	stripe := f.stripe(viewerID).Load()
	old, hit := f.copies.GetIfPresent(viewerID)
	good := hit && old.stripe == stripe && (f.fresh == nil || f.fresh(ctx, viewerID, old.tag))
	if good && !slices.ContainsFunc(videos, func(v *reel.Video) bool { return !old.flags.Knows(v) }) {
		return old.flags, old.stamp, nil
	}
	var tag flagTag
	if f.tagRead != nil {
		tag = f.tagRead(ctx, viewerID)
	}
	ids := make([]int64, 0, len(videos))
	var authors []int64
	for _, v := range videos {
		ids = append(ids, v.ID)
		if !slices.Contains(authors, v.AuthorID) {
			authors = append(authors, v.AuthorID)
		}
	}
	read, err := c.Store.ReadViewerFlags(ctx, viewerID, ids, authors)
	if err != nil {
		return nil, 0, err
	}
	kept := read
	if good && len(old.flags.Liked)+len(ids) <= maxKnownVideos {
		kept = merge(old.flags, read)
	}
	// Kept under the stripe and marks read before the read began: a change
	// reported since then, which the read may predate, retires it.
	stamp := c.stamps.Add(1)
	f.copies.Set(viewerID, viewerCopy{flags: kept, stamp: stamp, stripe: stripe, tag: tag})
	return kept, stamp, nil
}

// merge is old extended by what read found: both were read while nothing
// of the viewer changed (the same stripe, checked marks).
func merge(old, read *reel.ViewerFlags) *reel.ViewerFlags {
	m := *read
	m.Liked = maps.Clone(old.Liked)
	maps.Copy(m.Liked, read.Liked)
	m.Positions = maps.Clone(old.Positions)
	for id := range read.Liked {
		delete(m.Positions, id)
	}
	maps.Copy(m.Positions, read.Positions)
	m.Following = maps.Clone(old.Following)
	maps.Copy(m.Following, read.Following)
	if _, asked := read.Following[read.ViewerID]; !asked {
		m.OwnVideos = old.OwnVideos
	}
	return &m
}

// applyFlags sets viewerID's flags on videos; none for anonymous viewers.
func (c *Cache) applyFlags(ctx context.Context, viewerID int64, videos ...*reel.Video) error {
	if viewerID == 0 || len(videos) == 0 {
		return nil
	}
	f, _, err := c.flagsFor(ctx, viewerID, videos)
	if err != nil {
		return err
	}
	f.Apply(videos...)
	return nil
}

// IsAdmin reports whether viewerID is an administrator, from the kept
// flags when they are good.
func (c *Cache) IsAdmin(ctx context.Context, viewerID int64) (bool, error) {
	if viewerID == 0 {
		return false, nil
	}
	f, _, err := c.flagsFor(ctx, viewerID, nil)
	if err != nil {
		return false, err
	}
	return f.Admin, nil
}
