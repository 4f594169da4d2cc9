package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/events"
)

// Identical uploads are transcoded once (README, "Identical uploads"). A
// video whose original has the SHA-256 of a ready video that owns its
// outputs (the origin) records the origin in media_of and serves the
// origin's shared outputs (reel.SharedOutput); the origin is listed in
// media_origins from then on. Deleting a video deletes its files through a
// job that runs after the deletion committed; that job removes the shared
// outputs of every listed origin that no longer exists and that no video
// uses any more (UnusedMediaOrigins). Since a video can take an origin only
// while the origin exists (ReuseMedia), the last deletion's job always sees
// every other one and removes what they left.

// isOrigin is what a video must be for another to take its outputs: ready,
// owning its outputs, hashed, and not blocked, so that a re-upload of
// blocked content is transcoded like any new upload instead of being ready
// at once. The one placeholder is the ready status.
const isOrigin = "status = ? AND media_of = 0 AND sha256 <> '' AND NOT blocked"

// FindMediaOrigin returns the video, other than id, whose original has id's
// SHA-256 and which may be an origin (isOrigin): the oldest such.
// ENOTFOUND when there is none.
func (db *DB) FindMediaOrigin(ctx context.Context, id int64) (*reel.Video, error) {
	q := db.reader.NewSelect().Model((*videoRow)(nil)).
		Where(isOrigin, reel.StatusReady).
		Where("sha256 = (SELECT sha256 FROM videos WHERE id = ?)", id).
		Where("id <> ?", id).
		Order("id").Limit(1)
	return db.findVideo(ctx, q, fmt.Sprintf("an identical ready video for video %d", id), 0)
}

// reusedKeyColumns are the file keys a reusing video takes from its origin,
// moved under its own prefix: each names a shared output, or a per-video
// one the job copied (the master playlist, the cover when the video has
// none of its own). Keys added to videos later belong here.
var reusedKeyColumns = []string{"hls_key", "play_key", "dash_key", "storyboard_key", "preview_key"}

// ReuseMedia makes the processing video id serve the outputs of origin and
// marks it ready with origin's media facts and keys (moved under id's own
// prefix), in one transaction, and only while origin still exists, may be
// an origin (isOrigin) and has id's SHA-256: false, with nothing changed,
// when it does not. The origin's row is locked (on SQLite the single writer
// does it): a DeleteVideo of the origin, which locks it too, either commits
// first, and then this finds no origin, or waits for this, and then its
// files job sees id using the origin's outputs. ENOTFOUND when id is gone
// or no longer processing.
func (db *DB) ReuseMedia(ctx context.Context, id, origin int64) (bool, error) {
	var authorID int64
	reused := false
	err := db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		lock := ""
		if db.engine == EnginePostgres {
			lock = " FOR SHARE"
		}
		var found []int64
		err := tx.NewRaw("SELECT id FROM videos WHERE id = ? AND "+isOrigin+
			" AND sha256 = (SELECT sha256 FROM videos WHERE id = ?)"+lock, origin, reel.StatusReady, id).Scan(ctx, &found)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("lock the origin %d of video %d: %w", origin, id, err)
		}
		if len(found) == 0 {
			return nil
		}
		from, to := reel.VideoKeyPrefix(origin), reel.VideoKeyPrefix(id)
		q := tx.NewUpdate().Table("videos").TableExpr("(SELECT * FROM videos WHERE id = ?) AS o", origin).
			Set("media_of = o.id").
			Set("status = ?", reel.StatusReady).Set("progress = 100").Set("error = ''").
			Set("duration_ms = o.duration_ms").Set("width = o.width").Set("height = o.height").
			Set("renditions = o.renditions").Set("updated_at = ?", time.Now().UTC()).
			// Publishing may have given the video a cover of its own.
			Set("cover_key = CASE WHEN videos.cover_key = '' THEN replace(o.cover_key, ?, ?) ELSE videos.cover_key END", from, to)
		for _, col := range reusedKeyColumns {
			q.Set(col+" = replace(o."+col+", ?, ?)", from, to)
		}
		err = q.Where("videos.id = ? AND videos.status = ? AND videos.media_of = 0", id, reel.StatusProcessing).
			Returning("videos.author_id").Scan(ctx, &authorID)
		if errors.Is(err, sql.ErrNoRows) {
			return reel.Errorf(reel.ENOTFOUND, "video %d is not processing", id)
		}
		if err != nil {
			return fmt.Errorf("reuse the outputs of video %d for video %d: %w", origin, id, err)
		}
		if _, err := tx.NewRaw("INSERT INTO media_origins (video_id) VALUES (?) ON CONFLICT (video_id) DO NOTHING", origin).Exec(ctx); err != nil {
			return fmt.Errorf("list video %d as an origin: %w", origin, err)
		}
		reused = true
		return db.recountListedTx(ctx, tx, authorID)
	})
	if err != nil || !reused {
		return false, err
	}
	// What SetProcessed tells of a video becoming ready.
	db.changed(id, true)
	db.usersChanged(authorID)
	db.notifyUser(ctx, authorID, events.TypeVideoStatus, events.VideoStatus{VideoID: id, Status: reel.StatusReady})
	return true, nil
}

// MediaOf returns the video whose shared outputs video id serves (0: its
// own) and whether that answer is final: it is once the video uses an
// origin, and once it is ready or failed with its own outputs, since only a
// processing video takes an origin. ENOTFOUND when id does not exist.
func (db *DB) MediaOf(ctx context.Context, id int64) (origin int64, final bool, err error) {
	var row struct {
		MediaOf int64  `bun:"media_of"`
		Status  string `bun:"status"`
	}
	err = db.reader.NewSelect().Table("videos").Column("media_of", "status").Where("id = ?", id).Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, reel.Errorf(reel.ENOTFOUND, "video %d not found", id)
	}
	if err != nil {
		return 0, false, fmt.Errorf("find the outputs of video %d: %w", id, err)
	}
	final = row.MediaOf != 0 || row.Status == reel.StatusReady || row.Status == reel.StatusFailed
	return row.MediaOf, final, nil
}

// IsMediaOrigin reports whether another video has used id's outputs: its
// files job then leaves the shared ones to UnusedMediaOrigins.
func (db *DB) IsMediaOrigin(ctx context.Context, id int64) (bool, error) {
	ok, err := db.writer.NewSelect().Table("media_origins").Where("video_id = ?", id).Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("find whether video %d is an origin: %w", id, err)
	}
	return ok, nil
}

// UnusedMediaOrigins returns origins that were deleted and that no
// existing video uses any more: their shared outputs may go. It reads the
// writer, so that a deletion just committed is seen.
func (db *DB) UnusedMediaOrigins(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := db.writer.NewSelect().Table("media_origins").Column("video_id").
		Where("NOT EXISTS (SELECT 1 FROM videos WHERE videos.id = media_origins.video_id)").
		Where("NOT EXISTS (SELECT 1 FROM videos WHERE videos.media_of = media_origins.video_id)").
		Order("video_id").Limit(100).Scan(ctx, &ids)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("find unused origins: %w", err)
	}
	return ids, nil
}

// ForgetMediaOrigin drops id from the origins once its shared outputs are
// deleted.
func (db *DB) ForgetMediaOrigin(ctx context.Context, id int64) error {
	if _, err := db.writer.NewDelete().Table("media_origins").Where("video_id = ?", id).Exec(ctx); err != nil {
		return fmt.Errorf("forget origin %d: %w", id, err)
	}
	return nil
}
