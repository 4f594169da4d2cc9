-- +goose Up
-- The outputs beside the HLS ladder (issue 12): the DASH MPD over the same
-- segments, the storyboard's WebVTT and the animated preview. Empty until
-- the video is ready, like the other keys.
ALTER TABLE videos ADD COLUMN dash_key TEXT NOT NULL DEFAULT '';
ALTER TABLE videos ADD COLUMN storyboard_key TEXT NOT NULL DEFAULT '';
ALTER TABLE videos ADD COLUMN preview_key TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE videos DROP COLUMN preview_key;
ALTER TABLE videos DROP COLUMN storyboard_key;
ALTER TABLE videos DROP COLUMN dash_key;
