package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reel-video/reel/internal/shared"
)

// Versions are the marks of change that nodes share through Redis, so that
// a cached copy loaded on one node is known stale on every node as soon as
// another node changed what it shows. Each video, each user (as the author
// embedded in cards) and the feed's membership has a mark: a random token
// that a writer replaces after its change commits and before it answers.
// A reader remembers the marks it read before loading a copy, and reads
// the current ones with one MGET per request: a copy whose marks moved is
// loaded again. Pub/sub could not promise this: a node may answer before
// it has processed a message.
//
// Tokens rather than counters: a mark that expired or a Redis restarted
// empty can never show a value an older copy was tagged with (counters
// would start again from zero and meet old values). The epoch, set once
// per Redis lifetime, retires every tag of a Redis that restarted, whose
// marks of the writes made while it was away are lost.
type Versions struct {
	r *shared.Redis
}

// NewVersions returns the marks kept in r (nil: none; every call is then
// shared.ErrUnavailable and caches keep to their TTL).
func NewVersions(r *shared.Redis) *Versions { return &Versions{r: r} }

// markTTL bounds how long a mark outlives its last change: far longer than
// any copy a node keeps (a copy lives its cache's TTL), so that a mark
// cannot expire and come back under a copy that read it.
const markTTL = time.Hour

const (
	epochKey = shared.Prefix + "cache:epoch"
	feedKey  = shared.Prefix + "cache:feed"
)

func videoMark(id int64) string { return shared.Prefix + "cache:v:" + strconv.FormatInt(id, 10) }
func userMark(id int64) string  { return shared.Prefix + "cache:u:" + strconv.FormatInt(id, 10) }

// newToken is a mark's value: unique, so that no two changes share one.
func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Changed marks videos and users as changed, and the feed's membership when
// lists is true, in one round trip. Writers call it after the commit and
// before they answer. An error wraps shared.ErrUnavailable: other nodes
// then see the change when their copies expire.
func (v *Versions) Changed(ctx context.Context, videos, users []int64, lists bool) error {
	if v == nil {
		return shared.ErrUnavailable
	}
	token := newToken()
	set := func(key string) redis.Cmder {
		return redis.NewStatusCmd(ctx, "set", key, token, "px", markTTL.Milliseconds())
	}
	cmds := make([]redis.Cmder, 0, len(videos)+len(users)+1)
	for _, id := range videos {
		cmds = append(cmds, set(videoMark(id)))
	}
	for _, id := range users {
		cmds = append(cmds, set(userMark(id)))
	}
	if lists {
		cmds = append(cmds, set(feedKey))
	}
	// With the other requests' commands: the marks are written before
	// Batch returns, so before the writer answers.
	return v.r.Batch(ctx, cmds...)
}

// marks is what one read found: the epoch, the feed's mark and those of
// the videos and users asked for ("" for a mark never set or expired).
type marks struct {
	epoch, feed string
	videos      map[int64]string
	users       map[int64]string
}

// read returns the current marks of videos and users, with the epoch and
// the feed's, in one MGET (and a second round trip when Redis has no epoch
// yet: it started empty). The MGET goes through shared's Batch: under load
// it shares its round trip with the other requests' reads and limits, and
// still sees every mark set before read was called.
func (v *Versions) read(ctx context.Context, videos, users []int64) (marks, error) {
	m := marks{videos: make(map[int64]string, len(videos)), users: make(map[int64]string, len(users))}
	if v == nil {
		return m, shared.ErrUnavailable
	}
	args := make([]any, 0, 3+len(videos)+len(users))
	args = append(args, "mget", epochKey, feedKey)
	for _, id := range videos {
		args = append(args, videoMark(id))
	}
	for _, id := range users {
		args = append(args, userMark(id))
	}
	mget := redis.NewSliceCmd(ctx, args...)
	if err := v.r.Batch(ctx, mget); err != nil {
		return m, err
	}
	vals := mget.Val()
	str := func(i int) string { s, _ := vals[i].(string); return s }
	m.epoch, m.feed = str(0), str(1)
	for i, id := range videos {
		m.videos[id] = str(2 + i)
	}
	for i, id := range users {
		m.users[id] = str(2 + len(videos) + i)
	}
	if m.epoch != "" {
		return m, nil
	}
	// A Redis that (re)started empty: a new epoch retires every tag. Once
	// per Redis lifetime, so a direct call.
	err := v.r.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		if err := c.SetNX(ctx, epochKey, newToken(), 0).Err(); err != nil {
			return err
		}
		var err error
		m.epoch, err = c.Get(ctx, epochKey).Result()
		return err
	})
	return m, err
}

// markWait bounds a writer's marking: Redis answers in well under a
// millisecond, and a writer that cannot mark falls back to the TTLs.
const markWait = time.Second

// VideoChanged marks video id (and the feed's membership with lists); the
// store's hook on nodes without a cache of their own (workers).
func (v *Versions) VideoChanged(id int64, lists bool) {
	ctx, cancel := context.WithTimeout(context.Background(), markWait)
	defer cancel()
	_ = v.Changed(ctx, []int64{id}, nil, lists) // unavailable: the TTLs bound the staleness
}

// UsersChanged marks users; the store's hook (SetOnUserChange).
func (v *Versions) UsersChanged(ids []int64) {
	ctx, cancel := context.WithTimeout(context.Background(), markWait)
	defer cancel()
	_ = v.Changed(ctx, nil, ids, false)
}
