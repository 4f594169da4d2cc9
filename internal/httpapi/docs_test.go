package httpapi

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestAPIReferenceListsEveryRoute keeps docs/api.md in step with routes.go:
// every route registered is documented.
func TestAPIReferenceListsEveryRoute(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewServer(Deps{Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	routes := h.(*gin.Engine).Routes()
	if len(routes) < 40 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	for _, r := range routes {
		// /api/v1/videos/:id → /api/v1/videos/{id}; a catch-all documents its prefix.
		p := r.Path
		if i := strings.Index(p, "*"); i >= 0 {
			p = p[:i]
		}
		segs := strings.Split(p, "/")
		for i, s := range segs {
			if name, ok := strings.CutPrefix(s, ":"); ok {
				segs[i] = "{" + name + "}"
			}
		}
		p = strings.Join(segs, "/")
		if !strings.Contains(string(doc), p) {
			t.Errorf("docs/api.md does not document %s %s (as %s)", r.Method, r.Path, p)
		}
	}
}
