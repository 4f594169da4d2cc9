package blob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Disk is a Store on the local file system. Every access goes through an
// os.Root, so a symbolic link planted inside the directory can never lead a
// read or a write outside it, whatever the key.
type Disk struct {
	root *os.Root
	// dirFile is the store's directory, for openat2 (open_linux.go).
	dirOnce sync.Once
	dirFile *os.File
	dirErr  error
}

var _ Store = (*Disk)(nil)

// staleTemp is how old a temporary file must be before NewDisk treats it as
// left over by a crash: no Put takes that long between writes.
const staleTemp = time.Hour

// copyChunk is the unit in which Put streams and checks for cancellation.
const copyChunk = 256 << 10

// NewDisk opens (creating it 0700 when missing) the directory root as a
// store, and removes temporary files that a crashed process left behind.
func NewDisk(root string) (*Disk, error) {
	return newDisk(root, time.Now())
}

func newDisk(root string, now time.Time) (*Disk, error) {
	dir, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob: create store directory: %w", err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: open store directory: %w", err)
	}
	d := &Disk{root: r}
	if err := d.removeStaleTemps(now.Add(-staleTemp)); err != nil {
		r.Close()
		return nil, err
	}
	return d, nil
}

// Close releases the directory handle. The Disk is unusable afterwards.
func (d *Disk) Close() error {
	if d.dirFile != nil {
		d.dirFile.Close()
	}
	return d.root.Close()
}

// Put writes r to a temporary file beside the final name, flushes it to
// stable storage and renames it into place, then flushes the directory so the
// rename itself survives a power cut. Cancellation is noticed between chunks;
// a reader blocked in Read is the caller's to unblock (an HTTP body is, when
// the client goes away).
func (d *Disk) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := ValidKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	dir, err := d.openDir(path.Dir(key))
	if err != nil {
		return 0, fmt.Errorf("blob: put %s: %w", key, err)
	}
	defer dir.Close()
	n, err := putIn(ctx, dir, path.Base(key), r)
	if err != nil {
		return 0, fmt.Errorf("blob: put %s: %w", key, err)
	}
	return n, nil
}

// putIn does the work of Put inside dir, a root opened on the object's
// directory, so that a concurrent rename of a parent cannot redirect the
// temporary file and the final rename to different places.
func putIn(ctx context.Context, dir *os.Root, name string, r io.Reader) (int64, error) {
	f, tmp, err := createTemp(dir)
	if err != nil {
		return 0, err
	}
	n, err := copyContext(ctx, f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = dir.Rename(tmp, name)
	}
	if err != nil {
		dir.Remove(tmp)
		return 0, err
	}
	return n, syncDir(dir)
}

// PutFile renames localPath into the store when both are on one file system
// (the usual case: ffmpeg writes into a work directory under the data
// directory) and otherwise copies it with Put and removes it.
func (d *Disk) PutFile(ctx context.Context, key, localPath string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A symlink would be moved as a link, and the store would then hold a
	// pointer to somewhere else instead of bytes.
	st, err := os.Lstat(localPath)
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("blob: put %s: %s is not a regular file", key, localPath)
	}
	if err := syncFile(localPath); err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	dir, err := d.openDir(path.Dir(key))
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	defer dir.Close()
	err = renameInto(localPath, dir, path.Base(key))
	if errors.Is(err, errCrossDevice) {
		err = copyInto(ctx, dir, path.Base(key), localPath)
	}
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	return nil
}

// errCrossDevice says a rename cannot work and the file must be copied.
var errCrossDevice = errors.New("not on the same file system")

func copyInto(ctx context.Context, dir *os.Root, name, localPath string) error {
	f, err := os.Open(localPath)
	if err != nil {
		return err
	}
	_, err = putIn(ctx, dir, name, f)
	f.Close()
	if err != nil {
		return err
	}
	return os.Remove(localPath)
}

// Open opens the object at key. Its File is the *os.File itself.
func (d *Disk) Open(ctx context.Context, key string) (*Object, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, ok, err := d.openFast(key)
	if !ok {
		f, err = d.root.Open(key)
	}
	if err != nil {
		return nil, lookupError("open", key, err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fs.ErrNotExist // a directory is a prefix of other keys, not an object
	}
	if err != nil {
		f.Close()
		return nil, lookupError("open", key, err)
	}
	return &Object{Info: fileInfo(key, st), ReadSeekCloser: f, File: f}, nil
}

func (d *Disk) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	st, err := d.root.Stat(key)
	if err == nil && !st.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return Info{}, lookupError("stat", key, err)
	}
	return fileInfo(key, st), nil
}

// fileInfo describes the object at key from its file's status. The ETag is
// strong: an object is only ever replaced whole, and a replacement changes
// its modification time or size.
func fileInfo(key string, st fs.FileInfo) Info {
	h := sha256.New()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, st.Size(), 10))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, st.ModTime().UnixNano(), 10))
	etag := `"` + hex.EncodeToString(h.Sum(nil)[:12]) + `"`
	return Info{Key: key, Size: st.Size(), ModTime: st.ModTime(), ETag: etag}
}

// Delete removes the object at key. A directory at key holds other objects
// and is left alone, as if nothing were there.
func (d *Disk) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := d.root.Lstat(key)
	if err == nil && st.IsDir() {
		return nil
	}
	if err == nil {
		err = d.root.Remove(key)
	}
	if err != nil && !notExist(err) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}

// DeletePrefix removes the directory of prefix with everything in it,
// temporary files included, then the parent directories it leaves empty.
func (d *Disk) DeletePrefix(ctx context.Context, prefix string) error {
	if err := deletablePrefix(prefix); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := strings.TrimSuffix(prefix, "/")
	st, err := d.root.Lstat(dir)
	if notExist(err) || (err == nil && !st.IsDir()) {
		return nil // an object named like the prefix is not under it
	}
	if err == nil {
		err = d.root.RemoveAll(dir)
	}
	if err != nil {
		return fmt.Errorf("blob: delete %s: %w", prefix, err)
	}
	// A Put racing with this may find its directory gone; openDir recreates it.
	for p := path.Dir(dir); p != "."; p = path.Dir(p) {
		if d.root.Remove(p) != nil {
			break // not empty, or already gone
		}
	}
	return nil
}

// List walks the directory of prefix. Only regular files are objects:
// temporary files, symlinks and anything else a person put there are not.
func (d *Disk) List(ctx context.Context, prefix string) ([]Info, error) {
	dir, err := validPrefix(prefix)
	if err != nil {
		return nil, err
	}
	var out []Info
	err = fs.WalkDir(d.root.FS(), dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if notExist(err) {
				// The prefix holds nothing, or a DeletePrefix is removing it.
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), tempPrefix) {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || ValidKey(p) != nil {
			return nil
		}
		st, err := e.Info()
		if notExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, Info{Key: p, Size: st.Size(), ModTime: st.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("blob: list %s: %w", prefix, err)
	}
	// The walk is ordered per directory, which differs from key order
	// ("a/b" is walked before "a-c", but sorts after it).
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// openDir opens the directory of an object as a root, creating it when
// missing. A DeletePrefix may remove a freshly created empty directory before
// we open it, so that case is retried.
func (d *Disk) openDir(dir string) (*os.Root, error) {
	var err error
	for range 3 {
		if err = d.root.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		var r *os.Root
		if r, err = d.root.OpenRoot(dir); err == nil {
			return r, nil
		}
		if !notExist(err) {
			return nil, err
		}
	}
	return nil, err
}

// removeStaleTemps deletes temporary files last written before cutoff. Newer
// ones may belong to a Put of another process sharing the directory.
func (d *Disk) removeStaleTemps(cutoff time.Time) error {
	err := fs.WalkDir(d.root.FS(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if notExist(err) {
				return nil
			}
			return err
		}
		if e.IsDir() || !strings.HasPrefix(e.Name(), tempPrefix) {
			return nil
		}
		if st, err := e.Info(); err == nil && st.ModTime().Before(cutoff) {
			d.root.Remove(p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("blob: remove stale temporary files: %w", err)
	}
	return nil
}

// createTemp creates a new temporary file in dir. os.Root has no CreateTemp,
// so the name is random and O_EXCL guards against the unlikely collision.
func createTemp(dir *os.Root) (*os.File, string, error) {
	for {
		name := tempPrefix + rand.Text()
		f, err := dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
}

func copyContext(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, copyChunk)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		nr, rerr := r.Read(buf)
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

func syncDir(dir *os.Root) error {
	f, err := dir.Open(".")
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// lookupError wraps err so that a missing object, including one whose parent
// is a file rather than a directory, satisfies errors.Is(err, fs.ErrNotExist).
func lookupError(op, key string, err error) error {
	if notExist(err) && !errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w (%w)", fs.ErrNotExist, err)
	}
	return fmt.Errorf("blob: %s %s: %w", op, key, err)
}

func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
