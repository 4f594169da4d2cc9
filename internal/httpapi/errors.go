package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/httperr"
)

// writeError answers err with the one error writer (package httperr): the
// JSON shape of docs/api.md, the status of its code, internals logged and hidden.
func writeError(c *gin.Context, err error) {
	httperr.Write(c.Writer, c.Request, err)
}

// decodeJSON reads exactly one JSON object into dst, strictly: unknown fields,
// wrong types, trailing data and multipart bodies are client errors that name
// what is wrong.
func decodeJSON(c *gin.Context, dst any) error {
	// The body decides, not the label: curl -d labels JSON as a form. Only a
	// multipart body is certainly something else.
	if ct := c.ContentType(); strings.HasPrefix(ct, "multipart/") {
		return reel.Errorf(reel.EUNSUPPORTED, "send a JSON object (Content-Type: application/json), not %s", ct)
	}
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	// Anything after the object, even a second valid one, is a client bug.
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err != nil && reel.ErrorCode(jsonError(err)) == reel.ETOOLARGE:
		return jsonError(err)
	default:
		return reel.Errorf(reel.EBADREQUEST, "request body must hold a single JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return reel.Errorf(reel.ETOOLARGE, "request body exceeds %d bytes", tooLarge.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return reel.Errorf(reel.EBADREQUEST, "request body not received in time")
	case errors.Is(err, io.EOF):
		return reel.Errorf(reel.EBADREQUEST, "request body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return reel.Errorf(reel.EBADREQUEST, "malformed JSON: unexpected end of body")
	case errors.As(err, &syntax):
		return reel.Errorf(reel.EBADREQUEST, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return reel.Errorf(reel.EBADREQUEST, "request body must be a JSON object, not %s", typ.Value)
		}
		return reel.Errorf(reel.EBADREQUEST, "field %q must be %s, not %s", typ.Field, typeName(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one.
		return reel.Errorf(reel.EBADREQUEST, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return reel.Errorf(reel.EBADREQUEST, "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func typeName(kind string) string {
	switch {
	case kind == "string":
		return "a string"
	case strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "uint") || strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "bool":
		return "true or false"
	}
	return fmt.Sprintf("of type %s", kind)
}

// pathID parses a positive id below 2^53 from the path parameter name.
func pathID(c *gin.Context, name, what string) (int64, error) {
	raw := c.Param(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 || id > reel.MaxID {
		return 0, reel.Errorf(reel.ENOTFOUND, "%s %q not found", what, raw)
	}
	return id, nil
}

func (s *server) notFound() gin.HandlerFunc {
	return func(c *gin.Context) {
		writeError(c, reel.Errorf(reel.ENOTFOUND, "no route for %s %s", c.Request.Method, c.Request.URL.Path))
	}
}

func (s *server) methodNotAllowed() gin.HandlerFunc {
	return func(c *gin.Context) {
		writeError(c, reel.Errorf(httperr.CodeMethodNotAllowed, "method %s is not allowed here (allowed: %s)",
			c.Request.Method, c.Writer.Header().Get("Allow")))
	}
}
