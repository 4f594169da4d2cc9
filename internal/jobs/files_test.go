package jobs

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reel-video/reel"
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
