package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/clientaddr"
)

// handleView counts a view: once per viewer (the user, or without one the
// client as clientaddr.Key names it, as every per-address rule does, so an
// IPv6 host cannot count a view per address of its /64) per video per
// hour, aggregated in memory.
func (s *server) handleView() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "video")
		if err != nil {
			writeError(c, err)
			return
		}
		viewer := viewerID(c)
		if _, err := s.Videos.FindVideoByID(c.Request.Context(), id, viewer); err != nil {
			writeError(c, err)
			return
		}
		key := "a:" + clientaddr.Key(c.ClientIP())
		if viewer != 0 {
			key = "u:" + strconv.FormatInt(viewer, 10)
		}
		s.Views.Record(id, key)
		c.Status(http.StatusNoContent)
	}
}

// handleProgress stores where the viewer stopped, returned later as
// resume_position_ms.
func (s *server) handleProgress() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "video")
		if err != nil {
			writeError(c, err)
			return
		}
		var req struct {
			PositionMS *int64 `json:"position_ms"`
		}
		if err := decodeJSON(c, &req); err != nil {
			writeError(c, err)
			return
		}
		ctx := c.Request.Context()
		v, err := s.Videos.FindVideoByID(ctx, id, viewerID(c))
		if err != nil {
			writeError(c, err)
			return
		}
		switch {
		case req.PositionMS == nil:
			err = reel.Invalid(map[string]string{"position_ms": "required"})
		case *req.PositionMS < 0 || (v.DurationMS > 0 && *req.PositionMS > v.DurationMS):
			err = reel.Invalid(map[string]string{"position_ms": "must be from 0 to the video's duration_ms (" + strconv.FormatInt(v.DurationMS, 10) + ")"})
		}
		if err == nil {
			err = s.Playback.SaveProgress(ctx, viewerID(c), id, *req.PositionMS)
		}
		if err != nil {
			writeError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// handleBlock blocks (or unblocks) a video. The store records it as a media
// revocation: this node applies it at once, the others within their
// refresh interval (playback.Revocations).
func (s *server) handleBlock(blocked bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "video")
		if err != nil {
			writeError(c, err)
			return
		}
		if err := s.Playback.SetBlocked(c.Request.Context(), id, blocked); err != nil {
			writeError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// handleBlockedVideos lists the blocked videos for an administrator, so
// that they can find and unblock them: no other list shows them.
func (s *server) handleBlockedVideos() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := pageOf(c)
		if err != nil {
			writeError(c, err)
			return
		}
		videos, next, err := s.Playback.ListBlockedVideos(c.Request.Context(), viewerID(c), p.Cursor, p.Limit)
		s.videoList(c, videos, next, err)
	}
}

// requireAdmin answers 403 unless the signed-in user is an administrator
// (made on the server with reel user promote; no HTTP path grants it).
func (s *server) requireAdmin() gin.HandlerFunc {
	return func(c *gin.Context) {
		u, err := s.Users.FindUserByID(c.Request.Context(), viewerID(c), viewerID(c))
		if err != nil {
			writeError(c, err)
			c.Abort()
			return
		}
		if !u.IsAdmin {
			writeError(c, reel.Errorf(reel.EFORBIDDEN, "administrators only"))
			c.Abort()
			return
		}
		c.Next()
	}
}
