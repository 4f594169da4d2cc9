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
	"github.com/pressly/goose/v3/lock"
)

// Migrate applies every pending migration. Several processes may call it at
// once (reel serve and reel worker starting together): on PostgreSQL they
// take turns on an advisory lock, on SQLite on a lock file beside the database.
func (db *DB) Migrate(ctx context.Context) error {
	if db.engine == EngineSQLite {
		unlock, err := lockFile(ctx, db.path+".migrate-lock")
		if err != nil {
			return fmt.Errorf("lock sqlite database for migration: %w", err)
		}
		defer unlock()
	}
	p, err := db.migrations(ctx)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s database: %w", db.engine, err)
	}
	return nil
}

// MigrationStatus writes one line per known migration: its version, its name,
// and when it was applied or "pending".
func (db *DB) MigrationStatus(ctx context.Context, w io.Writer) error {
	p, err := db.migrations(ctx)
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

func (db *DB) migrations(ctx context.Context) (*goose.Provider, error) {
	dir, dialect := "migrations/sqlite", goose.DialectSQLite3
	var opts []goose.ProviderOption
	if db.engine == EnginePostgres {
		dir, dialect = "migrations/postgres", goose.DialectPostgres
		locker, err := db.migrationLocker(ctx)
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	files, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	// Migrations run on the writer: on SQLite it is the only connection that may write.
	return goose.NewProvider(dialect, db.SQL(), files, opts...)
}

// migrationLocker returns an advisory lock scoped to the database and schema
// being migrated, rather than goose's default of one lock per server: runs on
// other schemas (tests, other apps) have nothing to wait for.
func (db *DB) migrationLocker(ctx context.Context) (lock.SessionLocker, error) {
	var scope string
	err := db.SQL().QueryRowContext(ctx, "SELECT current_database() || '.' || coalesce(current_schema(), '')").Scan(&scope)
	if err != nil {
		return nil, fmt.Errorf("find the schema to migrate: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("reel migrations " + scope))
	// Probe every second for up to five minutes: a waiting process starts
	// soon after the migrating one finishes.
	return lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
}
