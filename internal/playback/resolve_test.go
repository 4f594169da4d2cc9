package playback

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel"
)

// lookups is an OriginLookup over a map that counts its calls.
type lookups struct {
	mu      sync.Mutex
	origins map[int64]int64
	final   map[int64]bool
	calls   map[int64]int
}

func (l *lookups) lookup(_ context.Context, id int64) (int64, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls[id]++
	o, ok := l.origins[id]
	if !ok {
		return 0, false, reel.Errorf(reel.ENOTFOUND, "video %d not found", id)
	}
	return o, l.final[id], nil
}

// A shared output of a reusing video is served from its origin's object,
// its own files (manifests, cover, original, captions) from its own; the
// URL's own key is what is checked; final answers are looked up once.
func TestResolveReusedOutputs(t *testing.T) {
	l := &lookups{origins: map[int64]int64{7: 42, 8: 0, 42: 0}, final: map[int64]bool{7: true, 42: true}, calls: map[int64]int{}}
	var mu sync.Mutex
	var checked []string
	f := newFixture(t, HandlerOptions{
		Resolve: NewResolver(l.lookup).Resolve,
		Allowed: func(_ context.Context, g Grant) bool {
			mu.Lock()
			defer mu.Unlock()
			checked = append(checked, g.Key)
			return true
		},
	})
	resp, body := f.get(t, f.signer.SignPath("/media/videos/7/hls/720p/seg_00001.m4s"))
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, f.files["videos/42/hls/720p/seg_00001.m4s"]) {
		t.Errorf("a reusing video's segment: %d, %d bytes", resp.StatusCode, len(body))
	}
	if len(checked) != 1 || checked[0] != "videos/7/hls/720p/seg_00001.m4s" {
		t.Errorf("checked %v, want the URL's own key", checked)
	}
	// Its own master is its own: none stored here.
	if resp, _ := f.get(t, f.signer.SignPath("/media/videos/7/hls/master.m3u8")); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a reusing video's master was served from its origin: %d", resp.StatusCode)
	}
	f.get(t, f.signer.SignPath("/media/videos/7/hls/720p/seg_00002.m4s"))
	if l.calls[7] != 1 {
		t.Errorf("a final answer was looked up %d times", l.calls[7])
	}

	r := NewResolver(l.lookup)
	for key, want := range map[string]string{
		"videos/7/play.mp4":                  "videos/42/play.mp4",
		"videos/7/hls/audio/init.mp4":        "videos/42/hls/audio/init.mp4",
		"videos/7/hls/storyboard/sprite.jpg": "videos/42/hls/storyboard/sprite.jpg",
		"videos/7/hls/preview.webp":          "videos/42/hls/preview.webp",
		"videos/7/hls/manifest.mpd":          "videos/7/hls/manifest.mpd",
		"videos/7/hls/live.m3u8":             "videos/7/hls/live.m3u8",
		"videos/7/hls/captions/en.vtt":       "videos/7/hls/captions/en.vtt",
		"videos/7/cover.webp":                "videos/7/cover.webp",
		"videos/7/original.mp4":              "videos/7/original.mp4",
		"videos/42/hls/720p/seg_00001.m4s":   "videos/42/hls/720p/seg_00001.m4s",
		"videos/8/hls/720p/seg_00001.m4s":    "videos/8/hls/720p/seg_00001.m4s",
		"videos/9/hls/720p/seg_00001.m4s":    "videos/9/hls/720p/seg_00001.m4s", // gone
		"videos/07/hls/720p/seg_00001.m4s":   "videos/07/hls/720p/seg_00001.m4s",
		"elsewhere/7/hls/720p/seg_00001.m4s": "elsewhere/7/hls/720p/seg_00001.m4s",
	} {
		if got, err := r.Resolve(t.Context(), key); got != want || err != nil {
			t.Errorf("Resolve(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	// An answer that may change (still processing) is kept for pendingTTL
	// only; a video not found is asked again each time.
	clock := time.Unix(1_800_000_000, 0)
	r.now = func() time.Time { return clock }
	r.pending.Clear()
	calls8 := l.calls[8]
	for range 2 {
		r.Resolve(t.Context(), "videos/8/play.mp4")
		r.Resolve(t.Context(), "videos/9/play.mp4")
	}
	if l.calls[8] != calls8+1 || l.calls[9] != 3 { // 9: once above, twice here
		t.Errorf("lookups within pendingTTL: %d of video 8 (want 1), %d of video 9 (want 3)", l.calls[8]-calls8, l.calls[9])
	}
	clock = clock.Add(pendingTTL)
	r.Resolve(t.Context(), "videos/8/play.mp4")
	if l.calls[8] != calls8+2 {
		t.Errorf("an answer that may change was kept past pendingTTL: %d lookups, want 2", l.calls[8]-calls8)
	}
}

// keyPresigner records the keys it is asked to presign.
type keyPresigner struct{ keys chan string }

func (p keyPresigner) GetURL(_ context.Context, key string, _ time.Duration) (string, error) {
	p.keys <- key
	return "http://store.invalid/" + key, nil
}

// A redirect names the origin's object, never the reusing video's.
func TestResolveRedirect(t *testing.T) {
	l := &lookups{origins: map[int64]int64{7: 42}, final: map[int64]bool{7: true}, calls: map[int64]int{}}
	p := keyPresigner{keys: make(chan string, 1)}
	f := newFixture(t, HandlerOptions{Resolve: NewResolver(l.lookup).Resolve, Redirect: p})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(f.srv.URL + f.signer.SignPath("/media/videos/7/hls/720p/seg_00001.m4s"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || <-p.keys != "videos/42/hls/720p/seg_00001.m4s" {
		t.Errorf("redirect: %d to %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
