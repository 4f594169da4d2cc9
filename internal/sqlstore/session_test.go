package sqlstore_test

import (
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// Unicode usernames are stored NFC and unique by reel.UsernameKey on both
// engines: one account for every case and normal form of a name.
func TestUnicodeUsernames(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := sqltest.OpenDB(t, url)
		for _, name := range []string{"张三丰", "jose\u0301", "Alice", "Straße", "ａｂｃ"} {
			if _, err := db.CreateUser(ctx, name, "hash"); err != nil {
				t.Fatalf("CreateUser(%q): %v", name, err)
			}
		}
		u, err := db.FindCredentials(ctx, "JOSÉ")
		if err != nil || u.Username != "josé" {
			t.Fatalf("FindCredentials(JOSÉ) = %+v, %v; want the NFC name josé", u, err)
		}
		for _, taken := range []string{"张三丰", "josé", "JOSE\u0301", "alice", "ALICE", "STRASSE", "abc", "ABC"} {
			if _, err := db.CreateUser(ctx, taken, "hash"); reel.ErrorCode(err) != reel.ECONFLICT {
				t.Errorf("CreateUser(%q) = %v, want conflict", taken, err)
			}
			if _, err := db.FindCredentials(ctx, taken); err != nil {
				t.Errorf("FindCredentials(%q): %v", taken, err)
			}
		}
		if _, err := db.FindCredentials(ctx, "jose"); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("FindCredentials(jose) = %v, want not found: the accent is not case", err)
		}
		if err := db.SetAdmin(ctx, "ALICE", true); err != nil {
			t.Errorf("SetAdmin(ALICE): %v", err)
		}
	})
}

// Rows written before migration 00005 (ASCII names, unique by lower()) get
// their keys: they are found in any case, and their names stay taken.
func TestUsernameKeyMigration(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.MigrateTo(ctx, 4); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"Alice_1", "BOB.x"} {
			if _, err := db.Writer().NewRaw("INSERT INTO users (username, password_hash, created_at) VALUES (?, 'h', ?)",
				name, time.Now().UTC()).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate existing rows: %v", err)
		}
		for _, name := range []string{"alice_1", "ALICE_1", "bob.X"} {
			if _, err := db.FindCredentials(ctx, name); err != nil {
				t.Errorf("FindCredentials(%q) after migration: %v", name, err)
			}
		}
		if _, err := db.CreateUser(ctx, "alice_1", "h"); reel.ErrorCode(err) != reel.ECONFLICT {
			t.Errorf("CreateUser(alice_1) after migration = %v, want conflict", err)
		}
	})
}

func TestSessions(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := sqltest.OpenDB(t, url)
		alice, err := db.CreateUser(ctx, "alice", "old-hash")
		if err != nil {
			t.Fatal(err)
		}
		bob, err := db.CreateUser(ctx, "bob", "hash")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		create := func(id string, user int64, expires time.Time) {
			t.Helper()
			if err := db.CreateSession(ctx, reel.Session{ID: id, UserID: user, CreatedAt: now, ExpiresAt: expires}); err != nil {
				t.Fatalf("CreateSession(%s): %v", id, err)
			}
		}
		live := func(id string) bool {
			t.Helper()
			s, err := db.FindSession(ctx, id)
			if reel.ErrorCode(err) == reel.ENOTFOUND {
				return false
			}
			if err != nil {
				t.Fatalf("FindSession(%s): %v", id, err)
			}
			if s.ID != id || s.CreatedAt.IsZero() || s.ExpiresAt.Before(now) {
				t.Errorf("FindSession(%s) = %+v", id, s)
			}
			return true
		}
		week := now.Add(7 * 24 * time.Hour)
		for _, id := range []string{"a1", "a2", "a3", "a4"} {
			create(id, alice.ID, week)
		}
		create("b1", bob.ID, week)
		create("gone", bob.ID, now.Add(-time.Second))

		if s, err := db.FindSession(ctx, "a1"); err != nil || s.UserID != alice.ID || !s.ExpiresAt.Equal(week) {
			t.Fatalf("FindSession(a1) = %+v, %v", s, err)
		}
		if live("gone") || live("never") {
			t.Error("an expired or unknown session is live")
		}

		// Signing out ends one session, and only one's own.
		if err := db.DeleteSession(ctx, bob.ID, "a1"); err != nil {
			t.Fatal(err)
		}
		if !live("a1") {
			t.Error("bob ended alice's session")
		}
		if err := db.DeleteSession(ctx, alice.ID, "a1"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteSession(ctx, alice.ID, "a1"); err != nil {
			t.Errorf("ending an ended session: %v", err)
		}
		if live("a1") || !live("a2") {
			t.Error("DeleteSession ended the wrong sessions")
		}

		// A password change keeps only the session that made it.
		if err := db.SetPassword(ctx, alice.ID, "new-hash", "a2"); err != nil {
			t.Fatal(err)
		}
		if !live("a2") || live("a3") || live("a4") || !live("b1") {
			t.Error("SetPassword ended the wrong sessions")
		}
		if c, err := db.FindCredentials(ctx, "alice"); err != nil || c.PasswordHash != "new-hash" {
			t.Errorf("credentials after SetPassword = %+v, %v", c, err)
		}
		if err := db.SetPassword(ctx, 999999, "x", ""); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("SetPassword of an unknown user = %v, want not found", err)
		}

		// Signing out everywhere.
		create("a5", alice.ID, week)
		if err := db.DeleteSessions(ctx, alice.ID, ""); err != nil {
			t.Fatal(err)
		}
		if live("a2") || live("a5") || !live("b1") {
			t.Error("DeleteSessions ended the wrong sessions")
		}

		// Purging removes expired rows only.
		n, err := db.PurgeSessions(ctx, now)
		if err != nil || n != 1 {
			t.Errorf("PurgeSessions = %d, %v; want the one expired session", n, err)
		}
		if !live("b1") {
			t.Error("PurgeSessions removed a live session")
		}
	})
}

// A sign-up stores the user and its first session together: when the
// session cannot be stored (here its id is taken), no account is left
// behind, so the name is still free for the retry; when it can, the
// session belongs to the new user.
func TestCreateUserSession(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := sqltest.OpenDB(t, url)
		other, err := db.CreateUser(ctx, "other", "hash")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Second)
		taken := reel.Session{ID: "taken-session", UserID: other.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateSession(ctx, taken); err != nil {
			t.Fatal(err)
		}
		s := reel.Session{ID: taken.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if _, err := db.CreateUserSession(ctx, "Alice", "hash", s); err == nil {
			t.Fatal("a session with a taken id was stored")
		}
		if _, err := db.FindCredentials(ctx, "alice"); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Fatalf("the failed sign-up left an account: %v", err)
		}
		s.ID = "fresh-session"
		u, err := db.CreateUserSession(ctx, "Alice", "hash", s)
		if err != nil {
			t.Fatalf("the retry: %v", err)
		}
		if u.ID == 0 || u.Username != "Alice" {
			t.Errorf("created %+v", u)
		}
		got, err := db.FindSession(ctx, s.ID)
		if err != nil || got.UserID != u.ID {
			t.Errorf("session = %+v, %v; want one of user %d", got, err, u.ID)
		}
		if _, err := db.CreateUserSession(ctx, "ALICE", "hash", reel.Session{ID: "third", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); reel.ErrorCode(err) != reel.ECONFLICT {
			t.Errorf("a taken name: %v, want ECONFLICT", err)
		}
		if _, err := db.FindSession(ctx, "third"); reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("the refused sign-up stored its session: %v", err)
		}
	})
}
