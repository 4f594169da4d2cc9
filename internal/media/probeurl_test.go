package media

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reel-video/reel"
)

// serveFile serves path at /clip with Range support over srv's scheme and
// counts the requests.
func serveFile(t *testing.T, path string, tls bool) (string, *atomic.Int64) {
	t.Helper()
	var requests atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch r.URL.Path {
		case "/clip":
			http.ServeFile(w, r, path)
		case "/elsewhere":
			http.Redirect(w, r, "file://"+path, http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv.URL, &requests
}

// TestProbeURL: a video read over http and over https (ffmpeg's tls
// protocol beneath) is described as Probe describes its file, including a
// WebM without a duration, which is measured from its packets.
func TestProbeURL(t *testing.T) {
	for _, kind := range []string{"landscape", "webm-live"} {
		for _, tls := range []bool{false, true} {
			path := clip(t, kind)
			base, _ := serveFile(t, path, tls)
			want, err := Probe(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(path)
			got, err := ProbeURL(context.Background(), base+"/clip?X-Amz-Signature=secret", fi.Size())
			if err != nil {
				t.Fatalf("%s tls=%v: %v", kind, tls, err)
			}
			if got.Width != want.Width || got.Height != want.Height || got.DurationMS != want.DurationMS ||
				got.VideoCodec != want.VideoCodec || got.FormatName != want.FormatName || got.Bitrate != want.Bitrate {
				t.Errorf("%s tls=%v: over the URL %+v, from the file %+v", kind, tls, got, want)
			}
		}
	}
}

// TestProbeURLRefusals: bytes that are not a video are refused as from a
// file, with the format whitelist kept; a URL that cannot be read (missing,
// a server gone, a redirect to a local file) is not taken for a bad file;
// the URL never shows in an error.
func TestProbeURLRefusals(t *testing.T) {
	base, _ := serveFile(t, clip(t, "random"), false)
	_, err := ProbeURL(context.Background(), base+"/clip?X-Amz-Signature=secret", 1000)
	if reel.ErrorCode(err) != reel.EUNSUPPORTED {
		t.Errorf("random bytes: %v, want unsupported", err)
	}

	dir := t.TempDir()
	playlist := filepath.Join(dir, "list.m3u8")
	if err := os.WriteFile(playlist, []byte("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n"+clip(t, "landscape")+"\n#EXT-X-ENDLIST\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, requests := serveFile(t, playlist, false)
	_, err = ProbeURL(context.Background(), base+"/clip", 100)
	if reel.ErrorCode(err) != reel.EUNSUPPORTED || !strings.Contains(reel.ErrorMessage(err), "hls") {
		t.Errorf("an HLS playlist over http: %v, want refused as hls", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("the playlist made ffprobe send %d requests, want 1 (nothing it names is fetched)", n)
	}

	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	for name, u := range map[string]string{
		"missing": base + "/nothing?X-Amz-Signature=secret",
		"gone":    goneURL + "/clip?X-Amz-Signature=secret",
	} {
		_, err := ProbeURL(context.Background(), u, 100)
		if err == nil || reel.ErrorCode(err) == reel.EUNSUPPORTED || reel.ErrorCode(err) == reel.EINVALID {
			t.Errorf("%s: %v, want a failure to read, not a verdict on the file", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error shows the URL: %v", name, err)
		}
	}
	// A redirect to a local file is not followed: file is not among the
	// protocols (ffmpeg 5.1 answers "Invalid argument").
	if _, err := ProbeURL(context.Background(), base+"/elsewhere?X-Amz-Signature=secret", 100); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a redirect to a local file: %v, want an error without the URL", err)
	}
	for _, bad := range []string{"file:///etc/passwd", "/etc/passwd", "ftp://example.com/x"} {
		if _, err := ProbeURL(context.Background(), bad, 1); err == nil {
			t.Errorf("ProbeURL(%q) ran", bad)
		}
	}
}
