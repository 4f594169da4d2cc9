package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/events"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// notices records what the store tells SetOnNotify.
type notices struct {
	mu  sync.Mutex
	got []string
}

func (n *notices) add(_ context.Context, userID int64, typ string, data any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, fmt.Sprintf("%d %s %+v", userID, typ, data))
}

func (n *notices) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	got := n.got
	n.got = nil
	return got
}

// TestNotify: every write a user gets a live event for tells the hook once,
// after it committed; repeated, failed and self-directed writes tell nobody.
func TestNotify(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 2, 1)
		ctx := t.Context()
		author, fan, v := w.users[0], w.users[1], w.videos[0]
		var n notices
		w.db.SetOnNotify(n.add)
		expectNotices := func(what string, want ...string) {
			t.Helper()
			got := n.take()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: notices %q, want %q", what, got, want)
			}
		}

		for range 2 {
			if err := w.db.Like(ctx, fan.ID, v.ID); err != nil {
				t.Fatal(err)
			}
		}
		expectNotices("a like, twice", fmt.Sprintf("%d like %+v", author.ID, events.Like{VideoID: v.ID, UserID: fan.ID}))
		if err := w.db.Like(ctx, author.ID, v.ID); err != nil {
			t.Fatal(err)
		}
		if err := w.db.Unlike(ctx, fan.ID, v.ID); err != nil {
			t.Fatal(err)
		}
		if err := w.db.Like(ctx, fan.ID, v.ID+1000); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Fatalf("like of a missing video: %v", err)
		}
		expectNotices("own like, unlike, a missing video")

		c, err := w.db.AddComment(ctx, fan.ID, v.ID, "nice")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.AddComment(ctx, author.ID, v.ID, "thanks"); err != nil {
			t.Fatal(err)
		}
		expectNotices("comments", fmt.Sprintf("%d comment %+v", author.ID, c))

		for range 2 {
			if err := w.db.Follow(ctx, fan.ID, author.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.db.Unfollow(ctx, fan.ID, author.ID); err != nil {
			t.Fatal(err)
		}
		expectNotices("a follow, twice, and an unfollow", fmt.Sprintf("%d follow %+v", author.ID, events.Follow{UserID: fan.ID}))

		m, err := w.db.SendMessage(ctx, author.ID, fan.ID, "hi")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.SendMessage(ctx, author.ID, fan.ID, ""); err == nil {
			t.Fatal("a blank message was sent")
		}
		expectNotices("a message", fmt.Sprintf("%d message %+v", fan.ID, m))

		// Status changes (not progress reports) tell the video's author.
		fresh := &reel.Video{AuthorID: fan.ID, Title: "f", Visibility: reel.VisibilityPublic, Status: reel.StatusUploading}
		if err := w.db.CreateVideo(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.FinishUpload(ctx, fresh.ID, "k", 10, "sum"); err != nil {
			t.Fatal(err)
		}
		p := 50
		if err := w.db.SetProcessed(ctx, fresh.ID, reel.Processed{Progress: &p}); err != nil {
			t.Fatal(err)
		}
		why := "no video stream"
		if err := w.db.SetProcessed(ctx, fresh.ID, reel.Processed{Status: reel.StatusFailed, Error: &why}); err != nil {
			t.Fatal(err)
		}
		expectNotices("processing",
			fmt.Sprintf("%d video_status %+v", fan.ID, events.VideoStatus{VideoID: fresh.ID, Status: reel.StatusProcessing}),
			fmt.Sprintf("%d video_status %+v", fan.ID, events.VideoStatus{VideoID: fresh.ID, Status: reel.StatusFailed, Error: why}))
	})
}
