package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
	"github.com/reel-video/reel/internal/testwait"
)

// sse is one event read from GET /api/v1/events.
type sse struct {
	ID, Type string
	Data     map[string]any
}

// eventStream is a client of GET /api/v1/events.
type eventStream struct {
	events chan sse
	cancel context.CancelFunc
}

// openStream opens the user's event stream (lastID as the Last-Event-ID
// header, or as the last_event_id parameter when byQuery) and returns once
// the server has subscribed it (its ": subscribed" line).
func openStream(t *testing.T, srv *instance, token, lastID string, byQuery bool) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	target := srv.URL + "/api/v1/events"
	if byQuery && lastID != "" {
		target += "?last_event_id=" + url.QueryEscape(lastID)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", target, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if !byQuery && lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("events: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	s := &eventStream{events: make(chan sse, 100), cancel: cancel}
	t.Cleanup(s.close)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && sc.Text() != ": subscribed" {
	}
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		var e sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "), line == "id:":
				e.ID = strings.TrimPrefix(strings.TrimPrefix(line, "id:"), " ")
			case strings.HasPrefix(line, "event: "):
				e.Type = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e.Data); err != nil {
					e.Data = map[string]any{"undecodable": line}
				}
			case line == "" && e.Type != "":
				s.events <- e
				e = sse{}
			}
		}
	}()
	return s
}

func (s *eventStream) close() { s.cancel() }

// next returns the stream's next event, failing after 10 s without one.
func (s *eventStream) next(t *testing.T) sse {
	t.Helper()
	select {
	case e, ok := <-s.events:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sse{}
}

// expectEvent reads the next event and checks its type and data fields.
func (s *eventStream) expectEvent(t *testing.T, typ string, fields map[string]any) sse {
	t.Helper()
	e := s.next(t)
	if e.Type != typ || e.ID == "" {
		t.Fatalf("event %+v, want a %s", e, typ)
	}
	for k, want := range fields {
		if fmt.Sprint(e.Data[k]) != fmt.Sprint(want) {
			t.Fatalf("%s event: %s = %v, want %v (%+v)", typ, k, e.Data[k], want, e.Data)
		}
	}
	return e
}

func sendMessage(t *testing.T, srv *instance, from user, to int64, text string) {
	t.Helper()
	expect(t, srv.do("POST", fmt.Sprintf("/api/v1/users/%d/messages", to), from.token, map[string]string{"text": text}), http.StatusCreated, "")
}

// TestUserEvents: the signed-in user's stream carries their videos' status,
// likes, comments, follows and messages; a reconnect with Last-Event-ID
// (header or parameter) gets exactly what was missed; an unknown id gets a
// reset; streams are capped per user. On the in-process bus and on Redis.
func TestUserEvents(t *testing.T) {
	t.Run("local", func(t *testing.T) { userEvents(t, nil) })
	t.Run("redis", func(t *testing.T) {
		userEvents(t, map[string]string{"REEL_REDIS_URL": redistest.Start(t).URL})
	})
}

func userEvents(t *testing.T, env map[string]string) {
	srv := startServer(t, env)
	ann, bo := register(t, srv, "ann"), register(t, srv, "bob")
	s := openStream(t, srv, ann.token, "", false)

	v := readyVideo(t, srv, ann.token, "public")
	s.expectEvent(t, "video_status", map[string]any{"video_id": v.ID, "status": "processing"})
	s.expectEvent(t, "video_status", map[string]any{"video_id": v.ID, "status": "ready"})

	video := fmt.Sprintf("/api/v1/videos/%d", v.ID)
	for range 2 { // the second like changes nothing and tells nobody
		expect(t, srv.do("PUT", video+"/like", bo.token, nil), http.StatusNoContent, "")
	}
	expect(t, srv.do("PUT", video+"/like", ann.token, nil), http.StatusNoContent, "") // her own
	expect(t, srv.do("POST", video+"/comments", bo.token, map[string]string{"text": "nice one"}), http.StatusCreated, "")
	expect(t, srv.do("PUT", fmt.Sprintf("/api/v1/users/%d/follow", ann.id), bo.token, nil), http.StatusNoContent, "")
	sendMessage(t, srv, bo, ann.id, "hello ann")
	s.expectEvent(t, "like", map[string]any{"video_id": v.ID, "user_id": bo.id})
	c := s.expectEvent(t, "comment", map[string]any{"video_id": v.ID, "text": "nice one"})
	if u, _ := c.Data["user"].(map[string]any); fmt.Sprint(u["id"]) != fmt.Sprint(bo.id) {
		t.Errorf("comment event's user: %+v", c.Data)
	}
	s.expectEvent(t, "follow", map[string]any{"user_id": bo.id})
	last := s.expectEvent(t, "message", map[string]any{"from_user_id": bo.id, "to_user_id": ann.id, "text": "hello ann"})
	// bo's own stream heard none of it.
	sb := openStream(t, srv, bo.token, "", false)
	sendMessage(t, srv, ann, bo.id, "hi bo")
	sb.expectEvent(t, "message", map[string]any{"text": "hi bo"})
	// The Douyin chat, still polled, feeds the same stream.
	q := url.Values{"token": {bo.token}, "to_user_id": {fmt.Sprint(ann.id)}, "action_type": {"1"}, "content": {"through douyin"}}
	expect(t, srv.do("POST", "/douyin/message/action/?"+q.Encode(), "", nil), http.StatusOK, "")
	last = s.expectEvent(t, "message", map[string]any{"from_user_id": bo.id, "text": "through douyin"})
	s.close()

	// Offline, ann misses two messages; reconnecting with the last id she
	// saw replays exactly those, then live ones follow.
	sendMessage(t, srv, bo, ann.id, "missed 1")
	sendMessage(t, srv, bo, ann.id, "missed 2")
	r := openStream(t, srv, ann.token, last.ID, false)
	r.expectEvent(t, "message", map[string]any{"text": "missed 1"})
	seen := r.expectEvent(t, "message", map[string]any{"text": "missed 2"})
	sendMessage(t, srv, bo, ann.id, "live 1")
	r.expectEvent(t, "message", map[string]any{"text": "live 1"})
	r.close()
	// The same through the parameter, from "missed 2": only "live 1".
	r = openStream(t, srv, ann.token, seen.ID, true)
	newest := r.expectEvent(t, "message", map[string]any{"text": "live 1"})
	sendMessage(t, srv, bo, ann.id, "live 2")
	newest = r.expectEvent(t, "message", map[string]any{"text": "live 2"})
	r.close()

	// An id the window does not hold: a reset carrying the newest id.
	r = openStream(t, srv, ann.token, "1-0", false)
	reset := r.next(t)
	if reset.Type != "reset" || reset.ID != newest.ID || reset.Data["reason"] == nil {
		t.Fatalf("after an unknown id: %+v", reset)
	}
	sendMessage(t, srv, bo, ann.id, "after the reset")
	r.expectEvent(t, "message", map[string]any{"text": "after the reset"})
	r.close()

	expect(t, srv.do("GET", "/api/v1/events", "", nil), http.StatusUnauthorized, "unauthorized")
	expect(t, srv.do("GET", "/api/v1/events", ann.token, nil, "Last-Event-ID", strings.Repeat("9", 101)), http.StatusBadRequest, "bad_request")

	// The per-user cap of every event stream: bo holds sb, seven more
	// are his, the ninth is refused.
	for range 7 {
		openStream(t, srv, bo.token, "", false)
	}
	r9 := srv.do("GET", "/api/v1/events", bo.token, nil)
	expect(t, r9, http.StatusTooManyRequests, "rate_limited")
	if r9.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

// TestEventsAcrossNodes: two nodes on one database and one Redis. A
// message sent through A arrives on a stream held on B; with Redis killed
// each node's streams still hear what is done on that node; once Redis is
// back, events cross nodes again.
func TestEventsAcrossNodes(t *testing.T) {
	redis := redistest.Start(t)
	env := map[string]string{
		"REEL_DATABASE_URL": sqltest.PostgresURL(t),
		"REEL_SECRET":       "a shared secret of at least thirty-two bytes",
		"REEL_REDIS_URL":    redis.URL,
		"REEL_WORKERS":      "0",
	}
	a, b := startServer(t, env), startServer(t, env)
	ann, bo := register(t, a, "ann"), register(t, a, "bob")
	onB := openStream(t, b, ann.token, "", false)
	onA := openStream(t, a, ann.token, "", false)
	sendMessage(t, a, bo, ann.id, "through a")
	first := onB.expectEvent(t, "message", map[string]any{"text": "through a"})
	onA.expectEvent(t, "message", map[string]any{"text": "through a"})
	sendMessage(t, b, bo, ann.id, "through b")
	lastB := onB.expectEvent(t, "message", map[string]any{"text": "through b"}).ID
	lastA := onA.expectEvent(t, "message", map[string]any{"text": "through b"}).ID
	// B replays from Redis what A published.
	r := openStream(t, b, ann.token, first.ID, false)
	r.expectEvent(t, "message", map[string]any{"text": "through b"})
	r.close()

	redis.Kill()
	// Each node ends its streams when it loses its subscription (what other
	// nodes publish from then on would not reach them); a client resumes
	// from the last id it saw, and hears that node's events. No request
	// fails.
	onB.waitEnded(t)
	onA.waitEnded(t)
	onB = openStream(t, b, ann.token, lastB, false)
	onA = openStream(t, a, ann.token, lastA, false)
	sendMessage(t, b, bo, ann.id, "b while Redis is down")
	onB.expectEvent(t, "message", map[string]any{"text": "b while Redis is down"})
	sendMessage(t, a, bo, ann.id, "a while Redis is down")
	onA.expectEvent(t, "message", map[string]any{"text": "a while Redis is down"})

	redis.Restart()
	// Once A's breaker lets it use Redis again and B has resubscribed (and
	// ended the streams opened meanwhile), a message through A reaches a
	// stream on B.
	n := 0
	testwait.For(t, "a message through A to reach B after Redis restarted", 30*time.Second, 200*time.Millisecond, func() bool {
		n++
		text := fmt.Sprintf("after the restart %d", n)
		s := openStream(t, b, ann.token, "", false)
		defer s.close()
		sendMessage(t, a, bo, ann.id, text)
		for {
			select {
			case e, ok := <-s.events:
				if !ok {
					return false // ended as B resubscribed: try again
				}
				if e.Type == "message" && e.Data["text"] == text {
					return true
				}
			case <-time.After(200 * time.Millisecond):
				return false
			}
		}
	})
}

// waitEnded reads the stream until the server ends it.
func (s *eventStream) waitEnded(t *testing.T) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the event stream was not ended within 10 s")
		}
	}
}

// TestWorkerStatusEvents: a separate "reel worker" publishes its videos'
// status changes through Redis to the streams of serve.
func TestWorkerStatusEvents(t *testing.T) {
	redis := redistest.Start(t)
	env := map[string]string{"REEL_DATA_DIR": t.TempDir(), "REEL_WORKERS": "0", "REEL_REDIS_URL": redis.URL}
	srv := startServer(t, env)
	ann := register(t, srv, "ann")
	s := openStream(t, srv, ann.token, "", false)
	r := uploadMultipart(t, srv, ann.token, mediatest.Clip(t, "noaudio"), nil, false)
	expect(t, r, http.StatusAccepted, "")
	var v videoJSON
	r.json(t, &v)
	s.expectEvent(t, "video_status", map[string]any{"video_id": v.ID, "status": "processing"})

	workerEnv := map[string]string{"REEL_WORKERS": "1"}
	for k, val := range env {
		if k != "REEL_WORKERS" {
			workerEnv[k] = val
		}
	}
	startCommand(t, "worker", workerEnv)
	select {
	case e, ok := <-s.events:
		if !ok || e.Type != "video_status" || e.Data["status"] != "ready" || fmt.Sprint(e.Data["video_id"]) != fmt.Sprint(v.ID) {
			t.Fatalf("after the worker: %+v", e)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("no status event from the worker within 2 minutes")
	}
}

// TestEventsEndAtShutdown: a node shutting down ends its users' streams
// (their clients reconnect elsewhere with Last-Event-ID) instead of
// holding its drain until the deadline, which here is ten minutes.
func TestEventsEndAtShutdown(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_SHUTDOWN_TIMEOUT": "10m"})
	ann := register(t, srv, "ann")
	s := openStream(t, srv, ann.token, "", false)
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	for e := range s.events {
		t.Errorf("an event at shutdown: %+v", e)
	}
	if strings.Contains(srv.stderr.String(), "drain incomplete") {
		t.Errorf("the drain did not complete:\n%s", srv.stderr)
	}
}
