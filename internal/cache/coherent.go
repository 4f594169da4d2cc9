package cache

import (
	"context"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/reel-video/reel"
)

// Coherent is a Cache whose copies agree with the changes of every node
// sharing its Versions (Redis): a like, a follow, a comment, an edit, a
// block or a deletion committed on any node shows in this node's very next
// answer, and the author embedded in a card is as fresh as their profile.
//
// Each copy (a card, a first feed page) carries a tag: the marks read
// before it was loaded (see Versions). A request reads the current marks
// of what it will serve in one MGET, drops the copies whose tags differ,
// lets the Cache serve (loading again what it dropped), and checks the
// copies it served once more: a copy that another request was loading
// when this one began (otter lets a request join a load under way) may
// predate a change this request must see; it is dropped and the answer
// made again. A copy whose load began after the request did is always
// fresh enough for it (loads counts them).
//
// A copy found fresh by a read of the marks remembers the sequence that
// read saw (see Versions): while the sequence stays there, no change
// completed anywhere, and a request whose copies were all found fresh at
// the current sequence reads the sequence only.
//
// While Redis is unavailable the Cache serves as on one node: short TTLs,
// and the changes of this node at once.
type Coherent struct {
	*Cache
	versions *Versions
	log      *slog.Logger

	loads    atomic.Uint64         // loads begun; each tag and request records it at its start
	changes  atomic.Uint64         // copies found stale or changed here (FeedGeneration)
	lastSeen atomic.Uint64         // hash of the marks FeedGeneration last read
	genSeen  atomic.Pointer[stamp] // the stamp of that read
	cardTags *otter.Cache[*reel.Video, cardTag]
	pageTags *otter.Cache[int, pageTag] // by limit, as the Cache keeps pages
	authors  *otter.Cache[int64, int64] // video → author, to read an author's mark before a load
}

// cardTag is what a card was loaded at.
type cardTag struct {
	load uint64
	// known is false when the marks were not read before the load (Redis
	// was away, or the card came with its feed page): the card is fresh
	// only for requests that began before its load.
	known, authorKnown   bool
	epoch, video, author string
	checked              *checkedAt // nil unless known
}

// pageTag is what a first feed page was loaded at, with the page itself:
// a page equal to it carries its tag.
type pageTag struct {
	load        uint64
	known       bool
	epoch, feed string
	checked     *checkedAt // nil unless known
	ids         []int64
	next        string
}

// checkedAt is the latest sequence of an epoch at which a copy was found
// fresh: what its tag's marks were checked against, or read before its
// load. It moves on (never back) as requests find the copy fresh again.
type checkedAt struct {
	epoch string
	seq   atomic.Int64
}

func newCheckedAt(m marks) *checkedAt {
	c := &checkedAt{epoch: m.epoch}
	c.seq.Store(m.seq)
	return c
}

// at reports whether the copy is known fresh at s: found fresh at s or
// later, it shows every change completed by then.
func (c *checkedAt) at(s stamp) bool {
	return c != nil && s.epoch != "" && c.epoch == s.epoch && c.seq.Load() >= s.seq
}

// found records that a full read of the marks, m, found the copy fresh.
func (c *checkedAt) found(m marks) {
	if c == nil || !m.full || c.epoch != m.epoch {
		return
	}
	if old := c.seq.Load(); m.seq > old {
		c.seq.CompareAndSwap(old, m.seq)
	}
}

// Share makes c coherent across the nodes sharing versions: it reads
// through c's store, tagging each load, and serves through c. ttl is c's
// (tags outlive the copies they describe). Without Redis, serve c itself:
// nothing here would be used.
func Share(c *Cache, versions *Versions, ttl time.Duration, maxCards int, log *slog.Logger) *Coherent {
	if log == nil {
		log = slog.Default()
	}
	k := &Coherent{
		Cache: c, versions: versions, log: log,
		cardTags: otter.Must(&otter.Options[*reel.Video, cardTag]{
			MaximumSize:      maxCards,
			Clock:            clockFor(ttl),
			ExpiryCalculator: otter.ExpiryWriting[*reel.Video, cardTag](2 * ttl),
		}),
		pageTags: otter.Must(&otter.Options[int, pageTag]{MaximumSize: 64}),
		authors:  otter.Must(&otter.Options[int64, int64]{MaximumSize: maxCards}),
	}
	c.Store = &taggingStore{Store: c.Store, k: k}
	c.viewers.tagRead, c.viewers.fresh = k.tagFlags, k.flagsFresh
	return k
}

// request is what a request read of the marks, for the viewer's flags.
type request struct {
	start uint64
	m     marks
}

type requestKey struct{}

// withRequest returns ctx carrying what the request read.
func withRequest(ctx context.Context, start uint64, m marks) context.Context {
	return context.WithValue(ctx, requestKey{}, &request{start, m})
}

// tagFlags tags a read of viewerID's flags that begins now with the
// viewer's mark as the request read it, before the read.
func (k *Coherent) tagFlags(ctx context.Context, viewerID int64) flagTag {
	t := flagTag{load: k.loads.Add(1)}
	if r, ok := ctx.Value(requestKey{}).(*request); ok {
		t.mark, t.known = r.m.users[viewerID]
		t.epoch = r.m.epoch
		if r.m.epoch != "" {
			// The read begins after the request read the sequence.
			t.checked = newCheckedAt(r.m)
		}
	}
	return t
}

// flagsFresh reports whether flags tagged t may be served to the request
// of ctx: read after it began, or under the viewer's current mark. A
// request that could not read the marks (Redis away) has the Cache's own
// rules only.
func (k *Coherent) flagsFresh(ctx context.Context, viewerID int64, t flagTag) bool {
	r, ok := ctx.Value(requestKey{}).(*request)
	if !ok {
		return true
	}
	if t.load > r.start || t.checked.at(r.m.stamp()) {
		return true
	}
	mark, known := r.m.users[viewerID]
	fresh := t.known && known && t.epoch == r.m.epoch && t.mark == mark
	if fresh {
		t.checked.found(r.m)
	}
	return fresh
}

// VideoChanged is the store's hook (SetOnVideoChange): this node's copies
// are dropped at once and the change is marked for the other nodes.
func (k *Coherent) VideoChanged(id int64, lists bool) {
	k.Cache.VideoChanged(id, lists)
	k.changes.Add(1)
	k.versions.VideoChanged(id, lists)
}

// UsersChanged is the store's hook (SetOnUserChange): the cards of these
// authors are stale on every node, this one included, from their marks.
func (k *Coherent) UsersChanged(ids []int64) {
	k.Cache.UsersChanged(ids)
	k.changes.Add(1)
	k.versions.UsersChanged(ids)
}

// FindVideoByID is the Cache's, with the card checked against the marks.
func (k *Coherent) FindVideoByID(ctx context.Context, id, viewerID int64) (*reel.Video, error) {
	start := k.loads.Load()
	m, err := k.check(ctx, []int64{id}, viewerID, 0)
	if err != nil {
		return k.Cache.FindVideoByID(ctx, id, viewerID)
	}
	ctx = withRequest(ctx, start, m)
	v, err := k.Cache.FindVideoByID(ctx, id, viewerID)
	if k.cardFresh(id, start, m) {
		return v, err
	}
	k.drop(id)
	return k.Cache.FindVideoByID(ctx, id, viewerID)
}

// Feed is the Cache's, with the first page and its cards checked against
// the marks (FeedView).
func (k *Coherent) Feed(ctx context.Context, viewerID int64, p reel.Page) ([]*reel.Video, string, error) {
	if p.Cursor != "" {
		return k.Cache.Feed(ctx, viewerID, p)
	}
	view, err := k.FeedView(ctx, viewerID, p)
	if err != nil {
		return nil, "", err
	}
	return view.Videos(), view.Next, nil
}

// FeedView is the Cache's, with the first page, its cards and the viewer's
// flags checked against the marks.
func (k *Coherent) FeedView(ctx context.Context, viewerID int64, p reel.Page) (FeedView, error) {
	quiet := k.quietFor(viewerID) // before anything is read, as in the Cache's
	start := k.loads.Load()
	page, hasPage := k.feed.GetIfPresent(p.Limit)
	m, err := k.check(ctx, page.ids, viewerID, p.Limit)
	if err != nil {
		view, err := k.Cache.FeedView(ctx, viewerID, p)
		view.quietOK = false // no stamp: never Still
		return view, err
	}
	quiet.at = m.stamp()
	view, err := k.feedView(ctx, viewerID, p, page, hasPage, start, m)
	// A copy dropped or a change reported meanwhile: not to be kept.
	again := k.quietFor(viewerID)
	again.at = quiet.at
	view.quiet, view.quietOK = quiet, view.quietOK && m.epoch != "" && again == quiet
	return view, err
}

func (k *Coherent) quietFor(viewerID int64) Quiet {
	q := k.Cache.quietFor(viewerID)
	q.changes += k.changes.Load() // both only grow: the same sum, the same two
	return q
}

// Still is the Cache's, with the sequence of every node's changes: one
// read of the stamp, shared with the other requests.
func (k *Coherent) Still(ctx context.Context, viewerID int64, kept Kept) bool {
	s, err := k.versions.current(ctx)
	if err != nil || s.epoch == "" {
		return false
	}
	q := k.quietFor(viewerID)
	q.at = s
	return q == kept.quiet && k.nowNano() < kept.until
}

// feedView is FeedView once the marks or the stamp were read (m) for the
// cached page as it was before (hasPage).
func (k *Coherent) feedView(ctx context.Context, viewerID int64, p reel.Page, page feedPage, hasPage bool, start uint64, m marks) (FeedView, error) {
	ctx = withRequest(ctx, start, m)
	if hasPage && !k.pageFresh(p.Limit, page, start, m) {
		k.dropPage(p.Limit)
	}
	view, err := k.Cache.FeedView(ctx, viewerID, p)
	if err != nil {
		return view, err
	}
	stale := false
	if page, ok := k.feed.GetIfPresent(p.Limit); ok && !k.pageFresh(p.Limit, page, start, m) {
		k.dropPage(p.Limit)
		stale = true
	}
	for _, card := range view.Cards {
		// The very copy served: one that was dropped since must still have
		// been fresh enough for this request.
		if !k.tagFresh(card, start, m) {
			k.drop(card.ID)
			stale = true
		}
	}
	if stale {
		view, err := k.Cache.FeedView(ctx, viewerID, p)
		view.quietOK = false // made after a drop: not to be kept
		return view, err
	}
	return view, nil
}

// FeedGeneration changes whenever anything the cached first pages show may
// have changed on any node: it reads their marks (one MGET), drops what is
// stale, and moves on when the marks differ from the last read. An answer
// encoded under one generation (the anonymous feed's) is thus never served
// after a change.
func (k *Coherent) FeedGeneration() uint64 {
	ctx := context.Background()
	if s, err := k.versions.current(ctx); err == nil {
		if seen := k.genSeen.Load(); seen != nil && s.epoch != "" && *seen == s {
			// Nothing changed anywhere since the marks were last read.
			return k.Cache.FeedGeneration() + k.changes.Load()
		}
	}
	start := k.loads.Load()
	var ids []int64
	for _, page := range k.feed.All() {
		ids = append(ids, page.ids...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	m, err := k.checkMarks(ctx, ids, 0)
	if err != nil {
		// Local state only: the Cache's generation, and every change
		// made here.
		k.lastSeen.Store(0)
		k.genSeen.Store(nil)
		return k.Cache.FeedGeneration() + k.changes.Load()
	}
	for limit, page := range k.feed.All() {
		if !k.pageFresh(limit, page, start, m) {
			k.dropPage(limit)
		}
	}
	if h := m.hash(ids); k.lastSeen.Swap(h) != h {
		k.changes.Add(1)
	}
	st := m.stamp()
	k.genSeen.Store(&st)
	return k.Cache.FeedGeneration() + k.changes.Load()
}

// check returns what a request must check its copies against: the stamp
// alone when the cached cards among ids, the viewer's flags (viewerID 0:
// none) and the first page of limit (0: none) were all found fresh at the
// current sequence; else the marks (checkMarks).
func (k *Coherent) check(ctx context.Context, ids []int64, viewerID int64, limit int) (marks, error) {
	s, err := k.versions.current(ctx)
	if err != nil {
		return marks{}, err
	}
	if k.allCheckedAt(s, ids, viewerID, limit) {
		return marks{epoch: s.epoch, seq: s.seq}, nil
	}
	return k.checkMarks(ctx, ids, viewerID)
}

// allCheckedAt reports whether the copies a request would serve were all
// found fresh at s. Cards not cached are loaded for the request, fresh.
func (k *Coherent) allCheckedAt(s stamp, ids []int64, viewerID int64, limit int) bool {
	if s.epoch == "" {
		return false
	}
	for _, id := range ids {
		if card, ok := k.cards.GetIfPresent(id); ok {
			if t, ok := k.cardTags.GetIfPresent(card); !ok || !t.checked.at(s) {
				return false
			}
		}
	}
	if limit > 0 {
		if page, ok := k.feed.GetIfPresent(limit); ok {
			t, ok := k.pageTags.GetIfPresent(limit)
			if !ok || !slices.Equal(t.ids, page.ids) || t.next != page.next || !t.checked.at(s) {
				return false
			}
		}
	}
	if viewerID != 0 {
		// Flags to be read need the viewer's mark for their tag.
		if c, ok := k.viewers.copies.GetIfPresent(viewerID); !ok || !c.tag.checked.at(s) {
			return false
		}
	}
	return true
}

// checkMarks reads the marks of ids, of their known authors and of the
// viewer (0: none), and drops the cached cards among ids whose tags differ
// from them.
func (k *Coherent) checkMarks(ctx context.Context, ids []int64, viewerID int64) (marks, error) {
	authors := make([]int64, 0, len(ids)+1)
	if viewerID != 0 {
		authors = append(authors, viewerID)
	}
	for _, id := range ids {
		if a, ok := k.authors.GetIfPresent(id); ok && !slices.Contains(authors, a) {
			authors = append(authors, a)
		}
	}
	start := k.loads.Load()
	m, err := k.versions.read(ctx, ids, authors)
	if err != nil {
		return m, err
	}
	for _, id := range ids {
		if card, ok := k.cards.GetIfPresent(id); ok && !k.tagFresh(card, start, m) {
			k.drop(id)
		}
	}
	return m, nil
}

// cardFresh reports whether the cached card of id (if any) may be served
// to a request that began at start and read m.
func (k *Coherent) cardFresh(id int64, start uint64, m marks) bool {
	card, ok := k.cards.GetIfPresent(id)
	if !ok {
		return true // nothing cached: what was served was loaded for it
	}
	return k.tagFresh(card, start, m)
}

// tagFresh reports whether card, as cached, may be served to a request
// that began at start and read m.
func (k *Coherent) tagFresh(card *reel.Video, start uint64, m marks) bool {
	t, ok := k.cardTags.GetIfPresent(card)
	if !ok {
		return false
	}
	if t.load > start || t.checked.at(m.stamp()) {
		return true
	}
	video, hasVideo := m.videos[card.ID]
	author, hasAuthor := m.users[card.AuthorID]
	fresh := t.known && t.authorKnown && hasVideo && hasAuthor &&
		t.epoch == m.epoch && t.video == video && t.author == author
	if fresh {
		t.checked.found(m)
	}
	return fresh
}

// pageFresh is cardFresh for the cached first page of limit.
func (k *Coherent) pageFresh(limit int, page feedPage, start uint64, m marks) bool {
	t, ok := k.pageTags.GetIfPresent(limit)
	if !ok || !slices.Equal(t.ids, page.ids) || t.next != page.next {
		return false
	}
	if t.load > start || t.checked.at(m.stamp()) {
		return true
	}
	fresh := t.known && m.full && t.epoch == m.epoch && t.feed == m.feed
	if fresh {
		t.checked.found(m)
	}
	return fresh
}

func (k *Coherent) drop(id int64) {
	k.cards.Invalidate(id)
	k.changes.Add(1)
}

func (k *Coherent) dropPage(limit int) {
	k.feed.Invalidate(limit)
	k.changes.Add(1)
}

// hash sums up the marks read for ids, for FeedGeneration.
func (m marks) hash(ids []int64) uint64 {
	h := fnv.New64a()
	write := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	write(m.epoch)
	write(m.feed)
	for _, id := range ids {
		write(m.videos[id])
	}
	users := make([]int64, 0, len(m.users))
	for id := range m.users {
		users = append(users, id)
	}
	slices.Sort(users)
	for _, id := range users {
		write(m.users[id])
	}
	return h.Sum64()
}

// taggingStore is the Cache's store under a Coherent: each load reads the
// marks of what it loads first, and tags what it loaded with them.
type taggingStore struct {
	Store
	k *Coherent
}

func (s *taggingStore) VideoCard(ctx context.Context, id int64) (*reel.Video, error) {
	cards, err := s.VideoCards(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	if v, ok := cards[id]; ok {
		return v, nil
	}
	// The one-card query says what is missing in its own words.
	return s.Store.VideoCard(ctx, id)
}

func (s *taggingStore) VideoCards(ctx context.Context, ids []int64) (map[int64]*reel.Video, error) {
	load := s.k.loads.Add(1)
	var authors []int64
	for _, id := range ids {
		if a, ok := s.k.authors.GetIfPresent(id); ok && !slices.Contains(authors, a) {
			authors = append(authors, a)
		}
	}
	m, merr := s.k.versions.read(ctx, ids, authors)
	cards, err := s.Store.VideoCards(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, v := range cards {
		s.k.tag(v, load, m, merr == nil)
	}
	return cards, nil
}

func (s *taggingStore) FeedPage(ctx context.Context, p reel.Page) ([]*reel.Video, string, error) {
	load := s.k.loads.Add(1)
	m, merr := s.k.versions.read(ctx, nil, nil)
	videos, next, err := s.Store.FeedPage(ctx, p)
	if err != nil {
		return videos, next, err
	}
	ids := make([]int64, len(videos))
	for i, v := range videos {
		ids[i] = v.ID
		// Their marks were not read: fresh for the request under way only.
		s.k.tag(v, load, marks{}, false)
	}
	if p.Cursor == "" {
		t := pageTag{load: load, known: merr == nil, epoch: m.epoch, feed: m.feed, ids: ids, next: next}
		if t.known {
			t.checked = newCheckedAt(m)
		}
		s.k.pageTags.Set(p.Limit, t)
	}
	return videos, next, nil
}

func (k *Coherent) tag(v *reel.Video, load uint64, m marks, known bool) {
	t := cardTag{load: load, known: known, epoch: m.epoch, video: m.videos[v.ID]}
	if a, ok := m.users[v.AuthorID]; ok && known {
		t.author, t.authorKnown = a, true
		// Its marks, video and author, were read with the sequence.
		t.checked = newCheckedAt(m)
	}
	k.cardTags.Set(v, t)
	k.authors.Set(v.ID, v.AuthorID)
}
