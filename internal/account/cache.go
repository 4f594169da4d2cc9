package account

import (
	"sync"
	"time"
)

// sessionCache remembers briefly what the store said about sessions, so a
// client's burst of requests costs one read. Changes made on this node
// update it at once; those of other nodes are seen within ttl.
type sessionCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[string]cached
	// epoch counts invalidations. A read of the store that began before
	// one may have seen the session before it ended, so its result is not
	// kept (see put).
	epoch uint64
}

type cached struct {
	owner int64 // the session's user; 0 when it has ended
	at    time.Time
}

func newSessionCache(ttl time.Duration, max int) *sessionCache {
	return &sessionCache{ttl: ttl, max: max, entries: map[string]cached{}}
}

// get returns the owner of session id if it was read less than ttl ago;
// otherwise ok is false and epoch is what to hand put with the fresh read.
func (c *sessionCache) get(id string, now time.Time) (owner int64, epoch uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || now.Sub(e.at) >= c.ttl || now.Before(e.at) {
		return 0, c.epoch, false
	}
	return e.owner, c.epoch, true
}

// put remembers a read of the store that began at epoch, unless this node
// has ended sessions since: then the read may be stale, and it is dropped.
func (c *sessionCache) put(id string, owner int64, now time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return
	}
	c.putLocked(id, owner, now)
}

// ended records that this node ended session id.
func (c *sessionCache) ended(id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.putLocked(id, 0, now)
}

func (c *sessionCache) putLocked(id string, owner int64, now time.Time) {
	if len(c.entries) >= c.max {
		c.sweepLocked(now)
		if len(c.entries) >= c.max {
			// All fresh: a flood of sessions. Forgetting costs only reads.
			clear(c.entries)
		}
	}
	c.entries[id] = cached{owner: owner, at: now}
}

// dropUser forgets every session of userID but keep, so that the next
// request of each reads the store again.
func (c *sessionCache) dropUser(userID int64, keep string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for id, e := range c.entries {
		if e.owner == userID && id != keep {
			delete(c.entries, id)
		}
	}
}

func (c *sessionCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked(now)
}

func (c *sessionCache) sweepLocked(now time.Time) {
	for id, e := range c.entries {
		if now.Sub(e.at) >= c.ttl {
			delete(c.entries, id)
		}
	}
}
