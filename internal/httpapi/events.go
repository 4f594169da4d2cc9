package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/events"
)

// The user's live events are Server-Sent Events rather than a WebSocket:
// they flow one way (what a client does goes through the ordinary API), an
// event stream is plain HTTP that every proxy, CDN and load balancer
// passes and that HTTP/2 multiplexes, browsers reconnect it by themselves,
// and Last-Event-ID, the resume point after a reconnect, is part of it.
const (
	// eventsHeartbeat is the interval of the comment lines (": keep-alive")
	// that keep proxies from closing an idle stream and let the server
	// notice a client that is gone.
	eventsHeartbeat = 15 * time.Second
	// eventsMaxStream ends a stream after an hour, so that a node being
	// drained or rebalanced gets its connections back; the client
	// reconnects with Last-Event-ID and loses nothing.
	eventsMaxStream = time.Hour
	// eventsRetry is the reconnection delay the stream asks of EventSource
	// clients, in milliseconds.
	eventsRetry = 3000
	// eventsWriteTimeout bounds one write: a client that reads nothing for
	// that long is gone.
	eventsWriteTimeout = 30 * time.Second
)

// handleEvents streams the signed-in user's events (package events) as
// Server-Sent Events: first the events after the client's Last-Event-ID
// (the header, or the last_event_id query parameter for clients that
// cannot set headers, such as EventSource when it opens a stream), then
// live ones, with heartbeats between them.
func (s *server) handleEvents() gin.HandlerFunc {
	return func(c *gin.Context) {
		lastID := c.GetHeader("Last-Event-ID")
		if lastID == "" {
			lastID = c.Query("last_event_id")
		}
		if len(lastID) > 100 {
			writeError(c, reel.Errorf(reel.EBADREQUEST, "Last-Event-ID (or last_event_id) must be the id of an event this stream sent, at most 100 characters"))
			return
		}
		ctx := c.Request.Context()
		sub, err := s.Events.Subscribe(ctx, viewerID(c), lastID)
		if errors.Is(err, events.ErrClosed) {
			err = reel.Errorf(reel.EUNAVAILABLE, "this node is shutting down: reconnect")
		}
		if err != nil {
			writeError(c, err)
			return
		}
		defer sub.Close()

		write := openEventStream(c)
		send := func(e events.Event) bool {
			return write("id: %s\nevent: %s\ndata: %s\n\n", e.ID, e.Type, e.Data)
		}
		// The subscription is in place once the client reads this line:
		// nothing published from then on is missed.
		if !write("retry: %d\n: subscribed\n\n", eventsRetry) {
			return
		}
		if sub.Reset {
			// What followed the client's id cannot be replayed: it
			// refetches, and continues from the newest event ("" resets
			// the id of an EventSource when there is none).
			b, _ := json.Marshal(map[string]string{"reason": "Last-Event-ID is older than the replay window or unknown; refetch"})
			if !write("id: %s\nevent: reset\ndata: %s\n\n", sub.Head, b) {
				return
			}
		}
		for _, e := range sub.Replay {
			if !send(e) {
				return
			}
		}
		heartbeat := time.NewTicker(eventsHeartbeat)
		defer heartbeat.Stop()
		end := time.NewTimer(eventsMaxStream)
		defer end.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-end.C:
				return
			case <-heartbeat.C:
				if !write(": keep-alive\n\n") {
					return
				}
			case e, ok := <-sub.C:
				if !ok {
					// Dropped for lagging, or the node is shutting down:
					// ending the stream makes the client reconnect (to
					// another node) and replay from its last id.
					return
				}
				if sub.Fresh(e) && !send(e) {
					return
				}
			}
		}
	}
}

// openEventStream answers c with the headers of a Server-Sent Events
// stream and returns its writer: each call writes and flushes one piece
// within eventsWriteTimeout, false once the client is gone.
func openEventStream(c *gin.Context) func(format string, args ...any) bool {
	w := c.Writer
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // proxies must not buffer the stream
	w.WriteHeader(http.StatusOK)
	return func(format string, args ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(eventsWriteTimeout))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
}
