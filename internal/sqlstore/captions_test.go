package sqlstore_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

func TestCaptions(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 2, 2)
		ctx := t.Context()
		owner, other := w.users[0].ID, w.users[1].ID
		v := w.videos[0]
		var mu sync.Mutex
		var changed []int64
		w.db.SetOnVideoChange(func(id int64, _ bool) {
			mu.Lock()
			changed = append(changed, id)
			mu.Unlock()
		})

		en := reel.Caption{Lang: "en", Label: "English", Key: reel.CaptionKey(v.ID, "en", "a1"), SizeBytes: 100}
		if old, err := w.db.PutCaption(ctx, v.ID, owner, en); err != nil || old != nil {
			t.Fatalf("PutCaption = %v, %v", old, err)
		}
		fr := reel.Caption{Lang: "fr", Label: "Français", Key: reel.CaptionKey(v.ID, "fr", "b2"), SizeBytes: 200}
		if _, err := w.db.PutCaption(ctx, v.ID, owner, fr); err != nil {
			t.Fatal(err)
		}
		en2 := reel.Caption{Lang: "en", Label: "Subtitles", Key: reel.CaptionKey(v.ID, "en", "c3"), SizeBytes: 300}
		if old, err := w.db.PutCaption(ctx, v.ID, owner, en2); err != nil || old == nil || *old != en {
			t.Fatalf("replacing: PutCaption = %+v, %v; want the replaced %+v", old, err, en)
		}
		want := []reel.Caption{en2, fr}
		if got, err := w.db.ListCaptions(ctx, v.ID); err != nil || !slices.Equal(got, want) {
			t.Errorf("ListCaptions = %+v, %v; want %+v", got, err, want)
		}
		// The card carries them, for every viewer; the other video none.
		for _, viewer := range []int64{0, other} {
			if got := w.video(t, v.ID, viewer).Captions; !slices.Equal(got, want) {
				t.Errorf("viewer %d: Video.Captions = %+v", viewer, got)
			}
		}
		if got := w.video(t, w.videos[1].ID, 0).Captions; got == nil || len(got) != 0 {
			t.Errorf("a video without captions: %#v, want an empty list", got)
		}
		cards, err := w.db.VideoCards(ctx, []int64{v.ID, w.videos[1].ID})
		if err != nil || !slices.Equal(cards[v.ID].Captions, want) || len(cards[w.videos[1].ID].Captions) != 0 {
			t.Errorf("VideoCards: %v", err)
		}
		mu.Lock()
		if len(changed) != 3 || changed[0] != v.ID {
			t.Errorf("reported changes %v; want video %d thrice (the caches drop its card)", changed, v.ID)
		}
		mu.Unlock()

		// Only the author changes them; a private video does not exist for others.
		if _, err := w.db.PutCaption(ctx, v.ID, other, fr); reel.ErrorCode(err) != reel.EFORBIDDEN {
			t.Errorf("another user's PutCaption = %v; want forbidden", err)
		}
		if _, err := w.db.DeleteCaption(ctx, v.ID, other, "fr"); reel.ErrorCode(err) != reel.EFORBIDDEN {
			t.Errorf("another user's DeleteCaption = %v; want forbidden", err)
		}
		private := w.readyVideo(t, owner, reel.VisibilityPrivate)
		if _, err := w.db.PutCaption(ctx, private.ID, other, fr); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("PutCaption on someone's private video = %v; want not found", err)
		}
		if _, err := w.db.PutCaption(ctx, 1<<40, owner, fr); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("PutCaption on no video = %v; want not found", err)
		}

		if c, err := w.db.DeleteCaption(ctx, v.ID, owner, "fr"); err != nil || c == nil || *c != fr {
			t.Errorf("DeleteCaption = %+v, %v; want %+v", c, err, fr)
		}
		if c, err := w.db.DeleteCaption(ctx, v.ID, owner, "fr"); err != nil || c != nil {
			t.Errorf("DeleteCaption again = %+v, %v; want nothing", c, err)
		}
		if got, _ := w.db.ListCaptions(ctx, v.ID); !slices.Equal(got, []reel.Caption{en2}) {
			t.Errorf("after the deletion: %+v", got)
		}

		// At most MaxCaptionsPerVideo languages; replacing one still works.
		for i := 1; i < reel.MaxCaptionsPerVideo; i++ {
			lang := fmt.Sprintf("x%02d", i)
			if _, err := w.db.PutCaption(ctx, v.ID, owner, reel.Caption{Lang: lang, Label: lang, Key: reel.CaptionKey(v.ID, lang, "r")}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.db.PutCaption(ctx, v.ID, owner, fr); reel.ErrorCode(err) != reel.ECONFLICT {
			t.Errorf("language %d: %v; want conflict", reel.MaxCaptionsPerVideo+1, err)
		}
		if _, err := w.db.PutCaption(ctx, v.ID, owner, en); err != nil {
			t.Errorf("replacing at the limit: %v", err)
		}

		// They go with their video.
		if err := w.db.DeleteVideo(ctx, v.ID, owner); err != nil {
			t.Fatal(err)
		}
		if got, err := w.db.ListCaptions(ctx, v.ID); err != nil || len(got) != 0 {
			t.Errorf("captions of a deleted video: %+v, %v", got, err)
		}
	})
}

// Two nodes adding languages at once: every one is stored and the cap on
// languages holds (PostgreSQL locks the video row; SQLite's writers take
// turns).
func TestConcurrentCaptions(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 1, 1)
		v, owner := w.videos[0], w.users[0].ID
		var wg sync.WaitGroup
		errs := make([]error, reel.MaxCaptionsPerVideo+10)
		for i := range errs {
			wg.Go(func() {
				lang := fmt.Sprintf("y%02d", i)
				_, errs[i] = w.db.PutCaption(t.Context(), v.ID, owner, reel.Caption{Lang: lang, Label: lang, Key: reel.CaptionKey(v.ID, lang, "r")})
			})
		}
		wg.Wait()
		refused := 0
		for _, err := range errs {
			switch reel.ErrorCode(err) {
			case "":
			case reel.ECONFLICT:
				refused++
			default:
				t.Errorf("PutCaption: %v", err)
			}
		}
		got, err := w.db.ListCaptions(t.Context(), v.ID)
		if err != nil || len(got) != reel.MaxCaptionsPerVideo || refused != 10 {
			t.Errorf("%d stored, %d refused (%v); want %d and 10", len(got), refused, err, reel.MaxCaptionsPerVideo)
		}
	})
}
