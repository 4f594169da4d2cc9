package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/clientaddr"
	"github.com/reel-video/reel/internal/upload"
)

// Admission bounds what uploads may take from this node and from the
// shared database. Every upload route (multipart /api/v1/videos, the Douyin
// publish action, tus creation and finish) asks Admit before it stores a
// byte, so each rule is written here once. The zero value admits
// everything but still bounds anonymous uploads (DefaultMaxAnonymous).
type Admission struct {
	// MaxQueued refuses new uploads with 503 while this many videos wait
	// for a worker (0: no limit). Admit only checks early; the store
	// enforces it atomically when the job is enqueued (FinishUpload).
	MaxQueued int
	// QuotaBytes bounds the originals a user keeps (0: unlimited). Admit
	// and Publish only check early, to refuse before the body or the
	// probe; the store decides atomically when the upload is finished
	// (FinishUpload, with the same limit), so parallel uploads cannot all
	// fit under it.
	QuotaBytes int64
	// PendingBytes bounds the declared sizes of a user's unfinished tus
	// uploads (0: unlimited).
	PendingBytes int64
	// MinFreeBytes is the free space every upload must leave on the file
	// systems it is written to.
	MinFreeBytes int64
	// Dirs are the local directories uploads are written to (incoming
	// multipart files, tus uploads, a local blob store): each must keep
	// MinFreeBytes free after the upload.
	Dirs []string
	// TusBuffered is true when tus uploads pass through this node only as
	// the few parts buffered on their way to a remote store (S3): their
	// declared size is then not needed free in Dirs, only the reserve.
	TusBuffered bool
	// MaxAnonymous bounds the uploads one client address may have in flight
	// before it has shown a token (0: DefaultMaxAnonymous).
	MaxAnonymous int
}

// DefaultMaxAnonymous is how many uploads one address may stream before it
// is known who sends them: enough for a phone that retries while an
// earlier attempt still drains, too few to fill a disk in parallel.
const DefaultMaxAnonymous = 2

// Usage reports what a user stores, for the quota.
type Usage interface {
	// StoredBytes sums the sizes of the user's originals that are kept (every
	// video whose upload has finished).
	StoredBytes(ctx context.Context, userID int64) (int64, error)
}

// Request is one upload asking to be admitted.
type Request struct {
	UserID int64 // 0 while the sender is unknown (Douyin: token after the file)
	// Size is the declared size in bytes (Upload-Length, Content-Length), or
	// -1 when the client did not declare one.
	Size int64
	// Pending is the declared size of the user's other unfinished tus
	// uploads, or -1 for a route without them (multipart).
	Pending int64
	// Tus is true for a tus upload (whole or a part of a concatenation).
	Tus bool
	// Job is true when the upload will be queued for processing once
	// stored (every whole upload; not a part of a tus concatenation).
	Job bool
}

// The Retry-After, in seconds, of the refusals for lack of capacity:
// queues drain, probes and uploads finish within seconds.
const (
	queueRetryAfter = 30
	busyRetryAfter  = 5
	anonRetryAfter  = 10
)

// Admit answers nil when the upload may start: the processing queue has
// room, the user's quota and pending caps hold, and the declared size fits
// on disk. Refusals are *reel.Error: 503 unavailable (with RetryAfter),
// 413 quota_exceeded, 507 insufficient_storage.
func (p *Publisher) Admit(ctx context.Context, r Request) error {
	a := &p.Admission
	if r.Job && a.MaxQueued > 0 {
		n, err := p.Videos.QueuedJobs(ctx)
		if err != nil {
			return err
		}
		if n >= a.MaxQueued {
			return QueueFull(n)
		}
	}
	local := r.Size
	if r.Tus && a.TusBuffered {
		local = -1
	}
	if err := p.checkDisk(local); err != nil {
		return err
	}
	if r.UserID != 0 && a.PendingBytes > 0 && r.Pending >= 0 && r.Pending+max(r.Size, 0) > a.PendingBytes {
		return reel.Errorf(reel.EQUOTA, "your unfinished uploads would hold %d bytes, above the %d-byte limit: finish or delete some first",
			r.Pending+max(r.Size, 0), a.PendingBytes)
	}
	return p.checkQuota(ctx, r.UserID, max(r.Size, 0))
}

// checkQuota refuses size more bytes of originals for userID when they would
// exceed the quota: the early check, which parallel uploads can all pass;
// FinishUpload's is the one that holds.
func (p *Publisher) checkQuota(ctx context.Context, userID, size int64) error {
	a := &p.Admission
	if userID == 0 || a.QuotaBytes <= 0 {
		return nil
	}
	if p.Usage == nil {
		return errors.New("publish: a quota is set but no Usage is connected")
	}
	used, err := p.Usage.StoredBytes(ctx, userID)
	if err != nil {
		return err
	}
	if used+size > a.QuotaBytes {
		return reel.Errorf(reel.EQUOTA, "this upload would bring your videos to %d bytes, above your %d-byte quota: delete some first",
			used+size, a.QuotaBytes)
	}
	return nil
}

// checkDisk refuses an upload of size bytes (-1: unknown, only the reserve
// is checked) that would leave less than MinFreeBytes on any upload file
// system.
func (p *Publisher) checkDisk(size int64) error {
	for _, dir := range p.Admission.Dirs {
		free, err := FreeBytes(dir)
		if err != nil {
			continue // no answer from statfs: the write itself will tell
		}
		if free-max(size, 0) < p.Admission.MinFreeBytes {
			return upload.ErrNoSpace()
		}
	}
	return nil
}

// DiskReady answers an error when a directory uploads are written to has
// less than MinFreeBytes free, for /readyz.
func (p *Publisher) DiskReady(context.Context) error {
	for _, dir := range p.Admission.Dirs {
		free, err := FreeBytes(dir)
		if err != nil {
			return fmt.Errorf("free space of %s: %w", dir, err)
		}
		if free < p.Admission.MinFreeBytes {
			return fmt.Errorf("%s has %d bytes free, below REEL_MIN_FREE_BYTES (%d)", dir, free, p.Admission.MinFreeBytes)
		}
	}
	return nil
}

// QueueFull is the 503 of an upload refused because n videos wait for
// processing; it carries a Retry-After.
func QueueFull(n int) error {
	return &Busy{Err: reel.Errorf(reel.EUNAVAILABLE, "%d videos are waiting to be processed; try again shortly", n), After: queueRetryAfter}
}

// Busy is a refusal for lack of capacity, the server's (a *reel.Error with
// code EUNAVAILABLE, 503) or a client's share of it (ERATELIMITED, 429):
// the client should retry after After seconds, which the one error writer
// (httperr.RetryAfterSeconds) puts in the Retry-After header.
type Busy struct {
	Err   error
	After int
}

func (b *Busy) Error() string { return b.Err.Error() }
func (b *Busy) Unwrap() error { return b.Err }

// RetryAfterSeconds is After: httperr reads it wherever the error went.
func (b *Busy) RetryAfterSeconds() int { return b.After }

// Gate bounds the media work (ffprobe, the cover's ffmpeg) that requests
// do while the client waits: at most n at once, each caller waiting at most
// wait for a turn, after which it is refused with 503 and Retry-After.
// Background jobs have their own bound (REEL_WORKERS).
type Gate struct {
	slots chan struct{}
	wait  time.Duration
}

// NewGate returns a Gate of n slots (at least 1).
func NewGate(n int, wait time.Duration) *Gate {
	return &Gate{slots: make(chan struct{}, max(n, 1)), wait: wait}
}

// Enter waits for a slot and returns its release; a nil Gate is unbounded.
func (g *Gate) Enter(ctx context.Context) (func(), error) {
	if g == nil {
		return func() {}, nil
	}
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	case <-t.C:
		return nil, &Busy{Err: reel.Errorf(reel.EUNAVAILABLE, "the server is busy checking other uploads; try again shortly"), After: busyRetryAfter}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// anonymous counts the uploads in flight per client address whose sender
// is not known yet.
type anonymous struct {
	mu sync.Mutex
	n  map[string]int
}

// HoldAnonymous reserves one of the anonymous upload slots of addr for the
// rest of a request; release gives it back. Over the limit it answers 429
// with Retry-After (anonRetryAfter): another of those uploads may end by then.
// Slots are counted per client as clientaddr.Key names it.
func (p *Publisher) HoldAnonymous(addr string) (release func(), err error) {
	addr = clientaddr.Key(addr)
	limit := p.Admission.MaxAnonymous
	if limit <= 0 {
		limit = DefaultMaxAnonymous
	}
	a := &p.anon
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[string]int{}
	}
	if a.n[addr] >= limit {
		return nil, &Busy{Err: reel.Errorf(reel.ERATELIMITED,
			"%d uploads without a token are already under way from your address: send the token before the file, or wait", limit), After: anonRetryAfter}
	}
	a.n[addr]++
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			if a.n[addr]--; a.n[addr] <= 0 {
				delete(a.n, addr)
			}
		})
	}, nil
}
