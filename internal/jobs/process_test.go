package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/media"
	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/upload"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mediatest.RemoveAll()
	os.Exit(code)
}

// fakeStore keeps videos in memory and records every SetProcessed, so a
// test sees the order in which a job's steps reported what they made.
type fakeStore struct {
	mu      sync.Mutex
	videos  map[int64]*reel.Video
	updates []reel.Processed
	// onUpdate, when set, runs on each SetProcessed before it is applied.
	onUpdate func(reel.Processed)
	// refuse, when set, fails the SetProcessed calls it answers an error for.
	refuse func(reel.Processed) error
	// leaseSweeps counts the calls of DeleteExpiredLeases.
	leaseSweeps int
}

func (s *fakeStore) VideoForJob(_ context.Context, id int64) (*reel.Video, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.videos[id]
	if !ok {
		return nil, reel.Errorf(reel.ENOTFOUND, "no video %d", id)
	}
	c := *v
	return &c, nil
}

func (s *fakeStore) SetProcessed(_ context.Context, id int64, p reel.Processed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.onUpdate != nil {
		s.onUpdate(p)
	}
	if s.refuse != nil {
		if err := s.refuse(p); err != nil {
			return err
		}
	}
	v, ok := s.videos[id]
	if !ok {
		return reel.Errorf(reel.ENOTFOUND, "no video %d", id)
	}
	s.updates = append(s.updates, p)
	set := func(dst *string, src string) {
		if src != "" {
			*dst = src
		}
	}
	if p.ClearFiles {
		v.OriginalKey, v.CoverKey, v.PlayKey, v.HLSKey, v.Renditions = "", "", "", "", nil
		p.OriginalKey, p.CoverKey, p.PlayKey, p.HLSKey, p.Renditions = "", "", "", "", nil
		v.DashKey, v.StoryboardKey, v.PreviewKey = "", "", ""
		p.DashKey, p.StoryboardKey, p.PreviewKey = "", "", ""
	}
	set(&v.OriginalKey, p.OriginalKey)
	set(&v.Status, p.Status)
	set(&v.CoverKey, p.CoverKey)
	set(&v.PlayKey, p.PlayKey)
	set(&v.HLSKey, p.HLSKey)
	set(&v.DashKey, p.DashKey)
	set(&v.StoryboardKey, p.StoryboardKey)
	set(&v.PreviewKey, p.PreviewKey)
	set(&v.SHA256, p.SHA256)
	if p.SizeBytes > 0 {
		v.SizeBytes = p.SizeBytes
	}
	if p.Progress != nil {
		v.Progress = *p.Progress
	}
	if p.Error != nil {
		v.Error = *p.Error
	}
	if p.DurationMS > 0 {
		v.DurationMS, v.Width, v.Height = p.DurationMS, p.Width, p.Height
	}
	if p.Renditions != nil {
		v.Renditions = p.Renditions
	}
	return nil
}

func (s *fakeStore) ExpireUploads(context.Context, time.Time) (int, error) { return 0, nil }
func (s *fakeStore) UploadInUse(context.Context, string) (bool, error)     { return false, nil }

func (s *fakeStore) DeleteExpiredLeases(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leaseSweeps++
	return 0, nil
}

func (s *fakeStore) video(id int64) reel.Video {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.videos[id]
}

// harness is a process worker on a fake store and a disk blob store, with
// one processing video whose original is a mediatest clip.
type harness struct {
	store  *fakeStore
	blobs  blob.Store
	work   string
	worker *processWorker
}

const videoID = 7

func newHarness(t *testing.T, kind string, limits media.Limits) *harness {
	t.Helper()
	blobs, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessOn(t, kind, limits, blobs)
}

// newHarnessOn is newHarness on the blob store blobs.
func newHarnessOn(t *testing.T, kind string, limits media.Limits, blobs blob.Store) *harness {
	t.Helper()
	// PutFile moves its file: hand it a copy of the shared clip.
	b, err := os.ReadFile(mediatest.Clip(t, kind))
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "upload")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := blobs.PutFile(context.Background(), reel.OriginalKey(videoID), tmp); err != nil {
		t.Fatal(err)
	}
	store := &fakeStore{videos: map[int64]*reel.Video{
		videoID: {ID: videoID, Status: reel.StatusProcessing, OriginalKey: reel.OriginalKey(videoID)},
	}}
	work := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &harness{store: store, blobs: blobs, work: work, worker: &processWorker{
		store: store, blobs: blobs, log: log,
		// Two small rungs keep the ladder quick.
		cfg: Config{WorkDir: work, Uploads: diskArea(t), Limits: limits, Rungs: []media.Rung{{Short: 240, VideoKbps: 300}, {Short: 120, VideoKbps: 100}}},
	}}
}

// work runs attempt of the job, as River would.
func (h *harness) run(t *testing.T, attempt int) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return h.worker.Work(ctx, &river.Job[ProcessVideoArgs]{
		JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: maxAttempts},
		Args:   ProcessVideoArgs{VideoID: videoID},
	})
}

func (h *harness) stored(t *testing.T, key string) bool {
	t.Helper()
	_, err := h.blobs.Stat(context.Background(), key)
	return err == nil
}

func (h *harness) read(t *testing.T, key string) string {
	t.Helper()
	obj, err := h.blobs.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// scratchEmpty checks that the attempt left nothing in the work directory.
func (h *harness) scratchEmpty(t *testing.T) {
	t.Helper()
	entries, err := os.ReadDir(h.work)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("the work directory still holds %v", entries[0].Name())
	}
}

var testLimits = media.Limits{MaxDuration: time.Minute, MaxLong: 1280, MaxShort: 720}

// The steps in order, for a source that can be remuxed and one that
// cannot: the fast-path MP4 first (when there is one), then the cover and
// the ladder; without one, the early master and the cover (made once the
// early master is out, or the ladder done, whichever comes first); each
// reported as soon as it is stored, and the progress never going back.
func TestProcessSteps(t *testing.T) {
	tests := []struct {
		kind     string
		fastPath bool
	}{
		{"landscape", true},
		{"vp9", false},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tt.kind, testLimits)
			if err := h.run(t, 1); err != nil {
				t.Fatalf("Work: %v", err)
			}
			v := h.store.video(videoID)
			if v.Status != reel.StatusReady || v.Progress != 100 || v.Error != "" {
				t.Fatalf("video %+v, want ready at 100%% without error", v)
			}
			if v.Width != 640 || v.Height != 360 || v.DurationMS < 2900 || v.DurationMS > 3100 {
				t.Errorf("probe recorded %dx%d %d ms, want 640x360 3000 ms", v.Width, v.Height, v.DurationMS)
			}
			for _, key := range []string{reel.CoverKey(videoID, "jpg"), reel.CoverKey(videoID, "webp"), reel.PlayKey(videoID), v.HLSKey,
				reel.HLSKeyPrefix(videoID) + "240p/index.m3u8", reel.HLSKeyPrefix(videoID) + "120p/index.m3u8"} {
				if !h.stored(t, key) {
					t.Errorf("%s is not stored", key)
				}
			}
			prefix := reel.HLSKeyPrefix(videoID)
			if v.HLSKey != prefix+"master.m3u8" || v.DashKey != prefix+"manifest.mpd" || v.PreviewKey != prefix+"preview.webp" ||
				v.StoryboardKey != prefix+"storyboard/storyboard.vtt" {
				t.Errorf("keys: hls %q dash %q preview %q storyboard %q", v.HLSKey, v.DashKey, v.PreviewKey, v.StoryboardKey)
			}
			for _, key := range []string{v.DashKey, v.PreviewKey, v.StoryboardKey, LiveKey(videoID)} {
				if !h.stored(t, key) {
					t.Errorf("%s is not stored", key)
				}
			}
			// The live playlists a player may have started on are complete:
			// every rung's, or without a fast path the first rung's alone,
			// which its own process encodes (FastFirstRung).
			liveRungs := []string{"240p", "120p"}
			if !tt.fastPath {
				liveRungs = liveRungs[1:]
				if live := h.read(t, LiveKey(videoID)); strings.Contains(live, "240p/") || !strings.Contains(live, "120p/live.m3u8") {
					t.Errorf("early master of a source without a fast path:\n%s\nwant the first rung alone", live)
				}
			}
			for _, rung := range liveRungs {
				if text := h.read(t, prefix+rung+"/live.m3u8"); !strings.HasSuffix(text, "#EXT-X-ENDLIST\n") || !strings.Contains(text, "seg_000.m4s") {
					t.Errorf("%s/live.m3u8 at the end:\n%s", rung, text)
				}
			}
			if len(v.Renditions) != 2 || v.Renditions[0].Width != 426 || v.Renditions[0].Height != 240 {
				t.Errorf("renditions %+v, want 426x240 and a smaller one", v.Renditions)
			}

			// The order the client saw things appear in.
			var order []string
			last := -1
			for _, u := range h.store.updates {
				switch {
				case u.CoverKey != "":
					order = append(order, "cover")
				case u.Status == reel.StatusReady:
					order = append(order, "ready")
				case u.HLSKey == LiveKey(videoID):
					order = append(order, "live")
				case u.PlayKey != "":
					order = append(order, "play")
				}
				if u.Progress != nil {
					if *u.Progress <= last {
						t.Errorf("progress went from %d to %d", last, *u.Progress)
					}
					last = *u.Progress
				}
			}
			want := []string{"live cover ready", "cover live ready"}
			if tt.fastPath {
				want = []string{"play cover live ready"}
			}
			if got := strings.Join(order, " "); !slices.Contains(want, got) {
				t.Errorf("steps reported %q, want one of %q", got, want)
			}
			h.scratchEmpty(t)
		})
	}
}

// The cover step keeps a cover that publishing made already.
func TestProcessKeepsPublishedCover(t *testing.T) {
	h := newHarness(t, "noaudio", testLimits)
	cover := filepath.Join(t.TempDir(), "cover.jpg")
	if err := os.WriteFile(cover, []byte("published cover"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.blobs.PutFile(context.Background(), reel.CoverKey(videoID, "jpg"), cover); err != nil {
		t.Fatal(err)
	}
	h.store.videos[videoID].CoverKey = reel.CoverKey(videoID, "jpg")
	if err := h.run(t, 1); err != nil {
		t.Fatal(err)
	}
	obj, err := h.blobs.Open(context.Background(), reel.CoverKey(videoID, "jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if b, _ := io.ReadAll(obj); string(b) != "published cover" {
		t.Errorf("the published cover was replaced (%d bytes)", len(b))
	}
	if h.stored(t, reel.CoverKey(videoID, "webp")) {
		t.Error("a WebP cover was made although publishing had made the cover")
	}
}

// A clip whose header lies fails its video on the first attempt with the
// reason, and the job is cancelled rather than retried: the output checks
// found what it hid (a gap of an hour in its timestamps, frames larger than
// its header states). Every file of the video is deleted, the original and
// what the attempt stored before the check included (the gap clip's
// fast-path MP4 and cover), and the row names none of them.
func TestProcessFailsLyingClips(t *testing.T) {
	tests := []struct{ kind, reason string }{
		{"gap", "timestamps run past its stated duration"},
		{"resize", "320x240 exceeds 160x120"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			limits := media.Limits{MaxDuration: time.Minute, MaxLong: mediatest.HostileWidth, MaxShort: mediatest.HostileHeight}
			h := newHarness(t, tt.kind, limits)
			err := h.run(t, 1)
			var cancelled *rivertype.JobCancelError
			if !errors.As(err, &cancelled) {
				t.Fatalf("Work = %v, want the job cancelled (no retry)", err)
			}
			v := h.store.video(videoID)
			if v.Status != reel.StatusFailed || !strings.Contains(v.Error, tt.reason) {
				t.Errorf("video %s %q, want failed saying %q", v.Status, v.Error, tt.reason)
			}
			if v.OriginalKey != "" || v.CoverKey != "" || v.PlayKey != "" || v.HLSKey != "" {
				t.Errorf("the failed video still names files: original %q cover %q play %q hls %q", v.OriginalKey, v.CoverKey, v.PlayKey, v.HLSKey)
			}
			if left, err := h.blobs.List(context.Background(), reel.VideoKeyPrefix(videoID)); err != nil || len(left) != 0 {
				t.Errorf("the files of the rejected video are still stored: %v %v", left, err)
			}
			h.scratchEmpty(t)
		})
	}
}

// When the rejection cannot be recorded (the database is away), the files
// stay, the row still names them, and the job is retried rather than
// cancelled: the next attempt finds the same refusal and records it.
func TestProcessRejectionUnrecordedKeepsFiles(t *testing.T) {
	limits := media.Limits{MaxDuration: time.Minute, MaxLong: mediatest.HostileWidth, MaxShort: mediatest.HostileHeight}
	h := newHarness(t, "gap", limits)
	h.store.refuse = func(p reel.Processed) error {
		if p.Status == reel.StatusFailed {
			return errors.New("database gone")
		}
		return nil
	}
	err := h.run(t, 1)
	var cancelled *rivertype.JobCancelError
	if err == nil || errors.As(err, &cancelled) {
		t.Fatalf("Work = %v, want an error that is retried", err)
	}
	v := h.store.video(videoID)
	for _, key := range []string{v.OriginalKey, v.CoverKey, v.PlayKey} {
		if key == "" || !h.stored(t, key) {
			t.Errorf("%q: the row names a file that is not stored (or none)", key)
		}
	}
	h.store.refuse = nil
	if err := h.run(t, 2); !errors.As(err, &cancelled) {
		t.Fatalf("second attempt: %v, want the job cancelled", err)
	}
	if left, err := h.blobs.List(context.Background(), reel.VideoKeyPrefix(videoID)); err != nil || len(left) != 0 {
		t.Errorf("the files of the rejected video are still stored: %v %v", left, err)
	}
}

// What an earlier attempt left in the video's scratch directory (it
// crashed, or its node was rescued) is gone before the next attempt does
// anything, and the directory is gone after it.
func TestProcessRemovesPreviousScratch(t *testing.T) {
	h := newHarness(t, "noaudio", testLimits)
	stale := filepath.Join(scratchDir(h.work, videoID), "hls", "240p", "left-by-the-crash.m4s")
	if err := os.MkdirAll(filepath.Dir(stale), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("from the crashed attempt"), 0o600); err != nil {
		t.Fatal(err)
	}
	var seenStale bool
	h.store.onUpdate = func(reel.Processed) {
		if _, err := os.Stat(stale); err == nil {
			seenStale = true
		}
	}
	if err := h.run(t, 2); err != nil {
		t.Fatal(err)
	}
	if seenStale {
		t.Error("the previous attempt's scratch was still there while the new attempt ran")
	}
	h.scratchEmpty(t)
}

// The periodic sweep removes scratch older than an attempt may run, and
// leaves younger scratch alone.
func TestSweepScratch(t *testing.T) {
	work := t.TempDir()
	old, young := scratchDir(work, 1), scratchDir(work, 2)
	for _, dir := range []string{old, young} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	sweepScratch(work, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("old scratch still there: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("young scratch removed: %v", err)
	}
}

func diskArea(t *testing.T) upload.Area {
	t.Helper()
	a, err := upload.NewDiskArea(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return a
}
