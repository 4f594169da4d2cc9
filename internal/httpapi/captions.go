package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/captions"
)

// handlePutCaption stores the raw body, WebVTT or SRT, as the captions of
// a language of the signed-in author's video (package captions), and
// answers 204: the video's JSON lists them with a signed URL.
func (s *server) handlePutCaption() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "video")
		if err == nil {
			err = captionBodyType(c.ContentType(), c.GetHeader("Content-Type"))
		}
		var body []byte
		if err == nil {
			body, err = readCaptionBody(c)
		}
		if err == nil {
			err = s.Captions.Put(c.Request.Context(), id, viewerID(c), c.Param("lang"), c.Query("label"), body)
		}
		if err != nil {
			writeError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// handleDeleteCaption removes a language's captions; 204 also when there
// were none, as every DELETE of the API that names a relation.
func (s *server) handleDeleteCaption() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "video")
		if err == nil {
			err = s.Captions.Delete(c.Request.Context(), id, viewerID(c), c.Param("lang"))
		}
		if err != nil {
			writeError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// captionBodyType refuses bodies that are certainly not a captions file:
// a form, or text declared in a charset other than UTF-8. The bytes decide
// the rest (curl --data-binary labels anything a form-urlencoded body).
func captionBodyType(ct, header string) error {
	if strings.HasPrefix(ct, "multipart/") {
		return reel.Errorf(reel.EUNSUPPORTED, "send the WebVTT or SRT file itself as the body (Content-Type: text/vtt or application/x-subrip), not %s", ct)
	}
	if _, params, err := mime.ParseMediaType(header); err == nil {
		if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
			return reel.Errorf(reel.EUNSUPPORTED, "captions must be UTF-8, not %s", cs)
		}
	}
	return nil
}

// readCaptionBody reads the body, at most captions.MaxBytes: a declared
// or actual larger one is 413 before more is read.
func readCaptionBody(c *gin.Context) ([]byte, error) {
	tooLarge := reel.Errorf(reel.ETOOLARGE, "captions file exceeds %d KiB", captions.MaxBytes>>10)
	if c.Request.ContentLength > captions.MaxBytes {
		return nil, tooLarge
	}
	b, err := io.ReadAll(io.LimitReader(c.Request.Body, captions.MaxBytes+1))
	var maxBytes *http.MaxBytesError
	switch {
	case errors.As(err, &maxBytes):
		return nil, tooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, reel.Errorf(reel.EBADREQUEST, "request body not received in time")
	case err != nil:
		return nil, err
	case len(b) > captions.MaxBytes:
		return nil, tooLarge
	case len(b) == 0:
		return nil, reel.Errorf(reel.EBADREQUEST, "request body is empty: send the WebVTT or SRT file")
	}
	return b, nil
}
