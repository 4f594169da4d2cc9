package jobs

import (
	"context"
	"time"
)

func (q *Queue) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(q.cfg.NodeTimeout / 6)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := q.heartbeat(ctx); err != nil && ctx.Err() == nil {
				q.log.Warn("job heartbeat failed", "err", err)
			}
			if n, err := q.rescueOrphans(ctx); err != nil && ctx.Err() == nil {
				q.log.Warn("rescuing jobs of stopped nodes failed", "err", err)
			} else if n > 0 {
				q.log.Info("rescued jobs of a stopped node", "jobs", n)
			}
		}
	}
}

// heartbeat records that this node is alive.
func (q *Queue) heartbeat(ctx context.Context) error {
	_, err := q.db.ExecContext(ctx,
		"INSERT INTO job_nodes (id, heartbeat_ms) VALUES ("+q.ph(1)+", "+q.ph(2)+") "+
			"ON CONFLICT (id) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms",
		q.nodeID, time.Now().UnixMilli())
	return err
}

// rescueOrphans makes the running jobs of nodes that stopped heartbeating
// available again, and forgets those nodes. The node that last attempted a
// job is the last element of River's attempted_by. scheduled_at is left as
// it was: it lies in the past, so the job is fetched at once.
func (q *Queue) rescueOrphans(ctx context.Context) (int64, error) {
	lastAttempt := "attempted_by[array_length(attempted_by, 1)]"
	if q.engine == "sqlite" {
		lastAttempt = "json_extract(attempted_by, '$[#-1]')"
	}
	alive := time.Now().Add(-q.cfg.NodeTimeout).UnixMilli()
	res, err := q.db.ExecContext(ctx,
		"UPDATE river_job SET state = 'available' WHERE state = 'running' AND "+
			lastAttempt+" NOT IN (SELECT id FROM job_nodes WHERE heartbeat_ms > "+q.ph(1)+")",
		alive)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	_, err = q.db.ExecContext(ctx, "DELETE FROM job_nodes WHERE heartbeat_ms <= "+q.ph(1), alive)
	return n, err
}
