package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/reel-video/reel"
	"github.com/uptrace/bun"
)

var (
	_ reel.UserService    = (*DB)(nil)
	_ reel.SessionService = (*DB)(nil)
)

// CreateUser stores a new user under its normalised name. The unique index
// on username_key (reel.UsernameKey) decides races: of two sign-ups for one
// name, in any case or normal form, the second gets ECONFLICT.
func (db *DB) CreateUser(ctx context.Context, username, passwordHash string) (*reel.User, error) {
	return insertUser(ctx, db.writer, username, passwordHash)
}

// CreateUserSession stores a new user as CreateUser does and its first
// session in the same transaction, so that a sign-up whose session cannot
// be stored leaves no account behind (a retry would find the name taken).
func (db *DB) CreateUserSession(ctx context.Context, username, passwordHash string, s reel.Session) (*reel.User, error) {
	var u *reel.User
	err := db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if u, err = insertUser(ctx, tx, username, passwordHash); err != nil {
			return err
		}
		s.UserID = u.ID
		return insertSession(ctx, tx, s)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func insertUser(ctx context.Context, db bun.IDB, username, passwordHash string) (*reel.User, error) {
	username = reel.NormalizeUsername(username)
	row := &userRow{
		Username:     username,
		UsernameKey:  reel.UsernameKey(username),
		PasswordHash: passwordHash,
		// Truncated to what PostgreSQL keeps, so the returned user equals the stored one.
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
	if _, err := db.NewInsert().Model(row).Returning("*").Exec(ctx); err != nil {
		if isUniqueViolation(err) {
			return nil, reel.Errorf(reel.ECONFLICT, "username %q is taken", username)
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	return row.user(), nil
}

// FindUserByID returns the user with the given id as seen by viewerID.
func (db *DB) FindUserByID(ctx context.Context, id, viewerID int64) (*reel.User, error) {
	var row userRow
	err := db.reader.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, reel.Errorf(reel.ENOTFOUND, "user %d not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("find user %d: %w", id, err)
	}
	u := row.user()
	if err := db.ownVideoCount(ctx, viewerID, u); err != nil {
		return nil, err
	}
	if viewerID != id {
		if err := db.fillFollowing(ctx, viewerID, u); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// FindCredentials returns the login data for username, compared by its key.
func (db *DB) FindCredentials(ctx context.Context, username string) (*reel.Credentials, error) {
	var row userRow
	err := db.reader.NewSelect().Model(&row).
		Column("id", "username", "password_hash").
		Where("username_key = ?", reel.UsernameKey(username)).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, reel.Errorf(reel.ENOTFOUND, "user %q not found", username)
	}
	if err != nil {
		return nil, fmt.Errorf("find credentials of %q: %w", username, err)
	}
	return &reel.Credentials{UserID: row.ID, Username: row.Username, PasswordHash: row.PasswordHash}, nil
}

// SetAdmin grants or revokes administrator rights of the user named username.
func (db *DB) SetAdmin(ctx context.Context, username string, admin bool) error {
	res, err := db.writer.NewUpdate().Model((*userRow)(nil)).
		Set("is_admin = ?", admin).
		Where("username_key = ?", reel.UsernameKey(username)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("set admin of %q: %w", username, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set admin of %q: %w", username, err)
	} else if n == 0 {
		return reel.Errorf(reel.ENOTFOUND, "user %q not found", username)
	}
	return nil
}

// userRow is a row of the users table.
type userRow struct {
	bun.BaseModel `bun:"table:users"`

	ID             int64     `bun:"id,pk,autoincrement"`
	Username       string    `bun:"username"`
	UsernameKey    string    `bun:"username_key"`
	PasswordHash   string    `bun:"password_hash"`
	IsAdmin        bool      `bun:"is_admin"`
	AvatarURL      string    `bun:"avatar_url"`
	FollowerCount  int64     `bun:"follower_count"`
	FollowingCount int64     `bun:"following_count"`
	VideoCount     int64     `bun:"video_count"`        // no longer maintained (left by migration 00001); DB.ownVideoCount counts
	Listed         int64     `bun:"listed_video_count"` // video_count as others see it
	LikeCount      int64     `bun:"like_count"`
	LikedCount     int64     `bun:"liked_count"`
	CreatedAt      time.Time `bun:"created_at"`
}

func (r *userRow) user() *reel.User {
	return &reel.User{
		ID:             r.ID,
		Username:       r.Username,
		CreatedAt:      r.CreatedAt.UTC(),
		FollowerCount:  r.FollowerCount,
		FollowingCount: r.FollowingCount,
		VideoCount:     r.Listed, // the author's own count: DB.ownVideoCount
		LikeCount:      r.LikeCount,
		LikedCount:     r.LikedCount,
		AvatarURL:      r.AvatarURL,
		IsAdmin:        r.IsAdmin,
	}
}

// CreateSession stores a new session.
func (db *DB) CreateSession(ctx context.Context, s reel.Session) error {
	return insertSession(ctx, db.writer, s)
}

func insertSession(ctx context.Context, db bun.IDB, s reel.Session) error {
	row := &sessionRow{ID: s.ID, UserID: s.UserID, CreatedAt: s.CreatedAt.UTC(), ExpiresAt: s.ExpiresAt.UTC()}
	if _, err := db.NewInsert().Model(row).Exec(ctx); err != nil {
		return fmt.Errorf("create session of user %d: %w", s.UserID, err)
	}
	return nil
}

// FindSession returns the session with id; one that ended or expired is
// ENOTFOUND.
func (db *DB) FindSession(ctx context.Context, id string) (*reel.Session, error) {
	var row sessionRow
	err := db.reader.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !row.ExpiresAt.After(time.Now())) {
		return nil, reel.Errorf(reel.ENOTFOUND, "session not found")
	}
	if err != nil {
		return nil, fmt.Errorf("find session: %w", err)
	}
	return &reel.Session{ID: row.ID, UserID: row.UserID, CreatedAt: row.CreatedAt.UTC(), ExpiresAt: row.ExpiresAt.UTC()}, nil
}

// DeleteSession ends the session id of userID.
func (db *DB) DeleteSession(ctx context.Context, userID int64, id string) error {
	_, err := db.writer.NewDelete().Model((*sessionRow)(nil)).
		Where("id = ? AND user_id = ?", id, userID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete session of user %d: %w", userID, err)
	}
	return nil
}

// DeleteSessions ends every session of userID but keep.
func (db *DB) DeleteSessions(ctx context.Context, userID int64, keep string) error {
	if err := deleteSessions(ctx, db.writer, userID, keep); err != nil {
		return fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	return nil
}

// SetPassword stores a new password hash for userID and ends its other
// sessions in the same transaction.
func (db *DB) SetPassword(ctx context.Context, userID int64, passwordHash, keep string) error {
	err := db.writer.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*userRow)(nil)).
			Set("password_hash = ?", passwordHash).Where("id = ?", userID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return reel.Errorf(reel.ENOTFOUND, "user %d not found", userID)
		}
		return deleteSessions(ctx, tx, userID, keep)
	})
	if err != nil && reel.ErrorCode(err) == reel.EINTERNAL {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	return err
}

// PurgeSessions deletes the sessions that expired before now: their tokens
// are refused for their expiry anyway.
func (db *DB) PurgeSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.writer.NewDelete().Model((*sessionRow)(nil)).Where("expires_at < ?", now.UTC()).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("purge expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

func deleteSessions(ctx context.Context, db bun.IDB, userID int64, keep string) error {
	q := db.NewDelete().Model((*sessionRow)(nil)).Where("user_id = ?", userID)
	if keep != "" {
		q = q.Where("id <> ?", keep)
	}
	_, err := q.Exec(ctx)
	return err
}

// sessionRow is a row of the sessions table.
type sessionRow struct {
	bun.BaseModel `bun:"table:sessions"`

	ID        string    `bun:"id,pk"`
	UserID    int64     `bun:"user_id"`
	CreatedAt time.Time `bun:"created_at"`
	ExpiresAt time.Time `bun:"expires_at"`
}
