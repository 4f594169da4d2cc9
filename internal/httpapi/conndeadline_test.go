package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// TestSlowHandlerKeepsConnection: a handler that outlasts the connection's
// read deadline (connDeadlines) is not cancelled by it, and neither are the
// requests that follow on the same keep-alive connection; with or without a
// body.
func TestSlowHandlerKeepsConnection(t *testing.T) {
	const d = 100 * time.Millisecond
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(connDeadlines(d))
	slow := func(c *gin.Context) {
		_, _ = io.Copy(io.Discard, c.Request.Body)
		// Longer than d, as a handler waiting on a slow database is.
		select {
		case <-c.Request.Context().Done():
			c.String(http.StatusTeapot, "cancelled")
		case <-time.After(3 * d):
			c.String(http.StatusOK, "ok")
		}
	}
	e.GET("/slow", slow)
	e.POST("/slow", slow)
	e.GET("/fast", func(c *gin.Context) {
		if c.Request.Context().Err() != nil {
			c.String(http.StatusTeapot, "cancelled")
			return
		}
		c.String(http.StatusOK, "ok")
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	client := srv.Client()
	client.Transport.(*http.Transport).MaxConnsPerHost = 1 // one keep-alive connection

	for _, req := range []struct{ method, path, body string }{
		{"GET", "/slow", ""}, {"GET", "/fast", ""}, {"POST", "/slow", "a body"}, {"GET", "/fast", ""},
	} {
		r, err := http.NewRequest(req.method, srv.URL+req.path, strings.NewReader(req.body))
		if err != nil {
			t.Fatal(err)
		}
		if req.body == "" {
			r.Body = http.NoBody
		}
		resp, err := client.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", req.method, req.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s: %d %s", req.method, req.path, resp.StatusCode, body)
		}
	}
}
