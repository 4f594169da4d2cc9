// Package upload receives video files: multipart/form-data streamed to disk
// as it arrives, and resumable uploads with the tus 1.0 protocol (tusd).
// Neither ever holds a file in memory.
package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/reel-video/reel"
)

// Form describes the multipart form a route accepts.
type Form struct {
	FileField string   // the part that carries the video ("file")
	Fields    []string // the text parts accepted beside it
	// BeforeFile, when set, runs as the file part begins, with the text
	// fields received before it; an error refuses the upload before a byte
	// of the file is stored (a bad token sent ahead of the file).
	BeforeFile func(values map[string]string) error
}

// Received is a multipart upload stored in a local file.
type Received struct {
	Path     string // the caller moves or removes it
	Size     int64
	SHA256   string // hex
	Filename string
	Values   map[string]string
}

// Limits of a multipart form besides the file itself.
const (
	maxFieldBytes = 64 << 10
	maxParts      = 16
	// MaxPartHeaderBytes bounds the head of each part (and what precedes the
	// first boundary): mime/multipart alone would read up to 10 MiB of it
	// into memory.
	MaxPartHeaderBytes = 8 << 10
)

// Receive streams the form of r into a new file in dir, counting and hashing
// on the way, and collects the text fields, which may come before or after
// the file. Over maxBytes it stops reading at once and answers ETOOLARGE. On
// any error (a client that disconnects midway, a bad form) the partial file
// is removed: nothing is left behind.
func Receive(r *http.Request, form Form, dir string, maxBytes int64) (rec *Received, err error) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" || r.Body == nil {
		return nil, reel.Errorf(reel.EUNSUPPORTED, "send the video as multipart/form-data with a %q part", form.FileField)
	}
	body := &headBudget{r: r.Body, left: -1}
	mr := multipart.NewReader(body, params["boundary"])
	rec = &Received{Values: map[string]string{}}
	defer func() {
		if err != nil && rec.Path != "" {
			os.Remove(rec.Path)
		}
	}()
	for parts := 0; ; parts++ {
		body.limit(MaxPartHeaderBytes + lookahead)
		part, err := mr.NextPart()
		exhausted := body.exhausted()
		body.limit(-1)
		if err == io.EOF {
			break
		}
		if err != nil {
			if exhausted {
				// The cap can cut a header line anywhere, and textproto then
				// reports the piece it got as malformed: the head was too long.
				err = errPartHeadTooLarge
			}
			return rec, formError(r, err)
		}
		if parts == maxParts {
			return rec, reel.Errorf(reel.EBADREQUEST, "too many form parts (at most %d)", maxParts)
		}
		name := part.FormName()
		switch {
		case name == form.FileField:
			if rec.Path != "" {
				return rec, reel.Errorf(reel.EBADREQUEST, "send one %q part, not several", form.FileField)
			}
			if form.BeforeFile != nil {
				if err := form.BeforeFile(rec.Values); err != nil {
					return rec, err
				}
			}
			if err := receiveFile(r, part, dir, maxBytes, rec); err != nil {
				return rec, err
			}
		case slices.Contains(form.Fields, name):
			value, err := readField(r, part, name)
			if err != nil {
				return rec, err
			}
			rec.Values[name] = value
		default:
			return rec, reel.Errorf(reel.EBADREQUEST, "unknown form field %q (accepted: %s, %s)", name, form.FileField, strings.Join(form.Fields, ", "))
		}
	}
	if rec.Path == "" {
		return rec, reel.Invalid(map[string]string{form.FileField: "required: the video file"})
	}
	if rec.Size == 0 {
		return rec, reel.Errorf(reel.EUNSUPPORTED, "the file is empty")
	}
	return rec, nil
}

func receiveFile(r *http.Request, part *multipart.Part, dir string, maxBytes int64, rec *Received) error {
	f, err := os.CreateTemp(dir, "multipart-*")
	if err != nil {
		if IsNoSpace(err) {
			return ErrNoSpace()
		}
		return fmt.Errorf("store upload: %w", err)
	}
	rec.Path = f.Name()
	rec.Filename = part.FileName()
	h := sha256.New()
	// One byte more than allowed tells "exactly the limit" from "over it".
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(part, maxBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return formError(r, err)
	}
	if n > maxBytes {
		return reel.Errorf(reel.ETOOLARGE, "the video exceeds the %d-byte limit", maxBytes)
	}
	rec.Size, rec.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	return nil
}

func readField(r *http.Request, part *multipart.Part, name string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
	if err != nil {
		return "", formError(r, err)
	}
	if len(b) > maxFieldBytes {
		return "", reel.Errorf(reel.ETOOLARGE, "form field %q exceeds %d bytes", name, maxFieldBytes)
	}
	if !utf8.Valid(b) {
		return "", reel.Invalid(map[string]string{name: "must be valid UTF-8"})
	}
	return string(b), nil
}

// formError turns a failure to read the body of r into a client error: a
// truncated or malformed form, the body limit, or a read deadline; or into
// the client's going away.
func formError(r *http.Request, err error) error {
	var tooLarge *http.MaxBytesError
	var badHeader textproto.ProtocolError
	switch {
	case IsNoSpace(err):
		return ErrNoSpace()
	case errors.Is(err, errPartHeadTooLarge):
		return reel.Errorf(reel.ETOOLARGE, "a form part's headers exceed %d bytes", MaxPartHeaderBytes)
	case errors.As(err, &tooLarge):
		return reel.Errorf(reel.ETOOLARGE, "the request body exceeds %d bytes", tooLarge.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return reel.Errorf(reel.EBADREQUEST, "the upload stalled: no data within the time allowed")
	case errors.Is(r.Context().Err(), context.Canceled):
		// net/http cancels the request's context as soon as a read from the
		// connection fails (the client closed it, or reset an HTTP/2
		// stream), while the body only says it ended early. The error is not
		// a *reel.Error, so httperr.ClientGone sees the cancelled context:
		// 499, logged at debug.
		return fmt.Errorf("the client went away during the upload: %w", err)
	case errors.As(err, &badHeader):
		return reel.Errorf(reel.EBADREQUEST, "malformed header in a form part: each line must be \"Name: value\"")
	case errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "multipart"):
		return reel.Errorf(reel.EBADREQUEST, "malformed or truncated multipart body")
	}
	return err
}

// lookahead is what mime/multipart's buffered reader may read beyond a
// part's head while looking for its end.
const lookahead = 4 << 10

var errPartHeadTooLarge = errors.New("part header too large")

// headBudget counts the bytes read from the body while a part's head is
// parsed, and fails the read once there are more than the head may take.
type headBudget struct {
	r    io.Reader
	left int64 // -1: not counting
}

func (h *headBudget) limit(n int64) { h.left = n }

// exhausted reports whether the head read so far used the whole budget.
func (h *headBudget) exhausted() bool { return h.left == 0 }

func (h *headBudget) Read(p []byte) (int, error) {
	if h.left < 0 {
		return h.r.Read(p)
	}
	if h.left == 0 {
		return 0, errPartHeadTooLarge
	}
	if int64(len(p)) > h.left {
		p = p[:h.left]
	}
	n, err := h.r.Read(p)
	h.left -= int64(n)
	return n, err
}

// ErrNoSpace is the 507 of an upload that does not fit on this node.
func ErrNoSpace() error {
	return reel.Errorf(reel.ESTORAGE, "the server has no room for this upload right now; try again later")
}

// IsNoSpace reports whether err is a file system running out of space (or
// quota): the client gets 507 and the node goes on serving.
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
