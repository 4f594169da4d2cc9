// Package account is the one path for everything about accounts that the
// HTTP APIs offer: signing up, signing in, signing out (here or everywhere),
// changing the password, and turning a request's bearer token into the user
// it acts for. /api/v1 and /douyin both call it, so each rule (validation,
// rate limits, the work a wrong password costs, revocation) is written once.
package account

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/auth"
	"github.com/reel-video/reel/internal/shared"
)

// Hasher is the part of auth.Hasher this package uses; tests count hashes
// through it.
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (bool, error)
	VerifyDummy(ctx context.Context, password string) error
}

// Config are the parts of a Service. Every field is required unless noted.
type Config struct {
	Users     reel.UserService
	Sessions  reel.SessionService
	Passwords Hasher
	Tokens    *auth.Tokens
	Logins    *auth.LoginLimiter
	Signups   *auth.SignupLimiter
	// RevocationTTL is how long a node may trust what it last read about a
	// session: a token signed out on another node stops working here
	// within it (on this node at once). Default: DefaultRevocationTTL.
	RevocationTTL time.Duration
	// Now is the clock; tests replace it. Default: time.Now.
	Now func() time.Time
}

// DefaultRevocationTTL bounds how long a signed-out token may still work on
// another node sharing the database. One second keeps the store's load to at
// most one primary-key read per session per second and node.
const DefaultRevocationTTL = time.Second

// Service implements the accounts path. It is safe for concurrent use.
type Service struct {
	cfg   Config
	cache *sessionCache
	// broadcast, when set, tells the other nodes of ended sessions (see Share).
	broadcast *shared.Broadcast
}

// New returns a Service for cfg.
func New(cfg Config) *Service {
	if cfg.RevocationTTL <= 0 {
		cfg.RevocationTTL = DefaultRevocationTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, cache: newSessionCache(cfg.RevocationTTL, 100_000)}
}

// Session is a signed-in client: the user, the token to send as
// Authorization: Bearer, and when it expires.
type Session struct {
	User      *reel.User
	Token     string
	ExpiresAt time.Time
}

// Principal is who a request acts for: a user, in one session. The zero
// Principal is an anonymous request.
type Principal struct {
	UserID    int64
	SessionID string
}

// ErrWrongCredentials answers a login whose username or password is wrong;
// both get this one answer, so logins do not tell which usernames exist.
var ErrWrongCredentials = reel.Errorf(reel.EUNAUTHORIZED, "wrong username or password")

// ErrWrongPassword answers a password change whose old password is wrong.
var ErrWrongPassword = reel.Errorf(reel.EUNAUTHORIZED, "wrong password")

// LimitedError is a refusal by a rate limit: ERATELIMITED, with how long the
// client should wait (the Retry-After header).
type LimitedError struct {
	Err        *reel.Error
	RetryAfter time.Duration
	What       string // what there were too many of, e.g. "failed sign-ins"
}

func (e *LimitedError) Error() string { return e.Err.Error() }
func (e *LimitedError) Unwrap() error { return e.Err }

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up and at least
// one: the one error writer (httperr) reads it for the Retry-After header.
func (e *LimitedError) RetryAfterSeconds() int {
	return max(1, int((e.RetryAfter+time.Second-1)/time.Second))
}

// Limited returns the LimitedError in err, if there is one.
func Limited(err error) (*LimitedError, bool) {
	var le *LimitedError
	ok := errors.As(err, &le)
	return le, ok
}

func limited(retry time.Duration, what string) error {
	return &LimitedError{
		Err:        reel.Errorf(reel.ERATELIMITED, "too many %s, retry in %d s", what, max(1, int((retry+time.Second-1)/time.Second))),
		RetryAfter: retry,
		What:       what,
	}
}

// Register creates an account and signs it in. Invalid input (EINVALID)
// costs nothing; every other attempt counts against the sign-up limit of
// addr, a taken name included: otherwise sign-ups would be a free way to
// test which names exist. A taken name is answered (ECONFLICT) before any
// password is hashed.
func (s *Service) Register(ctx context.Context, username, password, addr string) (*Session, error) {
	if err := reel.ValidateCredentials(username, password); err != nil {
		return nil, err
	}
	ticket, retry, ok := s.cfg.Signups.Allow(ctx, addr)
	if !ok {
		return nil, limited(retry, "sign-ups from this address")
	}
	// Failures that are the server's, not the client's, give the unit back.
	serverFault := func(err error) error {
		if code := reel.ErrorCode(err); code == reel.EINTERNAL || code == reel.EUNAVAILABLE {
			s.cfg.Signups.Undo(ctx, ticket)
		}
		return err
	}
	name := reel.NormalizeUsername(username)
	// The unique key still decides races (CreateUser answers ECONFLICT).
	if _, err := s.cfg.Users.FindCredentials(ctx, name); err == nil {
		return nil, reel.Errorf(reel.ECONFLICT, "username %q is taken", name)
	} else if reel.ErrorCode(err) != reel.ENOTFOUND {
		return nil, serverFault(err)
	}
	hash, err := s.cfg.Passwords.Hash(ctx, password)
	if err != nil {
		return nil, serverFault(err)
	}
	// The user and its first session are one write: a sign-up that fails
	// leaves no account, so a retry is not answered that the name is taken.
	id, expires := auth.NewSessionID(), s.cfg.Tokens.Expiry()
	u, err := s.cfg.Users.CreateUserSession(ctx, name, hash, reel.Session{ID: id, CreatedAt: s.cfg.Now().UTC(), ExpiresAt: expires})
	if err != nil {
		return nil, serverFault(err)
	}
	token, _, err := s.cfg.Tokens.IssueUntil(u.ID, id, expires)
	if err != nil {
		return nil, err
	}
	return &Session{User: u, Token: token, ExpiresAt: expires}, nil
}

// Login exchanges a username (in any case or normal form) and password for a
// session. An unknown user and a wrong password get the same answer after
// the same work. Failures count against the limits per username and address
// and per address (auth.LoginLimiter).
func (s *Service) Login(ctx context.Context, username, password, addr string) (*Session, error) {
	missing := map[string]string{}
	if username == "" {
		missing["username"] = "required"
	}
	if password == "" {
		missing["password"] = "required"
	}
	if err := reel.Invalid(missing); err != nil {
		return nil, err
	}
	creds, err := s.checkPassword(ctx, username, password, addr, "failed sign-ins", ErrWrongCredentials)
	if err != nil {
		return nil, err
	}
	u, err := s.cfg.Users.FindUserByID(ctx, creds.UserID, creds.UserID)
	if err != nil {
		return nil, err
	}
	return s.open(ctx, u)
}

// checkPassword is the one place a password is checked against an account,
// under the login limits; wrong is the error of a wrong pair.
func (s *Service) checkPassword(ctx context.Context, username, password, addr, what string, wrong error) (*reel.Credentials, error) {
	// No account has a name this long in any spelling: it is looked up
	// nowhere, and its key is not worth normalising a megabyte for.
	tooLong := len(username) > maxUsernameBytes
	key := username
	if !tooLong {
		key = reel.UsernameKey(username)
	}
	attempt, retry, ok := s.cfg.Logins.Allow(ctx, addr, key)
	if !ok {
		return nil, limited(retry, what)
	}
	var creds *reel.Credentials
	var err error = reel.Errorf(reel.ENOTFOUND, "no such user")
	if !tooLong {
		creds, err = s.cfg.Users.FindCredentials(ctx, username)
	}
	var match bool
	switch {
	case reel.ErrorCode(err) == reel.ENOTFOUND || len(password) > reel.MaxPasswordLen:
		err = s.cfg.Passwords.VerifyDummy(ctx, password)
	case err == nil:
		match, err = s.cfg.Passwords.Verify(ctx, password, creds.PasswordHash)
	}
	if err != nil {
		// The store or the hasher failed, not the client: no failure counts.
		s.cfg.Logins.Cancel(ctx, attempt)
		return nil, err
	}
	if !match {
		return nil, wrong // the attempt Allow counted stays counted
	}
	s.cfg.Logins.Succeeded(ctx, attempt)
	return creds, nil
}

// maxUsernameBytes is more than any spelling of a valid name takes: 32
// characters, each of at most a few code points before NFC composes them.
const maxUsernameBytes = 1 << 10

// open starts a session for u.
func (s *Service) open(ctx context.Context, u *reel.User) (*Session, error) {
	id := auth.NewSessionID()
	token, expires, err := s.cfg.Tokens.Issue(u.ID, id)
	if err != nil {
		return nil, err
	}
	err = s.cfg.Sessions.CreateSession(ctx, reel.Session{ID: id, UserID: u.ID, CreatedAt: s.cfg.Now().UTC(), ExpiresAt: expires})
	if err != nil {
		return nil, err
	}
	return &Session{User: u, Token: token, ExpiresAt: expires}, nil
}

// Authenticate is the one place a request's credentials are read. token is
// a token sent outside the Authorization header (the Douyin API's token
// parameter), or ""; it wins over the header. With neither, the request is
// anonymous: the zero Principal and no error. Credentials that are sent but
// malformed, invalid, expired or signed out are EUNAUTHORIZED.
func (s *Service) Authenticate(r *http.Request, token string) (Principal, error) {
	if token == "" {
		h := r.Header.Get("Authorization")
		if h == "" {
			return Principal{}, nil
		}
		scheme, t, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(t)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return Principal{}, reel.Errorf(reel.EUNAUTHORIZED, "Authorization must be \"Bearer <token>\"")
		}
	}
	return s.Verify(r.Context(), token)
}

// SessionCookie is the cookie that carries a browser's session: the same
// token as a bearer token, set HttpOnly so that no script can read it
// (internal/httpapi sets and clears it).
const SessionCookie = "reel_session"

// CookieToken returns the token of the session cookie when it is what
// authenticates r: r carries the cookie and no Authorization header (a
// bearer token wins over the cookie).
func CookieToken(r *http.Request) (string, bool) {
	if r.Header.Get("Authorization") != "" {
		return "", false
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// AuthenticateSession is Authenticate for the routes a browser may call
// with its session cookie (/api/v1, tus uploads, event streams): the
// Authorization header, or else the cookie; byCookie says the cookie
// decided. The Douyin API does not take the cookie: its clients are apps,
// and its form posts are what a cross-site page can send.
func (s *Service) AuthenticateSession(r *http.Request) (p Principal, byCookie bool, err error) {
	if token, ok := CookieToken(r); ok {
		p, err = s.Verify(r.Context(), token)
		return p, true, err
	}
	p, err = s.Authenticate(r, "")
	return p, false, err
}

// Verify returns the principal of a token whose session is still open.
func (s *Service) Verify(ctx context.Context, token string) (Principal, error) {
	claims, err := s.cfg.Tokens.Verify(token)
	if err != nil {
		return Principal{}, err
	}
	now := s.cfg.Now()
	owner, epoch, known := s.cache.get(claims.SessionID, now)
	if !known {
		sess, err := s.cfg.Sessions.FindSession(ctx, claims.SessionID)
		switch {
		case reel.ErrorCode(err) == reel.ENOTFOUND:
			owner = 0
		case err != nil:
			return Principal{}, err
		default:
			owner = sess.UserID
		}
		s.cache.put(claims.SessionID, owner, now, epoch)
	}
	if owner != claims.UserID {
		return Principal{}, reel.Errorf(reel.EUNAUTHORIZED, "this token was signed out: sign in again")
	}
	return Principal{UserID: claims.UserID, SessionID: claims.SessionID}, nil
}

// SignOut ends the session of p: its token stops working.
func (s *Service) SignOut(ctx context.Context, p Principal) error {
	if err := s.cfg.Sessions.DeleteSession(ctx, p.UserID, p.SessionID); err != nil {
		return err
	}
	s.cache.ended(p.SessionID, s.cfg.Now())
	s.announce(endedMessage{Session: p.SessionID})
	return nil
}

// SignOutEverywhere ends every session of the user: all their tokens stop
// working.
func (s *Service) SignOutEverywhere(ctx context.Context, userID int64) error {
	if err := s.cfg.Sessions.DeleteSessions(ctx, userID, ""); err != nil {
		return err
	}
	s.cache.dropUser(userID, "")
	s.announce(endedMessage{User: userID})
	return nil
}

// ChangePassword replaces the password of p's user after checking the old
// one, and ends every other session of the user: their tokens stop working,
// p's keeps working. A wrong old password is ErrWrongPassword and counts as
// a failed login; a bad new one is EINVALID, as for sign-up.
func (s *Service) ChangePassword(ctx context.Context, p Principal, oldPassword, newPassword, addr string) error {
	fields := map[string]string{}
	if oldPassword == "" {
		fields["old_password"] = "required"
	}
	if msg := reel.PasswordProblem(newPassword); msg != "" {
		fields["new_password"] = msg
	}
	if err := reel.Invalid(fields); err != nil {
		return err
	}
	u, err := s.cfg.Users.FindUserByID(ctx, p.UserID, p.UserID)
	if reel.ErrorCode(err) == reel.ENOTFOUND {
		return reel.Errorf(reel.EUNAUTHORIZED, "the account of this token no longer exists")
	}
	if err != nil {
		return err
	}
	if _, err := s.checkPassword(ctx, u.Username, oldPassword, addr, "wrong passwords", ErrWrongPassword); err != nil {
		return err
	}
	hash, err := s.cfg.Passwords.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	if err := s.cfg.Sessions.SetPassword(ctx, p.UserID, hash, p.SessionID); err != nil {
		return err
	}
	s.cache.dropUser(p.UserID, p.SessionID)
	s.announce(endedMessage{User: p.UserID, Keep: p.SessionID})
	return nil
}

// PurgeExpired deletes sessions whose tokens have expired; serve calls it
// now and then so the table holds only live sessions.
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	return s.cfg.Sessions.PurgeSessions(ctx, s.cfg.Now())
}

// Sweep lets the limiters and the session cache forget what no longer
// matters; serve calls it every minute.
func (s *Service) Sweep() {
	s.cfg.Logins.Sweep()
	s.cfg.Signups.Sweep()
	s.cache.sweep(s.cfg.Now())
}
