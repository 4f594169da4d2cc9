package sqlstore

import "github.com/uptrace/bun"

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
