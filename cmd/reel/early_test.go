package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// earlyVideo is a video as the API answers it, with the outputs of issue 12.
type earlyVideo struct {
	videoJSON
	DashURL       string `json:"dash_url"`
	StoryboardURL string `json:"storyboard_url"`
	PreviewURL    string `json:"preview_url"`
}

// TestEarlyPlayback uploads an HEVC clip (what an iPhone records), which
// cannot be remuxed: while its ladder still runs, hls_url names the early
// master, whose playlists list segments a player decodes; once ready,
// hls_url is the final master, the live playlists a player started on end
// with ENDLIST, and the DASH, storyboard and preview URLs answer.
//
// The job holds at the moment the early master is recorded (jobs.Config
// OnLive, through onLive): the video cannot become ready until the test
// has looked, whatever the speed of the machine, so "before ready" is
// certain rather than a race against the encoder.
func TestEarlyPlayback(t *testing.T) {
	clip := filepath.Join(t.TempDir(), "iphone.mp4")
	out, err := exec.Command("ffmpeg", "-v", "error", "-nostdin",
		"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=6",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1", "-pix_fmt", "yuv420p",
		"-c:a", "aac", clip).CombinedOutput()
	if err != nil {
		t.Fatalf("make the HEVC clip: %v\n%s", err, out)
	}

	held, release := make(chan int64, 1), make(chan struct{})
	onLive = func(ctx context.Context, id int64) {
		select {
		case held <- id:
		default:
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
	t.Cleanup(func() { onLive = nil }) // after the server has stopped
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()

	srv := startServer(t, nil)
	token := signUp(t, srv, "iphone")
	r := uploadMultipart(t, srv, token, clip, map[string]string{"title": "hevc"}, false)
	expect(t, r, http.StatusAccepted, "")
	var v earlyVideo
	r.json(t, &v)
	select {
	case id := <-held:
		if id != v.ID {
			t.Fatalf("held video %d, uploaded %d", id, v.ID)
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("the early master was never published\n%s", srv.stderr)
	}

	path := fmt.Sprintf("/api/v1/videos/%d", v.ID)
	r = srv.do("GET", path, token, nil)
	expect(t, r, 200, "")
	r.json(t, &v)
	if v.Status != "processing" || !strings.Contains(v.HLSURL, fmt.Sprintf("/videos/%d/hls/live.m3u8", v.ID)) {
		t.Fatalf("while processing: status %s, hls_url %q", v.Status, v.HLSURL)
	}
	if v.DashURL != "" || v.StoryboardURL != "" || v.PreviewURL != "" {
		t.Errorf("outputs of a ready video named while processing: %q %q %q", v.DashURL, v.StoryboardURL, v.PreviewURL)
	}
	master, hdr := fetchOK(t, v.HLSURL)
	if hdr.Get("Cache-Control") != "no-cache" {
		t.Errorf("early master Cache-Control %q, want no-cache", hdr.Get("Cache-Control"))
	}
	variants := playlistURIs(master)
	if len(variants) == 0 {
		t.Fatalf("early master names no playlist:\n%s", master)
	}
	kinds := map[string]bool{}
	for _, variant := range variants {
		u := resolve(t, v.HLSURL, variant)
		playlist, hdr := fetchOK(t, u)
		if hdr.Get("Cache-Control") != "no-cache" || !strings.Contains(playlist, "#EXT-X-PLAYLIST-TYPE:EVENT") {
			t.Errorf("%s (%s):\n%s", variant, hdr.Get("Cache-Control"), playlist)
		}
		for _, kind := range decodeFirstSegment(t, u, playlist) {
			kinds[kind] = true
		}
	}
	if !kinds["video"] || !kinds["audio"] {
		t.Errorf("the first segments decoded to %v, want video and audio", kinds)
	}

	released = true
	close(release)
	ready := waitVideo(t, srv, token, v.ID)
	if ready.Status != "ready" {
		t.Fatalf("video ended %+v", ready)
	}
	r = srv.do("GET", path, token, nil)
	expect(t, r, 200, "")
	r.json(t, &v)
	if !strings.Contains(v.HLSURL, fmt.Sprintf("/videos/%d/hls/master.m3u8", v.ID)) {
		t.Errorf("ready video's hls_url %q, want the final master", v.HLSURL)
	}
	// HLS and DASH of the same video, decoded by ffprobe over HTTP: the
	// same renditions, from the same segments.
	hls, dash := probe(t, v.HLSURL), probe(t, v.DashURL)
	if hls.count("video") == 0 || hls.count("audio") != 1 || dash.count("video") != hls.count("video") || dash.count("audio") != 1 {
		t.Errorf("ffprobe reads %d video and %d audio streams through HLS, %d and %d through DASH; want the same, with video and one audio",
			hls.count("video"), hls.count("audio"), dash.count("video"), dash.count("audio"))
	}
	// A player that started on the early master plays to the end.
	for _, variant := range variants {
		playlist, _ := fetchOK(t, resolve(t, v.HLSURL, variant))
		if !strings.HasSuffix(playlist, "#EXT-X-ENDLIST\n") {
			t.Errorf("%s once ready:\n%s", variant, playlist)
		}
	}
	for name, u := range map[string]string{"dash_url": v.DashURL, "storyboard_url": v.StoryboardURL, "preview_url": v.PreviewURL} {
		if u == "" {
			t.Errorf("%s missing once ready", name)
			continue
		}
		fetchOK(t, u)
	}
}

// fetchOK GETs u and fails unless it answers 200 with a body.
func fetchOK(t *testing.T, u string) (string, http.Header) {
	t.Helper()
	resp, b := fetch(t, "GET", u)
	if resp.StatusCode != 200 || len(b) == 0 {
		t.Fatalf("GET %s: %d, %d bytes", u, resp.StatusCode, len(b))
	}
	return string(b), resp.Header
}

// playlistURIs lists the URIs of a playlist: its URI lines and the URI
// attributes of its tags (#EXT-X-MEDIA, #EXT-X-MAP).
func playlistURIs(playlist string) []string {
	var uris []string
	for _, line := range strings.Split(playlist, "\n") {
		line = strings.TrimSpace(line)
		if _, rest, ok := strings.Cut(line, `URI="`); ok && strings.HasPrefix(line, "#") {
			uri, _, _ := strings.Cut(rest, `"`)
			uris = append(uris, uri)
		} else if line != "" && !strings.HasPrefix(line, "#") {
			uris = append(uris, line)
		}
	}
	return uris
}

// decodeFirstSegment fetches the init segment and the first media segment
// of the media playlist at u, joins them as a player's decoder gets them,
// and returns the kinds of the streams ffprobe decodes frames of.
func decodeFirstSegment(t *testing.T, u, playlist string) []string {
	t.Helper()
	uris := playlistURIs(playlist)
	if len(uris) < 2 || !strings.Contains(playlist, `#EXT-X-MAP:URI="`+uris[0]+`"`) {
		t.Fatalf("%s names no init and first segment:\n%s", u, playlist)
	}
	var joined []byte
	for _, uri := range uris[:2] {
		b, _ := fetchOK(t, resolve(t, u, uri))
		joined = append(joined, b...)
	}
	file := filepath.Join(t.TempDir(), "first.mp4")
	if err := os.WriteFile(file, joined, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames",
		"-print_format", "json", file).Output()
	if err != nil {
		t.Fatalf("ffprobe the first segment of %s: %v", u, err)
	}
	var p struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
			Frames    string `json:"nb_read_frames"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range p.Streams {
		if s.Frames != "" && s.Frames != "0" {
			kinds = append(kinds, s.CodecType)
		}
	}
	return kinds
}
