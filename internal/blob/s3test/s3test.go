// Package s3test starts a real S3-compatible server for tests: versitygw in
// posix mode on a temporary directory, one process per test, so that a test
// may stop or kill its server without touching anyone else's. versitygw
// checks SigV4 signatures, so credentials are exercised for real.
package s3test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reel-video/reel/internal/blob"
)

// Version is the versitygw release the tests run (scripts/deps.sh installs it).
const Version = "v1.8.0"

// Server is one running versitygw with one bucket.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	Bucket    string
	AccessKey string
	SecretKey string
	Dir       string // the posix backend's root; buckets are directories in it

	cmd  *exec.Cmd
	done chan struct{}
}

// Binary returns the path of versitygw: $REEL_TEST_VERSITYGW, then PATH,
// then GOPATH/bin. Missing, it fails the test with the command that
// installs it: a skipped S3 test would pass unnoticed.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("REEL_TEST_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Fatalf("s3test: versitygw is not installed: run scripts/deps.sh versitygw "+
		"(go install github.com/versity/versitygw/cmd/versitygw@%s); make test does it", Version)
	return ""
}

// Start runs a server for the test with a bucket named "reel"; it is
// killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	s := &Server{Bucket: "reel", AccessKey: "reeltestaccess", SecretKey: "reeltestsecret0123456789", Dir: dir}
	var lastErr error
	for range 5 { // a port picked free may be taken before versitygw binds it
		port, err := freePort()
		if err != nil {
			t.Fatalf("s3test: %v", err)
		}
		if lastErr = s.start(bin, port); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("s3test: start versitygw: %v", lastErr)
	}
	t.Cleanup(s.Kill)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client(t).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		t.Fatalf("s3test: create bucket: %v", err)
	}
	return s
}

func (s *Server) start(bin string, port int) error {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logf, err := os.Create(filepath.Join(filepath.Dir(s.Dir), fmt.Sprintf("versitygw-%d.log", port)))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--port", addr, "posix", s.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Killed with the test binary, should it die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	endpoint := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			log, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("versitygw exited: %s", strings.TrimSpace(string(log)))
		default:
		}
		resp, err := http.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			s.Endpoint, s.cmd, s.done = endpoint, cmd, done
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("versitygw did not answer at %s", endpoint)
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// URL is a REEL_BLOB_URL of the bucket under prefix ("" or "a/b").
func (s *Server) URL(prefix string) string {
	q := url.Values{"endpoint": {s.Endpoint}, "region": {"us-east-1"}, "path_style": {"true"}}
	return "s3://" + s.Bucket + "/" + strings.Trim(prefix, "/") + "?" + q.Encode()
}

// Env is the AWS environment of the server's credentials, as KEY=VALUE.
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey, "AWS_REGION=us-east-1"}
}

// Getenv answers the server's AWS variables, and base for everything else.
func (s *Server) Getenv(base func(string) string) func(string) string {
	return func(name string) string {
		for _, kv := range s.Env() {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				return v
			}
		}
		if base == nil {
			return ""
		}
		return base(name)
	}
}

// Config is the server's bucket under prefix.
func (s *Server) Config(prefix string) *blob.S3Config {
	loc, err := blob.ParseURL(s.URL(prefix), "")
	if err != nil {
		panic(err)
	}
	return loc.S3
}

// Client is an S3 client with the server's credentials, for a test to look
// at the bucket directly.
func (s *Server) Client(t testing.TB) *s3.Client {
	t.Helper()
	c, err := blob.NewS3Client(context.Background(), s.Config(""), s.Getenv(nil))
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
	URL    string
	server *Server
	gets   atomic.Int64 // GET requests
	bytes  atomic.Int64 // bytes of GET answers' bodies read from the server
	conns  atomic.Int64 // connections clients opened to the proxy
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
		if resp.Request.Method == http.MethodGet {
			f.gets.Add(1)
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

// Reset sets the counts to zero.
func (f *Front) Reset() {
	f.gets.Store(0)
	f.bytes.Store(0)
	f.conns.Store(0)
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

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
