-- +goose Up
-- Leases on tus uploads, shared by every node: a node holds an upload while
-- it renews its row, and a node that dies lets go when expires_ms passes.
-- Times are the database's unix milliseconds (compared as numbers on both
-- engines), so that the nodes' clocks do not matter. release_requested is
-- how a request on another node asks the holder to stop.
CREATE TABLE upload_locks (
    id                text PRIMARY KEY,
    holder            text NOT NULL,
    expires_ms        bigint NOT NULL,
    release_requested boolean NOT NULL DEFAULT false
);

-- +goose Down
DROP TABLE upload_locks;
