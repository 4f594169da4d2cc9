package douyin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
)

// sessionAnswer is the answer of register and login: user_id and token are
// present also on failure (0 and "").
type sessionAnswer struct {
	Status
	UserID int64  `json:"user_id"`
	Token  string `json:"token"`
}

// Register handles POST /douyin/user/register/: username and password
// (both at most 32; the rules of /api/v1 apply too) → user_id and token.
func Register(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.session(func(c *gin.Context) (int64, error) {
		username, password := param(c, "username"), param(c, "password")
		if err := validateCredentials(username, password); err != nil {
			return 0, err
		}
		// Every attempt costs a password hash: each address gets a budget.
		if retry, allowed := a.Registrations.Allow(c.ClientIP(), ""); !allowed {
			return 0, rateLimited(c, retry, "sign-ups from this address")
		}
		ctx := c.Request.Context()
		// A taken name is answered before spending a hash on it; the unique
		// index still decides races (CreateUser answers ECONFLICT).
		if _, err := a.Users.FindCredentials(ctx, username); err == nil {
			return 0, reel.Errorf(reel.ECONFLICT, "username %q is taken", username)
		} else if reel.ErrorCode(err) != reel.ENOTFOUND {
			return 0, err
		}
		hash, err := a.Passwords.Hash(ctx, password)
		if err != nil {
			return 0, err
		}
		u, err := a.Users.CreateUser(ctx, username, hash)
		if err != nil {
			return 0, err
		}
		return u.ID, nil
	})
}

// validateCredentials applies the rules of /api/v1 (reel.ValidateCredentials)
// and this API's limit of 32 on the password.
func validateCredentials(username, password string) error {
	fields := map[string]string{}
	var e *reel.Error
	if err := reel.ValidateCredentials(username, password); errors.As(err, &e) {
		for k, v := range e.Fields {
			fields[k] = v
		}
	}
	if len(password) < reel.MinPasswordLen || len(password) > MaxCredentialLen {
		fields["password"] = fmt.Sprintf("must be %d to %d bytes long", reel.MinPasswordLen, MaxCredentialLen)
	}
	return reel.Invalid(fields)
}

// Login handles POST /douyin/user/login/: username and password → user_id
// and token. As on /api/v1, an unknown user and a wrong password get the
// same answer after the same work, and failures are rate limited.
func Login(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.session(func(c *gin.Context) (int64, error) {
		username, password := param(c, "username"), param(c, "password")
		missing := map[string]string{}
		if username == "" {
			missing["username"] = "required"
		}
		if password == "" {
			missing["password"] = "required"
		}
		if err := reel.Invalid(missing); err != nil {
			return 0, err
		}
		addr := c.ClientIP()
		if retry, allowed := a.Logins.Allow(addr, username); !allowed {
			return 0, rateLimited(c, retry, "failed sign-ins")
		}
		ctx := c.Request.Context()
		creds, err := a.Users.FindCredentials(ctx, username)
		var match bool
		switch {
		case reel.ErrorCode(err) == reel.ENOTFOUND || len(password) > reel.MaxPasswordLen:
			if err := a.Passwords.VerifyDummy(ctx, password); err != nil {
				return 0, err
			}
		case err != nil:
			return 0, err
		default:
			if match, err = a.Passwords.Verify(ctx, password, creds.PasswordHash); err != nil {
				return 0, err
			}
		}
		if !match {
			// The attempt Allow reserved stays spent.
			return 0, errWrongPair
		}
		a.Logins.Succeeded(addr, username)
		return creds.UserID, nil
	})
}

// errWrongPair is the one EUNAUTHORIZED that is not about a token; it has
// a status code of its own.
var errWrongPair = reel.Errorf(reel.EUNAUTHORIZED, "wrong username or password")

// session answers register and login: the user id fn returns with a fresh
// token, or the failure with user_id 0 and token "".
func (a *api) session(fn func(c *gin.Context) (int64, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		answer := func(err error) {
			st := a.status(c, err)
			if errors.Is(err, errWrongPair) {
				st.StatusCode = CodeWrongCredentials
			}
			c.JSON(http.StatusOK, sessionAnswer{Status: st})
		}
		if err := a.parseForm(c); err != nil {
			answer(err)
			return
		}
		id, err := fn(c)
		if err != nil {
			answer(err)
			return
		}
		token, _, err := a.Tokens.Issue(id)
		if err != nil {
			answer(err)
			return
		}
		c.JSON(http.StatusOK, sessionAnswer{Status: ok, UserID: id, Token: token})
	}
}

type userAnswer struct {
	Status
	User User `json:"user"`
}

// UserInfo handles GET /douyin/user/: user_id (absent or 0: the token's
// user) and token → user.
func UserInfo(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.handle(func(c *gin.Context) (any, error) {
		viewer, err := a.requireViewer(c)
		if err != nil {
			return nil, err
		}
		id, err := a.userParam(c, viewer)
		if err != nil {
			return nil, err
		}
		u, err := a.Users.FindUserByID(c.Request.Context(), id, viewer)
		if id == viewer && reel.ErrorCode(err) == reel.ENOTFOUND {
			return nil, reel.Errorf(reel.EUNAUTHORIZED, "the account of this token no longer exists")
		}
		if err != nil {
			return nil, err
		}
		return userAnswer{Status: ok, User: toUser(u)}, nil
	})
}
