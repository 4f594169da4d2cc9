package shared

// Queued is how many callers wait in Batch's queue (not yet in a
// pipeline), for tests that must know a caller is queued.
func (r *Redis) Queued() int {
	r.batches.mu.Lock()
	defer r.batches.mu.Unlock()
	return len(r.batches.queue)
}
