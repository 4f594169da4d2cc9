package douyin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/account"
)

// sessionAnswer is the answer of register and login: user_id and token are
// present also on failure (0 and "").
type sessionAnswer struct {
	Status
	UserID int64  `json:"user_id"`
	Token  string `json:"token"`
}

// Register handles POST /douyin/user/register/: username and password
// (this API's limit of 32 bytes on the password; the username rule, limits
// and code of /api/v1: account.Register) → user_id and token.
func Register(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.session(func(c *gin.Context, username, password string) (*account.Session, error) {
		if len(password) > MaxCredentialLen {
			// Checked with the rules of /api/v1 so one answer names every field.
			err := reel.ValidateCredentials(username, password)
			fields := map[string]string{"password": fmt.Sprintf("must be %d to %d bytes long", reel.MinPasswordLen, MaxCredentialLen)}
			var e *reel.Error
			if errors.As(err, &e) && e.Fields["username"] != "" {
				fields["username"] = e.Fields["username"]
			}
			return nil, reel.Invalid(fields)
		}
		return a.Accounts.Register(c.Request.Context(), username, password, c.ClientIP())
	})
}

// Login handles POST /douyin/user/login/: username and password → user_id
// and token, through account.Login as on /api/v1.
func Login(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.session(func(c *gin.Context, username, password string) (*account.Session, error) {
		return a.Accounts.Login(c.Request.Context(), username, password, c.ClientIP())
	})
}

// session answers register and login: the user id and token of the session
// fn opens, or the failure with user_id 0 and token "".
func (a *api) session(fn func(c *gin.Context, username, password string) (*account.Session, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		answer := func(err error) {
			a.failWith(c, err, func(st Status) any {
				if errors.Is(err, account.ErrWrongCredentials) {
					st.StatusCode = CodeWrongCredentials
				}
				return sessionAnswer{Status: st}
			})
		}
		if err := a.parseForm(c); err != nil {
			answer(err)
			return
		}
		sess, err := fn(c, param(c, "username"), param(c, "password"))
		if err != nil {
			answer(err)
			return
		}
		c.JSON(http.StatusOK, sessionAnswer{Status: ok, UserID: sess.User.ID, Token: sess.Token})
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
