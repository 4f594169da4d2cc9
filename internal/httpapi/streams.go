package httpapi

import (
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/clientaddr"
	"github.com/reel-video/reel/internal/publish"
)

// Caps on the event streams (text/event-stream) one client may hold open on
// a node at once, those of videos and the user's own (GET /api/v1/events)
// together. A stream holds a connection, a goroutine and a database poll a
// second (a video's) or a subscription (the user's) for up to an hour, so
// without a cap one client could hold thousands; an app needs one or two.
const (
	MaxStreamsPerAddress = 8
	MaxStreamsPerUser    = 8
	// streamRetryAfter is what a refused client is told to wait, in seconds:
	// streams end when their video is ready, typically within minutes.
	streamRetryAfter = 10
)

// streamLimiter counts the open streams per key.
type streamLimiter struct {
	mu   sync.Mutex
	open map[string]int
}

func newStreamLimiter() *streamLimiter { return &streamLimiter{open: map[string]int{}} }

// acquire takes one stream for each key, each under its cap, or none at
// all; release gives them back.
func (l *streamLimiter) acquire(keys map[string]int) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, limit := range keys {
		if l.open[k] >= limit {
			return nil, false
		}
	}
	for k := range keys {
		l.open[k]++
	}
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for k := range keys {
			if l.open[k]--; l.open[k] <= 0 {
				delete(l.open, k)
			}
		}
	}, true
}

// capStreams admits an event stream while its client (clientaddr.Key, as
// every per-address limit) and its user hold fewer than their caps, and answers 429 otherwise. Every event-stream
// route goes through it.
func (s *server) capStreams() gin.HandlerFunc {
	return func(c *gin.Context) {
		keys := map[string]int{"addr " + clientaddr.Key(c.ClientIP()): MaxStreamsPerAddress}
		if uid := viewerID(c); uid != 0 {
			keys["user "+strconv.FormatInt(uid, 10)] = MaxStreamsPerUser
		}
		release, ok := s.streams.acquire(keys)
		if !ok {
			writeError(c, &publish.Busy{Err: reel.Errorf(reel.ERATELIMITED,
				"too many open event streams (at most %d per client address and %d per user); close one or retry in %d s",
				MaxStreamsPerAddress, MaxStreamsPerUser, streamRetryAfter), After: streamRetryAfter})
			c.Abort()
			return
		}
		defer release()
		c.Next()
	}
}

// handleTusWithoutSlash answers /api/v1/uploads, where tusd would answer a
// plain-text 404: the JSON 404 of every other unknown API path, with the
// URL the client meant.
func (s *server) handleTusWithoutSlash() gin.HandlerFunc {
	return func(c *gin.Context) {
		refuse(c, reel.Errorf(reel.ENOTFOUND, "tus uploads are created at /api/v1/uploads/ (with the trailing slash)"))
	}
}
