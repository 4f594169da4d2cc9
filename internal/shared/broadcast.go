package shared

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Broadcast tells every node of changes each must apply at once (a block,
// a deletion, a signed-out session) through Redis pub/sub: a message
// reaches the subscribed nodes within milliseconds. Pub/sub keeps nothing:
// a node that is not subscribed at that moment (Redis away, a reconnect
// under way) misses the message, so every receiver keeps its own slower
// path (a database poll, a short TTL) as the fallback. Without Redis,
// Publish does nothing and the fallback is all there is.
type Broadcast struct {
	r   *Redis
	log *slog.Logger
}

// NewBroadcast returns the broadcast of r (nil: none).
func NewBroadcast(r *Redis, log *slog.Logger) *Broadcast {
	if log == nil {
		log = slog.Default()
	}
	return &Broadcast{r: r, log: log}
}

// Publish sends payload to every node subscribed to channel (a name
// without the Prefix), this one included. It returns an error wrapping
// ErrUnavailable when the message could not be sent: the receivers'
// fallback will bring the change.
func (b *Broadcast) Publish(ctx context.Context, channel string, payload []byte) error {
	if b == nil {
		return ErrUnavailable
	}
	return b.r.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		return c.Publish(ctx, Prefix+channel, payload).Err()
	})
}

// Subscribe calls fn with each message published to channel until ctx
// ends, resubscribing after Redis comes back. fn runs on one goroutine, in
// the order messages arrive; it must be quick. ready, when not nil, is
// closed once the first subscription is confirmed (tests wait for it).
func (b *Broadcast) Subscribe(ctx context.Context, channel string, fn func(payload []byte), ready chan<- struct{}) {
	b.SubscribeGaps(ctx, channel, fn, nil, ready)
}

// SubscribeGaps is Subscribe for a subscriber that must know when it may
// have missed messages: gap, when not nil, is called (on the subscription's
// goroutine) when the subscription is lost and again once it is back, since
// whatever was published in between never arrives.
func (b *Broadcast) SubscribeGaps(ctx context.Context, channel string, fn func(payload []byte), gap func(), ready chan<- struct{}) {
	if b == nil || b.r == nil {
		if ready != nil {
			close(ready)
		}
		return
	}
	if gap == nil {
		gap = func() {}
	}
	go b.listen(ctx, Prefix+channel, fn, gap, ready)
}

// resubscribeWait is how long a lost subscription waits before trying again.
const resubscribeWait = 200 * time.Millisecond

func (b *Broadcast) listen(ctx context.Context, channel string, fn func([]byte), gap func(), ready chan<- struct{}) {
	lost := false
	for ctx.Err() == nil {
		ps := b.r.Client.Subscribe(ctx, channel)
		// Receive waits for the confirmation: from then on no message is
		// missed while the connection holds.
		if _, err := ps.Receive(ctx); err != nil {
			ps.Close()
			if errors.Is(err, redis.ErrClosed) {
				return // the node is shutting down
			}
			if !lost && ctx.Err() == nil {
				lost = true
				b.log.Warn("pub/sub unavailable: changes of other nodes arrive through the fallback until it is back", "channel", channel, "err", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(resubscribeWait):
			}
			continue
		}
		if lost {
			lost = false
			b.log.Info("pub/sub back", "channel", channel)
			gap()
		}
		if ready != nil {
			close(ready)
			ready = nil
		}
		b.receive(ctx, ps, fn)
		ps.Close()
		if ctx.Err() == nil {
			gap()
		}
	}
}

// receive hands each message to fn until the connection fails or ctx ends.
// ReceiveMessage (not Channel, which reconnects on its own and would hide
// the gap) returns at the first failure, so that listen logs and
// resubscribes.
func (b *Broadcast) receive(ctx context.Context, ps *redis.PubSub, fn func([]byte)) {
	for {
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil {
			return
		}
		fn([]byte(msg.Payload))
	}
}
