package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/maypok86/otter/v2"

	"github.com/reel-video/reel"
)

const (
	issuer = "reel"
	// sessionKeyLabel names the purpose of the session signing key. The server
	// secret also signs media URLs under another label, so a signature made
	// for one purpose is never valid for the other.
	sessionKeyLabel = "reel session token v1"
	// leeway absorbs clock skew between nodes that share the secret.
	leeway = 30 * time.Second
	// maxTokenLen bounds the work an attacker can make Verify do; ours are
	// under 200 bytes.
	maxTokenLen = 4096
)

// Tokens issues and verifies session tokens: HS256 JWTs whose subject is the
// user id and whose jti is the session id. The signature and expiry are
// checked without state on any node with the same secret; that the session
// is still open is checked against the store (package account).
type Tokens struct {
	// Now is the clock; tests replace it. Set it before first use.
	Now func() time.Time

	key    []byte
	keys   any // what the parser verifies with: key, or key and the previous one
	ttl    time.Duration
	parser *jwt.Parser
	// verified remembers tokens whose signature held, with the instant
	// they stop being valid: a signed-in client sends the same token with
	// every request, and checking its HMAC and decoding its JSON each time
	// was a tenth of the CPU of a signed-in feed request. Only the time is
	// checked again on a hit; whether the session is open is the caller's
	// (package account), on every request as before.
	verified *otter.Cache[string, verifiedToken]
}

// verifiedToken is what Verify found of a valid token.
type verifiedToken struct {
	claims Claims
	until  time.Time // the expiry plus the leeway: later, the token is expired
}

// maxVerified bounds the remembered tokens: about 300 bytes each, the
// tokens of the clients of the last minutes.
const maxVerified = 100_000

// verifiedFor bounds how long a token is remembered, so that tokens seen
// once do not stay until their expiry.
const verifiedFor = 10 * time.Minute

// NewTokens returns Tokens signing with a key derived from the server secret
// and issuing tokens valid for ttl. It panics on an empty secret or a
// non-positive ttl: either would be a configuration bug that silently makes
// tokens forgeable or useless.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	if len(secret) == 0 {
		panic("auth: NewTokens: empty secret")
	}
	if ttl <= 0 {
		panic("auth: NewTokens: ttl must be positive")
	}
	t := &Tokens{Now: time.Now, key: deriveKey(secret, sessionKeyLabel), ttl: ttl,
		verified: otter.Must(&otter.Options[string, verifiedToken]{
			MaximumSize:      maxVerified,
			ExpiryCalculator: otter.ExpiryWriting[string, verifiedToken](verifiedFor),
		})}
	t.keys = t.key
	t.parser = jwt.NewParser(
		// Only our algorithm: this is what rejects "none" and the
		// RS256-public-key-as-HMAC-secret confusion.
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(issuer),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return t.Now() }),
		// One spelling per token: otherwise a few edited characters of the
		// signature decode to the same bytes and still verify.
		jwt.WithStrictDecoding(),
	)
	return t
}

// Claims are what a valid token says: who signed in, in which session.
type Claims struct {
	UserID    int64
	SessionID string
}

// maxSessionIDLen bounds the jti accepted; ours are 22 characters.
const maxSessionIDLen = 64

// Issue returns a token for userID in session sessionID (the token's jti,
// which the caller stores so that the session can be ended), and the moment
// it expires.
func (t *Tokens) Issue(userID int64, sessionID string) (token string, expiresAt time.Time, err error) {
	return t.IssueUntil(userID, sessionID, t.Expiry())
}

// Expiry is when a token issued now expires, in the whole seconds a token
// carries. With IssueUntil it lets a session be stored before its token is
// signed (a sign-up stores the user and its session in one write).
func (t *Tokens) Expiry() time.Time {
	return jwt.NewNumericDate(t.Now().Add(t.ttl)).UTC()
}

// IssueUntil is Issue for a token that expires at expiresAt (from Expiry).
// For a user id in range it cannot fail.
func (t *Tokens) IssueUntil(userID int64, sessionID string, expiresAt time.Time) (token string, carried time.Time, err error) {
	if userID < 1 || userID > reel.MaxID {
		return "", time.Time{}, fmt.Errorf("auth: issue token: user id %d out of range", userID)
	}
	if sessionID == "" || len(sessionID) > maxSessionIDLen {
		return "", time.Time{}, fmt.Errorf("auth: issue token: session id of %d bytes", len(sessionID))
	}
	now := t.Now()
	claims := jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   strconv.FormatInt(userID, 10),
		ID:        sessionID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(expiresAt),
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	// The token stores whole seconds; report the same instant it carries.
	return token, claims.ExpiresAt.UTC(), nil
}

// NewSessionID returns a fresh random session id: 128 bits, base64url.
func NewSessionID() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(16))
}

// AcceptPrevious also accepts tokens signed with the secret before a
// rotation (REEL_PREVIOUS_SECRET), so rotating does not sign everyone out;
// new tokens are signed with the current secret only. Call it before use.
func (t *Tokens) AcceptPrevious(previous []byte) {
	if len(previous) == 0 {
		return
	}
	t.keys = jwt.VerificationKeySet{Keys: []jwt.VerificationKey{t.key, deriveKey(previous, sessionKeyLabel)}}
}

// Verify returns the claims of a valid token. It checks the signature and
// the expiry only: whether the session is still open is the caller's to ask
// (package account). Any failure is EUNAUTHORIZED with "token expired" or
// "invalid token"; the message never repeats the token, and the reason is
// deliberately no more precise than that, so a forger learns nothing from it.
// A token issued before sessions existed (no jti) can never be signed out,
// so it is refused as expired: its owner signs in again once.
func (t *Tokens) Verify(token string) (Claims, error) {
	invalid := reel.Errorf(reel.EUNAUTHORIZED, "invalid token")
	if token == "" || len(token) > maxTokenLen {
		return Claims{}, invalid
	}
	if v, ok := t.verified.GetIfPresent(token); ok {
		if !t.Now().Before(v.until) {
			return Claims{}, expired()
		}
		return v.claims, nil
	}
	var claims jwt.RegisteredClaims
	_, err := t.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.keys, nil })
	// jwt checks claims only once the signature holds, so "expired" is said
	// only about tokens we really issued.
	if errors.Is(err, jwt.ErrTokenExpired) {
		return Claims{}, expired()
	}
	if err != nil {
		return Claims{}, invalid
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	// Only the canonical spelling we issue: no "+7", no "007".
	if err != nil || strconv.FormatInt(id, 10) != claims.Subject || id < 1 || id > reel.MaxID {
		return Claims{}, invalid
	}
	if len(claims.ID) > maxSessionIDLen {
		return Claims{}, invalid
	}
	if claims.ID == "" {
		return Claims{}, expired()
	}
	c := Claims{UserID: id, SessionID: claims.ID}
	// WithExpirationRequired: a valid token always has an expiry.
	t.verified.Set(token, verifiedToken{claims: c, until: claims.ExpiresAt.Add(leeway)})
	return c, nil
}

func expired() error { return reel.Errorf(reel.EUNAUTHORIZED, "token expired") }

// deriveKey turns the server secret into a key for one purpose.
func deriveKey(secret []byte, label string) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(label))
	return mac.Sum(nil)
}
