package upload

import (
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/reel-video/reel"
)

// TestStoreError: which failures of an area's store are the client's to
// retry (507, 503) and which stay the server's (500).
func TestStoreError(t *testing.T) {
	s3 := func(err error) error {
		return fmt.Errorf("s3store: %w", &smithy.OperationError{ServiceID: "S3", OperationName: "UploadPart", Err: err})
	}
	status := func(code int) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: &smithy.GenericAPIError{Code: http.StatusText(code)}}
	}
	for name, c := range map[string]struct {
		err  error
		code string
	}{
		"full disk":            {&fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, reel.ESTORAGE},
		"full scratch on S3":   {fmt.Errorf("s3store: %w", &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}), reel.ESTORAGE},
		"S3 refused":           {s3(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), reel.EUNAVAILABLE},
		"S3 dropped":           {s3(io.ErrUnexpectedEOF), reel.EUNAVAILABLE},
		"S3 503":               {s3(status(http.StatusServiceUnavailable)), reel.EUNAVAILABLE},
		"S3 denied":            {s3(status(http.StatusForbidden)), reel.EINTERNAL},
		"a local file's EOF":   {fmt.Errorf("read: %w", io.ErrUnexpectedEOF), reel.EINTERNAL},
		"a local file's error": {&fs.PathError{Op: "open", Path: "/x", Err: syscall.EISDIR}, reel.EINTERNAL},
	} {
		// Left unclassified, the error is tusd's 500 (or the guard's).
		got, ok := storeError(c.err)
		if c.code == reel.EINTERNAL {
			if ok {
				t.Errorf("%s: classified as %v, want left a server error", name, got)
			}
		} else if code := reel.ErrorCode(got); !ok || code != c.code {
			t.Errorf("%s: %v (classified %v), want code %s", name, got, ok, c.code)
		}
	}
}
