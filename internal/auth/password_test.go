package auth

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/reel-video/reel"
)

func TestHashVerify(t *testing.T) {
	h := NewHasher(TestParams, 2)
	ctx := context.Background()

	encoded, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=64,t=1,p=1$"; !strings.HasPrefix(encoded, want) {
		t.Fatalf("hash %q does not start with %q", encoded, want)
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"correct horse", true},
		{"correct horsE", false},
		{"correct horse ", false},
		{"", false},
	} {
		ok, err := h.Verify(ctx, tc.password, encoded)
		if err != nil || ok != tc.want {
			t.Errorf("Verify(%q) = %v, %v; want %v, nil", tc.password, ok, err, tc.want)
		}
	}
}

// A hash written by the argon2 reference implementation (phc-winner-argon2,
// src/test.c) must verify: stored hashes may come from other tools.
func TestVerifyReferenceHash(t *testing.T) {
	const ref = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	h := NewHasher(TestParams, 1)
	ok, err := h.Verify(context.Background(), "password", ref)
	if err != nil || !ok {
		t.Fatalf("Verify(reference) = %v, %v; want true, nil", ok, err)
	}
	ok, err = h.Verify(context.Background(), "passwore", ref)
	if err != nil || ok {
		t.Fatalf("Verify(wrong, reference) = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "c29tZXNhbHRzb21lc2FsdA"                      // 16 bytes
		key  = "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4" // 32 bytes
	)
	for _, tc := range []struct{ name, encoded string }{
		{"empty", ""},
		{"plain text", "hunter2"},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ012"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"old version", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"missing hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"extra part", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$"},
		{"text before", "x$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"params out of order", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"missing param", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"extra param", "$argon2id$v=19$m=64,t=1,p=1,k=1$" + salt + "$" + key},
		{"non-numeric param", "$argon2id$v=19$m=lots,t=1,p=1$" + salt + "$" + key},
		{"signed param", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"threads overflow", "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key},
		{"memory below 8 KiB per thread", "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key},
		{"memory over 1 GiB", "$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key},
		{"memory overflow", "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key},
		{"absurd time", "$argon2id$v=19$m=64,t=1000000,p=1$" + salt + "$" + key},
		{"salt not base64", "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key},
		{"padded salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"salt too short", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key},
		{"empty hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{"hash too short", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$c2hvcnQ"},
		{"hash with stray bits", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:len(key)-1] + "5"},
		{"too long", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 1000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHasher(TestParams, 1)
			ok, err := h.Verify(context.Background(), "password", tc.encoded)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify = %v, %v; want false, ErrMalformedHash", ok, err)
			}
			if tc.encoded != "" && strings.Contains(err.Error(), tc.encoded) {
				t.Errorf("error %q repeats the stored hash", err)
			}
			if !h.NeedsRehash(tc.encoded) {
				t.Error("NeedsRehash = false for an unreadable hash")
			}
		})
	}
}

func TestHashSaltIsUnique(t *testing.T) {
	h := NewHasher(TestParams, 2)
	ctx := context.Background()
	a, err := h.Hash(ctx, "same password")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Hash(ctx, "same password")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two hashes of one password are equal: %s", a)
	}
	for _, encoded := range []string{a, b} {
		if ok, err := h.Verify(ctx, "same password", encoded); !ok || err != nil {
			t.Errorf("Verify(%s) = %v, %v", encoded, ok, err)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	h := NewHasher(TestParams, 1)
	encoded, err := h.Hash(context.Background(), "password")
	if err != nil {
		t.Fatal(err)
	}
	if h.NeedsRehash(encoded) {
		t.Error("NeedsRehash = true for a hash made with the same params")
	}
	for _, p := range []Params{
		{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64},
	} {
		if !NewHasher(p, 1).NeedsRehash(encoded) {
			t.Errorf("NeedsRehash = false for a hasher with %+v", p)
		}
		// Old hashes keep verifying after the params change.
		if ok, err := NewHasher(p, 1).Verify(context.Background(), "password", encoded); !ok || err != nil {
			t.Errorf("hasher with %+v: Verify(old hash) = %v, %v", p, ok, err)
		}
	}
}

func TestVerifyDummy(t *testing.T) {
	h := NewHasher(TestParams, 1)
	if err := h.VerifyDummy(context.Background(), "anything"); err != nil {
		t.Fatal(err)
	}
	// Equal work means the dummy carries exactly this hasher's params.
	if h.NeedsRehash(h.dummy) {
		t.Errorf("dummy hash %s does not use the hasher's params", h.dummy)
	}
}

func TestHasherBusy(t *testing.T) {
	h := NewHasher(TestParams, 1)
	h.slots <- struct{}{} // the one slot is taken
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := h.Hash(ctx, "password")
	assertCode(t, "Hash", err, reel.EUNAVAILABLE)
	_, err = h.Verify(ctx, "password", h.dummy)
	assertCode(t, "Verify", err, reel.EUNAVAILABLE)
	assertCode(t, "VerifyDummy", h.VerifyDummy(ctx, "password"), reel.EUNAVAILABLE)
}

func TestHasherWaitsForSlot(t *testing.T) {
	h := NewHasher(TestParams, 1)
	h.slots <- struct{}{}

	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error)
	go func() {
		_, err := h.Hash(ctx, "password")
		gaveUp <- err
	}()
	done := make(chan error)
	go func() {
		_, err := h.Hash(context.Background(), "password")
		done <- err
	}()

	cancel()
	assertCode(t, "Hash after cancel", <-gaveUp, reel.EUNAVAILABLE)
	<-h.slots // free the slot: the patient caller gets it
	if err := <-done; err != nil {
		t.Fatalf("Hash after the slot freed: %v", err)
	}
	if n := len(h.slots); n != 0 {
		t.Fatalf("%d slots still taken after every call returned", n)
	}
}

func TestNewHasher(t *testing.T) {
	if got := cap(NewHasher(TestParams, 0).slots); got != runtime.GOMAXPROCS(0) {
		t.Errorf("maxConcurrent 0 gives %d slots, want GOMAXPROCS", got)
	}
	if err := DefaultParams.check(); err != nil {
		t.Errorf("DefaultParams: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("NewHasher with zero Params did not panic")
		}
	}()
	NewHasher(Params{}, 1)
}

func assertCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := reel.ErrorCode(err); got != code {
		t.Errorf("%s: error %v has code %q, want %q", what, err, got, code)
	}
}

// BenchmarkVerifyDefault shows what one login costs in CPU time with the
// production params; the memory per run is DefaultParams.Memory.
func BenchmarkVerifyDefault(b *testing.B) {
	h := NewHasher(DefaultParams, 1)
	encoded, err := h.Hash(context.Background(), "password")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := h.Verify(context.Background(), "password", encoded); err != nil {
			b.Fatal(err)
		}
	}
}
