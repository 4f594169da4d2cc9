package upload

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/tus/tusd/v2/pkg/handler"
)

// TestPreCreateAuthenticatesWithinTheRequest: the session lookup of a tus
// creation runs in the request's context, so the request's deadline and
// cancellation bound it.
func TestPreCreateAuthenticatesWithinTheRequest(t *testing.T) {
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "this request"))
	cancel()
	var seen context.Context
	tu := &tus{cfg: TusConfig{Authenticate: func(r *http.Request) (int64, error) {
		seen = r.Context()
		return 0, errors.New("lookup abandoned")
	}}}
	hook := handler.HookEvent{Context: ctx, HTTPRequest: handler.HTTPRequest{Method: http.MethodPost, URI: "/", Header: http.Header{"Authorization": {"Bearer x"}}}}
	if _, _, err := tu.preCreate(hook); err == nil {
		t.Fatal("a failed authentication created the upload")
	}
	if seen == nil || seen.Value(key{}) != "this request" || seen.Err() == nil {
		t.Errorf("Authenticate ran outside the request's context: %v", seen)
	}
}
