package sqlstore

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/testwait"
)

// fakeBatch drives a batcher without a database: each op is a name, whose
// apply answers what results says (nil when absent), and the first op
// named "gate" holds its batch until the test releases it, so that the
// ops queued meanwhile make up the next batch, all together.
type fakeBatch struct {
	b       *batcher[string]
	gate    chan struct{} // closed by the test to let "gate" apply
	entered chan struct{} // closed when "gate" has begun applying
	results map[string]error
	failTx  int   // the transaction (counted from 1) whose commit fails
	failure error // with this error

	mu        sync.Mutex
	applied   []string   // every apply, in order, aborted batches included
	committed [][]string // the ops of each committed transaction
	txs       int        // transactions begun
}

func newFakeBatch() *fakeBatch {
	f := &fakeBatch{gate: make(chan struct{}), entered: make(chan struct{}), results: map[string]error{}}
	f.b = &batcher[string]{
		inTx: func(ctx context.Context, fn func(context.Context, bun.Tx) error) error {
			f.mu.Lock()
			f.txs++
			n := f.txs
			f.mu.Unlock()
			if err := fn(ctx, bun.Tx{}); err != nil {
				return err
			}
			if n == f.failTx {
				return f.failure
			}
			return nil
		},
		apply: func(ctx context.Context, _ bun.Tx, op string) error {
			if op == "gate" {
				close(f.entered)
				<-f.gate
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			f.applied = append(f.applied, op)
			return f.results[op]
		},
		finish: func(ctx context.Context, _ bun.Tx, done []string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.committed = append(f.committed, slices.Sorted(slices.Values(done))) // ops queue in any order
			return nil
		},
	}
	return f
}

// hold starts the gate op, which blocks its batch, and returns its result
// to come.
func (f *fakeBatch) hold(t *testing.T, ctx context.Context) <-chan error {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- f.b.do(ctx, "gate") }()
	<-f.entered
	return res
}

// queue starts ops behind the held batch and waits until all are queued.
func (f *fakeBatch) queue(t *testing.T, ctx context.Context, ops ...string) map[string]<-chan error {
	t.Helper()
	f.b.mu.Lock()
	queued := len(f.b.queue) + len(ops)
	f.b.mu.Unlock()
	results := map[string]<-chan error{}
	for _, op := range ops {
		res := make(chan error, 1)
		go func() { res <- f.b.do(ctx, op) }()
		results[op] = res
	}
	testwait.For(t, "the ops to queue", 10*time.Second, time.Millisecond, func() bool {
		f.b.mu.Lock()
		defer f.b.mu.Unlock()
		return len(f.b.queue) == queued
	})
	return results
}

// One op failing in a batch fails no other: a refusal leaves the batch
// going, and any other error rolls it back and has it run again without
// that op.
func TestBatchOpFailuresStayTheirOwn(t *testing.T) {
	f := newFakeBatch()
	ctx := t.Context()
	refused := reel.Errorf(reel.ENOTFOUND, "refused")
	broken := errors.New("broken")
	f.results["refused"], f.results["broken"] = refused, broken
	gate := f.hold(t, ctx)
	results := f.queue(t, ctx, "a", "refused", "b", "broken", "c")
	close(f.gate)
	if err := <-gate; err != nil {
		t.Fatalf("gate: %v", err)
	}
	want := map[string]error{"a": nil, "b": nil, "c": nil, "refused": refused, "broken": broken}
	for op, res := range results {
		if err := <-res; !errors.Is(err, want[op]) {
			t.Errorf("%s: %v, want %v", op, err, want[op])
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// The gate's transaction, the batch that "broken" rolled back, and the
	// batch again without it, where the refusal is answered again.
	if f.txs != 3 {
		t.Errorf("%d transactions, want 3", f.txs)
	}
	if want := [][]string{{"gate"}, {"a", "b", "c"}}; !slices.EqualFunc(f.committed, want, slices.Equal) {
		t.Errorf("committed %v, want %v", f.committed, want)
	}
}

// A transaction that fails as a whole (at its commit) fails every op in
// it, and is not tried again.
func TestBatchCommitFailureFailsItsOps(t *testing.T) {
	f := newFakeBatch()
	ctx := t.Context()
	f.failTx, f.failure = 2, errors.New("disk full") // the batch after the gate's
	gate := f.hold(t, ctx)
	results := f.queue(t, ctx, "a", "b")
	close(f.gate)
	if err := <-gate; err != nil {
		t.Fatalf("gate: %v", err)
	}
	for op, res := range results {
		if err := <-res; !errors.Is(err, f.failure) {
			t.Errorf("%s: %v, want %v", op, err, f.failure)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.txs != 2 {
		t.Errorf("%d transactions, want 2", f.txs)
	}
}

// A caller that gives up while its op is queued gets its context's error
// and the op never runs; one that gives up once its batch has begun gets
// the op's real result.
func TestBatchCancellation(t *testing.T) {
	f := newFakeBatch()
	gateCtx, cancelGate := context.WithCancel(t.Context())
	gate := f.hold(t, gateCtx)
	leaving, leave := context.WithCancel(t.Context())
	left := f.queue(t, leaving, "left")["left"]
	stays := f.queue(t, t.Context(), "stays")["stays"] // queued after "left", so the queue holds both
	leave()
	testwait.For(t, "the op given up to leave the queue", 10*time.Second, time.Millisecond, func() bool {
		f.b.mu.Lock()
		defer f.b.mu.Unlock()
		return len(f.b.queue) == 1
	})
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Errorf("the op given up while queued: %v", err)
	}
	cancelGate() // its batch has begun: the gate's result still comes
	close(f.gate)
	if err := <-gate; err != nil {
		t.Errorf("the op given up during its batch: %v", err)
	}
	if err := <-stays; err != nil {
		t.Errorf("the op queued beside the one given up: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Contains(f.applied, "left") {
		t.Errorf("the op given up while queued was applied: %v", f.applied)
	}
	if want := [][]string{{"gate"}, {"stays"}}; !slices.EqualFunc(f.committed, want, slices.Equal) {
		t.Errorf("committed %v, want %v", f.committed, want)
	}
}
