-- +goose Up
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: ids of deleted users are never reused
    username        TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL,
    is_admin        BOOLEAN NOT NULL DEFAULT FALSE,
    avatar_url      TEXT    NOT NULL DEFAULT '',
    follower_count  INTEGER NOT NULL DEFAULT 0,
    following_count INTEGER NOT NULL DEFAULT 0,
    video_count     INTEGER NOT NULL DEFAULT 0,
    like_count      INTEGER NOT NULL DEFAULT 0, -- likes given
    liked_count     INTEGER NOT NULL DEFAULT 0, -- likes received
    created_at      TIMESTAMP NOT NULL          -- UTC
);

-- Usernames are unique regardless of case, and lookups by name use this index.
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

-- +goose Down
DROP TABLE users;
