package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/blob/s3test"
	"github.com/reel-video/reel/internal/upload"
)

// The expired-upload sweep removes the parts a concatenation claimed when
// the claim is older than upload.ClaimLifetime (the process that claimed
// them died before joining them), data, stop marker and claimed info, and
// leaves younger claims, which a creation may still be joining, and
// unclaimed parts younger than the expiry alone.
func TestExpireSweepsAbandonedClaims(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, age time.Duration) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	abandoned := []string{
		write("7-abandoned", 3*upload.ClaimLifetime),
		write("7-abandoned"+upload.StopFileSuffix, 3*upload.ClaimLifetime),
		write("7-abandoned"+upload.ClaimedInfoSuffix, upload.ClaimLifetime+time.Minute),
	}
	kept := []string{
		// A claim's time is its claim's, not its data's: old data claimed
		// just now is being joined.
		write("7-joining", 3*upload.ClaimLifetime),
		write("7-joining"+upload.ClaimedInfoSuffix, time.Minute),
		write("7-unclaimed", 2*upload.ClaimLifetime),
		write("7-unclaimed.info", 2*upload.ClaimLifetime),
	}
	area, err := upload.NewDiskArea(dir)
	if err != nil {
		t.Fatal(err)
	}
	store := &fakeStore{videos: map[int64]*reel.Video{}}
	w := &expireUploadsWorker{
		store: store, uploads: area, expiry: 24 * time.Hour,
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if err := w.Work(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if store.leaseSweeps != 1 {
		t.Errorf("the sweep deleted lapsed upload locks %d times, want once", store.leaseSweeps)
	}
	for _, p := range abandoned {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s of the abandoned claim is still there (%v)", filepath.Base(p), err)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
}

// sweepRecorder is a blob store that can sweep, recording what it is asked.
type sweepRecorder struct {
	blob.Store
	prefix    string
	olderThan time.Time
	err       error
}

func (s *sweepRecorder) AbortStaleUploads(_ context.Context, prefix string, olderThan time.Time) (int, error) {
	s.prefix, s.olderThan = prefix, olderThan
	return 0, s.err
}

func expireWorker(t *testing.T, blobs blob.Store, writeAge time.Duration) *expireUploadsWorker {
	t.Helper()
	area, err := upload.NewDiskArea(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &expireUploadsWorker{
		store: &fakeStore{videos: map[int64]*reel.Video{}}, uploads: area, expiry: 24 * time.Hour,
		blobs: blobs, writeAge: writeAge, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// The sweep asks a store that can sweep for the unfinished writes under
// videos/ older than any attempt, and fails when that fails.
func TestExpireAbortsStaleWrites(t *testing.T) {
	rec := &sweepRecorder{}
	const age = 90 * time.Minute
	before := time.Now()
	if err := expireWorker(t, rec, age).Work(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if rec.prefix != "videos/" || rec.olderThan.Before(before.Add(-age)) || rec.olderThan.After(after.Add(-age)) {
		t.Errorf("swept %q before %v, want videos/ before now - %v", rec.prefix, rec.olderThan, age)
	}
	rec.err = errors.New("store down")
	if err := expireWorker(t, rec, age).Work(t.Context(), nil); !errors.Is(err, rec.err) {
		t.Errorf("a failed sweep = %v", err)
	}
	// A store without the capability (the disk) is not asked.
	disk, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	if err := expireWorker(t, disk, age).Work(t.Context(), nil); err != nil {
		t.Error(err)
	}
}

// On S3, a multipart upload a killed worker left under videos/ is aborted
// once it is older than writeAge, and not before; nothing else is touched.
func TestExpireAbortsStaleWritesOnS3(t *testing.T) {
	srv := s3test.Start(t)
	store, err := blob.NewS3(t.Context(), srv.Config("r"), srv.Getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client(t)
	for _, key := range []string{"r/videos/7/hls/720p/seg_00001.m4s", "r/uploads/abc"} {
		if _, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	// Begun just now, younger than an hour: it may be a running attempt's.
	if err := expireWorker(t, store, time.Hour).Work(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := srv.MultipartUploads(t, ""); len(got) != 2 {
		t.Errorf("uploads after sweeping none: %q", got)
	}
	// A cutoff in the future makes it stale.
	if err := expireWorker(t, store, -time.Minute).Work(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := srv.MultipartUploads(t, ""); len(got) != 1 || got[0] != "r/uploads/abc" {
		t.Errorf("uploads after the sweep: %q, want only r/uploads/abc", got)
	}
}
