package reel

import "testing"

func TestSplitVideoKeyAndSharedOutput(t *testing.T) {
	for key, want := range map[string]struct {
		id     int64
		rest   string
		ok     bool
		shared bool
	}{
		"videos/42/hls/720p/seg_001.m4s":    {42, "hls/720p/seg_001.m4s", true, true},
		"videos/42/hls/720p/live.m3u8":      {42, "hls/720p/live.m3u8", true, true},
		"videos/42/hls/audio/init.mp4":      {42, "hls/audio/init.mp4", true, true},
		"videos/42/hls/storyboard/a.vtt":    {42, "hls/storyboard/a.vtt", true, true},
		"videos/42/hls/preview.webp":        {42, "hls/preview.webp", true, true},
		"videos/42/play.mp4":                {42, "play.mp4", true, true},
		"videos/42/original":                {42, "original", true, false},
		"videos/42/original.mov":            {42, "original.mov", true, false},
		"videos/42/cover.jpg":               {42, "cover.jpg", true, false},
		"videos/42/hls/master.m3u8":         {42, "hls/master.m3u8", true, false},
		"videos/42/hls/live.m3u8":           {42, "hls/live.m3u8", true, false},
		"videos/42/hls/manifest.mpd":        {42, "hls/manifest.mpd", true, false},
		"videos/42/hls/captions/pt-BR.m3u8": {42, "hls/captions/pt-BR.m3u8", true, false},
		"videos/042/play.mp4":               {},
		"videos/x/play.mp4":                 {},
		"videos/42":                         {},
		"videos/42/":                        {},
		"uploads/42/play.mp4":               {},
	} {
		id, rest, ok := SplitVideoKey(key)
		if id != want.id || rest != want.rest || ok != want.ok {
			t.Errorf("SplitVideoKey(%q) = %d, %q, %v", key, id, rest, ok)
		}
		if ok && SharedOutput(rest) != want.shared {
			t.Errorf("SharedOutput(%q) = %v", rest, !want.shared)
		}
	}
}
