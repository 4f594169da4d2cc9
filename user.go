package reel

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"
)

// User is a person with an account. The counters are kept exact by the store;
// IsFollowing depends on who is asking and is false for anonymous viewers.
type User struct {
	ID             int64     `json:"id"`
	Username       string    `json:"username"`
	CreatedAt      time.Time `json:"created_at"`
	FollowerCount  int64     `json:"follower_count"`
	FollowingCount int64     `json:"following_count"`
	VideoCount     int64     `json:"video_count"`
	LikeCount      int64     `json:"like_count"`  // likes given
	LikedCount     int64     `json:"liked_count"` // likes received
	IsFollowing    bool      `json:"is_following"`
	AvatarURL      string    `json:"avatar_url"`
	IsAdmin        bool      `json:"-"`
}

// Credentials is what the store keeps to check a login.
type Credentials struct {
	UserID       int64
	Username     string
	PasswordHash string
}

// UserService stores users. Implementations report a missing user as ENOTFOUND
// and a taken username (compared case-insensitively) as ECONFLICT.
type UserService interface {
	// CreateUser stores a new user with an already hashed password.
	CreateUser(ctx context.Context, username, passwordHash string) (*User, error)
	// FindUserByID returns the user as seen by viewerID (0 for anonymous).
	FindUserByID(ctx context.Context, id, viewerID int64) (*User, error)
	// FindCredentials returns the login data for a username, case-insensitively.
	FindCredentials(ctx context.Context, username string) (*Credentials, error)
	// SetAdmin grants or revokes administrator rights by username.
	SetAdmin(ctx context.Context, username string, admin bool) error
}

// Limits on credentials (docs/api.md). Passwords are measured in bytes because
// that is what the hash function consumes; bcrypt-compatible clients cap at 72.
const (
	MinUsernameLen = 3
	MaxUsernameLen = 32
	MinPasswordLen = 6
	MaxPasswordLen = 72
)

// ValidateCredentials checks a username and password for registration and
// returns an EINVALID error naming each field that is wrong.
func ValidateCredentials(username, password string) error {
	fields := map[string]string{}
	if msg := usernameProblem(username); msg != "" {
		fields["username"] = msg
	}
	switch {
	case len(password) < MinPasswordLen || len(password) > MaxPasswordLen:
		fields["password"] = fmt.Sprintf("must be %d to %d bytes long", MinPasswordLen, MaxPasswordLen)
	case !utf8.ValidString(password):
		fields["password"] = "must be valid UTF-8"
	}
	return Invalid(fields)
}

func usernameProblem(username string) string {
	if len(username) < MinUsernameLen || len(username) > MaxUsernameLen {
		return fmt.Sprintf("must be %d to %d characters long", MinUsernameLen, MaxUsernameLen)
	}
	for _, r := range username {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return "may contain only letters A-Z and a-z, digits, '_', '.' and '-'"
		}
	}
	return ""
}
