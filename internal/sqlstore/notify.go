package sqlstore

import (
	"context"
	"sync/atomic"
)

// NotifyFunc hears of what happened to a user (a message to them, a like
// or comment on their video, a new follower, a status change of their
// video): events.Bus.Publish without its answer.
type NotifyFunc func(ctx context.Context, userID int64, typ string, data any)

// notifyHook is set once, possibly while workers already run (the queue
// starts before serve wires its bus), hence atomic.
type notifyHook struct{ fn atomic.Pointer[NotifyFunc] }

// SetOnNotify registers fn to hear of every committed write that a user
// gets a live event for (GET /api/v1/events). It is called after the
// commit, only when a row was really written (a repeated like or follow
// tells nobody), never for what people do to themselves, and under a
// context that the request's end does not cancel.
func (db *DB) SetOnNotify(fn NotifyFunc) { db.notify.fn.Store(&fn) }

func (db *DB) notifyUser(ctx context.Context, userID int64, typ string, data any) {
	if fn := db.notify.fn.Load(); fn != nil && userID != 0 {
		(*fn)(context.WithoutCancel(ctx), userID, typ, data)
	}
}
