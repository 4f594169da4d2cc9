package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reel-video/reel/internal/events"
	"github.com/reel-video/reel/internal/shared"
	"github.com/reel-video/reel/internal/sqlstore"
)

// publishTimeout bounds the publication of one event after its commit:
// Redis answers within its own timeouts, and the in-process bus at once.
const publishTimeout = time.Second

// openEvents returns the bus of the users' live events (GET /api/v1/events)
// and makes the store publish to it: through Redis when there is one, so
// that a stream held on any node hears what any node (or worker) did, and
// in-process otherwise. The bus closes its streams when ctx (the process's:
// cancelled by SIGTERM) ends.
func openEvents(ctx context.Context, state *shared.Redis, db *sqlstore.DB, reg prometheus.Registerer, log *slog.Logger) events.Bus {
	opts := events.Options{Metrics: events.NewMetrics(reg)}
	var bus events.Bus
	if state == nil {
		bus = events.NewLocal(opts)
	} else {
		bus = events.NewRedis(ctx, state, opts, log)
	}
	// At shutdown the streams end first, so that their clients reconnect
	// to another node instead of holding the drain until its deadline.
	go func() {
		<-ctx.Done()
		bus.Close()
	}()
	db.SetOnNotify(func(ctx context.Context, userID int64, typ string, data any) {
		ctx, cancel := context.WithTimeout(ctx, publishTimeout)
		defer cancel()
		if _, err := bus.Publish(ctx, userID, typ, data); err != nil {
			log.Warn("a live event is lost", "type", typ, "user", userID, "err", err)
		}
	})
	return bus
}
