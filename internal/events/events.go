// Package events carries live events to people: a user's new messages,
// likes and comments on their videos, new followers and their videos'
// processing status, as GET /api/v1/events streams them (Server-Sent
// Events). A Bus takes the events the store emits after its commits and
// hands each to the streams its user holds, on every node: in-process
// (Local) on one node, through Redis pub/sub (Redis) on several.
//
// Every event has an id, and each bus keeps a bounded replay window per
// user (the last Options.Events events, none older than Options.Age), so
// that a client reconnecting with the id of the last event it saw gets
// exactly what it missed. An id the window no longer holds cannot be
// replayed: the subscription says Reset, and the client refetches.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Event types, the "event:" field of the stream (docs/api.md gives the
// JSON of each).
const (
	TypeMessage     = "message"      // a direct message to the user
	TypeLike        = "like"         // someone liked one of the user's videos
	TypeComment     = "comment"      // someone commented on one of the user's videos
	TypeFollow      = "follow"       // someone followed the user
	TypeVideoStatus = "video_status" // one of the user's videos changed status
)

// The data of the events that carry no domain type of their own
// (a message carries a reel.Message, a comment a reel.Comment).
type (
	// Like: UserID liked VideoID.
	Like struct {
		VideoID int64 `json:"video_id"`
		UserID  int64 `json:"user_id"`
	}
	// Follow: UserID followed the user.
	Follow struct {
		UserID int64 `json:"user_id"`
	}
	// VideoStatus: the video's status is now Status (Error says why a
	// failed one failed).
	VideoStatus struct {
		VideoID int64  `json:"video_id"`
		Status  string `json:"status"`
		Error   string `json:"error,omitempty"`
	}
)

// Event is one thing that happened to a user.
type Event struct {
	ID     string          `json:"id"`
	UserID int64           `json:"user_id"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
}

// Options bound a bus. Zero fields take the defaults.
type Options struct {
	// Events is how many events per user the replay window keeps (default
	// DefaultWindowEvents).
	Events int
	// Age is how old an event in the window may be (default DefaultWindowAge).
	Age time.Duration
	// Buffer is how many undelivered events a subscription may hold before
	// it is dropped as lagging (default 64): a stream that cannot keep up
	// ends, and its client reconnects and replays from its last id.
	Buffer int
	// Metrics, when set, count what the bus does (NewMetrics).
	Metrics *Metrics
}

// The default replay window: enough for a phone that lost its network for
// a few minutes, small enough to keep in memory per active user.
const (
	DefaultWindowEvents = 100
	DefaultWindowAge    = 10 * time.Minute
	defaultBuffer       = 64
)

func (o Options) withDefaults() Options {
	if o.Events <= 0 {
		o.Events = DefaultWindowEvents
	}
	if o.Age <= 0 {
		o.Age = DefaultWindowAge
	}
	if o.Buffer <= 0 {
		o.Buffer = defaultBuffer
	}
	return o
}

// Bus publishes events and subscribes streams to them.
type Bus interface {
	// Publish assigns the event an id, keeps it in the user's window and
	// delivers it to every subscription of the user. It is called after
	// the commit of what the event tells; an error means the event is
	// lost (it is logged by the caller, never turned into a failed write).
	Publish(ctx context.Context, userID int64, typ string, data any) (Event, error)
	// Subscribe registers a subscription to userID's events. lastID is the
	// id of the last event the client saw ("" for none): the events after
	// it in the window are in Replay, and C carries the later ones.
	Subscribe(ctx context.Context, userID int64, lastID string) (*Subscription, error)
	// Close ends every subscription (their C is closed, as for a lagging
	// one) and refuses new ones with ErrClosed: a node shutting down sends
	// its streams' clients to reconnect elsewhere, with Last-Event-ID,
	// instead of holding its drain until its deadline. Publish still works.
	Close()
}

// Subscription is one stream's view of a user's events.
type Subscription struct {
	// Replay are the events after the lastID given to Subscribe, oldest
	// first.
	Replay []Event
	// Reset is true when lastID is not in the window (too old, from a
	// Redis that restarted empty, or no id reel made): what came after it
	// cannot be replayed, and the client must refetch what it shows.
	Reset bool
	// Head is the id of the newest event in the window when subscribing,
	// "" when there is none: after a reset, the point to continue from.
	Head string

	// C carries the live events; it is closed when the subscription
	// lagged (more than Options.Buffer undelivered events) and was dropped.
	C    <-chan Event
	seen map[string]bool
	// after, when set, is the Redis id the replay started after: a live
	// event up to it (one that reached this node's pub/sub late, after
	// the client saw it on another node) is no news.
	after  string
	cancel func()
}

// Fresh reports whether a live event is news to the client: not already
// in Replay (an event published while a subscription was being made may
// reach it both ways), nor at or before the id it resumed from.
func (s *Subscription) Fresh(e Event) bool {
	return !s.seen[e.ID] && (s.after == "" || !redisID(e.ID) || !redisIDAtOrBefore(e.ID, s.after))
}

// Close ends the subscription.
func (s *Subscription) Close() { s.cancel() }

// ErrClosed is Subscribe's answer once the bus is closed.
var ErrClosed = errors.New("events: the bus is closed (the node is shutting down)")

// ErrLagged is what a stream reports when its subscription was dropped.
var ErrLagged = errors.New("events: the stream fell too far behind")

// idTime returns when an id was made: every id starts with milliseconds
// since the epoch (Redis stream ids and this package's own alike).
func idTime(id string) (time.Time, bool) {
	ms, _, ok := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(n), true
}

func marshal(data any) (json.RawMessage, error) {
	if raw, ok := data.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(data)
}
