package blob

import (
	"context"
	"errors"
)

// S3 is the store on an S3-compatible bucket.
type S3 struct {
	Store // TODO(helper): replace with the implementation
}

// NewS3 connects to the bucket of c.
func NewS3(ctx context.Context, c *S3Config, getenv func(string) string) (*S3, error) {
	return nil, errors.New("s3 store: not implemented yet")
}
