package sqlstore_test

import (
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

func TestMigrate(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })

		status := func() string {
			t.Helper()
			var b strings.Builder
			if err := db.MigrationStatus(ctx, &b); err != nil {
				t.Fatalf("MigrationStatus: %v", err)
			}
			return b.String()
		}
		pending := regexp.MustCompile(`^(\d{5}  \w+ +pending\n)+$`)
		if got := status(); !pending.MatchString(got) || !strings.HasPrefix(got, "00001  users ") || !strings.Contains(got, "00002  videos ") {
			t.Errorf("status before migrating:\n%s\nwant every migration pending", got)
		}

		for i := range 2 { // the second run finds nothing to do
			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("Migrate #%d: %v", i+1, err)
			}
		}
		applied := regexp.MustCompile(`^(\d{5}  \w+ +applied \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n)+$`)
		if got := status(); !applied.MatchString(got) || strings.Count(got, "\n") < 2 {
			t.Errorf("status after migrating:\n%s\nwant every line matching %s", got, applied)
		}

		if _, err := db.CreateUser(ctx, "alice", "hash"); err != nil {
			t.Errorf("CreateUser on the migrated schema: %v", err)
		}
	})
}

// Several reel processes starting at once on PostgreSQL each migrate; the
// advisory lock makes them take turns instead of failing.
// Several processes (serve and worker) may start together on a fresh
// database: each Migrate must succeed, whatever the engine.
func TestMigrateConcurrently(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			db, err := sqlstore.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			wg.Go(func() { errs[i] = db.Migrate(ctx) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate in process %d: %v", i, err)
			}
		}
	})
}
