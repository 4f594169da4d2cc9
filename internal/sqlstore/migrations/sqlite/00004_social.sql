-- +goose Up
-- Likes and follows have an id of their own: lists of them page by it, so
-- cursors stay exact while rows are added.
CREATE TABLE likes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    video_id   INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, video_id)
);
CREATE INDEX likes_user_id ON likes (user_id, id DESC);
CREATE INDEX likes_video_id ON likes (video_id);

CREATE TABLE follows (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    follower_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
CREATE INDEX follows_followee_id ON follows (followee_id, id DESC);
CREATE INDEX follows_follower_id ON follows (follower_id, id DESC);

CREATE TABLE comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id   INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text       TEXT    NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX comments_video_id ON comments (video_id, id DESC);

CREATE TABLE messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    from_user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text         TEXT    NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX messages_pair ON messages (from_user_id, to_user_id, id);

-- The feed pages by id over ready, public, unblocked videos.
CREATE INDEX videos_public_feed ON videos (id DESC) WHERE status = 'ready' AND visibility = 'public' AND NOT blocked;
CREATE INDEX videos_created_at ON videos (created_at DESC);

-- +goose Down
DROP INDEX videos_created_at;
DROP INDEX videos_public_feed;
DROP TABLE messages;
DROP TABLE comments;
DROP TABLE follows;
DROP TABLE likes;
