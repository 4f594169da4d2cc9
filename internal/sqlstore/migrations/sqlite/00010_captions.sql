-- +goose Up
-- A video's captions, one row per language (a canonical BCP 47 tag).
-- vtt_key names the WebVTT file of this upload: every upload gets a new
-- name, so removing the files of a replaced or deleted caption never
-- removes a newer one's.
CREATE TABLE captions (
    video_id   INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    lang       TEXT    NOT NULL,
    label      TEXT    NOT NULL,
    vtt_key    TEXT    NOT NULL,
    size_bytes INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (video_id, lang)
);

-- +goose Down
DROP TABLE captions;
