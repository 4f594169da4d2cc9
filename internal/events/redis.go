package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reel-video/reel/internal/shared"
)

// channel is the one pub/sub channel of every node: each node hears every
// event and hands it to the streams it holds. One channel (not one per
// user) keeps subscriptions static, so that a reconnecting client never
// waits for a SUBSCRIBE; every node reading every event is cheap next to
// the writes that made them.
const channel = shared.Prefix + "events"

// startWait bounds how long NewRedis waits for its subscription.
const startWait = 2 * time.Second

// streamKey is a user's replay window: a Redis stream trimmed to
// Options.Events entries, expiring Options.Age after its last event.
func streamKey(userID int64) string {
	return shared.Prefix + "events:user:" + strconv.FormatInt(userID, 10)
}

// publishScript adds the event to its user's stream and publishes it with
// the id the stream gave it, in one step: no node hears an event its
// window cannot replay. The message is "<node> <id> <event JSON>".
var publishScript = shared.NewScript(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. id .. ' ' .. ARGV[2])
return id
`)

// Redis is the bus of several nodes: events go through Redis (a stream
// per user for the window, pub/sub to every node), and each node hands
// them to its own streams through its Local bus. While Redis is away (the
// breaker of shared.Redis is open) events are published and replayed
// locally: the streams of each node keep working for the events made on
// that node, and other nodes hear them no more until Redis is back.
type Redis struct {
	r     *shared.Redis
	local *Local
	opts  Options
	node  string
	log   *slog.Logger
}

// NewRedis returns a bus on r and starts its subscription, which ends with
// ctx. The subscription is shared.Broadcast's, which resubscribes after
// Redis failed and says when messages may have been missed: then every
// stream open on this node is ended, so that its client reconnects with
// Last-Event-ID and replays the gap from the user's window in Redis
// (a stream that silently skipped events would never know to).
func NewRedis(ctx context.Context, r *shared.Redis, o Options, log *slog.Logger) *Redis {
	if log == nil {
		log = slog.Default()
	}
	local := NewLocal(o)
	b := &Redis{r: r, local: local, opts: local.opts, node: local.tag, log: log}
	ready := make(chan struct{})
	shared.NewBroadcast(r, log).SubscribeGaps(ctx, strings.TrimPrefix(channel, shared.Prefix),
		func(p []byte) { b.receive(string(p)) }, local.EndSubscriptions, ready)
	// Started subscribed, so that no event of another node published after
	// this returns is missed; a Redis that does not answer yet does not hold
	// the start (the subscription follows when it does, and ends the
	// streams opened meanwhile).
	select {
	case <-ready:
	case <-time.After(startWait):
	case <-ctx.Done():
	}
	return b
}

// receive hands an event published by another node to this node's streams.
func (b *Redis) receive(payload string) {
	node, rest, _ := strings.Cut(payload, " ")
	id, body, _ := strings.Cut(rest, " ")
	if node == b.node {
		return // delivered when published
	}
	var e Event
	if err := json.Unmarshal([]byte(body), &e); err != nil || id == "" {
		b.log.Warn("events: a message on the channel is not an event", "err", err)
		return
	}
	e.ID = id
	b.local.deliver(e)
}

// Publish implements Bus. Without Redis the event is published locally:
// it reaches the streams of this node only.
func (b *Redis) Publish(ctx context.Context, userID int64, typ string, data any) (Event, error) {
	raw, err := marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("events: %s data: %w", typ, err)
	}
	e := Event{UserID: userID, Type: typ, Data: raw}
	body, err := json.Marshal(e)
	if err != nil {
		return Event{}, err
	}
	// With the other requests' commands (RunScript goes through Batch).
	cmd, err := b.r.RunScript(ctx, publishScript, []string{streamKey(userID)},
		b.opts.Events, string(body), b.opts.Age.Milliseconds(), channel, b.node)
	if err == nil {
		e.ID, err = cmd.Text()
	}
	if err != nil {
		if !errors.Is(err, shared.ErrUnavailable) {
			b.log.Warn("events: Redis refused an event; published on this node only", "err", err)
		}
		return b.local.Publish(ctx, userID, typ, raw)
	}
	b.local.deliver(e)
	b.opts.Metrics.publishedVia("redis")
	return e, nil
}

// Subscribe implements Bus. The replay comes from the user's stream in
// Redis when lastID is one of its ids; otherwise (Redis away or restarted
// empty, an id made while it was away) from what this node saw.
func (b *Redis) Subscribe(ctx context.Context, userID int64, lastID string) (*Subscription, error) {
	sub, foundLocally, err := b.local.subscribe(userID, lastID)
	if err != nil {
		return nil, err
	}
	var (
		found  bool
		replay []Event
		head   string
	)
	err = b.r.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		pipe := c.Pipeline()
		var at, after *redis.XMessageSliceCmd
		if redisID(lastID) {
			at = pipe.XRange(ctx, streamKey(userID), lastID, lastID)
			after = pipe.XRangeN(ctx, streamKey(userID), "("+lastID, "+", int64(b.opts.Events))
		}
		newest := pipe.XRevRangeN(ctx, streamKey(userID), "+", "-", 1)
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if ms := newest.Val(); len(ms) > 0 {
			head = ms[0].ID
		}
		if at == nil || len(at.Val()) == 0 {
			return nil
		}
		if t, _ := idTime(lastID); time.Since(t) > b.opts.Age {
			return nil
		}
		found = true
		for _, m := range after.Val() {
			e, err := fromStream(m)
			if err != nil {
				return err
			}
			replay = append(replay, e)
		}
		return nil
	})
	switch {
	case err != nil:
		// Redis away: this node's window is all there is.
		if !errors.Is(err, shared.ErrUnavailable) {
			b.log.Warn("events: cannot read the replay window from Redis; replaying this node's", "err", err)
		}
		b.opts.Metrics.resumed(sub, lastID)
		return sub, nil
	case lastID == "" || foundLocally && !found:
		if head != "" && sub.Head == "" {
			sub.Head = head
		}
		b.opts.Metrics.resumed(sub, lastID)
		return sub, nil
	}
	sub.Replay, sub.Reset = replay, !found
	if head != "" {
		sub.Head = head
	}
	sub.seen = map[string]bool{}
	for _, e := range replay {
		sub.seen[e.ID] = true
	}
	if found {
		sub.after = lastID
	}
	b.opts.Metrics.resumed(sub, lastID)
	return sub, nil
}

// Close implements Bus.
func (b *Redis) Close() { b.local.Close() }

// redisID reports whether id has the shape of a Redis stream id
// ("<ms>-<seq>"); the ids this package makes itself end in ".<node>".
func redisID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return ok && err1 == nil && err2 == nil
}

// redisIDAtOrBefore reports whether the Redis id a is at or before b
// (both checked by redisID): ids order by milliseconds, then sequence.
func redisIDAtOrBefore(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	amn, _ := strconv.ParseUint(am, 10, 64)
	bmn, _ := strconv.ParseUint(bm, 10, 64)
	if amn != bmn {
		return amn < bmn
	}
	asn, _ := strconv.ParseUint(as, 10, 64)
	bsn, _ := strconv.ParseUint(bs, 10, 64)
	return asn <= bsn
}

func fromStream(m redis.XMessage) (Event, error) {
	s, _ := m.Values["e"].(string)
	var e Event
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		return Event{}, fmt.Errorf("events: entry %s of the window: %w", m.ID, err)
	}
	e.ID = m.ID
	return e, nil
}
