package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
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

// handleRegister creates an account and signs it in.
func (s *server) handleRegister() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req credentialsRequest
		if err := decodeJSON(c, &req); err != nil {
			writeError(c, err)
			return
		}
		if err := reel.ValidateCredentials(req.Username, req.Password); err != nil {
			writeError(c, err)
			return
		}
		// Every attempt costs a password hash: each address gets a budget.
		if retry, ok := s.Registrations.Allow(c.ClientIP(), ""); !ok {
			rateLimited(c, retry, "sign-ups from this address")
			return
		}
		ctx := c.Request.Context()
		// A taken name is answered before spending a hash on it (409 says
		// the name exists anyway). The unique index still decides races.
		if _, err := s.Users.FindCredentials(ctx, req.Username); err == nil {
			writeError(c, reel.Errorf(reel.ECONFLICT, "username %q is taken", req.Username))
			return
		} else if reel.ErrorCode(err) != reel.ENOTFOUND {
			writeError(c, err)
			return
		}
		hash, err := s.Passwords.Hash(ctx, req.Password)
		if err != nil {
			writeError(c, err)
			return
		}
		u, err := s.Users.CreateUser(ctx, req.Username, hash)
		if err != nil {
			writeError(c, err)
			return
		}
		s.respondSession(c, http.StatusCreated, u)
	}
}

// handleLogin exchanges a username and password for a token. An unknown user
// and a wrong password get the same answer after the same work, so logins
// cannot be used to find out which usernames exist.
func (s *server) handleLogin() gin.HandlerFunc {
	const wrongPair = "wrong username or password"
	return func(c *gin.Context) {
		var req credentialsRequest
		if err := decodeJSON(c, &req); err != nil {
			writeError(c, err)
			return
		}
		missing := map[string]string{}
		if req.Username == "" {
			missing["username"] = "required"
		}
		if req.Password == "" {
			missing["password"] = "required"
		}
		if err := reel.Invalid(missing); err != nil {
			writeError(c, err)
			return
		}
		addr := c.ClientIP()
		if retry, ok := s.Logins.Allow(addr, req.Username); !ok {
			rateLimited(c, retry, "failed sign-ins")
			return
		}

		ctx := c.Request.Context()
		creds, err := s.Users.FindCredentials(ctx, req.Username)
		var match bool
		switch {
		case reel.ErrorCode(err) == reel.ENOTFOUND || len(req.Password) > reel.MaxPasswordLen:
			if err := s.Passwords.VerifyDummy(ctx, req.Password); err != nil {
				writeError(c, err)
				return
			}
		case err != nil:
			writeError(c, err)
			return
		default:
			if match, err = s.Passwords.Verify(ctx, req.Password, creds.PasswordHash); err != nil {
				writeError(c, err)
				return
			}
		}
		if !match {
			// The attempt Allow reserved stays spent.
			unauthorized(c, reel.Errorf(reel.EUNAUTHORIZED, wrongPair))
			return
		}
		s.Logins.Succeeded(addr, req.Username)

		u, err := s.Users.FindUserByID(ctx, creds.UserID, creds.UserID)
		if err != nil {
			writeError(c, err)
			return
		}
		s.respondSession(c, http.StatusOK, u)
	}
}

func (s *server) respondSession(c *gin.Context, status int, u *reel.User) {
	token, exp, err := s.Tokens.Issue(u.ID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(status, sessionResponse{User: u, Token: token, ExpiresAt: exp.UTC()})
}

// handleMe returns the signed-in user. A valid token of a user that no longer
// exists is treated as no token at all.
func (s *server) handleMe() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := viewerID(c)
		u, err := s.Users.FindUserByID(c.Request.Context(), id, id)
		if reel.ErrorCode(err) == reel.ENOTFOUND {
			unauthorized(c, reel.Errorf(reel.EUNAUTHORIZED, "the account of this token no longer exists"))
			return
		}
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, u)
	}
}

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
