package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/events"
)

var _ reel.SocialService = (*DB)(nil)

// Counts change in the same transaction as the rows they count, and only
// when a row was really inserted or deleted: a like that already exists
// inserts nothing and counts nothing, so repeated and concurrent calls keep
// every count equal to its rows.

// Like records userID's like of videoID.
func (db *DB) Like(ctx context.Context, userID, videoID int64) error {
	w := &likeWrite{userID: userID, videoID: videoID, like: true}
	defer db.changed(videoID, false)
	defer func() { db.usersChanged(userID, w.author) }()
	err := db.writeLike(ctx, w)
	if err == nil && w.changed && w.author != userID {
		db.notifyUser(ctx, w.author, events.TypeLike, events.Like{VideoID: videoID, UserID: userID})
	}
	return err
}

// Unlike removes userID's like of videoID, if any.
func (db *DB) Unlike(ctx context.Context, userID, videoID int64) error {
	w := &likeWrite{userID: userID, videoID: videoID}
	defer db.changed(videoID, false)
	defer func() { db.usersChanged(userID, w.author) }()
	return db.writeLike(ctx, w)
}

// likeWrite is one like (or unlike) to write, and what writing it found.
type likeWrite struct {
	userID, videoID int64
	like            bool
	author          int64 // the video's author, once it was found visible
	changed         bool  // a like was really inserted (or deleted)
}

// writeLike writes w and counts it. On SQLite it joins the likes of other
// requests in one transaction (db.likes, a batcher); on PostgreSQL, whose
// writers run in parallel, it has a transaction of its own.
func (db *DB) writeLike(ctx context.Context, w *likeWrite) error {
	if _, err := db.likeStatements(ctx); err != nil {
		return err
	}
	if db.likes != nil {
		return db.likes.do(ctx, w)
	}
	return db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := db.applyLike(ctx, tx, w); err != nil {
			return err
		}
		return countLikes(ctx, tx, []*likeWrite{w})
	})
}

// newLikeBatch is the group commit of likes and unlikes (see batcher).
func newLikeBatch(db *DB) *batcher[*likeWrite] {
	return &batcher[*likeWrite]{
		inTx: func(ctx context.Context, fn func(context.Context, bun.Tx) error) error {
			return db.writer.RunInTx(ctx, nil, fn)
		},
		apply:  db.applyLike,
		finish: countLikes,
	}
}

// likeStmts are applyLike's statements, prepared once on the writer and
// reused by every transaction: on SQLite, parsing a statement costs more
// than running it, and these run for every like. $n placeholders work on
// both engines.
type likeStmts struct {
	video, insert, delete *sql.Stmt
}

// likeStatements prepares the likeStmts the first time. It runs outside
// any transaction: on SQLite preparing needs the one writer connection,
// which a transaction holds.
func (db *DB) likeStatements(ctx context.Context) (*likeStmts, error) {
	if s := db.likeStmts.Load(); s != nil {
		return s, nil
	}
	db.prepareMu.Lock()
	defer db.prepareMu.Unlock()
	if s := db.likeStmts.Load(); s != nil {
		return s, nil
	}
	s := &likeStmts{}
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.video, "SELECT " + videoAccessColumns + " FROM videos WHERE id = $1"},
		{&s.insert, "INSERT INTO likes (user_id, video_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (user_id, video_id) DO NOTHING"},
		{&s.delete, "DELETE FROM likes WHERE user_id = $1 AND video_id = $2"},
	} {
		stmt, err := db.writer.DB.PrepareContext(ctx, p.query)
		if err != nil {
			return nil, fmt.Errorf("prepare the statements of likes: %w", err)
		}
		*p.stmt = stmt
	}
	db.likeStmts.Store(s)
	return s, nil
}

// applyLike inserts or deletes w's like row, if the video is one w's user
// may act on; the counts are countLikes'. An error means nothing was
// written: the only write is the last statement, which SQLite undoes alone
// when it fails.
func (db *DB) applyLike(ctx context.Context, tx bun.Tx, w *likeWrite) error {
	s := db.likeStmts.Load() // prepared by writeLike
	w.changed = false
	var v videoAccess
	err := tx.StmtContext(ctx, s.video).QueryRowContext(ctx, w.videoID).Scan(&v.AuthorID, &v.Visibility, &v.Status, &v.Blocked)
	author, err := v.actor(err, w.videoID, w.userID)
	if err != nil {
		return err
	}
	w.author = author
	var res sql.Result
	if w.like {
		res, err = tx.StmtContext(ctx, s.insert).ExecContext(ctx, w.userID, w.videoID, timeArg(now()))
		if isForeignKeyViolation(err) {
			return reel.Errorf(reel.ENOTFOUND, "video %d not found", w.videoID) // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("like video %d: %w", w.videoID, err)
		}
	} else {
		res, err = tx.StmtContext(ctx, s.delete).ExecContext(ctx, w.userID, w.videoID)
		if err != nil {
			return fmt.Errorf("unlike video %d: %w", w.videoID, err)
		}
	}
	n, _ := res.RowsAffected()
	w.changed = n > 0
	return nil
}

// timeArg is t as bun writes it into queries (schema.BaseDialect's
// AppendTime), for statements run without bun: both engines read that text
// as the time, and SQLite stores it as it is, so every row's time has one
// format whichever way it was written.
func timeArg(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.999999-07:00") }

// countLikes adds the likes written (and takes away those deleted) to the
// videos' like_count, their givers' like_count and their authors'
// liked_count: one UPDATE for the videos and one for the users, however
// many likes there are. A like and an unlike of the same pair cancel out
// and touch no row.
func countLikes(ctx context.Context, tx bun.Tx, writes []*likeWrite) error {
	videos, given, received := map[int64]int64{}, map[int64]int64{}, map[int64]int64{}
	for _, w := range writes {
		if !w.changed {
			continue
		}
		d := int64(-1)
		if w.like {
			d = +1
		}
		videos[w.videoID] += d
		given[w.userID] += d
		received[w.author] += d
	}
	if err := addCounts(ctx, tx, "videos", map[string]map[int64]int64{"like_count": videos}); err != nil {
		return err
	}
	return addCounts(ctx, tx, "users", map[string]map[int64]int64{"like_count": given, "liked_count": received})
}

// addCounts adds, in one atomic UPDATE of table (never read-modify-write),
// deltas[column][id] to each column of each row; rows whose every delta is
// zero are left alone. One statement rather than one per row also means
// that PostgreSQL locks the rows in the order of its scan, not in the order
// a caller happened to name them (two transactions naming the same two
// users in opposite orders could deadlock).
func addCounts(ctx context.Context, tx bun.Tx, table string, deltas map[string]map[int64]int64) error {
	var ids []int64
	for _, byID := range deltas {
		for id, d := range byID {
			if d != 0 && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	var q strings.Builder
	var args []any
	q.WriteString("UPDATE " + table + " SET")
	sep := " "
	for _, column := range slices.Sorted(maps.Keys(deltas)) {
		var cases []any // id, delta, id, delta…
		for _, id := range ids {
			if d := deltas[column][id]; d != 0 {
				cases = append(cases, id, d)
			}
		}
		if len(cases) == 0 {
			continue
		}
		q.WriteString(sep + column + " = " + column + " + CASE id" + strings.Repeat(" WHEN ? THEN ?", len(cases)/2) + " ELSE 0 END")
		args, sep = append(args, cases...), ", "
	}
	q.WriteString(" WHERE id IN (?)")
	args = append(args, bun.List(ids))
	if _, err := tx.NewRaw(q.String(), args...).Exec(ctx); err != nil {
		return fmt.Errorf("count in %s: %w", table, err)
	}
	return nil
}

// LikedVideos lists the videos userID likes, most recently liked first,
// that viewerID may see in a list.
func (db *DB) LikedVideos(ctx context.Context, userID, viewerID int64, p reel.Page) ([]*reel.Video, string, error) {
	if _, err := db.FindUserByID(ctx, userID, 0); err != nil {
		return nil, "", err
	}
	q := db.reader.NewSelect().TableExpr("videos").Join("JOIN likes ON likes.video_id = videos.id").
		Where("likes.user_id = ?", userID).
		Where("videos.status = ? AND videos.visibility = ? AND NOT videos.blocked", reel.StatusReady, reel.VisibilityPublic)
	return db.videoPage(ctx, viewerID, q, "likes.id", p.Cursor, p.Limit)
}

// AddComment stores a comment on a video userID can see.
func (db *DB) AddComment(ctx context.Context, userID, videoID int64, text string) (*reel.Comment, error) {
	if err := reel.ValidateText("text", text, reel.MaxCommentLen); err != nil {
		return nil, err
	}
	row := &commentRow{VideoID: videoID, UserID: userID, Text: text, CreatedAt: now()}
	// The commenter is read inside the transaction: once it commits, the
	// answer must not depend on another query that could fail.
	var author userRow
	var owner int64
	defer db.changed(videoID, false)
	err := db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) (err error) {
		if owner, err = visibleVideoAuthor(ctx, tx, videoID, userID); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("add comment: %w", err)
		}
		if err := tx.NewSelect().Model(&author).Where("id = ?", userID).Scan(ctx); err != nil {
			return fmt.Errorf("read commenter %d: %w", userID, err)
		}
		return bump(ctx, tx, +1, "videos", "comment_count", videoID)
	})
	if err != nil {
		return nil, err
	}
	// As usersByID would give it: is_following is false for oneself.
	c := row.comment(author.user())
	if owner != userID {
		db.notifyUser(ctx, owner, events.TypeComment, c)
	}
	return c, nil
}

// DeleteComment removes a comment; its author and the video's owner may.
func (db *DB) DeleteComment(ctx context.Context, commentID, actorID int64) error {
	var videoID int64
	defer func() {
		if videoID != 0 {
			db.changed(videoID, false) // after the commit, so no reader caches the old count
		}
	}()
	return db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var c struct {
			UserID   int64 `bun:"user_id"`
			VideoID  int64 `bun:"video_id"`
			AuthorID int64 `bun:"author_id"`
		}
		err := tx.NewSelect().TableExpr("comments").ColumnExpr("comments.user_id, comments.video_id, videos.author_id").
			Join("JOIN videos ON videos.id = comments.video_id").Where("comments.id = ?", commentID).Scan(ctx, &c)
		if errors.Is(err, sql.ErrNoRows) {
			return reel.Errorf(reel.ENOTFOUND, "comment %d not found", commentID)
		}
		if err != nil {
			return fmt.Errorf("find comment %d: %w", commentID, err)
		}
		if actorID != c.UserID && actorID != c.AuthorID {
			return reel.Errorf(reel.EFORBIDDEN, "only the comment's author or the video's owner may delete comment %d", commentID)
		}
		if _, err := tx.NewDelete().Table("comments").Where("id = ?", commentID).Exec(ctx); err != nil {
			return fmt.Errorf("delete comment %d: %w", commentID, err)
		}
		videoID = c.VideoID
		return bump(ctx, tx, -1, "videos", "comment_count", c.VideoID)
	})
}

// Comments lists a video's comments, newest first.
func (db *DB) Comments(ctx context.Context, videoID, viewerID int64, p reel.Page) ([]*reel.Comment, string, error) {
	if _, err := db.FindVideoByID(ctx, videoID, viewerID); err != nil {
		return nil, "", err
	}
	before, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	var rows []commentRow
	q := db.reader.NewSelect().Model(&rows).Where("video_id = ?", videoID).OrderExpr("id DESC").Limit(int64(p.Limit) + 1)
	if before > 0 {
		q.Where("id < ?", before)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", fmt.Errorf("list comments: %w", err)
	}
	rows, next := page(rows, p.Limit, func(r commentRow) int64 { return r.ID })
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.UserID)
	}
	comments := make([]*reel.Comment, len(rows))
	if len(rows) == 0 {
		return comments, next, nil
	}
	users, err := db.usersByID(ctx, viewerID, ids)
	if err != nil {
		return nil, "", err
	}
	for i := range rows {
		comments[i] = rows[i].comment(users[rows[i].UserID])
	}
	return comments, next, nil
}

// Follow records that followerID follows followeeID.
func (db *DB) Follow(ctx context.Context, followerID, followeeID int64) error {
	if followerID == followeeID {
		return reel.Invalid(map[string]string{"user": "you cannot follow yourself"})
	}
	defer db.usersChanged(followerID, followeeID)
	inserted := false
	err := db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := userExists(ctx, tx, followeeID); err != nil {
			return err
		}
		res, err := tx.NewRaw("INSERT INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?) ON CONFLICT (follower_id, followee_id) DO NOTHING",
			followerID, followeeID, now()).Exec(ctx)
		if err != nil {
			return fmt.Errorf("follow user %d: %w", followeeID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		inserted = true
		return bump(ctx, tx, +1, "users", "following_count", followerID, "users", "follower_count", followeeID)
	})
	if err == nil && inserted {
		db.notifyUser(ctx, followeeID, events.TypeFollow, events.Follow{UserID: followerID})
	}
	return err
}

// Unfollow removes the follow, if any.
func (db *DB) Unfollow(ctx context.Context, followerID, followeeID int64) error {
	if followerID == followeeID {
		return reel.Invalid(map[string]string{"user": "you cannot follow yourself"})
	}
	defer db.usersChanged(followerID, followeeID)
	return db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := userExists(ctx, tx, followeeID); err != nil {
			return err
		}
		res, err := tx.NewDelete().Table("follows").Where("follower_id = ? AND followee_id = ?", followerID, followeeID).Exec(ctx)
		if err != nil {
			return fmt.Errorf("unfollow user %d: %w", followeeID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return bump(ctx, tx, -1, "users", "following_count", followerID, "users", "follower_count", followeeID)
	})
}

// Followers lists who follows userID, most recent first.
func (db *DB) Followers(ctx context.Context, userID, viewerID int64, p reel.Page) ([]*reel.User, string, error) {
	return db.userPage(ctx, userID, viewerID, p, "follows.follower_id", "follows.followee_id = ?")
}

// Following lists whom userID follows, most recent first.
func (db *DB) Following(ctx context.Context, userID, viewerID int64, p reel.Page) ([]*reel.User, string, error) {
	return db.userPage(ctx, userID, viewerID, p, "follows.followee_id", "follows.follower_id = ?")
}

// Friends lists the users userID follows who follow userID back.
func (db *DB) Friends(ctx context.Context, userID, viewerID int64, p reel.Page) ([]*reel.User, string, error) {
	return db.userPage(ctx, userID, viewerID, p, "follows.followee_id",
		"follows.follower_id = ? AND EXISTS (SELECT 1 FROM follows back WHERE back.follower_id = follows.followee_id AND back.followee_id = follows.follower_id)")
}

// userPage lists the users named by column in the follows rows matching
// where (with userID as its argument), newest follow first.
func (db *DB) userPage(ctx context.Context, userID, viewerID int64, p reel.Page, column, where string) ([]*reel.User, string, error) {
	if _, err := db.FindUserByID(ctx, userID, 0); err != nil {
		return nil, "", err
	}
	before, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	var rows []pagedUser
	q := db.reader.NewSelect().TableExpr("users").ColumnExpr("users.*").ColumnExpr("follows.id AS page_key").
		Join("JOIN follows ON users.id = "+column).Where(where, userID).OrderExpr("follows.id DESC").Limit(int64(p.Limit) + 1)
	if before > 0 {
		q.Where("follows.id < ?", before)
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	rows, next := page(rows, p.Limit, func(r pagedUser) int64 { return r.PageKey })
	users := make([]*reel.User, len(rows))
	for i := range rows {
		users[i] = rows[i].user()
	}
	if err := db.ownVideoCount(ctx, viewerID, users...); err != nil {
		return nil, "", err
	}
	return users, next, db.fillFollowing(ctx, viewerID, users...)
}

type pagedUser struct {
	userRow `bun:",extend"`
	PageKey int64 `bun:"page_key"`
}

// SendMessage stores a direct message.
func (db *DB) SendMessage(ctx context.Context, fromID, toID int64, text string) (*reel.Message, error) {
	if fromID == toID {
		return nil, reel.Invalid(map[string]string{"user": "you cannot message yourself"})
	}
	if err := reel.ValidateText("text", text, reel.MaxMessageLen); err != nil {
		return nil, err
	}
	if err := userExists(ctx, db.reader, toID); err != nil {
		return nil, err
	}
	row := &messageRow{FromUserID: fromID, ToUserID: toID, Text: text, CreatedAt: now()}
	if _, err := db.writer.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
		return nil, fmt.Errorf("send message: %w", err)
	}
	m := row.message()
	db.notifyUser(ctx, toID, events.TypeMessage, m)
	return m, nil
}

// Conversation returns the messages between a and b after afterID, oldest first.
func (db *DB) Conversation(ctx context.Context, a, b, afterID int64) ([]*reel.Message, error) {
	if err := userExists(ctx, db.reader, b); err != nil {
		return nil, err
	}
	var rows []messageRow
	err := db.reader.NewSelect().Model(&rows).
		Where("((from_user_id = ? AND to_user_id = ?) OR (from_user_id = ? AND to_user_id = ?))", a, b, b, a).
		Where("id > ?", afterID).OrderExpr("id ASC").Limit(reel.MaxMessagesPage).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("read conversation: %w", err)
	}
	messages := make([]*reel.Message, len(rows))
	for i := range rows {
		messages[i] = rows[i].message()
	}
	return messages, nil
}

// LatestMessages returns the latest message between userID and each of others.
func (db *DB) LatestMessages(ctx context.Context, userID int64, others []int64) (map[int64]*reel.Message, error) {
	latest := map[int64]*reel.Message{}
	if len(others) == 0 {
		return latest, nil
	}
	var rows []messageRow
	err := db.reader.NewSelect().Model(&rows).Where("id IN (?)",
		db.reader.NewSelect().TableExpr("messages").ColumnExpr("max(id)").
			WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("from_user_id = ? AND to_user_id IN (?)", userID, bun.List(others)).
					WhereOr("to_user_id = ? AND from_user_id IN (?)", userID, bun.List(others))
			}).
			GroupExpr("CASE WHEN from_user_id = ? THEN to_user_id ELSE from_user_id END", userID)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("read latest messages: %w", err)
	}
	for i := range rows {
		m := rows[i].message()
		other := m.ToUserID
		if other == userID {
			other = m.FromUserID
		}
		latest[other] = m
	}
	return latest, nil
}

// Feed lists ready, public, unblocked videos, newest first.
func (db *DB) Feed(ctx context.Context, viewerID int64, p reel.Page) ([]*reel.Video, string, error) {
	return db.videoPage(ctx, viewerID, publicVideos(db.reader), "videos.id", p.Cursor, p.Limit)
}

// FeedPage is Feed without a viewer's flags: what a cache may share.
func (db *DB) FeedPage(ctx context.Context, p reel.Page) ([]*reel.Video, string, error) {
	return db.Feed(ctx, 0, p)
}

// FeedBefore lists the public feed's videos created before a time.
func (db *DB) FeedBefore(ctx context.Context, viewerID int64, before time.Time, limit int) ([]*reel.Video, error) {
	var rows []videoRow
	err := publicVideos(db.reader).ColumnExpr("videos.*").Where("videos.created_at < ?", before.UTC()).
		OrderExpr("videos.created_at DESC, videos.id DESC").Limit(int64(limit)).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read feed: %w", err)
	}
	return db.assembleVideos(ctx, viewerID, rows)
}

// FollowingFeed is the feed of the authors viewerID follows.
func (db *DB) FollowingFeed(ctx context.Context, viewerID int64, p reel.Page) ([]*reel.Video, string, error) {
	q := publicVideos(db.reader).Where("videos.author_id IN (SELECT followee_id FROM follows WHERE follower_id = ?)", viewerID)
	return db.videoPage(ctx, viewerID, q, "videos.id", p.Cursor, p.Limit)
}

func publicVideos(db *bun.DB) *bun.SelectQuery {
	return db.NewSelect().TableExpr("videos").
		Where("videos.status = ? AND videos.visibility = ? AND NOT videos.blocked", reel.StatusReady, reel.VisibilityPublic)
}

// visibleVideoAuthor returns the author of a video viewerID may act on: it
// exists, is not blocked, and is not someone else's private video.
func visibleVideoAuthor(ctx context.Context, tx bun.Tx, videoID, viewerID int64) (int64, error) {
	var v videoAccess
	err := tx.NewSelect().TableExpr("videos").ColumnExpr(videoAccessColumns).Where("id = ?", videoID).Scan(ctx, &v)
	return v.actor(err, videoID, viewerID)
}

// videoAccess is what decides who may act on a video.
type videoAccess struct {
	AuthorID   int64  `bun:"author_id"`
	Visibility string `bun:"visibility"`
	Status     string `bun:"status"`
	Blocked    bool   `bun:"blocked"`
}

// videoAccessColumns are videoAccess's, in its order.
const videoAccessColumns = "author_id, visibility, status, blocked"

// actor applies visibleVideoAuthor's rule to v, as read with err.
func (v videoAccess) actor(err error, videoID, viewerID int64) (int64, error) {
	// Others act only on visible videos whose upload is finished: an
	// unfinished one may never become a video at all (it expires).
	if errors.Is(err, sql.ErrNoRows) || (err == nil && v.AuthorID != viewerID &&
		(v.Blocked || v.Visibility == reel.VisibilityPrivate || v.Status == reel.StatusUploading)) {
		return 0, reel.Errorf(reel.ENOTFOUND, "video %d not found", videoID)
	}
	if err != nil {
		return 0, fmt.Errorf("find video %d: %w", videoID, err)
	}
	return v.AuthorID, nil
}

func userExists(ctx context.Context, db bun.IDB, id int64) error {
	ok, err := db.NewSelect().TableExpr("users").Where("id = ?", id).Exists(ctx)
	if err != nil {
		return fmt.Errorf("find user %d: %w", id, err)
	}
	if !ok {
		return reel.Errorf(reel.ENOTFOUND, "user %d not found", id)
	}
	return nil
}

// bump adds delta to counters, given as table, column, id triples, with
// one addCounts per table.
func bump(ctx context.Context, tx bun.Tx, delta int64, targets ...any) error {
	deltas := map[string]map[string]map[int64]int64{} // table, column, id
	var tables []string                               // in the order given
	for i := 0; i+2 < len(targets); i += 3 {
		table, column, id := targets[i].(string), targets[i+1].(string), targets[i+2].(int64)
		if deltas[table] == nil {
			deltas[table] = map[string]map[int64]int64{}
			tables = append(tables, table)
		}
		if deltas[table][column] == nil {
			deltas[table][column] = map[int64]int64{}
		}
		deltas[table][column][id] += delta
	}
	for _, table := range tables {
		if err := addCounts(ctx, tx, table, deltas[table]); err != nil {
			return err
		}
	}
	return nil
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

type commentRow struct {
	bun.BaseModel `bun:"table:comments"`

	ID        int64     `bun:"id,pk,autoincrement"`
	VideoID   int64     `bun:"video_id"`
	UserID    int64     `bun:"user_id"`
	Text      string    `bun:"text"`
	CreatedAt time.Time `bun:"created_at"`
}

func (r *commentRow) comment(u *reel.User) *reel.Comment {
	return &reel.Comment{ID: r.ID, VideoID: r.VideoID, User: u, Text: r.Text, CreatedAt: r.CreatedAt.UTC()}
}

type messageRow struct {
	bun.BaseModel `bun:"table:messages"`

	ID         int64     `bun:"id,pk,autoincrement"`
	FromUserID int64     `bun:"from_user_id"`
	ToUserID   int64     `bun:"to_user_id"`
	Text       string    `bun:"text"`
	CreatedAt  time.Time `bun:"created_at"`
}

func (r *messageRow) message() *reel.Message {
	return &reel.Message{ID: r.ID, FromUserID: r.FromUserID, ToUserID: r.ToUserID, Text: r.Text, CreatedAt: r.CreatedAt.UTC()}
}
