package upload

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// askingLocker's locks are asked to let go as soon as they are taken.
type askingLocker struct{}

func (askingLocker) NewLock(string) (handler.Lock, error) { return askingLock{}, nil }

type askingLock struct{}

func (askingLock) Lock(_ context.Context, requestRelease func()) error {
	requestRelease()
	return nil
}
func (askingLock) Unlock() error { return nil }

// A release request reaches the holder only once its request writes, and
// never after it unlocked; a request without a gate gets it at once.
func TestWriteGate(t *testing.T) {
	lockFor := func(ctx context.Context) (handler.Lock, chan struct{}) {
		t.Helper()
		lock, err := gated(askingLocker{}).NewLock("7-abc")
		if err != nil {
			t.Fatal(err)
		}
		asked := make(chan struct{}, 1)
		if err := lock.Lock(ctx, func() { asked <- struct{}{} }); err != nil {
			t.Fatal(err)
		}
		return lock, asked
	}
	wait := func(asked chan struct{}, want bool, what string) {
		t.Helper()
		// A request that must not arrive is given ample time to arrive anyway.
		timeout := 5 * time.Second
		if !want {
			timeout = 200 * time.Millisecond
		}
		select {
		case <-asked:
			if !want {
				t.Errorf("%s: the holder was asked to let go", what)
			}
		case <-time.After(timeout):
			if want {
				t.Errorf("%s: the holder was never asked to let go", what)
			}
		}
	}

	ctx := withWriteGate(httptest.NewRequest("PATCH", "/7-abc", nil)).Context()
	_, asked := lockFor(ctx)
	wait(asked, false, "before the request writes")
	beginWrite(ctx)
	wait(asked, true, "once the request writes")

	ctx = withWriteGate(httptest.NewRequest("HEAD", "/7-abc", nil)).Context()
	lock, asked := lockFor(ctx)
	if err := lock.Unlock(); err != nil {
		t.Fatal(err)
	}
	beginWrite(ctx)
	wait(asked, false, "after the unlock")

	_, asked = lockFor(context.Background())
	wait(asked, true, "a request without a gate")
}
