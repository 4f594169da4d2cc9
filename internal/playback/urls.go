package playback

import (
	"path"

	"github.com/reel-video/reel"
)

// URLs fills the signed media URLs of videos for one client.
type URLs struct {
	Signer *Signer
	// BindClient binds each URL to the client address it is handed to.
	BindClient bool
}

// Fill sets v's CoverURL, PlayURL and, once ready, HLSURL: absolute URLs on
// base (scheme and host). The HLS master is signed with its directory as
// prefix, so its playlists and segments are covered too. originalAsPlay
// points PlayURL at the original while no MP4 exists yet (the Douyin API
// promises a playable URL right after publishing). A blocked video gets none.
// The URLs are signed for the media generation of v as read: a copy of the
// video older than its move to private (a cache on another node) yields
// URLs of the old generation, which that node refuses as soon as it knows of
// the move, never URLs that would outlive it (see Revocations).
func (u *URLs) Fill(v *reel.Video, base, clientIP string, originalAsPlay bool) {
	if v.Blocked {
		return
	}
	opts := []SignOption{WithGeneration(v.MediaGeneration)}
	if u.BindClient && clientIP != "" {
		opts = append(opts, WithClientIP(clientIP))
	}
	sign := func(key string, more ...SignOption) string {
		return base + u.Signer.SignPath(Mount+key, append(more, opts...)...)
	}
	if v.CoverKey != "" {
		v.CoverURL = sign(v.CoverKey)
	}
	switch {
	case v.PlayKey != "":
		v.PlayURL = sign(v.PlayKey)
	case originalAsPlay && v.OriginalKey != "":
		v.PlayURL = sign(v.OriginalKey)
	}
	if v.HLSKey != "" && v.Status == reel.StatusReady {
		v.HLSURL = sign(v.HLSKey, WithPrefix(Mount+path.Dir(v.HLSKey)+"/"))
	}
	// A copy: a cached card's captions are shared by every request.
	captions := make([]reel.Caption, len(v.Captions))
	for i, c := range v.Captions {
		captions[i] = c
		captions[i].URL = sign(c.Key)
	}
	v.Captions = captions
}
