package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/events"
)

var _ reel.VideoService = (*DB)(nil)

// Queue puts jobs into the database inside the store's own transactions, so
// that a video and the job that processes it commit or vanish together. The
// jobs package implements it on River.
type Queue interface {
	InsertProcessTx(ctx context.Context, tx *sql.Tx, videoID int64) (jobID int64, err error)
	InsertDeleteFilesTx(ctx context.Context, tx *sql.Tx, videoID int64, uploadID string) error
	CancelTx(ctx context.Context, tx *sql.Tx, jobID int64) error
	Waiting(ctx context.Context) (int, error)
	// WaitingTx is Waiting inside tx, so that counting and enqueueing are
	// one step (FinishUpload's queue cap).
	WaitingTx(ctx context.Context, tx *sql.Tx) (int, error)
}

// SetMaxQueued makes FinishUpload refuse, with EUNAVAILABLE, to enqueue a
// video while n jobs wait (0: no limit). Set it before serving.
func (db *DB) SetMaxQueued(n int) { db.maxQueued = n }

// SetOnVideoChange registers fn to hear of every committed change to a
// video: lists is true when the change can move it in or out of lists
// (status, visibility, block, delete), false when only its content or
// counts changed. Caches use it. It may be set while jobs already run (the
// queue starts with the store), hence the atomic.
func (db *DB) SetOnVideoChange(fn func(id int64, lists bool)) { db.onVideoChange.Store(&fn) }

func (db *DB) changed(id int64, lists bool) {
	if fn := db.onVideoChange.Load(); fn != nil && *fn != nil {
		(*fn)(id, lists)
	}
}

// SetOnUserChange registers fn to hear, after the commit, of every change
// to what a user's row shows (their counts, as embedded in video cards and
// profiles) and to what they see as a viewer (their likes, follows, watch
// positions and own videos): caches of video cards keep their authors as
// fresh as their profiles with it, and caches of viewers' flags drop what
// changed. It may be set while jobs already run.
func (db *DB) SetOnUserChange(fn func(ids []int64)) { db.onUserChange.Store(&fn) }

// usersChanged reports ids (zeros left out) to SetOnUserChange's fn.
// Reporting a user whose change did not commit costs only a reload.
func (db *DB) usersChanged(ids ...int64) {
	fn := db.onUserChange.Load()
	if fn == nil || *fn == nil {
		return
	}
	ids = slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return id == 0 })
	if len(ids) > 0 {
		(*fn)(ids)
	}
}

// SetQueue connects the job queue. It must be called before videos are
// created; it is separate from Open because the queue needs the open database.
func (db *DB) SetQueue(q Queue) { db.queue = q }

// CreateVideo stores a new video; one created as processing gets its job in
// the same transaction.
func (db *DB) CreateVideo(ctx context.Context, v *reel.Video) error {
	// Milliseconds: the Douyin API pages the feed by creation time in ms,
	// and a finer stored time would hide videos sharing the page's last ms.
	now := time.Now().UTC().Truncate(time.Millisecond)
	row := videoRowFrom(v)
	row.CreatedAt, row.UpdatedAt = now, now
	err := db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("insert video: %w", err)
		}
		// No counter on the author's row: their own count is counted when
		// asked (ownVideoCount), and an update of the user row here made
		// parallel uploads of one user deadlock on PostgreSQL against the
		// deletion of a refused one.
		if row.Status == reel.StatusReady {
			// Only tests and imports create videos ready.
			return db.recountListedTx(ctx, tx, row.AuthorID)
		}
		if row.Status == reel.StatusProcessing {
			_, err := db.enqueueProcess(ctx, tx, row.ID)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	v.ID, v.CreatedAt = row.ID, now
	if row.Status == reel.StatusReady {
		db.changed(row.ID, true)
		db.usersChanged(row.AuthorID)
	}
	return nil
}

func (db *DB) enqueueProcess(ctx context.Context, tx bun.Tx, videoID int64) (jobID int64, err error) {
	if db.queue == nil {
		return 0, errors.New("no job queue connected to the store")
	}
	jobID, err = db.queue.InsertProcessTx(ctx, tx.Tx, videoID)
	if err != nil {
		return 0, fmt.Errorf("enqueue processing of video %d: %w", videoID, err)
	}
	_, err = tx.NewUpdate().Table("videos").Set("process_job_id = ?", jobID).Where("id = ?", videoID).Exec(ctx)
	return jobID, err
}

// queueLockKey names the PostgreSQL advisory lock that serialises
// FinishUpload's count and enqueue across every node sharing the database.
const queueLockKey = 0x7265656c_71756575 // "reelqueu"

// quotaLockKey names the PostgreSQL advisory lock that serialises one
// user's FinishUploads under a quota: "rqot" in the high half, the user id's
// low 32 bits in the other (two users sharing them only wait for each
// other). Its high half differs from queueLockKey's, so the two never meet.
func quotaLockKey(userID int64) int64 {
	return 0x72716f74<<32 | userID&0xffffffff
}

// SetUserQuota makes FinishUpload refuse, with EQUOTA, an upload that would
// bring its author's kept originals above n bytes (0: no limit). Set it
// before serving.
func (db *DB) SetUserQuota(n int64) { db.userQuota = n }

// FinishUpload moves an uploading video to processing with its job and
// answers the video as its author sees it, read inside the transaction: a
// query after the commit could fail and answer an error for an upload that
// was accepted. The caps that parallel uploads could otherwise all slip under are decided
// here, in the transaction that makes the upload count: the queue cap
// (SetMaxQueued: the count of waiting jobs and the enqueue are one step)
// and the user's quota (SetUserQuota: the sum of their kept originals and
// this one's size, and the status that makes it kept). On PostgreSQL
// advisory transaction locks serialise them across nodes, always the
// queue's before the user's; on SQLite the single writer connection and
// BEGIN IMMEDIATE already do.
func (db *DB) FinishUpload(ctx context.Context, id int64, originalKey string, size int64, sha256 string) (*reel.Video, error) {
	var row videoRow
	var author userRow
	var ownCount int64
	err := db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if db.maxQueued > 0 && db.queue != nil {
			if db.engine == EnginePostgres {
				if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", int64(queueLockKey)); err != nil {
					return fmt.Errorf("lock the queue: %w", err)
				}
			}
			n, err := db.queue.WaitingTx(ctx, tx.Tx)
			if err != nil {
				return fmt.Errorf("count queued jobs: %w", err)
			}
			if n >= db.maxQueued {
				return reel.Errorf(reel.EUNAVAILABLE, "%d videos are waiting to be processed; try again shortly", n)
			}
		}
		if db.userQuota > 0 {
			if err := db.checkQuotaTx(ctx, tx, id, size); err != nil {
				return err
			}
		}
		err := tx.NewUpdate().Model(&row).
			Set("status = ?", reel.StatusProcessing).
			Set("original_key = ?", originalKey).
			Set("size_bytes = ?", size).
			Set("sha256 = ?", sha256).
			Set("updated_at = ?", time.Now().UTC()).
			Where("id = ? AND status = ?", id, reel.StatusUploading).
			Returning("*").
			Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			// Deleted meanwhile, or finished already (a repeated hook): nothing to do.
			return reel.Errorf(reel.ENOTFOUND, "video %d is not waiting for its upload", id)
		}
		if err != nil {
			return fmt.Errorf("finish upload of video %d: %w", id, err)
		}
		if err := tx.NewSelect().Model(&author).Where("id = ?", row.AuthorID).Scan(ctx); err != nil {
			return fmt.Errorf("read author %d: %w", row.AuthorID, err)
		}
		// The author sees their own count (ownVideos), this video included.
		if ownCount, err = countOwnVideos(ctx, tx, row.AuthorID); err != nil {
			return err
		}
		jobID, err := db.enqueueProcess(ctx, tx, id)
		row.ProcessJobID = &jobID
		return err
	})
	if err != nil {
		return nil, err
	}
	db.changed(id, false)
	db.usersChanged(row.AuthorID) // their own video count now includes it
	db.notifyUser(ctx, row.AuthorID, events.TypeVideoStatus, events.VideoStatus{VideoID: id, Status: reel.StatusProcessing})
	// As FindVideoByID would give it to the author: an uploading video has
	// no likes, no progress, and nobody follows themself.
	v := row.video()
	v.Author = author.user()
	v.Author.VideoCount = ownCount
	return v, nil
}

// FindVideoByID returns a video as viewerID may see it.
func (db *DB) FindVideoByID(ctx context.Context, id, viewerID int64) (*reel.Video, error) {
	v, err := db.VideoCard(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := db.CanSee(ctx, v, viewerID); err != nil {
		return nil, err
	}
	return v, db.ViewerFlags(ctx, viewerID, v)
}

// VideoCard returns a video with its author and none of a viewer's flags,
// whatever its visibility: what a cache may share between viewers.
func (db *DB) VideoCard(ctx context.Context, id int64) (*reel.Video, error) {
	return db.findVideo(ctx, db.reader.NewSelect().Model((*videoRow)(nil)).Where("id = ?", id), fmt.Sprintf("video %d", id), 0)
}

// VideoCards returns the cards of the videos that exist among ids, in two
// queries whatever their number.
func (db *DB) VideoCards(ctx context.Context, ids []int64) (map[int64]*reel.Video, error) {
	var rows []videoRow
	if err := db.reader.NewSelect().Model(&rows).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read videos: %w", err)
	}
	videos, err := db.assembleVideos(ctx, 0, rows)
	if err != nil {
		return nil, err
	}
	cards := make(map[int64]*reel.Video, len(videos))
	for _, v := range videos {
		cards[v.ID] = v
	}
	return cards, nil
}

// CanSee answers ENOTFOUND when viewerID may not see v: someone else's
// private video, or a blocked one to all but its author and administrators.
func (db *DB) CanSee(ctx context.Context, v *reel.Video, viewerID int64) error {
	if v.AuthorID == viewerID {
		return nil
	}
	if v.Visibility == reel.VisibilityPrivate {
		return reel.Errorf(reel.ENOTFOUND, "video %d not found", v.ID)
	}
	if v.Blocked {
		viewer, err := db.FindUserByID(ctx, viewerID, viewerID)
		if err != nil || !viewer.IsAdmin {
			return reel.Errorf(reel.ENOTFOUND, "video %d not found", v.ID)
		}
	}
	return nil
}

// FindVideoByUploadID returns the video a tus upload carries, whoever asks.
func (db *DB) FindVideoByUploadID(ctx context.Context, uploadID string) (*reel.Video, error) {
	return db.findVideo(ctx, db.reader.NewSelect().Model((*videoRow)(nil)).Where("upload_id = ?", uploadID), fmt.Sprintf("upload %q", uploadID), 0)
}

func (db *DB) findVideo(ctx context.Context, q *bun.SelectQuery, what string, viewerID int64) (*reel.Video, error) {
	var row videoRow
	err := q.Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, reel.Errorf(reel.ENOTFOUND, "%s not found", what)
	}
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", what, err)
	}
	videos, err := db.assembleVideos(ctx, viewerID, []videoRow{row})
	if err != nil {
		return nil, err
	}
	return videos[0], nil
}

// UpdateVideo changes the texts and visibility of a video its author owns.
// Making a video private moves its media generation on, which revokes every
// media URL handed out before (see MediaRevocations); the owner's new URLs
// are signed for the new generation.
func (db *DB) UpdateVideo(ctx context.Context, id, actorID int64, upd reel.VideoUpdate) (*reel.Video, error) {
	if err := reel.ValidateVideoText(upd.Title, upd.Description, upd.Visibility); err != nil {
		return nil, err
	}
	v, err := db.FindVideoByID(ctx, id, actorID)
	if err != nil {
		return nil, err
	}
	if v.AuthorID != actorID {
		return nil, reel.Errorf(reel.EFORBIDDEN, "only the author may change video %d", id)
	}
	var rev reel.MediaRevocation
	var after struct {
		Generation int64 `bun:"media_generation"`
		Blocked    bool  `bun:"blocked"`
	}
	err = db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Table("videos").Set("updated_at = ?", time.Now().UTC()).Where("id = ?", id)
		if upd.Title != nil {
			q.Set("title = ?", *upd.Title)
		}
		if upd.Description != nil {
			q.Set("description = ?", *upd.Description)
		}
		if upd.Visibility == nil {
			if _, err := q.Exec(ctx); err != nil {
				return fmt.Errorf("update video %d: %w", id, err)
			}
			return nil
		}
		if *upd.Visibility == reel.VisibilityPrivate {
			// Decided in the statement: of two concurrent changes to
			// private, only the first revokes.
			q.Set("media_generation = CASE WHEN visibility <> ? THEN media_generation + 1 ELSE media_generation END", reel.VisibilityPrivate)
		}
		q.Set("visibility = ?", *upd.Visibility)
		// blocked as it is now, not as read above: a block committed
		// meanwhile must not be undone by this revocation.
		if err := q.Returning("media_generation, blocked").Scan(ctx, &after); err != nil {
			return fmt.Errorf("update video %d: %w", id, err)
		}
		if after.Generation > v.MediaGeneration {
			rev = reel.MediaRevocation{VideoID: id, Generation: after.Generation, Blocked: after.Blocked}
			if err := db.revokeTx(ctx, tx, &rev); err != nil {
				return err
			}
		}
		return db.recountListedTx(ctx, tx, v.AuthorID)
	})
	if err != nil {
		return nil, err
	}
	db.changed(id, true)
	db.usersChanged(v.AuthorID)
	db.revoked(rev)
	// The answer is what was read before plus the change, and the media
	// generation and block the statement returned: a query after the
	// commit could fail and answer an error for a change that was made.
	if upd.Title != nil {
		v.Title = *upd.Title
	}
	if upd.Description != nil {
		v.Description = *upd.Description
	}
	if upd.Visibility != nil {
		v.Visibility = *upd.Visibility
		v.MediaGeneration, v.Blocked = after.Generation, after.Blocked
	}
	return v, nil
}

// DeleteVideo removes a video, cancels its processing and, through a job in
// the same transaction, removes its files: a crash cannot leave files of a
// deleted video behind, nor delete the files of a video that still exists.
func (db *DB) DeleteVideo(ctx context.Context, id, actorID int64) (err error) {
	actor, err := db.FindUserByID(ctx, actorID, actorID)
	if err != nil {
		return err
	}
	defer db.changed(id, true)
	var rev reel.MediaRevocation
	var touched []int64 // the author and the likers, whose counts change
	defer func() {
		db.usersChanged(touched...)
		if err == nil {
			db.revoked(rev)
		}
	}()
	return db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var row videoRow
		err := tx.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && row.Visibility == reel.VisibilityPrivate && row.AuthorID != actorID && !actor.IsAdmin) {
			return reel.Errorf(reel.ENOTFOUND, "video %d not found", id)
		}
		if err != nil {
			return fmt.Errorf("find video %d: %w", id, err)
		}
		if row.AuthorID != actorID && !actor.IsAdmin {
			return reel.Errorf(reel.EFORBIDDEN, "only the author or an administrator may delete video %d", id)
		}
		if rev, touched, err = db.removeVideoTx(ctx, tx, id, row.AuthorID); err != nil {
			return err
		}
		if db.queue == nil {
			return errors.New("no job queue connected to the store")
		}
		if row.ProcessJobID != nil {
			if err := db.queue.CancelTx(ctx, tx.Tx, *row.ProcessJobID); err != nil {
				return fmt.Errorf("cancel processing of video %d: %w", id, err)
			}
		}
		upload := ""
		if row.UploadID != nil {
			upload = *row.UploadID
		}
		return db.queue.InsertDeleteFilesTx(ctx, tx.Tx, id, upload)
	})
}

// removeVideoTx deletes a video inside tx with what counts it: its likes
// are deleted first, returning who gave them, so that exactly those likes
// leave their givers' like_count and the author's liked_count. On
// PostgreSQL the video row is locked first: a Like's foreign-key check needs
// a share lock on it, so likes wait for the delete (and then find no video)
// instead of deadlocking with it or slipping in uncounted. The deletion is
// recorded as a media revocation, returned for the caller to apply after the
// commit: the files are removed later, by a job, and their URLs must stop
// working now.
func (db *DB) removeVideoTx(ctx context.Context, tx bun.Tx, id, authorID int64) (reel.MediaRevocation, []int64, error) {
	rev := reel.MediaRevocation{VideoID: id, Deleted: true}
	if db.engine == EnginePostgres {
		if _, err := tx.NewRaw("SELECT id FROM videos WHERE id = ? FOR UPDATE", id).Exec(ctx); err != nil {
			return rev, nil, fmt.Errorf("lock video %d: %w", id, err)
		}
	}
	var likers []int64
	if err := tx.NewRaw("DELETE FROM likes WHERE video_id = ? RETURNING user_id", id).Scan(ctx, &likers); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return rev, nil, fmt.Errorf("delete likes of video %d: %w", id, err)
	}
	if len(likers) > 0 {
		if _, err := tx.NewUpdate().Table("users").Set("like_count = like_count - 1").Where("id IN (?)", bun.List(likers)).Exec(ctx); err != nil {
			return rev, nil, fmt.Errorf("uncount likes of video %d: %w", id, err)
		}
	}
	if _, err := tx.NewUpdate().Table("users").Set("liked_count = liked_count - ?", len(likers)).
		Where("id = ?", authorID).Exec(ctx); err != nil {
		return rev, nil, fmt.Errorf("uncount video %d: %w", id, err)
	}
	if _, err := tx.NewDelete().Model((*videoRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
		return rev, nil, fmt.Errorf("delete video %d: %w", id, err)
	}
	if err := db.recountListedTx(ctx, tx, authorID); err != nil {
		return rev, nil, err
	}
	// The users whose counts changed, for SetOnUserChange after the commit.
	return rev, append(likers, authorID), db.revokeTx(ctx, tx, &rev)
}

// ListUserVideos lists userID's videos, newest first. Others see only the
// ready, listed ones; the author sees ownVideos, which their video_count
// counts.
func (db *DB) ListUserVideos(ctx context.Context, userID, viewerID int64, cursor string, limit int) ([]*reel.Video, string, error) {
	if _, err := db.FindUserByID(ctx, userID, 0); err != nil {
		return nil, "", err
	}
	q := db.reader.NewSelect().TableExpr("videos").Where("videos.author_id = ?", userID)
	if viewerID == userID {
		q.Where(ownVideos)
	} else {
		q.Where("NOT videos.blocked AND videos.status = ? AND videos.visibility = ?", reel.StatusReady, reel.VisibilityPublic)
	}
	return db.videoPage(ctx, viewerID, q, "videos.id", cursor, limit)
}

// ListBlockedVideos lists every blocked video, newest first, for an
// administrator, from the partial index of blocked ids (videos_blocked).
func (db *DB) ListBlockedVideos(ctx context.Context, viewerID int64, cursor string, limit int) ([]*reel.Video, string, error) {
	q := db.reader.NewSelect().TableExpr("videos").Where("videos.blocked")
	return db.videoPage(ctx, viewerID, q, "videos.id", cursor, limit)
}

// videoPage runs q (over videos, with any joins) newest first by the paging
// column key, one page after cursor, and assembles the videos for viewerID.
func (db *DB) videoPage(ctx context.Context, viewerID int64, q *bun.SelectQuery, key, cursor string, limit int) ([]*reel.Video, string, error) {
	before, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	if before > 0 {
		q.Where(key+" < ?", before)
	}
	var rows []pagedVideo
	if err := q.ColumnExpr("videos.*").ColumnExpr(key+" AS page_key").OrderExpr(key+" DESC").Limit(int64(limit)+1).Scan(ctx, &rows); err != nil {
		return nil, "", fmt.Errorf("list videos: %w", err)
	}
	rows, next := page(rows, limit, func(r pagedVideo) int64 { return r.PageKey })
	plain := make([]videoRow, len(rows))
	for i := range rows {
		plain[i] = rows[i].videoRow
	}
	videos, err := db.assembleVideos(ctx, viewerID, plain)
	return videos, next, err
}

// pagedVideo is a video row with the key it is paged by (its own id, or the
// id of the like that lists it).
type pagedVideo struct {
	videoRow `bun:",extend"`
	PageKey  int64 `bun:"page_key"`
}

// SetProcessed records what the pipeline learnt about a video. A video that
// is gone is ENOTFOUND, which tells the pipeline to stop.
func (db *DB) SetProcessed(ctx context.Context, id int64, p reel.Processed) error {
	var authorID int64
	update := func(ctx context.Context, idb bun.IDB) error {
		q := idb.NewUpdate().Table("videos").Set("updated_at = ?", time.Now().UTC()).Where("id = ?", id)
		if p.Status != "" {
			q.Set("status = ?", p.Status)
		}
		if p.Progress != nil {
			q.Set("progress = ?", *p.Progress)
		}
		if p.Error != nil {
			q.Set("error = ?", *p.Error)
		}
		if p.DurationMS > 0 {
			q.Set("duration_ms = ?", p.DurationMS)
		}
		if p.Width > 0 && p.Height > 0 {
			q.Set("width = ?", p.Width).Set("height = ?", p.Height)
		}
		if p.SizeBytes > 0 {
			q.Set("size_bytes = ?", p.SizeBytes)
		}
		if p.SHA256 != "" {
			q.Set("sha256 = ?", p.SHA256)
		}
		for col, key := range map[string]string{
			"cover_key": p.CoverKey, "play_key": p.PlayKey, "hls_key": p.HLSKey, "original_key": p.OriginalKey,
			"dash_key": p.DashKey, "storyboard_key": p.StoryboardKey, "preview_key": p.PreviewKey,
		} {
			if p.ClearFiles || (p.ClearHLS && col == "hls_key") {
				q.Set(col + " = ''")
			} else if key != "" {
				q.Set(col+" = ?", key)
			}
		}
		if p.ClearFiles {
			q.Set("renditions = '[]'")
		} else if p.Renditions != nil {
			b, err := json.Marshal(p.Renditions)
			if err != nil {
				return err
			}
			q.Set("renditions = ?", string(b))
		}
		err := q.Returning("author_id").Scan(ctx, &authorID)
		if errors.Is(err, sql.ErrNoRows) {
			return reel.Errorf(reel.ENOTFOUND, "video %d not found", id)
		}
		if err != nil {
			return fmt.Errorf("record processing of video %d: %w", id, err)
		}
		return nil
	}
	var err error
	if p.Status == "" {
		// Progress reports, many per video: one statement, no transaction.
		err = update(ctx, db.writer)
	} else {
		// A status change can list or unlist the video: the author's
		// video_count as others see it changes with it.
		err = db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := update(ctx, tx); err != nil {
				return err
			}
			return db.recountListedTx(ctx, tx, authorID)
		})
	}
	if err != nil {
		return err
	}
	db.changed(id, p.Status != "")
	if p.Status != "" {
		db.usersChanged(authorID)
		st := events.VideoStatus{VideoID: id, Status: p.Status}
		if p.Error != nil {
			st.Error = *p.Error
		}
		db.notifyUser(ctx, authorID, events.TypeVideoStatus, st)
	}
	return nil
}

// VideoForJob returns a video whatever its visibility, for the pipeline.
func (db *DB) VideoForJob(ctx context.Context, id int64) (*reel.Video, error) {
	return db.VideoCard(ctx, id)
}

// ExpireUploads deletes the videos still uploading that were created before
// the deadline, each with its file-removal job, and returns how many.
func (db *DB) ExpireUploads(ctx context.Context, before time.Time) (int, error) {
	var rows []videoRow
	err := db.reader.NewSelect().Model(&rows).Column("id", "author_id", "upload_id").
		Where("status = ? AND created_at < ?", reel.StatusUploading, before.UTC()).Limit(1000).Scan(ctx)
	if err != nil {
		return 0, fmt.Errorf("find expired uploads: %w", err)
	}
	for _, r := range rows {
		var rev reel.MediaRevocation
		var touched []int64
		err := db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			still, err := tx.NewSelect().Model((*videoRow)(nil)).Where("id = ? AND status = ?", r.ID, reel.StatusUploading).Exists(ctx)
			if err != nil || !still {
				return err // or finished at the last moment
			}
			if rev, touched, err = db.removeVideoTx(ctx, tx, r.ID, r.AuthorID); err != nil {
				return err
			}
			upload := ""
			if r.UploadID != nil {
				upload = *r.UploadID
			}
			return db.queue.InsertDeleteFilesTx(ctx, tx.Tx, r.ID, upload)
		})
		if err != nil {
			return 0, fmt.Errorf("expire upload of video %d: %w", r.ID, err)
		}
		db.changed(r.ID, true)
		db.usersChanged(touched...)
		db.revoked(rev)
	}
	return len(rows), nil
}

// UploadInUse reports whether a video still needs the tus upload's file: it
// is being uploaded, or finished but not yet moved into the blob store.
func (db *DB) UploadInUse(ctx context.Context, uploadID string) (bool, error) {
	return db.reader.NewSelect().Model((*videoRow)(nil)).
		Where("upload_id = ? AND original_key = ''", uploadID).Exists(ctx)
}

// StoredBytes sums the sizes of userID's originals whose upload finished,
// for the storage quota.
func (db *DB) StoredBytes(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := db.reader.NewSelect().Model((*videoRow)(nil)).ColumnExpr("COALESCE(SUM(size_bytes), 0)").
		// A rejected video's original was deleted (its key cleared): it
		// takes no room.
		Where("author_id = ? AND status <> ?", userID, reel.StatusUploading).
		Where("NOT (status = ? AND original_key = '')", reel.StatusFailed).Scan(ctx, &n)
	if err != nil {
		return 0, fmt.Errorf("sum stored bytes of user %d: %w", userID, err)
	}
	return n, nil
}

// checkQuotaTx refuses, inside FinishUpload's transaction, to keep size
// more bytes for the author of the uploading video id when their kept
// originals would exceed the quota. It holds the author's lock until the
// transaction ends, so that the next upload of theirs counts this one.
func (db *DB) checkQuotaTx(ctx context.Context, tx bun.Tx, id, size int64) error {
	var author int64
	err := tx.NewSelect().Model((*videoRow)(nil)).Column("author_id").
		Where("id = ? AND status = ?", id, reel.StatusUploading).Scan(ctx, &author)
	if errors.Is(err, sql.ErrNoRows) {
		return reel.Errorf(reel.ENOTFOUND, "video %d is not waiting for its upload", id)
	}
	if err != nil {
		return fmt.Errorf("find the author of video %d: %w", id, err)
	}
	if db.engine == EnginePostgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", quotaLockKey(author)); err != nil {
			return fmt.Errorf("lock the quota of user %d: %w", author, err)
		}
	}
	// Read after the lock: under READ COMMITTED this statement sees every
	// upload the previous holder of the lock committed.
	var used int64
	err = tx.NewSelect().Model((*videoRow)(nil)).ColumnExpr("COALESCE(SUM(size_bytes), 0)").
		Where("author_id = ? AND status <> ?", author, reel.StatusUploading).Scan(ctx, &used)
	if err != nil {
		return fmt.Errorf("sum stored bytes of user %d: %w", author, err)
	}
	if used+size > db.userQuota {
		return reel.Errorf(reel.EQUOTA, "this upload would bring your videos to %d bytes, above your %d-byte quota: delete some first",
			used+size, db.userQuota)
	}
	return nil
}

// QueuedJobs counts the jobs waiting to run.
func (db *DB) QueuedJobs(ctx context.Context) (int, error) {
	if db.queue == nil {
		return 0, nil
	}
	return db.queue.Waiting(ctx)
}

// Cursors are opaque to clients: the id of the last video of the page. Ids
// only grow, so "id < cursor" pages stay exact while videos are added.
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + strconv.FormatInt(id, 10)))
}

func decodeCursor(cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil && len(raw) > 3 && string(raw[:3]) == "v1:" {
		if id, err := strconv.ParseInt(string(raw[3:]), 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, reel.Errorf(reel.EBADREQUEST, "invalid cursor: pass the next_cursor of the previous page")
}

// videoRow is a row of the videos table.
type videoRow struct {
	bun.BaseModel `bun:"table:videos"`

	ID           int64     `bun:"id,pk,autoincrement"`
	AuthorID     int64     `bun:"author_id"`
	Title        string    `bun:"title"`
	Description  string    `bun:"description"`
	Visibility   string    `bun:"visibility"`
	Status       string    `bun:"status"`
	Progress     int       `bun:"progress"`
	Error        string    `bun:"error"`
	DurationMS   int64     `bun:"duration_ms"`
	Width        int       `bun:"width"`
	Height       int       `bun:"height"`
	SizeBytes    int64     `bun:"size_bytes"`
	SHA256       string    `bun:"sha256"`
	UploadID     *string   `bun:"upload_id"`
	OriginalKey  string    `bun:"original_key"`
	CoverKey     string    `bun:"cover_key"`
	PlayKey      string    `bun:"play_key"`
	HLSKey       string    `bun:"hls_key"`
	DashKey      string    `bun:"dash_key"`
	StoryKey     string    `bun:"storyboard_key"`
	PreviewKey   string    `bun:"preview_key"`
	Renditions   string    `bun:"renditions"`
	ProcessJobID *int64    `bun:"process_job_id"`
	Blocked      bool      `bun:"blocked"`
	MediaGen     int64     `bun:"media_generation"`
	LikeCount    int64     `bun:"like_count"`
	CommentCount int64     `bun:"comment_count"`
	ViewCount    int64     `bun:"view_count"`
	CreatedAt    time.Time `bun:"created_at"`
	UpdatedAt    time.Time `bun:"updated_at"`
}

func videoRowFrom(v *reel.Video) *videoRow {
	r := &videoRow{
		AuthorID: v.AuthorID, Title: v.Title, Description: v.Description, Visibility: v.Visibility,
		Status: v.Status, SizeBytes: v.SizeBytes, SHA256: v.SHA256, OriginalKey: v.OriginalKey, Renditions: "[]",
	}
	if r.Visibility == "" {
		r.Visibility = reel.VisibilityPublic
	}
	if v.UploadID != "" {
		r.UploadID = &v.UploadID
	}
	return r
}

func (r *videoRow) video() *reel.Video {
	v := &reel.Video{
		ID: r.ID, AuthorID: r.AuthorID, Title: r.Title, Description: r.Description, Visibility: r.Visibility,
		Status: r.Status, Progress: r.Progress, Error: r.Error, DurationMS: r.DurationMS, Width: r.Width, Height: r.Height,
		SizeBytes: r.SizeBytes, SHA256: r.SHA256, CreatedAt: r.CreatedAt.UTC(),
		OriginalKey: r.OriginalKey, CoverKey: r.CoverKey, PlayKey: r.PlayKey, HLSKey: r.HLSKey, Blocked: r.Blocked,
		DashKey: r.DashKey, StoryboardKey: r.StoryKey, PreviewKey: r.PreviewKey,
		LikeCount: r.LikeCount, CommentCount: r.CommentCount, ViewCount: r.ViewCount, MediaGeneration: r.MediaGen,
		Renditions: []reel.Rendition{},
	}
	if r.UploadID != nil {
		v.UploadID = *r.UploadID
	}
	_ = json.Unmarshal([]byte(r.Renditions), &v.Renditions) // written by SetProcessed only
	return v
}
