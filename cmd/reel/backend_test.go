package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/blob/s3test"
	"github.com/reel-video/reel/internal/upload"
)

// TestUploadScratchSweep: on S3 the uploads directory only buffers parts
// on their way up, and what a node killed mid-PATCH left there is removed
// at the next start once old; on disk it holds the unfinished uploads
// themselves, which stay whatever their age.
func TestUploadScratchSweep(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	old := time.Now().Add(-2 * time.Hour)
	leave := func(t *testing.T, dir string, names ...string) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			p := filepath.Join(dir, n)
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if n != "tusd-s3-tmp-fresh" {
				if err := os.Chtimes(p, old, old); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	exists := func(dir, name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}

	t.Run("s3", func(t *testing.T) {
		s := s3test.Start(t)
		dirs := newDataDirs(t.TempDir())
		leave(t, dirs.uploads, "tusd-s3-tmp-1234", "tusd-s3-concat-tmp-5678", "tusd-s3-tmp-fresh", "7-abc.info")
		if _, err := openUploadArea(t.Context(), blob.Location{S3: s.Config("reel")}, s.Getenv(nil), dirs, log); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]bool{"tusd-s3-tmp-1234": false, "tusd-s3-concat-tmp-5678": false, "tusd-s3-tmp-fresh": true, "7-abc.info": true} {
			if got := exists(dirs.uploads, name); got != want {
				t.Errorf("%s left: %v, want %v", name, got, want)
			}
		}
	})
	t.Run("disk", func(t *testing.T) {
		dirs := newDataDirs(t.TempDir())
		leave(t, dirs.uploads, "7-abc", "7-abc.info", upload.S3ScratchPrefix+"x")
		if _, err := openUploadArea(t.Context(), blob.Location{Dir: t.TempDir()}, os.Getenv, dirs, log); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"7-abc", "7-abc.info", upload.S3ScratchPrefix + "x"} {
			if !exists(dirs.uploads, name) {
				t.Errorf("the disk area lost %s", name)
			}
		}
	})
}
