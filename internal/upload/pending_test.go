package upload

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/tus/tusd/v2/pkg/handler"
)

// outageArea is an area whose store stops answering when down is set, as
// the S3 client fails when the server is gone.
type outageArea struct {
	Area
	down *atomic.Bool
}

func (a outageArea) store() tusStore { return outageStore{a.Area.store(), a.down} }

type outageStore struct {
	tusStore
	down *atomic.Bool
}

func (s outageStore) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	if s.down.Load() {
		return nil, &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject",
			Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	}
	return s.tusStore.GetUpload(ctx, id)
}

// TestPendingDuringAnOutage: an upload whose info cannot be read is not
// taken for removed (which would let the user past the pending cap while
// the store is down): the creation is refused with 503, to retry.
func TestPendingDuringAnOutage(t *testing.T) {
	dir := t.TempDir()
	down := &atomic.Bool{}
	e := newAreaEnv(t, func(t *testing.T) Area {
		a, err := NewDiskArea(dir)
		if err != nil {
			t.Fatal(err)
		}
		return outageArea{a, down}
	}, nil)
	e.create(t, 0, 7, 100)
	down.Store(true)
	resp := tusDo(t, "POST", e.nodes[1].URL+"/files/", 7, nil, "Upload-Length", "10")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("creation with the store down: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	down.Store(false)
	e.create(t, 1, 7, 10)
	if got := e.pub.lastPending(); got != 100 {
		t.Errorf("pending bytes %d, want 100", got)
	}
}
