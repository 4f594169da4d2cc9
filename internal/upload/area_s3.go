package upload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/s3store"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
)

// UploadsPrefix starts, under the blob prefix, the keys of the tus uploads
// on S3. It is reserved: blob keys start with "videos/", so the two never
// meet, and no other key may start with it.
const UploadsPrefix = "uploads/"

// An upload on S3 is tusd's s3store layout under UploadsPrefix: NAME.info
// (tusd's JSON FileInfo), a multipart upload of NAME that receives the
// parts, NAME.part (the tail of the data too small to be a part yet) and,
// once complete, the object NAME itself.
type s3Area struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	prefix  string // the blob prefix + UploadsPrefix
	store   s3store.S3Store
}

// Part sizes on S3: parts of 16 MiB go up while the next arrive, at most
// s3Buffered of them waiting per PATCH in the scratch directory (and the
// one being written), and s3Concurrent uploading at once on the node: the
// scratch a node uses for uploads is bounded by (s3Buffered + 1) parts per
// PATCH under way plus s3Concurrent parts.
// S3 refuses parts below 5 MiB except the last, so that is the minimum;
// 16 MiB parts take an upload to 160 GiB within S3's 10,000 parts, far
// above any upload reel admits.
const (
	s3MinPart    = 5 << 20
	s3PartSize   = 16 << 20
	s3Buffered   = 2
	s3Concurrent = 8
)

// sourceTTL is how long the URL ffprobe reads a finished upload through
// stays valid: the probe of the final PATCH takes seconds, and a URL that
// leaks (it never leaves the node) is useless soon after.
const sourceTTL = 15 * time.Minute

// claimWait bounds how long the creation of a final upload waits for a
// part that another request holds.
const claimWait = 10 * time.Second

// NewS3Area returns the area on the bucket of cfg, under its prefix +
// UploadsPrefix: shared by every node, so that any node continues any
// upload (with a locker that holds across nodes). PATCH bodies are
// buffered in scratch, a directory of this node, before they go up as parts.
func NewS3Area(ctx context.Context, cfg *blob.S3Config, getenv func(string) string, scratch string) (Area, error) {
	client, err := blob.NewS3Client(ctx, cfg, getenv)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return nil, fmt.Errorf("upload scratch directory: %w", err)
	}
	a := &s3Area{client: client, presign: s3.NewPresignClient(client), bucket: cfg.Bucket, prefix: cfg.Prefix + UploadsPrefix}
	a.store = s3store.New(cfg.Bucket, client)
	a.store.ObjectPrefix = a.prefix
	a.store.TemporaryDirectory = scratch
	a.store.MinPartSize = s3MinPart
	a.store.PreferredPartSize = s3PartSize
	a.store.MaxBufferedParts = s3Buffered
	a.store.SetConcurrentPartUploads(s3Concurrent)
	return a, nil
}

func (a *s3Area) compose(c *handler.StoreComposer) {
	c.UseCore(a.store)
	c.UseTerminater(s3Terminater{a})
	c.UseConcater(a.store)
}

// defaultLocker is nil: a lock on S3 must hold across nodes, and the
// bucket cannot lock; the caller provides one.
func (a *s3Area) defaultLocker() handler.Locker { return nil }

func (a *s3Area) key(name string) string { return a.prefix + name }

// readInfo reads the info object of the upload name.
func (a *s3Area) readInfo(ctx context.Context, name string) (handler.FileInfo, error) {
	var info handler.FileInfo
	out, err := a.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.bucket), Key: aws.String(a.key(name) + ".info")})
	if err != nil {
		if blob.IsS3Code(err, "NoSuchKey", "NotFound") {
			return info, handler.ErrNotFound
		}
		return info, fmt.Errorf("read upload %s: %w", name, err)
	}
	defer out.Body.Close()
	// tusd writes a few hundred bytes; anything far larger is not its.
	if err := json.NewDecoder(io.LimitReader(out.Body, 1<<20)).Decode(&info); err != nil {
		return info, fmt.Errorf("read upload %s: %w", name, err)
	}
	return info, nil
}

// tusID is the tus id of the upload with name or id: the info object names it.
func (a *s3Area) tusID(ctx context.Context, nameOrID string) (string, error) {
	if strings.Contains(nameOrID, "+") {
		return nameOrID, nil
	}
	info, err := a.readInfo(ctx, nameOrID)
	if err != nil {
		return "", err
	}
	return info.ID, nil
}

// list calls fn for every object under the area's prefix + sub.
func (a *s3Area) list(ctx context.Context, sub string, fn func(types.Object) error) error {
	p := s3.NewListObjectsV2Paginator(a.client, &s3.ListObjectsV2Input{Bucket: aws.String(a.bucket), Prefix: aws.String(a.prefix + sub)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list uploads: %w", err)
		}
		for _, o := range page.Contents {
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *s3Area) ids(ctx context.Context, prefix string) ([]string, error) {
	var ids []string
	err := a.list(ctx, prefix, func(o types.Object) error {
		name, ok := strings.CutSuffix(strings.TrimPrefix(aws.ToString(o.Key), a.prefix), ".info")
		if !ok {
			return nil
		}
		id, err := a.tusID(ctx, name)
		switch {
		case errors.Is(err, handler.ErrNotFound): // removed meanwhile
		case err != nil:
			return err
		default:
			ids = append(ids, id)
		}
		return nil
	})
	return ids, err
}

// claim holds the part's lock, through the locker every node shares, for
// the whole creation of the final upload, and deletes a used part before
// letting go: another final naming it waits for the lock, then finds it
// gone. S3 has no atomic rename to claim it with, and a lock held by a
// node that died is released by the locker, so a claim never outlives its
// request.
func (a *s3Area) claim(ctx context.Context, locker handler.Locker, id string) (func(used bool), error) {
	lock, err := locker.NewLock(id)
	if err != nil {
		return nil, err
	}
	lockCtx, cancel := context.WithTimeout(ctx, claimWait)
	defer cancel()
	// The request that holds a part asked to let go keeps it: the claim
	// ends with the final's creation.
	if err := lock.Lock(lockCtx, func() {}); err != nil {
		if errors.Is(err, handler.ErrNotFound) {
			return nil, errPartTaken
		}
		if errors.Is(err, handler.ErrLockTimeout) || lockCtx.Err() != nil {
			return nil, reel.Errorf(reel.ECONFLICT, "the partial upload %s is in use by another request: try again", id)
		}
		return nil, err
	}
	if _, err := a.readInfo(ctx, uploadName(id)); err != nil {
		_ = lock.Unlock()
		if errors.Is(err, handler.ErrNotFound) {
			return nil, errPartTaken
		}
		return nil, err
	}
	return func(used bool) {
		if used {
			// A part left behind here (the store failing) is not
			// joined again by a second final before it is gone: only
			// after the lock is released, and the expiry removes it.
			_ = a.terminate(context.WithoutCancel(ctx), id)
		}
		_ = lock.Unlock()
	}, nil
}

func (a *s3Area) source(ctx context.Context, info handler.FileInfo) (string, error) {
	req, err := a.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.bucket), Key: aws.String(a.key(uploadName(info.ID)))},
		s3.WithPresignExpires(sourceTTL))
	if err != nil {
		return "", fmt.Errorf("presign the finished upload: %w", err)
	}
	return req.URL, nil
}

func (a *s3Area) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	name = uploadName(name)
	if !validName(name) {
		return nil, os.ErrNotExist
	}
	out, err := a.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.bucket), Key: aws.String(a.key(name))})
	if err != nil {
		if blob.IsS3Code(err, "NoSuchKey", "NotFound") {
			return nil, fmt.Errorf("finished upload %s: %w", name, os.ErrNotExist)
		}
		return nil, fmt.Errorf("finished upload %s: %w", name, err)
	}
	return out.Body, nil
}

func (a *s3Area) LocalPath(string) (string, bool) { return "", false }

// Remove terminates the upload: its objects and its multipart upload. An
// upload whose info object is gone still has its other objects deleted and
// any multipart upload of its key aborted.
func (a *s3Area) Remove(ctx context.Context, name string) error {
	if !validName(uploadName(name)) {
		return nil
	}
	id, err := a.tusID(ctx, name)
	switch {
	case errors.Is(err, handler.ErrNotFound):
		if err := a.terminate(ctx, name); err != nil {
			return err
		}
		_, err := a.abortMultipart(ctx, uploadName(name), time.Time{}, nil)
		return err
	case err != nil:
		return err
	}
	return a.terminate(ctx, id)
}

// terminate deletes the objects of the upload id and aborts its multipart
// upload, if id names it; what is missing already is not an error.
func (a *s3Area) terminate(ctx context.Context, id string) error {
	name := uploadName(id)
	var errs []error
	if mp, ok := strings.CutPrefix(id, name+"+"); ok && mp != "" {
		_, err := a.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(a.bucket), Key: aws.String(a.key(name)), UploadId: aws.String(mp)})
		if err != nil && !blob.IsS3Code(err, "NoSuchUpload", "NoSuchKey", "NotFound") {
			errs = append(errs, fmt.Errorf("abort upload %s: %w", name, err))
		}
	}
	out, err := a.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(a.bucket),
		Delete: &types.Delete{Quiet: aws.Bool(true), Objects: []types.ObjectIdentifier{
			{Key: aws.String(a.key(name))}, {Key: aws.String(a.key(name) + ".part")}, {Key: aws.String(a.key(name) + ".info")},
		}},
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("delete upload %s: %w", name, err))
	} else {
		for _, e := range out.Errors {
			if aws.ToString(e.Code) != "NoSuchKey" {
				errs = append(errs, fmt.Errorf("delete %s: %s", aws.ToString(e.Key), aws.ToString(e.Message)))
			}
		}
	}
	return errors.Join(errs...)
}

// abortMultipart aborts the multipart uploads of the upload name (every
// one when name is ""), started before before (any time when it is zero)
// and not of an upload in keep, and returns how many it aborted.
func (a *s3Area) abortMultipart(ctx context.Context, name string, before time.Time, keep map[string]bool) (int, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(a.bucket), Prefix: aws.String(a.key(name))}
	n := 0
	for {
		out, err := a.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return n, fmt.Errorf("list multipart uploads: %w", err)
		}
		for _, u := range out.Uploads {
			un := strings.TrimPrefix(aws.ToString(u.Key), a.prefix)
			if (name != "" && un != name) || keep[un] || (!before.IsZero() && !aws.ToTime(u.Initiated).Before(before)) {
				continue
			}
			_, err := a.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(a.bucket), Key: u.Key, UploadId: u.UploadId})
			if err != nil && !blob.IsS3Code(err, "NoSuchUpload") {
				return n, fmt.Errorf("abort upload %s: %w", un, err)
			}
			n++
		}
		if !aws.ToBool(out.IsTruncated) {
			return n, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// Expire terminates the uploads created (reel_created) before deadline that
// no video waits for, then removes what crashes left: objects of an upload
// without its info object, and multipart uploads without one, both older
// than deadline.
func (a *s3Area) Expire(ctx context.Context, deadline time.Time, inUse func(context.Context, string) (bool, error)) (int, error) {
	infos := map[string]bool{}
	var others []types.Object
	err := a.list(ctx, "", func(o types.Object) error {
		rest := strings.TrimPrefix(aws.ToString(o.Key), a.prefix)
		if name, ok := strings.CutSuffix(rest, ".info"); ok {
			infos[name] = true
		} else {
			others = append(others, o)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for name := range infos {
		info, err := a.readInfo(ctx, name)
		if err != nil {
			continue // removed meanwhile, or unreadable: the next sweep
		}
		created, err := strconv.ParseInt(info.MetaData[metaCreated], 10, 64)
		if err != nil || time.Unix(created, 0).After(deadline) {
			continue
		}
		if used, err := inUse(ctx, name); err != nil || used {
			continue
		}
		if err := a.terminate(ctx, info.ID); err == nil {
			n++
		}
	}
	orphans := map[string]bool{}
	for _, o := range others {
		name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(o.Key), a.prefix), ".part")
		if !infos[name] && aws.ToTime(o.LastModified).Before(deadline) && validName(name) {
			orphans[name] = true
		}
	}
	for name := range orphans {
		if err := a.terminate(ctx, name); err == nil {
			n++
		}
	}
	aborted, err := a.abortMultipart(ctx, "", deadline, infos)
	return n + aborted, err
}

// s3Terminater terminates through the area, which tells a finished upload
// (its multipart upload completed) from a failure.
type s3Terminater struct{ a *s3Area }

func (t s3Terminater) AsTerminatableUpload(u handler.Upload) handler.TerminatableUpload {
	return s3Terminatable{t.a, u}
}

type s3Terminatable struct {
	a *s3Area
	u handler.Upload
}

func (t s3Terminatable) Terminate(ctx context.Context) error {
	info, err := t.u.GetInfo(ctx)
	if err != nil {
		return err
	}
	return t.a.terminate(ctx, info.ID)
}
