// Package blob stores the bytes of reel (originals, HLS outputs, MP4s,
// covers) under slash-separated keys such as "videos/42/hls/720p/seg_00001.m4s".
//
// Store is small on purpose so that an S3-compatible implementation can
// replace Disk without changing callers: nothing in it names a file. Disk
// still hands out the *os.File it opened (Object.File) because serving media
// with http.ServeContent over an *os.File lets the kernel copy with sendfile.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Store keeps objects under keys. Writes are atomic: a reader sees the old
// object or the complete new one, never a part, and a failed write leaves
// nothing behind. Methods that look an object up report a missing one with an
// error satisfying errors.Is(err, fs.ErrNotExist).
type Store interface {
	// Put streams r into the object at key, replacing any previous one, and
	// returns the number of bytes stored.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// PutFile moves the finished local file at localPath into the object at
	// key; on success localPath no longer exists. Work that produces files
	// (ffmpeg) writes them locally first and hands them over with PutFile.
	PutFile(ctx context.Context, key, localPath string) error
	// Open returns the object for reading; the caller closes it.
	Open(ctx context.Context, key string) (*Object, error)
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object at key; a missing object is not an error, so
	// cleanups can be retried.
	Delete(ctx context.Context, key string) error
	// DeletePrefix removes every object whose key starts with prefix, which
	// must end with "/" ("videos/42/"), so that "videos/4/" can never take
	// "videos/42/" with it.
	DeletePrefix(ctx context.Context, prefix string) error
	// List returns the objects under prefix ("" for all, else ending with
	// "/"), sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
}

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	// ETag is a strong entity tag of this version of the object, quoted as
	// in HTTP: the store's own on S3, derived from size and time on disk.
	// List may leave it empty.
	ETag string
}

// Presigner is the capability of a store whose objects clients can fetch
// without reel: GetURL returns a URL that answers GET (with Range) for the
// object at key until ttl has passed. Only remote stores have it.
type Presigner interface {
	GetURL(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// Sweeper is the capability of a store in which an interrupted write leaves
// something behind that is no object, so that neither List nor
// DeletePrefix's callers see it: S3's incomplete multipart uploads, stored
// and billed until aborted, which a process killed in the middle of a large
// Put leaves. AbortStaleUploads removes those under prefix begun before
// olderThan (a time no write still running can be older than) and returns
// how many. DeletePrefix removes them too, whatever their age.
type Sweeper interface {
	AbortStaleUploads(ctx context.Context, prefix string, olderThan time.Time) (int, error)
}

// SpanOpener is the capability of a store whose Open costs a round trip
// before any byte is read (S3's, which looks the object up first):
// OpenSpan opens the object with the read of span already requested, so
// that serving a range, or a whole segment, is one request to the store.
// The object is as Open returns it (Info, Seek, reads anywhere); its reader
// is positioned at the span's first byte, and reads past the span fetch
// more as they would after Open. A span the object cannot satisfy (it
// starts past the end) is no error: the object is opened as Open does.
type SpanOpener interface {
	OpenSpan(ctx context.Context, key string, span Span) (*Object, error)
}

// Span is the bytes of an object a reader reads first, named as an HTTP
// range names them, without knowing the object's size.
type Span struct {
	// Start is the first byte; a negative Start means the last -Start
	// bytes of the object (and End is ignored).
	Start int64
	// End is one past the last byte read; ToEnd for the object's end, or
	// 0 (anything not past Start) when the caller does not know where it
	// stops reading: the reader then fetches a little, and more as reads
	// go on.
	End int64
}

// ToEnd as a Span's End: the reads go to the object's end.
const ToEnd = math.MaxInt64

// Limit is where the reads of s stop in an object of size bytes
// (exclusive), or 0 when that is not known.
func (s Span) Limit(size int64) int64 {
	switch {
	case s.Start < 0 || s.End == ToEnd:
		return size
	case s.End > s.Start:
		return min(s.End, size)
	}
	return 0
}

// rangeHeader is the HTTP Range that asks for s ("" for a whole object);
// a span with no known end asks for window bytes.
func (s Span) rangeHeader(window int64) string {
	from := strconv.FormatInt(s.Start, 10)
	switch {
	case s.Start < 0:
		return "bytes=" + from // "-N", the last N bytes
	case s.Start == 0 && s.End == ToEnd:
		return ""
	case s.End == ToEnd || s.End <= s.Start && s.Start > ToEnd-window:
		return "bytes=" + from + "-"
	case s.End > s.Start:
		return "bytes=" + from + "-" + strconv.FormatInt(s.End-1, 10)
	}
	return "bytes=" + from + "-" + strconv.FormatInt(s.Start+window-1, 10)
}

// ReadLimiter is the capability of an object's reader (Object's
// ReadSeekCloser) that fetches the bytes from elsewhere as they are read:
// the S3 store's. It cannot know how far a caller will read, so it fetches
// a little at a time; LimitReads tells it that the reads from the current
// offset go up to end (exclusive) and no further, as a single HTTP range
// does, so that it fetches that much at once and nothing past it. It is a
// hint, not a bound: reads past end still work, fetched a little at a time
// again. Call it before the reads it is about (Seek keeps it).
type ReadLimiter interface {
	LimitReads(end int64)
}

// contentTypes are the types of the objects reel stores, by extension.
var contentTypes = map[string]string{
	".m3u8": "application/vnd.apple.mpegurl",
	".m4s":  "video/iso.segment",
	".mp4":  "video/mp4",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".webp": "image/webp",
	".webm": "video/webm",
	".mpd":  "application/dash+xml",
	".vtt":  "text/vtt; charset=utf-8",
}

// ReadSmall reads the whole object at key, which must be at most max bytes
// (a manifest, a playlist): larger is an error, so a file that should be
// small never costs more memory than max.
func ReadSmall(ctx context.Context, s Store, key string, max int) ([]byte, error) {
	obj, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	b, err := io.ReadAll(io.LimitReader(obj, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if len(b) > max {
		return nil, fmt.Errorf("read %s: larger than %d bytes", key, max)
	}
	return b, nil
}

// ContentType is the type of key by its extension, for the store that
// records it with the object and the handler that serves it. Nothing is
// ever sniffed: uploads are the users' bytes, and a file ffprobe accepts as
// video can begin with an HTML page that sniffing would serve as text/html
// on this origin. Originals carry the extension of the container ffprobe
// found.
func ContentType(key string) string {
	if ct, ok := contentTypes[strings.ToLower(path.Ext(key))]; ok {
		return ct
	}
	return "application/octet-stream"
}

// Object is an open object. Read, Seek and Close come from the embedded
// ReadSeekCloser. File is the same stream as an *os.File when the store keeps
// objects on local disk, and nil otherwise: callers that can use a real file
// (sendfile, ffmpeg) check it, everyone else ignores it.
type Object struct {
	Info
	io.ReadSeekCloser
	File *os.File
}

// Limits on keys. They match what S3 accepts and what file systems allow for
// a single name.
const (
	MaxKeyLen     = 1024
	MaxSegmentLen = 255
)

// tempPrefix marks files that are being written. Keys may not use it, so a
// temporary file can never be mistaken for an object.
const tempPrefix = ".tmp-"

// ErrInvalidKey is wrapped by every error about a malformed key or prefix.
var ErrInvalidKey = errors.New("invalid blob key")

// ValidKey reports why key cannot name an object, or nil when it can. The
// rules keep every key a plain relative path that stays inside the store on
// any file system: no way up (".."), no way out (absolute paths,
// backslashes), no names a shell or a log would mangle (controls, NUL).
func ValidKey(key string) error {
	if reason := keyProblem(key); reason != "" {
		return keyError(key, reason)
	}
	return nil
}

func keyProblem(key string) string {
	switch {
	case key == "":
		return "empty"
	case len(key) > MaxKeyLen:
		return fmt.Sprintf("longer than %d bytes", MaxKeyLen)
	case !utf8.ValidString(key):
		return "not valid UTF-8"
	case key[0] == '/':
		return "absolute (starts with /)"
	case strings.HasSuffix(key, "/"):
		return "ends with /"
	}
	for _, c := range key {
		switch {
		case c == 0:
			return "contains a NUL byte"
		case c == '\\':
			return "contains a backslash"
		case unicode.IsControl(c):
			return "contains a control character"
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return "contains an empty segment (//)"
		case seg == "." || seg == "..":
			return "contains a . or .. segment"
		case len(seg) > MaxSegmentLen:
			return fmt.Sprintf("has a segment longer than %d bytes", MaxSegmentLen)
		case strings.HasPrefix(seg, tempPrefix):
			return fmt.Sprintf("has a segment starting with %q, reserved for temporary files", tempPrefix)
		}
	}
	return ""
}

// validPrefix checks a List or DeletePrefix prefix: "" (everything) or a
// valid key followed by "/". It returns the prefix as a directory key.
func validPrefix(prefix string) (string, error) {
	if prefix == "" {
		return ".", nil
	}
	dir, ok := strings.CutSuffix(prefix, "/")
	if !ok {
		return "", keyError(prefix, "a prefix must end with /")
	}
	if reason := keyProblem(dir); reason != "" {
		return "", keyError(prefix, reason)
	}
	return dir, nil
}

// deletablePrefix checks a DeletePrefix prefix: a valid one, and never ""
// (everything), which no caller means.
func deletablePrefix(prefix string) error {
	dir, err := validPrefix(prefix)
	if err == nil && dir == "." {
		err = keyError(prefix, "refusing to delete the whole store")
	}
	return err
}

func keyError(key, reason string) error {
	const show = 80
	if len(key) > show {
		key = key[:show] + "..."
	}
	return fmt.Errorf("blob: %w %q: %s", ErrInvalidKey, key, reason)
}
