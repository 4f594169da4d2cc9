// Package upload receives video files: multipart/form-data streamed to disk
// as it arrives, and resumable uploads with the tus 1.0 protocol (tusd).
// Neither ever holds a file in memory.
package upload

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/reel-video/reel"
)

// Form describes the multipart form a route accepts.
type Form struct {
	FileField string   // the part that carries the video ("file")
	Fields    []string // the text parts accepted beside it
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
)

// Receive streams the form of r into a new file in dir, counting and hashing
// on the way, and collects the text fields, which may come before or after
// the file. Over maxBytes it stops reading at once and answers ETOOLARGE. On
// any error (a client that disconnects midway, a bad form) the partial file
// is removed: nothing is left behind.
func Receive(r *http.Request, form Form, dir string, maxBytes int64) (rec *Received, err error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, reel.Errorf(reel.EUNSUPPORTED, "send the video as multipart/form-data with a %q part", form.FileField)
	}
	rec = &Received{Values: map[string]string{}}
	defer func() {
		if err != nil && rec.Path != "" {
			os.Remove(rec.Path)
		}
	}()
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rec, formError(err)
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
			if err := receiveFile(part, dir, maxBytes, rec); err != nil {
				return rec, err
			}
		case slices.Contains(form.Fields, name):
			value, err := readField(part, name)
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

func receiveFile(part *multipart.Part, dir string, maxBytes int64, rec *Received) error {
	f, err := os.CreateTemp(dir, "multipart-*")
	if err != nil {
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
		return formError(err)
	}
	if n > maxBytes {
		return reel.Errorf(reel.ETOOLARGE, "the video exceeds the %d-byte limit", maxBytes)
	}
	rec.Size, rec.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	return nil
}

func readField(part *multipart.Part, name string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
	if err != nil {
		return "", formError(err)
	}
	if len(b) > maxFieldBytes {
		return "", reel.Errorf(reel.ETOOLARGE, "form field %q exceeds %d bytes", name, maxFieldBytes)
	}
	if !utf8.Valid(b) {
		return "", reel.Invalid(map[string]string{name: "must be valid UTF-8"})
	}
	return string(b), nil
}

// formError turns a failure to read the body into a client error: a
// truncated or malformed form, the body limit, or a read deadline.
func formError(err error) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return reel.Errorf(reel.ETOOLARGE, "the request body exceeds %d bytes", tooLarge.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return reel.Errorf(reel.EBADREQUEST, "the upload stalled: no data within the time allowed")
	case errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "multipart"):
		return reel.Errorf(reel.EBADREQUEST, "malformed or truncated multipart body")
	}
	return err
}
