package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/captions"
	"github.com/reel-video/reel/internal/media"
)

// MediaStore is what reusing the outputs of an identical upload needs of
// the database (sqlstore.DB has it; see its media.go). A Store without it
// transcodes every upload.
type MediaStore interface {
	// FindMediaOrigin returns the ready video, other than id, with id's
	// SHA-256 and outputs of its own; ENOTFOUND when there is none.
	FindMediaOrigin(ctx context.Context, id int64) (*reel.Video, error)
	// ReuseMedia makes id serve origin's outputs and marks it ready, only
	// while origin exists and is ready; false when it no longer is.
	ReuseMedia(ctx context.Context, id, origin int64) (bool, error)
	// IsMediaOrigin reports whether another video has used id's outputs.
	IsMediaOrigin(ctx context.Context, id int64) (bool, error)
	// UnusedMediaOrigins returns deleted origins that no video uses any more.
	UnusedMediaOrigins(ctx context.Context) ([]int64, error)
	// ForgetMediaOrigin drops an origin whose outputs are deleted.
	ForgetMediaOrigin(ctx context.Context, id int64) error
}

// reuse makes v ready with the outputs of a ready video whose original has
// the same bytes, when there is one, and reports whether it did. Nothing
// is transcoded: v gets its own copies of the origin's per-video files
// (the master playlist and the MPD, without the origin's captions, and the
// cover unless v has one), its manifests get its own captions, and the
// store records the origin and marks v ready in one step that fails if
// the origin went away meanwhile; then the job transcodes as usual, and
// overwrites the copies.
func (w *processWorker) reuse(ctx context.Context, v *reel.Video) (bool, error) {
	ms, ok := w.store.(MediaStore)
	if !ok {
		return false, nil
	}
	origin, err := ms.FindMediaOrigin(ctx, v.ID)
	if reel.ErrorCode(err) == reel.ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if origin.HLSKey == "" {
		return false, nil // ready from an import without HLS: nothing to share
	}
	if w.cfg.Limits.Check(&media.Info{DurationMS: origin.DurationMS, Width: origin.Width, Height: origin.Height}) != nil {
		// The limits were lowered since: the usual steps refuse it, with the reason.
		return false, nil
	}
	if err := w.copyOwnFiles(ctx, origin, v); errors.Is(err, fs.ErrNotExist) {
		// Its files are being deleted: so is the origin.
		return false, nil
	} else if err != nil {
		return false, err
	}
	if err := w.publishManifests(ctx, v.ID); err != nil {
		return false, err
	}
	reused, err := ms.ReuseMedia(ctx, v.ID, origin.ID)
	if err != nil || !reused {
		return false, err
	}
	// Captions added while the copies were being made are listed too.
	if err := w.publishManifests(ctx, v.ID); err != nil {
		w.log.Warn("add captions to the manifests of a reusing video", "video_id", v.ID, "err", err)
	}
	w.log.Info("video reused the outputs of an identical upload", "video_id", v.ID, "origin", origin.ID)
	return true, nil
}

func (w *processWorker) publishManifests(ctx context.Context, id int64) error {
	if w.cfg.PublishManifests == nil {
		return nil
	}
	return w.cfg.PublishManifests(ctx, id)
}

// copyOwnFiles stores v's own copies of origin's per-video files that v
// needs: the manifests (captions stripped) and the cover.
func (w *processWorker) copyOwnFiles(ctx context.Context, origin, v *reel.Video) error {
	from, to := reel.VideoKeyPrefix(origin.ID), reel.VideoKeyPrefix(v.ID)
	master, ok := strings.CutPrefix(origin.HLSKey, from)
	if !ok {
		return fmt.Errorf("the master playlist of video %d is not under its prefix: %q", origin.ID, origin.HLSKey)
	}
	copies := []ownCopy{
		{master, false, stripHLSCaptions},
		{"hls/manifest.mpd", true, stripMPDCaptions},
	}
	if v.CoverKey == "" { // publishing may have made one of its own
		copies = append(copies, ownCopy{"cover.jpg", true, nil}, ownCopy{"cover.webp", true, nil})
	}
	for _, c := range copies {
		err := w.copyObject(ctx, from+c.rel, to+c.rel, c.edit)
		if c.optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("copy %s of video %d: %w", c.rel, origin.ID, err)
		}
	}
	return nil
}

// ownCopy is a per-video file a reusing video copies from its origin:
// optional ones may be missing, edit (when set) rewrites a manifest.
type ownCopy struct {
	rel      string
	optional bool
	edit     func([]byte) ([]byte, error)
}

// maxManifestBytes bounds what copyObject reads into memory to edit it.
const maxManifestBytes = 4 << 20

// copyObject stores a copy of the object at src at dst, through edit when
// it is not nil (the object is then read whole: a manifest).
func (w *processWorker) copyObject(ctx context.Context, src, dst string, edit func([]byte) ([]byte, error)) error {
	if edit == nil {
		obj, err := w.blobs.Open(ctx, src)
		if err != nil {
			return err
		}
		defer obj.Close()
		_, err = w.blobs.Put(ctx, dst, obj)
		return err
	}
	b, err := blob.ReadSmall(ctx, w.blobs, src, maxManifestBytes)
	if err != nil {
		return err
	}
	if b, err = edit(b); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	_, err = w.blobs.Put(ctx, dst, bytes.NewReader(b))
	return err
}

// stripHLSCaptions and stripMPDCaptions remove the origin's captions from
// its manifests (a reusing video lists its own), through the one editor of
// caption entries.
func stripHLSCaptions(b []byte) ([]byte, error) { return captions.EditMaster(b, nil) }
func stripMPDCaptions(b []byte) ([]byte, error) { return captions.EditMPD(b, nil) }
