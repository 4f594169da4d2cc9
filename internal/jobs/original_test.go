package jobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/blob/s3test"
	"github.com/reel-video/reel/internal/upload"
)

// TestOriginalFromS3Area: the finished upload of a video, kept on S3, is
// streamed into the job's scratch, stored as the original with its hash,
// and removed from the area, in that order: an attempt that fails to
// record the original leaves the upload for the next one.
func TestOriginalFromS3Area(t *testing.T) {
	s := s3test.Start(t)
	ctx := context.Background()
	area, err := upload.NewS3Area(ctx, s.Config("r"), s.Getenv(nil), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("not really a video "), 100_000)
	const name = "7-0123abcd"
	client := s.Client(t)
	for key, body := range map[string][]byte{
		name:           data,
		name + ".info": []byte(`{"ID":"` + name + `+mp","Size":1900000,"MetaData":{"reel_owner":"7"}}`),
	} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("r/" + upload.UploadsPrefix + key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	blobs, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &fakeStore{videos: map[int64]*reel.Video{videoID: {ID: videoID, Status: reel.StatusProcessing, UploadID: name}}}
	w := &processWorker{store: store, blobs: blobs, log: slog.New(slog.NewTextHandler(io.Discard, nil)), cfg: Config{Uploads: area}}

	refused := errors.New("database down")
	store.refuse = func(reel.Processed) error { return refused }
	v := store.video(videoID)
	if _, err := w.original(ctx, &v, t.TempDir()); !errors.Is(err, refused) {
		t.Fatalf("original with the database down: %v", err)
	}
	if keys := s.Keys(t, "r/"+upload.UploadsPrefix); len(keys) != 2 {
		t.Fatalf("a failed attempt removed the upload: %v left", keys)
	}

	store.refuse = nil
	work := t.TempDir()
	path, err := w.original(ctx, &v, work)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != work {
		t.Errorf("the local copy %s is outside the scratch %s", path, work)
	}
	local, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(local, data) {
		t.Fatalf("the local copy: %d bytes (%v), want %d", len(local), err, len(data))
	}
	obj, err := blobs.Open(ctx, reel.OriginalKey(videoID))
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(obj)
	obj.Close()
	if !bytes.Equal(stored, data) {
		t.Errorf("the stored original has %d bytes, want %d", len(stored), len(data))
	}
	sum := sha256.Sum256(data)
	last := store.updates[len(store.updates)-1]
	if last.OriginalKey != reel.OriginalKey(videoID) || last.SizeBytes != int64(len(data)) || last.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("recorded %+v", last)
	}
	if keys := s.Keys(t, "r/"+upload.UploadsPrefix); len(keys) != 0 {
		t.Errorf("the upload is still in the area: %v", keys)
	}
}

// On disk the finished upload is moved into the blob store. An attempt
// that dies after the move, before the video records its original, leaves
// the file in the store and none in the area: the next attempt records the
// stored file (its hash and size), and ffmpeg gets a copy in scratch, not
// the store's own file.
func TestOriginalMovedBeforeACrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	area, err := upload.NewDiskArea(dir)
	if err != nil {
		t.Fatal(err)
	}
	const name = "7-0123abcd"
	data := bytes.Repeat([]byte("not really a video "), 10_000)
	for file, body := range map[string][]byte{name: data, name + ".info": []byte(`{"ID":"` + name + `","Size":190000}`)} {
		if err := os.WriteFile(filepath.Join(dir, file), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	blobRoot := t.TempDir()
	blobs, err := blob.NewDisk(blobRoot)
	if err != nil {
		t.Fatal(err)
	}
	store := &fakeStore{videos: map[int64]*reel.Video{videoID: {ID: videoID, Status: reel.StatusProcessing, UploadID: name}}}
	w := &processWorker{store: store, blobs: blobs, log: slog.New(slog.NewTextHandler(io.Discard, nil)), cfg: Config{Uploads: area}}

	// The first attempt moves the file, then cannot record it.
	refused := errors.New("database down")
	store.refuse = func(reel.Processed) error { return refused }
	v := store.video(videoID)
	if _, err := w.original(ctx, &v, t.TempDir()); !errors.Is(err, refused) {
		t.Fatalf("original with the database down: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the upload was not moved into the store (%v)", err)
	}

	store.refuse = nil
	work := t.TempDir()
	path, err := w.original(ctx, &v, work)
	if err != nil {
		t.Fatalf("the attempt after the crash: %v", err)
	}
	got := store.video(videoID)
	sum := sha256.Sum256(data)
	if got.OriginalKey != reel.OriginalKey(videoID) || got.SizeBytes != int64(len(data)) || got.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("recorded original %q, %d bytes, sha256 %s", got.OriginalKey, got.SizeBytes, got.SHA256)
	}
	if filepath.Dir(path) != work {
		t.Errorf("ffmpeg reads %s, not a copy in the scratch directory %s", path, work)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, data) {
		t.Errorf("the scratch copy differs from the upload (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, name+".info")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the upload's info is still in the area (%v)", err)
	}
}
