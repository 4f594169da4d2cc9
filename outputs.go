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

// Names of a video's manifests under its HLS prefix (HLSKeyPrefix). They
// are its own files, never shared with an identical upload: the master
// playlist and the MPD list its captions, and the early master (LiveName,
// also the name of each growing variant playlist) exists while it
// processes. Players fetch them again and again, so they are revalidated
// on every request.
const (
	MasterName = "master.m3u8"
	LiveName   = "live.m3u8"
	MPDName    = "manifest.mpd"
)

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
	case rest == "hls/"+MasterName, rest == "hls/"+LiveName, rest == "hls/"+MPDName:
		return false
	case strings.HasPrefix(rest, "hls/captions/"):
		return false
	}
	return true
}
