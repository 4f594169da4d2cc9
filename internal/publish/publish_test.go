package publish

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/httperr"
	"github.com/reel-video/reel/internal/media"
	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/upload"
)

// videos is a VideoService that keeps videos in memory and records what
// the publisher asked of it.
type videos struct {
	reel.VideoService // the methods the publisher does not use panic

	mu       sync.Mutex
	next     int64
	byID     map[int64]*reel.Video
	deleted  []int64
	queued   int
	finishFn func(id int64) error
	// findErr fails every read: the database went away after a write.
	findErr error
}

func newVideos() *videos { return &videos{byID: map[int64]*reel.Video{}} }

func (s *videos) CreateVideo(_ context.Context, v *reel.Video) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	v.ID = s.next
	c := *v
	s.byID[v.ID] = &c
	return nil
}

func (s *videos) FinishUpload(_ context.Context, id int64, key string, size int64, sum string) (*reel.Video, error) {
	if s.finishFn != nil {
		if err := s.finishFn(id); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[id]
	if !ok || v.Status != reel.StatusUploading {
		return nil, reel.Errorf(reel.ENOTFOUND, "video %d is not waiting for its upload", id)
	}
	v.Status, v.OriginalKey, v.SizeBytes, v.SHA256 = reel.StatusProcessing, key, size, sum
	c := *v
	return &c, nil
}

func (s *videos) FindVideoByID(_ context.Context, id, _ int64) (*reel.Video, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.findErr != nil {
		return nil, s.findErr
	}
	v, ok := s.byID[id]
	if !ok {
		return nil, reel.Errorf(reel.ENOTFOUND, "video %d not found", id)
	}
	c := *v
	return &c, nil
}

func (s *videos) DeleteVideo(_ context.Context, id, _ int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
	s.deleted = append(s.deleted, id)
	return nil
}

func (s *videos) SetProcessed(context.Context, int64, reel.Processed) error { return nil }

func (s *videos) QueuedJobs(context.Context) (int, error) { return s.queued, nil }

func (s *videos) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

type usage int64

func (u usage) StoredBytes(context.Context, int64) (int64, error) { return int64(u), nil }

// aVideo is what the fake ffprobe finds by default: 2 s of 320x240 MP4.
var aVideo = &media.Info{DurationMS: 2000, Width: 320, Height: 240, VideoCodec: "h264", FormatName: "mov,mp4,m4a,3gp,3g2,mj2"}

func newPublisher(t *testing.T) (*Publisher, *videos) {
	t.Helper()
	store, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	vs := newVideos()
	p := &Publisher{Videos: vs, Blobs: store, Limits: media.Limits{MaxDuration: time.Minute, MaxLong: 1920, MaxShort: 1080},
		WorkDir: t.TempDir(), Work: NewGate(2, 50*time.Millisecond)}
	p.probe = func(context.Context, string, int64) (*media.Info, error) { return aVideo, nil }
	return p, vs
}

// received is a multipart upload of size bytes waiting in a local file.
func received(t *testing.T, size int) *upload.Received {
	t.Helper()
	path := filepath.Join(t.TempDir(), "incoming")
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	return &upload.Received{Path: path, Size: int64(size), SHA256: "00"}
}

func TestPublishStoresAndQueues(t *testing.T) {
	p, vs := newPublisher(t)
	rec := received(t, 100)
	v, err := p.Publish(context.Background(), 7, rec, Options{Title: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != reel.StatusProcessing || v.Visibility != reel.VisibilityPublic || v.OriginalKey != reel.OriginalKey(v.ID)+".mp4" {
		t.Errorf("published %+v", v)
	}
	if _, err := os.Stat(rec.Path); !os.IsNotExist(err) {
		t.Errorf("the received file was not moved: %v", err)
	}
	if _, err := p.Blobs.Stat(context.Background(), v.OriginalKey); err != nil {
		t.Errorf("original not stored: %v", err)
	}
	if vs.count() != 1 {
		t.Errorf("%d videos, want 1", vs.count())
	}
}

// TestPublishAnswersWhatItFinished: once the store has committed the
// finished upload, Publish answers it without another read, so a database
// that fails afterwards cannot turn the accepted upload into an error (the
// client would retry and publish it twice).
func TestPublishAnswersWhatItFinished(t *testing.T) {
	p, vs := newPublisher(t)
	vs.finishFn = func(int64) error {
		vs.findErr = errors.New("database gone")
		return nil
	}
	v, err := p.Publish(context.Background(), 7, received(t, 100), Options{Title: "hi"})
	if err != nil {
		t.Fatalf("the committed upload was answered with %v", err)
	}
	if v.Status != reel.StatusProcessing || v.Title != "hi" || v.OriginalKey != reel.OriginalKey(v.ID)+".mp4" || v.SizeBytes != 100 {
		t.Errorf("published %+v", v)
	}
	if vs.count() != 1 || len(vs.deleted) != 0 {
		t.Errorf("%d videos kept, %v deleted; want the published one kept", vs.count(), vs.deleted)
	}
}

// TestPublishRefusals: every refusal leaves no video behind, and the
// refusals for lack of capacity carry a Retry-After.
func TestPublishRefusals(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(p *Publisher, vs *videos)
		opts  Options
		code  string
		retry string
	}{
		{"not a video", func(p *Publisher, _ *videos) {
			p.probe = func(context.Context, string, int64) (*media.Info, error) {
				return nil, reel.Errorf(reel.EUNSUPPORTED, "not a video")
			}
		}, Options{}, reel.EUNSUPPORTED, ""},
		{"too long", func(p *Publisher, _ *videos) { p.Limits.MaxDuration = time.Second }, Options{}, reel.EINVALID, ""},
		{"too large a frame", func(p *Publisher, _ *videos) { p.Limits.MaxLong, p.Limits.MaxShort = 160, 120 }, Options{}, reel.EINVALID, ""},
		{"bad visibility", nil, Options{Visibility: "everyone"}, reel.EINVALID, ""},
		{"over the quota", func(p *Publisher, _ *videos) {
			p.Usage, p.Admission.QuotaBytes = usage(950), 1000
		}, Options{}, reel.EQUOTA, ""},
		{"queue filled meanwhile", func(_ *Publisher, vs *videos) {
			vs.finishFn = func(int64) error { return reel.Errorf(reel.EUNAVAILABLE, "20 videos are waiting") }
		}, Options{}, reel.EUNAVAILABLE, "30"},
		{"probes saturated", func(p *Publisher, _ *videos) {
			p.Work = NewGate(1, 10*time.Millisecond)
			release, _ := p.Work.Enter(context.Background())
			_ = release // held for the whole test
		}, Options{}, reel.EUNAVAILABLE, "5"},
		{"store failing", func(_ *Publisher, vs *videos) {
			vs.finishFn = func(int64) error { return errors.New("database gone") }
		}, Options{}, reel.EINTERNAL, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, vs := newPublisher(t)
			if c.setup != nil {
				c.setup(p, vs)
			}
			_, err := p.Publish(context.Background(), 7, received(t, 100), c.opts)
			if reel.ErrorCode(err) != c.code {
				t.Fatalf("err %v, want code %s", err, c.code)
			}
			if after := retryAfter(err); after != c.retry {
				t.Errorf("Retry-After %q, want %q", after, c.retry)
			}
			if vs.count() != 0 {
				t.Errorf("%d videos left behind", vs.count())
			}
		})
	}
}

// TestFinishTus: a finished tus upload that is not a video is deleted with
// its video; one refused for a full queue keeps it, to be finished again.
func TestFinishTus(t *testing.T) {
	p, vs := newPublisher(t)
	ctx := context.Background()
	id, err := p.CreateTus(ctx, 7, "7-abc", "t", "", "")
	if err != nil {
		t.Fatal(err)
	}
	vs.finishFn = func(int64) error { return reel.Errorf(reel.EUNAVAILABLE, "queue full") }
	err = p.FinishTus(ctx, id, 7, "/nowhere", 100)
	if retryAfter(err) == "" || reel.ErrorCode(err) != reel.EUNAVAILABLE {
		t.Fatalf("finish with a full queue: %v", err)
	}
	if vs.count() != 1 {
		t.Fatal("the video of a refused finish was deleted")
	}
	vs.finishFn = nil
	if err := p.FinishTus(ctx, id, 7, "/nowhere", 100); err != nil {
		t.Fatalf("finishing again: %v", err)
	}

	id, _ = p.CreateTus(ctx, 7, "7-def", "", "", "")
	p.probe = func(context.Context, string, int64) (*media.Info, error) {
		return nil, reel.Errorf(reel.EUNSUPPORTED, "random bytes")
	}
	if err := p.FinishTus(ctx, id, 7, "/nowhere", 100); reel.ErrorCode(err) != reel.EUNSUPPORTED {
		t.Fatalf("finish of random bytes: %v", err)
	}
	if _, err := vs.FindVideoByID(ctx, id, 7); reel.ErrorCode(err) != reel.ENOTFOUND {
		t.Error("the video of a rejected upload is still there")
	}
}

func TestAdmit(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		a    Admission
		used usage
		r    Request
		code string
	}{
		{"nothing set", Admission{}, 0, Request{UserID: 1, Size: 1 << 40, Pending: -1, Job: true}, ""},
		{"queue full", Admission{MaxQueued: 3}, 0, Request{UserID: 1, Size: 10, Pending: -1, Job: true}, reel.EUNAVAILABLE},
		{"queue full, part of a concatenation", Admission{MaxQueued: 3}, 0, Request{UserID: 1, Size: 10, Pending: 0}, ""},
		{"within the quota", Admission{QuotaBytes: 1000}, 900, Request{UserID: 1, Size: 100, Pending: -1}, ""},
		{"over the quota", Admission{QuotaBytes: 1000}, 900, Request{UserID: 1, Size: 101, Pending: -1}, reel.EQUOTA},
		{"quota, sender unknown yet", Admission{QuotaBytes: 1000}, 900, Request{Size: 500, Pending: -1}, ""},
		{"within the pending cap", Admission{PendingBytes: 1000}, 0, Request{UserID: 1, Size: 200, Pending: 800}, ""},
		{"over the pending cap", Admission{PendingBytes: 1000}, 0, Request{UserID: 1, Size: 201, Pending: 800}, reel.EQUOTA},
		{"pending, multipart", Admission{PendingBytes: 1000}, 0, Request{UserID: 1, Size: 5000, Pending: -1}, ""},
		{"no room on disk", Admission{MinFreeBytes: 1 << 62, Dirs: []string{dir}}, 0, Request{UserID: 1, Size: -1, Pending: -1}, reel.ESTORAGE},
		{"declared size beyond the disk", Admission{Dirs: []string{dir}}, 0, Request{UserID: 1, Size: 1 << 62, Pending: -1}, reel.ESTORAGE},
		{"fits on disk", Admission{MinFreeBytes: 1, Dirs: []string{dir}}, 0, Request{UserID: 1, Size: 1, Pending: -1}, ""},
		{"tus beyond the disk", Admission{Dirs: []string{dir}}, 0, Request{UserID: 1, Size: 1 << 62, Pending: 0, Tus: true}, reel.ESTORAGE},
		// On S3 a tus upload passes through the node in a few parts: only the reserve counts.
		{"tus buffered on its way to S3", Admission{Dirs: []string{dir}, TusBuffered: true}, 0, Request{UserID: 1, Size: 1 << 62, Pending: 0, Tus: true}, ""},
		{"tus buffered, reserve gone", Admission{MinFreeBytes: 1 << 62, Dirs: []string{dir}, TusBuffered: true}, 0, Request{UserID: 1, Size: 1, Pending: 0, Tus: true}, reel.ESTORAGE},
		{"multipart beside buffered tus", Admission{Dirs: []string{dir}, TusBuffered: true}, 0, Request{UserID: 1, Size: 1 << 62, Pending: -1}, reel.ESTORAGE},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, vs := newPublisher(t)
			vs.queued = 3
			p.Admission, p.Usage = c.a, c.used
			err := p.Admit(context.Background(), c.r)
			if reel.ErrorCode(err) != c.code {
				t.Fatalf("err %v, want code %q", err, c.code)
			}
			if ok := retryAfter(err) != ""; ok != (c.code == reel.EUNAVAILABLE) {
				t.Errorf("Retry-After present: %v", ok)
			}
		})
	}
}

func TestGate(t *testing.T) {
	g := NewGate(1, 20*time.Millisecond)
	release, err := g.Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Enter(context.Background()); reel.ErrorCode(err) != reel.EUNAVAILABLE {
		t.Fatalf("second entry into a full gate: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Enter(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("entry with a cancelled context: %v", err)
	}
	// A waiter gets the slot its holder gives back.
	got := make(chan error, 1)
	g2 := NewGate(1, time.Minute)
	r2, _ := g2.Enter(context.Background())
	go func() {
		r, err := g2.Enter(context.Background())
		if err == nil {
			r()
		}
		got <- err
	}()
	r2()
	if err := <-got; err != nil {
		t.Errorf("waiter: %v", err)
	}
	release()
	if r, err := g.Enter(context.Background()); err != nil {
		t.Errorf("entry after release: %v", err)
	} else {
		r()
	}
}

func TestHoldAnonymous(t *testing.T) {
	p, _ := newPublisher(t)
	var releases []func()
	for range DefaultMaxAnonymous {
		r, err := p.HoldAnonymous("192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	if _, err := p.HoldAnonymous("192.0.2.1"); reel.ErrorCode(err) != reel.ERATELIMITED || retryAfter(err) == "" {
		t.Fatalf("one more from the same address: %v", err)
	}
	if r, err := p.HoldAnonymous("192.0.2.2"); err != nil {
		t.Fatalf("another address: %v", err)
	} else {
		r()
	}
	releases[0]()
	releases[0]() // a second release gives nothing back twice
	if _, err := p.HoldAnonymous("192.0.2.1"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := p.HoldAnonymous("192.0.2.1"); reel.ErrorCode(err) != reel.ERATELIMITED {
		t.Fatalf("a double release freed two slots: %v", err)
	}
}

// retryAfter is the Retry-After that err states, as the one error writer
// reads it, or "" when it states none.
func retryAfter(err error) string {
	if secs, ok := httperr.RetryHint(err); ok {
		return strconv.Itoa(secs)
	}
	return ""
}

// TestFinishTusFromURL: an upload kept on S3 is checked in place through a
// URL with the real ffprobe. Not a video is refused and discarded, as from
// a file; a URL that cannot be read (the store gone) is a failure of the
// server, which keeps the video for the client's retry.
func TestFinishTusFromURL(t *testing.T) {
	if err := media.Available(); err != nil {
		t.Fatal(err)
	}
	p, vs := newPublisher(t)
	p.probe = nil // the real one
	ctx := context.Background()
	clips := map[string]string{"/random": mediatest.Clip(t, "random"), "/landscape": mediatest.Clip(t, "landscape")}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, clips[r.URL.Path])
	}))
	defer srv.Close()

	junk, _ := p.CreateTus(ctx, 7, "7-junk", "", "", "")
	if err := p.FinishTus(ctx, junk, 7, srv.URL+"/random?X-Amz-Signature=s", 100); reel.ErrorCode(err) != reel.EUNSUPPORTED {
		t.Fatalf("random bytes over a URL: %v", err)
	}
	if _, err := vs.FindVideoByID(ctx, junk, 7); reel.ErrorCode(err) != reel.ENOTFOUND {
		t.Error("the video of a rejected upload is still there")
	}

	id, _ := p.CreateTus(ctx, 7, "7-clip", "", "", "")
	gone := srv.URL
	srv.Close()
	err := p.FinishTus(ctx, id, 7, gone+"/landscape?X-Amz-Signature=s", 100)
	if err == nil || reel.ErrorCode(err) == reel.EUNSUPPORTED || reel.ErrorCode(err) == reel.EINVALID {
		t.Fatalf("finish with the store gone: %v, want a server failure", err)
	}
	if _, err := vs.FindVideoByID(ctx, id, 7); err != nil {
		t.Errorf("the store's failure discarded the video: %v", err)
	}

	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, clips["/landscape"])
	}))
	defer srv2.Close()
	if err := p.FinishTus(ctx, id, 7, srv2.URL+"/clip", 100); err != nil {
		t.Fatalf("finishing again once the store is back: %v", err)
	}
}
