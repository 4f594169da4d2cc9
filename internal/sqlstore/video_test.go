package sqlstore_test

import (
	"testing"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// A rejected video's files are deleted: ClearFiles empties every key and
// the renditions in the same write that fails it, whatever else that write
// names, and its original no longer counts against the author's quota.
func TestSetProcessedClearFiles(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 1, 0)
		ctx := t.Context()
		author := w.users[0].ID
		kept := &reel.Video{AuthorID: author, Title: "kept", Status: reel.StatusUploading}
		rejected := &reel.Video{AuthorID: author, Title: "rejected", Status: reel.StatusUploading}
		for _, v := range []*reel.Video{kept, rejected} {
			if err := w.db.CreateVideo(ctx, v); err != nil {
				t.Fatal(err)
			}
			if _, err := w.db.FinishUpload(ctx, v.ID, reel.OriginalKey(v.ID), 1000, "ab"); err != nil {
				t.Fatal(err)
			}
			if err := w.db.SetProcessed(ctx, v.ID, reel.Processed{CoverKey: reel.CoverKey(v.ID, "jpg"), PlayKey: reel.PlayKey(v.ID),
				HLSKey: reel.HLSKeyPrefix(v.ID) + "master.m3u8", Renditions: []reel.Rendition{{Width: 320, Height: 240, Bandwidth: 1}},
				DashKey: reel.HLSKeyPrefix(v.ID) + "manifest.mpd", StoryboardKey: reel.HLSKeyPrefix(v.ID) + "storyboard/storyboard.vtt",
				PreviewKey: reel.HLSKeyPrefix(v.ID) + "preview.webp"}); err != nil {
				t.Fatal(err)
			}
			got := w.video(t, v.ID, author)
			if got.DashKey != reel.HLSKeyPrefix(v.ID)+"manifest.mpd" || got.StoryboardKey != reel.HLSKeyPrefix(v.ID)+"storyboard/storyboard.vtt" ||
				got.PreviewKey != reel.HLSKeyPrefix(v.ID)+"preview.webp" {
				t.Errorf("keys read back: dash %q storyboard %q preview %q", got.DashKey, got.StoryboardKey, got.PreviewKey)
			}
		}
		if n, err := w.db.StoredBytes(ctx, author); err != nil || n != 2000 {
			t.Fatalf("StoredBytes = %d, %v; want 2000", n, err)
		}
		why := "timestamps run past its stated duration"
		if err := w.db.SetProcessed(ctx, rejected.ID, reel.Processed{Status: reel.StatusFailed, Error: &why, ClearFiles: true,
			PlayKey: reel.PlayKey(rejected.ID)}); err != nil {
			t.Fatal(err)
		}
		v := w.video(t, rejected.ID, author)
		if v.Status != reel.StatusFailed || v.Error != why {
			t.Errorf("rejected video is %s %q", v.Status, v.Error)
		}
		if v.OriginalKey != "" || v.CoverKey != "" || v.PlayKey != "" || v.HLSKey != "" || len(v.Renditions) != 0 ||
			v.DashKey != "" || v.StoryboardKey != "" || v.PreviewKey != "" {
			t.Errorf("the rejected video still names files: %q %q %q %q %v %q %q %q", v.OriginalKey, v.CoverKey, v.PlayKey, v.HLSKey, v.Renditions,
				v.DashKey, v.StoryboardKey, v.PreviewKey)
		}
		if k := w.video(t, kept.ID, author); k.OriginalKey == "" || k.PlayKey == "" || len(k.Renditions) != 1 || k.DashKey == "" || k.PreviewKey == "" {
			t.Errorf("the other video lost its files: %+v", k)
		}
		if n, err := w.db.StoredBytes(ctx, author); err != nil || n != 1000 {
			t.Errorf("StoredBytes = %d, %v; want 1000, the rejected original is gone", n, err)
		}

		// A withdrawn early master takes the HLS key alone.
		if err := w.db.SetProcessed(ctx, kept.ID, reel.Processed{ClearHLS: true}); err != nil {
			t.Fatal(err)
		}
		if k := w.video(t, kept.ID, author); k.HLSKey != "" || k.PlayKey == "" || k.CoverKey == "" || k.DashKey == "" {
			t.Errorf("after ClearHLS: hls %q play %q cover %q dash %q, want only the HLS key gone", k.HLSKey, k.PlayKey, k.CoverKey, k.DashKey)
		}
	})
}
