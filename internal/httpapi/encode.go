package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/maypok86/otter/v2"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/cache"
)

// Lists of videos are most of what a signed-in viewer reads, and encoding
// them (with their signed URLs) was most of the cost of a signed-in feed.
// A cached card (reel.Video.Stamp) is the same for every viewer but for
// three values: the author's is_following, is_liked and
// resume_position_ms. Its JSON is kept in two parts around the first two,
// for each base URL, URL expiry and whether the original's size and hash
// and the block show, and a viewer's answer is the parts with their values between: the
// same bytes encoding/json makes of the presented video (TestEncodedVideos).

// cardJSON is the encoded card around the viewer's values: head ends with
// `"is_following":`, middle runs from after its value to `"is_liked":`,
// and `,"resume_position_ms":N}` follows.
type cardJSON struct {
	head, middle []byte
}

// cardJSONKey is what a card's encoding depends on besides the card.
type cardJSONKey struct {
	stamp    uint64
	base     string
	expiry   int64
	original bool
}

// encodedCards keeps the encoded parts of cached cards.
type encodedCards struct {
	parts *otter.Cache[cardJSONKey, cardJSON]
}

func newEncodedCards() *encodedCards {
	return &encodedCards{parts: otter.Must(&otter.Options[cardJSONKey, cardJSON]{MaximumSize: 20_000})}
}

const (
	followingField = `"is_following":false`
	tailFields     = `"is_liked":false,"resume_position_ms":0}`
)

// writeVideos answers a list of videos presented for the viewer of c.
func (s *server) writeVideos(c *gin.Context, videos []*reel.Video, next string) {
	buf := videoBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			videoBuffers.Put(buf)
		}
	}()
	if err := s.appendVideos(c, buf, videos, next); err != nil {
		writeError(c, err)
		return
	}
	writeBody(c, buf.Bytes())
}

// videoBuffers hold answers while they are written; most are a few tens
// of kilobytes, larger ones are left to the collector.
var videoBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 256 << 10

// encodeVideos is appendVideos into a new slice.
func (s *server) encodeVideos(c *gin.Context, videos []*reel.Video, next string) ([]byte, error) {
	var buf bytes.Buffer
	err := s.appendVideos(c, &buf, videos, next)
	return buf.Bytes(), err
}

// appendVideos appends {"next_cursor":next,"videos":videos}, presented for
// the viewer of c, as encoding/json makes it (map keys sorted).
func (s *server) appendVideos(c *gin.Context, buf *bytes.Buffer, videos []*reel.Video, next string) error {
	buf.WriteString(`{"next_cursor":`)
	cursor, _ := json.Marshal(next) // a string: cannot fail
	buf.Write(cursor)
	buf.WriteString(`,"videos":[`)
	var key cardJSONKey // what the parts depend on besides the card, once per answer
	if s.URLs != nil {
		key = cardJSONKey{base: s.baseURL(c), expiry: s.URLs.Signer.Expiry()}
	}
	for i, v := range videos {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := s.appendVideo(c, buf, key, v); err != nil {
			return err
		}
	}
	buf.WriteString(`]}`)
	return nil
}

// appendVideo appends v as presented to the viewer of c, from its kept
// parts when it is a cached card.
func (s *server) appendVideo(c *gin.Context, buf *bytes.Buffer, key cardJSONKey, v *reel.Video) error {
	parts, ok := s.cardParts(c, key, v)
	if !ok {
		b, err := json.Marshal(s.present(c, v))
		buf.Write(b)
		return err
	}
	buf.Write(parts.head)
	buf.WriteString(strconv.FormatBool(v.Author.IsFollowing))
	buf.Write(parts.middle)
	buf.WriteString(strconv.FormatBool(v.IsLiked))
	buf.WriteString(`,"resume_position_ms":`)
	buf.WriteString(strconv.FormatInt(v.ResumePositionMS, 10))
	buf.WriteByte('}')
	return nil
}

// cardParts returns the kept parts of v's card under key (its base URL
// and URL expiry), encoding them on a miss;
// false when v cannot be told by its parts: not a cached card, URLs bound
// to the client, or the viewer's own video (their own video_count).
func (s *server) cardParts(c *gin.Context, key cardJSONKey, v *reel.Video) (cardJSON, bool) {
	if v.Stamp == 0 || v.Author == nil || v.Author.ID == viewerID(c) || s.URLs == nil || s.URLs.BindClient || s.encoded == nil {
		return cardJSON{}, false
	}
	key.stamp = v.Stamp
	key.original = s.seesOriginal(c, v) // present adds what only they see
	if p, ok := s.encoded.parts.GetIfPresent(key); ok {
		return p, true
	}
	bare := *v
	author := *v.Author
	bare.Author, author.IsFollowing = &author, false
	bare.IsLiked, bare.ResumePositionMS = false, 0
	b, err := json.Marshal(s.present(c, &bare))
	if err != nil {
		return cardJSON{}, false
	}
	// The first such field is the author's: every value before it is a
	// number, a time or an escaped string, which cannot hold `":`
	// unescaped. The tail fields end the object.
	at := bytes.Index(b, []byte(followingField))
	if at < 0 || !bytes.HasSuffix(b, []byte(tailFields)) {
		return cardJSON{}, false
	}
	head := b[:at+len(followingField)-len("false")]
	rest := b[at+len(followingField) : len(b)-len(tailFields)+len(`"is_liked":`)]
	p := cardJSON{head: head, middle: rest}
	s.encoded.parts.Set(key, p)
	return p, true
}

// feedViewer is a store that serves the feed's first page as kept (the
// cache): feedAnswers keys a viewer's encoded answer on it.
type feedViewer interface {
	FeedView(ctx context.Context, viewerID int64, p reel.Page) (cache.FeedView, error)
	Keep(view cache.FeedView, viewerID int64, limit int) (cache.Kept, bool)
	Still(ctx context.Context, viewerID int64, kept cache.Kept) bool
}

// feedAnswer is a signed-in viewer's encoded first page with what it was
// made of: the same cards (stamps), flags, cursor, base URL and URL expiry
// make the same bytes.
type feedAnswer struct {
	limit  int
	base   string
	expiry int64
	next   string
	flags  uint64
	cards  []uint64
	body   []byte
	kept   cache.Kept // what the view was kept under, when keptOK
	keptOK bool
}

// madeOf reports whether a is the answer to view at limit, base and
// expiry: the same cards, flags and cursor.
func (a *feedAnswer) madeOf(view cache.FeedView, limit int, base string, expiry int64) bool {
	if a.limit != limit || a.base != base || a.expiry != expiry || a.next != view.Next ||
		a.flags != view.FlagsStamp || len(a.cards) != len(view.Cards) {
		return false
	}
	for i, card := range view.Cards {
		if a.cards[i] != card.Stamp {
			return false
		}
	}
	return true
}

// maxFeedAnswers bounds the memory the viewers' answers hold (20 to 40 KB
// each for 20 videos): the most active viewers' are kept.
const maxFeedAnswers = 64 << 20

func newFeedAnswers() *otter.Cache[int64, *feedAnswer] {
	return otter.Must(&otter.Options[int64, *feedAnswer]{
		MaximumWeight: maxFeedAnswers,
		Weigher:       func(_ int64, a *feedAnswer) uint32 { return uint32(min(len(a.body)+8*len(a.cards)+128, 1<<31)) },
	})
}

// viewerFeed answers a signed-in viewer's first page: again the bytes
// answered last time when it is made of the same kept cards and flags
// (a client that refreshes its feed), else encoded from the cards' parts.
func (s *server) viewerFeed(c *gin.Context, viewer feedViewer, p reel.Page) {
	id := viewerID(c)
	ctx := c.Request.Context()
	base, expiry := s.baseURL(c), s.URLs.Signer.Expiry()
	last, hasLast := s.feedAnswers.GetIfPresent(id)
	// The same request as last time, and nothing changed that its view
	// depends on: the view is not even made again.
	if hasLast && last.keptOK && last.limit == p.Limit && last.base == base && last.expiry == expiry &&
		viewer.Still(ctx, id, last.kept) {
		writeBody(c, last.body)
		return
	}
	view, err := viewer.FeedView(ctx, id, p)
	if err != nil {
		writeError(c, err)
		return
	}
	if hasLast && last.madeOf(view, p.Limit, base, expiry) && !isStale(c) {
		// The same answer, kept again under this view (the last one was
		// made of copies that have since expired or moved on).
		if kept, ok := viewer.Keep(view, id, p.Limit); ok {
			again := *last
			again.kept, again.keptOK = kept, true
			s.feedAnswers.Set(id, &again)
		}
		writeBody(c, last.body)
		return
	}
	body, err := s.encodeVideos(c, view.Videos(), view.Next)
	if err != nil {
		writeError(c, err)
		return
	}
	// A stale answer is made again each time (see handleFeed).
	if !isStale(c) && view.FlagsStamp != 0 {
		a := &feedAnswer{limit: p.Limit, base: base, expiry: expiry, next: view.Next, flags: view.FlagsStamp,
			cards: make([]uint64, len(view.Cards)), body: body}
		for i, card := range view.Cards {
			a.cards[i] = card.Stamp
		}
		a.kept, a.keptOK = viewer.Keep(view, id, p.Limit)
		s.feedAnswers.Set(id, a)
	}
	writeBody(c, body)
}

// writeBody answers 200 with body, an encoded JSON answer, with its
// length (net/http would otherwise chunk an answer this large) and, when
// it is large, in one push (writeCorked).
func writeBody(c *gin.Context, body []byte) {
	c.Header("Content-Length", strconv.Itoa(len(body))) // compression drops it (gzipWriter)
	if len(body) > corkAbove {
		writeCorked(c, func() { c.Data(http.StatusOK, "application/json; charset=utf-8", body) })
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}
