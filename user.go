package reel

import (
	"context"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
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
// and a taken username as ECONFLICT. Usernames are stored as
// NormalizeUsername gives them and are unique, and looked up, by UsernameKey:
// the store computes both, so every caller agrees with every engine.
type UserService interface {
	// CreateUser stores a new user with an already hashed password.
	CreateUser(ctx context.Context, username, passwordHash string) (*User, error)
	// CreateUserSession is CreateUser and the user's first session s (its
	// UserID set to the new user's) in one transaction: a sign-up either
	// leaves an account that its answer's token signs in to, or nothing
	// that a retry would find taken.
	CreateUserSession(ctx context.Context, username, passwordHash string, s Session) (*User, error)
	// FindUserByID returns the user as seen by viewerID (0 for anonymous).
	FindUserByID(ctx context.Context, id, viewerID int64) (*User, error)
	// FindCredentials returns the login data for a username, compared by
	// UsernameKey.
	FindCredentials(ctx context.Context, username string) (*Credentials, error)
	// SetAdmin grants or revokes administrator rights by username.
	SetAdmin(ctx context.Context, username string, admin bool) error
}

// Session is one signed-in client: every token names the session it belongs
// to, and a token is valid only while its session exists.
type Session struct {
	ID        string // random, unguessable; the token's jti
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SessionService stores sessions. Ending a session is deleting it; expired
// sessions are purged by PurgeSessions.
type SessionService interface {
	// CreateSession stores s.
	CreateSession(ctx context.Context, s Session) error
	// FindSession returns the session with id, or ENOTFOUND when it ended.
	FindSession(ctx context.Context, id string) (*Session, error)
	// DeleteSession ends one session of userID; a session that already
	// ended is no error.
	DeleteSession(ctx context.Context, userID int64, id string) error
	// DeleteSessions ends every session of userID except keep ("" for none).
	DeleteSessions(ctx context.Context, userID int64, keep string) error
	// SetPassword replaces the password hash of userID and ends every other
	// session than keep, in one transaction: no token of the old password
	// outlives the change.
	SetPassword(ctx context.Context, userID int64, passwordHash, keep string) error
	// PurgeSessions deletes the sessions that expired before now.
	PurgeSessions(ctx context.Context, now time.Time) (int64, error)
}

// Limits on credentials (docs/api.md). Usernames are measured in display
// columns (UsernameColumns, after NFC normalisation), so that a two-character
// Chinese name such as 张三 (4 columns) is as long as a four-letter Latin one;
// passwords in bytes, because that is what the hash function consumes
// (bcrypt-compatible clients cap at 72).
const (
	MinUsernameLen = 3
	MaxUsernameLen = 32
	MinPasswordLen = 6
	MaxPasswordLen = 72
)

// NormalizeUsername returns username in the form it is stored and shown:
// Unicode NFC, so that "josé" typed with a precomposed é and with e plus a
// combining accent is one name.
func NormalizeUsername(username string) string { return norm.NFC.String(username) }

// UsernameKey returns the key under which usernames are unique and found:
// NFKC, Unicode full case folding, NFKC again (a compatibility caseless
// match). "Alice", "ALICE" and "alice" share a key, so do "Straße" and
// "STRASSE", and so do full-width "ａｌｉｃｅ" and "alice", which would
// otherwise be two accounts that look alike. It is computed in Go, never in
// SQL, so SQLite and PostgreSQL agree whatever their collations.
func UsernameKey(username string) string {
	// A Caser keeps state between calls: one per call.
	return norm.NFKC.String(cases.Fold().String(norm.NFKC.String(username)))
}

// ValidateCredentials checks a username and password for registration and
// returns an EINVALID error naming each field that is wrong. The username is
// checked in its normalised form (NormalizeUsername).
func ValidateCredentials(username, password string) error {
	fields := map[string]string{}
	if msg := usernameProblem(username); msg != "" {
		fields["username"] = msg
	}
	if msg := PasswordProblem(password); msg != "" {
		fields["password"] = msg
	}
	return Invalid(fields)
}

// PasswordProblem says what is wrong with a new password, or "".
func PasswordProblem(password string) string {
	switch {
	case len(password) < MinPasswordLen || len(password) > MaxPasswordLen:
		return fmt.Sprintf("must be %d to %d bytes long", MinPasswordLen, MaxPasswordLen)
	case !utf8.ValidString(password):
		return "must be valid UTF-8"
	}
	return ""
}

// UsernameColumns is the length of a username as the limits measure it: the
// columns it takes on screen, where East Asian Wide and Fullwidth characters
// count 2 and every other character 1.
func UsernameColumns(name string) int {
	n := 0
	for _, r := range name {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// usernameProblem accepts letters and digits of any script, '_', '.' and
// '-'. Combining marks are accepted right after a letter (or another mark):
// many scripts (Devanagari, Thai, Arabic…) cannot write names without them.
// Variation selectors are not, and neither is anything else: spaces, symbols
// and emoji, controls, format characters such as zero-width joiners.
func usernameProblem(username string) string {
	if !utf8.ValidString(username) {
		return "must be valid UTF-8"
	}
	name := NormalizeUsername(username)
	if n := UsernameColumns(name); n < MinUsernameLen || n > MaxUsernameLen {
		return fmt.Sprintf("must be %d to %d columns long (a wide character such as 张 counts 2)", MinUsernameLen, MaxUsernameLen)
	}
	afterLetter := false
	for _, r := range name {
		switch {
		case unicode.IsLetter(r):
			afterLetter = true
		case unicode.IsMark(r) && afterLetter && !unicode.Is(unicode.Variation_Selector, r):
		case unicode.IsDigit(r) || r == '_' || r == '.' || r == '-':
			afterLetter = false
		default:
			return "may contain only letters and digits (of any script), '_', '.' and '-'"
		}
	}
	return ""
}
