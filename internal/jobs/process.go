package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"golang.org/x/sync/errgroup"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/media"
)

// Store is what the workers need of the database.
type Store interface {
	// VideoForJob returns a video whatever its visibility.
	VideoForJob(ctx context.Context, id int64) (*reel.Video, error)
	SetProcessed(ctx context.Context, id int64, p reel.Processed) error
	// ExpireUploads deletes the videos whose upload was not finished before
	// the deadline (enqueuing the removal of their files) and returns how
	// many there were.
	ExpireUploads(ctx context.Context, before time.Time) (int, error)
	// UploadInUse reports whether a video still waits for the upload's file.
	UploadInUse(ctx context.Context, uploadID string) (bool, error)
	// DeleteExpiredLeases removes upload locks whose lease ran out.
	DeleteExpiredLeases(ctx context.Context) (int64, error)
}

// ProcessVideoArgs is the job that turns an original into covers, an MP4 and HLS.
type ProcessVideoArgs struct {
	VideoID int64 `json:"video_id"`
}

func (ProcessVideoArgs) Kind() string { return "process_video" }

func (ProcessVideoArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueMedia, MaxAttempts: maxAttempts}
}

type processWorker struct {
	river.WorkerDefaults[ProcessVideoArgs]
	store Store
	blobs blob.Store
	cfg   Config
	log   *slog.Logger
}

// NextRetry backs off 15 s, then 1 min: long enough for a passing fault
// (a full disk being cleaned, a database failover) to clear.
func (w *processWorker) NextRetry(job *river.Job[ProcessVideoArgs]) time.Time {
	return time.Now().Add(time.Duration(job.Attempt*job.Attempt) * 15 * time.Second)
}

func (w *processWorker) Work(ctx context.Context, job *river.Job[ProcessVideoArgs]) error {
	id := job.Args.VideoID
	log := w.log.With("video_id", id, "attempt", job.Attempt)
	v, err := w.store.VideoForJob(ctx, id)
	if reel.ErrorCode(err) == reel.ENOTFOUND {
		return nil // deleted before its turn
	}
	if err != nil {
		return err
	}
	if v.Status == reel.StatusReady || v.Status == reel.StatusFailed {
		return nil
	}
	if err := media.Available(); err != nil {
		// Not this video's fault: wait, with the reason visible, for a worker that has ffmpeg.
		w.report(ctx, id, reel.Processed{Error: ptr("waiting for a worker with ffmpeg: " + err.Error())})
		log.Warn("cannot process video", "err", err)
		return river.JobSnooze(time.Minute)
	}

	start := time.Now()
	steps := &stepTimes{}
	err = w.process(ctx, v, steps)
	switch {
	case err == nil:
		log.Info("video ready", "took_ms", time.Since(start).Milliseconds(), "steps_ms", steps.ms)
		return nil
	case reel.ErrorCode(err) == reel.ENOTFOUND:
		// Deleted while processing: whatever this attempt stored goes too.
		_ = w.blobs.DeletePrefix(context.WithoutCancel(ctx), reel.VideoKeyPrefix(id))
		return nil
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// Stopped by a shutdown (or a deploy): not the video's fault. A
		// snooze gives the attempt back, and the job resumes soon, here
		// after a restart or on another node.
		// Its early master, if it had one, stops growing: withdrawn.
		w.report(ctx, id, reel.Processed{ClearHLS: true})
		log.Info("processing interrupted by shutdown; it resumes on the next worker")
		return river.JobSnooze(time.Second)
	case errors.As(err, new(*noScratchError)):
		// Waiting for room is not an attempt: a snooze gives it back.
		w.report(ctx, id, reel.Processed{Error: ptr(err.Error())})
		log.Warn("no scratch space for the video; waiting", "err", err)
		return river.JobSnooze(time.Minute)
	case isRejection(err):
		// The file itself is the problem: retrying cannot help.
		if err := w.reject(ctx, id, reel.ErrorMessage(err)); err != nil {
			log.Warn("record video rejection", "err", err)
			return err // retried: the next attempt rejects it again
		}
		log.Info("video rejected", "reason", reel.ErrorMessage(err))
		return river.JobCancel(err)
	case job.Attempt >= job.MaxAttempts:
		w.report(ctx, id, reel.Processed{Status: reel.StatusFailed, Error: ptr(reason(err)), ClearHLS: true})
		log.Error("video failed", "err", err)
		return err
	default:
		// An early master this attempt published would not grow any more:
		// withdrawn until the next attempt publishes its own.
		w.report(ctx, id, reel.Processed{ClearHLS: true,
			Error: ptr(fmt.Sprintf("attempt %d of %d failed, retrying: %s", job.Attempt, job.MaxAttempts, reason(err)))})
		log.Warn("video attempt failed", "err", err)
		return err
	}
}

// reject fails a video whose file is refused (not a video, or beyond the
// limits) and deletes every file it has: the original, and whatever an
// attempt stored before the refusal (the cover, a fast-path MP4 made
// before the ladder found the timestamps lying). The row is failed and
// its keys are cleared first, so no URL ever points at a deleted file; a
// delete that fails then leaves files no row names, and is logged.
func (w *processWorker) reject(ctx context.Context, id int64, why string) error {
	ctx = context.WithoutCancel(ctx)
	err := w.store.SetProcessed(ctx, id, reel.Processed{Status: reel.StatusFailed, Error: ptr(why), ClearFiles: true})
	if err != nil && reel.ErrorCode(err) != reel.ENOTFOUND {
		return err
	}
	if err := w.blobs.DeletePrefix(ctx, reel.VideoKeyPrefix(id)); err != nil {
		w.log.Warn("delete the files of a rejected video", "video_id", id, "err", err)
	}
	return nil
}

// report records progress or an outcome; if the video is gone the next
// step notices, so errors are only logged here.
func (w *processWorker) report(ctx context.Context, id int64, p reel.Processed) {
	if err := w.store.SetProcessed(context.WithoutCancel(ctx), id, p); err != nil && reel.ErrorCode(err) != reel.ENOTFOUND {
		w.log.Warn("record video progress", "video_id", id, "err", err)
	}
}

// process runs the steps of the media pipeline (README). Each step records
// what it produced, so a client sees the cover and the fast-path MP4 as
// soon as they exist; SetProcessed answering ENOTFOUND stops the work.
func (w *processWorker) process(ctx context.Context, v *reel.Video, steps *stepTimes) error {
	id := v.ID
	work, err := newScratch(w.cfg.WorkDir, id)
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := w.checkScratchSpace(ctx, v, work); err != nil {
		return err
	}

	steps.start("original")
	src, err := w.original(ctx, v, work)
	if err != nil {
		return err
	}
	if reused, err := w.reuse(ctx, v); reused || err != nil {
		return err
	}
	steps.start("probe")
	info, err := media.Probe(ctx, src)
	if err != nil {
		return err
	}
	if err := w.cfg.Limits.Check(info); err != nil {
		return err
	}
	// A resumed job redoes its steps, but the progress a client saw never
	// goes back: only values above the stored one are written.
	progressAt := func(p int) *int {
		if p <= v.Progress {
			return nil
		}
		return &p
	}
	if err := w.store.SetProcessed(ctx, id, reel.Processed{
		DurationMS: info.DurationMS, Width: info.Width, Height: info.Height, Progress: progressAt(2), Error: ptr(""),
	}); err != nil {
		return err
	}

	// The loudness, which the ladder's audio filter needs, is measured (an
	// audio-only decode) while the fast-path MP4 is made, then the cover,
	// so it does not delay the first playable URL. Without a fast path the
	// ladder makes the first playable rendition, so it starts as soon as
	// the loudness is known, and the cover (a decode of the first seconds)
	// waits for the early master, so as not to slow its first segment.
	steps.start("cover")
	var loudness *media.Loudness
	fastPath := media.CanRemux(info)
	side, sideCtx := errgroup.WithContext(ctx)
	defer func() { _ = side.Wait() }() // before the scratch directory goes
	if fastPath {
		side.Go(func() error {
			steps.start("remux")
			mp4 := filepath.Join(work, "play.mp4")
			if err := media.Remux(sideCtx, src, mp4, info); err != nil {
				return err
			}
			if err := w.put(sideCtx, reel.PlayKey(id), mp4); err != nil {
				return err
			}
			if err := w.store.SetProcessed(sideCtx, id, reel.Processed{PlayKey: reel.PlayKey(id), Progress: progressAt(10)}); err != nil {
				return err
			}
			return w.cover(sideCtx, v, src, info, work, nil) // progress is at 10 already
		})
	}
	loudness, err = media.MeasureLoudness(ctx, src, info)
	if err != nil && ctx.Err() == nil {
		// Normalising is polish: the clip is encoded at its own loudness
		// rather than failed (what is wrong with its audio, the ladder meets).
		w.log.Warn("measure loudness; encoding without normalising", "video_id", id, "err", err)
		loudness, err = nil, nil
	}
	if err == nil && fastPath {
		err = side.Wait()
	}
	if err != nil {
		return err
	}

	steps.start("ladder")
	hlsDir := filepath.Join(work, "hls")
	progress := w.progressReporter(ctx, id, 10, v.Progress)
	ladderCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rungs := media.PlanRungs(info, w.cfg.Rungs)
	// Without a remuxed MP4 to play meanwhile, the lowest rung and the
	// audio are encoded by a process of their own (FastFirstRung), and the
	// early master names that rung alone: the large rungs, encoded in
	// lockstep in the other process, would hold its first segment back by
	// seconds. Early viewers get the lowest rung; the final master has all.
	liveRungs := rungs
	fastFirst := false
	if first, ok := media.FirstRung(info, rungs); ok && !fastPath {
		liveRungs, fastFirst = []media.Rung{first}, true
	}
	out, err := w.newOutputs(hlsDir, filepath.Join(work, "staging"))
	if err != nil {
		return err
	}
	live, err := w.newLiveWatcher(id, out, media.LiveMaster(info, liveRungs), cancel)
	if err != nil {
		return err
	}
	live.start(ladderCtx)
	defer live.stop()
	ladderDone := make(chan struct{})
	var ladderFailed atomic.Bool
	if !fastPath {
		side.Go(func() error {
			select {
			case <-live.live:
			case <-ladderDone:
				if ladderFailed.Load() {
					return nil // the attempt ends: no cover for it
				}
			case <-sideCtx.Done():
				return sideCtx.Err()
			}
			return w.cover(sideCtx, v, src, info, work, nil) // the ladder reports progress
		})
	}
	res, err := media.Ladder(ladderCtx, src, hlsDir, info, media.LadderOptions{
		Rungs:          rungs,
		ProgressiveMP4: !fastPath,
		AudioFilter:    loudness.Filter(),
		Storyboard:     true,
		FastFirstRung:  fastFirst,
		Progress: func(pct int) {
			if err := progress(pct); reel.ErrorCode(err) == reel.ENOTFOUND {
				cancel(err) // deleted meanwhile: stop ffmpeg now
			}
		},
	})
	ladderFailed.Store(err != nil)
	close(ladderDone)
	if cause := context.Cause(ladderCtx); err != nil && reel.ErrorCode(cause) == reel.ENOTFOUND {
		return cause
	}
	if err != nil {
		return err
	}
	if err := side.Wait(); err != nil { // the cover, made beside the ladder
		return err
	}
	steps.start("store")
	if err := w.storeOutputs(ctx, id, info, hlsDir, filepath.Join(work, "preview.webp"), res, live); err != nil {
		return err
	}
	done := reel.Processed{
		Status: reel.StatusReady, Progress: ptr(100), Error: ptr(""),
		HLSKey: reel.HLSKeyPrefix(id) + res.Master, Renditions: make([]reel.Rendition, len(res.Renditions)),
		DashKey: reel.HLSKeyPrefix(id) + mpdName, PreviewKey: reel.HLSKeyPrefix(id) + previewName,
	}
	for i, r := range res.Renditions {
		done.Renditions[i] = reel.Rendition{Width: r.Width, Height: r.Height, Bandwidth: r.Bandwidth}
	}
	if res.ProgressiveMP4 != "" {
		done.PlayKey = reel.PlayKey(id)
	}
	if res.Storyboard != "" {
		done.StoryboardKey = reel.HLSKeyPrefix(id) + res.Storyboard
	}
	if err := w.store.SetProcessed(ctx, id, done); err != nil {
		return err
	}
	steps.start("")
	// Captions added between the first publication and now are in the
	// manifests either way: their own publication saw the video ready, or
	// this one does. Its failure leaves the video ready and its captions
	// listed by their own publication, so it is only logged.
	if err := w.publishManifests(ctx, id); err != nil {
		w.log.Warn("publish the manifests of a ready video", "video_id", id, "err", err)
	}
	return nil
}

// Names of the outputs the job adds to the ladder's, under the video's HLS prefix.
const (
	mpdName     = reel.MPDName
	previewName = "preview.webp"
)

// cover makes and stores the covers, unless publishing made them already,
// and records them.
func (w *processWorker) cover(ctx context.Context, v *reel.Video, src string, info *media.Info, work string, progress *int) error {
	id := v.ID
	if v.CoverKey == "" { // publishing may have made it already
		jpg, webp := filepath.Join(work, "cover.jpg"), filepath.Join(work, "cover.webp")
		if err := media.Cover(ctx, src, info, jpg, webp); err != nil {
			return err
		}
		if err := w.put(ctx, reel.CoverKey(id, "jpg"), jpg, reel.CoverKey(id, "webp"), webp); err != nil {
			return err
		}
	}
	return w.store.SetProcessed(ctx, id, reel.Processed{CoverKey: reel.CoverKey(id, "jpg"), Progress: progress})
}

// storeOutputs stores what the ladder wrote under hlsDir and the live
// watcher has not stored yet, then the manifests, so that nothing names an
// object that is not there: the rest of the segments and the live
// playlists complete (finish), the DASH MPD over the same segments, the
// variant playlists and the storyboard, then the masters; the preview is
// made from the lowest rung meanwhile. PublishManifests runs last.
func (w *processWorker) storeOutputs(ctx context.Context, id int64, info *media.Info, hlsDir, preview string, res *media.LadderResult, live *liveWatcher) error {
	if err := live.finish(ctx); err != nil {
		return err
	}
	if err := media.WriteMPD(hlsDir, info.DurationMS); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		lowest := res.Renditions[len(res.Renditions)-1].Playlist
		if err := media.Preview(gctx, filepath.Join(hlsDir, filepath.FromSlash(lowest)), preview, info); err != nil {
			return err
		}
		return w.put(gctx, reel.HLSKeyPrefix(id)+previewName, preview)
	})
	g.Go(func() error {
		if res.ProgressiveMP4 != "" {
			// Stored apart: players want it at play.mp4.
			if err := live.out.put(gctx, reel.PlayKey(id), filepath.Join(hlsDir, res.ProgressiveMP4)); err != nil {
				return err
			}
		}
		return live.out.putTree(gctx, reel.HLSKeyPrefix(id))
	})
	if err := g.Wait(); err != nil {
		return err
	}
	return w.publishManifests(ctx, id)
}

// stepTimes records how long each step of a job took, for the log line
// (and the benchmark that reads it).
type stepTimes struct {
	ms      map[string]int64
	current string
	since   time.Time
}

// start ends the current step and begins the named one ("" ends only).
func (s *stepTimes) start(step string) {
	if s.ms == nil {
		s.ms = map[string]int64{}
	}
	if s.current != "" {
		s.ms[s.current] = time.Since(s.since).Milliseconds()
	}
	s.current, s.since = step, time.Now()
}

// original returns a local path of the video's original. A tus upload is
// first stored as the original, hashed on the way, and removed from the
// upload area, so that the area only ever holds unfinished uploads.
func (w *processWorker) original(ctx context.Context, v *reel.Video, work string) (string, error) {
	key := v.OriginalKey
	if key == "" {
		if v.UploadID == "" {
			return "", reel.Errorf(reel.EUNSUPPORTED, "the video has no original file")
		}
		key = reel.OriginalKey(v.ID)
		if path, ok := w.cfg.Uploads.LocalPath(v.UploadID); ok {
			if err := w.moveUpload(ctx, v, key, path); err != nil {
				return "", err
			}
		} else {
			return w.takeUpload(ctx, v, key, work)
		}
	}
	// ffmpeg reads a copy in the job's scratch, never a file of the blob
	// store: the store may be remote, and on disk its files are the
	// store's alone (a copy on the same file system is copy_file_range).
	obj, err := w.blobs.Open(ctx, key)
	if err != nil {
		return "", fmt.Errorf("open original: %w", err)
	}
	defer obj.Close()
	path := filepath.Join(work, "original")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var src io.Reader = obj
	if obj.File != nil {
		src = obj.File // *os.File to *os.File: the kernel copies
	}
	if _, err := io.Copy(f, src); err != nil {
		return "", fmt.Errorf("fetch original: %w", err)
	}
	return path, f.Close()
}

// moveUpload moves the finished upload at path, in this node's upload
// area, into the blob store as v's original at key, hashed on the way. An
// attempt that died after the move but before recording it left the file
// in the store and none in the area: the next attempt hashes the stored
// one and records it, instead of failing on the missing upload forever.
func (w *processWorker) moveUpload(ctx context.Context, v *reel.Video, key, path string) error {
	sum, size, err := hashFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if sum, size, err = w.hashStored(ctx, key); err != nil {
			return fmt.Errorf("read finished upload: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read finished upload: %w", err)
	default:
		if err := w.blobs.PutFile(ctx, key, path); err != nil {
			return fmt.Errorf("store original: %w", err)
		}
	}
	if err := w.store.SetProcessed(ctx, v.ID, reel.Processed{OriginalKey: key, SizeBytes: size, SHA256: sum}); err != nil {
		return err
	}
	if err := w.cfg.Uploads.Remove(ctx, v.UploadID); err != nil {
		w.log.Warn("remove the finished upload's files", "video_id", v.ID, "err", err)
	}
	return nil
}

// hashStored hashes the object at key.
func (w *processWorker) hashStored(ctx context.Context, key string) (string, int64, error) {
	obj, err := w.blobs.Open(ctx, key)
	if err != nil {
		return "", 0, err
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// takeUpload streams the finished upload of v from a remote area into the
// scratch directory, hashing it on the way, stores the copy as the
// original at key and keeps a local one for ffmpeg, whose path it returns.
// The upload is removed only once the video names its original: a crash
// before that finds it again on the next attempt.
func (w *processWorker) takeUpload(ctx context.Context, v *reel.Video, key, work string) (string, error) {
	body, err := w.cfg.Uploads.Open(ctx, v.UploadID)
	if err != nil {
		return "", fmt.Errorf("open finished upload: %w", err)
	}
	defer body.Close()
	path := filepath.Join(work, "original")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(f, h), body)
	if err != nil {
		return "", fmt.Errorf("fetch finished upload: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if _, err := w.blobs.Put(ctx, key, f); err != nil {
		return "", fmt.Errorf("store original: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := w.store.SetProcessed(ctx, v.ID, reel.Processed{OriginalKey: key, SizeBytes: size, SHA256: hex.EncodeToString(h.Sum(nil))}); err != nil {
		return "", err
	}
	if err := w.cfg.Uploads.Remove(ctx, v.UploadID); err != nil {
		// The video has its original: what is left expires with the area's sweep.
		w.log.Warn("remove the finished upload", "video_id", v.ID, "err", err)
	}
	return path, nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// putConcurrency is how many outputs of one job are uploaded at once: on
// S3 each PutFile is a round trip or more, and a ladder has dozens of
// segments; on disk each is a rename.
const putConcurrency = 4

// put stores local files under keys, given as key, path pairs, at most
// putConcurrency at a time. The first failure cancels the others, and put
// returns only once none is still running, so nothing is stored after it
// has returned. Each object is whole or absent (PutFile is atomic), and a
// retried job puts them all again: replacing an object is harmless.
func (w *processWorker) put(ctx context.Context, keyPaths ...string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(putConcurrency)
	for i := 0; i+1 < len(keyPaths); i += 2 {
		key, path := keyPaths[i], keyPaths[i+1]
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err // another put failed: do not start this one
			}
			if err := w.blobs.PutFile(gctx, key, path); err != nil {
				return fmt.Errorf("store %s: %w", key, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// putTree stores every file of the directory under prefix, but those
// stored already, in three waves: media files, then the manifests in
// subdirectories (a rendition's index, which names its segments; the
// storyboard's WebVTT, which names its sprites), then the manifests at the
// top (the master, which names the renditions' playlists; the MPD). A wave
// starts when the one before has stored everything, so a client never
// finds a manifest naming an object that is not there yet.
func (o *outputs) putTree(ctx context.Context, prefix string) error {
	var waves [3][]string
	err := filepath.WalkDir(o.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(o.dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if o.isStored(rel) {
			return nil
		}
		wave := 0
		switch strings.ToLower(filepath.Ext(path)) {
		case ".m3u8", ".mpd", ".vtt":
			wave = 1
			if !strings.Contains(rel, "/") {
				wave = 2
			}
		}
		waves[wave] = append(waves[wave], prefix+rel, path)
		return nil
	})
	if err != nil {
		return err
	}
	for _, keyPaths := range waves {
		if err := o.put(ctx, keyPaths...); err != nil {
			return err
		}
	}
	return nil
}

// progressReporter maps ffmpeg's 0-99 onto from..99 and writes a change
// above shown (what the client saw already) at most twice a second: enough
// for a progress bar, little for the database.
func (w *processWorker) progressReporter(ctx context.Context, id int64, from, shown int) func(int) error {
	var mu sync.Mutex
	last, lastAt := shown, time.Time{}
	return func(pct int) error {
		mu.Lock()
		defer mu.Unlock()
		p := from + pct*(99-from)/100
		if p <= last || time.Since(lastAt) < 500*time.Millisecond {
			return nil
		}
		last, lastAt = p, time.Now()
		return w.store.SetProcessed(ctx, id, reel.Processed{Progress: &p})
	}
}

// isRejection reports whether err condemns the input itself.
func isRejection(err error) bool {
	code := reel.ErrorCode(err)
	return code == reel.EUNSUPPORTED || code == reel.EINVALID
}

// reason is the text shown to the uploader for a failure.
func reason(err error) string {
	var te *media.ToolError
	if errors.As(err, &te) {
		return te.Error()
	}
	var re *reel.Error
	if errors.As(err, &re) {
		return re.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "processing took longer than the job timeout"
	}
	return err.Error()
}

func ptr[T any](v T) *T { return &v }
