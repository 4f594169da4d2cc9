package httpapi

import (
	"context"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/httperr"
)

// ReadyCheck is one part of the service that /readyz asks. Check answers nil
// when the part can do its work.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
	// Advisory checks are reported (Problem instead of "ok") without making
	// the node unready: with low disk space it still serves and plays, and
	// only uploads are refused.
	Advisory bool
	Problem  string
	// Kind, when set, says which implementation the part is ("s3",
	// "disk", "postgres"), reported under "kinds" so that an operator sees
	// what a node was configured with.
	Kind string
}

func (s *server) handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	}
}

// handleReadyz asks every part at once, each within a short deadline, so a
// hung database makes the answer 503 rather than making the probe time out.
// ffmpeg and advisory checks (disk space) are reported but do not make the
// node unready: without them the server still serves, and uploads wait for
// a worker that has ffmpeg or are refused for lack of space.
func (s *server) handleReadyz() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		checks := make(map[string]string, len(s.Ready)+1)
		kinds := map[string]string{}
		for _, rc := range s.Ready {
			if rc.Kind != "" {
				kinds[rc.Name] = rc.Kind
			}
		}
		failing := map[string]string{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, rc := range s.Ready {
			wg.Go(func() {
				err := rc.Check(ctx)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && rc.Advisory {
					checks[rc.Name] = rc.Problem
					s.log.WarnContext(ctx, "readiness warning", "part", rc.Name, "err", err)
					return
				}
				if err != nil {
					// The cause goes to the log, not to a public endpoint.
					checks[rc.Name] = "unavailable"
					failing[rc.Name] = "unavailable"
					s.log.WarnContext(ctx, "readiness check failed", "part", rc.Name, "err", err)
					return
				}
				checks[rc.Name] = "ok"
			})
		}
		wg.Wait()
		checks["ffmpeg"] = "found"
		if _, err := exec.LookPath("ffmpeg"); err != nil {
			checks["ffmpeg"] = "missing"
		}
		if len(failing) > 0 {
			// A load balancer takes the node out; a client polling it
			// learns when to look again, as from any other 503.
			c.Header("Retry-After", strconv.Itoa(int(httperr.RetryAfter/time.Second)))
			c.Header("Cache-Control", "no-store")
			c.JSON(http.StatusServiceUnavailable, gin.H{
				"status": "unavailable",
				"checks": checks,
				"kinds":  kinds,
				"error":  httperr.Detail{Code: reel.EUNAVAILABLE, Message: "not ready", Fields: failing},
			})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": checks, "kinds": kinds})
	}
}
