package blob

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Location is where REEL_BLOB_URL puts the blobs: a directory (Dir) or an
// S3-compatible bucket (S3). Exactly one of them is set.
type Location struct {
	Dir string
	S3  *S3Config
}

// S3Config names an S3-compatible bucket and how to reach it. Credentials
// are never part of it: they come from the standard AWS variables
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE)
// or the shared files, as every AWS tool reads them.
type S3Config struct {
	Bucket string
	// Prefix starts every key reel writes ("" or ending with "/"), so that
	// one bucket can hold several installations or other data.
	Prefix string
	// Endpoint is the server's base URL ("http://127.0.0.1:7070"); empty
	// is AWS itself, found from the region.
	Endpoint string
	Region   string
	// PathStyle addresses the bucket in the path (host/bucket/key) instead
	// of the host name (bucket.host/key): MinIO, versitygw, Ceph and Garage
	// on a plain host name need it.
	PathStyle bool
}

// ParseURL reads REEL_BLOB_URL: "" is the disk store at defaultDir;
// file://PATH a disk store at PATH; s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true|false
// an S3-compatible bucket. A URL with user information is refused, so that
// a secret never sits in a variable that is printed and logged.
func ParseURL(raw, defaultDir string) (Location, error) {
	if raw == "" {
		return Location{Dir: defaultDir}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, fmt.Errorf("not a URL: %w", err)
	}
	if u.User != nil {
		return Location{}, errors.New("credentials do not belong in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) instead")
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			// file://data/blobs: a relative path written without the third slash.
			p = u.Host + u.Path
		}
		if p == "" {
			return Location{}, errors.New("file:// needs a path, as in file:///var/lib/reel/blobs")
		}
		return Location{Dir: filepath.Clean(p)}, nil
	case "s3":
		return parseS3(u)
	}
	return Location{}, fmt.Errorf("unknown scheme %q: use file://PATH or s3://BUCKET/PREFIX", u.Scheme)
}

func parseS3(u *url.URL) (Location, error) {
	c := &S3Config{Bucket: u.Host, Region: "us-east-1"}
	if c.Bucket == "" {
		return Location{}, errors.New("s3:// needs a bucket, as in s3://videos/reel/")
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		if err := ValidKey(p); err != nil {
			return Location{}, fmt.Errorf("prefix: %w", err)
		}
		c.Prefix = p + "/"
	}
	q := u.Query()
	for name := range q {
		switch name {
		case "endpoint", "region", "path_style":
		default:
			return Location{}, fmt.Errorf("unknown parameter %q (known: endpoint, region, path_style)", name)
		}
	}
	if e := q.Get("endpoint"); e != "" {
		eu, err := url.Parse(e)
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
			return Location{}, fmt.Errorf("endpoint %q: want http(s)://HOST[:PORT]", e)
		}
		if eu.User != nil {
			return Location{}, errors.New("credentials do not belong in the endpoint URL")
		}
		c.Endpoint = strings.TrimRight(e, "/")
	}
	if r := q.Get("region"); r != "" {
		c.Region = r
	}
	if ps := q.Get("path_style"); ps != "" {
		v, err := strconv.ParseBool(ps)
		if err != nil {
			return Location{}, fmt.Errorf("path_style %q: want true or false", ps)
		}
		c.PathStyle = v
	}
	return Location{S3: c}, nil
}

// String is the URL of the location, without anything secret.
func (l Location) String() string {
	if l.S3 == nil {
		return "file://" + l.Dir
	}
	c := l.S3
	q := url.Values{}
	if c.Endpoint != "" {
		q.Set("endpoint", c.Endpoint)
	}
	q.Set("region", c.Region)
	q.Set("path_style", strconv.FormatBool(c.PathStyle))
	return "s3://" + c.Bucket + "/" + c.Prefix + "?" + q.Encode()
}

// NewS3Client returns a client of the bucket's server. getenv supplies the
// AWS_* variables (the process environment in production, the test's in
// tests); without AWS_ACCESS_KEY_ID the SDK's default chain (shared files,
// SSO, instance roles) is used.
func NewS3Client(ctx context.Context, c *S3Config, getenv func(string) string) (*s3.Client, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(c.Region)}
	if id := getenv("AWS_ACCESS_KEY_ID"); id != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(id, getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"))))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 configuration: %w", err)
	}
	// A server that is down must fail a request within seconds, not hang
	// it: dialling is bounded, a silent server times out, and retries of
	// a refused connection back off briefly.
	cfg.HTTPClient = awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second }).
		WithTransportOptions(func(t *http.Transport) {
			t.ResponseHeaderTimeout = time.Minute
			// One node serves many media requests to the same server at once.
			t.MaxIdleConnsPerHost = 64
		})
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.MaxBackoff = time.Second
		})
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
		// Compatible servers (versitygw, older MinIO, Ceph, R2) do not all
		// speak the newer default checksums; they are computed only where
		// the API requires them.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}

// Open opens the store at loc: a Disk for a directory, an S3 store for a
// bucket (getenv supplies the AWS_* variables).
func Open(ctx context.Context, loc Location, getenv func(string) string) (Store, error) {
	if loc.S3 == nil {
		return NewDisk(loc.Dir)
	}
	return NewS3(ctx, loc.S3, getenv)
}
