-- +goose Up
-- Usernames may now use any script. Uniqueness and lookups go by a key that
-- reel computes in Go (reel.UsernameKey: NFKC and Unicode case folding), so
-- both engines agree whatever their collation and lower() can do. Every
-- existing name is ASCII (the only names allowed until now), and for ASCII
-- the key is exactly lower(username), so existing rows get their key here.
ALTER TABLE users ADD COLUMN username_key TEXT NOT NULL DEFAULT '';
UPDATE users SET username_key = lower(username);
CREATE UNIQUE INDEX users_username_key ON users (username_key);
DROP INDEX users_username_lower_key;

-- A token is valid only while its session exists: signing out deletes it.
CREATE TABLE sessions (
    id         TEXT      PRIMARY KEY, -- the token's jti, random
    user_id    INTEGER   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
DROP INDEX users_username_key;
ALTER TABLE users DROP COLUMN username_key;
