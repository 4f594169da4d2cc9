package playback

import (
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/shared"
	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/testwait"
)

// newNodeRevocations is one node's Revocations over a store that cannot be
// read: whatever the node learns, it learns from its own commits or from
// the broadcast, never from a poll.
func newNodeRevocations(t *testing.T, b *shared.Broadcast) (*Revocations, chan struct{}) {
	r := NewRevocations(&fakeRevocations{rows: map[int64]reel.MediaRevocation{}, down: true}, time.Hour, nil)
	ready := make(chan struct{})
	r.Listen(t.Context(), b, ready)
	return r, ready
}

func waitSubscribed(t *testing.T, ready chan struct{}) {
	t.Helper()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription")
	}
}

// Without Redis a revocation is in force on the node that commits it; the
// other nodes have only their poll.
func TestRevocationsCommittedLocal(t *testing.T) {
	a, _ := newNodeRevocations(t, nil)
	b, _ := newNodeRevocations(t, nil)
	a.Committed(nil)(reel.MediaRevocation{VideoID: 3, Blocked: true, ChangedAt: time.Now()})
	if allowed(a, 3, 0, "play.mp4") {
		t.Error("the committing node still serves a blocked video")
	}
	if !allowed(b, 3, 0, "play.mp4") {
		t.Error("without Redis, another node learnt of a revocation it never read")
	}
}

// With Redis a revocation committed on a reaches b through pub/sub (b's
// store cannot be read, so no poll brings it); Redis killed, commits go on
// and apply locally; restarted, b subscribes again and hears new ones.
func TestRevocationsBroadcast(t *testing.T) {
	srv := redistest.Start(t)
	ba := shared.NewBroadcast(openRedis(t, srv.URL), nil)
	bb := shared.NewBroadcast(openRedis(t, srv.URL), nil)
	a, readyA := newNodeRevocations(t, ba)
	b, readyB := newNodeRevocations(t, bb)
	waitSubscribed(t, readyA)
	waitSubscribed(t, readyB)

	a.Committed(ba)(reel.MediaRevocation{VideoID: 3, Blocked: true, ChangedAt: time.Now()})
	if allowed(a, 3, 0, "play.mp4") {
		t.Error("the committing node still serves a blocked video")
	}
	// The message is on its way when Committed returns: wait for it with
	// a generous deadline (the delay itself is not under test here).
	testwait.For(t, "b to refuse the blocked video", 5*time.Second, time.Millisecond, func() bool {
		return !allowed(b, 3, 0, "play.mp4")
	})

	srv.Kill()
	a.Committed(ba)(reel.MediaRevocation{VideoID: 4, Deleted: true, ChangedAt: time.Now()})
	if allowed(a, 4, 0, "play.mp4") {
		t.Error("with Redis down, the committing node still serves a deleted video")
	}

	srv.Restart()
	// Publish until b hears one: the publisher's breaker and b's
	// subscription both come back on their own.
	gen := int64(0)
	testwait.For(t, "b to hear revocations again after the restart", 10*time.Second, 20*time.Millisecond, func() bool {
		gen++
		a.Committed(ba)(reel.MediaRevocation{VideoID: 5, Generation: gen, ChangedAt: time.Now()})
		return !allowed(b, 5, 0, "play.mp4")
	})
}
