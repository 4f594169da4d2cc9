// Package s3test starts a real S3-compatible server for tests: versitygw in
// posix mode on a temporary directory (internal/blob/s3server), one process
// per test, so that a test may stop or kill its server without touching
// anyone else's.
package s3test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reel-video/reel/internal/blob"
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

// Front is a proxy in front of a server that counts what clients fetch
// through it, for tests of how much reading an object costs.
type Front struct {
	URL      string
	server   *Server
	requests atomic.Int64 // requests of any method
	gets     atomic.Int64 // GET requests
	bytes    atomic.Int64 // bytes of GET answers' bodies read from the server
	conns    atomic.Int64 // connections clients opened to the proxy
	mu       sync.Mutex
	ranges   []string // the Range headers of the GETs, in order
}

// Front starts a counting proxy to the server, closed when the test ends.
func (s *Server) Front(t testing.TB) *Front {
	t.Helper()
	target, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	f := &Front{server: s}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		f.requests.Add(1)
		if resp.Request.Method == http.MethodGet {
			f.gets.Add(1)
			f.mu.Lock()
			f.ranges = append(f.ranges, resp.Request.Header.Get("Range"))
			f.mu.Unlock()
			resp.Body = &countingBody{ReadCloser: resp.Body, n: &f.bytes}
		}
		return nil
	}
	srv := httptest.NewUnstartedServer(proxy)
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			f.conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Config is the server's bucket under prefix, reached through the proxy.
func (f *Front) Config(prefix string) *blob.S3Config {
	c := f.server.Config(prefix)
	c.Endpoint = f.URL
	return c
}

// Counts returns the GET requests, the bytes of their answers and the
// connections opened since the last Reset.
func (f *Front) Counts() (gets, bytes, conns int64) {
	return f.gets.Load(), f.bytes.Load(), f.conns.Load()
}

// Requests returns the requests of any method (GET, HEAD, ...) since the
// last Reset.
func (f *Front) Requests() int64 { return f.requests.Load() }

// Ranges are the Range headers of the GETs through the proxy since the
// last Reset, in order ("" for a GET without one).
func (f *Front) Ranges() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ranges)
}

// Reset sets the counts to zero.
func (f *Front) Reset() {
	f.requests.Store(0)
	f.gets.Store(0)
	f.bytes.Store(0)
	f.conns.Store(0)
	f.mu.Lock()
	f.ranges = nil
	f.mu.Unlock()
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
