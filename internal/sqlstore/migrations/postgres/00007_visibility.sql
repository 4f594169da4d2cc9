-- +goose Up
-- A video's media generation. Media URLs are signed for it, and making a
-- video private moves it on: the URLs handed out before stop working.
ALTER TABLE videos ADD COLUMN media_generation bigint NOT NULL DEFAULT 0;

-- The media state every node keeps in memory to refuse revoked URLs: blocked
-- videos, deleted ones and generations moved on. Nodes read it incrementally
-- by changed_ms (unix milliseconds: compared as numbers on both engines); no
-- foreign key, since a deleted video's row must outlive the video.
CREATE TABLE media_revocations (
    video_id   bigint PRIMARY KEY,
    generation bigint NOT NULL DEFAULT 0,
    blocked    boolean NOT NULL DEFAULT false,
    deleted    boolean NOT NULL DEFAULT false,
    changed_ms bigint NOT NULL
);
CREATE INDEX media_revocations_changed ON media_revocations (changed_ms);
CREATE INDEX media_revocations_blocked ON media_revocations (video_id) WHERE blocked;
INSERT INTO media_revocations (video_id, blocked, changed_ms) SELECT id, true, 0 FROM videos WHERE blocked;

-- video_count as others see it: the author's ready, public, unblocked videos.
ALTER TABLE users ADD COLUMN listed_video_count bigint NOT NULL DEFAULT 0;
CREATE INDEX videos_listed_by_author ON videos (author_id) WHERE status = 'ready' AND visibility = 'public' AND NOT blocked;
UPDATE users SET listed_video_count = (
    SELECT count(*) FROM videos
    WHERE videos.author_id = users.id AND status = 'ready' AND visibility = 'public' AND NOT blocked
);

-- +goose Down
DROP INDEX videos_listed_by_author;
ALTER TABLE users DROP COLUMN listed_video_count;
DROP TABLE media_revocations;
ALTER TABLE videos DROP COLUMN media_generation;
