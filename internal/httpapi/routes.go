package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/httpapi/douyin"
)

// routes is the whole HTTP surface of reel at a glance.
func (s *server) routes(e *gin.Engine) {
	// observe wraps recovery so that a panic still gets its log line and
	// metrics; connDeadlines gives every route, 404s included, a bound that
	// the groups below tighten or, for streams, replace.
	// cors answers /api/v1's preflights before any group's middleware
	// (shedding, auth, rate limits) and marks its answers (cors.go).
	// noSniff marks every answer nosniff.
	e.Use(s.requestID(), noSniff(), s.observe(), s.recovery(), connDeadlines(s.RequestTimeout), limitHeaders(MaxHeaderBytes), s.cors())
	// What no route below matches: the web app's pages for browsers'
	// navigations and the files at its root, else the JSON 404 (app.go).
	e.NoRoute(s.appOrNotFound())
	e.NoMethod(s.methodNotAllowed())

	e.GET("/healthz", s.handleHealthz())
	e.HEAD("/healthz", s.handleHealthz())
	e.GET("/readyz", s.handleReadyz())
	e.GET("/metrics", gin.WrapH(s.Metrics.Handler()))

	// Ordinary JSON API: bounded in number (shed), in time and body size;
	// the reads the cache holds may be served stale while the database is
	// down (degrade.go); counted against the reads or writes budget of its
	// user or address (ratelimit.go).
	shed := newShedder(s.MaxInFlight, s.Metrics)
	api := e.Group("/api/v1", shed.admit(refuse), serveStale(), s.deadline(s.RequestTimeout), limitBody(MaxJSONBody), gzipJSON(gzipMinSize), s.authenticate(),
		s.limitRate(byMethod, signedIn))
	api.POST("/users", s.handleRegister())
	api.POST("/sessions", s.handleLogin())
	api.GET("/me", s.requireUser(), s.handleMe())
	api.GET("/session", s.handleSession())
	api.PUT("/me/password", s.requireUser(), s.handleChangePassword())
	api.DELETE("/sessions/current", s.requireUser(), s.handleSignOut())
	api.DELETE("/sessions", s.requireUser(), s.handleSignOutEverywhere())
	api.GET("/users/:id", s.handleGetUser())
	api.GET("/users/@:username", s.handleGetUserByName()) // profiles' links: /u/{username}
	api.GET("/users/:id/videos", s.handleUserVideos())
	api.GET("/videos/:id", s.handleGetVideo())
	api.PATCH("/videos/:id", s.requireUser(), s.handleUpdateVideo())
	api.DELETE("/videos/:id", s.requireUser(), s.handleDeleteVideo())
	api.PUT("/videos/:id/captions/:lang", s.requireUser(), s.handlePutCaption())
	api.DELETE("/videos/:id/captions/:lang", s.requireUser(), s.handleDeleteCaption())
	api.POST("/videos/:id/views", s.handleView())
	api.PUT("/videos/:id/progress", s.requireUser(), s.handleProgress())
	api.PUT("/videos/:id/like", s.requireUser(), s.handleAct("video", reel.SocialService.Like))
	api.DELETE("/videos/:id/like", s.requireUser(), s.handleAct("video", reel.SocialService.Unlike))
	api.POST("/videos/:id/comments", s.requireUser(), handleWrite(s, "video", reel.SocialService.AddComment))
	api.GET("/videos/:id/comments", s.handleComments())
	api.DELETE("/comments/:id", s.requireUser(), s.handleDeleteComment())
	api.GET("/feed", s.handleFeed())
	api.GET("/feed/following", s.requireUser(), s.handleFollowingFeed())
	api.GET("/users/:id/likes", s.handleLikedVideos())
	api.PUT("/users/:id/follow", s.requireUser(), s.handleAct("user", reel.SocialService.Follow))
	api.DELETE("/users/:id/follow", s.requireUser(), s.handleAct("user", reel.SocialService.Unfollow))
	api.GET("/users/:id/followers", s.handleUsers(followers))
	api.GET("/users/:id/following", s.handleUsers(following))
	api.GET("/users/:id/friends", s.handleUsers(friends))
	api.POST("/users/:id/messages", s.requireUser(), handleWrite(s, "user", reel.SocialService.SendMessage))
	api.GET("/users/:id/messages", s.requireUser(), s.handleMessages())
	admin := api.Group("/admin", s.requireUser(), s.requireAdmin())
	admin.POST("/videos/:id/block", s.handleBlock(true))
	admin.DELETE("/videos/:id/block", s.handleBlock(false))
	admin.GET("/videos/blocked", s.handleBlockedVideos())

	// Long-lived streams: uploads may take hours and event streams minutes,
	// so they are bounded by inactivity instead of a total deadline.
	stream := e.Group("/api/v1", s.streaming(uploadIdle), s.authenticate())
	stream.POST("/videos", s.requireUser(), s.limitRate(always(uploads), signedIn), s.handleUploadVideo())
	stream.GET("/videos/:id/events", s.limitRate(always(reads), signedIn), s.capStreams(), s.handleVideoEvents())
	stream.GET("/events", s.requireUser(), s.limitRate(always(reads), signedIn), s.capStreams(), s.handleEvents())
	// tusd routes and authenticates uploads itself (upload.NewTus, with the
	// bearer token or the session cookie); its upload URLs get the base of
	// every absolute URL.
	// Creating an upload spends the uploads budget; its PATCHes are free.
	tus := e.Group("/api/v1", s.corsTus(), s.streaming(uploadIdle), s.guardCookie(), s.limitRate(byUploadMethod, s.sessionUser))
	tus.Any("/uploads/*path", gin.WrapH(s.base.withBaseLocation(s.Tus)))
	// tus's endpoint is /api/v1/uploads/ and tusd knows no other: without
	// the slash it is a JSON 404 that names the right URL, before any
	// budget is spent. Not a 308 to it: tus-js-client in Node.js follows no
	// redirect, and a browser cannot follow one on a CORS preflight, so a
	// redirect would work for some clients only and hide the mistake.
	e.Any("/api/v1/uploads", s.handleTusWithoutSlash())

	// Douyin-compatible API (docs/api.md): the same services in that API's
	// shapes, every answer HTTP 200 with a status_code (package douyin).
	dy := s.douyinDeps()
	refuseDouyin := func(c *gin.Context, err error) {
		douyin.Fail(c, err)
		c.Abort()
	}
	dyAPI := e.Group("/douyin", shed.admit(refuseDouyin), serveStale(), s.deadline(s.RequestTimeout), gzipJSON(gzipMinSize),
		s.limitRate(byMethod, s.tokenUser("token")))
	dyAPI.GET("/feed/", douyin.Feed(dy))
	dyAPI.POST("/user/register/", douyin.Register(dy))
	dyAPI.POST("/user/login/", douyin.Login(dy))
	dyAPI.GET("/user/", douyin.UserInfo(dy))
	dyAPI.GET("/publish/list/", douyin.PublishList(dy))
	dyAPI.POST("/favorite/action/", douyin.FavoriteAction(dy))
	dyAPI.GET("/favorite/list/", douyin.FavoriteList(dy))
	dyAPI.POST("/comment/action/", douyin.CommentAction(dy))
	dyAPI.GET("/comment/list/", douyin.CommentList(dy))
	dyAPI.POST("/relation/action/", douyin.RelationAction(dy))
	dyAPI.GET("/relation/follow/list/", douyin.FollowList(dy))
	dyAPI.GET("/relation/follower/list/", douyin.FollowerList(dy))
	dyAPI.GET("/relation/friend/list/", douyin.FriendList(dy))
	dyAPI.POST("/message/action/", douyin.MessageAction(dy))
	dyAPI.GET("/message/chat/", douyin.MessageChat(dy))
	// Uploads are bounded by inactivity, as on /api/v1.
	e.Group("/douyin", s.streaming(uploadIdle), s.limitRate(always(uploads), s.tokenUser(""))).POST("/publish/action/", douyin.Publish(dy))

	// Media: signed URLs, Range, sendfile (playback.NewHandler). A download
	// may take long on a slow link, but not forever.
	for _, m := range []string{"GET", "HEAD", "OPTIONS"} {
		e.Handle(m, "/media/*path", writeDeadline(mediaWriteTimeout), s.handleMedia())
	}

	// The web app's hashed files, cached for good (app.go); its pages are
	// served by NoRoute above.
	e.GET("/assets/*path", s.handleAsset())
	e.HEAD("/assets/*path", s.handleAsset())
}
