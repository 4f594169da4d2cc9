// Package sqltest gives tests fresh, isolated databases on both engines, so
// that every store test runs against SQLite and PostgreSQL alike.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/reel-video/reel/internal/sqlstore"
)

// DefaultPostgresURL is where tests find PostgreSQL unless REEL_TEST_POSTGRES_URL says otherwise.
const DefaultPostgresURL = "postgres://root@127.0.0.1:5432/test?sslmode=disable"

// Engines runs fn as the subtests "sqlite" and "postgres", each with the URL
// of a fresh, empty database.
func Engines(t *testing.T, fn func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteURL(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresURL(t)) })
}

// SQLiteURL returns the URL of a new SQLite database in a directory that is
// removed when the test ends.
func SQLiteURL(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "reel.db")
}

// PostgresURL returns a URL of the test PostgreSQL server whose search_path is
// a new schema, dropped with everything in it when the test ends. PostgreSQL
// being unreachable fails the test: a skipped store test would pass unnoticed.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("REEL_TEST_POSTGRES_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("sqltest: REEL_TEST_POSTGRES_URL must be a postgres:// URL")
	}

	admin, err := sql.Open("pgx", base)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		t.Fatalf("sqltest: PostgreSQL at %s does not answer: %v\n"+
			"Start PostgreSQL so that it accepts user root on database test at 127.0.0.1:5432 "+
			"(on Debian: apt-get install postgresql && service postgresql start), "+
			"or set REEL_TEST_POSTGRES_URL to a PostgreSQL database in which tests may create schemas.",
			u.Redacted(), err)
	}
	admin.SetMaxOpenConns(1)

	schema := "reel_test_" + strings.ToLower(rand.Text()[:16])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("sqltest: create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		// Not t.Context(): it is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("sqltest: drop schema %s: %v", schema, err)
		}
	})

	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown parameters as run-time settings
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenDB opens and migrates the database at url and closes it when the test ends.
func OpenDB(t testing.TB, url string) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatalf("sqltest: open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("sqltest: close: %v", err)
		}
	})
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("sqltest: migrate: %v", err)
	}
	return db
}
