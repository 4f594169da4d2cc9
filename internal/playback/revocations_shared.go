package playback

import (
	"context"
	"encoding/json"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/shared"
)

// revocationChannel carries each committed revocation to every node.
const revocationChannel = "media-revocations"

// Committed is the store's hook (SetOnMediaRevoked) with shared state: the
// revocation this node has just committed is applied here at once and
// published to the other nodes, which apply it as it arrives (Listen),
// within milliseconds instead of their next poll. A lost message (Redis
// away) costs only that: the poll (Run) brings the revocation within its
// interval.
func (r *Revocations) Committed(b *shared.Broadcast) func(reel.MediaRevocation) {
	return func(rev reel.MediaRevocation) {
		r.Apply(rev)
		payload, err := json.Marshal(rev)
		if err == nil {
			err = b.Publish(context.Background(), revocationChannel, payload)
		}
		if err != nil && b != nil {
			r.log.Debug("revocation not broadcast: other nodes read it at their next poll", "video", rev.VideoID, "err", err)
		}
	}
}

// Listen applies the revocations other nodes publish until ctx ends;
// ready is closed once the node is subscribed (see Broadcast.Subscribe).
func (r *Revocations) Listen(ctx context.Context, b *shared.Broadcast, ready chan<- struct{}) {
	b.Subscribe(ctx, revocationChannel, func(payload []byte) {
		var rev reel.MediaRevocation
		if err := json.Unmarshal(payload, &rev); err != nil || rev.VideoID == 0 {
			r.log.Warn("ignoring a malformed revocation message", "err", err)
			return
		}
		r.Apply(rev)
		r.log.Debug("media revocation received", "video", rev.VideoID)
	}, ready)
}
