package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/reel-video/reel"
)

var _ reel.PlaybackService = (*DB)(nil)

// SetBlocked blocks or unblocks a video. The block is recorded as a media
// revocation in the same transaction, which every node reads (see
// MediaRevocations), and it changes what the author's video_count shows.
func (db *DB) SetBlocked(ctx context.Context, videoID int64, blocked bool) error {
	var rev reel.MediaRevocation
	var authorID int64
	err := db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var row struct {
			AuthorID   int64 `bun:"author_id"`
			Generation int64 `bun:"media_generation"`
		}
		err := tx.NewRaw("UPDATE videos SET blocked = ?, updated_at = ? WHERE id = ? RETURNING author_id, media_generation",
			blocked, time.Now().UTC(), videoID).Scan(ctx, &row)
		if errors.Is(err, sql.ErrNoRows) {
			return reel.Errorf(reel.ENOTFOUND, "video %d not found", videoID)
		}
		if err != nil {
			return fmt.Errorf("block video %d: %w", videoID, err)
		}
		rev = reel.MediaRevocation{VideoID: videoID, Generation: row.Generation, Blocked: blocked}
		if err := db.revokeTx(ctx, tx, &rev); err != nil {
			return err
		}
		authorID = row.AuthorID
		return db.recountListedTx(ctx, tx, row.AuthorID)
	})
	if err != nil {
		return err
	}
	db.changed(videoID, true)
	db.usersChanged(authorID)
	db.revoked(rev)
	return nil
}

// revokedHook hears of each revocation this process commits.
type revokedHook = func(reel.MediaRevocation)

// SetOnMediaRevoked registers fn to hear of every media revocation this
// process commits (a block or unblock, a video made private, a deletion),
// so that this node applies it at once; other nodes read it from the
// database (MediaRevocations). Set it before serving.
func (db *DB) SetOnMediaRevoked(fn func(reel.MediaRevocation)) { db.onRevoked = fn }

func (db *DB) revoked(rev reel.MediaRevocation) {
	if db.onRevoked != nil && rev.VideoID != 0 {
		db.onRevoked(rev)
	}
}

// revokeTx records rev inside tx, stamped now (rev.ChangedAt is set). A
// deletion stays a deletion; a generation never goes back.
func (db *DB) revokeTx(ctx context.Context, tx bun.Tx, rev *reel.MediaRevocation) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	rev.ChangedAt = now
	greatest := "GREATEST"
	if db.engine == EngineSQLite {
		greatest = "MAX" // SQLite's scalar max of its arguments
	}
	_, err := tx.NewRaw(`INSERT INTO media_revocations (video_id, generation, blocked, deleted, changed_ms) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (video_id) DO UPDATE SET generation = `+greatest+`(media_revocations.generation, EXCLUDED.generation),
		blocked = EXCLUDED.blocked, deleted = media_revocations.deleted OR EXCLUDED.deleted, changed_ms = EXCLUDED.changed_ms`,
		rev.VideoID, rev.Generation, rev.Blocked, rev.Deleted, now.UnixMilli()).Exec(ctx)
	if err != nil {
		return fmt.Errorf("revoke media of video %d: %w", rev.VideoID, err)
	}
	return nil
}

// MediaRevocations returns the revocations changed at or after since, and
// with blocked every blocked video's too: a node's first read asks for both,
// its later reads only for what changed.
func (db *DB) MediaRevocations(ctx context.Context, since time.Time, blocked bool) ([]reel.MediaRevocation, error) {
	var rows []struct {
		VideoID    int64 `bun:"video_id"`
		Generation int64 `bun:"generation"`
		Blocked    bool  `bun:"blocked"`
		Deleted    bool  `bun:"deleted"`
		ChangedMS  int64 `bun:"changed_ms"`
	}
	q := db.reader.NewSelect().Table("media_revocations").Column("video_id", "generation", "blocked", "deleted", "changed_ms")
	if blocked {
		q.Where("changed_ms >= ? OR blocked", since.UnixMilli())
	} else {
		q.Where("changed_ms >= ?", since.UnixMilli())
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("read media revocations: %w", err)
	}
	revs := make([]reel.MediaRevocation, len(rows))
	for i, r := range rows {
		revs[i] = reel.MediaRevocation{VideoID: r.VideoID, Generation: r.Generation, Blocked: r.Blocked,
			Deleted: r.Deleted, ChangedAt: time.UnixMilli(r.ChangedMS).UTC()}
	}
	return revs, nil
}

// PruneMediaRevocations deletes the revocations of unblocked videos last
// changed before before.
func (db *DB) PruneMediaRevocations(ctx context.Context, before time.Time) error {
	_, err := db.writer.NewDelete().Table("media_revocations").
		Where("NOT blocked AND changed_ms < ?", before.UnixMilli()).Exec(ctx)
	if err != nil {
		return fmt.Errorf("prune media revocations: %w", err)
	}
	return nil
}

// recountListedTx sets the count of the author's videos that others see
// (ready, public, unblocked), after a change inside tx that may have moved
// one in or out. On PostgreSQL it first locks the author's row: the count
// then runs on a snapshot taken after every other transaction that changed
// one of the author's videos and recounted has committed, so the last
// recount is always exact. (Video rows are locked before user rows, as
// likes lock them, so this order cannot deadlock with them.)
func (db *DB) recountListedTx(ctx context.Context, tx bun.Tx, authorID int64) error {
	if db.engine == EnginePostgres {
		if _, err := tx.NewRaw("SELECT id FROM users WHERE id = ? FOR UPDATE", authorID).Exec(ctx); err != nil {
			return fmt.Errorf("lock user %d: %w", authorID, err)
		}
	}
	_, err := tx.NewRaw(`UPDATE users SET listed_video_count = (SELECT count(*) FROM videos
		WHERE author_id = ? AND status = ? AND visibility = ? AND NOT blocked) WHERE id = ?`,
		authorID, reel.StatusReady, reel.VisibilityPublic, authorID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("count the listed videos of user %d: %w", authorID, err)
	}
	return nil
}

// AddViews adds counted views to videos in one transaction; videos deleted
// meanwhile are skipped.
func (db *DB) AddViews(ctx context.Context, counts map[int64]int64) error {
	if len(counts) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	// A fixed order keeps concurrent flushes from different nodes from
	// deadlocking on PostgreSQL's row locks.
	slices.Sort(ids)
	return db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, id := range ids {
			if _, err := tx.NewUpdate().Table("videos").Set("view_count = view_count + ?", counts[id]).Where("id = ?", id).Exec(ctx); err != nil {
				return fmt.Errorf("add views to video %d: %w", id, err)
			}
		}
		return nil
	})
}

// SaveProgress records where userID stopped watching videoID.
func (db *DB) SaveProgress(ctx context.Context, userID, videoID, positionMS int64) error {
	_, err := db.writer.NewInsert().Model(&progressRow{UserID: userID, VideoID: videoID, PositionMS: positionMS, UpdatedAt: time.Now().UTC()}).
		On("CONFLICT (user_id, video_id) DO UPDATE").
		Set("position_ms = EXCLUDED.position_ms").
		Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("save progress of user %d in video %d: %w", userID, videoID, err)
	}
	db.usersChanged(userID) // their resume positions, as cached for them as a viewer
	return nil
}

type progressRow struct {
	bun.BaseModel `bun:"table:watch_progress"`

	UserID     int64     `bun:"user_id,pk"`
	VideoID    int64     `bun:"video_id,pk"`
	PositionMS int64     `bun:"position_ms"`
	UpdatedAt  time.Time `bun:"updated_at"`
}
