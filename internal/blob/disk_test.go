package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func newTestDisk(t *testing.T) (*Disk, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "blobs")
	d, err := NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dir
}

func put(t *testing.T, d *Disk, key, content string) {
	t.Helper()
	n, err := d.Put(t.Context(), key, strings.NewReader(content))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if n != int64(len(content)) {
		t.Fatalf("Put(%q) = %d bytes, want %d", key, n, len(content))
	}
}

func read(t *testing.T, d *Disk, key string) string {
	t.Helper()
	obj, err := d.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tempFiles lists every temporary file left anywhere under dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), tempPrefix) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func keys(infos []Info) []string {
	var ks []string
	for _, i := range infos {
		ks = append(ks, i.Key)
	}
	return ks
}

// TestDiskObjectIsTheFile checks what only the disk store does: Object.File
// is the stream itself (for sendfile), the object is the file under the
// root, and the directories are private. The store-independent behaviour is in
// contract_test.go.
func TestDiskObjectIsTheFile(t *testing.T) {
	d, dir := newTestDisk(t)
	put(t, d, "videos/42/cover.jpg", "jpeg bytes")
	obj, err := d.Open(t.Context(), "videos/42/cover.jpg")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if obj.File == nil || obj.ReadSeekCloser != io.ReadSeekCloser(obj.File) {
		t.Errorf("the disk store must hand out the *os.File itself, got File=%v stream=%T", obj.File, obj.ReadSeekCloser)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "videos", "42", "cover.jpg")); err != nil || string(b) != "jpeg bytes" {
		t.Errorf("file under the root: %q, %v", b, err)
	}
	for _, sub := range []string{"", "videos", "videos/42"} {
		st, err := os.Stat(filepath.Join(dir, sub))
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("directory %q: mode %v, %v; want 0700", sub, st.Mode().Perm(), err)
		}
	}
}

func TestPutStreamsToDisk(t *testing.T) {
	d, dir := newTestDisk(t)
	const total = 8 << 20
	r := &probeReader{remaining: total, probe: func(sent int) {
		// Once several chunks have gone in, they must already be on disk.
		if sent < 4*copyChunk {
			return
		}
		var size int64
		for _, p := range tempFiles(t, dir) {
			if st, err := os.Stat(p); err == nil {
				size += st.Size()
			}
		}
		if size == 0 {
			t.Errorf("after %d bytes read nothing is written yet: Put buffers in memory", sent)
		}
	}}
	n, err := d.Put(t.Context(), "videos/1/original", r)
	if err != nil || n != total {
		t.Fatalf("Put = %d, %v", n, err)
	}
	if r.maxRead > copyChunk {
		t.Errorf("Put asked for %d bytes at once, want at most %d", r.maxRead, copyChunk)
	}
}

// probeReader yields zero bytes and calls probe before each Read.
type probeReader struct {
	remaining, sent, maxRead int
	probe                    func(sent int)
}

func (r *probeReader) Read(p []byte) (int, error) {
	r.probe(r.sent)
	r.maxRead = max(r.maxRead, len(p))
	if r.remaining == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.remaining, 64<<10)
	clear(p[:n])
	r.remaining -= n
	r.sent += n
	return n, nil
}

// TestDiskDeletePrefixCleansUp checks that DeletePrefix takes the
// temporary files of crashed Puts with it and leaves no empty directories.
func TestDiskDeletePrefixCleansUp(t *testing.T) {
	d, dir := newTestDisk(t)
	ctx := t.Context()
	for _, k := range []string{"videos/4/original", "videos/42/hls/720p/seg_00001.m4s", "videos/420/original", "avatars/42"} {
		put(t, d, k, k)
	}
	// A Put that crashed under the prefix.
	if err := os.WriteFile(filepath.Join(dir, "videos", "42", "hls", tempPrefix+"crash"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.DeletePrefix(ctx, "videos/42/"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "videos", "42")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory videos/42 still there: %v", err)
	}
	// Parents left empty go too, up to the root.
	for _, p := range []string{"videos/4/", "videos/420/", "avatars/"} {
		if err := d.DeletePrefix(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 1 {
		t.Errorf("root holds %v, want at most the empty videos directory", entries)
	}
}

func TestDiskListSkipsTemps(t *testing.T) {
	d, dir := newTestDisk(t)
	put(t, d, "a/b", "0123")
	if err := os.WriteFile(filepath.Join(dir, "a", tempPrefix+"123"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	all, err := d.List(t.Context(), "")
	if err != nil || !slices.Equal(keys(all), []string{"a/b"}) {
		t.Errorf("List() = %q, %v", keys(all), err)
	}
}

var hostileKeys = []string{
	"",
	"/etc/passwd",
	"/",
	"..",
	"../x",
	"a/../../x",
	"a/..",
	".",
	"./a",
	"a/./b",
	"a//b",
	"a/",
	"a\x00b",
	"a\\..\\b",
	"..\\x",
	"a\nb",
	"a\rb",
	"a\x7fb",
	"a\u0085b",
	"\xff\xfe",
	strings.Repeat("a", MaxKeyLen+1),
	strings.Repeat("a/", MaxKeyLen/2) + "a",
	strings.Repeat("s", MaxSegmentLen+1),
	"a/" + tempPrefix + "x",
}

// TestDiskHostileKeys checks what the contract suite cannot see: a hostile
// key creates nothing on disk, not even a directory.
func TestDiskHostileKeys(t *testing.T) {
	d, dir := newTestDisk(t)
	ctx := t.Context()
	local := filepath.Join(t.TempDir(), "local")
	if err := os.WriteFile(local, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, key := range hostileKeys {
		d.PutFile(ctx, key, local)
		d.Put(ctx, key, strings.NewReader("x"))
		d.List(ctx, key+"/")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("hostile keys created %v", entries)
	}
}

func TestValidKeyAccepts(t *testing.T) {
	for _, key := range []string{
		"a", "videos/42/hls/720p/seg_00001.m4s", "x/.hidden", "x/..a", "x/...", "日本/動画.mp4",
		strings.Repeat("a", MaxSegmentLen), strings.Repeat("ab/", MaxKeyLen/3) + "c",
	} {
		if err := ValidKey(key); err != nil {
			t.Errorf("ValidKey(%q) = %v", key, err)
		}
	}
}

func objectErr(_ *Object, err error) error { return err }

// TestSymlinksDoNotEscape plants links inside the store that point outside it
// and checks that no method reads, writes or deletes through them.
func TestSymlinksDoNotEscape(t *testing.T) {
	for _, relative := range []bool{false, true} {
		t.Run(fmt.Sprintf("relative=%v", relative), func(t *testing.T) {
			testSymlinksDoNotEscape(t, relative)
		})
	}
}

func testSymlinksDoNotEscape(t *testing.T, relative bool) {
	d, dir := newTestDisk(t)
	ctx := t.Context()
	outside := filepath.Join(filepath.Dir(dir), "outside")
	if err := os.Mkdir(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secret, []byte("do not serve"), 0o600); err != nil {
		t.Fatal(err)
	}
	dirTarget, fileTarget := outside, secret
	if relative {
		dirTarget, fileTarget = "../outside", "../outside/secret.txt"
	}
	if err := os.Symlink(dirTarget, filepath.Join(dir, "videos")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fileTarget, filepath.Join(dir, "leak.txt")); err != nil {
		t.Fatal(err)
	}

	for _, key := range []string{"videos/secret.txt", "leak.txt"} {
		if err := objectErr(d.Open(ctx, key)); err == nil {
			t.Errorf("Open(%q) followed a link out of the store", key)
		}
		if _, err := d.Stat(ctx, key); err == nil {
			t.Errorf("Stat(%q) followed a link out of the store", key)
		}
	}
	if _, err := d.Put(ctx, "videos/new.txt", strings.NewReader("x")); err == nil {
		t.Errorf("Put through a directory link succeeded")
	}
	local := filepath.Join(t.TempDir(), "out.mp4")
	if err := os.WriteFile(local, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.PutFile(ctx, "videos/moved.mp4", local); err == nil {
		t.Errorf("PutFile through a directory link succeeded")
	}
	if err := d.Delete(ctx, "videos/secret.txt"); err == nil {
		t.Errorf("Delete through a directory link succeeded")
	}
	if err := d.DeletePrefix(ctx, "videos/"); err != nil {
		t.Errorf("DeletePrefix(videos/) = %v", err)
	}
	if all, err := d.List(ctx, ""); err != nil || len(all) != 0 {
		t.Errorf("List() = %v, %v; links are not objects", keys(all), err)
	}

	// Replacing or deleting the file link acts on the link, not its target.
	put(t, d, "leak.txt", "replaced")
	if err := d.Delete(ctx, "leak.txt"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "secret.txt" {
		t.Errorf("outside directory now holds %v", entries)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "do not serve" {
		t.Errorf("outside file changed: %q, %v", b, err)
	}
}

// TestPutFileCopies runs the path taken when the local file lives on another
// file system, which a test cannot arrange portably.
func TestPutFileCopies(t *testing.T) {
	d, dir := newTestDisk(t)
	local := filepath.Join(t.TempDir(), "cover.webp")
	if err := os.WriteFile(local, []byte("webp bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	sub, err := d.openDir("videos/6")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := copyInto(t.Context(), sub, "cover.webp", local); err != nil {
		t.Fatal(err)
	}
	if got := read(t, d, "videos/6/cover.webp"); got != "webp bytes" {
		t.Errorf("read %q", got)
	}
	if _, err := os.Stat(local); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the local file is still there: %v", err)
	}
	if tmp := tempFiles(t, dir); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestNewDiskRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if err := os.MkdirAll(filepath.Join(dir, "videos", "1"), 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "videos", "1", tempPrefix+"old")
	fresh := filepath.Join(dir, "videos", "1", tempPrefix+"new")
	object := filepath.Join(dir, "videos", "1", "original")
	for _, p := range []string{stale, fresh, object} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := now.Add(-staleTemp - time.Minute)
	for _, p := range []string{stale, object} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	d, err := newDisk(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for p, want := range map[string]bool{stale: false, fresh: true, object: true} {
		_, err := os.Stat(p)
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(p), got, want)
		}
	}
}

func ExampleDisk_Put() {
	dir, _ := os.MkdirTemp("", "blob")
	defer os.RemoveAll(dir)
	d, _ := NewDisk(dir)
	defer d.Close()
	ctx := context.Background()
	d.Put(ctx, "videos/42/cover.jpg", strings.NewReader("jpeg"))
	d.Put(ctx, "videos/42/hls/master.m3u8", strings.NewReader("#EXTM3U"))
	d.Put(ctx, "videos/420/cover.jpg", strings.NewReader("jpeg"))
	d.DeletePrefix(ctx, "videos/42/")
	all, _ := d.List(ctx, "")
	for _, i := range all {
		fmt.Println(i.Key, i.Size)
	}
	// Output: videos/420/cover.jpg 4
}
