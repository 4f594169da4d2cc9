package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reel-video/reel/internal/blob/s3test"
	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// putObjects stores n small objects under prefix (a bucket key) directly,
// eight at a time.
func putObjects(t *testing.T, s *s3test.Server, prefix string, n int) {
	t.Helper()
	client := s.Client(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	keys := make(chan string)
	for range 8 {
		wg.Go(func() {
			for key := range keys {
				_, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("reel"), Key: aws.String(key), Body: strings.NewReader("x")})
				if err != nil {
					errs <- fmt.Errorf("put %s: %w", key, err)
				}
			}
		})
	}
	for i := range n {
		keys <- fmt.Sprintf("%sseg_%05d.m4s", prefix, i)
	}
	close(keys)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// noRedirect is a client that shows a 302 instead of following it.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestPipelineOnS3 runs the media pipeline with the blobs on S3 and no disk
// shared between nodes: a node that transcodes and proxies media, and one
// that only serves, with REEL_MEDIA_DELIVERY=redirect, each with its own
// empty data directory. Players (ffprobe) read the HLS ladder and the MP4
// through both; the redirecting node sends segments, MP4s and covers to
// short-lived presigned URLs of the bucket, after its own checks.
func TestPipelineOnS3(t *testing.T) {
	env, s := withS3(t, map[string]string{"REEL_DATABASE_URL": sqltest.PostgresURL(t), "REEL_SECRET": strings.Repeat("s", 40)}, "reel")
	proxy := startServer(t, env)
	redirect := startServer(t, with(env, map[string]string{"REEL_WORKERS": "0", "REEL_MEDIA_DELIVERY": "redirect"}))
	owner, other, admin := signUp(t, proxy, "owner"), signUp(t, proxy, "other"), signUp(t, proxy, "admin")
	if _, _, err := cli(t, env, "user", "promote", "admin"); err != nil {
		t.Fatal(err)
	}
	endpoint := s.Config("reel").Endpoint

	var kept string // a media URL still allowed at the end
	// portrait has a fast-path MP4; vp9 gets its MP4 from the ladder.
	for _, tc := range []struct{ kind, visibility string }{{"portrait", "public"}, {"vp9", "private"}} {
		t.Run(tc.kind, func(t *testing.T) {
			r := uploadMultipart(t, proxy, owner, mediatest.Clip(t, tc.kind), map[string]string{"visibility": tc.visibility}, false)
			expect(t, r, http.StatusAccepted, "")
			var v videoJSON
			r.json(t, &v)
			if v = waitVideo(t, proxy, owner, v.ID); v.Status != "ready" {
				t.Fatalf("video ended %+v", v)
			}
			var rv videoJSON
			redirect.do("GET", fmt.Sprintf("/api/v1/videos/%d", v.ID), owner, nil).json(t, &rv)
			if !strings.HasPrefix(rv.HLSURL, redirect.URL) {
				t.Fatalf("the redirecting node's URLs: %+v", rv)
			}
			for node, u := range map[string]videoJSON{"proxy": v, "redirect": rv} {
				if hls := probe(t, u.HLSURL); hls.count("video") != len(v.Renditions) || hls.count("audio") == 0 {
					t.Errorf("%s: HLS has %d video and %d audio streams for %d renditions", node, hls.count("video"), hls.count("audio"), len(v.Renditions))
				}
				if mp4 := probe(t, u.PlayURL); mp4.count("video") != 1 {
					t.Errorf("%s: play_url has %d video streams", node, mp4.count("video"))
				}
			}

			// Playlists come from reel, media from the bucket.
			if resp, _ := fetch(t, "GET", rv.HLSURL); resp.StatusCode != 200 || resp.Request.URL.Host != strings.TrimPrefix(redirect.URL, "http://") {
				t.Errorf("master through the redirecting node: %d from %s", resp.StatusCode, resp.Request.URL)
			}
			segment := firstSegment(t, rv.HLSURL)
			for _, u := range []string{segment, rv.PlayURL, rv.CoverURL} {
				resp, err := noRedirect.Get(u)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), endpoint+"/reel/reel/videos/") ||
					resp.Header.Get("Cache-Control") != "private, no-store" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
					t.Errorf("%s: %d %v", u, resp.StatusCode, resp.Header)
				}
			}
			// A Range follows the redirect and gets the same bytes as through the proxy.
			proxied := firstSegment(t, v.HLSURL)
			_, want := fetch(t, "GET", proxied, "Range", "bytes=10-109")
			resp, got := fetch(t, "GET", segment, "Range", "bytes=10-109")
			if resp.StatusCode != 206 || len(want) != 100 || !bytes.Equal(got, want) || !strings.HasPrefix(resp.Request.URL.String(), endpoint) {
				t.Errorf("range through the redirect: %d, %d bytes from %s", resp.StatusCode, len(got), resp.Request.URL)
			}
			if resp, _ := fetch(t, "GET", rv.CoverURL); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
				t.Errorf("cover from the bucket: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			// HEAD stays on reel, which answers it without a download.
			if resp, body := fetch(t, "HEAD", segment); resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength <= 0 || resp.Request.URL.Host != strings.TrimPrefix(redirect.URL, "http://") {
				t.Errorf("HEAD: %d, length %d, from %s", resp.StatusCode, resp.ContentLength, resp.Request.URL)
			}
			// The bucket is private: the object without a presigned URL is refused.
			loc, err := noRedirect.Get(segment)
			if err != nil {
				t.Fatal(err)
			}
			loc.Body.Close()
			bare := strings.Split(loc.Header.Get("Location"), "?")[0]
			if resp, _ := fetch(t, "GET", bare); resp.StatusCode != http.StatusForbidden {
				t.Errorf("the object without a signature: %d", resp.StatusCode)
			}
			// Reel's own checks come first.
			if status(t, strings.Replace(segment, "/videos/", "/videos/9", 1)) != http.StatusForbidden {
				t.Error("an altered URL was redirected")
			}
			if tc.visibility == "private" {
				expect(t, redirect.do("GET", fmt.Sprintf("/api/v1/videos/%d", v.ID), other, nil), 404, "not_found")
				kept = v.PlayURL
				return
			}

			// A block made on the other node stops the redirects here.
			expect(t, proxy.do("POST", fmt.Sprintf("/api/v1/admin/videos/%d/block", v.ID), admin, nil), http.StatusNoContent, "")
			waitFor(t, "the redirecting node to refuse the blocked video", func() bool {
				resp, err := noRedirect.Get(segment)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusForbidden
			})
			for _, u := range []string{rv.PlayURL, rv.CoverURL} {
				if resp, body := fetch(t, "GET", u); resp.StatusCode != 403 || !strings.Contains(string(body), `"forbidden"`) {
					t.Errorf("blocked, %s answers %d %s", u, resp.StatusCode, body)
				}
			}
		})
	}

	// /readyz says what the store is and whether it answers; with the S3
	// server gone the node is unready and media answer 503 (ask again
	// later), never a 500.
	type readiness struct {
		Checks map[string]string `json:"checks"`
		Kinds  map[string]string `json:"kinds"`
	}
	var ready readiness
	r := proxy.do("GET", "/readyz", "", nil)
	r.json(t, &ready)
	if r.StatusCode != 200 || ready.Checks["blob_store"] != "ok" || ready.Kinds["blob_store"] != "s3" || ready.Kinds["database"] != "postgres" {
		t.Errorf("/readyz: %d %s", r.StatusCode, r.Body)
	}
	s.Kill()
	r = proxy.do("GET", "/readyz", "", nil)
	ready = readiness{}
	r.json(t, &ready)
	if r.StatusCode != http.StatusServiceUnavailable || ready.Checks["blob_store"] != "unavailable" || ready.Checks["database"] != "ok" {
		t.Errorf("/readyz without the S3 server: %d %s", r.StatusCode, r.Body)
	}
	if resp, body := fetch(t, "GET", kept); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"unavailable"`) {
		t.Errorf("media without the S3 server: %d %s", resp.StatusCode, body)
	}
}
