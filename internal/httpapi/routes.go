package httpapi

import "github.com/gin-gonic/gin"

// routes is the whole HTTP surface of reel at a glance.
func (s *server) routes(e *gin.Engine) {
	e.Use(s.requestID(), s.recovery(), s.observe(), limitHeaders(MaxHeaderBytes))
	e.NoRoute(s.notFound())
	e.NoMethod(s.methodNotAllowed())

	e.GET("/healthz", s.handleHealthz())
	e.HEAD("/healthz", s.handleHealthz())
	e.GET("/readyz", s.handleReadyz())
	e.GET("/metrics", gin.WrapH(s.Metrics.Handler()))

	api := e.Group("/api/v1", s.deadline(s.RequestTimeout), limitBody(MaxJSONBody), s.authenticate())
	api.POST("/users", s.handleRegister())
	api.POST("/sessions", s.handleLogin())
	api.GET("/me", s.requireUser(), s.handleMe())
	api.GET("/users/:id", s.handleGetUser())
}
