package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/blob/s3test"
)

// slowStore is a blob store whose PutFile calls are held until the test
// lets them go, so that a test sees how many run at once and in what order
// they finish.
type slowStore struct {
	blob.Store
	mu       sync.Mutex
	cond     *sync.Cond
	inFlight int
	most     int
	done     []string
	// gather keeps the first PutFile calls waiting until putConcurrency of
	// them run at once: a put that ran them one by one would wait forever.
	gather bool
	// hold, when it returns true for a key, keeps its PutFile waiting until
	// its context ends.
	hold func(key string) bool
	// fail, when it returns an error for a key, fails its PutFile.
	fail func(key string) error
}

func newSlowStore(t *testing.T) *slowStore {
	disk, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := &slowStore{Store: disk}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *slowStore) PutFile(ctx context.Context, key, localPath string) error {
	s.mu.Lock()
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	s.cond.Broadcast()
	// Woken when a put starts or the context ends.
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	for ctx.Err() == nil && ((s.gather && s.most < putConcurrency) || (s.hold != nil && s.hold(key))) {
		s.cond.Wait()
	}
	stop()
	s.inFlight--
	var err error
	if s.fail != nil {
		err = s.fail(key)
	}
	s.mu.Unlock()
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = s.Store.PutFile(ctx, key, localPath)
	}
	if err == nil {
		s.mu.Lock()
		s.done = append(s.done, key)
		s.mu.Unlock()
	}
	return err
}

// ladderTree writes what media.Ladder leaves: a master, and per rung an
// index, an init segment and n segments.
func ladderTree(t *testing.T, n int) string {
	dir := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("master.m3u8", "#EXTM3U\n240p/index.m3u8\n120p/index.m3u8\n")
	for _, rung := range []string{"240p", "120p"} {
		write(rung+"/index.m3u8", "#EXTM3U\n")
		write(rung+"/init.mp4", "init")
		for i := range n {
			write(fmt.Sprintf("%s/seg_%05d.m4s", rung, i), "segment")
		}
	}
	return dir
}

func newOutputWorker(store blob.Store) *processWorker {
	return &processWorker{blobs: store, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// newTreeOutputs stores the files of dir through a worker on store.
func newTreeOutputs(t *testing.T, store blob.Store, dir string) *outputs {
	t.Helper()
	out, err := newOutputWorker(store).newOutputs(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The outputs go up putConcurrency at a time, never more, and every
// playlist only once everything it names is stored: the master last.
func TestPutTreeConcurrentPlaylistsLast(t *testing.T) {
	store := newSlowStore(t)
	store.gather = true
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const prefix = "videos/7/hls/"
	if err := newTreeOutputs(t, store, ladderTree(t, 12)).putTree(ctx, prefix); err != nil {
		t.Fatalf("putTree: %v", err)
	}
	if store.most != putConcurrency {
		t.Errorf("%d puts ran at once, want %d", store.most, putConcurrency)
	}
	if len(store.done) != 1+2*14 {
		t.Fatalf("%d objects stored, want %d", len(store.done), 1+2*14)
	}
	if last := store.done[len(store.done)-1]; last != prefix+"master.m3u8" {
		t.Errorf("stored last: %s, want the master", last)
	}
	seen := map[string]bool{}
	for _, key := range store.done {
		if strings.HasSuffix(key, "/index.m3u8") {
			for _, other := range store.done {
				if path.Dir(other) == path.Dir(key) && other != key && !seen[other] {
					t.Errorf("%s stored before %s, which it names", key, other)
				}
			}
		}
		seen[key] = true
	}
}

// The first failed upload stops the others and no playlist is stored, so
// no client can follow one to a missing segment; put returns only once
// nothing is running any more.
func TestPutTreeFirstErrorStopsTheRest(t *testing.T) {
	store := newSlowStore(t)
	broken := errors.New("connection reset by peer")
	store.fail = func(key string) error {
		if key == "videos/7/hls/120p/init.mp4" { // the first one walked
			return broken
		}
		return nil
	}
	// Everything else waits until the failure cancels it.
	store.hold = func(key string) bool { return store.fail(key) == nil }
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := newTreeOutputs(t, store, ladderTree(t, 30)).putTree(ctx, "videos/7/hls/")
	if !errors.Is(err, broken) || !strings.Contains(err.Error(), "120p/init.mp4") {
		t.Fatalf("putTree: %v, want the failed upload's error", err)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.inFlight != 0 {
		t.Errorf("%d puts still running after putTree returned", store.inFlight)
	}
	for _, key := range store.done {
		if strings.HasSuffix(key, ".m3u8") {
			t.Errorf("%s was stored after an upload failed", key)
		}
	}
	if len(store.done) != 0 {
		t.Errorf("stored after the failure: %v", store.done)
	}
}

// An attempt does not start when the scratch file system cannot hold the
// work on the original: the job is retried, not failed, with the reason
// shown, and the attempt leaves nothing behind.
func TestProcessRefusedWithoutScratchSpace(t *testing.T) {
	h := newHarness(t, "noaudio", testLimits)
	h.store.videos[videoID].SizeBytes = 1 << 60
	// Even on its last attempt the video is not failed: waiting for room
	// is a snooze, which gives the attempt back.
	err := h.run(t, maxAttempts)
	var snooze *rivertype.JobSnoozeError
	if !errors.As(err, &snooze) {
		t.Fatalf("an attempt without room for its scratch answered %v, want a snooze", err)
	}
	v := h.store.video(videoID)
	if v.Status != reel.StatusProcessing || !strings.Contains(v.Error, "waiting for a worker with room") || strings.Contains(v.Error, h.work) {
		t.Errorf("video %q with error %q, want processing and the reason, without the worker's path", v.Status, v.Error)
	}
	if h.stored(t, reel.CoverKey(videoID, "jpg")) {
		t.Error("the refused attempt stored a cover")
	}
	h.scratchEmpty(t)

	// Room again (the original's real size): the retry finishes.
	h.store.videos[videoID].SizeBytes = 0
	if err := h.run(t, 2); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if v := h.store.video(videoID); v.Status != reel.StatusReady {
		t.Errorf("after the retry: %q", v.Status)
	}
}

// On S3 a job fetches the original into its scratch, uploads the outputs,
// and turns the video ready with every object in the bucket; a second
// attempt (a rescued job) redoes the outputs over the first ones, leaving
// the same objects.
func TestProcessOnS3(t *testing.T) {
	srv := s3test.Start(t)
	store, err := blob.NewS3(t.Context(), srv.Config("reel"), srv.Getenv(os.Getenv))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessOn(t, "landscape", testLimits, store)
	if err := h.run(t, 1); err != nil {
		t.Fatalf("Work: %v", err)
	}
	v := h.store.video(videoID)
	if v.Status != reel.StatusReady {
		t.Fatalf("video %+v", v)
	}
	first := srv.Keys(t, "reel/videos/")
	for _, key := range []string{reel.CoverKey(videoID, "jpg"), reel.PlayKey(videoID), v.HLSKey, reel.HLSKeyPrefix(videoID) + "240p/index.m3u8"} {
		if !slices.Contains(first, "reel/"+key) {
			t.Errorf("%s is not in the bucket: %v", key, first)
		}
	}
	h.scratchEmpty(t)

	h.store.mu.Lock()
	h.store.videos[videoID].Status = reel.StatusProcessing
	h.store.mu.Unlock()
	if err := h.run(t, 2); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if again := srv.Keys(t, "reel/videos/"); !slices.Equal(again, first) {
		t.Errorf("the second attempt left %v, the first %v", again, first)
	}
	if uploads := srv.MultipartUploads(t, "reel/"); len(uploads) != 0 {
		t.Errorf("unfinished multipart uploads: %v", uploads)
	}
	h.scratchEmpty(t)
}
