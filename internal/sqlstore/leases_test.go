package sqlstore_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
	"github.com/reel-video/reel/internal/testwait"
)

func TestLeaseContract(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := sqltest.OpenDB(t, url)
		acquire := func(id, holder string, ttl time.Duration) bool {
			t.Helper()
			ok, err := db.AcquireLease(ctx, id, holder, ttl)
			if err != nil {
				t.Fatalf("AcquireLease(%s, %s): %v", id, holder, err)
			}
			return ok
		}
		renew := func(id, holder string) (held, rr bool) {
			t.Helper()
			held, rr, err := db.RenewLease(ctx, id, holder, time.Minute)
			if err != nil {
				t.Fatalf("RenewLease(%s, %s): %v", id, holder, err)
			}
			return held, rr
		}

		if !acquire("u1", "a", time.Minute) {
			t.Fatal("a could not take a free lease")
		}
		if acquire("u1", "b", time.Minute) {
			t.Fatal("b took a lease that a holds")
		}
		if !acquire("u1", "a", time.Minute) {
			t.Error("a could not take again its own lease (a retry)")
		}
		if !acquire("u2", "b", time.Minute) {
			t.Error("b could not take the lease of another upload")
		}
		if held, rr := renew("u1", "a"); !held || rr {
			t.Errorf("a renews: held %v, release requested %v; want true, false", held, rr)
		}
		if held, _ := renew("u1", "b"); held {
			t.Error("b renewed a lease that a holds")
		}

		if err := db.RequestRelease(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		if err := db.RequestRelease(ctx, "u1"); err != nil { // asked twice: the same
			t.Fatal(err)
		}
		if held, rr := renew("u1", "a"); !held || !rr {
			t.Errorf("a renews after a request: held %v, release requested %v; want true, true", held, rr)
		}
		if held, rr := renew("u2", "b"); !held || rr {
			t.Errorf("the request reached another upload: held %v, release requested %v", held, rr)
		}
		if err := db.RequestRelease(ctx, "nobody-holds-this"); err != nil {
			t.Errorf("RequestRelease of a free upload: %v", err)
		}
		if !acquire("nobody-holds-this", "c", time.Minute) {
			t.Error("a request for a free upload kept it from being taken")
		}

		// Only the holder ends its lease.
		if err := db.ReleaseLease(ctx, "u1", "b"); err != nil {
			t.Fatal(err)
		}
		if acquire("u1", "b", time.Minute) {
			t.Fatal("b's release ended a's lease")
		}
		if err := db.ReleaseLease(ctx, "u1", "a"); err != nil {
			t.Fatal(err)
		}
		if !acquire("u1", "b", time.Minute) {
			t.Fatal("b could not take the lease that a released")
		}
		if held, rr := renew("u1", "b"); !held || rr {
			t.Errorf("b's new lease: held %v, release requested %v; want true, false (the request was for a)", held, rr)
		}
		if held, _ := renew("u1", "a"); held {
			t.Error("a still holds a lease it released")
		}
	})
}

// A lease that runs out is taken over, with a fresh release flag; its old
// holder then finds that it lost it, and cannot end the new holder's.
func TestLeaseExpiry(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := sqltest.OpenDB(t, url)
		const ttl = 200 * time.Millisecond
		if ok, err := db.AcquireLease(ctx, "u", "dead", ttl); !ok || err != nil {
			t.Fatalf("AcquireLease: %v, %v", ok, err)
		}
		if err := db.RequestRelease(ctx, "u"); err != nil {
			t.Fatal(err)
		}
		if ok, err := db.AcquireLease(ctx, "u", "next", time.Minute); ok || err != nil {
			t.Fatalf("a live lease was taken over: %v, %v", ok, err)
		}
		testwait.For(t, fmt.Sprintf("a lease of %v to be taken over", ttl), 10*time.Second, 20*time.Millisecond, func() bool {
			ok, err := db.AcquireLease(ctx, "u", "next", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		})
		held, rr, err := db.RenewLease(ctx, "u", "next", time.Minute)
		if err != nil || !held || rr {
			t.Errorf("the new holder renews: held %v, release requested %v, %v; want true, false", held, rr, err)
		}
		if held, _, err := db.RenewLease(ctx, "u", "dead", time.Minute); held || err != nil {
			t.Errorf("the old holder renews: held %v, %v; want false", held, err)
		}
		if err := db.ReleaseLease(ctx, "u", "dead"); err != nil {
			t.Fatal(err)
		}
		if ok, err := db.AcquireLease(ctx, "u", "third", time.Minute); ok || err != nil {
			t.Errorf("the old holder's release ended the new holder's lease: %v, %v", ok, err)
		}
	})
}

// Many nodes asking at once: exactly one gets the lease, on a free upload
// and on one whose lease ran out.
func TestLeaseRace(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		dbs := []*sqlstore.DB{sqltest.OpenDB(t, url), sqltest.OpenDB(t, url)} // two nodes
		if ok, err := dbs[0].AcquireLease(ctx, "expired", "dead", -time.Second); !ok || err != nil {
			t.Fatalf("AcquireLease: %v, %v", ok, err)
		}
		for _, id := range []string{"free", "expired"} {
			var wg sync.WaitGroup
			won := make([]bool, 8)
			errs := make([]error, len(won))
			for i := range won {
				wg.Go(func() { won[i], errs[i] = dbs[i%2].AcquireLease(ctx, id, fmt.Sprint("holder", i), time.Minute) })
			}
			wg.Wait()
			winners := 0
			for i := range won {
				if errs[i] != nil {
					t.Errorf("%s: holder %d: %v", id, i, errs[i])
				}
				if won[i] {
					winners++
				}
			}
			if winners != 1 {
				t.Errorf("%s: %d holders got the lease, want 1", id, winners)
			}
		}
	})
}

// The leases that ran out go; the others stay.
func TestDeleteExpiredLeases(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := sqltest.OpenDB(t, url)
		for _, l := range []struct {
			id  string
			ttl time.Duration
		}{{"live", time.Minute}, {"ran-out", -time.Second}, {"also-ran-out", -time.Minute}} {
			if ok, err := db.AcquireLease(ctx, l.id, "h", l.ttl); !ok || err != nil {
				t.Fatalf("AcquireLease(%s): %v, %v", l.id, ok, err)
			}
		}
		if n, err := db.DeleteExpiredLeases(ctx); n != 2 || err != nil {
			t.Errorf("DeleteExpiredLeases: %d, %v; want 2", n, err)
		}
		if held, _, err := db.RenewLease(ctx, "live", "h", time.Minute); !held || err != nil {
			t.Errorf("the live lease: held %v, %v", held, err)
		}
		if held, _, err := db.RenewLease(ctx, "ran-out", "h", time.Minute); held || err != nil {
			t.Errorf("a lease that ran out: held %v, %v; want gone", held, err)
		}
	})
}
