package s3test_test

import (
	"testing"

	"github.com/reel-video/reel/internal/blob/s3test"
)

func TestStart(t *testing.T) {
	s := s3test.Start(t)
	if keys := s.Keys(t, ""); len(keys) != 0 {
		t.Fatalf("new bucket has %v", keys)
	}
}
