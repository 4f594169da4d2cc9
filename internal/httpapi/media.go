package httpapi

import (
	"context"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
)

// handleMedia serves /media/ through the playback handler with a writer
// that keeps io.ReaderFrom: Gin's own writer hides it, and without it
// http.ServeContent copies through a buffer instead of the kernel's sendfile.
func (s *server) handleMedia() gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.BindClientIP {
			// The signer binds to the address gin judged the client's (it
			// believes only trusted proxies), so verification must use it too.
			c.Request.RemoteAddr = net.JoinHostPort(c.ClientIP(), "0")
		}
		var w http.ResponseWriter = c.Writer
		if rf, ok := c.Writer.(interface{ Unwrap() http.ResponseWriter }).Unwrap().(io.ReaderFrom); ok {
			w = &sendfileWriter{ResponseWriter: c.Writer, gin: c.Writer, rf: rf}
		}
		s.Media.ServeHTTP(w, c.Request)
	}
}

type sendfileWriter struct {
	http.ResponseWriter
	gin gin.ResponseWriter
	rf  io.ReaderFrom
}

// ReadFrom writes the pending status and headers through Gin (so logs and
// metrics see the status), then hands the body to the connection.
func (w *sendfileWriter) ReadFrom(r io.Reader) (int64, error) {
	w.gin.WriteHeaderNow()
	return w.rf.ReadFrom(r)
}

// present makes v what the client of c may see: the size and hash of the
// original and whether it is blocked only for its owner and administrators,
// and the signed media URLs for this client. Every Video answer goes
// through it.
func (s *server) present(c *gin.Context, v *reel.Video) *reel.Video {
	if v.Renditions == nil {
		v.Renditions = []reel.Rendition{}
	}
	if v.Captions == nil {
		v.Captions = []reel.Caption{}
	}
	if s.seesOriginal(c, v) {
		blocked := v.Blocked
		v.ShownBlocked = &blocked
	} else {
		v.SizeBytes, v.SHA256, v.ShownBlocked = 0, "", nil // omitted from the JSON
	}
	if s.URLs != nil {
		s.URLs.Fill(v, s.baseURL(c), c.ClientIP(), false)
	}
	return v
}

// seesOriginal reports whether the viewer of c may see the size and hash of
// v's original and whether it is blocked: its owner or an administrator.
// Whether the viewer is an administrator is looked up once per request.
func (s *server) seesOriginal(c *gin.Context, v *reel.Video) bool {
	viewer := viewerID(c)
	if viewer == 0 {
		return false
	}
	if viewer == v.AuthorID {
		return true
	}
	if admin, ok := c.Get(viewerAdminKey); ok {
		return admin.(bool)
	}
	var admin bool
	if a, ok := s.Social.(adminReader); ok {
		// The cache keeps it with the viewer's flags, which the same
		// request has just read.
		is, err := a.IsAdmin(c.Request.Context(), viewer)
		admin = err == nil && is // on an error, show less
	} else {
		u, err := s.Users.FindUserByID(c.Request.Context(), viewer, viewer)
		admin = err == nil && u.IsAdmin
	}
	c.Set(viewerAdminKey, admin)
	return admin
}

// adminReader is a store that knows whether a user is an administrator
// without reading their profile (the cache).
type adminReader interface {
	IsAdmin(ctx context.Context, userID int64) (bool, error)
}

const viewerAdminKey = "reel.viewer_is_admin"
