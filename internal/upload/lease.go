package upload

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// LeaseStore keeps leases on uploads where every node sees them: the
// database (*sqlstore.DB). Expiry is the store's business, by its own
// clock; ttl is how long a lease lasts from the moment the store writes it.
type LeaseStore interface {
	// AcquireLease makes holder the holder of upload id, unless another
	// holds a lease that has not run out.
	AcquireLease(ctx context.Context, id, holder string, ttl time.Duration) (bool, error)
	// RenewLease extends holder's lease; held is false when another holder
	// took it over, releaseRequested when a request waits for it.
	RenewLease(ctx context.Context, id, holder string, ttl time.Duration) (held, releaseRequested bool, err error)
	// RequestRelease asks the holder of upload id to let go.
	RequestRelease(ctx context.Context, id string) error
	// ReleaseLease ends holder's lease, and nobody else's.
	ReleaseLease(ctx context.Context, id, holder string) error
}

// LeaseOptions tune NewLeaseLocker; zero values take the defaults.
type LeaseOptions struct {
	// TTL is how long a lease outlives its holder's last renewal: a node
	// that was killed keeps its uploads locked for at most this long.
	// Keep it below tusd's AcquireLockTimeout (20 s), so that the retry of
	// a client waits it out instead of failing. Default DefaultLeaseTTL.
	TTL time.Duration
	// Renew is how often the holder renews its lease, and so how soon it
	// hears that another request waits for the upload. At most TTL/3.
	// Default DefaultLeaseRenew.
	Renew time.Duration
	// Poll is how often a request waiting for an upload tries again.
	// Default DefaultLeasePoll.
	Poll time.Duration
}

// The defaults of LeaseOptions.
const (
	DefaultLeaseTTL   = 10 * time.Second
	DefaultLeaseRenew = time.Second
	DefaultLeasePoll  = 100 * time.Millisecond
)

// NewLeaseLocker returns tusd's locker for nodes that share no disk: a
// lock is a lease in store that its holder renews while it serves the
// request. A request that finds the upload held asks the holder, through
// the store, to let go (tusd then stops the holder's PATCH and unlocks),
// and waits; a holder that died stops renewing, and its lease runs out.
func NewLeaseLocker(store LeaseStore, opts LeaseOptions) handler.Locker {
	if opts.TTL <= 0 {
		opts.TTL = DefaultLeaseTTL
	}
	if opts.Renew <= 0 {
		opts.Renew = DefaultLeaseRenew
	}
	opts.Renew = min(opts.Renew, opts.TTL/3)
	if opts.Poll <= 0 {
		opts.Poll = DefaultLeasePoll
	}
	// Each lock has a holder of its own, so that two requests of one
	// node exclude each other too; the random part tells nodes apart.
	return &leaseLocker{store: store, opts: opts, node: rand.Text()[:13]}
}

type leaseLocker struct {
	store LeaseStore
	opts  LeaseOptions
	node  string
	locks atomic.Uint64
}

func (l *leaseLocker) NewLock(id string) (handler.Lock, error) {
	return &leaseLock{l: l, id: id, holder: fmt.Sprintf("%s-%d", l.node, l.locks.Add(1))}, nil
}

type leaseLock struct {
	l          *leaseLocker
	id, holder string
	stop, done chan struct{} // of the renewals, while the lock is held
}

func (k *leaseLock) Lock(ctx context.Context, requestRelease func()) error {
	store, opts := k.l.store, k.l.opts
	var asked time.Time
	for {
		// The lease runs from when the store writes it, which is after
		// this: counting from here errs on the safe side.
		start := time.Now()
		ok, err := store.AcquireLease(ctx, k.id, k.holder, opts.TTL)
		if err != nil {
			return k.failed(ctx, err)
		}
		if ok {
			k.stop, k.done = make(chan struct{}), make(chan struct{})
			go k.renew(start, requestRelease)
			return nil
		}
		// Asked again each renewal period: another waiter may take the
		// upload first, and its holder must hear the request too. Asking
		// more often gains nothing: a holder reads it when it renews.
		if time.Since(asked) >= opts.Renew {
			if err := store.RequestRelease(ctx, k.id); err != nil {
				return k.failed(ctx, err)
			}
			asked = time.Now()
		}
		// Jitter keeps the waiters of several nodes from asking in step.
		wait := opts.Poll + mrand.N(opts.Poll/4+1)
		select {
		case <-ctx.Done():
			return handler.ErrLockTimeout
		case <-time.After(wait):
		}
	}
}

// failed answers an error of the store while acquiring: the end of ctx is
// tusd's timeout; anything else is an error that the client hears through
// the one error writer (a database that is down is 503, to retry).
func (k *leaseLock) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		// The lease may have been written before the context ended: drop
		// it rather than keep the upload from the client's retry.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.l.opts.Renew)
		defer cancel()
		_ = k.l.store.ReleaseLease(rctx, k.id, k.holder)
		return handler.ErrLockTimeout
	}
	// ctx is the request's: its id and logger go with the error to the
	// log; a locker does not know the request's method and path.
	return tusAnswer(&handler.HookEvent{Context: ctx}, err)
}

// renew keeps the lease while the lock is held, and calls requestRelease
// (once) when another request waits for the upload, and also when the
// lease is lost or may be: taken over by another node after it ran out
// (a long pause of this process), or not renewed for a whole TTL (the
// database out of reach). tusd then ends the request, which stops writing.
func (k *leaseLock) renew(since time.Time, requestRelease func()) {
	defer close(k.done)
	store, opts := k.l.store, k.l.opts
	release := sync.OnceFunc(requestRelease)
	t := time.NewTicker(opts.Renew)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), opts.Renew)
		held, requested, err := store.RenewLease(ctx, k.id, k.holder, opts.TTL)
		cancel()
		switch {
		case err != nil:
			if time.Since(since) >= opts.TTL {
				release()
			}
		case !held || requested:
			release()
		default:
			since = start
		}
	}
}

func (k *leaseLock) Unlock() error {
	if k.stop == nil {
		return nil // never locked
	}
	close(k.stop)
	<-k.done
	k.stop = nil
	ctx, cancel := context.WithTimeout(context.Background(), k.l.opts.TTL)
	defer cancel()
	return k.l.store.ReleaseLease(ctx, k.id, k.holder)
}
