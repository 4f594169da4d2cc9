// Package publish turns a received upload into a video: it admits the
// upload (queue, quota, disk), checks with ffprobe that the file is one,
// creates the video, stores the original and hands it to the processing
// job. Every upload route publishes through it: multipart on /api/v1, the
// Douyin adapter, and tus (Create at creation, Finish at the end).
package publish

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/httperr"
	"github.com/reel-video/reel/internal/media"
	"github.com/reel-video/reel/internal/upload"
)

// Publisher publishes uploads. The zero Admission and a nil Work admit and
// probe without bounds (reel seed); serve sets both.
type Publisher struct {
	Videos reel.VideoService
	Blobs  blob.Store
	Limits media.Limits
	// WorkDir holds the cover while it is made, when Publish makes one.
	WorkDir   string
	Admission Admission
	Usage     Usage // required when Admission.QuotaBytes is set
	// Work bounds the ffprobe and ffmpeg runs done inside requests.
	Work *Gate

	// probe is probeSource; tests replace it.
	probe func(ctx context.Context, source string, size int64) (*media.Info, error)
	anon  anonymous
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
// file. rec.Path is moved away on success; on failure the caller removes it
// and the video created on the way is deleted with its files.
func (p *Publisher) Publish(ctx context.Context, authorID int64, rec *upload.Received, o Options) (_ *reel.Video, err error) {
	if err := validate(&o); err != nil {
		return nil, err
	}
	if err := p.checkQuota(ctx, authorID, rec.Size); err != nil {
		return nil, err
	}
	info, err := p.check(ctx, rec.Path, rec.Size)
	if err != nil {
		return nil, err
	}
	v := &reel.Video{AuthorID: authorID, Title: o.Title, Description: o.Description, Visibility: o.Visibility,
		Status: reel.StatusUploading, SizeBytes: rec.Size, SHA256: rec.SHA256}
	if err := p.Videos.CreateVideo(ctx, v); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.discard(ctx, v.ID, authorID)
		}
	}()
	if o.Cover && info != nil {
		if err := p.cover(ctx, v.ID, rec.Path, info); err != nil {
			return nil, err
		}
	}
	key := reel.OriginalKey(v.ID) + originalExt(info)
	if err := p.Blobs.PutFile(ctx, key, rec.Path); err != nil {
		if upload.IsNoSpace(err) {
			return nil, upload.ErrNoSpace()
		}
		return nil, fmt.Errorf("store original of video %d: %w", v.ID, err)
	}
	// The answer is what the store's finishing transaction read: once it
	// has committed, no further query may turn the accepted upload into an
	// error that the client would retry.
	return p.finish(ctx, v.ID, key, rec.Size, rec.SHA256)
}

// Create creates the video of a tus upload that has just been admitted; its
// file arrives later and Finish completes it.
func (p *Publisher) Create(ctx context.Context, authorID int64, uploadID string, o Options) (*reel.Video, error) {
	if err := validate(&o); err != nil {
		return nil, err
	}
	v := &reel.Video{AuthorID: authorID, Title: o.Title, Description: o.Description, Visibility: o.Visibility,
		Status: reel.StatusUploading, UploadID: uploadID}
	if err := p.Videos.CreateVideo(ctx, v); err != nil {
		return nil, err
	}
	return v, nil
}

// Finish completes the video of a tus upload whose whole file is at
// source, a local path or an http(s) URL (an upload kept on S3, read in
// place): it is checked as Publish checks a multipart file and enqueued. A file
// that is not an acceptable video is refused and the video deleted with its
// upload files; a full queue is refused with 503 and keeps the video, so
// that the client may finish it again later. The store decides the quota
// atomically (FinishUpload); the check before the probe only spares it.
func (p *Publisher) Finish(ctx context.Context, videoID, authorID int64, source string, size int64) error {
	if err := p.checkQuota(ctx, authorID, size); err != nil {
		p.discard(ctx, videoID, authorID)
		return err
	}
	if _, err := p.check(ctx, source, size); err != nil {
		if code := reel.ErrorCode(err); code == reel.EUNSUPPORTED || code == reel.EINVALID {
			p.discard(ctx, videoID, authorID)
		}
		return err
	}
	// The job moves the file into the blob store and hashes it on the way.
	_, err := p.finish(ctx, videoID, "", size, "")
	if reel.ErrorCode(err) == reel.EQUOTA {
		// Over the quota at the atomic check: the upload will not fit
		// until the user deletes videos, so it goes with its files.
		p.discard(ctx, videoID, authorID)
	}
	return err
}

// finish enqueues the video and answers it as the store had it then; the
// store refuses it atomically when the queue is full (503) or the author's
// quota would be exceeded (413).
func (p *Publisher) finish(ctx context.Context, id int64, key string, size int64, sum string) (*reel.Video, error) {
	v, err := p.Videos.FinishUpload(ctx, id, key, size, sum)
	if reel.ErrorCode(err) == reel.EUNAVAILABLE {
		if _, ok := httperr.RetryHint(err); !ok {
			err = &Busy{Err: err, After: queueRetryAfter}
		}
	}
	return v, err
}

// discard deletes a video that will not be published, with its files (the
// store's delete job removes them, a tus upload's included), even when the
// request that brought it is gone. What this node already stored of it (an
// original, a cover) goes at once, not when a worker runs the job.
func (p *Publisher) discard(ctx context.Context, id, authorID int64) {
	ctx = context.WithoutCancel(ctx)
	if err := p.Videos.DeleteVideo(ctx, id, authorID); err == nil {
		_ = p.Blobs.DeletePrefix(ctx, reel.VideoKeyPrefix(id))
	}
}

// check probes the file at source (a path or an http(s) URL, size bytes
// long) and applies the limits, within the Gate. Without ffmpeg on this
// node it answers nil information: the worker that has it judges the file
// later.
func (p *Publisher) check(ctx context.Context, source string, size int64) (*media.Info, error) {
	probe := p.probe
	if probe == nil {
		if media.Available() != nil {
			return nil, nil
		}
		probe = probeSource
	}
	release, err := p.Work.Enter(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	info, err := probe(ctx, source, size)
	if err != nil {
		return nil, err
	}
	if err := p.Limits.Check(info); err != nil {
		return nil, err
	}
	return info, nil
}

// probeSource probes a local file, or a URL with ffprobe's bounded http(s).
func probeSource(ctx context.Context, source string, size int64) (*media.Info, error) {
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		return media.ProbeURL(ctx, source, size)
	}
	return media.Probe(ctx, source)
}

func validate(o *Options) error {
	if o.Visibility == "" {
		o.Visibility = reel.VisibilityPublic
	}
	return reel.ValidateVideoText(&o.Title, &o.Description, &o.Visibility)
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

// cover makes and stores the cover now, within the Gate; the job keeps it.
func (p *Publisher) cover(ctx context.Context, id int64, src string, info *media.Info) error {
	release, err := p.Work.Enter(ctx)
	if err != nil {
		return err
	}
	defer release()
	dir, err := os.MkdirTemp(p.WorkDir, fmt.Sprintf("cover-%d-", id))
	if err != nil {
		if upload.IsNoSpace(err) {
			return upload.ErrNoSpace()
		}
		return err
	}
	defer os.RemoveAll(dir)
	jpg, webp := filepath.Join(dir, "cover.jpg"), filepath.Join(dir, "cover.webp")
	if err := media.Cover(ctx, src, info, jpg, webp); err != nil {
		return err
	}
	for key, path := range map[string]string{reel.CoverKey(id, "jpg"): jpg, reel.CoverKey(id, "webp"): webp} {
		if err := p.Blobs.PutFile(ctx, key, path); err != nil {
			if upload.IsNoSpace(err) {
				return upload.ErrNoSpace()
			}
			return fmt.Errorf("store cover of video %d: %w", id, err)
		}
	}
	return p.Videos.SetProcessed(ctx, id, reel.Processed{CoverKey: reel.CoverKey(id, "jpg")})
}
