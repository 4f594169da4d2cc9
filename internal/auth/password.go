// Package auth holds what logging in needs and nothing else: argon2id password
// hashes, signed session tokens and a limiter for failed logins. It knows no
// HTTP and no storage; the HTTP layer wires it to reel.UserService.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/reel-video/reel"
)

// Params are the argon2id cost parameters. They are stored in every hash, so
// changing them later only affects new hashes; NeedsRehash finds the old ones.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams is OWASP's minimum recommendation for argon2id.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// TestParams make hashing nearly free, so tests of other packages that create
// users stay fast. Never use them in production.
var TestParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// ErrMalformedHash reports a stored hash that cannot be read or whose
// parameters are out of the accepted range. It points at corrupt data or a
// foreign hash, never at a wrong password.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// Limits on parameters read back from a stored hash. A hash is data, and data
// can be corrupt or planted: without limits one row could make a single login
// allocate gigabytes, spin for minutes, panic inside argon2 (zero time or
// threads) or compare zero bytes and accept any password (empty key).
const (
	maxMemory     = 1 << 20 // KiB, 1 GiB
	maxTime       = 16
	minSaltLen    = 8
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 128
	maxEncodedLen = 512
)

// Hasher hashes and verifies passwords. Every computation holds Params.Memory
// KiB for its duration, so it runs only after taking one of a fixed number of
// slots: a flood of logins queues (and times out) instead of exhausting RAM.
type Hasher struct {
	params Params
	slots  chan struct{}
	// dummy is a well-formed hash that no password matches; VerifyDummy
	// checks against it so an unknown username costs as much as a known one.
	dummy string
}

// NewHasher returns a Hasher that produces hashes with p and runs at most
// maxConcurrent computations at once; maxConcurrent < 1 means one per CPU,
// since argon2 is CPU-bound anyway. It panics when p is outside the range
// Verify accepts: such a hasher could not read its own hashes.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	if err := p.check(); err != nil {
		panic(fmt.Sprintf("auth: NewHasher: %v", err))
	}
	if maxConcurrent < 1 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	return &Hasher{
		params: p,
		slots:  make(chan struct{}, maxConcurrent),
		// A random key is as good as a computed one: nobody can find a
		// password for it, and building it costs no argon2 run at startup.
		dummy: encode(p, randomBytes(p.SaltLen), randomBytes(p.KeyLen)),
	}
}

// Hash returns password hashed with a fresh random salt, in the PHC string
// format that Verify and other argon2 implementations read:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
// It fails with EUNAVAILABLE when ctx ends before a slot is free.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := randomBytes(h.params.SaltLen)
	key, err := h.derive(ctx, password, salt, h.params)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether password matches encoded, using the parameters
// stored in encoded so hashes made under older settings keep working.
// A malformed encoded hash is an error wrapping ErrMalformedHash; ctx ending
// before a slot is free is EUNAVAILABLE.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	got, err := h.derive(ctx, password, salt, p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyDummy does the work of a Verify that fails. Call it when the username
// is unknown, so the answer takes as long as for a wrong password and timing
// does not reveal which usernames exist. Only a busy server (EUNAVAILABLE)
// makes it return an error, exactly when Verify would have.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, err := h.Verify(ctx, password, h.dummy)
	return err
}

// NeedsRehash reports whether encoded was made with other parameters than
// this Hasher's (or cannot be read), so the caller should store a new hash
// after the next successful login.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return true
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p != h.params
}

// derive runs argon2id once a slot is free.
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	// A request whose client has gone or whose deadline passed gets no slot,
	// even when one is free: the work would be thrown away.
	if ctx.Err() != nil {
		return nil, busy()
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, busy()
	}
	defer func() { <-h.slots }()
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

func busy() error { return reel.Errorf(reel.EUNAVAILABLE, "server busy, try again") }

// check reports parameters argon2 cannot run with or that cost absurdly much.
func (p Params) check() error {
	switch {
	case p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB over the limit of %d KiB", p.Memory, maxMemory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d outside 1..%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads):
		// argon2 would silently raise it, and the stored m= would lie.
		return fmt.Errorf("memory %d KiB below 8 KiB per thread", p.Memory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d outside %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d outside %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// b64 is the PHC string format's base64: standard alphabet, no padding.
// Strict decoding rejects non-zero trailing bits, so each hash has exactly one
// spelling.
var b64 = base64.RawStdEncoding.Strict()

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decode parses a PHC argon2id string. The returned Params carry the lengths
// of the stored salt and key.
func decode(encoded string) (p Params, salt, key []byte, err error) {
	malformed := func(reason string) (Params, []byte, []byte, error) {
		// The hash itself stays out of the error: errors end up in logs.
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, reason)
	}
	if len(encoded) > maxEncodedLen {
		return malformed("too long")
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return malformed("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return malformed("not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return malformed("unsupported version")
	}
	if p.Memory, p.Time, p.Threads, err = parseParams(parts[3]); err != nil {
		return malformed(err.Error())
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return malformed("bad salt encoding")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return malformed("bad hash encoding")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.check(); err != nil {
		return malformed(err.Error())
	}
	return p, salt, key, nil
}

// parseParams reads "m=<memory>,t=<time>,p=<threads>", in that order, the
// only order argon2's reference implementation writes.
func parseParams(s string) (memory, time uint32, threads uint8, err error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, errors.New("want m=,t=,p=")
	}
	var v [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return 0, 0, 0, errors.New("want m=,t=,p=")
		}
		bits := 32
		if name == "p=" {
			bits = 8
		}
		if v[i], err = strconv.ParseUint(digits, 10, bits); err != nil {
			return 0, 0, 0, fmt.Errorf("bad %svalue", name)
		}
	}
	return uint32(v[0]), uint32(v[1]), uint8(v[2]), nil
}

func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails: since Go 1.24 it crashes the program instead
	return b
}
