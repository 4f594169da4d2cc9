package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/publish"
	"github.com/reel-video/reel/internal/upload"
)

// uploadForm is the multipart form of POST /api/v1/videos.
var uploadForm = upload.Form{FileField: "file", Fields: []string{"title", "description", "visibility"}}

// handleUploadVideo receives a video as a multipart stream, checks with
// ffprobe that it is one, and answers 202 while it is processed. The token
// was checked by requireUser before any of the body was read; the upload is
// admitted (size, queue, quota, disk) before the body is
// (publish.Publisher.Receive), and publish.Publish decides the rest.
func (s *server) handleUploadVideo() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		rec, err := s.Publisher.Receive(c.Writer, c.Request, viewerID(c), uploadForm, s.IncomingDir, s.MaxUploadBytes)
		if rec != nil && rec.Path != "" {
			defer os.Remove(rec.Path) // moved away on success
		}
		if err != nil {
			writeError(c, err)
			return
		}
		v, err := s.Publisher.Publish(ctx, viewerID(c), rec, publish.Options{
			Title: rec.Values["title"], Description: rec.Values["description"], Visibility: rec.Values["visibility"],
		})
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusAccepted, s.present(c, v))
	}
}

func (s *server) handleGetVideo() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "video")
		if err != nil {
			writeError(c, err)
			return
		}
		v, err := s.Videos.FindVideoByID(c.Request.Context(), id, viewerID(c))
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, s.present(c, v))
	}
}

func (s *server) handleUpdateVideo() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "video")
		if err != nil {
			writeError(c, err)
			return
		}
		var upd reel.VideoUpdate
		if err := decodeJSON(c, &upd); err != nil {
			writeError(c, err)
			return
		}
		v, err := s.Videos.UpdateVideo(c.Request.Context(), id, viewerID(c), upd)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, s.present(c, v))
	}
}

func (s *server) handleDeleteVideo() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "video")
		if err != nil {
			writeError(c, err)
			return
		}
		if err := s.Videos.DeleteVideo(c.Request.Context(), id, viewerID(c)); err != nil {
			writeError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

func (s *server) handleUserVideos() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "user")
		if err != nil {
			writeError(c, err)
			return
		}
		limit, err := pageLimit(c)
		if err != nil {
			writeError(c, err)
			return
		}
		videos, next, err := s.Videos.ListUserVideos(c.Request.Context(), id, viewerID(c), c.Query("cursor"), limit)
		s.videoList(c, videos, next, err)
	}
}

// pageLimit reads ?limit=1..50, 20 when absent.
func pageLimit(c *gin.Context) (int, error) {
	raw := c.Query("limit")
	if raw == "" {
		return 20, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 50 {
		return 0, reel.Errorf(reel.EBADREQUEST, "limit must be a whole number from 1 to 50")
	}
	return n, nil
}

// handleVideoEvents streams a video's status and progress as Server-Sent
// Events until it is ready or failed. It polls the database, so it sees the
// work of a worker on any node; one poll a second per watcher is cheap next
// to a transcode.
func (s *server) handleVideoEvents() gin.HandlerFunc {
	const poll = time.Second
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "video")
		if err != nil {
			writeError(c, err)
			return
		}
		ctx := c.Request.Context()
		viewer := viewerID(c)
		v, err := s.Videos.FindVideoByID(ctx, id, viewer)
		if err != nil {
			writeError(c, err)
			return
		}
		write := openEventStream(c)
		send := func(event, data string) bool {
			return write("event: %s\ndata: %s\n\n", event, data)
		}
		last := ""
		ticker := time.NewTicker(poll)
		defer ticker.Stop()
		lastSent, deadline := time.Now(), time.Now().Add(eventsMaxStream)
		for {
			// HLSKey: the early master appears while the video processes.
			state := fmt.Sprintf("%s/%d/%s/%s/%s", v.Status, v.Progress, v.Error, v.PlayKey, v.HLSKey)
			if state != last {
				b, _ := json.Marshal(s.present(c, v))
				if !send("status", string(b)) {
					return
				}
				last, lastSent = state, time.Now()
			}
			if v.Status == reel.StatusReady || v.Status == reel.StatusFailed || time.Now().After(deadline) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			if time.Since(lastSent) > eventsHeartbeat {
				if !write(": keep-alive\n\n") {
					return
				}
				lastSent = time.Now()
			}
			next, err := s.Videos.FindVideoByID(ctx, id, viewer)
			switch {
			case reel.ErrorCode(err) == reel.ENOTFOUND:
				// Deleted (or made private) while watched: say so and end.
				send("deleted", fmt.Sprintf(`{"id":%d}`, id))
				return
			case err != nil:
				// A passing store failure (a busy or restarting database)
				// is no reason to end the watch: the next poll tries again,
				// and the keep-alives tell the client the stream lives.
				continue
			}
			v = next
		}
	}
}
