package sqlstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// A write answers with what it wrote and read before committing: a query
// after the commit could fail (the database going away) and turn a change
// that was made into an error answer, which a client would retry.
func TestWritesAnswerWithoutQueryingAfterTheirCommit(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 2, 1)
		ctx := t.Context()
		log := &queryLog{}
		sqlstore.WatchQueries(w.db, log)
		author, commenter, video := w.users[0].ID, w.users[1].ID, w.videos[0].ID

		log.reset()
		c, err := w.db.AddComment(ctx, commenter, video, "hello")
		if err != nil {
			t.Fatal(err)
		}
		if c.ID == 0 || c.Text != "hello" || c.User == nil || c.User.ID != commenter || c.User.Username != "user1" {
			t.Errorf("comment answered as %+v (user %+v)", c, c.User)
		}
		log.expectLast(t, "AddComment", "COMMIT")

		log.reset()
		m, err := w.db.SendMessage(ctx, commenter, author, "hi")
		if err != nil {
			t.Fatal(err)
		}
		if m.ID == 0 || m.Text != "hi" {
			t.Errorf("message answered as %+v", m)
		}
		log.expectLast(t, "SendMessage", "INSERT")

		log.reset()
		title, visibility := "  new title ", reel.VisibilityUnlisted
		v, err := w.db.UpdateVideo(ctx, video, author, reel.VideoUpdate{Title: &title, Visibility: &visibility})
		if err != nil {
			t.Fatal(err)
		}
		log.expectLast(t, "UpdateVideo", "COMMIT")
		stored := w.video(t, video, author)
		if v.Title != stored.Title || v.Visibility != stored.Visibility || v.Description != stored.Description ||
			v.Author == nil || v.Author.ID != author || v.CommentCount != stored.CommentCount {
			t.Errorf("update answered %+v, the store has %+v", v, stored)
		}

		up := &reel.Video{AuthorID: author, Title: "upload", Visibility: reel.VisibilityPrivate, Status: reel.StatusUploading}
		if err := w.db.CreateVideo(ctx, up); err != nil {
			t.Fatal(err)
		}
		log.reset()
		f, err := w.db.FinishUpload(ctx, up.ID, "videos/original", 1234, "abcd")
		if err != nil {
			t.Fatal(err)
		}
		log.expectLast(t, "FinishUpload", "COMMIT")
		stored = w.video(t, up.ID, author)
		if f.ID != up.ID || f.Status != reel.StatusProcessing || f.OriginalKey != "videos/original" || f.SizeBytes != 1234 ||
			f.SHA256 != "abcd" || f.Title != stored.Title || f.Visibility != stored.Visibility || !f.CreatedAt.Equal(stored.CreatedAt) ||
			f.Author == nil || f.Author.ID != author || f.Author.Username != stored.Author.Username || f.Author.VideoCount != stored.Author.VideoCount {
			t.Errorf("finish answered %+v (author %+v), the store has %+v (author %+v)", f, f.Author, stored, stored.Author)
		}
		if _, err := w.db.FinishUpload(ctx, up.ID, "videos/original", 1234, "abcd"); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("finishing again: %v, want ENOTFOUND", err)
		}
	})
}

// queryLog keeps the queries run, in order.
type queryLog struct {
	mu      sync.Mutex
	queries []string
}

func (l *queryLog) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (l *queryLog) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries = append(l.queries, e.Query)
}

func (l *queryLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries = nil
}

// expectLast fails unless the last query of what starts with prefix.
func (l *queryLog) expectLast(t *testing.T, what, prefix string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.queries); n == 0 || !strings.HasPrefix(strings.TrimSpace(l.queries[n-1]), prefix) {
		t.Errorf("%s: its last query is not %s; it ran:\n%s", what, prefix, strings.Join(l.queries, "\n"))
	}
}
