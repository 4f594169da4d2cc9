package upload

import (
	"context"
	"net/http"
	"strconv"
	"sync"
)

// A user's pending bytes (REEL_USER_PENDING_BYTES) are the declared sizes
// of their unfinished uploads in the upload area: its .info files (or
// objects). tusd writes an upload's .info only after the pre-create hook
// has admitted it, so parallel creations would not see each other in the
// area. Each creation therefore counts and reserves its size under a
// per-user lock, and keeps the reservation until its request ends, by when
// its .info exists (or it failed and never will). The reservations are this
// node's: on an area shared by several nodes, creations running at the
// same instant on two nodes may each miss the other's.

// creations holds, per user, the lock of the pending check and the sizes
// reserved by the creations under way on this node.
type creations struct {
	mu    sync.Mutex
	users map[int64]*userCreations
}

type userCreations struct {
	// mu is held from the count of pending bytes until the new upload's
	// size is reserved; it guards sizes.
	mu    sync.Mutex
	sizes map[string]int64 // upload id → declared size
	refs  int              // holders of mu and reservations; guarded by creations.mu
}

// enter locks uid's creations, making their entry when needed.
func (c *creations) enter(uid int64) *userCreations {
	c.mu.Lock()
	if c.users == nil {
		c.users = map[int64]*userCreations{}
	}
	u := c.users[uid]
	if u == nil {
		u = &userCreations{sizes: map[string]int64{}}
		c.users[uid] = u
	}
	u.refs++
	c.mu.Unlock()
	u.mu.Lock()
	return u
}

// leave unlocks what enter locked; the entry goes with its last holder.
func (c *creations) leave(uid int64, u *userCreations) {
	u.mu.Unlock()
	c.unref(uid, u)
}

func (c *creations) unref(uid int64, u *userCreations) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u.refs--; u.refs == 0 {
		delete(c.users, uid)
	}
}

// reserve records, under u's lock, that upload id of size bytes is being
// created; the request's creation drops it when the request ends.
func (c *creations) reserve(ctx context.Context, uid int64, u *userCreations, id string, size int64) {
	cr, _ := ctx.Value(creationKey{}).(*creation)
	if cr == nil {
		return // not through guard: nothing would drop it
	}
	u.sizes[id] = max(size, 0)
	c.mu.Lock()
	u.refs++
	c.mu.Unlock()
	cr.uid, cr.id, cr.held = uid, id, u
}

type creationKey struct{}

// creation is the reservation a creation request holds, if any.
type creation struct {
	uid  int64
	id   string
	held *userCreations
}

// creating gives a creation request a place for its reservation and
// returns the function that drops it, to be called when the request ends.
func (c *creations) creating(r *http.Request) (*http.Request, func()) {
	cr := &creation{}
	return r.WithContext(context.WithValue(r.Context(), creationKey{}, cr)), func() {
		if cr.held == nil {
			return
		}
		cr.held.mu.Lock()
		delete(cr.held.sizes, cr.id)
		cr.held.mu.Unlock()
		c.unref(cr.uid, cr.held)
	}
}

// pending sums the declared sizes of uid's unfinished uploads in the area:
// every part of a concatenation, every whole upload not complete yet, and
// the creations under way (reserved; their .info, once written, is not
// counted twice). The caller holds u's lock. Upload ids start with their
// owner's id, so only the owner's are read.
func (t *tus) pending(ctx context.Context, uid int64, u *userCreations) (int64, error) {
	ids, err := t.cfg.Area.ids(ctx, strconv.FormatInt(uid, 10)+"-")
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, size := range u.sizes {
		sum += size
	}
	for _, id := range ids {
		if _, reserved := u.sizes[uploadName(id)]; reserved {
			continue
		}
		info, err := t.info(ctx, id)
		if err != nil {
			continue // removed meanwhile
		}
		if info.IsPartial || info.Offset < info.Size {
			sum += info.Size
		}
	}
	return sum, nil
}
