//go:build unix

package upload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// flockLocker locks an upload with flock(2) on its own info file, so that
// taking a lock writes nothing: on a full disk a DELETE still gets its lock
// (tusd's file locker writes a lock file, which fails with ENOSPC). The
// kernel drops the lock when its holder dies, so a killed node's uploads do
// not stay locked. Like tusd's file locker it lets a new request ask the
// holder to let go (a client resuming after a broken connection): the
// waiter creates an empty ".stop" file, which the holder polls for.
type flockLocker struct{ dir string }

// How often a waiter retries and a holder looks for a request to let go.
const (
	lockRetry   = 250 * time.Millisecond
	releasePoll = time.Second
)

func newLocker(dir string) handler.Locker { return flockLocker{dir} }

func (l flockLocker) NewLock(id string) (handler.Lock, error) {
	return &flockLock{info: filepath.Join(l.dir, id+".info"), stop: filepath.Join(l.dir, id+stopFileName)}, nil
}

type flockLock struct {
	info, stop string
	f          *os.File
	done       chan struct{}
}

func (l *flockLock) Lock(ctx context.Context, requestRelease func()) error {
	for {
		f, err := os.Open(l.info)
		if errors.Is(err, os.ErrNotExist) {
			return handler.ErrNotFound
		}
		if err != nil {
			return err
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			l.f = f
			break
		}
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if s, err := os.Create(l.stop); err == nil { // empty: fits on a full disk
			s.Close()
		}
		select {
		case <-ctx.Done():
			return handler.ErrLockTimeout
		case <-time.After(lockRetry):
		}
	}
	_ = os.Remove(l.stop) // our own request, now granted
	l.done = make(chan struct{})
	go func() {
		t := time.NewTicker(releasePoll)
		defer t.Stop()
		for {
			select {
			case <-l.done:
				return
			case <-t.C:
				if _, err := os.Stat(l.stop); err == nil {
					requestRelease()
					return
				}
			}
		}
	}()
	return nil
}

func (l *flockLock) Unlock() error {
	close(l.done)
	err := l.f.Close() // closing the only descriptor releases the lock
	// A waiter that is still there asks again at its next try.
	_ = os.Remove(l.stop)
	return err
}
