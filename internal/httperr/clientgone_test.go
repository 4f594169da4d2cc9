package httperr

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"
)

// TestClientGoneAtDeadline: a request cancelled before its deadline lost
// its client; one cancelled once its deadline passed (net/http cancels it
// when the connection's read deadline, set to the same bound, passes) timed
// out, and its client is still there to be told.
func TestClientGoneAtDeadline(t *testing.T) {
	err := errors.New("find session: context canceled")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if !ClientGone(httptest.NewRequest("GET", "/", nil).WithContext(ctx), err) {
		t.Error("a cancelled request without a deadline: not gone")
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Hour)
	cancel()
	if !ClientGone(httptest.NewRequest("GET", "/", nil).WithContext(ctx), err) {
		t.Error("a request cancelled before its deadline: not gone")
	}
	// Cancelled (Err is Canceled) with a deadline that has passed since.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	ctx = pastDeadline{ctx}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("context: %v", ctx.Err())
	}
	if ClientGone(httptest.NewRequest("GET", "/", nil).WithContext(ctx), err) {
		t.Error("a request cancelled past its deadline: gone")
	}
}

// pastDeadline is a cancelled context whose deadline has passed, as the
// context of a request net/http cancelled at its deadline.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Second), true }
