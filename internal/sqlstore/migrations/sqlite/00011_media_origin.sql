-- +goose Up
-- Identical uploads are transcoded once. A video whose original has the
-- same SHA-256 as a ready video's names that video in media_of and serves
-- its renditions (every "shared" output under videos/{media_of}/); 0: the
-- video owns its outputs.
ALTER TABLE videos ADD COLUMN media_of INTEGER NOT NULL DEFAULT 0;
CREATE INDEX videos_media_of ON videos (media_of) WHERE media_of <> 0;
-- The origins a new upload may reuse, found by hash.
CREATE INDEX videos_media_origin ON videos (sha256) WHERE status = 'ready' AND media_of = 0 AND sha256 <> '';

-- The videos whose outputs another video has used. A row outlives its
-- video (no foreign key): once the video and all its users are deleted,
-- the deletion job that notices removes the shared outputs, then the row.
CREATE TABLE media_origins (
    video_id INTEGER PRIMARY KEY
);

-- +goose Down
DROP TABLE media_origins;
DROP INDEX videos_media_origin;
DROP INDEX videos_media_of;
ALTER TABLE videos DROP COLUMN media_of;
