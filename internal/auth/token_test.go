package auth

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/reel-video/reel"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// newTestTokens returns Tokens with a clock the test moves by hand.
func newTestTokens(t *testing.T) (*Tokens, *time.Time) {
	t.Helper()
	now := time.Date(2025, 3, 1, 12, 0, 0, 500_000_000, time.UTC)
	tk := NewTokens(testSecret, 24*time.Hour)
	tk.Now = func() time.Time { return now }
	return tk, &now
}

func TestTokenRoundTrip(t *testing.T) {
	tk, now := newTestTokens(t)
	for _, id := range []int64{1, 42, reel.MaxID} {
		token, expiresAt, err := tk.Issue(id, "s1")
		if err != nil {
			t.Fatalf("Issue(%d): %v", id, err)
		}
		if want := now.Add(24 * time.Hour).Truncate(time.Second); !expiresAt.Equal(want) {
			t.Errorf("Issue(%d) expires at %v, want %v", id, expiresAt, want)
		}
		got, err := tk.Verify(token)
		if err != nil || got != (Claims{UserID: id, SessionID: "s1"}) {
			t.Errorf("Verify(Issue(%d)) = %+v, %v", id, got, err)
		}
	}
}

func TestTokenIssueRefusesBadIDs(t *testing.T) {
	tk, _ := newTestTokens(t)
	for _, id := range []int64{0, -1, reel.MaxID + 1} {
		if _, _, err := tk.Issue(id, "s1"); err == nil {
			t.Errorf("Issue(%d) succeeded", id)
		}
	}
	for _, sid := range []string{"", strings.Repeat("s", maxSessionIDLen+1)} {
		if _, _, err := tk.Issue(7, sid); err == nil {
			t.Errorf("Issue with session id %q succeeded", sid)
		}
	}
}

func TestNewSessionID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewSessionID()
		if len(id) != 22 || seen[id] {
			t.Fatalf("NewSessionID() = %q: want 22 characters, never repeated", id)
		}
		seen[id] = true
	}
}

func TestTokenExpiry(t *testing.T) {
	tk, now := newTestTokens(t)
	token, expiresAt, err := tk.Issue(7, "s1")
	if err != nil {
		t.Fatal(err)
	}

	// Within the leeway another node, whose clock runs ahead, still accepts it.
	*now = expiresAt.Add(leeway - time.Second)
	if _, err := tk.Verify(token); err != nil {
		t.Fatalf("Verify just after expiry, within the leeway: %v", err)
	}

	*now = expiresAt.Add(leeway + time.Second)
	_, err = tk.Verify(token)
	assertUnauthorized(t, "expired", token, err)
	if msg := reel.ErrorMessage(err); msg != "token expired" {
		t.Errorf("message %q, want %q", msg, "token expired")
	}
}

// Changing any single character of a token must make it invalid: header,
// payload and signature are all covered by the signature.
func TestTokenTampered(t *testing.T) {
	tk, _ := newTestTokens(t)
	token, _, err := tk.Issue(7, "s1")
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(token) {
		if token[i] == '.' {
			continue
		}
		v := strings.IndexByte(alphabet, token[i])
		// Flipping the lowest bit tests the trailing bits of the last
		// character, which a lenient decoder ignores; the highest bit always
		// changes the decoded bytes.
		for _, c := range []byte{alphabet[v^1], alphabet[v^32]} {
			forged := token[:i] + string(c) + token[i+1:]
			_, err := tk.Verify(forged)
			assertUnauthorized(t, fmt.Sprintf("%q at position %d", c, i), forged, err)
		}
	}
}

func TestTokenForged(t *testing.T) {
	tk, now := newTestTokens(t)
	valid := jwt.RegisteredClaims{
		Issuer:    "reel",
		Subject:   "7",
		ID:        "s1",
		IssuedAt:  jwt.NewNumericDate(*now),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}
	with := func(edit func(*jwt.RegisteredClaims)) jwt.RegisteredClaims {
		c := valid
		edit(&c)
		return c
	}
	// The control case: the helpers below build tokens Verify accepts, so each
	// failure comes from the one thing that is changed.
	if c, err := tk.Verify(sign(t, jwt.SigningMethodHS256, tk.key, valid)); err != nil || c.UserID != 7 || c.SessionID != "s1" {
		t.Fatalf("control token: %+v, %v", c, err)
	}

	for _, tc := range []struct {
		name  string
		token string
	}{
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)},
		{"alg none with empty signature", noneToken(t, valid)},
		{"HS512 with the right key", sign(t, jwt.SigningMethodHS512, tk.key, valid)},
		{"HS384 with the right key", sign(t, jwt.SigningMethodHS384, tk.key, valid)},
		{"other secret", sign(t, jwt.SigningMethodHS256, NewTokens([]byte("another secret"), time.Hour).key, valid)},
		{"raw secret instead of the derived key", sign(t, jwt.SigningMethodHS256, testSecret, valid)},
		{"media URL key", sign(t, jwt.SigningMethodHS256, deriveKey(testSecret, "reel media url v1"), valid)},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.Issuer = "evil" }))},
		{"no issuer", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.Issuer = "" }))},
		{"no exp", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil }))},
		{"not valid yet", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) }))},
		{"sub 0", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.Subject = "0" }))},
		{"sub -1", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.Subject = "-1" }))},
		{"sub abc", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.Subject = "abc" }))},
		{"sub 2^53", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.Subject = "9007199254740992" }))},
		{"sub over int64", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.Subject = "99999999999999999999" }))},
		{"sub +7", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.Subject = "+7" }))},
		{"sub 007", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.Subject = "007" }))},
		{"sub empty", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.Subject = "" }))},
		{"no jti (a token from before sessions)", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.ID = "" }))},
		{"jti too long", sign(t, jwt.SigningMethodHS256, tk.key, with(func(c *jwt.RegisteredClaims) { c.ID = strings.Repeat("j", 65) }))},
		{"sub a number", sign(t, jwt.SigningMethodHS256, tk.key, jwt.MapClaims{"iss": "reel", "sub": 7, "exp": now.Add(time.Hour).Unix()})},
		{"empty", ""},
		{"garbage", "not a token"},
		{"three empty parts", ".."},
		{"two parts", "e30.e30"},
		{"too long", strings.Repeat("A", maxTokenLen+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tk.Verify(tc.token)
			assertUnauthorized(t, tc.name, tc.token, err)
		})
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	token, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// noneToken builds an unsigned token by hand, the way an attacker would.
func noneToken(t *testing.T, claims jwt.Claims) string {
	t.Helper()
	signed := sign(t, jwt.SigningMethodHS256, []byte("whatever"), claims)
	payload := strings.Split(signed, ".")[1]
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	return header + "." + payload + "."
}

func assertUnauthorized(t *testing.T, what, token string, err error) {
	t.Helper()
	if code := reel.ErrorCode(err); code != reel.EUNAUTHORIZED {
		t.Fatalf("%s: Verify error %v has code %q, want %q", what, err, code, reel.EUNAUTHORIZED)
	}
	msg := reel.ErrorMessage(err)
	if msg != "invalid token" && msg != "token expired" {
		t.Errorf("%s: message %q", what, msg)
	}
	if len(token) > 10 && strings.Contains(err.Error(), token) {
		t.Errorf("%s: error repeats the token", what)
	}
}

// After a rotation with the previous secret kept, old tokens still verify,
// new ones are signed with the new secret, and without it old ones fail.
func TestTokensAcceptPrevious(t *testing.T) {
	oldSecret, newSecret := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32))
	old, _, err := NewTokens(oldSecret, time.Hour).Issue(7, "s1")
	if err != nil {
		t.Fatal(err)
	}
	rotated := NewTokens(newSecret, time.Hour)
	rotated.AcceptPrevious(oldSecret)
	if c, err := rotated.Verify(old); err != nil || c.UserID != 7 {
		t.Errorf("old token after rotation: %+v, %v", c, err)
	}
	fresh, _, _ := rotated.Issue(8, "s2")
	if _, err := NewTokens(oldSecret, time.Hour).Verify(fresh); err == nil {
		t.Error("a new token verifies with the old secret alone")
	}
	if _, err := NewTokens(newSecret, time.Hour).Verify(old); err == nil {
		t.Error("an old token verifies after the previous secret is dropped")
	}
	forged, _, _ := NewTokens([]byte(strings.Repeat("x", 32)), time.Hour).Issue(7, "s1")
	if _, err := rotated.Verify(forged); err == nil {
		t.Error("a token of a third secret verifies")
	}
}
