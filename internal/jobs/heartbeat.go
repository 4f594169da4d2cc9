package jobs

import (
	"context"
	"encoding/json"
	"os"
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
// available again, removes their scratch directories (when this node
// shares the data directory of the stopped one, as reel serve and reel
// worker on one machine do), and forgets those nodes. The node that last
// attempted a job is the last element of River's attempted_by. scheduled_at
// is left as it was: it lies in the past, so the job is fetched at once.
func (q *Queue) rescueOrphans(ctx context.Context) (int64, error) {
	lastAttempt := "attempted_by[array_length(attempted_by, 1)]"
	if q.engine == "sqlite" {
		lastAttempt = "json_extract(attempted_by, '$[#-1]')"
	}
	alive := time.Now().Add(-q.cfg.NodeTimeout).UnixMilli()
	rows, err := q.db.QueryContext(ctx,
		"UPDATE river_job SET state = 'available' WHERE state = 'running' AND "+
			lastAttempt+" NOT IN (SELECT id FROM job_nodes WHERE heartbeat_ms > "+q.ph(1)+") RETURNING kind, args",
		alive)
	if err != nil {
		return 0, err
	}
	var n int64
	var videos []int64
	for rows.Next() {
		var kind string
		var args []byte
		if err := rows.Scan(&kind, &args); err != nil {
			rows.Close()
			return n, err
		}
		n++
		var a ProcessVideoArgs
		if kind == a.Kind() && json.Unmarshal(args, &a) == nil && a.VideoID > 0 {
			videos = append(videos, a.VideoID)
		}
	}
	if err := rows.Close(); err != nil {
		return n, err
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	for _, id := range videos {
		if err := os.RemoveAll(scratchDir(q.cfg.WorkDir, id)); err != nil {
			q.log.Warn("remove scratch of a rescued job", "video_id", id, "err", err)
		}
	}
	_, err = q.db.ExecContext(ctx, "DELETE FROM job_nodes WHERE heartbeat_ms <= "+q.ph(1), alive)
	return n, err
}
