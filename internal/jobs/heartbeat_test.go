package jobs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// A job left running by a node that stopped heartbeating is made available
// again; one whose node is alive is left alone. Both engines, because the
// query reads River's attempted_by, a JSON text on SQLite and an array on
// PostgreSQL.
func TestRescueOrphans(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		blobs, err := blob.NewDisk(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		work := t.TempDir()
		q, err := New(db.SQL(), db.Engine(), db, blobs, Config{NodeTimeout: time.Minute, WorkDir: work})
		if err != nil {
			t.Fatal(err)
		}
		db.SetQueue(q)
		if err := db.Migrate(ctx, func(ctx context.Context) error { return Migrate(ctx, db.SQL(), db.Engine()) }); err != nil {
			t.Fatal(err)
		}
		u, err := db.CreateUser(ctx, "node", "hash")
		if err != nil {
			t.Fatal(err)
		}
		jobOf, videoOf := map[string]int64{}, map[string]int64{}
		for _, node := range []string{"dead-node", "live-node"} {
			v := &reel.Video{AuthorID: u.ID, Status: reel.StatusProcessing}
			if err := db.CreateVideo(ctx, v); err != nil {
				t.Fatal(err)
			}
			var jobID int64
			if err := db.SQL().QueryRowContext(ctx, "SELECT process_job_id FROM videos WHERE id = "+q.ph(1), v.ID).Scan(&jobID); err != nil {
				t.Fatal(err)
			}
			attempted := `'["` + node + `"]'`
			if db.Engine() == "postgres" {
				attempted = "ARRAY['" + node + "']"
			}
			if _, err := db.SQL().ExecContext(ctx, "UPDATE river_job SET state = 'running', attempted_by = "+attempted+" WHERE id = "+q.ph(1), jobID); err != nil {
				t.Fatal(err)
			}
			jobOf[node], videoOf[node] = jobID, v.ID
			// What the attempt had written so far.
			if _, err := newScratch(work, v.ID); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(scratchDir(work, v.ID), "cover.jpg"), []byte("partial"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now().UnixMilli()
		for node, at := range map[string]int64{"dead-node": now - 2*time.Minute.Milliseconds(), "live-node": now} {
			if _, err := db.SQL().ExecContext(ctx, "INSERT INTO job_nodes (id, heartbeat_ms) VALUES ("+q.ph(1)+", "+q.ph(2)+")", node, at); err != nil {
				t.Fatal(err)
			}
		}

		n, err := q.rescueOrphans(ctx)
		if err != nil || n != 1 {
			t.Fatalf("rescueOrphans = %d, %v; want 1 job", n, err)
		}
		state := func(id int64) string {
			var s string
			if err := db.SQL().QueryRowContext(ctx, "SELECT state FROM river_job WHERE id = "+q.ph(1), id).Scan(&s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		if s := state(jobOf["dead-node"]); s != "available" {
			t.Errorf("the dead node's job is %s, want available", s)
		}
		if s := state(jobOf["live-node"]); s != "running" {
			t.Errorf("the live node's job is %s, want running", s)
		}
		// The rescued job's scratch goes with the rescue; the live one's stays.
		if _, err := os.Stat(scratchDir(work, videoOf["dead-node"])); !os.IsNotExist(err) {
			t.Errorf("the rescued job's scratch directory is still there: %v", err)
		}
		if _, err := os.Stat(filepath.Join(scratchDir(work, videoOf["live-node"]), "cover.jpg")); err != nil {
			t.Errorf("the running job's scratch was touched: %v", err)
		}
		var nodes int
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM job_nodes").Scan(&nodes); err != nil {
			t.Fatal(err)
		}
		if nodes != 1 {
			t.Errorf("%d nodes remembered, want only the live one", nodes)
		}
		if waiting, err := q.Waiting(ctx); err != nil || waiting != 1 {
			t.Errorf("Waiting = %d, %v; want the rescued job", waiting, err)
		}
	})
}
