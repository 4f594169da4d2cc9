package upload

import (
	"context"
	"net/http"
	"sync"

	"github.com/tus/tusd/v2/pkg/handler"
)

// tusd v2.10.0 answers a lock's release request by cancelling the holder's
// request, and a goroutine of its own then closes the PATCH body that the
// handler stored when it began writing the chunk; nothing orders the two
// (the race detector reports it whenever a release is requested from
// another goroutine, as every cross-request locker does). The write gate
// orders them: a release request reaches tusd only once the holder's
// request has begun writing, which the store tells the gate from inside
// WriteChunk, after tusd stored the body; a request that never writes (a
// HEAD, a creation without data) ends soon by itself and is never asked.

type writeGateKey struct{}

// writeGate is one request's: began closes when it starts writing a chunk.
type writeGate struct {
	once  sync.Once
	began chan struct{}
}

// withWriteGate gives r a write gate, seen by the lock it takes and by the
// store it writes through (both get contexts derived from r's).
func withWriteGate(r *http.Request) *http.Request {
	g := &writeGate{began: make(chan struct{})}
	return r.WithContext(context.WithValue(r.Context(), writeGateKey{}, g))
}

// beginWrite opens the gate of the request of ctx, if it has one.
func beginWrite(ctx context.Context) {
	if g, ok := ctx.Value(writeGateKey{}).(*writeGate); ok {
		g.once.Do(func() { close(g.began) })
	}
}

// gated wraps a locker so that its release requests pass the write gate.
func gated(l handler.Locker) handler.Locker { return gatedLocker{l} }

type gatedLocker struct{ handler.Locker }

func (l gatedLocker) NewLock(id string) (handler.Lock, error) {
	lock, err := l.Locker.NewLock(id)
	if err != nil {
		return nil, err
	}
	return &gatedLock{inner: lock, done: make(chan struct{})}, nil
}

type gatedLock struct {
	inner  handler.Lock
	ask    sync.Once
	unlock sync.Once
	done   chan struct{} // closed by Unlock: a pending request is dropped
}

func (l *gatedLock) Lock(ctx context.Context, requestRelease func()) error {
	g, ok := ctx.Value(writeGateKey{}).(*writeGate)
	if !ok {
		return l.inner.Lock(ctx, requestRelease)
	}
	return l.inner.Lock(ctx, func() {
		l.ask.Do(func() {
			go func() {
				select {
				case <-g.began:
					select {
					case <-l.done: // unlocked meanwhile: no one to ask
					default:
						requestRelease()
					}
				case <-l.done:
				}
			}()
		})
	})
}

func (l *gatedLock) Unlock() error {
	l.unlock.Do(func() { close(l.done) })
	return l.inner.Unlock()
}
