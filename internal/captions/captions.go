// Package captions turns the subtitles an owner uploads (WebVTT or SRT)
// into clean WebVTT, stores them, and lists them as subtitle renditions in
// a video's HLS master playlist and DASH MPD.
//
// Each upload of a language is stored under a new name
// (reel.CaptionKey): hls/captions/{lang}.{rev}.vtt and, beside it, its
// one-segment HLS playlist {lang}.{rev}.m3u8. A name is never reused, so
// a cache or player never holds an old file under a current name, and
// removing the files of a replaced or deleted caption can never remove
// those of an upload that raced with it. The files lie under the master's
// directory, whose signature covers them.
//
// The manifests are edited, not regenerated: Publish strips the caption
// entries of the stored master.m3u8 and manifest.mpd and writes in the
// captions the database lists, then reads that list again and repeats
// until what it wrote is what the database holds. Two changes racing on
// two nodes therefore end with the manifests listing exactly the stored
// captions: whichever publisher wrote last had read the list after every
// change committed before its write, or it sees the change on its re-read
// and writes again.
package captions

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
)

// Store is what captions need of the database.
type Store interface {
	reel.CaptionService
	FindVideoByID(ctx context.Context, id, viewerID int64) (*reel.Video, error)
	// VideoForJob reads a video whoever it belongs to (its duration).
	VideoForJob(ctx context.Context, id int64) (*reel.Video, error)
}

// Service stores captions and keeps the manifests in step with them.
type Service struct {
	Store  Store
	Blobs  blob.Store
	Logger *slog.Logger
}

// Put stores body (WebVTT or SRT) as the captions of lang on video
// videoID, whose author actorID must be, under label ("" for the
// language's name), and publishes the manifests.
func (s *Service) Put(ctx context.Context, videoID, actorID int64, lang, label string, body []byte) error {
	tag, err := Tag(lang)
	if err != nil {
		return err
	}
	if label, err = Label(label, tag); err != nil {
		return err
	}
	// The owner is checked before anything is stored (PutCaption checks
	// again, atomically).
	v, err := s.Store.FindVideoByID(ctx, videoID, actorID)
	if err != nil {
		return err
	}
	if v.AuthorID != actorID {
		return reel.Errorf(reel.EFORBIDDEN, "only the author may change the captions of video %d", videoID)
	}
	track, err := Parse(body)
	if err != nil {
		return err
	}
	key := reel.CaptionKey(videoID, tag, newRev())
	if _, err := s.Blobs.Put(ctx, key, bytes.NewReader(track.WebVTT)); err != nil {
		return fmt.Errorf("store captions %s of video %d: %w", tag, videoID, err)
	}
	replaced, err := s.Store.PutCaption(ctx, videoID, actorID, reel.Caption{Lang: tag, Label: label, Key: key, SizeBytes: int64(len(track.WebVTT))})
	if err != nil {
		s.remove(context.WithoutCancel(ctx), videoID, key)
		return err
	}
	if err := s.Publish(ctx, videoID); err != nil {
		return err
	}
	if replaced != nil {
		s.remove(ctx, videoID, replaced.Key)
	}
	return nil
}

// Delete removes the captions of lang from video videoID (nothing when it
// has none), publishes the manifests without them, and then removes their
// files.
func (s *Service) Delete(ctx context.Context, videoID, actorID int64, lang string) error {
	tag, err := Tag(lang)
	if err != nil {
		return err
	}
	deleted, err := s.Store.DeleteCaption(ctx, videoID, actorID, tag)
	if err != nil {
		return err
	}
	if deleted == nil {
		return nil
	}
	if err := s.Publish(ctx, videoID); err != nil {
		return err
	}
	s.remove(ctx, videoID, deleted.Key)
	return nil
}

// remove deletes the files of one caption upload: they are no longer
// listed, so a failure leaves only garbage, removed with the video.
func (s *Service) remove(ctx context.Context, videoID int64, vttKey string) {
	for _, key := range []string{playlistKey(vttKey), vttKey} {
		if err := s.Blobs.Delete(ctx, key); err != nil && s.Logger != nil {
			s.Logger.Warn("remove replaced captions", "video_id", videoID, "key", key, "err", err)
		}
	}
}

// maxPublishRounds bounds Publish's re-reads. Each round after the first
// follows a change committed while the previous round was written, so a
// publisher runs at most one round per change made meanwhile (each a
// request of the owner's, within their rate limit). It may not stop
// earlier with success: the last publisher to write is the one that must
// see the last change.
const maxPublishRounds = 100

// Publish writes the stored captions of video videoID into its stored
// master playlist and MPD (see the package comment). A video without a
// final master yet has nothing to publish into: the job that writes it
// calls Publish afterwards (jobs.Config.PublishManifests).
func (s *Service) Publish(ctx context.Context, videoID int64) error {
	var written []reel.Caption
	for round := range maxPublishRounds {
		list, err := s.Store.ListCaptions(ctx, videoID)
		if err != nil {
			return err
		}
		if round > 0 && slices.Equal(list, written) {
			return nil
		}
		done, err := s.publishOnce(ctx, videoID, list)
		if err != nil || !done {
			return err
		}
		written = list
	}
	return fmt.Errorf("captions of video %d kept changing while its manifests were written", videoID)
}

// publishOnce writes list into the manifests; false when there is no
// master to write into (or no video).
func (s *Service) publishOnce(ctx context.Context, videoID int64, list []reel.Caption) (bool, error) {
	dir := reel.HLSKeyPrefix(videoID)
	master, err := s.read(ctx, dir+reel.MasterName)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	v, err := s.Store.VideoForJob(ctx, videoID)
	if reel.ErrorCode(err) == reel.ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	renditions := make([]Rendition, len(list))
	for i, c := range list {
		renditions[i] = Rendition{Lang: c.Lang, Label: c.Label,
			Playlist: strings.TrimPrefix(playlistKey(c.Key), dir), VTT: strings.TrimPrefix(c.Key, dir),
			Bandwidth: bandwidth(c.SizeBytes, v.DurationMS)}
		// The playlist names the file beside it.
		name := c.Key[strings.LastIndexByte(c.Key, '/')+1:]
		if err := s.write(ctx, playlistKey(c.Key), nil, MediaPlaylist(name, v.DurationMS)); err != nil {
			return false, err
		}
	}
	edited, err := EditMaster(master, renditions)
	if err != nil {
		return false, fmt.Errorf("video %d: %w", videoID, err)
	}
	if err := s.write(ctx, dir+reel.MasterName, master, edited); err != nil {
		return false, err
	}
	mpd, err := s.read(ctx, dir+reel.MPDName)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil // no DASH for this video
	}
	if err != nil {
		return false, err
	}
	if edited, err = EditMPD(mpd, renditions); err != nil {
		return false, fmt.Errorf("video %d: %w", videoID, err)
	}
	return true, s.write(ctx, dir+reel.MPDName, mpd, edited)
}

// maxManifest bounds what is read of a manifest: a master or an MPD of a
// ladder with captions is a few kilobytes.
const maxManifest = 1 << 20

func (s *Service) read(ctx context.Context, key string) ([]byte, error) {
	return blob.ReadSmall(ctx, s.Blobs, key, maxManifest)
}

// write stores b at key unless it is what was read there (old).
func (s *Service) write(ctx context.Context, key string, old, b []byte) error {
	if old != nil && bytes.Equal(old, b) {
		return nil
	}
	if _, err := s.Blobs.Put(ctx, key, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// playlistKey is the HLS playlist beside a caption's WebVTT file.
func playlistKey(vttKey string) string { return strings.TrimSuffix(vttKey, ".vtt") + ".m3u8" }

// newRev names one upload: 64 random bits.
func newRev() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return hex.EncodeToString(b)
}
