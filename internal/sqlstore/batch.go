package sqlstore

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"

	"github.com/uptrace/bun"

	"github.com/reel-video/reel"
)

// maxBatch bounds the operations one group commit takes, so that a caller
// queued behind a burst waits for one batch's worth of statements at most
// before its own batch begins.
const maxBatch = 128

// batcher commits concurrent operations in shared write transactions (group
// commit). SQLite has one writer: each small transaction waits for every
// transaction queued before it, and the handing over of the connection
// between them costs more than the statements do. The batcher runs the
// operations queued while a transaction was under way together in the next
// one, and reports each operation's own result to its caller.
//
// An operation that fails with a *reel.Error (a refusal such as ENOTFOUND,
// found by a read before it writes, or a constraint that SQLite undoes
// statement by statement) fails alone and the batch goes on. Any other
// error, which may have cost the whole transaction, rolls the batch back:
// that operation is answered with its error and the others run again in a
// new transaction, so that one failing operation never fails the others.
// Only an error of the transaction itself (its begin, finish or commit)
// fails every operation in it. This relies on SQLite undoing a failed
// statement alone (PostgreSQL aborts the whole transaction): the batcher is
// for SQLite.
//
// The transaction runs under a context of its own: on SQLite a cancelled
// statement rolls back its whole transaction, which would fail everyone's
// operations for one caller's departure. A caller that gives up while its
// operation is still queued is answered with its context's error and the
// operation never runs; once its batch has begun, the caller waits for the
// batch's outcome and gets its operation's real result.
type batcher[T any] struct {
	// inTx runs fn in a write transaction (the DB's writer, looked up at
	// each call: tests replace it to watch queries).
	inTx func(ctx context.Context, fn func(context.Context, bun.Tx) error) error
	// apply performs one operation inside the batch's transaction.
	apply func(ctx context.Context, tx bun.Tx, op T) error
	// finish runs, before the commit, with the operations that succeeded
	// (for writes they share, such as counters).
	finish func(ctx context.Context, tx bun.Tx, done []T) error

	mu      sync.Mutex
	queue   []*batchCall[T]
	running bool // a goroutine is draining the queue
}

type batchCall[T any] struct {
	op   T
	err  error         // the operation's result, set before done is closed
	done chan struct{} // closed when the batch holding op has ended
}

// do runs op in the next batch and returns its result once committed (or
// failed).
func (b *batcher[T]) do(ctx context.Context, op T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &batchCall[T]{op: op, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if !b.running {
		b.running = true
		go b.drain()
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	for i, q := range b.queue {
		if q == c { // not taken yet: it never runs
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			b.mu.Unlock()
			return ctx.Err()
		}
	}
	b.mu.Unlock()
	<-c.done
	return c.err
}

// drain runs batches until the queue is empty, then ends; the next do
// starts another.
func (b *batcher[T]) drain() {
	for {
		// Goroutines that are ready to run (requests on their way to do)
		// run first and join this batch: under load, batches grow, and
		// with them what one transaction's begin, counts and commit are
		// shared by; with nothing else to run, this returns at once.
		runtime.Gosched()
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		calls := slices.Clone(b.queue[:n])
		b.queue = slices.Delete(b.queue, 0, n)
		b.mu.Unlock()
		b.commit(calls)
		for _, c := range calls {
			close(c.done)
		}
	}
}

// commit applies calls in one transaction, leaving each call's result in
// its err. An operation that fails other than by a refusal is answered
// with its error, and the others run again without it.
func (b *batcher[T]) commit(calls []*batchCall[T]) {
	done := make([]T, 0, len(calls))
	for len(calls) > 0 {
		failed := -1
		err := b.inTx(context.Background(), func(ctx context.Context, tx bun.Tx) error {
			done, failed = done[:0], -1
			for i, c := range calls {
				c.err = b.apply(ctx, tx, c.op)
				if c.err == nil {
					done = append(done, c.op)
				} else if _, refused := errors.AsType[*reel.Error](c.err); !refused {
					failed = i
					return c.err
				}
			}
			return b.finish(ctx, tx, done)
		})
		if err == nil {
			return
		}
		if failed < 0 { // the transaction itself failed: its begin, finish or commit
			for _, c := range calls {
				c.err = err
			}
			return
		}
		calls = slices.Delete(slices.Clone(calls), failed, failed+1)
	}
}
