package shared

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Coalescing: every API request asks Redis something (its rate limit, the
// marks of what its cached answer shows), and a round trip each would cost
// more than the request's own work. Batch queues a caller's commands
// instead; one sender at a time writes everything queued so far as one
// pipeline, and when its answers are in, starts the next one with whatever
// queued meanwhile. Under load a round trip thus serves every request that
// arrived during the previous one; alone, a caller pays one round trip as
// before.
//
// A caller's commands are always written in a pipeline that the sender
// took from the queue after they were queued, never answered from one
// already in flight: Redis runs commands in the order it receives them, so
// a read sees every write that had completed before the read was queued,
// as a direct call would (the caches' marks rely on it).
//
// Commands are never merged or deduplicated: two callers asking the same
// thing each send their own command and get their own answer. A caller's
// commands run in their order but not atomically (no MULTI): commands of
// other connections may run between them; a script is atomic.

// maxBatch bounds the commands of one pipeline, so that a burst is sent as
// a few pipelines of bounded size (each written and read within the
// timeouts) rather than one that grows with the queue.
const maxBatch = 512

// batchCall is one caller's commands waiting for their pipeline.
type batchCall struct {
	ctx  context.Context
	cmds []redis.Cmder
	done chan error // buffered: the sender never waits for a caller that gave up
}

// coalescer is the queue of batchCalls and the state of its sender.
type coalescer struct {
	mu      sync.Mutex
	queue   []*batchCall
	sending bool // a sender goroutine is running: it will take the queue
}

// Batch sends cmds to Redis in the next pipeline, with the commands that
// other callers queued meanwhile, and returns when they are answered.
// Build the commands with go-redis's constructors (redis.NewSliceCmd(ctx,
// "mget", ...)), or RunScript for a script, and read their results after
// Batch returned nil.
//
// Its errors are Do's: ErrUnavailable (wrapped) when there is no Redis,
// the breaker is open, Redis failed or no connection was free; otherwise
// the first error of cmds as Redis answered it (redis.Nil, a command's
// error), nil when none. The breaker learns the outcome of each pipeline
// once, as it would of one Do.
//
// When ctx ends first, Batch returns ctx.Err() at once, without waiting for
// the pipeline: cmds must then not be read (they may be sent still, and
// their results written, by the sender). Commands not yet sent when ctx
// ended are not sent. The other callers' commands are not affected.
func (r *Redis) Batch(ctx context.Context, cmds ...redis.Cmder) error {
	if r == nil {
		return ErrUnavailable
	}
	if len(cmds) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &batchCall{ctx: ctx, cmds: cmds, done: make(chan error, 1)}
	r.batches.mu.Lock()
	r.batches.queue = append(r.batches.queue, c)
	start := !r.batches.sending
	r.batches.sending = true
	r.batches.mu.Unlock()
	if start {
		// The sender lives while there is something to send, so that an
		// idle node (or a closed Redis) keeps no goroutine.
		go r.send()
	}
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		select {
		case err := <-c.done: // answered meanwhile: the answer is the caller's
			return err
		default:
			return ctx.Err()
		}
	}
}

// send writes pipelines until the queue is empty.
func (r *Redis) send() {
	for {
		r.batches.mu.Lock()
		calls, n := r.batches.queue, 0
		for i, c := range calls {
			if n += len(c.cmds); n > maxBatch && i > 0 {
				calls = calls[:i]
				break
			}
		}
		r.batches.queue = r.batches.queue[len(calls):]
		if len(r.batches.queue) == 0 {
			r.batches.queue = nil // let the array of a past burst go
		}
		if len(calls) == 0 {
			r.batches.sending = false
			r.batches.mu.Unlock()
			return
		}
		r.batches.mu.Unlock()
		r.pipeline(calls)
	}
}

// pipeline sends the commands of calls as one pipeline and answers each.
func (r *Redis) pipeline(calls []*batchCall) {
	live := calls[:0:0]
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			c.done <- err // gave up while queued: nothing of it is sent
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	if !r.breaker.Allow() {
		for _, c := range live {
			c.done <- errOpen
		}
		return
	}
	// The pipeline is no caller's: one caller giving up must not cut the
	// others off. The client's timeouts (ioTimeout for the connection,
	// the write and the read) bound it.
	ctx := context.Background()
	pipe := r.Client.Pipeline()
	for _, c := range live {
		_ = pipe.BatchProcess(ctx, c.cmds...)
	}
	_, _ = pipe.Exec(ctx) // every command carries its own error
	// The breaker learns the pipeline's outcome once, before any caller
	// hears of it (as with Do): a failure if any command says Redis
	// failed, else busy if no connection was free, else an answer.
	batch, batchErr := answered, error(nil)
	answers := make([]error, len(live))
	for i, c := range live {
		err := firstErr(c.cmds)
		o := judge(ctx, err)
		if o == failed || (o == busy && batch == answered) {
			batch, batchErr = o, err
		}
		answers[i] = o.answer(err)
	}
	r.learn(batch, batchErr)
	for i, c := range live {
		c.done <- answers[i]
	}
}

// firstErr is the first error among cmds, as Pipeline.Exec returns it.
func firstErr(cmds []redis.Cmder) error {
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			return err
		}
	}
	return nil
}

// Script is a Lua script that runs on Redis through Batch (RunScript).
type Script struct {
	src, sha string
}

// NewScript returns the script of src.
func NewScript(src string) *Script {
	sum := sha1.Sum([]byte(src))
	return &Script{src: src, sha: hex.EncodeToString(sum[:])}
}

// RunScript runs script through Batch: EVALSHA, and EVAL when Redis does
// not know the script yet (it started since, or never ran it), as
// redis.Script.Run does. The result is the script's answer; an error is
// Batch's.
func (r *Redis) RunScript(ctx context.Context, script *Script, keys []string, args ...any) (*redis.Cmd, error) {
	cmd := scriptCmd(ctx, "evalsha", script.sha, keys, args)
	err := r.Batch(ctx, cmd)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// EVALSHA ran nothing: sending the script itself is safe.
		cmd = scriptCmd(ctx, "eval", script.src, keys, args)
		err = r.Batch(ctx, cmd)
	}
	return cmd, err
}

// scriptCmd is the command EVAL or EVALSHA (name) of payload.
func scriptCmd(ctx context.Context, name, payload string, keys []string, args []any) *redis.Cmd {
	a := make([]any, 0, 3+len(keys)+len(args))
	a = append(a, name, payload, len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	return redis.NewCmd(ctx, append(a, args...)...)
}
