package douyin

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/publish"
	"github.com/reel-video/reel/internal/upload"
)

type videoListAnswer struct {
	Status
	VideoList []Video `json:"video_list"`
}

type feedAnswer struct {
	Status
	VideoList []Video `json:"video_list"`
	NextTime  int64   `json:"next_time"`
}

// maxFeedAhead bounds a latest_time in the future: no video is newer than
// now, but the clocks of several nodes may differ a little.
const maxFeedAhead = 24 * time.Hour

// Feed handles GET /douyin/feed/: latest_time (opt), token (opt) → at most
// FeedLimit ready public videos created before latest_time, newest first,
// and next_time, the creation time in milliseconds of the oldest of them
// (latest_time itself, in milliseconds, or now when absent, when there are
// none).
//
// latest_time is in milliseconds, or in seconds when at most 10^11; a time
// in seconds covers its whole second, so that a client sending "now" in
// seconds sees what was published a moment ago.
func Feed(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.handle(func(c *gin.Context) (any, error) {
		viewer, err := a.viewer(c)
		if err != nil {
			return nil, err
		}
		ms, inSeconds, err := timeParam(c, "latest_time")
		if err != nil {
			return nil, err
		}
		now := a.now()
		before, next := now, now.UnixMilli()
		if ms > 0 {
			before, next = time.UnixMilli(ms), ms
			if inSeconds {
				before = before.Add(time.Second)
			}
			if limit := now.Add(maxFeedAhead); before.After(limit) {
				before = limit
			}
		}
		videos, err := a.feed(c.Request.Context(), viewer, before, now)
		if err != nil {
			return nil, err
		}
		// From what the service returned, not from what is shown: a video
		// left out must not hold the next page back.
		for i, v := range videos {
			if created := v.CreatedAt.UnixMilli(); i == 0 || created < next {
				next = created
			}
		}
		return feedAnswer{Status: ok, VideoList: a.videos(c, videos), NextTime: next}, nil
	})
}

// firstPageWindow: a latest_time this close to now asks for the feed's
// first page, which clients ask for on every refresh with their clock's now.
const firstPageWindow = time.Minute

// feed returns the feed's videos created before before. A request for the
// first page is served from the service's (cached) first page of Feed when
// every video of that page was created before before; otherwise, and for
// every later page, FeedBefore reads it.
func (a *api) feed(ctx context.Context, viewer int64, before, now time.Time) ([]*reel.Video, error) {
	if !before.Before(now.Add(-firstPageWindow)) {
		videos, _, err := a.Social.Feed(ctx, viewer, reel.Page{Limit: FeedLimit})
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(videos, func(v *reel.Video) bool { return !v.CreatedAt.Before(before) }) {
			return videos, nil
		}
	}
	return a.Social.FeedBefore(ctx, viewer, before, FeedLimit)
}

// publishForm is the multipart form of publish/action.
var publishForm = upload.Form{FileField: "data", Fields: []string{"token", "title", "description"}}

// Publish handles POST /douyin/publish/action/: multipart data (the file),
// token and title. It answers once the upload is stored, probed and its
// cover made; the rest of the processing continues in the background.
//
// The body is streamed to disk as on /api/v1. The token may come after the
// file in the form (clients differ), so a token in the query or header is
// checked before the body is read, one in a field ahead of the file before
// the file is stored, and one after the file once it has been. Until the
// sender is known the upload holds one of the few anonymous slots of its
// address (publish.DefaultMaxAnonymous), and its file is removed with the
// request whatever happens.
func Publish(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return func(c *gin.Context) {
		if err := a.publish(c); err != nil {
			a.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, ok)
	}
}

func (a *api) publish(c *gin.Context) error {
	ctx := c.Request.Context()
	early, err := a.viewer(c) // the query or header; the form is not read yet
	if err != nil {
		c.Header("Connection", "close")
		return err
	}
	author := early
	release := func() {} // of the anonymous slot, when one is held
	defer func() { release() }()
	form := publishForm
	form.BeforeFile = func(values map[string]string) error {
		if t := values["token"]; t != "" {
			id, err := a.tokenUser(c, t)
			if err != nil {
				return err
			}
			author = id
		}
		if author != 0 {
			return nil
		}
		held, err := a.Publisher.HoldAnonymous(c.ClientIP())
		if err != nil {
			return err
		}
		release = held
		return nil
	}
	rec, err := a.Publisher.Receive(c.Writer, c.Request, early, form, a.IncomingDir, a.MaxUploadBytes)
	if rec != nil && rec.Path != "" {
		defer os.Remove(rec.Path) // moved away on success
	}
	if err != nil {
		return err
	}
	if t := rec.Values["token"]; t != "" && author == early {
		// The token came after the file.
		if author, err = a.tokenUser(c, t); err != nil {
			return err
		}
	}
	if author == 0 {
		return reel.Errorf(reel.EUNAUTHORIZED, "not logged in: send the token parameter")
	}
	// The form wins; the query is the fallback, as for every parameter.
	value := func(name string) string {
		if v := rec.Values[name]; v != "" {
			return v
		}
		return c.Query(name)
	}
	_, err = a.Publisher.Publish(ctx, author, rec, publish.Options{
		Title: value("title"), Description: value("description"), Cover: true,
	})
	var e *reel.Error
	if errors.As(err, &e) && e.Code == reel.EINVALID && len(e.Fields) == 0 {
		// A video beyond the duration or size limits (media.Limits): the
		// upload is rejected, not a parameter.
		return reel.Errorf(reel.EUNSUPPORTED, "%s", e.Message)
	}
	return err
}

// PublishList handles GET /douyin/publish/list/: user_id, token (opt) → the
// user's newest ListLimit videos, newest first; its owner also sees the
// ones still processing (with the original as play_url until the MP4 exists).
func PublishList(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.handle(func(c *gin.Context) (any, error) {
		viewer, err := a.viewer(c)
		if err != nil {
			return nil, err
		}
		id, err := a.userParam(c, viewer)
		if err != nil {
			return nil, err
		}
		videos, _, err := a.Videos.ListUserVideos(c.Request.Context(), id, viewer, "", ListLimit)
		if err != nil {
			return nil, err
		}
		return videoListAnswer{Status: ok, VideoList: a.videos(c, videos)}, nil
	})
}

// FavoriteAction handles POST /douyin/favorite/action/: token, video_id,
// action_type 1 (like) or 2 (unlike); both idempotent.
func FavoriteAction(d Deps) gin.HandlerFunc {
	return newAPI(d).toggle("video_id", reel.SocialService.Like, reel.SocialService.Unlike)
}

// FavoriteList handles GET /douyin/favorite/list/: user_id, token (opt) →
// the ListLimit videos the user liked most recently.
func FavoriteList(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.handle(func(c *gin.Context) (any, error) {
		viewer, err := a.viewer(c)
		if err != nil {
			return nil, err
		}
		id, err := a.userParam(c, viewer)
		if err != nil {
			return nil, err
		}
		videos, _, err := a.Social.LikedVideos(c.Request.Context(), id, viewer, reel.Page{Limit: ListLimit})
		if err != nil {
			return nil, err
		}
		return videoListAnswer{Status: ok, VideoList: a.videos(c, videos)}, nil
	})
}
