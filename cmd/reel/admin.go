package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/reel-video/reel/internal/config"
	"github.com/reel-video/reel/internal/jobs"
	"github.com/reel-video/reel/internal/sqlstore"
)

// storeFlags are the only variables the database commands read.
var storeFlags = []string{"REEL_DATA_DIR", "REEL_DATABASE_URL", "REEL_LOG_LEVEL", "REEL_LOG_FORMAT"}

func runMigrate(ctx context.Context, args []string, env *environment) error {
	fs := newFlags("migrate", "[up|status] [flags]", "Apply pending migrations (up, the default) or list every migration and whether it is applied (status).", env)
	cfg, rest, err := config.Load(fs, args, env.getenv, storeFlags...)
	if err != nil {
		return err
	}
	action := "up"
	if len(rest) > 0 {
		action = rest[0]
	}
	if len(rest) > 1 || (action != "up" && action != "status") {
		fs.Usage()
		return fmt.Errorf("migrate takes up or status, got %q", rest)
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if action == "status" {
		if err := db.MigrationStatus(ctx, env.stdout); err != nil {
			return err
		}
		return jobs.MigrationStatus(ctx, db.SQL(), db.Engine(), env.stdout)
	}
	if err := db.Migrate(ctx, jobQueueMigration(db)); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "migrations applied (%s, with the job queue's)\n", db.Engine())
	return nil
}

// jobQueueMigration is the step that migrates the job queue's tables, run
// by db.Migrate under the same lock as reel's own migrations: reel migrate
// and every process that opens the backend take it.
func jobQueueMigration(db *sqlstore.DB) func(context.Context) error {
	return func(ctx context.Context) error { return jobs.Migrate(ctx, db.SQL(), db.Engine()) }
}

func runUser(ctx context.Context, args []string, env *environment) error {
	fs := newFlags("user", "promote|demote NAME [flags]", "Grant (promote) or revoke (demote) administrator rights. There is no HTTP path to do this.", env)
	cfg, rest, err := config.Load(fs, args, env.getenv, storeFlags...)
	if err != nil {
		return err
	}
	if len(rest) != 2 || (rest[0] != "promote" && rest[0] != "demote") {
		fs.Usage()
		return errors.New("usage: reel user promote|demote NAME")
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	admin := rest[0] == "promote"
	if err := db.SetAdmin(ctx, rest[1], admin); err != nil {
		return err
	}
	if admin {
		fmt.Fprintf(env.stdout, "%s is now an administrator\n", rest[1])
	} else {
		fmt.Fprintf(env.stdout, "%s is no longer an administrator\n", rest[1])
	}
	return nil
}
