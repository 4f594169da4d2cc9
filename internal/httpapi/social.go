package httpapi

import (
	"context"
	"time"

	"github.com/maypok86/otter/v2"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/cache"
)

// pageOf reads ?cursor= and ?limit= (1..50, default 20).
func pageOf(c *gin.Context) (reel.Page, error) {
	limit, err := pageLimit(c)
	return reel.Page{Cursor: c.Query("cursor"), Limit: limit}, err
}

// videoList answers a page of videos with their signed media URLs.
func (s *server) videoList(c *gin.Context, videos []*reel.Video, next string, err error) {
	if err != nil {
		writeError(c, err)
		return
	}
	s.writeVideos(c, videos, next)
}

// handleFeed answers the feed. The first page for anonymous viewers is the
// same bytes for all of them (media URLs are shared within their expiry
// window), so its encoded answer is kept for a second, and dropped at once
// when the feed's membership changes on this node.
func (s *server) handleFeed() gin.HandlerFunc {
	generation := func() uint64 { return 0 }
	if g, ok := s.Social.(cache.FeedVersioner); ok {
		generation = g.FeedGeneration
	}
	encoded := otter.Must(&otter.Options[anonFeedKey, []byte]{
		MaximumSize:      256,
		ExpiryCalculator: otter.ExpiryWriting[anonFeedKey, []byte](time.Second),
	})
	return func(c *gin.Context) {
		p, err := pageOf(c)
		if err != nil {
			writeError(c, err)
			return
		}
		if viewer, ok := s.Social.(feedViewer); ok && viewerID(c) != 0 && p.Cursor == "" && s.URLs != nil && !s.URLs.BindClient {
			s.viewerFeed(c, viewer, p)
			return
		}
		if viewerID(c) != 0 || p.Cursor != "" || s.BindClientIP {
			videos, next, err := s.Social.Feed(c.Request.Context(), viewerID(c), p)
			s.videoList(c, videos, next, err)
			return
		}
		key := anonFeedKey{limit: p.Limit, base: s.baseURL(c), generation: generation()}
		body, ok := encoded.GetIfPresent(key)
		if !ok {
			videos, next, err := s.Social.Feed(c.Request.Context(), 0, p)
			if err != nil {
				writeError(c, err)
				return
			}
			if body, err = s.encodeVideos(c, videos, next); err != nil {
				writeError(c, err)
				return
			}
			// A stale answer is made again each time: it must say how
			// stale it is, and give way as soon as the database is back.
			if !isStale(c) {
				encoded.Set(key, body)
			}
		}
		writeBody(c, body)
	}
}

type anonFeedKey struct {
	limit      int
	base       string
	generation uint64
}

func (s *server) handleFollowingFeed() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := pageOf(c)
		if err != nil {
			writeError(c, err)
			return
		}
		videos, next, err := s.Social.FollowingFeed(c.Request.Context(), viewerID(c), p)
		s.videoList(c, videos, next, err)
	}
}

func (s *server) handleLikedVideos() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "user")
		if err != nil {
			writeError(c, err)
			return
		}
		p, err := pageOf(c)
		if err != nil {
			writeError(c, err)
			return
		}
		videos, next, err := s.Social.LikedVideos(c.Request.Context(), id, viewerID(c), p)
		s.videoList(c, videos, next, err)
	}
}

// handleAct applies act to the signed-in user and the {id} of the path (a
// what: "video" or "user") and answers 204: like, unlike, follow, unfollow,
// all idempotent.
func (s *server) handleAct(what string, act func(reel.SocialService, context.Context, int64, int64) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", what)
		if err != nil {
			writeError(c, err)
			return
		}
		if err := act(s.Social, c.Request.Context(), viewerID(c), id); err != nil {
			writeError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

type textRequest struct {
	Text string `json:"text"`
}

// handleWrite creates what the signed-in user writes ({"text"}) about the
// {id} of the path (a what) and answers 201 with it: comments, messages.
func handleWrite[T any](s *server, what string, write func(reel.SocialService, context.Context, int64, int64, string) (T, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", what)
		if err != nil {
			writeError(c, err)
			return
		}
		var req textRequest
		if err := decodeJSON(c, &req); err != nil {
			writeError(c, err)
			return
		}
		created, err := write(s.Social, c.Request.Context(), viewerID(c), id, req.Text)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusCreated, created)
	}
}

func (s *server) handleComments() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "video")
		if err != nil {
			writeError(c, err)
			return
		}
		p, err := pageOf(c)
		if err != nil {
			writeError(c, err)
			return
		}
		comments, next, err := s.Social.Comments(c.Request.Context(), id, viewerID(c), p)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"comments": comments, "next_cursor": next})
	}
}

func (s *server) handleDeleteComment() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "comment")
		if err != nil {
			writeError(c, err)
			return
		}
		if err := s.Social.DeleteComment(c.Request.Context(), id, viewerID(c)); err != nil {
			writeError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// handleUsers answers one of a user's lists: followers, following, friends.
func (s *server) handleUsers(list func(reel.SocialService) userLister) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "user")
		if err != nil {
			writeError(c, err)
			return
		}
		p, err := pageOf(c)
		if err != nil {
			writeError(c, err)
			return
		}
		users, next, err := list(s.Social)(c.Request.Context(), id, viewerID(c), p)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"users": users, "next_cursor": next})
	}
}

type userLister = func(ctx context.Context, userID, viewerID int64, p reel.Page) ([]*reel.User, string, error)

func followers(s reel.SocialService) userLister { return s.Followers }
func following(s reel.SocialService) userLister { return s.Following }
func friends(s reel.SocialService) userLister   { return s.Friends }

// handleMessages answers the conversation with user {id}, oldest first,
// after ?after=<message id>.
func (s *server) handleMessages() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id", "user")
		if err != nil {
			writeError(c, err)
			return
		}
		var after int64
		if raw := c.Query("after"); raw != "" {
			if after, err = strconv.ParseInt(raw, 10, 64); err != nil || after < 0 {
				writeError(c, reel.Errorf(reel.EBADREQUEST, "after must be a message id"))
				return
			}
		}
		messages, err := s.Social.Conversation(c.Request.Context(), viewerID(c), id, after)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"messages": messages})
	}
}
