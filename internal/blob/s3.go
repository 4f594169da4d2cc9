package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/reel-video/reel"
)

// S3 is the store on an S3-compatible bucket. Every key is stored under the
// configured prefix. Objects become visible only when their upload
// completes, which is what makes writes atomic here.
type S3 struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	prefix  string
}

var (
	_ Store     = (*S3)(nil)
	_ Presigner = (*S3)(nil)
	_ Sweeper   = (*S3)(nil)
)

const (
	// partSize is the unit of multipart uploads from a stream: Put holds at
	// most partConcurrency+1 of them in memory, whatever the object's size.
	partSize = 8 << 20
	// partConcurrency bounds the parts of one upload in flight at once.
	partConcurrency = 4
	// maxParts is S3's limit on the parts of one upload.
	maxParts = 10000
	// cleanupTimeout bounds the abort of a failed upload, which runs after
	// the caller's context may have ended.
	cleanupTimeout = 30 * time.Second
)

// NewS3 connects to the bucket of c and checks that it answers, so that a
// wrong endpoint, bucket or credential fails at start rather than at the
// first request.
func NewS3(ctx context.Context, c *S3Config, getenv func(string) string) (*S3, error) {
	client, err := NewS3Client(ctx, c, getenv)
	if err != nil {
		return nil, err
	}
	s := &S3{client: client, presign: s3.NewPresignClient(client), bucket: c.Bucket, prefix: c.Prefix}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := client.HeadBucket(hctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		where := c.Endpoint
		if where == "" {
			where = "AWS region " + c.Region
		}
		hint := ""
		if code := httpStatus(err); code == 404 {
			hint = ": no such bucket"
		} else if code == 403 || code == 401 {
			hint = ": access denied (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_PROFILE)"
		}
		return nil, fmt.Errorf("s3 store: bucket %q at %s%s: %w", c.Bucket, where, hint, s.wrap(err))
	}
	return s, nil
}

// Put streams r into the object at key. A body smaller than one part goes
// in one request; a larger one in a multipart upload, which S3 publishes
// only when it completes and which is aborted on any failure, so that no
// part of it is ever visible or left behind. A stream may hold up to
// maxParts parts (80 GiB); files (PutFile) have no such limit.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := s.validKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	buf := getPart()
	n, rerr := io.ReadFull(r, *buf)
	if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
		putPart(buf)
		return 0, fmt.Errorf("blob: put %s: %w", key, rerr)
	}
	if rerr != nil { // the whole body fits in one part
		defer putPart(buf)
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := s.putObject(ctx, key, bytes.NewReader((*buf)[:n]), int64(n)); err != nil {
			return 0, err
		}
		return int64(n), nil
	}
	u, err := s.startUpload(ctx, key)
	if err != nil {
		putPart(buf)
		return 0, err
	}
	total := int64(n)
	for {
		part := buf
		u.add(bytes.NewReader((*part)[:n]), func() { putPart(part) })
		if rerr != nil || u.ctx.Err() != nil {
			// Done, or a part failed or the caller gave up: reading on
			// would only pull in a body that cannot be stored.
			break
		}
		buf = getPart()
		n, rerr = io.ReadFull(r, *buf)
		total += int64(n)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			putPart(buf)
			return 0, u.abort(fmt.Errorf("blob: put %s: %w", key, rerr))
		}
		if n == 0 {
			putPart(buf)
			break
		}
	}
	if err := u.complete(); err != nil {
		return 0, err
	}
	return total, nil
}

var parts = sync.Pool{New: func() any { b := make([]byte, partSize); return &b }}

func getPart() *[]byte  { return parts.Get().(*[]byte) }
func putPart(b *[]byte) { parts.Put(b) }

// PutFile uploads the local file at localPath, in parallel parts read
// straight from the file when it is large, and removes it once the object
// is complete.
func (s *S3) PutFile(ctx context.Context, key, localPath string) error {
	if err := s.validKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, size, err := openRegular(localPath)
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	defer f.Close()
	if size <= partSize {
		err = s.putObject(ctx, key, f, size)
	} else {
		err = s.putParts(ctx, key, f, size)
	}
	if err != nil {
		return err
	}
	if err := os.Remove(localPath); err != nil {
		return fmt.Errorf("blob: put %s: stored, but: %w", key, err)
	}
	return nil
}

// openRegular opens the file at name, refusing anything but a regular file:
// a link would store whatever it points to.
func openRegular(name string) (*os.File, int64, error) {
	st, err := os.Lstat(name)
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is not a regular file", name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	if fst, err := f.Stat(); err != nil || !os.SameFile(st, fst) {
		f.Close()
		return nil, 0, fmt.Errorf("%s changed while it was opened", name)
	}
	return f, st.Size(), nil
}

func (s *S3) putParts(ctx context.Context, key string, f *os.File, size int64) error {
	// Parts grow for files beyond maxParts*partSize, in whole MiB.
	ps := max(int64(partSize), ((size+maxParts-1)/maxParts+1<<20-1)&^(1<<20-1))
	u, err := s.startUpload(ctx, key)
	if err != nil {
		return err
	}
	for off := int64(0); off < size && u.ctx.Err() == nil; off += ps {
		u.add(io.NewSectionReader(f, off, min(ps, size-off)), nil)
	}
	return u.complete()
}

func (s *S3) putObject(ctx context.Context, key string, body io.ReadSeeker, size int64) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           aws.String(s.prefix + key),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentType:   aws.String(ContentType(key)),
	})
	if err != nil {
		return s.fail("put", key, err)
	}
	return nil
}

// upload is a multipart upload in progress. Parts go up in the background,
// at most partConcurrency at once; the first failure cancels the others.
type upload struct {
	s      *S3
	key    string
	id     *string
	ctx    context.Context
	cancel context.CancelFunc
	slots  chan struct{}
	wg     sync.WaitGroup

	mu    sync.Mutex
	parts []types.CompletedPart
	err   error
}

func (s *S3) startUpload(ctx context.Context, key string) (*upload, error) {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:      &s.bucket,
		Key:         aws.String(s.prefix + key),
		ContentType: aws.String(ContentType(key)),
	})
	if err != nil {
		return nil, s.fail("put", key, err)
	}
	uctx, cancel := context.WithCancel(ctx)
	return &upload{s: s, key: key, id: out.UploadId, ctx: uctx, cancel: cancel, slots: make(chan struct{}, partConcurrency)}, nil
}

// add uploads body as the next part once a slot is free, then calls done
// (when not nil). After a failure, or once the caller's context has ended,
// it only calls done; complete reports why.
func (u *upload) add(body io.ReadSeeker, done func()) {
	u.mu.Lock()
	num := int32(len(u.parts) + 1)
	u.parts = append(u.parts, types.CompletedPart{PartNumber: aws.Int32(num)})
	u.mu.Unlock()
	release := func() {
		if done != nil {
			done()
		}
	}
	if num > maxParts {
		u.setErr(fmt.Errorf("blob: put %s: larger than %d parts", u.key, maxParts))
	}
	select {
	case u.slots <- struct{}{}:
	case <-u.ctx.Done():
		release()
		return
	}
	u.wg.Go(func() {
		defer func() { <-u.slots; release() }()
		if u.ctx.Err() != nil {
			return
		}
		out, err := u.s.client.UploadPart(u.ctx, &s3.UploadPartInput{
			Bucket:     &u.s.bucket,
			Key:        aws.String(u.s.prefix + u.key),
			UploadId:   u.id,
			PartNumber: aws.Int32(num),
			Body:       body,
		})
		if err != nil {
			u.setErr(u.s.fail("put", u.key, err))
			return
		}
		u.mu.Lock()
		u.parts[num-1].ETag = out.ETag
		u.mu.Unlock()
	})
}

func (u *upload) setErr(err error) {
	u.mu.Lock()
	if u.err == nil {
		u.err = err
	}
	u.mu.Unlock()
	u.cancel()
}

// complete waits for the parts and publishes the object, or aborts the
// upload when anything failed.
func (u *upload) complete() error {
	u.wg.Wait()
	u.mu.Lock()
	err := u.err
	u.mu.Unlock()
	if err == nil {
		err = u.ctx.Err()
	}
	if err != nil {
		return u.abort(err)
	}
	_, err = u.s.client.CompleteMultipartUpload(u.ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &u.s.bucket,
		Key:             aws.String(u.s.prefix + u.key),
		UploadId:        u.id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
	})
	if err != nil {
		return u.abort(u.s.fail("put", u.key, err))
	}
	u.cancel()
	return nil
}

// abort stops the upload and discards its parts, then returns err. It runs
// even when the caller's context has ended: that is when it matters most.
func (u *upload) abort(err error) error {
	u.cancel()
	u.wg.Wait()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.ctx), cleanupTimeout)
	defer cancel()
	_, aerr := u.s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   &u.s.bucket,
		Key:      aws.String(u.s.prefix + u.key),
		UploadId: u.id,
	})
	if aerr != nil && !isCode(aerr, "NoSuchUpload") {
		return errors.Join(err, fmt.Errorf("blob: abort upload of %s (its parts stay until the bucket's lifecycle removes them): %w", u.key, aerr))
	}
	return err
}

// Open looks the object up and returns a reader that fetches its bytes only
// when read, from the current offset, in windows (see firstWindow): Seek
// costs nothing, so http.ServeContent can serve any range of an object of
// any size. The reader is a ReadLimiter. Reads
// are pinned to the version found here (If-Match on its ETag): an object
// replaced meanwhile fails the read instead of mixing two versions. ctx
// governs the reads too.
func (s *S3) Open(ctx context.Context, key string) (*Object, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	return &Object{Info: info, ReadSeekCloser: &rangeReader{s: s, ctx: ctx, info: info}}, nil
}

var _ SpanOpener = (*S3)(nil)

// OpenSpan is Open without the lookup: the GET of the span's bytes (no
// Range at all for a whole object) tells the object's size, ETag and
// modification time, and its body is the reader's first window. Later
// windows are pinned to that ETag as after Open. An answer that does not
// say what it holds as expected (a 416, no length, a whole object for a
// range) falls back to Open: the caller gets the right answer either way.
func (s *S3) OpenSpan(ctx context.Context, key string, span Span) (*Object, error) {
	if err := s.validKey(key); err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)}
	if h := span.rangeHeader(firstWindow); h != "" {
		in.Range = aws.String(h)
	}
	out, err := s.client.GetObject(ctx, in)
	if isCode(err, "InvalidRange") || httpStatus(err) == http.StatusRequestedRangeNotSatisfiable {
		// Past the end, or an empty object: Open, and the caller answers
		// from the size it finds (416 for HTTP).
		return s.Open(ctx, key)
	}
	if err != nil {
		return nil, s.fail("read", key, err)
	}
	length, cr := out.ContentLength, aws.ToString(out.ContentRange)
	first, last, size, ok := int64(0), aws.ToInt64(length)-1, aws.ToInt64(length), true
	if cr != "" {
		first, last, size, ok = parseContentRange(cr)
	}
	if length == nil || in.Range != nil && cr == "" || !ok || last-first+1 != *length {
		out.Body.Close()
		return s.Open(ctx, key)
	}
	info := Info{Key: key, Size: size, ModTime: aws.ToTime(out.LastModified), ETag: quoteETag(out.ETag)}
	r := &rangeReader{s: s, ctx: ctx, info: info, off: first, limit: span.Limit(size),
		body: out.Body, bodyOff: first, bodyEnd: last + 1, next: last + 1, window: min(2*firstWindow, maxWindow)}
	if r.bodyOff == r.bodyEnd {
		r.releaseBody()
	}
	return &Object{Info: info, ReadSeekCloser: r}, nil
}

// parseContentRange reads "bytes FIRST-LAST/SIZE".
func parseContentRange(v string) (first, last, size int64, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes ")
	rng, total, found2 := strings.Cut(spec, "/")
	a, b, found3 := strings.Cut(rng, "-")
	if !found || !found2 || !found3 {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	size, err3 = strconv.ParseInt(total, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || last >= size {
		return 0, 0, 0, false
	}
	return first, last, size, true
}

func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := s.validKey(key); err != nil {
		return Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)})
	if err != nil {
		return Info{}, s.fail("stat", key, err)
	}
	return Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified), ETag: quoteETag(out.ETag)}, nil
}

func quoteETag(e *string) string {
	etag := aws.ToString(e)
	if etag != "" && !strings.HasPrefix(etag, `"`) && !strings.HasPrefix(etag, `W/`) {
		etag = strconv.Quote(etag)
	}
	return etag
}

// The reads of an object fetch it in windows: a ranged GET of the next
// window, read to its end so that the connection goes back to the pool. A
// window starts small, so that a player that reads a little and goes away
// (a seek, a closed tab) costs S3 little more than what it was sent, and
// doubles while reads go on, so that a whole object takes few requests.
const (
	firstWindow = 1 << 20
	maxWindow   = 16 << 20
	// drainMax is the most of a window left unread that is read anyway, to
	// keep its connection: closing a body before its end drops it.
	drainMax = 64 << 10
)

// rangeReader reads an object window by window (see firstWindow), holding
// no more than the HTTP body's buffer. It is a ReadLimiter. Seek only
// moves the position: a window already requested is kept until a read
// shows that it does not start where the reads go on (http.ServeContent
// seeks to the end and back to learn the size before it reads).
type rangeReader struct {
	// mu makes Close safe while a Read runs: http.ServeContent reads
	// several ranges from a goroutine that can outlive it.
	mu     sync.Mutex
	closed bool

	s      *S3
	ctx    context.Context
	info   Info
	off    int64 // the position of the next Read
	limit  int64 // from LimitReads; 0 when unknown
	window int64 // the length of the next window
	next   int64 // where the last window requested ends: reads that go on from there keep growing windows

	body    io.ReadCloser
	bodyOff int64 // the position of body's next byte
	bodyEnd int64 // where body's window ends
}

var _ ReadLimiter = (*rangeReader)(nil)

func (r *rangeReader) LimitReads(end int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.limit = end
}

// nextEnd is the end of the window starting at r.off. A range the caller
// will read to its end (LimitReads) is fetched in one request when it is
// no longer than a full window; the windows never go past it.
func (r *rangeReader) nextEnd() int64 {
	if r.window == 0 || r.off != r.next {
		r.window = firstWindow
	}
	end := r.off + r.window
	if r.limit > r.off {
		if r.limit-r.off <= maxWindow {
			end = r.limit
		} else {
			end = min(end, r.limit)
		}
	}
	return min(end, r.info.Size)
}

func (r *rangeReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, fmt.Errorf("blob: read %s: %w", r.info.Key, fs.ErrClosed)
	}
	if r.body != nil && r.bodyOff != r.off {
		r.releaseBody()
	}
	if r.off >= r.info.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.body == nil {
		end := r.nextEnd()
		out, err := r.s.client.GetObject(r.ctx, &s3.GetObjectInput{
			Bucket:  &r.s.bucket,
			Key:     aws.String(r.s.prefix + r.info.Key),
			Range:   aws.String("bytes=" + strconv.FormatInt(r.off, 10) + "-" + strconv.FormatInt(end-1, 10)),
			IfMatch: aws.String(r.info.ETag),
		})
		if err != nil {
			if isCode(err, "PreconditionFailed") {
				return 0, fmt.Errorf("blob: read %s: the object was replaced while it was read: %w", r.info.Key, err)
			}
			return 0, r.s.fail("read", r.info.Key, err)
		}
		// A store that ignored the Range would send other bytes than these.
		if first, last, _, ok := parseContentRange(aws.ToString(out.ContentRange)); !ok || first != r.off || last != end-1 {
			out.Body.Close()
			return 0, r.s.fail("read", r.info.Key, fmt.Errorf("asked for bytes %d-%d, got Content-Range %q", r.off, end-1, aws.ToString(out.ContentRange)))
		}
		r.body, r.bodyOff, r.bodyEnd, r.next = out.Body, r.off, end, end
		r.window = min(2*r.window, maxWindow)
	}
	if left := r.bodyEnd - r.bodyOff; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := r.body.Read(p)
	r.off += int64(n)
	r.bodyOff += int64(n)
	switch {
	case r.bodyOff == r.bodyEnd:
		r.releaseBody()
	case err == io.EOF:
		r.closeBody()
		return n, r.s.fail("read", r.info.Key, io.ErrUnexpectedEOF)
	case err != nil:
		r.closeBody()
		return n, r.s.fail("read", r.info.Key, err)
	}
	return n, nil
}

func (r *rangeReader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.info.Size
	default:
		return 0, fmt.Errorf("blob: seek %s: invalid whence %d", r.info.Key, whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("blob: seek %s: negative position %d", r.info.Key, offset)
	}
	r.off = offset
	return offset, nil
}

func (r *rangeReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.releaseBody()
	return nil
}

// releaseBody closes the window's body, first reading what is left of it
// when that is little, so that its connection can serve the next request.
func (r *rangeReader) releaseBody() {
	if r.body == nil {
		return
	}
	if r.bodyEnd-r.bodyOff <= drainMax {
		// One more read past the window's last byte sees the body's end.
		_, _ = io.CopyN(io.Discard, r.body, drainMax+1)
	}
	r.closeBody()
}

func (r *rangeReader) closeBody() {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}

// Delete removes the object at key; S3 answers a missing one as a success.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := s.validKey(key); err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)}); err != nil && !isNotFound(err) {
		return s.fail("delete", key, err)
	}
	return nil
}

// DeletePrefix aborts the multipart uploads under prefix, whose parts are
// no object but are stored (and billed) all the same, then deletes the
// objects a listed page (at most 1,000 keys, DeleteObjects' limit) at a
// time.
func (s *S3) DeletePrefix(ctx context.Context, prefix string) error {
	if err := deletablePrefix(prefix); err != nil {
		return err
	}
	if _, err := s.abortUploads(ctx, "delete", prefix, time.Time{}); err != nil {
		return err
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.fail("delete", prefix, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return s.fail("delete", prefix, err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			return fmt.Errorf("blob: delete %s: %d objects not deleted, first %s: %s %s",
				prefix, len(out.Errors), strings.TrimPrefix(aws.ToString(e.Key), s.prefix), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return nil
}

// AbortStaleUploads aborts the multipart uploads under prefix begun before
// olderThan: those of a Put whose process died before it could abort them.
func (s *S3) AbortStaleUploads(ctx context.Context, prefix string, olderThan time.Time) (int, error) {
	if err := deletablePrefix(prefix); err != nil {
		return 0, err
	}
	if olderThan.IsZero() {
		return 0, fmt.Errorf("blob: abort uploads under %s: no age given", prefix)
	}
	return s.abortUploads(ctx, "abort uploads under", prefix, olderThan)
}

// uploadsPage is how many multipart uploads one listing asks for (S3's
// most); tests lower it to see the pages followed.
var uploadsPage int32 = 1000

// abortUploads aborts the multipart uploads under prefix begun before
// olderThan, or all of them when it is zero, and returns how many.
//
// The listing pages on the key marker alone: versitygw refuses every
// upload-id-marker, and a key marker skips the uploads of the marker's key
// left for the next page. So a page whose uploads were all aborted is
// followed by the same listing again (they are gone from it), and after a
// page that kept some, the listing resumes after the page's last key but
// one, so that the last key's uploads are all seen.
func (s *S3) abortUploads(ctx context.Context, op, prefix string, olderThan time.Time) (int, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix), MaxUploads: aws.Int32(uploadsPage)}
	n := 0
	var lastFirst string
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return n, s.fail(op, prefix, err)
		}
		kept := 0
		for _, u := range page.Uploads {
			// An upload of unknown age may be running: only its age says not.
			if !olderThan.IsZero() && (u.Initiated == nil || !u.Initiated.Before(olderThan)) {
				kept++
				continue
			}
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: u.Key, UploadId: u.UploadId})
			if err != nil && !isCode(err, "NoSuchUpload") {
				return n, s.fail(op, prefix, err)
			}
			n++
		}
		if !aws.ToBool(page.IsTruncated) || len(page.Uploads) == 0 {
			return n, nil
		}
		stuck := fmt.Errorf("blob: %s %s: the listing of multipart uploads does not advance past %q", op, prefix, aws.ToString(in.KeyMarker))
		if kept == 0 {
			first := aws.ToString(page.Uploads[0].UploadId)
			if first == lastFirst {
				return n, stuck
			}
			lastFirst = first
			continue
		}
		lastFirst = ""
		last := aws.ToString(page.Uploads[len(page.Uploads)-1].Key)
		marker := last // when the page holds uploads of one key only
		for i := len(page.Uploads) - 2; i >= 0; i-- {
			if k := aws.ToString(page.Uploads[i].Key); k != last {
				marker = k
				break
			}
		}
		if in.KeyMarker != nil && marker <= *in.KeyMarker {
			return n, stuck
		}
		in.KeyMarker = aws.String(marker)
	}
}

// List reads every page of the listing under prefix. Keys that are not
// valid store keys (written by other tools) are not objects of the store.
func (s *S3) List(ctx context.Context, prefix string) ([]Info, error) {
	if _, err := validPrefix(prefix); err != nil {
		return nil, err
	}
	var out []Info
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.fail("list", prefix, err)
		}
		for _, o := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
			if !ok || ValidKey(key) != nil {
				continue
			}
			out = append(out, Info{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified), ETag: quoteETag(o.ETag)})
		}
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// maxPresign is SigV4's limit on a presigned URL's lifetime.
const maxPresign = 7 * 24 * time.Hour

// GetURL presigns a GET of the object at key valid for ttl (whole seconds,
// at least one). Nothing is checked on the server: the URL of a missing
// object answers 404.
func (s *S3) GetURL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := s.validKey(key); err != nil {
		return "", err
	}
	if ttl < time.Second || ttl > maxPresign {
		return "", fmt.Errorf("blob: presign %s: lifetime %v outside [1s, %v]", key, ttl, maxPresign)
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("blob: presign %s: %w", key, err)
	}
	return req.URL, nil
}

// fail describes err, an S3 failure about key: a missing object satisfies
// errors.Is(err, fs.ErrNotExist), an unreachable store is Unavailable.
func (s *S3) fail(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("blob: %s %s: %w (%w)", op, key, fs.ErrNotExist, err)
	}
	return fmt.Errorf("blob: %s %s: %w", op, key, s.wrap(err))
}

func (s *S3) wrap(err error) error { return S3Error(err) }

// S3Error classifies err, returned by an S3 client anywhere in reel (the
// blob store, the tus upload area): an unreachable or overloaded store
// becomes *Unavailable (503 to clients), anything else is returned as is.
func S3Error(err error) error {
	if err != nil && outage(err) {
		if _, ok := errors.AsType[*Unavailable](err); !ok {
			return &Unavailable{Err: err}
		}
	}
	return err
}

// IsS3Code reports whether err is an S3 error with one of codes
// ("NoSuchKey", "NoSuchUpload", ...).
func IsS3Code(err error, codes ...string) bool {
	for _, c := range codes {
		if isCode(err, c) {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool {
	return isCode(err, "NoSuchKey") || isCode(err, "NotFound")
}

func isCode(err error, code string) bool {
	var e smithy.APIError
	return errors.As(err, &e) && e.ErrorCode() == code
}

func httpStatus(err error) int {
	var e interface{ HTTPStatusCode() int }
	if errors.As(err, &e) {
		return e.HTTPStatusCode()
	}
	return 0
}

// Unavailable wraps the error of an object store that cannot serve for now:
// unreachable, timing out, failing (5xx) or throttling. The HTTP layer
// answers it 503 (see the classifier below) rather than 500: asking again
// later can work, and nothing is wrong with the request.
type Unavailable struct{ Err error }

func (e *Unavailable) Error() string { return "object store unavailable: " + e.Err.Error() }
func (e *Unavailable) Unwrap() error { return e.Err }

func init() {
	reel.RegisterClassifier(func(err error) *reel.Error {
		if _, ok := errors.AsType[*Unavailable](err); ok {
			return reel.Errorf(reel.EUNAVAILABLE, "the object store is unavailable; try again shortly")
		}
		return nil
	})
}

// outage says whether err, returned by the S3 client, means the server
// cannot answer for now. The caller's own cancellation or deadline is not
// the server's doing.
func outage(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if code := httpStatus(err); code >= 500 {
		return true
	}
	if isCode(err, "SlowDown") || isCode(err, "RequestTimeout") || isCode(err, "ServiceUnavailable") {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// validKey is ValidKey leaving room for the prefix: S3 limits the whole key
// to MaxKeyLen bytes.
func (s *S3) validKey(key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if len(s.prefix)+len(key) > MaxKeyLen {
		return keyError(key, fmt.Sprintf("longer than %d bytes under the prefix %q", MaxKeyLen-len(s.prefix), s.prefix))
	}
	return nil
}
