package reel

import (
	"strconv"
	"strings"
)

// SplitVideoKey splits a key under a video's prefix ("videos/42/hls/x")
// into the video's id and the rest ("hls/x"); ok is false for any other key.
func SplitVideoKey(key string) (id int64, rest string, ok bool) {
	after, found := strings.CutPrefix(key, VideosKeyPrefix)
	if !found {
		return 0, "", false
	}
	digits, rest, found := strings.Cut(after, "/")
	if !found || digits == "" || digits[0] == '0' || rest == "" {
		return 0, "", false
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id <= 0 {
		return 0, "", false
	}
	return id, rest, true
}

// SharedOutput reports whether rest (a key below a video's prefix, as
// SplitVideoKey returns it) names an output that identical uploads share:
// what the processing job makes from the original's bytes alone (the MP4,
// the renditions and their segments, the storyboard, the preview). The
// others belong to each video: its original, its cover (publishing may
// choose another), and the manifests that list its own captions.
func SharedOutput(rest string) bool {
	switch {
	case strings.HasPrefix(rest, "original"), strings.HasPrefix(rest, "cover."):
		return false
	case rest == "hls/master.m3u8", rest == "hls/live.m3u8", rest == "hls/manifest.mpd":
		return false
	case strings.HasPrefix(rest, "hls/captions/"):
		return false
	}
	return true
}
