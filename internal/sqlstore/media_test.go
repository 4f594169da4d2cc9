package sqlstore_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// processingVideo is a video whose upload finished with the given hash.
func (w *world) processingVideo(t *testing.T, author int64, sha string) *reel.Video {
	t.Helper()
	v := &reel.Video{AuthorID: author, Title: "v", Status: reel.StatusUploading}
	if err := w.db.CreateVideo(t.Context(), v); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.FinishUpload(t.Context(), v.ID, reel.OriginalKey(v.ID), 1000, sha); err != nil {
		t.Fatal(err)
	}
	return v
}

// processedVideo is a processing video made ready with its own outputs.
func (w *world) processedVideo(t *testing.T, author int64, sha string) *reel.Video {
	t.Helper()
	v := w.processingVideo(t, author, sha)
	err := w.db.SetProcessed(t.Context(), v.ID, reel.Processed{Status: reel.StatusReady, DurationMS: 4000, Width: 320, Height: 240,
		CoverKey: reel.CoverKey(v.ID, "jpg"), PlayKey: reel.PlayKey(v.ID), HLSKey: reel.HLSKeyPrefix(v.ID) + "master.m3u8",
		Renditions: []reel.Rendition{{Width: 320, Height: 240, Bandwidth: 300000}},
		DashKey:    reel.HLSKeyPrefix(v.ID) + "manifest.mpd", StoryboardKey: reel.HLSKeyPrefix(v.ID) + "storyboard/storyboard.vtt",
		PreviewKey: reel.HLSKeyPrefix(v.ID) + "preview.webp"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (w *world) unusedOrigins(t *testing.T) []int64 {
	t.Helper()
	ids, err := w.db.UnusedMediaOrigins(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// A processing video takes the outputs of the oldest ready video with its
// hash that owns its outputs, becomes ready with them under its own
// prefix, and the origin's outputs are unused only once the origin and
// every video using them are deleted, in either order.
func TestReuseMedia(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 1, 0)
		ctx := t.Context()
		author := w.users[0].ID
		origin := w.processedVideo(t, author, "aa")
		if _, err := w.db.FindMediaOrigin(ctx, origin.ID); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("a video is its own origin: %v", err)
		}
		x := w.processingVideo(t, author, "aa")
		other := w.processingVideo(t, author, "bb")
		if _, err := w.db.FindMediaOrigin(ctx, other.ID); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("a video with another hash found an origin: %v", err)
		}
		if o, final, err := w.db.MediaOf(ctx, x.ID); o != 0 || final || err != nil {
			t.Errorf("MediaOf(processing) = %d, %v, %v; want 0, not final", o, final, err)
		}
		found, err := w.db.FindMediaOrigin(ctx, x.ID)
		if err != nil || found.ID != origin.ID {
			t.Fatalf("FindMediaOrigin = %v, %v; want video %d", found, err, origin.ID)
		}
		if ok, err := w.db.ReuseMedia(ctx, x.ID, origin.ID); !ok || err != nil {
			t.Fatalf("ReuseMedia = %v, %v", ok, err)
		}
		got := w.video(t, x.ID, author)
		if got.Status != reel.StatusReady || got.Progress != 100 || got.DurationMS != 4000 || got.Width != 320 || len(got.Renditions) != 1 {
			t.Errorf("the reusing video is %+v", got)
		}
		if got.HLSKey != reel.HLSKeyPrefix(x.ID)+"master.m3u8" || got.PlayKey != reel.PlayKey(x.ID) || got.CoverKey != reel.CoverKey(x.ID, "jpg") {
			t.Errorf("the reusing video's keys are not under its own prefix: %q %q %q", got.HLSKey, got.PlayKey, got.CoverKey)
		}
		if hls := reel.HLSKeyPrefix(x.ID); got.DashKey != hls+"manifest.mpd" || got.StoryboardKey != hls+"storyboard/storyboard.vtt" || got.PreviewKey != hls+"preview.webp" {
			t.Errorf("the reusing video's DASH, storyboard and preview: %q %q %q", got.DashKey, got.StoryboardKey, got.PreviewKey)
		}
		if o, final, err := w.db.MediaOf(ctx, x.ID); o != origin.ID || !final || err != nil {
			t.Errorf("MediaOf(reusing) = %d, %v, %v; want %d, final", o, final, err, origin.ID)
		}
		if o, final, err := w.db.MediaOf(ctx, origin.ID); o != 0 || !final || err != nil {
			t.Errorf("MediaOf(origin) = %d, %v, %v; want 0, final", o, final, err)
		}
		if ok, err := w.db.IsMediaOrigin(ctx, origin.ID); !ok || err != nil {
			t.Errorf("IsMediaOrigin(origin) = %v, %v", ok, err)
		}
		if ok, _ := w.db.IsMediaOrigin(ctx, x.ID); ok {
			t.Error("the reusing video is listed as an origin")
		}
		// A reusing video is never an origin itself: the next one takes the same.
		y := w.processingVideo(t, author, "aa")
		if found, err := w.db.FindMediaOrigin(ctx, y.ID); err != nil || found.ID != origin.ID {
			t.Errorf("FindMediaOrigin = %v, %v; want video %d", found, err, origin.ID)
		}
		if ok, err := w.db.ReuseMedia(ctx, x.ID, origin.ID); ok || reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("a ready video took an origin again: %v, %v", ok, err)
		}

		if err := w.db.DeleteVideo(ctx, origin.ID, author); err != nil {
			t.Fatal(err)
		}
		if ids := w.unusedOrigins(t); len(ids) != 0 {
			t.Errorf("the deleted origin's outputs are unused while video %d uses them: %v", x.ID, ids)
		}
		if ok, err := w.db.ReuseMedia(ctx, y.ID, origin.ID); ok || err != nil {
			t.Errorf("a video took a deleted origin: %v, %v", ok, err)
		}
		if v := w.video(t, y.ID, author); v.Status != reel.StatusProcessing {
			t.Errorf("the refused video is %s", v.Status)
		}
		if err := w.db.DeleteVideo(ctx, x.ID, author); err != nil {
			t.Fatal(err)
		}
		if ids := w.unusedOrigins(t); !slices.Equal(ids, []int64{origin.ID}) {
			t.Errorf("UnusedMediaOrigins = %v, want [%d]", ids, origin.ID)
		}
		if err := w.db.ForgetMediaOrigin(ctx, origin.ID); err != nil {
			t.Fatal(err)
		}
		if ids := w.unusedOrigins(t); len(ids) != 0 {
			t.Errorf("UnusedMediaOrigins = %v after forgetting", ids)
		}

		// The user first, then the origin.
		o2 := w.processedVideo(t, author, "cc")
		x2 := w.processingVideo(t, author, "cc")
		if ok, err := w.db.ReuseMedia(ctx, x2.ID, o2.ID); !ok || err != nil {
			t.Fatalf("ReuseMedia = %v, %v", ok, err)
		}
		if err := w.db.DeleteVideo(ctx, x2.ID, author); err != nil {
			t.Fatal(err)
		}
		if ids := w.unusedOrigins(t); len(ids) != 0 {
			t.Errorf("the outputs of an existing origin are unused: %v", ids)
		}
		if err := w.db.DeleteVideo(ctx, o2.ID, author); err != nil {
			t.Fatal(err)
		}
		if ids := w.unusedOrigins(t); !slices.Equal(ids, []int64{o2.ID}) {
			t.Errorf("UnusedMediaOrigins = %v, want [%d]", ids, o2.ID)
		}

		// A blocked video is no origin: a re-upload of it is transcoded.
		blocked := w.processedVideo(t, author, "dd")
		if err := w.db.SetBlocked(ctx, blocked.ID, true); err != nil {
			t.Fatal(err)
		}
		z := w.processingVideo(t, author, "dd")
		if found, err := w.db.FindMediaOrigin(ctx, z.ID); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("FindMediaOrigin found the blocked video: %v, %v", found, err)
		}
		if ok, err := w.db.ReuseMedia(ctx, z.ID, blocked.ID); ok || err != nil {
			t.Errorf("a video took a blocked origin: %v, %v", ok, err)
		}
		if v := w.video(t, z.ID, author); v.Status != reel.StatusProcessing || v.HLSKey != "" {
			t.Errorf("the video refused a blocked origin is %s with %q", v.Status, v.HLSKey)
		}
		if ok, _ := w.db.IsMediaOrigin(ctx, blocked.ID); ok {
			t.Error("the blocked video is listed as an origin")
		}
		// Unblocked, it is an origin again.
		if err := w.db.SetBlocked(ctx, blocked.ID, false); err != nil {
			t.Fatal(err)
		}
		if found, err := w.db.FindMediaOrigin(ctx, z.ID); err != nil || found.ID != blocked.ID {
			t.Errorf("FindMediaOrigin = %v, %v; want the unblocked video %d", found, err, blocked.ID)
		}
	})
}

// A reuse racing with the deletion of its origin either loses (the video
// stays processing) or wins, and then the origin's outputs stay in use
// after the deletion: never a video using outputs the store calls unused.
func TestReuseMediaRacingDelete(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 1, 0)
		ctx := t.Context()
		author := w.users[0].ID
		won, lost := 0, 0
		for i := range 12 {
			sha := string(rune('a'+i)) + "race"
			origin := w.processedVideo(t, author, sha)
			x := w.processingVideo(t, author, sha)
			var wg sync.WaitGroup
			var ok bool
			var reuseErr, deleteErr error
			wg.Go(func() { ok, reuseErr = w.db.ReuseMedia(ctx, x.ID, origin.ID) })
			wg.Go(func() { deleteErr = w.db.DeleteVideo(ctx, origin.ID, author) })
			wg.Wait()
			if reuseErr != nil || deleteErr != nil {
				t.Fatalf("ReuseMedia: %v; DeleteVideo: %v", reuseErr, deleteErr)
			}
			o, _, err := w.db.MediaOf(ctx, x.ID)
			if err != nil {
				t.Fatal(err)
			}
			unused := slices.Contains(w.unusedOrigins(t), origin.ID)
			if ok {
				won++
				if o != origin.ID || unused {
					t.Fatalf("reuse won: media_of = %d, origin unused = %v", o, unused)
				}
			} else {
				lost++
				if o != 0 || w.video(t, x.ID, author).Status != reel.StatusProcessing {
					t.Fatalf("reuse lost but the video changed: media_of = %d", o)
				}
			}
			if err := w.db.DeleteVideo(ctx, x.ID, author); err != nil {
				t.Fatal(err)
			}
			if ok && !slices.Contains(w.unusedOrigins(t), origin.ID) {
				t.Fatal("the origin's outputs are still in use after both videos are gone")
			}
		}
		t.Logf("reuse won %d races, lost %d", won, lost)
	})
}
