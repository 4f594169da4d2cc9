// Package s3server runs a private S3-compatible server on loopback:
// versitygw in posix mode on a directory, with one bucket. The tests
// (through internal/blob/s3test) and the benchmarks start it the same way.
// versitygw checks SigV4 signatures, so credentials are exercised for real.
package s3server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reel-video/reel/internal/blob"
)

// Version is the versitygw release reel runs (scripts/deps.sh installs it).
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
// then GOPATH/bin; missing, an error that names the command installing it.
func Binary() (string, error) {
	if p := os.Getenv("REEL_TEST_VERSITYGW"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("versitygw is not installed: run scripts/deps.sh versitygw "+
		"(go install github.com/versity/versitygw/cmd/versitygw@%s)", Version)
}

// Start runs versitygw with its data in dir (which must exist and be
// empty) and its log beside it, and creates the bucket "reel". The caller
// kills it with Kill; should the caller die first, the kernel kills it.
func Start(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	s := &Server{Bucket: "reel", AccessKey: "reeltestaccess", SecretKey: "reeltestsecret0123456789", Dir: dir}
	var lastErr error
	for range 5 { // a port picked free may be taken before versitygw binds it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		if lastErr = s.start(bin, port); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		return nil, fmt.Errorf("start versitygw: %w", lastErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := s.Client(ctx)
	if err == nil {
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)})
	}
	if err != nil {
		s.Kill()
		return nil, fmt.Errorf("create bucket: %w", err)
	}
	return s, nil
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

// Pid is the server's process id.
func (s *Server) Pid() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
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
		panic(err) // URL makes what ParseURL accepts
	}
	return loc.S3
}

// Client is an S3 client with the server's credentials, to look at the
// bucket or write to it directly.
func (s *Server) Client(ctx context.Context) (*s3.Client, error) {
	if s.Endpoint == "" {
		return nil, errors.New("s3server: not started")
	}
	return blob.NewS3Client(ctx, s.Config(""), s.Getenv(nil))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
