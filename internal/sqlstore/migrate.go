package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
)

// Migrate applies every pending migration, then each of the extra steps
// (the job queue's own migrations), all under one lock: several processes
// may start at once (reel serve and reel worker), and they take turns on an
// advisory lock on PostgreSQL and on a lock file beside the SQLite database.
func (db *DB) Migrate(ctx context.Context, extra ...func(context.Context) error) error {
	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return fmt.Errorf("lock %s database for migration: %w", db.engine, err)
	}
	defer unlock()
	p, err := db.migrations()
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s database: %w", db.engine, err)
	}
	for _, step := range extra {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// MigrationStatus writes one line per known migration: its version, its name,
// and when it was applied or "pending".
func (db *DB) MigrationStatus(ctx context.Context, w io.Writer) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	statuses, err := p.Status(ctx)
	if err != nil {
		return fmt.Errorf("read migration status of %s database: %w", db.engine, err)
	}
	for _, s := range statuses {
		file := strings.TrimSuffix(path.Base(s.Source.Path), path.Ext(s.Source.Path))
		_, name, _ := strings.Cut(file, "_")
		state := "pending"
		if s.State == goose.StateApplied {
			state = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
		}
		if _, err := fmt.Fprintf(w, "%05d  %-24s  %s\n", s.Source.Version, name, state); err != nil {
			return err
		}
	}
	return nil
}

//go:embed migrations
var migrationFiles embed.FS

func (db *DB) migrations() (*goose.Provider, error) {
	dir, dialect := "migrations/sqlite", goose.DialectSQLite3
	if db.engine == EnginePostgres {
		dir, dialect = "migrations/postgres", goose.DialectPostgres
	}
	files, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	// Migrations run on the writer: on SQLite it is the only connection that may write.
	return goose.NewProvider(dialect, db.SQL(), files)
}

// lockMigrations takes the migration lock: on PostgreSQL a session advisory
// lock scoped to the database and schema (runs on other schemas, such as
// parallel tests, have nothing to wait for), held on a connection of its own.
func (db *DB) lockMigrations(ctx context.Context) (unlock func(), err error) {
	if db.engine == EngineSQLite {
		return lockFile(ctx, db.path+".migrate-lock")
	}
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		return nil, err
	}
	var scope string
	if err := conn.QueryRowContext(ctx, "SELECT current_database() || '.' || coalesce(current_schema(), '')").Scan(&scope); err != nil {
		conn.Close()
		return nil, fmt.Errorf("find the schema to migrate: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("reel migrations " + scope))
	id := int64(h.Sum64())
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", id); err != nil {
		conn.Close()
		return nil, err
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", id)
		conn.Close()
	}, nil
}
