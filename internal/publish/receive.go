package publish

import (
	"net/http"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/upload"
)

// FormOverhead is what multipart framing and the text fields may add to
// the file itself in a declared Content-Length.
const FormOverhead = 1 << 20

// Receive takes the multipart upload of r for a route that publishes it
// (/api/v1/videos, the Douyin publish action), with the checks every such
// route makes before and while the body is read: a declared size beyond
// maxBytes (plus FormOverhead) is 413 before a byte is read, the upload is
// admitted (queue, quota, disk) for userID (0 while the sender is unknown),
// and the form is streamed into dir (upload.Receive), which removes a
// partial file whatever fails.
//
// Whenever it refuses, the rest of the body is not wanted: the answer
// carries Connection: close, so the client stops sending and the
// connection is not kept for a body nobody reads. Refusals for lack of
// capacity carry their Retry-After in the error (Busy), which the one
// error writer sends.
func (p *Publisher) Receive(w http.ResponseWriter, r *http.Request, userID int64, form upload.Form, dir string, maxBytes int64) (*upload.Received, error) {
	rec, err := p.receive(r, userID, form, dir, maxBytes)
	if err != nil {
		w.Header().Set("Connection", "close")
	}
	return rec, err
}

func (p *Publisher) receive(r *http.Request, userID int64, form upload.Form, dir string, maxBytes int64) (*upload.Received, error) {
	if r.ContentLength > maxBytes+FormOverhead {
		return nil, reel.Errorf(reel.ETOOLARGE, "the video exceeds the %d-byte limit", maxBytes)
	}
	if err := p.Admit(r.Context(), Request{UserID: userID, Size: r.ContentLength, Pending: -1, Job: true}); err != nil {
		return nil, err
	}
	return upload.Receive(r, form, dir, maxBytes)
}
