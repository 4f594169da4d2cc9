// Package publish turns a received upload into a video: it checks with
// ffprobe that the file is one, creates the video, stores the original and
// hands it to the processing job. The native API and the Douyin adapter
// both publish through it.
package publish

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/media"
	"github.com/reel-video/reel/internal/upload"
)

// Publisher publishes uploads.
type Publisher struct {
	Videos reel.VideoService
	Blobs  blob.Store
	Limits media.Limits
	// WorkDir holds the cover while it is made, when Publish makes one.
	WorkDir string
}

// Options of one publication.
type Options struct {
	Title, Description, Visibility string
	// Cover makes the cover before Publish returns, so that the answer
	// already carries it (the Douyin API promises that).
	Cover bool
}

// Publish checks, stores and enqueues rec for authorID. The video is created
// as uploading and finished once its original is stored, so a crash in
// between leaves an unfinished upload that expires, never a job without its
// file. rec.Path is moved away on success.
func (p *Publisher) Publish(ctx context.Context, authorID int64, rec *upload.Received, o Options) (*reel.Video, error) {
	if o.Visibility == "" {
		o.Visibility = reel.VisibilityPublic
	}
	if err := reel.ValidateVideoText(&o.Title, &o.Description, &o.Visibility); err != nil {
		return nil, err
	}
	// Without ffmpeg on this node the worker that has it judges the file later.
	var info *media.Info
	if media.Available() == nil {
		var err error
		if info, err = media.Probe(ctx, rec.Path); err != nil {
			return nil, err
		}
		if err := p.Limits.Check(info); err != nil {
			return nil, err
		}
	}
	v := &reel.Video{AuthorID: authorID, Title: o.Title, Description: o.Description, Visibility: o.Visibility,
		Status: reel.StatusUploading, SizeBytes: rec.Size, SHA256: rec.SHA256}
	if err := p.Videos.CreateVideo(ctx, v); err != nil {
		return nil, err
	}
	if o.Cover && info != nil {
		if err := p.cover(ctx, v.ID, rec.Path, info); err != nil {
			return nil, err
		}
	}
	key := reel.OriginalKey(v.ID) + originalExt(info)
	if err := p.Blobs.PutFile(ctx, key, rec.Path); err != nil {
		return nil, fmt.Errorf("store original of video %d: %w", v.ID, err)
	}
	if err := p.Videos.FinishUpload(ctx, v.ID, key, rec.Size, rec.SHA256); err != nil {
		return nil, err
	}
	return p.Videos.FindVideoByID(ctx, v.ID, authorID)
}

// originalExt names the original by the container ffprobe found, so that
// the media handler can serve it as video (the Douyin API plays it until
// the progressive MP4 exists); without a known container it has none and
// is served as application/octet-stream, never sniffed.
func originalExt(info *media.Info) string {
	if info == nil {
		return ""
	}
	switch {
	case strings.Contains(info.FormatName, "mp4") || strings.Contains(info.FormatName, "mov"):
		return ".mp4"
	case strings.Contains(info.FormatName, "webm") && (info.VideoCodec == "vp8" || info.VideoCodec == "vp9" || info.VideoCodec == "av1"):
		return ".webm"
	}
	return ""
}

// cover makes and stores the cover now; the job keeps it.
func (p *Publisher) cover(ctx context.Context, id int64, src string, info *media.Info) error {
	dir, err := os.MkdirTemp(p.WorkDir, fmt.Sprintf("cover-%d-", id))
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	jpg, webp := filepath.Join(dir, "cover.jpg"), filepath.Join(dir, "cover.webp")
	if err := media.Cover(ctx, src, info, jpg, webp); err != nil {
		return err
	}
	for key, path := range map[string]string{reel.CoverKey(id, "jpg"): jpg, reel.CoverKey(id, "webp"): webp} {
		if err := p.Blobs.PutFile(ctx, key, path); err != nil {
			return fmt.Errorf("store cover of video %d: %w", id, err)
		}
	}
	return p.Videos.SetProcessed(ctx, id, reel.Processed{CoverKey: reel.CoverKey(id, "jpg")})
}
