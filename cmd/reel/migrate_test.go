package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/jobs"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// pending matches a migration status line of a migration not applied.
var pending = regexp.MustCompile(`(?m)pending$`)

// reel migrate migrates the job queue's tables too: its status lists them,
// and after it a queue opened without migrating takes jobs, as a worker
// started against a database an operator migrated beforehand would.
func TestMigrateIncludesJobQueue(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		env := map[string]string{"REEL_DATABASE_URL": dbURL, "REEL_DATA_DIR": t.TempDir()}
		out, _, err := cli(t, env, "migrate", "status")
		if err != nil || !strings.Contains(out, "river 001") || !pending.MatchString(out) {
			t.Fatalf("status before: %v\n%s", err, out)
		}
		if out, _, err = cli(t, env, "migrate"); err != nil || !strings.Contains(out, "job queue") {
			t.Fatalf("migrate: %v\n%s", err, out)
		}
		out, _, err = cli(t, env, "migrate", "status")
		if err != nil || pending.MatchString(out) || !strings.Contains(out, "river 001") {
			t.Fatalf("status after: %v\n%s", err, out)
		}

		// Nothing below migrates.
		db := sqltest.OpenDB(t, dbURL)
		blobs, err := blob.NewDisk(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		q, err := jobs.New(db.SQL(), db.Engine(), db, blobs, jobs.Config{WorkDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		db.SetQueue(q)
		u, err := db.CreateUser(ctx, "ops", "hash")
		if err != nil {
			t.Fatal(err)
		}
		// A processing video is created with its job, in one transaction.
		if err := db.CreateVideo(ctx, &reel.Video{AuthorID: u.ID, Status: reel.StatusProcessing}); err != nil {
			t.Fatalf("creating a video with its job on the migrated database: %v", err)
		}
		if n, err := q.Waiting(ctx); err != nil || n != 1 {
			t.Errorf("Waiting = %d, %v; want the new video's job", n, err)
		}
		if err := q.Ready(ctx); err != nil {
			t.Errorf("Ready: %v", err)
		}
	})
}
