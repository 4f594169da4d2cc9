package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reel-video/reel"
)

// The errors of a database that cannot serve for now are unavailable, on
// both engines, and nothing else is.
func TestUnavailableErrors(t *testing.T) {
	ctx := context.Background()

	// PostgreSQL that refuses connections: a port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	pg, err := sql.Open("pgx", "postgres://reel@"+addr+"/reel?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	refused := pg.PingContext(ctx)

	// SQLite whose write lock another connection holds.
	path := filepath.Join(t.TempDir(), "reel.db")
	holder, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	conn, err := holder.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE TABLE t (x int); BEGIN IMMEDIATE; INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	writer, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	_, busyErr := writer.ExecContext(ctx, "INSERT INTO t VALUES (2)")
	_, noTable := holder.ExecContext(ctx, "SELECT * FROM no_such_table")

	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"postgres refused", refused, true},
		{"postgres shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"postgres starting up", fmt.Errorf("find user: %w", &pgconn.PgError{Code: "57P03"}), true},
		{"postgres connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"postgres disk full", &pgconn.PgError{Code: "53100"}, true},
		{"postgres connection broke mid-read", fmt.Errorf("find user 2: %w", io.ErrUnexpectedEOF), true},
		{"sqlite busy", busyErr, true},
		{"postgres unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"sqlite no such table", noTable, false},
		{"request cancelled", fmt.Errorf("find user: %w", context.Canceled), false},
		{"request out of time", fmt.Errorf("find user: %w", context.DeadlineExceeded), false},
		{"a bug", errors.New("scan: wrong type"), false},
	} {
		if c.err == nil {
			t.Errorf("%s: no error to classify", c.name)
			continue
		}
		e := reel.AsError(c.err)
		if got := e != nil && e.Code == reel.EUNAVAILABLE; got != c.want {
			t.Errorf("%s (%v): unavailable %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
