package sqlstore_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

func TestCreateUser(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := sqltest.OpenDB(t, url)

		before := time.Now().UTC().Truncate(time.Microsecond)
		u, err := db.CreateUser(ctx, "Alice", "hash-a")
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if u.ID <= 0 || u.ID > reel.MaxID {
			t.Errorf("ID = %d, want a positive id below 2^53", u.ID)
		}
		if u.Username != "Alice" {
			t.Errorf("Username = %q, want %q", u.Username, "Alice")
		}
		if u.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt is in %v, want UTC", u.CreatedAt.Location())
		}
		if u.CreatedAt.Before(before) || u.CreatedAt.After(time.Now()) || !u.CreatedAt.Equal(u.CreatedAt.Truncate(time.Microsecond)) {
			t.Errorf("CreatedAt = %v, want a microsecond-precise time after %v", u.CreatedAt, before)
		}
		zero := reel.User{ID: u.ID, Username: u.Username, CreatedAt: u.CreatedAt}
		if *u != zero {
			t.Errorf("new user = %+v, want zero counters, no avatar, not admin", u)
		}

		got, err := db.FindUserByID(ctx, u.ID, 0)
		if err != nil {
			t.Fatalf("FindUserByID: %v", err)
		}
		if *got != *u {
			t.Errorf("FindUserByID = %+v, want %+v", got, u)
		}

		other, err := db.CreateUser(ctx, "bob", "hash-b")
		if err != nil {
			t.Fatalf("CreateUser bob: %v", err)
		}
		if other.ID == u.ID {
			t.Errorf("two users share id %d", u.ID)
		}
		if got, err := db.FindUserByID(ctx, u.ID, other.ID); err != nil || got.IsFollowing {
			t.Errorf("FindUserByID as another viewer = %+v, %v; want alice, not followed", got, err)
		}
	})
}

func TestCreateUserTakenName(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := sqltest.OpenDB(t, url)
		if _, err := db.CreateUser(ctx, "Alice", "hash"); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"Alice", "alice", "ALICE"} {
			_, err := db.CreateUser(ctx, name, "hash")
			if code := reel.ErrorCode(err); code != reel.ECONFLICT {
				t.Errorf("CreateUser(%q) = %v (code %q), want %s", name, err, code, reel.ECONFLICT)
			}
			if want := fmt.Sprintf("username %q is taken", name); reel.ErrorMessage(err) != want {
				t.Errorf("message = %q, want %q", reel.ErrorMessage(err), want)
			}
		}
	})
}

func TestCreateUserConcurrently(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := sqltest.OpenDB(t, url)

		errs := make([]error, 20)
		var wg sync.WaitGroup
		for i := range errs {
			name := "racer"
			if i%2 == 1 {
				name = strings.ToUpper(name)
			}
			wg.Go(func() { _, errs[i] = db.CreateUser(ctx, name, "hash") })
		}
		wg.Wait()

		created := 0
		for _, err := range errs {
			switch reel.ErrorCode(err) {
			case "":
				created++
			case reel.ECONFLICT:
			default:
				t.Errorf("CreateUser: %v", err)
			}
		}
		if created != 1 {
			t.Errorf("%d of %d concurrent sign-ups succeeded, want exactly 1", created, len(errs))
		}
	})
}

func TestFindUserByIDUnknown(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		db := sqltest.OpenDB(t, url)
		_, err := db.FindUserByID(t.Context(), 42, 0)
		if code := reel.ErrorCode(err); code != reel.ENOTFOUND {
			t.Fatalf("FindUserByID(42) = %v (code %q), want %s", err, code, reel.ENOTFOUND)
		}
		if got, want := reel.ErrorMessage(err), "user 42 not found"; got != want {
			t.Errorf("message = %q, want %q", got, want)
		}
	})
}

func TestFindCredentials(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := sqltest.OpenDB(t, url)
		u, err := db.CreateUser(ctx, "Carol", "hash-c")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateUser(ctx, "dave", "hash-d"); err != nil {
			t.Fatal(err)
		}

		want := reel.Credentials{UserID: u.ID, Username: "Carol", PasswordHash: "hash-c"}
		for _, name := range []string{"Carol", "carol", "CAROL"} {
			got, err := db.FindCredentials(ctx, name)
			if err != nil {
				t.Fatalf("FindCredentials(%q): %v", name, err)
			}
			if *got != want {
				t.Errorf("FindCredentials(%q) = %+v, want %+v", name, got, want)
			}
		}

		for _, name := range []string{"nobody", "Caro", "carol2", "%"} {
			_, err := db.FindCredentials(ctx, name)
			if code := reel.ErrorCode(err); code != reel.ENOTFOUND {
				t.Errorf("FindCredentials(%q) = %v (code %q), want %s", name, err, code, reel.ENOTFOUND)
			}
		}
	})
}

func TestSetAdmin(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := sqltest.OpenDB(t, url)
		u, err := db.CreateUser(ctx, "Erin", "hash")
		if err != nil {
			t.Fatal(err)
		}
		bystander, err := db.CreateUser(ctx, "frank", "hash")
		if err != nil {
			t.Fatal(err)
		}

		isAdmin := func(id int64) bool {
			t.Helper()
			got, err := db.FindUserByID(ctx, id, 0)
			if err != nil {
				t.Fatalf("FindUserByID: %v", err)
			}
			return got.IsAdmin
		}
		if err := db.SetAdmin(ctx, "ERIN", true); err != nil {
			t.Fatalf("SetAdmin(true): %v", err)
		}
		if !isAdmin(u.ID) {
			t.Error("erin is not an admin after SetAdmin(true)")
		}
		if isAdmin(bystander.ID) {
			t.Error("frank became an admin too")
		}
		if err := db.SetAdmin(ctx, "erin", false); err != nil {
			t.Fatalf("SetAdmin(false): %v", err)
		}
		if isAdmin(u.ID) {
			t.Error("erin is still an admin after SetAdmin(false)")
		}

		err = db.SetAdmin(ctx, "nobody", true)
		if code := reel.ErrorCode(err); code != reel.ENOTFOUND {
			t.Errorf("SetAdmin(unknown) = %v (code %q), want %s", err, code, reel.ENOTFOUND)
		}
	})
}
