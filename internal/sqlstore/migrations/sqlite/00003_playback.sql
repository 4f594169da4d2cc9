-- +goose Up
-- Where each viewer stopped watching each video, returned as resume_position_ms.
CREATE TABLE watch_progress (
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    video_id    INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    position_ms INTEGER NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, video_id)
);
CREATE INDEX watch_progress_video_id ON watch_progress (video_id);

-- Every node reloads the blocked ids every few seconds: keep that read tiny.
CREATE INDEX videos_blocked ON videos (id) WHERE blocked;

-- +goose Down
DROP INDEX videos_blocked;
DROP TABLE watch_progress;
