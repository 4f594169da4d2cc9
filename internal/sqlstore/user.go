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

var _ reel.UserService = (*DB)(nil)

// CreateUser stores a new user. The unique index on lower(username) decides
// races: of two sign-ups for one name, the second gets ECONFLICT.
func (db *DB) CreateUser(ctx context.Context, username, passwordHash string) (*reel.User, error) {
	row := &userRow{
		Username:     username,
		PasswordHash: passwordHash,
		// Truncated to what PostgreSQL keeps, so the returned user equals the stored one.
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
	if _, err := db.writer.NewInsert().Model(row).Returning("*").Exec(ctx); err != nil {
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
	ownVideoCount(viewerID, &row, u)
	if viewerID != id {
		if err := db.fillFollowing(ctx, viewerID, u); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// FindCredentials returns the login data for username, compared case-insensitively.
func (db *DB) FindCredentials(ctx context.Context, username string) (*reel.Credentials, error) {
	var row userRow
	err := db.reader.NewSelect().Model(&row).
		Column("id", "username", "password_hash").
		Where("lower(username) = lower(?)", username).
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
		Where("lower(username) = lower(?)", username).
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
	PasswordHash   string    `bun:"password_hash"`
	IsAdmin        bool      `bun:"is_admin"`
	AvatarURL      string    `bun:"avatar_url"`
	FollowerCount  int64     `bun:"follower_count"`
	FollowingCount int64     `bun:"following_count"`
	VideoCount     int64     `bun:"video_count"`
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
		VideoCount:     r.Listed, // the author's own count: ownVideoCount
		LikeCount:      r.LikeCount,
		LikedCount:     r.LikedCount,
		AvatarURL:      r.AvatarURL,
		IsAdmin:        r.IsAdmin,
	}
}
