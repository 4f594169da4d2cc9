package playback

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/reel-video/reel"
)

// The URLs a video's keys give: the early HLS master while it is still
// processing, and once ready the final master, the DASH MPD and the
// storyboard signed for their directories (what they name relatively is
// covered), the preview as a single object.
func TestFillURLs(t *testing.T) {
	clock := t0
	s := newTestSigner(secretNew, nil, &clock)
	u := &URLs{Signer: s}
	const base = "https://reel.example"

	processing := &reel.Video{ID: 42, Status: reel.StatusProcessing, CoverKey: "videos/42/cover.jpg", HLSKey: "videos/42/hls/live.m3u8"}
	u.Fill(processing, base, "", false)
	if !strings.HasSuffix(processing.HLSURL, "/videos/42/hls/live.m3u8") || processing.DashURL != "" || processing.StoryboardURL != "" || processing.PreviewURL != "" {
		t.Errorf("processing video: hls %q dash %q storyboard %q preview %q", processing.HLSURL, processing.DashURL, processing.StoryboardURL, processing.PreviewURL)
	}
	verifies(t, s, processing.HLSURL, "720p/live.m3u8", true)

	// Failed with its early master out: the live playlists never end.
	failed := &reel.Video{ID: 42, Status: reel.StatusFailed, CoverKey: "videos/42/cover.jpg", HLSKey: "videos/42/hls/live.m3u8"}
	u.Fill(failed, base, "", false)
	if failed.HLSURL != "" || failed.CoverURL == "" {
		t.Errorf("failed video: hls %q cover %q, want no HLS and the cover", failed.HLSURL, failed.CoverURL)
	}

	ready := &reel.Video{ID: 42, Status: reel.StatusReady, HLSKey: "videos/42/hls/master.m3u8", DashKey: "videos/42/hls/manifest.mpd",
		StoryboardKey: "videos/42/hls/storyboard/storyboard.vtt", PreviewKey: "videos/42/hls/preview.webp"}
	u.Fill(ready, base, "", false)
	verifies(t, s, ready.HLSURL, "720p/seg_000.m4s", true)
	verifies(t, s, ready.DashURL, "360p/seg_001.m4s", true)
	verifies(t, s, ready.StoryboardURL, "sprite_000.jpg", true)
	// The storyboard's signature covers its own directory only.
	verifies(t, s, ready.StoryboardURL, "../720p/seg_000.m4s", false)
	verifies(t, s, ready.PreviewURL, "", true)
	if !strings.Contains(ready.PreviewURL, "/media/videos/42/hls/preview.webp?exp=") {
		t.Errorf("preview URL %s, want a single object's", ready.PreviewURL)
	}

	blocked := &reel.Video{ID: 42, Status: reel.StatusReady, Blocked: true, HLSKey: ready.HLSKey, DashKey: ready.DashKey,
		StoryboardKey: ready.StoryboardKey, PreviewKey: ready.PreviewKey}
	u.Fill(blocked, base, "", false)
	if blocked.HLSURL != "" || blocked.DashURL != "" || blocked.StoryboardURL != "" || blocked.PreviewURL != "" {
		t.Errorf("a blocked video got URLs: %+v", blocked)
	}
}

// verifies checks that rel, resolved against the signed URL signed as a
// player resolves it, passes (or fails) the signer's check.
func verifies(t *testing.T, s *Signer, signed, rel string, want bool) {
	t.Helper()
	base, err := url.Parse(signed)
	if err != nil || signed == "" {
		t.Fatalf("URL %q: %v", signed, err)
	}
	ref, err := url.Parse(rel)
	if err != nil {
		t.Fatal(err)
	}
	target := base.ResolveReference(ref)
	_, err = s.verify(httptest.NewRequest("GET", target.RequestURI(), nil))
	if (err == nil) != want {
		t.Errorf("%s: verified %v (%v), want %v", target, err == nil, err, want)
	}
}
