package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"github.com/reel-video/reel"
)

// assembleVideos turns rows into videos as viewerID sees them, with a fixed
// number of queries whatever the number of rows: one for the authors, one
// for the captions and, for a signed-in viewer, the one of ViewerFlags.
func (db *DB) assembleVideos(ctx context.Context, viewerID int64, rows []videoRow) ([]*reel.Video, error) {
	videos := make([]*reel.Video, len(rows))
	authorIDs := make([]int64, 0, len(rows))
	seen := map[int64]bool{}
	for i := range rows {
		videos[i] = rows[i].video()
		if !seen[rows[i].AuthorID] {
			seen[rows[i].AuthorID] = true
			authorIDs = append(authorIDs, rows[i].AuthorID)
		}
	}
	if len(videos) == 0 {
		return videos, nil
	}
	authors, err := db.usersByID(ctx, 0, authorIDs)
	if err != nil {
		return nil, err
	}
	for _, v := range videos {
		v.Author = authors[v.AuthorID]
		if v.Author == nil {
			return nil, fmt.Errorf("video %d: author %d missing", v.ID, v.AuthorID)
		}
	}
	if err := db.fillCaptions(ctx, videos); err != nil {
		return nil, err
	}
	return videos, db.ViewerFlags(ctx, viewerID, videos...)
}

// ViewerFlags sets what depends on the viewer (is_liked, the authors'
// is_following, resume_position_ms, the viewer's own video_count) on videos
// whose authors are loaded, in one query whatever their number; none for
// anonymous viewers.
func (db *DB) ViewerFlags(ctx context.Context, viewerID int64, videos ...*reel.Video) error {
	if viewerID == 0 || len(videos) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(videos))
	var authorIDs []int64
	for _, v := range videos {
		ids = append(ids, v.ID)
		if v.Author != nil && !slices.Contains(authorIDs, v.Author.ID) {
			authorIDs = append(authorIDs, v.Author.ID)
		}
	}
	f, err := db.ReadViewerFlags(ctx, viewerID, ids, authorIDs)
	if err != nil {
		return err
	}
	f.Apply(videos...)
	return nil
}

// ReadViewerFlags reads, in one query, what viewerID's answers about
// videoIDs by authorIDs depend on beyond the videos themselves: their
// likes, positions and follows, their own video count when they are among
// the authors, and whether they are an administrator. Caches keep the
// result (package cache); ViewerFlags applies it at once.
func (db *DB) ReadViewerFlags(ctx context.Context, viewerID int64, videoIDs, authorIDs []int64) (*reel.ViewerFlags, error) {
	f := reel.NewViewerFlags(viewerID, videoIDs, authorIDs)
	// IN () is not SQL: an id no row has stands for an empty list.
	nonEmpty := func(ids []int64) []int64 {
		if len(ids) == 0 {
			return []int64{0}
		}
		return ids
	}
	var rows []struct {
		Kind  string `bun:"kind"`
		ID    int64  `bun:"id"`
		Value int64  `bun:"value"`
	}
	err := db.reader.NewRaw(`SELECT 'like' AS kind, video_id AS id, 0 AS value FROM likes WHERE user_id = ? AND video_id IN (?)
		UNION ALL SELECT 'follow', followee_id, 0 FROM follows WHERE follower_id = ? AND followee_id IN (?)
		UNION ALL SELECT 'position', video_id, position_ms FROM watch_progress WHERE user_id = ? AND video_id IN (?)
		UNION ALL SELECT 'own videos', author_id, count(*) FROM videos WHERE author_id = ? AND author_id IN (?) AND `+ownVideos+` GROUP BY author_id
		UNION ALL SELECT 'admin', id, 1 FROM users WHERE id = ? AND is_admin`,
		viewerID, bun.List(nonEmpty(videoIDs)), viewerID, bun.List(nonEmpty(authorIDs)), viewerID, bun.List(nonEmpty(videoIDs)),
		viewerID, bun.List(nonEmpty(authorIDs)), viewerID).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read viewer flags: %w", err)
	}
	for _, r := range rows {
		switch r.Kind {
		case "like":
			f.Liked[r.ID] = true
		case "follow":
			f.Following[r.ID] = true
		case "position":
			f.Positions[r.ID] = r.Value
		case "own videos": // the viewer is the author: their own count (ownVideos; none: 0, as listed)
			f.OwnVideos = r.Value
		case "admin":
			f.Admin = true
		}
	}
	return f, nil
}

// usersByID loads users with viewerID's is_following, in two queries.
func (db *DB) usersByID(ctx context.Context, viewerID int64, ids []int64) (map[int64]*reel.User, error) {
	var rows []userRow
	if err := db.reader.NewSelect().Model(&rows).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	users := make(map[int64]*reel.User, len(rows))
	list := make([]*reel.User, len(rows))
	for i := range rows {
		list[i] = rows[i].user()
		users[rows[i].ID] = list[i]
	}
	if err := db.ownVideoCount(ctx, viewerID, list...); err != nil {
		return nil, err
	}
	return users, db.fillFollowing(ctx, viewerID, list...)
}

// ownVideos is the SQL condition on the videos table for the videos their
// author sees as their own (docs/api.md): in their own lists, /api/v1 and
// Douyin, and in their own video_count and work_count. Blocked videos are in
// nobody's list; a video still uploading has no file yet, nothing to show.
const ownVideos = "NOT videos.blocked AND videos.status <> '" + reel.StatusUploading + "'"

// ownVideoCount gives the one of users that is viewerID the video_count its
// author sees: everyone else sees the ready, public, unblocked videos (the
// listed count, userRow.user), the author counts ownVideos.
func (db *DB) ownVideoCount(ctx context.Context, viewerID int64, users ...*reel.User) error {
	for _, u := range users {
		if viewerID == 0 || u.ID != viewerID {
			continue
		}
		n, err := countOwnVideos(ctx, db.reader, u.ID)
		u.VideoCount = n
		return err
	}
	return nil
}

// countOwnVideos counts the videos authorID sees as their own (ownVideos),
// through q: the reader, or a transaction that must see its own writes.
func countOwnVideos(ctx context.Context, q bun.IDB, authorID int64) (int64, error) {
	n, err := q.NewSelect().TableExpr("videos").Where("videos.author_id = ?", authorID).Where(ownVideos).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count the videos of user %d: %w", authorID, err)
	}
	return int64(n), nil
}

// fillFollowing sets is_following for viewerID on users, in one query.
func (db *DB) fillFollowing(ctx context.Context, viewerID int64, users ...*reel.User) error {
	if viewerID == 0 || len(users) == 0 {
		return nil
	}
	ids := make([]int64, len(users))
	byID := make(map[int64][]*reel.User, len(users))
	for i, u := range users {
		ids[i] = u.ID
		byID[u.ID] = append(byID[u.ID], u)
	}
	var followed []int64
	if err := db.reader.NewSelect().Table("follows").Column("followee_id").
		Where("follower_id = ? AND followee_id IN (?)", viewerID, bun.List(ids)).Scan(ctx, &followed); err != nil {
		return fmt.Errorf("read follows: %w", err)
	}
	for _, id := range followed {
		for _, u := range byID[id] {
			u.IsFollowing = true
		}
	}
	return nil
}

// page cuts rows to limit and returns the cursor of the next page: the
// paging key of the last row kept, "" when there is no more.
func page[T any](rows []T, limit int, key func(T) int64) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, encodeCursor(key(rows[len(rows)-1]))
}
