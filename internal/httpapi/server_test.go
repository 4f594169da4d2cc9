package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func testServer(logs io.Writer) *server {
	return &server{Deps: Deps{Metrics: NewMetrics()}, log: slog.New(slog.NewJSONHandler(logs, nil))}
}

// A panicking handler answers the JSON internal error, logs the stack, and
// leaks nothing of the panic to the client.
func TestRecoveryAnswersJSON(t *testing.T) {
	var logs strings.Builder
	s := testServer(&logs)
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(s.requestID(), s.recovery())
	e.GET("/boom", func(*gin.Context) { panic("secret detail") })

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != "internal" {
		t.Fatalf("body %s (%v)", rec.Body, err)
	}
	if strings.Contains(rec.Body.String(), "secret detail") {
		t.Error("panic value leaked to the client")
	}
	if !strings.Contains(logs.String(), "secret detail") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("panic not logged with its stack: %s", logs.String())
	}
}

// Readiness is 503 with the failing part named when a dependency fails.
func TestReadyzReportsFailingParts(t *testing.T) {
	s := testServer(io.Discard)
	s.Ready = []ReadyCheck{
		{Name: "database", Check: func(context.Context) error { return nil }},
		{Name: "queue", Check: func(context.Context) error { return errors.New("connection refused") }},
		{Name: "blob_store", Check: func(context.Context) error { return nil }, Kind: "s3"},
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/readyz", s.handleReadyz())
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d", rec.Code)
	}
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
		Kinds  map[string]string `json:"kinds"`
		Error  struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Checks["database"] != "ok" || body.Checks["queue"] != "unavailable" ||
		body.Error.Code != "unavailable" || body.Error.Fields["queue"] != "unavailable" || body.Error.Fields["database"] != "" ||
		strings.Contains(rec.Body.String(), "refused") ||
		body.Checks["blob_store"] != "ok" || len(body.Kinds) != 1 || body.Kinds["blob_store"] != "s3" {
		t.Errorf("readyz body %s", rec.Body)
	}
}

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"abc-123": true, "550e8400-e29b-41d4-a716-446655440000": true, "Zm9v+YmFy/==": true,
		"": false, strings.Repeat("a", 129): false, "a b": false, "a\nb": false, "<x>": false, "ünï": false,
	} {
		if got := validRequestID(id); got != want {
			t.Errorf("validRequestID(%q) = %v, want %v", id, got, want)
		}
	}
}
