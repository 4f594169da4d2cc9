package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Leases on tus uploads (table upload_locks), which let nodes that share
// this database take turns on an upload. Every expiry is computed and
// compared by the database's clock, so that the nodes' clocks do not matter.

// nowMS is the database's clock in unix milliseconds.
func (db *DB) nowMS() string {
	if db.engine == EnginePostgres {
		return "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint)"
	}
	return "CAST(unixepoch('subsec') * 1000 AS INTEGER)"
}

// AcquireLease makes holder the holder of upload id for ttl and reports
// whether it is: in one statement, so that two nodes cannot both take it,
// it creates the lease, or takes over one that has run out (its holder
// died or lost touch), or renews holder's own (a retry after an answer
// that got lost). A lease taken over starts with no release requested.
func (db *DB) AcquireLease(ctx context.Context, id, holder string, ttl time.Duration) (bool, error) {
	now := db.nowMS()
	res, err := db.writer.NewRaw(`INSERT INTO upload_locks (id, holder, expires_ms, release_requested)
		VALUES (?, ?, `+now+` + ?, FALSE)
		ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms, release_requested = FALSE
		WHERE upload_locks.expires_ms < `+now+` OR upload_locks.holder = excluded.holder`,
		id, holder, ttl.Milliseconds()).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("acquire the lease on upload %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquire the lease on upload %s: %w", id, err)
	}
	return n == 1, nil
}

// RenewLease extends holder's lease on upload id to ttl from now. held is
// false when holder no longer holds it (another took it over after it ran
// out); releaseRequested says that another request asks for the upload.
// A lease that ran out but that nobody took is still holder's, and renewed.
func (db *DB) RenewLease(ctx context.Context, id, holder string, ttl time.Duration) (held, releaseRequested bool, err error) {
	err = db.writer.NewRaw(`UPDATE upload_locks SET expires_ms = `+db.nowMS()+` + ?
		WHERE id = ? AND holder = ? RETURNING release_requested`,
		ttl.Milliseconds(), id, holder).Scan(ctx, &releaseRequested)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("renew the lease on upload %s: %w", id, err)
	}
	return true, releaseRequested, nil
}

// RequestRelease asks whoever holds upload id to let go of it; it does
// nothing when nobody does, or when it has been asked already.
func (db *DB) RequestRelease(ctx context.Context, id string) error {
	_, err := db.writer.NewRaw("UPDATE upload_locks SET release_requested = TRUE WHERE id = ? AND NOT release_requested", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("request the release of upload %s: %w", id, err)
	}
	return nil
}

// ReleaseLease ends holder's lease on upload id; a lease that another
// holder has taken over stays.
func (db *DB) ReleaseLease(ctx context.Context, id, holder string) error {
	_, err := db.writer.NewRaw("DELETE FROM upload_locks WHERE id = ? AND holder = ?", id, holder).Exec(ctx)
	if err != nil {
		return fmt.Errorf("release the lease on upload %s: %w", id, err)
	}
	return nil
}

// DeleteExpiredLeases removes the leases that have run out, and says how
// many: those of requests whose node died and that no retry took over
// (an abandoned upload). It is as safe as a takeover: a lease that ran out
// belongs to nobody, and a holder that comes back finds it lost.
func (db *DB) DeleteExpiredLeases(ctx context.Context) (int64, error) {
	res, err := db.writer.NewRaw("DELETE FROM upload_locks WHERE expires_ms < " + db.nowMS()).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete expired upload leases: %w", err)
	}
	return res.RowsAffected()
}
