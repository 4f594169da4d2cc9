// Package s3test starts a real S3-compatible server for tests: versitygw in
// posix mode on a temporary directory (internal/blob/s3server), one process
// per test, so that a test may stop or kill its server without touching
// anyone else's.
package s3test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reel-video/reel/internal/blob/s3server"
)

// Version is the versitygw release the tests run (scripts/deps.sh installs it).
const Version = s3server.Version

// Server is one running versitygw with one bucket.
type Server struct {
	*s3server.Server
}

// Binary returns the path of versitygw (see s3server.Binary). Missing, it
// fails the test with the command that installs it: a skipped S3 test
// would pass unnoticed.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := s3server.Binary()
	if err != nil {
		t.Fatalf("s3test: %v; make test does it", err)
	}
	return p
}

// Start runs a server for the test with a bucket named "reel"; it is
// killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	Binary(t)
	s, err := s3server.Start(t.TempDir())
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(s.Kill)
	return &Server{s}
}

// Client is an S3 client with the server's credentials, for a test to look
// at the bucket directly.
func (s *Server) Client(t testing.TB) *s3.Client {
	t.Helper()
	c, err := s.Server.Client(context.Background())
	if err != nil {
		t.Fatalf("s3test: client: %v", err)
	}
	return c
}

// Keys lists every key in the bucket under prefix (the bucket's own view,
// incomplete multipart uploads not included).
func (s *Server) Keys(t testing.TB, prefix string) []string {
	t.Helper()
	c := s.Client(t)
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("s3test: list %q: %v", prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// MultipartUploads lists the keys of the bucket's unfinished multipart
// uploads under prefix.
func (s *Server) MultipartUploads(t testing.TB, prefix string) []string {
	t.Helper()
	out, err := s.Client(t).ListMultipartUploads(context.Background(),
		&s3.ListMultipartUploadsInput{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatalf("s3test: list multipart uploads: %v", err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}
