package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reel-video/reel/internal/events"
	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/testwait"
)

// window is the replay window of the contract: small, to reach its bound.
var window = events.Options{Events: 5, Age: time.Minute, Buffer: 8}

// TestBusContract runs the contract on both buses.
func TestBusContract(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		busContract(t, func(t *testing.T) events.Bus { return events.NewLocal(window) })
	})
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		busContract(t, func(t *testing.T) events.Bus { return redisBus(t, srv) })
	})
}

func redisBus(t *testing.T, srv *redistest.Server) *events.Redis {
	t.Helper()
	r := redistest.Open(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return events.NewRedis(ctx, r, window, nil)
}

// next waits for the subscription's next fresh event.
func next(t *testing.T, s *events.Subscription) events.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e, ok := <-s.C:
			if !ok {
				t.Fatal("the subscription was dropped")
			}
			if s.Fresh(e) {
				return e
			}
		case <-deadline:
			t.Fatal("no event within 5 s")
		}
	}
}

// quiet asserts that nothing is pending on the subscription, after a
// marker event published behind whatever could be (the bus keeps order).
func quiet(t *testing.T, b events.Bus, s *events.Subscription, user int64) {
	t.Helper()
	m, err := b.Publish(t.Context(), user, "marker", nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, s); e.ID != m.ID {
		t.Fatalf("unexpected event %+v before the marker", e)
	}
}

func publish(t *testing.T, b events.Bus, user int64, n int) []events.Event {
	t.Helper()
	var out []events.Event
	for i := range n {
		e, err := b.Publish(t.Context(), user, events.TypeMessage, map[string]int{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		if e.ID == "" || e.UserID != user || e.Type != events.TypeMessage {
			t.Fatalf("published %+v", e)
		}
		out = append(out, e)
	}
	return out
}

func ids(es []events.Event) string {
	s := ""
	for _, e := range es {
		s += e.ID + " "
	}
	return s
}

func busContract(t *testing.T, newBus func(*testing.T) events.Bus) {
	t.Run("delivers to the user's subscriptions only", func(t *testing.T) {
		b := newBus(t)
		a1, _ := b.Subscribe(t.Context(), 1, "")
		a2, _ := b.Subscribe(t.Context(), 1, "")
		other, _ := b.Subscribe(t.Context(), 2, "")
		defer a1.Close()
		defer a2.Close()
		defer other.Close()
		if len(a1.Replay) != 0 || a1.Reset {
			t.Fatalf("a first subscription: %+v", a1)
		}
		sent := publish(t, b, 1, 1)[0]
		for _, s := range []*events.Subscription{a1, a2} {
			got := next(t, s)
			var data map[string]int
			if err := json.Unmarshal(got.Data, &data); err != nil || got.ID != sent.ID || got.Type != events.TypeMessage || data["n"] != 0 {
				t.Fatalf("got %+v (%s), want %+v", got, got.Data, sent)
			}
		}
		quiet(t, b, other, 2)
	})
	t.Run("replays what followed the last id", func(t *testing.T) {
		b := newBus(t)
		sent := publish(t, b, 3, 4)
		s, err := b.Subscribe(t.Context(), 3, sent[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.Reset || ids(s.Replay) != ids(sent[2:]) || s.Head != sent[3].ID {
			t.Fatalf("replay %s reset %v head %s, want %s", ids(s.Replay), s.Reset, s.Head, ids(sent[2:]))
		}
		// The replayed events do not come again live; the next one does.
		later := publish(t, b, 3, 1)[0]
		if got := next(t, s); got.ID != later.ID {
			t.Fatalf("live %s, want %s", got.ID, later.ID)
		}
		// The newest id replays nothing.
		s2, _ := b.Subscribe(t.Context(), 3, later.ID)
		defer s2.Close()
		if s2.Reset || len(s2.Replay) != 0 {
			t.Fatalf("from the newest id: %+v", s2)
		}
	})
	t.Run("an id outside the window resets", func(t *testing.T) {
		b := newBus(t)
		sent := publish(t, b, 4, window.Events+2)
		for _, id := range []string{sent[0].ID, "1-0", "garbage", "99999999999999-0", "1-0.abc"} {
			s, err := b.Subscribe(t.Context(), 4, id)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Reset || len(s.Replay) != 0 || s.Head != sent[len(sent)-1].ID {
				t.Errorf("%s: reset %v replay %s head %s", id, s.Reset, ids(s.Replay), s.Head)
			}
			s.Close()
		}
		// The oldest id still in the window replays the rest of it.
		s, _ := b.Subscribe(t.Context(), 4, sent[2].ID)
		defer s.Close()
		if s.Reset || ids(s.Replay) != ids(sent[3:]) {
			t.Fatalf("from the window's oldest: reset %v replay %s", s.Reset, ids(s.Replay))
		}
	})
	t.Run("a lagging subscription is dropped", func(t *testing.T) {
		b := newBus(t)
		s, _ := b.Subscribe(t.Context(), 5, "")
		defer s.Close()
		publish(t, b, 5, window.Buffer+1)
		testwait.For(t, "the lagging subscription to close", 5*time.Second, time.Millisecond, func() bool {
			for {
				select {
				case _, ok := <-s.C:
					if !ok {
						return true
					}
				default:
					return false
				}
			}
		})
		// Its client reconnects and replays.
		s2, _ := b.Subscribe(t.Context(), 5, "")
		defer s2.Close()
		quiet(t, b, s2, 5)
	})
	t.Run("closing ends the subscriptions", func(t *testing.T) {
		b := newBus(t)
		s, _ := b.Subscribe(t.Context(), 9, "")
		b.Close()
		if _, ok := <-s.C; ok {
			t.Fatal("a subscription outlived Close")
		}
		s.Close()
		if _, err := b.Subscribe(t.Context(), 9, ""); !errors.Is(err, events.ErrClosed) {
			t.Fatalf("Subscribe after Close: %v", err)
		}
		// What in-flight requests publish meanwhile is kept.
		sent := publish(t, b, 9, 1)
		if sent[0].ID == "" {
			t.Fatal("no id after Close")
		}
	})
	t.Run("ids grow", func(t *testing.T) {
		b := newBus(t)
		sent := publish(t, b, 6, 50)
		seen := map[string]bool{}
		for _, e := range sent {
			if seen[e.ID] {
				t.Fatalf("id %s twice", e.ID)
			}
			seen[e.ID] = true
		}
	})
}

// TestRedisAcrossNodes: an event published on one node reaches the
// subscriptions of another, which replays it too.
func TestRedisAcrossNodes(t *testing.T) {
	srv := redistest.Start(t)
	a, b := redisBus(t, srv), redisBus(t, srv)
	s, _ := b.Subscribe(t.Context(), 7, "")
	defer s.Close()
	sent := publish(t, a, 7, 3)
	for _, want := range sent {
		if got := next(t, s); got.ID != want.ID || string(got.Data) != string(want.Data) {
			t.Fatalf("on b: %+v, want %+v", got, want)
		}
	}
	r, _ := b.Subscribe(t.Context(), 7, sent[0].ID)
	defer r.Close()
	if r.Reset || ids(r.Replay) != ids(sent[1:]) {
		t.Fatalf("replay on b: %s", ids(r.Replay))
	}
}

// TestLateDelivery: an event that reaches a node's pub/sub only after a
// client, which saw it elsewhere, resumed from it there is not sent again.
func TestLateDelivery(t *testing.T) {
	srv := redistest.Start(t)
	a := redisBus(t, srv)
	sent := publish(t, a, 10, 2)
	s, _ := a.Subscribe(t.Context(), 10, sent[1].ID)
	defer s.Close()
	if s.Reset || len(s.Replay) != 0 {
		t.Fatalf("from the newest id: %+v", s)
	}
	for _, e := range sent {
		if s.Fresh(e) {
			t.Errorf("%s, seen before the resume point, is fresh", e.ID)
		}
	}
	later := publish(t, a, 10, 1)[0]
	if !s.Fresh(later) {
		t.Errorf("%s, after the resume point, is not fresh", later.ID)
	}
}

// TestRedisKilled: when a node loses its subscription its streams end, so
// that their clients resume (and would replay what the gap hid); with
// Redis killed, each node keeps delivering and replaying the events made on
// it; once Redis is back, the streams that were open meanwhile end again
// and events cross nodes again, the missed ones replayed from Redis.
func TestRedisKilled(t *testing.T) {
	srv := redistest.Start(t)
	a, b := redisBus(t, srv), redisBus(t, srv)
	onA, _ := a.Subscribe(t.Context(), 8, "")
	defer onA.Close()
	onB, _ := b.Subscribe(t.Context(), 8, "")
	defer onB.Close()
	srv.Kill()
	ended(t, onA)
	ended(t, onB)

	onA, _ = a.Subscribe(t.Context(), 8, "")
	defer onA.Close()
	sent := publish(t, a, 8, 3)
	for _, want := range sent {
		if got := next(t, onA); got.ID != want.ID {
			t.Fatalf("on a while Redis is down: %s, want %s", got.ID, want.ID)
		}
	}
	r, _ := a.Subscribe(t.Context(), 8, sent[0].ID)
	if r.Reset || ids(r.Replay) != ids(sent[1:]) {
		t.Fatalf("replay on a while Redis is down: reset %v %s", r.Reset, ids(r.Replay))
	}
	r.Close()
	onB, _ = b.Subscribe(t.Context(), 8, "")
	defer onB.Close()

	srv.Restart()
	// b's subscription is back: the stream opened while it was away ends.
	ended(t, onB)
	// Once a's breaker lets it try again, an event published on a reaches
	// a stream on b, and b replays it from Redis.
	var got events.Event
	var probe events.Event
	testwait.For(t, "an event from a to reach b after the restart", 20*time.Second, 100*time.Millisecond, func() bool {
		var err error
		probe, err = a.Publish(t.Context(), 8, "probe", nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := b.Subscribe(t.Context(), 8, "")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		last, err := a.Publish(t.Context(), 8, events.TypeFollow, nil)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case got = <-s.C:
			return got.ID == last.ID
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	r, _ = b.Subscribe(t.Context(), 8, probe.ID)
	defer r.Close()
	if r.Reset || ids(r.Replay) != got.ID+" " {
		t.Fatalf("replay on b after the restart: reset %v %s, want %s", r.Reset, ids(r.Replay), got.ID)
	}
}

// ended waits for the subscription to be ended by its bus.
func ended(t *testing.T, s *events.Subscription) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-s.C:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the subscription was not ended within 10 s")
		}
	}
}

// TestMetrics: publications by way, open subscriptions, resumes by result.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := events.NewLocal(events.Options{Metrics: events.NewMetrics(reg)})
	s, _ := b.Subscribe(t.Context(), 1, "")
	e := publish(t, b, 1, 1)[0]
	r, _ := b.Subscribe(t.Context(), 1, "unknown")
	r2, _ := b.Subscribe(t.Context(), 1, e.ID)
	r.Close()
	r.Close() // twice counts once
	want := `
# HELP reel_event_resumes_total Subscriptions made with a Last-Event-ID, by result: replayed, or reset (the id was outside the replay window).
# TYPE reel_event_resumes_total counter
reel_event_resumes_total{result="replayed"} 1
reel_event_resumes_total{result="reset"} 1
# HELP reel_event_subscriptions Open subscriptions to users' live events on this node (GET /api/v1/events streams).
# TYPE reel_event_subscriptions gauge
reel_event_subscriptions 2
# HELP reel_events_published_total Live events published, by way: redis (to every node) or local (this node only: no Redis, or Redis away).
# TYPE reel_events_published_total counter
reel_events_published_total{via="local"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	s.Close()
	r2.Close()
	zero := `
# HELP reel_event_subscriptions Open subscriptions to users' live events on this node (GET /api/v1/events streams).
# TYPE reel_event_subscriptions gauge
reel_event_subscriptions 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(zero), "reel_event_subscriptions"); err != nil {
		t.Errorf("after closing all: %v", err)
	}
}
