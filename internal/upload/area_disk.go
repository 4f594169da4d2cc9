package upload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	"github.com/tus/tusd/v2/pkg/handler"
)

// diskArea keeps uploads in a directory of this node with tusd's file
// store: the embedded default, and what several nodes may share only
// through one file system.
type diskArea struct {
	dir   string
	store spaceStore
}

// NewDiskArea returns the area in dir, created if missing.
func NewDiskArea(dir string) (Area, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload directory: %w", err)
	}
	return &diskArea{dir: dir, store: spaceStore{filestore.New(dir)}}, nil
}

func (a *diskArea) compose(c *handler.StoreComposer) {
	c.UseCore(a.store)
	c.UseTerminater(a.store)
	c.UseConcater(a.store)
}

func (a *diskArea) defaultLocker() handler.Locker { return newLocker(a.dir) }

func (a *diskArea) ids(_ context.Context, prefix string) ([]string, error) {
	entries, err := os.ReadDir(a.dir)
	if err != nil {
		return nil, fmt.Errorf("list uploads: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".info"); ok && strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// claim renames the part's info file (atomic: of two finals naming the same
// part, one wins, on any node sharing the directory); tusd then reads the
// part through the claimed copy (spaceStore.GetUpload) and its data file.
func (a *diskArea) claim(_ context.Context, _ handler.Locker, id string) (func(used bool), error) {
	infoPath := filepath.Join(a.dir, id+".info")
	// Touched first: the claimed file's time is the claim's, which the
	// sweep of abandoned claims goes by (ClaimLifetime). A part that
	// another final claimed meanwhile is not there to touch.
	now := time.Now()
	err := os.Chtimes(infoPath, now, now)
	if err == nil {
		err = os.Rename(infoPath, infoPath+claimedSuffix)
	}
	if err != nil {
		return nil, errPartTaken
	}
	return func(used bool) {
		p := filepath.Join(a.dir, id)
		if used {
			_ = os.Remove(p)
			_ = os.Remove(p + ".info" + claimedSuffix)
			_ = os.Remove(p + stopFileName)
			return
		}
		_ = os.Rename(p+".info"+claimedSuffix, p+".info")
	}, nil
}

func (a *diskArea) source(_ context.Context, info handler.FileInfo) (string, error) {
	return info.Storage["Path"], nil
}

func (a *diskArea) Open(_ context.Context, name string) (io.ReadCloser, error) {
	if !validName(name) {
		return nil, os.ErrNotExist
	}
	return os.Open(filepath.Join(a.dir, name))
}

func (a *diskArea) LocalPath(name string) (string, bool) {
	if !validName(name) {
		return "", false
	}
	return filepath.Join(a.dir, name), true
}

// Remove deletes the upload's data, info and stop marker.
func (a *diskArea) Remove(_ context.Context, name string) error {
	if !validName(name) {
		return nil
	}
	p := filepath.Join(a.dir, name)
	var errs []error
	for _, f := range []string{p, p + ".info", p + stopFileName} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Expire removes uploads whose info file is older than deadline, and parts
// claimed by a concatenation longer ago than ClaimLifetime: the process
// that claimed them died before joining them, and nothing else would ever
// remove them.
func (a *diskArea) Expire(ctx context.Context, deadline time.Time, inUse func(context.Context, string) (bool, error)) (int, error) {
	entries, err := os.ReadDir(a.dir)
	if err != nil && !os.IsNotExist(err) {
		return 0, err
	}
	n := 0
	claimDeadline := time.Now().Add(-ClaimLifetime)
	for _, e := range entries {
		if id, claimed := strings.CutSuffix(e.Name(), ClaimedInfoSuffix); claimed {
			if info, err := e.Info(); err == nil && info.ModTime().Before(claimDeadline) && a.removeClaimedPart(id) == nil {
				n++
			}
			continue
		}
		id, isInfo := strings.CutSuffix(e.Name(), ".info")
		if !isInfo {
			continue
		}
		info, err := e.Info()
		if err != nil || info.ModTime().After(deadline) {
			continue
		}
		if used, err := inUse(ctx, id); err != nil || used {
			continue
		}
		if err := a.Remove(ctx, id); err == nil {
			n++
		}
	}
	return n, nil
}

// removeClaimedPart deletes an abandoned claimed part of a concatenation:
// its data, its claimed info and its stop marker.
func (a *diskArea) removeClaimedPart(id string) error {
	if !validName(id) {
		return nil
	}
	p := filepath.Join(a.dir, id)
	for _, f := range []string{p, p + stopFileName, p + ClaimedInfoSuffix} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// spaceStore is tusd's file store answering a full disk with 507
// insufficient_storage instead of a 500. Its uploads are wrapped, so the
// capabilities that unwrap them to the file store's own type are wrapped too.
type spaceStore struct{ filestore.FileStore }

type spaceUpload struct{ handler.Upload }

func (s spaceStore) NewUpload(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	u, err := s.FileStore.NewUpload(ctx, info)
	if err != nil {
		return nil, spaceError(err)
	}
	return spaceUpload{u}, nil
}

// GetUpload finds an upload, also one claimed by the concatenation being
// created (its info file renamed; see concatenate).
func (s spaceStore) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	u, err := s.FileStore.GetUpload(ctx, id)
	if errors.Is(err, handler.ErrNotFound) {
		if c, _ := ctx.Value(claimKey{}).(*claim); c != nil && slices.Contains(c.parts, id) {
			return s.claimed(id)
		}
	}
	if err != nil {
		return nil, err
	}
	return spaceUpload{u}, nil
}

// claimed reads a claimed part through a temporary copy of its info file.
func (s spaceStore) claimed(id string) (handler.Upload, error) {
	p := filepath.Join(s.Path, id+".info")
	b, err := os.ReadFile(p + claimedSuffix)
	if err != nil {
		return nil, handler.ErrNotFound
	}
	var info handler.FileInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, err
	}
	// As the file store does: the data file's length is the offset.
	st, err := os.Stat(info.Storage["Path"])
	if err != nil {
		return nil, handler.ErrNotFound
	}
	info.Offset = st.Size()
	return spaceUpload{&claimedUpload{info: info}}, nil
}

func (s spaceStore) AsTerminatableUpload(u handler.Upload) handler.TerminatableUpload {
	return s.FileStore.AsTerminatableUpload(u.(spaceUpload).Upload)
}

func (s spaceStore) AsConcatableUpload(u handler.Upload) handler.ConcatableUpload {
	return spaceConcat{s.FileStore.AsConcatableUpload(u.(spaceUpload).Upload)}
}

func (u spaceUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	n, err := u.Upload.WriteChunk(ctx, offset, src)
	return n, spaceError(err)
}

type spaceConcat struct{ handler.ConcatableUpload }

// ConcatUploads appends the parts' data files, which claimed parts keep.
func (c spaceConcat) ConcatUploads(ctx context.Context, parts []handler.Upload) error {
	dst, ok := c.ConcatableUpload.(handler.Upload)
	if !ok {
		return errors.New("tus: concatenation target is not an upload")
	}
	info, err := dst.GetInfo(ctx)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(info.Storage["Path"], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return spaceError(err)
	}
	for _, p := range parts {
		pi, err := p.GetInfo(ctx)
		if err == nil {
			err = appendFile(f, pi.Storage["Path"])
		}
		if err != nil {
			f.Close()
			return spaceError(err)
		}
	}
	return spaceError(f.Close())
}

func appendFile(dst *os.File, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(dst, f)
	return err
}

// claimedUpload is a claimed part: only its info is read (for its size and
// data file) before its data is appended.
type claimedUpload struct {
	info handler.FileInfo
}

func (u *claimedUpload) WriteChunk(context.Context, int64, io.Reader) (int64, error) {
	return 0, handler.ErrNotFound
}
func (u *claimedUpload) GetInfo(context.Context) (handler.FileInfo, error) { return u.info, nil }
func (u *claimedUpload) GetReader(context.Context) (io.ReadCloser, error) {
	return os.Open(u.info.Storage["Path"])
}
func (u *claimedUpload) FinishUpload(context.Context) error { return nil }
