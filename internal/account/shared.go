package account

import (
	"context"
	"encoding/json"

	"github.com/reel-video/reel/internal/shared"
)

// sessionsChannel carries the sessions this node ended to the others.
const sessionsChannel = "sessions-ended"

// ended is one message: a session that ended (Session), or every session
// of a user but Keep (User).
type endedMessage struct {
	Session string `json:"session,omitempty"`
	User    int64  `json:"user,omitempty"`
	Keep    string `json:"keep,omitempty"`
}

// Share makes the sessions this node ends stop working on every node at
// once: each sign-out is published through b, and Listen applies the
// other nodes' to this node's session cache. While Redis is away a token
// signed out elsewhere works here until the cache's RevocationTTL, as
// without Redis. Call it before serving.
func (s *Service) Share(b *shared.Broadcast) { s.broadcast = b }

// Listen applies the sign-outs other nodes publish until ctx ends; ready
// is closed once the node is subscribed.
func (s *Service) Listen(ctx context.Context, ready chan<- struct{}) {
	s.broadcast.Subscribe(ctx, sessionsChannel, func(payload []byte) {
		var m endedMessage
		if err := json.Unmarshal(payload, &m); err != nil {
			return
		}
		if m.Session != "" {
			s.cache.ended(m.Session, s.cfg.Now())
		}
		if m.User != 0 {
			s.cache.dropUser(m.User, m.Keep)
		}
	}, ready)
}

// announce publishes m; a message that cannot be sent leaves the other
// nodes their TTL.
func (s *Service) announce(m endedMessage) {
	if s.broadcast == nil {
		return
	}
	payload, err := json.Marshal(m)
	if err == nil {
		_ = s.broadcast.Publish(context.Background(), sessionsChannel, payload)
	}
}
