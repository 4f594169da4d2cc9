package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
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
//
// Beside the marks, one counter, the sequence, moves on after every
// change, once its marks are set. A copy found fresh by marks read after
// the sequence was read at n shows every change completed by then, and is
// fresh for every request that reads the sequence at n again: no change
// completed in between. So a request whose copies were all checked at the
// current sequence reads the sequence only (current, shared by the
// requests that arrive while one read is in flight), not the marks of the
// twenty cards of a feed page. The sequence and the epoch are fields of
// one hash, so that they are lost together (an eviction, a restart): a
// sequence that started again from zero always comes with a new epoch.
type Versions struct {
	r *shared.Redis

	mu   sync.Mutex
	next *stampRead // the read the next callers of current wait for
	busy bool       // a read of the sequence is in flight
}

// stamp is the epoch and the sequence as read at one moment. Its zero
// value (epoch "") is known fresh for nothing.
type stamp struct {
	epoch string
	seq   int64
}

// stampRead is one read of the stamp, answering every caller that asked
// before it was sent.
type stampRead struct {
	done chan struct{}
	s    stamp
	err  error
}

// NewVersions returns the marks kept in r (nil: none; every call is then
// shared.ErrUnavailable and caches keep to their TTL).
func NewVersions(r *shared.Redis) *Versions { return &Versions{r: r} }

// markTTL bounds how long a mark outlives its last change: far longer than
// any copy a node keeps (a copy lives its cache's TTL), so that a mark
// cannot expire and come back under a copy that read it.
const markTTL = time.Hour

const (
	stateKey = shared.Prefix + "cache:state" // fields epoch and seq
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
	// The sequence moves on after the marks (Redis runs one connection's
	// commands in order): whoever sees the new sequence sees the marks.
	cmds = append(cmds, redis.NewIntCmd(ctx, "hincrby", stateKey, "seq", 1))
	// With the other requests' commands: the marks are written before
	// Batch returns, so before the writer answers.
	return v.r.Batch(ctx, cmds...)
}

// marks is what one read found: the epoch, the sequence, the feed's mark
// and those of the videos and users asked for ("" for a mark never set or
// expired). A read of the stamp alone (Coherent.check) has the epoch and
// sequence only: every copy it serves was checked at that sequence.
type marks struct {
	epoch, feed string
	seq         int64
	full        bool // the marks were read, not the stamp alone
	videos      map[int64]string
	users       map[int64]string
}

func (m marks) stamp() stamp { return stamp{m.epoch, m.seq} }

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
	args := make([]any, 0, 2+len(videos)+len(users))
	args = append(args, "mget", feedKey)
	for _, id := range videos {
		args = append(args, videoMark(id))
	}
	for _, id := range users {
		args = append(args, userMark(id))
	}
	// The stamp first, then the marks (Batch keeps the order): the marks
	// show every change the sequence counts.
	state := stateCmd(ctx)
	mget := redis.NewSliceCmd(ctx, args...)
	if err := v.r.Batch(ctx, state, mget); err != nil {
		return m, err
	}
	vals := mget.Val()
	str := func(i int) string { s, _ := vals[i].(string); return s }
	m.full = true
	st := stampOf(state)
	m.epoch, m.seq, m.feed = st.epoch, st.seq, str(0)
	for i, id := range videos {
		m.videos[id] = str(1 + i)
	}
	for i, id := range users {
		m.users[id] = str(1 + len(videos) + i)
	}
	if m.epoch != "" {
		return m, nil
	}
	// A Redis that (re)started empty: a new epoch retires every tag. Once
	// per Redis lifetime, so a direct call.
	err := v.r.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		if err := c.HSetNX(ctx, stateKey, "epoch", newToken()).Err(); err != nil {
			return err
		}
		var err error
		m.epoch, err = c.HGet(ctx, stateKey, "epoch").Result()
		return err
	})
	return m, err
}

// stateCmd reads the epoch and the sequence.
func stateCmd(ctx context.Context) *redis.SliceCmd {
	return redis.NewSliceCmd(ctx, "hmget", stateKey, "epoch", "seq")
}

// stampOf is what state read.
func stampOf(state *redis.SliceCmd) stamp {
	vals := state.Val()
	if len(vals) != 2 {
		return stamp{}
	}
	epoch, _ := vals[0].(string)
	seq, _ := vals[1].(string)
	return stamp{epoch, seqOf(seq)}
}

// seqOf is the sequence as Redis stores it; 0 before the first change.
func seqOf(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// current returns the epoch and the sequence from a read sent after the
// call began, so that it reflects every change completed before. Callers
// that arrive while a read is in flight wait for the next one, which then
// answers them all: under load, one small read serves many requests.
func (v *Versions) current(ctx context.Context) (stamp, error) {
	if v == nil {
		return stamp{}, shared.ErrUnavailable
	}
	v.mu.Lock()
	r := v.next
	if r == nil {
		r = &stampRead{done: make(chan struct{})}
		v.next = r
	}
	if !v.busy {
		v.busy, v.next = true, nil
		go v.readStamps(r)
	}
	v.mu.Unlock()
	select {
	case <-r.done:
		return r.s, r.err
	case <-ctx.Done():
		return stamp{}, ctx.Err()
	}
}

// stampWait bounds one read of the stamp, which no one caller owns; Redis's
// own timeouts are shorter.
const stampWait = time.Second

// stampGap is the least time between the starts of two reads of the
// stamp: under load every read has requests waiting for the next one, and
// back-to-back reads would cost this node and Redis a round trip every few
// tens of microseconds (each node's, on a Redis all nodes share); a gap
// gathers more requests into each read, for a fraction of a millisecond.
const stampGap = 250 * time.Microsecond

// readStamps answers r, then each read queued meanwhile, until none is.
func (v *Versions) readStamps(r *stampRead) {
	var last time.Time
	for r != nil {
		if wait := stampGap - time.Since(last); !last.IsZero() && wait > 0 {
			time.Sleep(wait)
		}
		last = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), stampWait)
		// A call of its own rather than Batch's: it already serves every
		// request that waits for it, and a hand-over less is sooner.
		var state *redis.SliceCmd
		r.err = v.r.Do(ctx, func(ctx context.Context, c *redis.Client) error {
			state = stateCmd(ctx)
			return c.Process(ctx, state)
		})
		cancel()
		if r.err == nil {
			r.s = stampOf(state)
		}
		close(r.done)
		v.mu.Lock()
		r, v.next = v.next, nil
		v.busy = r != nil
		v.mu.Unlock()
	}
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
