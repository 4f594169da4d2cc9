-- +goose Up
CREATE TABLE videos (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title          TEXT    NOT NULL DEFAULT '',
    description    TEXT    NOT NULL DEFAULT '',
    visibility     TEXT    NOT NULL DEFAULT 'public',
    status         TEXT    NOT NULL,
    progress       INTEGER NOT NULL DEFAULT 0,  -- 0-100
    error          TEXT    NOT NULL DEFAULT '', -- why it failed, or what it waits for
    duration_ms    INTEGER NOT NULL DEFAULT 0,
    width          INTEGER NOT NULL DEFAULT 0,
    height         INTEGER NOT NULL DEFAULT 0,
    size_bytes     INTEGER NOT NULL DEFAULT 0,  -- of the original
    sha256         TEXT    NOT NULL DEFAULT '', -- of the original, hex
    upload_id      TEXT UNIQUE,                 -- the tus upload carrying the original
    original_key   TEXT    NOT NULL DEFAULT '',
    cover_key      TEXT    NOT NULL DEFAULT '',
    play_key       TEXT    NOT NULL DEFAULT '',
    hls_key        TEXT    NOT NULL DEFAULT '',
    renditions     TEXT    NOT NULL DEFAULT '[]', -- JSON [{width,height,bandwidth}]
    process_job_id INTEGER,                       -- River job that processes it
    blocked        BOOLEAN NOT NULL DEFAULT FALSE,
    like_count     INTEGER NOT NULL DEFAULT 0,
    comment_count  INTEGER NOT NULL DEFAULT 0,
    view_count     INTEGER NOT NULL DEFAULT 0,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX videos_author_id ON videos (author_id, id DESC);
CREATE INDEX videos_feed ON videos (status, visibility, id DESC);

-- Processes that run jobs say they are alive here; the running jobs of a
-- process that stopped saying so are handed to another.
CREATE TABLE job_nodes (
    id           TEXT PRIMARY KEY,
    heartbeat_ms INTEGER NOT NULL -- unix milliseconds: compared as numbers on both engines
);

-- +goose Down
DROP TABLE job_nodes;
DROP TABLE videos;
