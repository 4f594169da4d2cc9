package upload

import (
	"runtime"

	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/reel-video/reel/internal/sqlstore"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// signal is a requestRelease that records its calls.
type signal struct {
	ch    chan struct{}
	calls atomic.Int32
}

func newSignal() *signal { return &signal{ch: make(chan struct{}, 1)} }

func (s *signal) fn() {
	if s.calls.Add(1) == 1 {
		close(s.ch)
	}
}

func (s *signal) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: requestRelease not called in 30 s", what)
	}
}

func lock(t *testing.T, l handler.Locker, id string) (handler.Lock, *signal) {
	t.Helper()
	k, err := l.NewLock(id)
	if err != nil {
		t.Fatal(err)
	}
	s := newSignal()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := k.Lock(ctx, s.fn); err != nil {
		t.Fatalf("Lock %s: %v", id, err)
	}
	return k, s
}

// lockAsync starts Lock in the background; the channel gets its result.
func lockAsync(t *testing.T, l handler.Locker, id string, timeout time.Duration) (handler.Lock, *signal, chan error) {
	t.Helper()
	k, err := l.NewLock(id)
	if err != nil {
		t.Fatal(err)
	}
	s := newSignal()
	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		res <- k.Lock(ctx, s.fn)
	}()
	return k, s, res
}

func result(t *testing.T, res chan error, what string) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: Lock did not return in 60 s", what)
		return nil
	}
}

// A request on one node waits for the holder on another: the holder is
// asked to let go, and the waiter gets the upload once it does.
func TestLeaseLockerHandOver(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		nodeA := NewLeaseLocker(sqltest.OpenDB(t, url), LeaseOptions{Renew: 50 * time.Millisecond, Poll: 10 * time.Millisecond})
		nodeB := NewLeaseLocker(sqltest.OpenDB(t, url), LeaseOptions{Renew: 50 * time.Millisecond, Poll: 10 * time.Millisecond})

		held, heldSig := lock(t, nodeA, "u1")
		other, _ := lock(t, nodeB, "u2") // another upload: no wait, no request
		waiter, _, res := lockAsync(t, nodeB, "u1", 60*time.Second)
		heldSig.wait(t, "holder on node A")
		select {
		case err := <-res:
			t.Fatalf("node B got the upload while node A holds it: %v", err)
		default:
		}
		if err := held.Unlock(); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		if err := result(t, res, "waiter on node B"); err != nil {
			t.Fatalf("waiter on node B: %v", err)
		}
		if err := waiter.Unlock(); err != nil {
			t.Fatal(err)
		}
		if err := other.Unlock(); err != nil {
			t.Fatal(err)
		}
		// Both released: node A takes the upload again at once.
		k, s := lock(t, nodeA, "u1")
		if err := k.Unlock(); err != nil {
			t.Fatal(err)
		}
		if n := s.calls.Load(); n != 0 {
			t.Errorf("a holder nobody waited for was asked %d times to let go", n)
		}
	})
}

// Requests of two nodes, and two requests of one node, never hold an
// upload at once.
func TestLeaseLockerExclusion(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		opts := LeaseOptions{Renew: 50 * time.Millisecond, Poll: 5 * time.Millisecond}
		nodes := []handler.Locker{NewLeaseLocker(sqltest.OpenDB(t, url), opts), NewLeaseLocker(sqltest.OpenDB(t, url), opts)}
		var inside, most, entries atomic.Int32
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				for range 5 {
					k, err := nodes[i%2].NewLock("u")
					if err != nil {
						t.Error(err)
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					err = k.Lock(ctx, func() {})
					cancel()
					if err != nil {
						t.Errorf("Lock: %v", err)
						return
					}
					n := inside.Add(1)
					if n > most.Load() {
						most.Store(n)
					}
					entries.Add(1)
					runtime.Gosched() // let the others try while it is held
					inside.Add(-1)
					if err := k.Unlock(); err != nil {
						t.Errorf("Unlock: %v", err)
					}
				}
			})
		}
		wg.Wait()
		if most.Load() != 1 || entries.Load() != 20 {
			t.Errorf("%d entries with at most %d holders at once; want 20 with 1", entries.Load(), most.Load())
		}
	})
}

// A request that cannot get the upload before its context ends gets
// tusd's ErrLockTimeout, and leaves the holder's lease alone.
func TestLeaseLockerTimeout(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		db := sqltest.OpenDB(t, url)
		l := NewLeaseLocker(db, LeaseOptions{Poll: 10 * time.Millisecond})
		held, _ := lock(t, l, "u")
		_, _, res := lockAsync(t, l, "u", 300*time.Millisecond)
		if err := result(t, res, "waiter"); !errors.Is(err, handler.ErrLockTimeout) {
			t.Errorf("waiter: %v, want ErrLockTimeout", err)
		}
		k, err := l.NewLock("free")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := k.Lock(ctx, func() {}); !errors.Is(err, handler.ErrLockTimeout) {
			t.Errorf("Lock with a context that has ended: %v, want ErrLockTimeout", err)
		}
		if ok, err := db.AcquireLease(t.Context(), "u", "probe", time.Minute); ok || err != nil {
			t.Errorf("the holder's lease ended with the waiter's timeout: %v, %v", ok, err)
		}
		if err := held.Unlock(); err != nil {
			t.Fatal(err)
		}
	})
}

// A node that dies holding an upload (its database handle gone, so no
// renewal and no release) keeps it only until the lease runs out; then a
// request on another node gets it. The dead node's request, if it still
// runs, is told to stop writing: it cannot know that it still holds it.
func TestLeaseLockerHolderDies(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		alive := sqltest.OpenDB(t, url)
		dying, err := sqlstore.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		opts := LeaseOptions{TTL: 2 * time.Second, Renew: 100 * time.Millisecond, Poll: 20 * time.Millisecond}
		dead, deadSig := lock(t, NewLeaseLocker(dying, opts), "u")
		if err := dying.Close(); err != nil {
			t.Fatal(err)
		}
		if ok, err := alive.AcquireLease(t.Context(), "u", "probe", time.Minute); ok || err != nil {
			t.Fatalf("the dead node's lease ended with it: %v, %v", ok, err)
		}
		waiter, _, res := lockAsync(t, NewLeaseLocker(alive, opts), "u", 60*time.Second)
		if err := result(t, res, "waiter"); err != nil {
			t.Fatalf("waiter after the holder died: %v", err)
		}
		deadSig.wait(t, "holder that lost its database")
		_ = dead.Unlock() // stops its renewals; its database is gone
		if err := waiter.Unlock(); err != nil {
			t.Fatal(err)
		}
	})
}

// A holder whose lease another took over (it paused past the lease's end)
// is told to stop, and its Unlock leaves the new holder's lease alone.
func TestLeaseLockerLost(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		db := sqltest.OpenDB(t, url)
		k, s := lock(t, NewLeaseLocker(db, LeaseOptions{TTL: time.Minute, Renew: 50 * time.Millisecond}), "u")
		if s.calls.Load() != 0 {
			t.Fatal("requestRelease called before anything happened")
		}
		// What a takeover leaves after the lease ran out: another holder.
		if _, err := db.SQL().ExecContext(t.Context(), "UPDATE upload_locks SET holder = 'next' WHERE id = 'u'"); err != nil {
			t.Fatal(err)
		}
		s.wait(t, "holder that lost its lease")
		if err := k.Unlock(); err != nil {
			t.Fatal(err)
		}
		var holder string
		if err := db.SQL().QueryRowContext(t.Context(), "SELECT holder FROM upload_locks WHERE id = 'u'").Scan(&holder); err != nil || holder != "next" {
			t.Errorf("after the old holder's Unlock the lease is held by %q (%v), want next", holder, err)
		}
	})
}

// A database that cannot serve is an error for the client to retry (503),
// not a lock timeout; here SQLite's write lock is held past busy_timeout.
func TestLeaseLockerUnavailable(t *testing.T) {
	url := sqltest.SQLiteURL(t)
	db := sqltest.OpenDB(t, url)
	blocker, err := sql.Open("sqlite", filepath.Clean(strings.TrimPrefix(url, "sqlite://")))
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	conn, err := blocker.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	k, err := NewLeaseLocker(db, LeaseOptions{}).NewLock("u")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err = k.Lock(ctx, func() {})
	var he handler.Error
	if !errors.As(err, &he) || he.HTTPResponse.StatusCode != http.StatusServiceUnavailable || he.HTTPResponse.Header["Retry-After"] == "" {
		t.Errorf("Lock on a busy database: %#v, want a 503 with Retry-After", err)
	}
}

// Two requests wait: whichever gets the upload first is asked in turn to
// let go, since the other still waits, and the other gets it after it.
func TestLeaseLockerTwoWaiters(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		opts := LeaseOptions{Renew: 50 * time.Millisecond, Poll: 10 * time.Millisecond}
		nodeA := NewLeaseLocker(sqltest.OpenDB(t, url), opts)
		nodeB := NewLeaseLocker(sqltest.OpenDB(t, url), opts)
		held, heldSig := lock(t, nodeA, "u")
		k1, s1, res1 := lockAsync(t, nodeB, "u", 60*time.Second)
		k2, s2, res2 := lockAsync(t, nodeA, "u", 60*time.Second)
		heldSig.wait(t, "first holder")
		if err := held.Unlock(); err != nil {
			t.Fatal(err)
		}
		var first, second handler.Lock
		var firstSig *signal
		var rest chan error
		select {
		case err := <-res1:
			first, firstSig, second, rest = k1, s1, k2, res2
			if err != nil {
				t.Fatalf("waiter on node B: %v", err)
			}
		case err := <-res2:
			first, firstSig, second, rest = k2, s2, k1, res1
			if err != nil {
				t.Fatalf("waiter on node A: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("neither waiter got the upload in 60 s")
		}
		firstSig.wait(t, "second holder, with a request still waiting")
		if err := first.Unlock(); err != nil {
			t.Fatal(err)
		}
		if err := result(t, rest, "last waiter"); err != nil {
			t.Fatalf("last waiter: %v", err)
		}
		if err := second.Unlock(); err != nil {
			t.Fatal(err)
		}
	})
}

// PostgreSQL out of reach (the network to it cut): a new request gets an
// error to retry (503), not a lock timeout, and a holder that cannot renew
// for a whole lease is told to stop, since another node may take over.
func TestLeaseLockerPostgresGone(t *testing.T) {
	u, err := neturl.Parse(sqltest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	sqltest.OpenDB(t, u.String()) // migrated directly
	p := startProxy(t, u.Host)
	u.Host = p.addr()
	q := u.Query()
	q.Set("connect_timeout", "5")
	u.RawQuery = q.Encode()
	db, err := sqlstore.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := NewLeaseLocker(db, LeaseOptions{TTL: time.Second, Poll: 10 * time.Millisecond})
	held, heldSig := lock(t, l, "held")
	defer held.Unlock()

	p.kill()
	k, err := l.NewLock("new")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err = k.Lock(ctx, func() {})
	var he handler.Error
	if !errors.As(err, &he) || he.HTTPResponse.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Lock with PostgreSQL out of reach: %#v, want a 503", err)
	}
	heldSig.wait(t, "holder that cannot renew")
}

// proxy forwards TCP connections to a server until killed, when it closes
// its listener and every connection, as a network that fails does.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	t.Cleanup(p.kill)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) kill() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// renewFailing is a lease store that grants leases and then cannot renew
// them, as a database out of reach; it counts the renewals tried.
type renewFailing struct{ renewals atomic.Int32 }

func (f *renewFailing) AcquireLease(context.Context, string, string, time.Duration) (bool, error) {
	return true, nil
}

func (f *renewFailing) RenewLease(context.Context, string, string, time.Duration) (bool, bool, error) {
	f.renewals.Add(1)
	return false, false, errors.New("database out of reach")
}

func (f *renewFailing) RequestRelease(context.Context, string) error       { return nil }
func (f *renewFailing) ReleaseLease(context.Context, string, string) error { return nil }

// A holder that cannot renew lets go two renewal periods before its lease
// can run out in the database, not when it does: tusd still sends the
// parts it buffered after requestRelease, and they must be sent while the
// lease is still this holder's. Renewals are tried every Renew from the
// lease's start, so the release comes by the (TTL/Renew − 2)th failure.
func TestLeaseLockerGivesUpBeforeTheLeaseRunsOut(t *testing.T) {
	f := &renewFailing{}
	opts := LeaseOptions{TTL: time.Second, Renew: 100 * time.Millisecond}
	k, err := NewLeaseLocker(f, opts).NewLock("u")
	if err != nil {
		t.Fatal(err)
	}
	// The count when the holder lets go: renewals go on until Unlock.
	at := make(chan int32, 1)
	if err := k.Lock(t.Context(), func() { at <- f.renewals.Load() }); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-at:
		if most := int32(opts.TTL/opts.Renew) - 2; n > most {
			t.Errorf("requestRelease after %d failed renewals, want at most %d", n, most)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("requestRelease not called in 30 s")
	}
	if err := k.Unlock(); err != nil {
		t.Fatal(err)
	}
}
