package sqlstore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

func TestOpenPing(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		db := sqltest.OpenDB(t, url)
		if err := db.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		want := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
		if got := db.Engine(); got != want {
			t.Errorf("Engine() = %q, want %q", got, want)
		}
		if db.SQL() != db.Writer().DB {
			t.Error("SQL() is not the writer's *sql.DB")
		}
	})
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	for _, url := range []string{
		"mysql://root:s3cret@localhost/reel",
		"./data/reel.db",
		"",
	} {
		_, err := sqlstore.Open(t.Context(), url)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", url)
		}
		msg := err.Error()
		if !strings.Contains(msg, "sqlite://") || !strings.Contains(msg, "postgres://") {
			t.Errorf("Open(%q) error does not name the accepted schemes: %v", url, err)
		}
		if strings.Contains(msg, "s3cret") {
			t.Errorf("Open(%q) error leaks the password: %v", url, err)
		}
	}
}

func TestOpenPostgresErrorHidesPassword(t *testing.T) {
	// Nothing listens on port 1, so the connection is refused at once.
	_, err := sqlstore.Open(t.Context(), "postgres://root:s3cret@127.0.0.1:1/test?sslmode=disable")
	if err == nil {
		t.Fatal("Open succeeded with nothing listening")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error leaks the password: %v", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("error does not say where it tried to connect: %v", err)
	}
}

func TestSQLiteCreatesMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	db := sqltest.OpenDB(t, "sqlite://"+filepath.Join(dir, "reel.db"))
	if _, err := db.CreateUser(t.Context(), "alice", "hash"); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("directory mode = %v, want 0700", perm)
	}
	if _, err := os.Stat(filepath.Join(dir, "reel.db")); err != nil {
		t.Errorf("database file: %v", err)
	}
}

func TestSQLiteRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	db := sqltest.OpenDB(t, "sqlite://./data/reel.db")
	if _, err := db.CreateUser(t.Context(), "alice", "hash"); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if _, err := os.Stat(filepath.Join("data", "reel.db")); err != nil {
		t.Errorf("database file: %v", err)
	}
}

func TestSQLiteReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	url := sqltest.SQLiteURL(t)

	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	created, err := db.CreateUser(ctx, "alice", "hash")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = sqltest.OpenDB(t, url)
	got, err := db.FindUserByID(ctx, created.ID, 0)
	if err != nil {
		t.Fatalf("FindUserByID after reopening: %v", err)
	}
	if *got != *created {
		t.Errorf("after reopening got %+v, want %+v", got, created)
	}
}

func TestSQLiteReaderIsReadOnly(t *testing.T) {
	ctx := t.Context()
	db := sqltest.OpenDB(t, sqltest.SQLiteURL(t))
	_, err := db.Reader().ExecContext(ctx,
		"INSERT INTO users (username, password_hash, created_at) VALUES ('mallory', 'hash', CURRENT_TIMESTAMP)")
	if err == nil {
		t.Fatal("insert through Reader() succeeded")
	}
	if _, err := db.FindCredentials(ctx, "mallory"); err == nil {
		t.Error("the row written through Reader() is there")
	}
}

func TestSQLiteRejectsBadPaths(t *testing.T) {
	for _, url := range []string{"sqlite://", "sqlite://:memory:", "sqlite://./reel.db?mode=ro"} {
		if db, err := sqlstore.Open(context.Background(), url); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", url)
		}
	}
}

// The SQLite settings reel depends on: WAL (readers never block the writer),
// foreign keys, a busy timeout, one writer connection, read-only readers,
// and files only their owner can read, even in a directory others can.
func TestSQLiteSettings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "reel.db")
	db, err := sqlstore.Open(t.Context(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	pragma := func(conn interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}, name string) string {
		var v string
		if err := conn.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	w, r := db.Writer().DB, db.Reader().DB
	for name, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000", "synchronous": "1"} {
		if got := pragma(w, name); got != want {
			t.Errorf("writer %s = %s, want %s", name, got, want)
		}
	}
	if got := pragma(r, "query_only"); got != "1" {
		t.Errorf("reader query_only = %s", got)
	}
	if got := pragma(r, "foreign_keys"); got != "1" {
		t.Errorf("reader foreign_keys = %s", got)
	}
	if n := w.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer allows %d connections, want 1", n)
	}
	if _, err := db.CreateUser(t.Context(), "perm", "hash"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: others can read password hashes", f, st.Mode().Perm())
		}
	}
}
