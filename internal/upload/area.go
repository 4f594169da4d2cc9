package upload

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// Area is where unfinished tus uploads live: a directory of this node
// (NewDiskArea) or a prefix of the bucket every node shares (NewS3Area).
// Everything that touches an upload before the job has stored it as the
// video's original goes through it: tusd's store, the count of a user's
// pending bytes, the claim of a concatenation's parts, the probe of a
// finished upload, the job that takes it, and the removal of deleted or
// expired uploads.
//
// An upload has a name, what the pre-create hook chose ("<owner>-<hex>")
// and the video row keeps as its upload id, and a tus id, what tusd and
// clients see: the name itself on disk, "<name>+<multipart upload id>" on
// S3. The exported methods take either.
type Area interface {
	// Open streams the bytes of the finished upload.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// LocalPath is the finished upload's file on this node, which the
	// caller may move away (Remove then clears the rest); ok is false when
	// the area is not on this node's disk.
	LocalPath(name string) (path string, ok bool)
	// Remove deletes every trace of the upload; a missing upload is not an
	// error.
	Remove(ctx context.Context, name string) error
	// Expire removes the uploads created before deadline that inUse does
	// not claim for a video, and what crashes left behind, and returns
	// how many uploads it removed.
	Expire(ctx context.Context, deadline time.Time, inUse func(ctx context.Context, name string) (bool, error)) (int, error)

	// compose puts the area's tusd store (core, termination,
	// concatenation) into composer.
	compose(composer *handler.StoreComposer)
	// defaultLocker is the locker of TusConfig's zero Locker: nil when
	// the area has none that works across the nodes sharing it.
	defaultLocker() handler.Locker
	// ids returns the tus ids of the uploads whose name starts with prefix.
	ids(ctx context.Context, prefix string) ([]string, error)
	// claim reserves the part id (a partial upload) for the final upload
	// being created, so that no other final uses it; settle ends the
	// claim, deleting the part when the final used it.
	claim(ctx context.Context, locker handler.Locker, id string) (settle func(used bool), err error)
	// source is what ffprobe reads to check the finished upload: a local
	// path, or a short-lived URL of it.
	source(ctx context.Context, info handler.FileInfo) (string, error)
}

// uploadName is the name part of a tus id (see Area).
func uploadName(id string) string {
	if i := strings.LastIndexByte(id, '+'); i >= 0 {
		return id[:i]
	}
	return id
}

// validName reports whether name can be an upload's name: something
// newUploadID made, never a way out of the area.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`)
}
