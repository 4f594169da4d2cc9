package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// Local is the in-process bus: the bus of a node without Redis, and the
// part of the Redis bus that delivers to this node's streams and keeps its
// window while Redis is away.
type Local struct {
	opts Options
	// tag ends the ids this process makes ("<ms>-<seq>.<tag>"), so that
	// they never equal an id of Redis or of another node.
	tag string

	mu     sync.Mutex
	lastMS int64
	seq    int64
	users  map[int64]*userState
	// delivered counts events toward the next sweep of every window.
	delivered int
	closed    bool
}

// sweepEvery is how many events pass between two sweeps of every user's
// window: a user who got events and never looks again is let go within
// that many events after their window's age (one pass over the users
// held, who are those with events younger than the age or streams open).
const sweepEvery = 1024

type userState struct {
	window []Event // oldest first, at most opts.Events
	subs   map[*localSub]struct{}
}

type localSub struct {
	ch chan Event
}

// NewLocal returns an in-process bus.
func NewLocal(o Options) *Local {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return &Local{opts: o.withDefaults(), tag: hex.EncodeToString(b), users: map[int64]*userState{}}
}

// Publish implements Bus.
func (l *Local) Publish(_ context.Context, userID int64, typ string, data any) (Event, error) {
	raw, err := marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("events: %s data: %w", typ, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := Event{ID: l.nextID(), UserID: userID, Type: typ, Data: raw}
	l.deliverLocked(e)
	l.opts.Metrics.publishedVia("local")
	return e, nil
}

// nextID makes an id that grows within this process even if the clock
// steps back.
func (l *Local) nextID() string {
	ms := time.Now().UnixMilli()
	if ms <= l.lastMS {
		ms = l.lastMS
		l.seq++
	} else {
		l.lastMS, l.seq = ms, 0
	}
	return fmt.Sprintf("%d-%d.%s", ms, l.seq, l.tag)
}

// deliver keeps an event that already has an id (one that came through
// Redis) in the window and hands it to this node's subscriptions.
func (l *Local) deliver(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deliverLocked(e)
}

func (l *Local) deliverLocked(e Event) {
	u := l.users[e.UserID]
	if u == nil {
		u = &userState{subs: map[*localSub]struct{}{}}
		l.users[e.UserID] = u
	}
	u.window = append(u.window, e)
	if len(u.window) > l.opts.Events {
		u.window = append(u.window[:0:0], u.window[len(u.window)-l.opts.Events:]...)
	}
	for s := range u.subs {
		select {
		case s.ch <- e:
		default:
			// A stream that cannot keep up is dropped rather than allowed
			// to hold the publisher or grow without bound: its client
			// reconnects and replays from its last id.
			delete(u.subs, s)
			close(s.ch)
		}
	}
	l.pruneLocked(e.UserID, u)
	if l.delivered++; l.delivered >= sweepEvery {
		l.delivered = 0
		for id, u := range l.users {
			l.pruneLocked(id, u)
		}
	}
}

// pruneLocked drops the events older than the window's age, and the user
// once nothing of theirs is left.
func (l *Local) pruneLocked(userID int64, u *userState) {
	cut := time.Now().Add(-l.opts.Age)
	i := 0
	for i < len(u.window) {
		if t, ok := idTime(u.window[i].ID); ok && t.After(cut) {
			break
		}
		i++
	}
	u.window = u.window[i:]
	if len(u.window) == 0 && len(u.subs) == 0 {
		delete(l.users, userID)
	}
}

// Subscribe implements Bus.
func (l *Local) Subscribe(_ context.Context, userID int64, lastID string) (*Subscription, error) {
	s, _, err := l.subscribe(userID, lastID)
	if err == nil {
		l.opts.Metrics.resumed(s, lastID)
	}
	return s, err
}

// Close implements Bus.
func (l *Local) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.endLocked()
}

// EndSubscriptions ends every subscription open now (their C is closed) and
// keeps taking new ones: after this node may have missed events of other
// nodes (its Redis subscription was lost), its clients reconnect and
// replay what they missed from the shared window (Last-Event-ID).
func (l *Local) EndSubscriptions() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.endLocked()
}

func (l *Local) endLocked() {
	for _, u := range l.users {
		for s := range u.subs {
			delete(u.subs, s)
			close(s.ch)
		}
	}
}

// subscribe registers a subscription and reads the window in one step, so
// that no event falls between the two. found reports whether lastID was
// in this node's window.
func (l *Local) subscribe(userID int64, lastID string) (*Subscription, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, false, ErrClosed
	}
	u := l.users[userID]
	if u == nil {
		u = &userState{subs: map[*localSub]struct{}{}}
		l.users[userID] = u
	}
	l.pruneLocked(userID, u)
	l.users[userID] = u // pruneLocked may have let go of it
	ls := &localSub{ch: make(chan Event, l.opts.Buffer)}
	u.subs[ls] = struct{}{}
	sub := &Subscription{C: ls.ch, seen: map[string]bool{}}
	l.opts.Metrics.subscribed(+1)
	var once sync.Once
	sub.cancel = func() {
		once.Do(func() {
			l.opts.Metrics.subscribed(-1)
			l.mu.Lock()
			defer l.mu.Unlock()
			if u := l.users[userID]; u != nil {
				delete(u.subs, ls)
				l.pruneLocked(userID, u)
			}
		})
	}
	if n := len(u.window); n > 0 {
		sub.Head = u.window[n-1].ID
	}
	found := lastID == ""
	if lastID != "" {
		for i, e := range u.window {
			if e.ID == lastID {
				found = true
				sub.Replay = append([]Event(nil), u.window[i+1:]...)
				break
			}
		}
	}
	sub.Reset = !found
	for _, e := range sub.Replay {
		sub.seen[e.ID] = true
	}
	return sub, found, nil
}
