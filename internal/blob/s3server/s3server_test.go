package s3server

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// A started server keeps what it is given, checks credentials, and stops
// answering once killed.
func TestStartKill(t *testing.T) {
	if _, err := Binary(); err != nil {
		t.Fatal(err)
	}
	s, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := s.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("a/b"), Body: strings.NewReader("hello")}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("a/b")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(b) != "hello" {
		t.Fatalf("got %q", b)
	}

	wrong := *s
	wrong.SecretKey = "not-the-secret-key-at-all"
	wc, err := wrong.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("a/b")}); err == nil {
		t.Error("a wrong secret key read the object")
	}

	s.Kill()
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("a/b")}); err == nil {
		t.Error("the killed server still answers")
	}
}

func TestStartFails(t *testing.T) {
	t.Setenv("REEL_TEST_VERSITYGW", filepath.Join(t.TempDir(), "no-such-versitygw"))
	if s, err := Start(t.TempDir()); err == nil {
		s.Kill()
		t.Fatal("started without a binary")
	}
}
