package account_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/account"
	"github.com/reel-video/reel/internal/auth"
	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// countingHasher counts the argon2 runs the service asks for.
type countingHasher struct {
	h              *auth.Hasher
	hashes, checks atomic.Int64
}

func (c *countingHasher) Hash(ctx context.Context, p string) (string, error) {
	c.hashes.Add(1)
	return c.h.Hash(ctx, p)
}

func (c *countingHasher) Verify(ctx context.Context, p, enc string) (bool, error) {
	c.checks.Add(1)
	return c.h.Verify(ctx, p, enc)
}

func (c *countingHasher) VerifyDummy(ctx context.Context, p string) error {
	c.checks.Add(1)
	return c.h.VerifyDummy(ctx, p)
}

// clock is a clock the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	db     *sqlstore.DB
	clock  *clock
	hasher *countingHasher
	tokens *auth.Tokens
}

var secret = []byte("0123456789abcdef0123456789abcdef")

func newFixture(t *testing.T, url string) *fixture {
	t.Helper()
	f := &fixture{
		db:     sqltest.OpenDB(t, url),
		clock:  &clock{now: time.Now()},
		hasher: &countingHasher{h: auth.NewHasher(auth.TestParams, 2)},
		tokens: auth.NewTokens(secret, time.Hour),
	}
	f.tokens.Now = f.clock.Now
	return f
}

// node returns a Service over the fixture's database, as one reel node.
func (f *fixture) node(signup, login, loginAddr auth.Rate) *account.Service {
	opts := auth.LimiterOptions{Now: f.clock.Now}
	return account.New(account.Config{
		Users: f.db, Sessions: f.db, Passwords: f.hasher, Tokens: f.tokens,
		Logins:  auth.NewLoginLimiter(login, loginAddr, opts),
		Signups: auth.NewSignupLimiter(signup, opts),
		Now:     f.clock.Now,
	})
}

var unlimited = auth.Rate{}

func mustRegister(t *testing.T, a *account.Service, name, password string) *account.Session {
	t.Helper()
	s, err := a.Register(t.Context(), name, password, "192.0.2.1")
	if err != nil {
		t.Fatalf("Register(%q): %v", name, err)
	}
	return s
}

func code(err error) string { return reel.ErrorCode(err) }

// A sign-up for a taken name, in any case or normal form, is 409 before any
// password is hashed, and it counts against the sign-up limit.
func TestTakenNameCostsNoHash(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		a := f.node(auth.Rate{N: 8, Per: time.Hour}, unlimited, unlimited)
		mustRegister(t, a, "Alice", "secret-1")
		mustRegister(t, a, "josé", "secret-1")
		if n := f.hasher.hashes.Load(); n != 2 {
			t.Fatalf("%d hashes for two sign-ups", n)
		}
		for _, taken := range []string{"Alice", "alice", "ALICE", "jose\u0301", "JOSÉ"} {
			_, err := a.Register(t.Context(), taken, "secret-2", "192.0.2.1")
			if code(err) != reel.ECONFLICT {
				t.Errorf("Register(%q) = %v, want conflict", taken, err)
			}
		}
		if n := f.hasher.hashes.Load(); n != 2 {
			t.Errorf("sign-ups for taken names hashed %d passwords", n-2)
		}
		// 2 + 5 attempts counted: one more fits, the next is refused.
		mustRegister(t, a, "carol", "secret-1")
		_, err := a.Register(t.Context(), "dave", "secret-1", "192.0.2.1")
		if le, ok := account.Limited(err); !ok || code(err) != reel.ERATELIMITED || le.RetryAfter < time.Second {
			t.Errorf("ninth sign-up = %v, want rate limited with a wait", err)
		}
		// Invalid sign-ups cost nothing: they are answered before the limit.
		for _, bad := range []string{"a", "has space", "emoji😀x"} {
			if _, err := a.Register(t.Context(), bad, "secret-1", "192.0.2.9"); code(err) != reel.EINVALID {
				t.Errorf("Register(%q) = %v, want invalid", bad, err)
			}
		}
		// Another address has its own budget.
		if _, err := a.Register(t.Context(), "dave", "secret-1", "192.0.2.2"); err != nil {
			t.Errorf("sign-up from another address: %v", err)
		}
	})
}

func TestSignupLimitOff(t *testing.T) {
	f := newFixture(t, sqltest.SQLiteURL(t))
	a := f.node(unlimited, unlimited, unlimited)
	for i := range 60 {
		mustRegister(t, a, fmt.Sprintf("user%d", i), "secret-1")
	}
}

// Logins: any case and normal form; unknown users and wrong passwords get
// the same error after the same work.
func TestLogin(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		a := f.node(unlimited, unlimited, unlimited)
		reg := mustRegister(t, a, "Josu\u0301é", "secret-1") // stored NFC
		if reg.User.Username != "Josúé" {
			t.Errorf("stored name %q, want NFC", reg.User.Username)
		}
		for _, name := range []string{"josúé", "JOSÚÉ", "Josu\u0301e\u0301"} {
			s, err := a.Login(t.Context(), name, "secret-1", "192.0.2.1")
			if err != nil || s.User.ID != reg.User.ID || s.Token == "" || !s.ExpiresAt.After(f.clock.Now()) {
				t.Errorf("Login(%q) = %+v, %v", name, s, err)
			}
		}
		before := f.hasher.checks.Load()
		_, wrong := a.Login(t.Context(), "josúé", "secret-2", "192.0.2.1")
		_, unknown := a.Login(t.Context(), "nobody", "secret-2", "192.0.2.1")
		if !errors.Is(wrong, account.ErrWrongCredentials) || !errors.Is(unknown, account.ErrWrongCredentials) {
			t.Errorf("wrong password = %v, unknown user = %v; want ErrWrongCredentials for both", wrong, unknown)
		}
		_, long := a.Login(t.Context(), strings.Repeat("josúé", 1000), "secret-2", "192.0.2.1")
		if !errors.Is(long, account.ErrWrongCredentials) {
			t.Errorf("a 7 KB username = %v, want ErrWrongCredentials", long)
		}
		if n := f.hasher.checks.Load() - before; n != 3 {
			t.Errorf("%d password checks for three failed logins, want one each", n)
		}
		if _, err := a.Login(t.Context(), "", "", "192.0.2.1"); code(err) != reel.EINVALID {
			t.Errorf("empty login = %v, want invalid", err)
		}
	})
}

// Nobody can lock another user out: failures against alice from other
// addresses leave her address its own budget.
func TestNoLockout(t *testing.T) {
	f := newFixture(t, sqltest.SQLiteURL(t))
	a := f.node(unlimited, auth.Rate{N: 3, Per: time.Hour}, auth.Rate{N: 10, Per: time.Hour})
	mustRegister(t, a, "alice", "right-pass")
	for i := range 30 {
		attacker := fmt.Sprintf("198.51.100.%d", i)
		for range 3 {
			if _, err := a.Login(t.Context(), "alice", "wrong-pass", attacker); !errors.Is(err, account.ErrWrongCredentials) {
				t.Fatalf("failure from %s: %v", attacker, err)
			}
		}
		if _, err := a.Login(t.Context(), "ALICE", "wrong-pass", attacker); code(err) != reel.ERATELIMITED {
			t.Fatalf("fourth failure from %s = %v, want rate limited", attacker, err)
		}
	}
	if _, err := a.Login(t.Context(), "alice", "right-pass", "203.0.113.5"); err != nil {
		t.Fatalf("alice from her own address after 90 failures elsewhere: %v", err)
	}
	// The attacker's address stays limited even with the right password.
	if _, err := a.Login(t.Context(), "alice", "right-pass", "198.51.100.0"); code(err) != reel.ERATELIMITED {
		t.Errorf("the limited address got in: %v", err)
	}
}

// Signing out, everywhere, and changing the password end exactly the
// sessions they should, on this node at once and on another node sharing
// the database once its cache of one second has passed.
func TestSessionsEnd(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		a := f.node(unlimited, auth.Rate{N: 3, Per: time.Hour}, unlimited)
		b := f.node(unlimited, unlimited, unlimited) // another node
		ctx := t.Context()
		reg := mustRegister(t, a, "alice", "old-pass")
		login := func(node *account.Service) string {
			t.Helper()
			s, err := node.Login(ctx, "alice", "old-pass", "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			return s.Token
		}
		works := func(node *account.Service, token string) bool {
			t.Helper()
			p, err := node.Verify(ctx, token)
			if err != nil {
				if code(err) != reel.EUNAUTHORIZED {
					t.Fatalf("Verify: %v", err)
				}
				return false
			}
			if p.UserID != reg.User.ID || p.SessionID == "" {
				t.Fatalf("Verify = %+v", p)
			}
			return true
		}
		principal := func(token string) account.Principal {
			t.Helper()
			p, err := a.Verify(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		t1, t2 := reg.Token, login(b)
		if !works(a, t1) || !works(b, t1) || !works(a, t2) || !works(b, t2) {
			t.Fatal("fresh tokens do not work")
		}

		// Sign out t1 on node a: refused there at once, on b within the TTL.
		if err := a.SignOut(ctx, principal(t1)); err != nil {
			t.Fatal(err)
		}
		if works(a, t1) || !works(a, t2) {
			t.Error("sign-out on a: t1 still works, or t2 stopped")
		}
		f.clock.Advance(account.DefaultRevocationTTL)
		if works(b, t1) || !works(b, t2) {
			t.Error("after the revocation TTL, node b still accepts t1 or refuses t2")
		}

		// A password change: a wrong old password is a failed login.
		t3 := login(a)
		p2 := principal(t2)
		if err := a.ChangePassword(ctx, p2, "wrong", "new-pass", "192.0.2.1"); !errors.Is(err, account.ErrWrongPassword) {
			t.Errorf("wrong old password = %v", err)
		}
		before := f.hasher.checks.Load() + f.hasher.hashes.Load()
		err := a.ChangePassword(ctx, p2, "", "short", "192.0.2.1")
		var e *reel.Error
		if !errors.As(err, &e) || e.Code != reel.EINVALID || e.Fields["old_password"] == "" || e.Fields["new_password"] == "" {
			t.Errorf("bad change = %v, want invalid naming both fields", err)
		}
		if f.hasher.checks.Load()+f.hasher.hashes.Load() != before {
			t.Error("an invalid password change ran the hasher")
		}
		if err := a.ChangePassword(ctx, p2, "old-pass", "new-pass", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		if !works(a, t2) || works(a, t3) {
			t.Error("password change: the changing token must work, the others not")
		}
		f.clock.Advance(account.DefaultRevocationTTL)
		if !works(b, t2) || works(b, t3) {
			t.Error("password change not seen by node b after the TTL")
		}
		if _, err := a.Login(ctx, "alice", "old-pass", "192.0.2.7"); !errors.Is(err, account.ErrWrongCredentials) {
			t.Errorf("old password after the change: %v", err)
		}
		// The change forgot the earlier failure (its owner proved who they
		// are); three wrong old passwords use up the limit of 3.
		for range 3 {
			_ = a.ChangePassword(ctx, p2, "wrong", "newer-pass", "192.0.2.1")
		}
		if err := a.ChangePassword(ctx, p2, "new-pass", "newer-pass", "192.0.2.1"); code(err) != reel.ERATELIMITED {
			t.Errorf("password change after 3 wrong old passwords = %v, want rate limited", err)
		}

		// Sign out everywhere, from node b.
		t4 := func() string {
			s, err := a.Login(ctx, "alice", "new-pass", "192.0.2.8")
			if err != nil {
				t.Fatal(err)
			}
			return s.Token
		}()
		if !works(a, t4) {
			t.Fatal("t4 does not work")
		}
		if err := b.SignOutEverywhere(ctx, reg.User.ID); err != nil {
			t.Fatal(err)
		}
		if works(b, t2) || works(b, t4) {
			t.Error("sign-out everywhere: tokens still work on the same node")
		}
		f.clock.Advance(account.DefaultRevocationTTL)
		if works(a, t2) || works(a, t4) {
			t.Error("sign-out everywhere not seen by node a after the TTL")
		}
	})
}

// Revocation does not race: a read of a session that started before the
// session ended on this node is not cached as valid.
func TestSignOutWhileVerifying(t *testing.T) {
	f := newFixture(t, sqltest.SQLiteURL(t))
	a := f.node(unlimited, unlimited, unlimited)
	reg := mustRegister(t, a, "alice", "secret-1")
	p, err := a.Verify(t.Context(), reg.Token)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				_, _ = a.Verify(t.Context(), reg.Token)
			}
		})
	}
	if err := a.SignOut(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := a.Verify(t.Context(), reg.Token); code(err) != reel.EUNAUTHORIZED {
		t.Errorf("after sign-out and concurrent checks, the token = %v", err)
	}
}

// Authenticate is the one reader of credentials: the header, or a token
// given outside it (Douyin's parameter), which wins.
func TestAuthenticate(t *testing.T) {
	f := newFixture(t, sqltest.SQLiteURL(t))
	a := f.node(unlimited, unlimited, unlimited)
	alice := mustRegister(t, a, "alice", "secret-1")
	bob := mustRegister(t, a, "bob", "secret-1")
	req := func(auth string) *http.Request {
		r, _ := http.NewRequestWithContext(t.Context(), "GET", "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return r
	}
	for _, tc := range []struct {
		header, param string
		want          int64
		code          string
	}{
		{"", "", 0, ""},
		{"Bearer " + alice.Token, "", alice.User.ID, ""},
		{"bearer  " + alice.Token + " ", "", alice.User.ID, ""},
		{"Bearer " + alice.Token, bob.Token, bob.User.ID, ""},
		{"", bob.Token, bob.User.ID, ""},
		{"Bearer", "", 0, reel.EUNAUTHORIZED},
		{"Bearer ", "", 0, reel.EUNAUTHORIZED},
		{"Basic YTpi", "", 0, reel.EUNAUTHORIZED},
		{alice.Token, "", 0, reel.EUNAUTHORIZED},
		{"Bearer garbage", "", 0, reel.EUNAUTHORIZED},
		{"", "garbage", 0, reel.EUNAUTHORIZED},
	} {
		p, err := a.Authenticate(req(tc.header), tc.param)
		if p.UserID != tc.want || code(err) != tc.code {
			t.Errorf("Authenticate(%.20q, %.20q) = %+v, %v; want user %d, code %q", tc.header, tc.param, p, err, tc.want, tc.code)
		}
	}
}

// A store that fails is the server's fault: it is neither 401 nor counted
// against the client's limits.
func TestStoreFailureIsNotTheClients(t *testing.T) {
	f := newFixture(t, sqltest.SQLiteURL(t))
	a := f.node(auth.Rate{N: 1, Per: time.Hour}, auth.Rate{N: 1, Per: time.Hour}, auth.Rate{N: 1, Per: time.Hour})
	reg := mustRegister(t, a, "alice", "secret-1")
	// With limits of 1, a failure counted against the client would make the
	// second round 429.
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := a.Login(t.Context(), "alice", "secret-1", "192.0.2.5"); code(err) != reel.EINTERNAL {
			t.Fatalf("login on a closed store = %v, want an internal error", err)
		}
		if _, err := a.Register(t.Context(), "bob", "secret-1", "192.0.2.5"); code(err) != reel.EINTERNAL {
			t.Fatalf("sign-up on a closed store = %v, want an internal error", err)
		}
		// Past the cache's second, so the store is asked.
		f.clock.Advance(account.DefaultRevocationTTL)
		if _, err := a.Verify(t.Context(), reg.Token); code(err) != reel.EINTERNAL {
			t.Fatalf("verify on a closed store = %v, want an internal error, not 401", err)
		}
	}
}

// sessionsFailing is the store whose separate session writes fail, as when
// the database goes away between two writes.
type sessionsFailing struct{ *sqlstore.DB }

func (sessionsFailing) CreateSession(context.Context, reel.Session) error {
	return errors.New("database gone")
}

// A sign-up never depends on a second write after its account is made: the
// user and its first session are stored together, so no sign-up can leave
// an account whose client got an error and whose retry would be 409.
func TestSignUpIsOneWrite(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		store := sessionsFailing{f.db}
		a := account.New(account.Config{
			Users: store, Sessions: store, Passwords: f.hasher, Tokens: f.tokens,
			Logins:  auth.NewLoginLimiter(unlimited, unlimited, auth.LimiterOptions{Now: f.clock.Now}),
			Signups: auth.NewSignupLimiter(unlimited, auth.LimiterOptions{Now: f.clock.Now}),
			Now:     f.clock.Now,
		})
		s, err := a.Register(t.Context(), "alice", "secret-1", "192.0.2.1")
		if err != nil {
			t.Fatalf("sign-up: %v", err)
		}
		p, err := a.Verify(t.Context(), s.Token)
		if err != nil || p.UserID != s.User.ID {
			t.Fatalf("the sign-up's token: %+v, %v", p, err)
		}
		stored, err := f.db.FindSession(t.Context(), p.SessionID)
		if err != nil || !stored.ExpiresAt.Equal(s.ExpiresAt) || stored.UserID != s.User.ID {
			t.Errorf("stored session %+v, %v; the sign-up answered user %d until %v", stored, err, s.User.ID, s.ExpiresAt)
		}
	})
}
