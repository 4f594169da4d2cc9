package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/reel-video/reel"
)

var _ reel.CaptionService = (*DB)(nil)

// captionRow is a row of the captions table.
type captionRow struct {
	bun.BaseModel `bun:"table:captions"`

	VideoID   int64     `bun:"video_id,pk"`
	Lang      string    `bun:"lang,pk"`
	Label     string    `bun:"label"`
	VTTKey    string    `bun:"vtt_key"`
	SizeBytes int64     `bun:"size_bytes"`
	UpdatedAt time.Time `bun:"updated_at"`
}

func (r *captionRow) caption() reel.Caption {
	return reel.Caption{Lang: r.Lang, Label: r.Label, Key: r.VTTKey, SizeBytes: r.SizeBytes}
}

// PutCaption records c on video videoID, replacing the caption of its
// language. The video's cached cards are dropped on every node (as for
// UpdateVideo), so the new caption shows at once.
func (db *DB) PutCaption(ctx context.Context, videoID, actorID int64, c reel.Caption) (*reel.Caption, error) {
	var replaced *reel.Caption
	err := db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := db.captionOwnerTx(ctx, tx, videoID, actorID); err != nil {
			return err
		}
		var old []captionRow
		if err := tx.NewSelect().Model(&old).Where("video_id = ?", videoID).Scan(ctx); err != nil {
			return fmt.Errorf("read captions of video %d: %w", videoID, err)
		}
		for i := range old {
			if old[i].Lang == c.Lang {
				prev := old[i].caption()
				replaced = &prev
			}
		}
		if replaced == nil && len(old) >= reel.MaxCaptionsPerVideo {
			return reel.Errorf(reel.ECONFLICT, "video %d has captions in %d languages, the most it may have: delete one first",
				videoID, reel.MaxCaptionsPerVideo)
		}
		row := &captionRow{VideoID: videoID, Lang: c.Lang, Label: c.Label, VTTKey: c.Key, SizeBytes: c.SizeBytes, UpdatedAt: time.Now().UTC()}
		_, err := tx.NewInsert().Model(row).
			On("CONFLICT (video_id, lang) DO UPDATE").
			Set("label = EXCLUDED.label, vtt_key = EXCLUDED.vtt_key, size_bytes = EXCLUDED.size_bytes, updated_at = EXCLUDED.updated_at").
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("store caption %s of video %d: %w", c.Lang, videoID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	db.changed(videoID, false)
	return replaced, nil
}

// DeleteCaption removes the caption of lang from video videoID and returns
// it; nil when there was none.
func (db *DB) DeleteCaption(ctx context.Context, videoID, actorID int64, lang string) (*reel.Caption, error) {
	var deleted *reel.Caption
	err := db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := db.captionOwnerTx(ctx, tx, videoID, actorID); err != nil {
			return err
		}
		var rows []captionRow
		err := tx.NewDelete().Model(&rows).Where("video_id = ? AND lang = ?", videoID, lang).Returning("*").Scan(ctx)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("delete caption %s of video %d: %w", lang, videoID, err)
		}
		if len(rows) > 0 {
			c := rows[0].caption()
			deleted = &c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if deleted != nil {
		db.changed(videoID, false)
	}
	return deleted, nil
}

// ListCaptions lists the captions of a video by language.
func (db *DB) ListCaptions(ctx context.Context, videoID int64) ([]reel.Caption, error) {
	var rows []captionRow
	if err := db.reader.NewSelect().Model(&rows).Where("video_id = ?", videoID).Order("lang").Scan(ctx); err != nil {
		return nil, fmt.Errorf("read captions of video %d: %w", videoID, err)
	}
	captions := make([]reel.Caption, len(rows))
	for i := range rows {
		captions[i] = rows[i].caption()
	}
	return captions, nil
}

// captionOwnerTx answers, inside tx, whether actorID may change the
// captions of video id: its author only; others get EFORBIDDEN, or
// ENOTFOUND for a video they may not see (private, or blocked). On
// PostgreSQL the video row is locked, so that the changes of one video's
// captions take turns (the cap on languages holds) and wait for a deletion
// of the video; SQLite's writers take turns anyway.
func (db *DB) captionOwnerTx(ctx context.Context, tx bun.Tx, id, actorID int64) error {
	q := "SELECT author_id, visibility, blocked FROM videos WHERE id = ?"
	if db.engine == EnginePostgres {
		q += " FOR UPDATE"
	}
	var v struct {
		AuthorID   int64  `bun:"author_id"`
		Visibility string `bun:"visibility"`
		Blocked    bool   `bun:"blocked"`
	}
	err := tx.NewRaw(q, id).Scan(ctx, &v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return reel.Errorf(reel.ENOTFOUND, "video %d not found", id)
	case err != nil:
		return fmt.Errorf("find video %d: %w", id, err)
	case v.AuthorID == actorID:
		return nil
	case v.Visibility == reel.VisibilityPrivate || v.Blocked:
		return reel.Errorf(reel.ENOTFOUND, "video %d not found", id)
	}
	return reel.Errorf(reel.EFORBIDDEN, "only the author may change the captions of video %d", id)
}

// fillCaptions sets the captions of videos, in one query whatever their
// number (assembleVideos).
func (db *DB) fillCaptions(ctx context.Context, videos []*reel.Video) error {
	ids := make([]int64, len(videos))
	byID := make(map[int64]*reel.Video, len(videos))
	for i, v := range videos {
		ids[i] = v.ID
		byID[v.ID] = v
		v.Captions = []reel.Caption{}
	}
	var rows []captionRow
	if err := db.reader.NewSelect().Model(&rows).Where("video_id IN (?)", bun.List(ids)).Order("video_id", "lang").Scan(ctx); err != nil {
		return fmt.Errorf("read captions: %w", err)
	}
	for i := range rows {
		if v := byID[rows[i].VideoID]; v != nil {
			v.Captions = append(v.Captions, rows[i].caption())
		}
	}
	return nil
}
