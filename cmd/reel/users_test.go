package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
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
		t.Errorf("user lacks a field of docs/api.md: %+v", u)
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
// same, that failures are limited per username and address and per address
// as configured, and that nobody can lock another user out: the clients
// come from different addresses through a trusted proxy's X-Forwarded-For.
func TestLoginFailures(t *testing.T) {
	srv := startServer(t, map[string]string{
		"REEL_TRUSTED_PROXIES": "127.0.0.1", "REEL_LOGIN_LIMIT": "3/1h", "REEL_LOGIN_ADDR_LIMIT": "10/1h",
	})
	from := func(addr string) []string { return []string{"X-Forwarded-For", addr} }
	login := func(addr, name, password string) response {
		return srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": name, "password": password}, from(addr)...)
	}
	expect(t, srv.do("POST", "/api/v1/users", "", map[string]string{"username": "erin", "password": "right-pass"}), 201, "")

	wrong := login("198.51.100.1", "erin", "wrong-pass")
	unknown := login("198.51.100.1", "nobody", "wrong-pass")
	expect(t, wrong, 401, "unauthorized")
	expect(t, unknown, 401, "unauthorized")
	if string(wrong.Body) != string(unknown.Body) {
		t.Errorf("unknown user and wrong password differ:\n%s\n%s", wrong.Body, unknown.Body)
	}

	// Two more failures use up erin's 3 on this address (any case of her
	// name); then even the right password waits there.
	expect(t, login("198.51.100.1", "ERIN", "wrong-pass"), 401, "unauthorized")
	expect(t, login("198.51.100.1", "Erin", "wrong-pass"), 401, "unauthorized")
	r := login("198.51.100.1", "erin", "right-pass")
	expect(t, r, 429, "rate_limited")
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
	}

	// Lockout is impossible: twenty more attackers fail against erin until
	// each is limited, and erin still signs in from her own address.
	for i := range 20 {
		attacker := fmt.Sprintf("203.0.113.%d", i)
		for range 3 {
			expect(t, login(attacker, "erin", "guess"), 401, "unauthorized")
		}
		expect(t, login(attacker, "erin", "guess"), 429, "rate_limited")
	}
	expect(t, login("192.0.2.50", "erin", "right-pass"), 200, "")
	expect(t, login("2001:db8:1:2::50", "ERIN", "right-pass"), 200, "")

	// Spraying many usernames from one address hits the address limit.
	for i := range 10 {
		expect(t, login("198.51.100.9", "spray"+strconv.Itoa(i), "x-pass"), 401, "unauthorized")
	}
	expect(t, login("198.51.100.9", "spray-more", "x-pass"), 429, "rate_limited")
	// The same /64 is one IPv6 client.
	for i := range 10 {
		expect(t, login(fmt.Sprintf("2001:db8:9:9::%x", i+1), "v6spray"+strconv.Itoa(i), "x-pass"), 401, "unauthorized")
	}
	expect(t, login("2001:db8:9:9::ffff", "v6spray", "x-pass"), 429, "rate_limited")
}

// TestSignupLimit: REEL_SIGNUP_LIMIT counts sign-ups per address on /api/v1
// and /douyin together, a taken name included; invalid ones are free; 0 is
// no limit.
func TestSignupLimit(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_TRUSTED_PROXIES": "127.0.0.1", "REEL_SIGNUP_LIMIT": "3/1h"})
	d := dy{t, srv}
	from := []string{"X-Forwarded-For", "198.51.100.1"}
	signUp := func(name string, headers ...string) response {
		return srv.do("POST", "/api/v1/users", "", map[string]string{"username": name, "password": "secret-1"}, headers...)
	}
	expect(t, signUp("first", from...), 201, "")
	expect(t, signUp("FIRST", from...), 409, "conflict") // counts: names are not free to probe
	expect(t, signUp("x", from...), 422, "invalid")      // free
	expect(t, signUp("bad name", from...), 422, "invalid")
	reg := d.call("POST", "/douyin/user/register/", nil, qs("username", "second", "password", "secret-1"), from...)
	expectOK(t, "douyin register", reg)
	r := signUp("third", from...)
	expect(t, r, 429, "rate_limited")
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 3000 {
		t.Errorf("Retry-After = %q, want about an hour", r.Header.Get("Retry-After"))
	}
	reg = d.call("POST", "/douyin/user/register/", nil, qs("username", "third", "password", "secret-1"), from...)
	expectCode(t, "douyin register over the limit", reg, 9)
	// Another address has its own budget.
	expect(t, signUp("third", "X-Forwarded-For", "198.51.100.2"), 201, "")

	// 0 turns the limit off: dozens of sign-ups from one address.
	open := startServer(t, map[string]string{"REEL_SIGNUP_LIMIT": "0"})
	for i := range 40 {
		expect(t, open.do("POST", "/api/v1/users", "", map[string]string{"username": fmt.Sprintf("many%d", i), "password": "secret-1"}), 201, "")
	}
}

// TestLimitConfiguration: a malformed limit stops the start naming the variable.
func TestLimitConfiguration(t *testing.T) {
	for _, name := range []string{"REEL_SIGNUP_LIMIT", "REEL_LOGIN_LIMIT", "REEL_LOGIN_ADDR_LIMIT"} {
		for _, bad := range []string{"20", "0/1h", "20/0s", "abc", "-1/1m"} {
			_, _, err := cli(t, map[string]string{"REEL_DATA_DIR": t.TempDir(), name: bad}, "serve")
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: start error %v does not name the variable", name, bad, err)
			}
		}
	}
}

// TestUnicodeUsernames: names of any script, stored NFC, one account for
// every case and normal form of a name, on both engines.
func TestUnicodeUsernames(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, map[string]string{"REEL_DATABASE_URL": dbURL})
		d := dy{t, srv}
		signUp := func(name string) response {
			return srv.do("POST", "/api/v1/users", "", map[string]string{"username": name, "password": "secret-1"})
		}
		login := func(name string) response {
			return srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": name, "password": "secret-1"})
		}
		for _, tc := range []struct{ name, stored string }{
			{"张三丰", "张三丰"},
			{"张三", "张三"},           // two wide characters: 4 columns
			{"jose\u0301", "josé"}, // NFD in, NFC stored
			{"Alice", "Alice"},
			{"Ωμέγα", "Ωμέγα"},
			{strings.Repeat("界", 16), strings.Repeat("界", 16)}, // 32 columns
		} {
			r := signUp(tc.name)
			expect(t, r, 201, "")
			var s session
			r.json(t, &s)
			s.check(t, tc.stored)
		}
		for _, taken := range []string{"张三丰", "josé", "JOSÉ", "JOSE\u0301", "alice", "ALICE", "ΩΜΈΓΑ"} {
			expect(t, signUp(taken), 409, "conflict")
		}
		for _, other := range []string{"josé", "JOSE\u0301", "aLiCe", "ωμέγα"} {
			r := login(other)
			expect(t, r, 200, "")
		}
		expect(t, login("jose"), 401, "unauthorized")
		for _, bad := range []string{"张", "has space", "emoji😀", "tab\tname", "zero\u200bwidth", strings.Repeat("界", 17), "ab", "a/b"} {
			expect(t, signUp(bad), 422, "invalid")
		}
		// The Douyin API shares the accounts and the rules.
		reg := d.post("/douyin/user/register/", nil, qs("username", "ALICE", "password", "secret-1"))
		expectCode(t, "douyin register ALICE", reg, 5)
		reg = d.post("/douyin/user/register/", nil, qs("username", "李四光", "password", "secret-1"))
		expectOK(t, "douyin register 李四光", reg)
		expectOK(t, "douyin login 李四光", d.post("/douyin/user/login/", nil, qs("username", "李四光", "password", "secret-1")))
		expect(t, login("李四光"), 200, "")
		expectCode(t, "douyin 34 columns", d.post("/douyin/user/register/", nil, qs("username", strings.Repeat("界", 17), "password", "secret-1")), 1)
		expectCode(t, "douyin 2 columns", d.post("/douyin/user/register/", nil, qs("username", "王", "password", "secret-1")), 1)
		expectOK(t, "douyin register 王五", d.post("/douyin/user/register/", nil, qs("username", "王五", "password", "secret-1")))
	})
}

// TestSessionsEnd: signing out, changing the password and signing out
// everywhere end the right tokens on /api/v1, /douyin, tus and event
// streams, on both engines.
func TestSessionsEnd(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, map[string]string{"REEL_DATABASE_URL": dbURL})
		d := dy{t, srv}
		r := srv.do("POST", "/api/v1/users", "", map[string]string{"username": "alice", "password": "old-pass"})
		expect(t, r, 201, "")
		var reg session
		r.json(t, &reg)
		login := func(password string) string {
			t.Helper()
			r := srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": "alice", "password": password})
			expect(t, r, 200, "")
			var s session
			r.json(t, &s)
			return s.Token
		}
		dyLogin := func(password string) string {
			t.Helper()
			m := d.post("/douyin/user/login/", nil, qs("username", "alice", "password", password))
			expectOK(t, "douyin login", m)
			return m["token"].(string)
		}
		works := func(token string) bool {
			t.Helper()
			r := srv.do("GET", "/api/v1/me", token, nil)
			m := d.get("/douyin/user/", qs("token", token))
			switch {
			case r.StatusCode == 200 && m["status_code"] == 0.0:
				return true
			case r.StatusCode == 401 && m["status_code"] == 2.0:
				if r.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return false
			}
			t.Fatalf("/api/v1 and /douyin disagree about a token: %d %s / %v", r.StatusCode, r.Body, m)
			return false
		}
		t1, t2, t3 := reg.Token, login("old-pass"), dyLogin("old-pass")
		if !works(t1) || !works(t2) || !works(t3) {
			t.Fatal("fresh tokens do not work")
		}

		// Sign out: this token only.
		expect(t, srv.do("DELETE", "/api/v1/sessions/current", t1, nil), 204, "")
		if works(t1) || !works(t2) || !works(t3) {
			t.Error("sign-out ended the wrong tokens")
		}
		expect(t, srv.do("DELETE", "/api/v1/sessions/current", t1, nil), 401, "unauthorized")
		expect(t, srv.do("DELETE", "/api/v1/sessions/current", "", nil), 401, "unauthorized")
		// The signed-out token is refused by tus and event streams too.
		expect(t, srv.do("POST", "/api/v1/uploads/", t1, nil, "Tus-Resumable", "1.0.0", "Upload-Length", "10"), 401, "unauthorized")
		expect(t, srv.do("GET", "/api/v1/videos/1/events", t1, nil), 401, "unauthorized")

		// Password change: wrong old password, bad new one, then the change.
		pw := func(token, old, new string) response {
			return srv.do("PUT", "/api/v1/me/password", token, map[string]string{"old_password": old, "new_password": new})
		}
		r = pw(t2, "wrong-pass", "new-pass")
		expect(t, r, 401, "unauthorized")
		r = pw(t2, "old-pass", "short")
		expect(t, r, 422, "invalid")
		if !strings.Contains(string(r.Body), "new_password") {
			t.Errorf("422 does not name new_password: %s", r.Body)
		}
		expect(t, srv.do("PUT", "/api/v1/me/password", t2, `{"old_password":"old-pass"}`), 422, "invalid")
		expect(t, srv.do("PUT", "/api/v1/me/password", t2, `{"old_password":"old-pass","new_password":"new-pass","x":1}`), 400, "bad_request")
		expect(t, pw("", "old-pass", "new-pass"), 401, "unauthorized")
		if !works(t2) || !works(t3) {
			t.Fatal("failed password changes ended sessions")
		}
		expect(t, pw(t2, "old-pass", "new-pass"), 204, "")
		if !works(t2) || works(t3) {
			t.Error("password change: the changing token must work, the others not")
		}
		expect(t, srv.do("POST", "/api/v1/sessions", "", map[string]string{"username": "alice", "password": "old-pass"}), 401, "unauthorized")
		expectCode(t, "douyin login with the old password", d.post("/douyin/user/login/", nil, qs("username", "alice", "password", "old-pass")), 3)

		// Sign out everywhere.
		t4, t5 := login("new-pass"), dyLogin("new-pass")
		if !works(t4) || !works(t5) {
			t.Fatal("new tokens do not work")
		}
		expect(t, srv.do("DELETE", "/api/v1/sessions", t5, nil), 204, "")
		for i, tok := range []string{t2, t4, t5} {
			if works(tok) {
				t.Errorf("token %d works after signing out everywhere", i)
			}
		}
		if !works(login("new-pass")) {
			t.Error("signing in again does not work")
		}
	})
}

// TestSignOutReachesEveryNode: two servers on one database and secret. A
// token signed out, or ended by a password change, on one node stops working
// on the other too (within the revocation cache's second, polled here with
// a generous deadline).
func TestSignOutReachesEveryNode(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		env := map[string]string{"REEL_DATABASE_URL": dbURL, "REEL_SECRET": strings.Repeat("k", 40), "REEL_WORKERS": "0"}
		a := startServer(t, env)
		bEnv := map[string]string{"REEL_DATA_DIR": t.TempDir()}
		for k, v := range env {
			bEnv[k] = v
		}
		b := startServer(t, bEnv)
		tokens := make([]string, 3)
		for i := range tokens {
			path, status := "/api/v1/sessions", 200
			if i == 0 {
				path, status = "/api/v1/users", 201
			}
			r := a.do("POST", path, "", map[string]string{"username": "nodes", "password": "old-pass"})
			expect(t, r, status, "")
			var s session
			r.json(t, &s)
			tokens[i] = s.Token
		}
		for _, tok := range tokens {
			expect(t, b.do("GET", "/api/v1/me", tok, nil), 200, "") // b caches them as valid
		}
		refusedOnB := func(token string) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for b.do("GET", "/api/v1/me", token, nil).StatusCode != http.StatusUnauthorized {
				if time.Now().After(deadline) {
					t.Fatal("node b still accepts a token ended on node a")
				}
				<-time.After(50 * time.Millisecond)
			}
		}
		expect(t, a.do("DELETE", "/api/v1/sessions/current", tokens[0], nil), 204, "")
		refusedOnB(tokens[0])
		expect(t, a.do("PUT", "/api/v1/me/password", tokens[1], map[string]string{"old_password": "old-pass", "new_password": "new-pass"}), 204, "")
		refusedOnB(tokens[2])
		expect(t, b.do("GET", "/api/v1/me", tokens[1], nil), 200, "")
		// And the other way round, everywhere.
		expect(t, b.do("DELETE", "/api/v1/sessions", tokens[1], nil), 204, "")
		deadline := time.Now().Add(10 * time.Second)
		for a.do("GET", "/api/v1/me", tokens[1], nil).StatusCode != http.StatusUnauthorized {
			if time.Now().After(deadline) {
				t.Fatal("node a still accepts a token signed out everywhere on node b")
			}
			<-time.After(50 * time.Millisecond)
		}
	})
}
