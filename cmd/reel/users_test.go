package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/reel-video/reel/internal/auth"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

type session struct {
	User struct {
		ID             int64   `json:"id"`
		Username       string  `json:"username"`
		CreatedAt      string  `json:"created_at"`
		FollowerCount  *int64  `json:"follower_count"`
		FollowingCount *int64  `json:"following_count"`
		VideoCount     *int64  `json:"video_count"`
		LikeCount      *int64  `json:"like_count"`
		LikedCount     *int64  `json:"liked_count"`
		IsFollowing    *bool   `json:"is_following"`
		AvatarURL      *string `json:"avatar_url"`
	} `json:"user"`
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

func (s session) check(t *testing.T, username string) {
	t.Helper()
	u := s.User
	if u.ID <= 0 || u.Username != username || s.Token == "" {
		t.Fatalf("session %+v for %q", s, username)
	}
	if _, err := time.Parse(time.RFC3339, u.CreatedAt); err != nil {
		t.Errorf("created_at %q is not RFC 3339: %v", u.CreatedAt, err)
	}
	if u.FollowerCount == nil || u.FollowingCount == nil || u.VideoCount == nil || u.LikeCount == nil ||
		u.LikedCount == nil || u.IsFollowing == nil || u.AvatarURL == nil {
		t.Errorf("user lacks a field of API.md: %+v", u)
	}
	if strings.Contains(s.Token, "password") {
		t.Error("token looks wrong")
	}
}

// TestAccountLifecycle is what a new client does first, on both engines:
// register, sign in, look at itself and others, and find all of it again
// after the server restarts on the same data.
func TestAccountLifecycle(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		env := map[string]string{"REEL_DATABASE_URL": dbURL}
		srv := startServer(t, env)

		r := srv.do("POST", "/api/v1/users", "", map[string]string{"username": "Alice_1", "password": "correct horse"})
		expect(t, r, http.StatusCreated, "")
		var reg session
		r.json(t, &reg)
		reg.check(t, "Alice_1")

		r = srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": "alice_1", "password": "correct horse"})
		expect(t, r, http.StatusOK, "")
		var login session
		r.json(t, &login)
		login.check(t, "Alice_1")
		exp, err := time.Parse(time.RFC3339, login.ExpiresAt)
		if err != nil || time.Until(exp) < 6*24*time.Hour || time.Until(exp) > 7*24*time.Hour+time.Minute {
			t.Errorf("expires_at %q: want about 7 days from now (%v)", login.ExpiresAt, err)
		}

		r = srv.do("GET", "/api/v1/me", login.Token, nil)
		expect(t, r, http.StatusOK, "")
		var me struct {
			ID       int64  `json:"id"`
			Username string `json:"username"`
		}
		r.json(t, &me)
		if me.ID != reg.User.ID || me.Username != "Alice_1" {
			t.Errorf("/me = %+v, want user %d", me, reg.User.ID)
		}

		// Another user looks at Alice, signed in and anonymously.
		r = srv.do("POST", "/api/v1/users", "", map[string]string{"username": "bob", "password": "hunter22"})
		expect(t, r, http.StatusCreated, "")
		var bob session
		r.json(t, &bob)
		path := "/api/v1/users/" + strconv.FormatInt(reg.User.ID, 10)
		for _, token := range []string{bob.Token, ""} {
			r = srv.do("GET", path, token, nil)
			expect(t, r, http.StatusOK, "")
			r.json(t, &me)
			if me.ID != reg.User.ID {
				t.Errorf("GET %s = %s", path, r.Body)
			}
		}
		if strings.Contains(string(r.Body), "password") || strings.Contains(string(r.Body), "admin") {
			t.Errorf("user JSON leaks private fields: %s", r.Body)
		}

		// A restart on the same data keeps the accounts and the secret:
		// the old token still works and the password still signs in.
		if err := srv.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		again := startServer(t, srv.env)
		expect(t, again.do("GET", "/api/v1/me", login.Token, nil), http.StatusOK, "")
		expect(t, again.do("POST", "/api/v1/sessions", "", map[string]string{"username": "ALICE_1", "password": "correct horse"}), http.StatusOK, "")
		expect(t, again.do("POST", "/api/v1/users", "", map[string]string{"username": "alice_1", "password": "whatever1"}), http.StatusConflict, "conflict")
	})
}

// TestBadInputs sends what broken and hostile clients send. Every answer is
// the JSON error shape with the right status and code, and nothing is stored.
func TestBadInputs(t *testing.T) {
	secret := strings.Repeat("s", 40)
	srv := startServer(t, map[string]string{"REEL_SECRET": secret})
	r := srv.do("POST", "/api/v1/users", "", map[string]string{"username": "carol", "password": "secret-1"})
	expect(t, r, http.StatusCreated, "")
	var carol session
	r.json(t, &carol)

	big := `{"username":"` + strings.Repeat("x", 1<<20) + `","password":"secret-1"}`
	expired := func() string {
		tok := auth.NewTokens([]byte(secret), time.Hour)
		tok.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
		s, _, err := tok.Issue(carol.User.ID, auth.NewSessionID())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	forged := func() string {
		s, _, err := auth.NewTokens([]byte(strings.Repeat("x", 40)), time.Hour).Issue(carol.User.ID, auth.NewSessionID())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	// Signed with the right secret, for a session that was never opened.
	unknownSession := func() string {
		s, _, err := auth.NewTokens([]byte(secret), time.Hour).Issue(carol.User.ID, auth.NewSessionID())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	// A token as reel issued them before sessions existed: no jti.
	legacy := func() string {
		key := hmac.New(sha256.New, []byte(secret))
		key.Write([]byte("reel session token v1"))
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
			Issuer: "reel", Subject: strconv.FormatInt(carol.User.ID, 10),
			IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
		}).SignedString(key.Sum(nil))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	parts := strings.Split(carol.Token, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]

	cases := []struct {
		name, method, path, token string
		body                      any
		headers                   []string
		status                    int
		code                      string
	}{
		{"malformed JSON", "POST", "/api/v1/users", "", `{"username":`, nil, 400, "bad_request"},
		{"not JSON", "POST", "/api/v1/users", "", `username=a&password=b`, nil, 400, "bad_request"},
		{"wrong type", "POST", "/api/v1/users", "", `{"username":42,"password":"secret-1"}`, nil, 400, "bad_request"},
		{"array body", "POST", "/api/v1/users", "", `[1,2]`, nil, 400, "bad_request"},
		{"unknown field", "POST", "/api/v1/users", "", `{"username":"dave","password":"secret-1","admin":true}`, nil, 400, "bad_request"},
		{"two objects", "POST", "/api/v1/users", "", `{"username":"dave","password":"secret-1"}{}`, nil, 400, "bad_request"},
		{"empty body", "POST", "/api/v1/users", "", "", nil, 400, "bad_request"},
		{"multipart body", "POST", "/api/v1/users", "", "--x\r\n\r\n--x--", []string{"Content-Type", "multipart/form-data; boundary=x"}, 415, "unsupported_media"},
		{"form body", "POST", "/api/v1/users", "", `username=dave&password=secret-1`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, "bad_request"},
		{"body over 1 MiB", "POST", "/api/v1/users", "", big, nil, 413, "too_large"},
		{"short username", "POST", "/api/v1/users", "", map[string]string{"username": "ab", "password": "secret-1"}, nil, 422, "invalid"},
		{"long username", "POST", "/api/v1/users", "", map[string]string{"username": strings.Repeat("a", 33), "password": "secret-1"}, nil, 422, "invalid"},
		{"bad username characters", "POST", "/api/v1/users", "", map[string]string{"username": "../etc", "password": "secret-1"}, nil, 422, "invalid"},
		{"emoji username", "POST", "/api/v1/users", "", map[string]string{"username": "zoë😀", "password": "secret-1"}, nil, 422, "invalid"},
		{"short password", "POST", "/api/v1/users", "", map[string]string{"username": "dave", "password": "12345"}, nil, 422, "invalid"},
		{"long password", "POST", "/api/v1/users", "", map[string]string{"username": "dave", "password": strings.Repeat("p", 73)}, nil, 422, "invalid"},
		{"taken username", "POST", "/api/v1/users", "", map[string]string{"username": "CAROL", "password": "secret-1"}, nil, 409, "conflict"},
		{"login missing fields", "POST", "/api/v1/sessions", "", map[string]string{}, nil, 422, "invalid"},
		{"me without token", "GET", "/api/v1/me", "", nil, nil, 401, "unauthorized"},
		{"me with expired token", "GET", "/api/v1/me", expired, nil, nil, 401, "unauthorized"},
		{"me with forged token", "GET", "/api/v1/me", forged, nil, nil, 401, "unauthorized"},
		{"me with tampered token", "GET", "/api/v1/me", tampered, nil, nil, 401, "unauthorized"},
		{"me with a token of no session", "GET", "/api/v1/me", unknownSession, nil, nil, 401, "unauthorized"},
		{"me with a token from before sessions", "GET", "/api/v1/me", legacy, nil, nil, 401, "unauthorized"},
		{"me with garbage token", "GET", "/api/v1/me", "not.a.jwt", nil, nil, 401, "unauthorized"},
		{"basic auth", "GET", "/api/v1/me", "", nil, []string{"Authorization", "Basic YTpi"}, 401, "unauthorized"},
		{"optional auth with bad token", "GET", "/api/v1/users/1", "garbage", nil, nil, 401, "unauthorized"},
		{"user id not a number", "GET", "/api/v1/users/abc", "", nil, nil, 404, "not_found"},
		{"user id negative", "GET", "/api/v1/users/-1", "", nil, nil, 404, "not_found"},
		{"user id past 2^53", "GET", "/api/v1/users/9007199254740993", "", nil, nil, 404, "not_found"},
		{"unknown user", "GET", "/api/v1/users/999999", "", nil, nil, 404, "not_found"},
		{"unknown route", "GET", "/api/v1/nope", "", nil, nil, 404, "not_found"},
		{"path traversal", "GET", "/api/v1/../../etc/passwd", "", nil, nil, 404, "not_found"},
		{"wrong method", "DELETE", "/api/v1/me", "", nil, nil, 405, "bad_request"},
		{"header over 8 KiB", "GET", "/api/v1/me", "", nil, []string{"X-Big", strings.Repeat("h", 9<<10)}, 431, "too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := srv.do(tc.method, tc.path, tc.token, tc.body, tc.headers...)
			expect(t, r, tc.status, tc.code)
			if tc.status == 401 && r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.status == 405 && !strings.Contains(r.Header.Get("Allow"), "GET") {
				t.Errorf("405 Allow = %q", r.Header.Get("Allow"))
			}
		})
	}

	// JSON that curl -d labels as a form is still JSON.
	expect(t, srv.do("POST", "/api/v1/users", "", `{"username":"curl_user","password":"secret-1"}`,
		"Content-Type", "application/x-www-form-urlencoded"), 201, "")

	// Validation errors name each field.
	r = srv.do("POST", "/api/v1/users", "", map[string]string{"username": "a b", "password": "1"})
	var verr struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	r.json(t, &verr)
	if verr.Error.Fields["username"] == "" || verr.Error.Fields["password"] == "" {
		t.Errorf("fields not named: %s", r.Body)
	}
	// Wrong types name the field.
	r = srv.do("POST", "/api/v1/users", "", `{"username":"dave","password":123456}`)
	if !strings.Contains(string(r.Body), "password") {
		t.Errorf("type error does not name the field: %s", r.Body)
	}

	// None of the bad registrations created an account.
	for _, name := range []string{"dave", "ab", "zoë😀"} {
		r := srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": name, "password": "secret-1"})
		expect(t, r, 401, "unauthorized")
	}
}

// TestLoginFailures checks that an unknown user and a wrong password look the
// same and that repeated failures are throttled per username and address.
func TestLoginFailures(t *testing.T) {
	srv := startServer(t, nil)
	expect(t, srv.do("POST", "/api/v1/users", "", map[string]string{"username": "erin", "password": "right-pass"}), 201, "")

	wrong := srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": "erin", "password": "wrong-pass"})
	unknown := srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": "nobody", "password": "wrong-pass"})
	expect(t, wrong, 401, "unauthorized")
	expect(t, unknown, 401, "unauthorized")
	if string(wrong.Body) != string(unknown.Body) {
		t.Errorf("unknown user and wrong password differ:\n%s\n%s", wrong.Body, unknown.Body)
	}

	// Four more failures use up erin's five; then even the right password waits.
	for range 4 {
		expect(t, srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": "erin", "password": "wrong-pass"}), 401, "unauthorized")
	}
	r := srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": "erin", "password": "right-pass"})
	expect(t, r, 429, "rate_limited")
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
	}

	// The address has failed six times of its twenty; other users still sign in.
	expect(t, srv.do("POST", "/api/v1/users", "", map[string]string{"username": "frank", "password": "right-pass"}), 201, "")
	expect(t, srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": "frank", "password": "right-pass"}), 200, "")
	// Spraying many usernames from one address hits the address limit.
	limited := false
	for i := range 20 {
		r := srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": "spray" + strconv.Itoa(i), "password": "x-pass"})
		if r.StatusCode == 429 {
			limited = true
			break
		}
		expect(t, r, 401, "unauthorized")
	}
	if !limited {
		t.Error("20 failures with different usernames from one address were never limited")
	}
}
