package sqlstore

import (
	"context"

	"github.com/uptrace/bun"
)

// WatchQueries adds h to every handle of db, for tests that look at which
// queries a method runs.
func WatchQueries(db *DB, h bun.QueryHook) {
	shared := db.reader == db.writer
	db.writer = db.writer.WithQueryHook(h)
	if shared {
		db.reader = db.writer
	} else {
		db.reader = db.reader.WithQueryHook(h)
	}
}

// MigrateTo applies the migrations up to version only, so that tests can
// put rows in an older schema and check what a later migration makes of them.
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}
