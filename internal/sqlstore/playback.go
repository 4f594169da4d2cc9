package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/reel-video/reel"
)

var _ reel.PlaybackService = (*DB)(nil)

// SetBlocked blocks or unblocks a video.
func (db *DB) SetBlocked(ctx context.Context, videoID int64, blocked bool) error {
	res, err := db.writer.NewUpdate().Table("videos").Set("blocked = ?", blocked).
		Set("updated_at = ?", time.Now().UTC()).Where("id = ?", videoID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("block video %d: %w", videoID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return reel.Errorf(reel.ENOTFOUND, "video %d not found", videoID)
	}
	db.changed(videoID, true)
	return nil
}

// BlockedVideoIDs returns every blocked video's id, through a partial index.
func (db *DB) BlockedVideoIDs(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := db.reader.NewSelect().Table("videos").Column("id").Where("blocked").Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("list blocked videos: %w", err)
	}
	return ids, nil
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
	return nil
}

type progressRow struct {
	bun.BaseModel `bun:"table:watch_progress"`

	UserID     int64     `bun:"user_id,pk"`
	VideoID    int64     `bun:"video_id,pk"`
	PositionMS int64     `bun:"position_ms"`
	UpdatedAt  time.Time `bun:"updated_at"`
}
