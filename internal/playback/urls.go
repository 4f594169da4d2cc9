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

// Fill sets v's CoverURL, PlayURL, HLSURL, DashURL, StoryboardURL and
// PreviewURL, for the keys v has: absolute URLs on base (scheme and host).
// HLSURL is set as soon as the video has an HLS master, which while it is
// processing is the early one (live.m3u8) naming the playlists that grow as
// the ladder runs (and no longer once the video has failed). A manifest (the HLS master, the DASH MPD, the
// storyboard's WebVTT) is signed with its directory as prefix, so what it
// names relatively (playlists, segments, sprites) is covered too. originalAsPlay
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
	signDir := func(key string) string {
		if key == "" {
			return ""
		}
		return sign(key, WithPrefix(Mount+path.Dir(key)+"/"))
	}
	// A video that failed while its early master was out has playlists
	// that will never end: a player would wait on them forever.
	if v.Status != reel.StatusFailed {
		v.HLSURL = signDir(v.HLSKey)
	}
	v.DashURL = signDir(v.DashKey)
	v.StoryboardURL = signDir(v.StoryboardKey)
	if v.PreviewKey != "" {
		v.PreviewURL = sign(v.PreviewKey)
	}
	// A copy: a cached card's captions are shared by every request.
	captions := make([]reel.Caption, len(v.Captions))
	for i, c := range v.Captions {
		captions[i] = c
		captions[i].URL = sign(c.Key)
	}
	v.Captions = captions
}
