package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/account"
)

type credentialsRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type sessionResponse struct {
	User      *reel.User `json:"user"`
	Token     string     `json:"token"`
	ExpiresAt time.Time  `json:"expires_at"`
}

// handleRegister creates an account and signs it in (account.Register).
func (s *server) handleRegister() gin.HandlerFunc {
	return s.handleCredentials(http.StatusCreated, (*account.Service).Register)
}

// handleLogin exchanges a username and password for a token (account.Login).
func (s *server) handleLogin() gin.HandlerFunc {
	return s.handleCredentials(http.StatusOK, (*account.Service).Login)
}

type credentialsFunc func(a *account.Service, ctx context.Context, username, password, addr string) (*account.Session, error)

// handleCredentials reads {"username","password"} and answers the session
// that fn opens.
func (s *server) handleCredentials(status int, fn credentialsFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		// A browser's session goes in the cookie (session.go); a sign-in
		// from another site's page would sign the browser into an account
		// of that site's choosing.
		cookie, err := wantsCookie(c)
		if err == nil && cookie {
			err = s.sameOrigin(c.Request)
		}
		if err != nil {
			writeError(c, err)
			return
		}
		var req credentialsRequest
		if err := decodeJSON(c, &req); err != nil {
			writeError(c, err)
			return
		}
		sess, err := fn(s.Accounts, c.Request.Context(), req.Username, req.Password, c.ClientIP())
		if err != nil {
			// A rate limit's refusal states its Retry-After
			// (account.LimitedError), which the one error writer sets.
			writeError(c, err)
			return
		}
		resp := sessionResponse{User: sess.User, Token: sess.Token, ExpiresAt: sess.ExpiresAt.UTC()}
		if cookie {
			s.setSessionCookie(c, sess.Token, sess.ExpiresAt)
			resp.Token = "" // no script sees it
		}
		c.JSON(status, resp)
	}
}

// handleSignOut ends the session of the request's token (204).
func (s *server) handleSignOut() gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.Accounts.SignOut(c.Request.Context(), principal(c)); err != nil {
			writeError(c, err)
			return
		}
		s.dropCookie(c)
		c.Status(http.StatusNoContent)
	}
}

// handleSignOutEverywhere ends every session of the user (204).
func (s *server) handleSignOutEverywhere() gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.Accounts.SignOutEverywhere(c.Request.Context(), viewerID(c)); err != nil {
			writeError(c, err)
			return
		}
		s.dropCookie(c)
		c.Status(http.StatusNoContent)
	}
}

type passwordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// handleChangePassword sets a new password; every other session ends (204).
func (s *server) handleChangePassword() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req passwordRequest
		if err := decodeJSON(c, &req); err != nil {
			writeError(c, err)
			return
		}
		err := s.Accounts.ChangePassword(c.Request.Context(), principal(c), req.OldPassword, req.NewPassword, c.ClientIP())
		if err != nil {
			// A wrong old password is not about the token: no WWW-Authenticate.
			writeError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// ownUser is the signed-in user's view of themselves: their User and
// whether they are an administrator, which only they are told.
type ownUser struct {
	*reel.User
	IsAdmin bool `json:"is_admin"`
}

// findOwnUser reads the signed-in user of c; nil when there is none or the
// account of the token no longer exists.
func (s *server) findOwnUser(c *gin.Context) (*ownUser, error) {
	id := viewerID(c)
	if id == 0 {
		return nil, nil
	}
	u, err := s.Users.FindUserByID(c.Request.Context(), id, id)
	if reel.ErrorCode(err) == reel.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &ownUser{User: u, IsAdmin: u.IsAdmin}, nil
}

// handleMe returns the signed-in user. A valid token of a user that no longer
// exists is treated as no token at all.
func (s *server) handleMe() gin.HandlerFunc {
	return func(c *gin.Context) {
		u, err := s.findOwnUser(c)
		if err != nil {
			writeError(c, err)
			return
		}
		if u == nil {
			unauthorized(c, reel.Errorf(reel.EUNAUTHORIZED, "the account of this token no longer exists"))
			return
		}
		c.JSON(http.StatusOK, u)
	}
}

// handleSession answers who is signed in, {"user": null} for nobody, so
// that a page can ask without an error (GET /api/v1/me answers 401). A
// session cookie that no longer works was dropped by authenticate; a bad
// bearer token is 401 there, as everywhere. A token whose account is gone
// is nobody, and its cookie is dropped.
func (s *server) handleSession() gin.HandlerFunc {
	return func(c *gin.Context) {
		u, err := s.findOwnUser(c)
		if err != nil {
			writeError(c, err)
			return
		}
		if u == nil && viewerID(c) != 0 {
			s.dropCookie(c)
		}
		c.JSON(http.StatusOK, gin.H{"user": u})
	}
}

// handleGetUserByName answers the same User as handleGetUser for the user
// named username, compared as sign-in compares names (reel.UsernameKey:
// without regard to case or normal form). The app's profile links are
// /u/{username}; its other calls take the id from this answer.
func (s *server) handleGetUserByName() gin.HandlerFunc {
	return func(c *gin.Context) {
		name := c.Param("username")
		if name == "" || len(name) > maxUsernameBytes {
			writeError(c, reel.Errorf(reel.ENOTFOUND, "no user has this name"))
			return
		}
		// The credentials are the store's lookup by name; only their id
		// leaves this function.
		creds, err := s.Users.FindCredentials(c.Request.Context(), name)
		if err != nil {
			writeError(c, err)
			return
		}
		u, err := s.Users.FindUserByID(c.Request.Context(), creds.UserID, viewerID(c))
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, u)
	}
}

// maxUsernameBytes bounds the names looked up: no account has a name this
// long in any spelling (32 columns, a few code points each before NFC).
const maxUsernameBytes = 1 << 10

func (s *server) handleGetUser() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "user")
		if err != nil {
			writeError(c, err)
			return
		}
		u, err := s.Users.FindUserByID(c.Request.Context(), id, viewerID(c))
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, u)
	}
}
