package playback

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/blob"
)

const coverSize = 10000

// media is what a processed video leaves in the store.
func media() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	return map[string][]byte{
		"videos/42/cover.jpg":                     random(coverSize),
		"videos/42/cover.webp":                    random(300),
		"videos/42/video.mp4":                     random(5000),
		"videos/42/data.bin":                      random(10),
		"videos/42/hls/master.m3u8":               []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=720x1280\n720p/index.m3u8\n"),
		"videos/42/hls/720p/index.m3u8":           []byte("#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\nseg_00001.m4s\n#EXTINF:4.0,\nseg_00002.m4s\n#EXT-X-ENDLIST\n"),
		"videos/42/hls/720p/init.mp4":             random(700),
		"videos/42/hls/manifest.mpd":              []byte("<?xml version=\"1.0\"?>\n<MPD></MPD>\n"),
		"videos/42/hls/storyboard/storyboard.vtt": []byte("WEBVTT\n\n00:00.000 --> 00:01.000\nsprite_000.jpg#xywh=0,0,160,90\n"),
		"videos/42/hls/live.m3u8":                 []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=720x1280\n720p/live.m3u8\n"),
		"videos/42/hls/720p/live.m3u8":            []byte("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\nseg_00001.m4s\n"),
		"videos/42/hls/720p/seg_00001.m4s":        random(4000),
		"videos/42/hls/720p/seg_00002.m4s":        random(3000),
		"videos/43/hls/720p/seg_00001.m4s":        random(10),
	}
}

type fixture struct {
	signer *Signer
	clock  *time.Time
	srv    *httptest.Server
	files  map[string][]byte
}

func newFixture(t *testing.T, opts HandlerOptions) *fixture {
	t.Helper()
	store, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	files := media()
	for k, b := range files {
		if _, err := store.Put(t.Context(), k, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	return newFixtureOn(t, store, files, opts)
}

func newFixtureOn(t *testing.T, store blob.Store, files map[string][]byte, opts HandlerOptions) *fixture {
	clock := t0
	s := newTestSigner(secretNew, nil, &clock)
	srv := httptest.NewServer(NewHandler(s, store, opts))
	t.Cleanup(srv.Close)
	return &fixture{signer: s, clock: &clock, srv: srv, files: files}
}

// do sends a request the way a player would, without transparent gzip so
// that the test sees exactly what was on the wire.
func (f *fixture) do(t *testing.T, method, target string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func (f *fixture) get(t *testing.T, target string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return f.do(t, http.MethodGet, target, header...)
}

func TestServeWhole(t *testing.T) {
	onStores(t, HandlerOptions{}, func(t *testing.T, f *fixture) {
		resp, body := f.get(t, f.signer.SignPath("/media/videos/42/cover.jpg"), "Accept-Encoding", "gzip")
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, f.files["videos/42/cover.jpg"]) {
			t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
		}
		etag := resp.Header.Get("ETag")
		for name, want := range map[string]string{
			"Content-Type":                  "image/jpeg",
			"Content-Length":                strconv.Itoa(coverSize),
			"Cache-Control":                 immutableFor(f),
			"Accept-Ranges":                 "bytes",
			"X-Content-Type-Options":        "nosniff",
			"Access-Control-Allow-Origin":   "*",
			"Access-Control-Expose-Headers": "Content-Range, Content-Length, Accept-Ranges, ETag",
			"Content-Encoding":              "",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
		if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
			t.Errorf("ETag %q is not a quoted strong tag", etag)
		}
		if _, err := http.ParseTime(resp.Header.Get("Last-Modified")); err != nil {
			t.Errorf("Last-Modified %q: %v", resp.Header.Get("Last-Modified"), err)
		}
		// The tag is stable for the same object and differs between objects.
		again, _ := f.get(t, f.signer.SignPath("/media/videos/42/cover.jpg"))
		other, _ := f.get(t, f.signer.SignPath("/media/videos/42/video.mp4"))
		if again.Header.Get("ETag") != etag || other.Header.Get("ETag") == etag {
			t.Errorf("ETags: %q, %q, %q", etag, again.Header.Get("ETag"), other.Header.Get("ETag"))
		}
	})
}

func TestRanges(t *testing.T) {
	onStores(t, HandlerOptions{}, func(t *testing.T, f *fixture) {
		u := f.signer.SignPath("/media/videos/42/cover.jpg")
		whole := f.files["videos/42/cover.jpg"]
		for _, tc := range []struct {
			name, rng    string
			status       int
			contentRange string
			from, to     int // the expected body is whole[from:to]
		}{
			{"single", "bytes=0-99", 206, "bytes 0-99/10000", 0, 100},
			{"middle", "bytes=1234-5677", 206, "bytes 1234-5677/10000", 1234, 5678},
			{"suffix", "bytes=-500", 206, "bytes 9500-9999/10000", 9500, 10000},
			{"open-ended", "bytes=100-", 206, "bytes 100-9999/10000", 100, 10000},
			{"last byte", "bytes=9999-", 206, "bytes 9999-9999/10000", 9999, 10000},
			{"end past size is clipped", "bytes=9000-20000", 206, "bytes 9000-9999/10000", 9000, 10000},
			{"suffix longer than the file", "bytes=-20000", 206, "bytes 0-9999/10000", 0, 10000},
			{"past the end", "bytes=10000-", 416, "bytes */10000", 0, 0},
			{"far past the end", "bytes=20000-30000", 416, "bytes */10000", 0, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := f.get(t, u, "Range", tc.rng)
				if resp.StatusCode != tc.status || resp.Header.Get("Content-Range") != tc.contentRange {
					t.Fatalf("status %d Content-Range %q, want %d %q", resp.StatusCode, resp.Header.Get("Content-Range"), tc.status, tc.contentRange)
				}
				if tc.status == 206 && !bytes.Equal(body, whole[tc.from:tc.to]) {
					t.Errorf("body is %d bytes, not whole[%d:%d]", len(body), tc.from, tc.to)
				}
				if tc.status == 416 && (strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || resp.Header.Get("ETag") != "") {
					t.Errorf("a 416 must not be cached as the object: %v", resp.Header)
				}
			})
		}
	})
}

func TestMultipleRanges(t *testing.T) {
	onStores(t, HandlerOptions{}, func(t *testing.T, f *fixture) {
		whole := f.files["videos/42/cover.jpg"]
		resp, body := f.get(t, f.signer.SignPath("/media/videos/42/cover.jpg"), "Range", "bytes=0-9,500-999,-5")
		if resp.StatusCode != http.StatusPartialContent {
			t.Fatalf("status %d", resp.StatusCode)
		}
		mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/byteranges" {
			t.Fatalf("Content-Type %q: %v", resp.Header.Get("Content-Type"), err)
		}
		want := []struct {
			contentRange string
			from, to     int
		}{{"bytes 0-9/10000", 0, 10}, {"bytes 500-999/10000", 500, 1000}, {"bytes 9995-9999/10000", 9995, 10000}}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for i, w := range want {
			part, err := mr.NextPart()
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			got, err := io.ReadAll(part)
			if err != nil {
				t.Fatal(err)
			}
			if cr := part.Header.Get("Content-Range"); cr != w.contentRange {
				t.Errorf("part %d Content-Range %q, want %q", i, cr, w.contentRange)
			}
			if ct := part.Header.Get("Content-Type"); ct != "image/jpeg" {
				t.Errorf("part %d Content-Type %q", i, ct)
			}
			if !bytes.Equal(got, whole[w.from:w.to]) {
				t.Errorf("part %d: %q, want whole[%d:%d]", i, got, w.from, w.to)
			}
		}
		if _, err := mr.NextPart(); err != io.EOF {
			t.Errorf("after the last part: %v", err)
		}
	})
}

func TestConditionalRequests(t *testing.T) {
	onStores(t, HandlerOptions{}, func(t *testing.T, f *fixture) {
		u := f.signer.SignPath("/media/videos/42/hls/720p/seg_00001.m4s")
		whole := f.files["videos/42/hls/720p/seg_00001.m4s"]
		first, _ := f.get(t, u)
		etag, lastMod := first.Header.Get("ETag"), first.Header.Get("Last-Modified")

		resp, body := f.get(t, u, "Range", "bytes=0-9", "If-Range", etag)
		if resp.StatusCode != 206 || !bytes.Equal(body, whole[:10]) {
			t.Errorf("If-Range with the current ETag: status %d, %d bytes; want the range", resp.StatusCode, len(body))
		}
		resp, body = f.get(t, u, "Range", "bytes=0-9", "If-Range", `"something-older"`)
		if resp.StatusCode != 200 || !bytes.Equal(body, whole) {
			t.Errorf("If-Range with another ETag: status %d, %d bytes; want the whole object", resp.StatusCode, len(body))
		}
		resp, _ = f.get(t, u, "Range", "bytes=0-9", "If-Range", lastMod)
		if resp.StatusCode != 206 {
			t.Errorf("If-Range with Last-Modified: status %d", resp.StatusCode)
		}

		resp, body = f.get(t, u, "If-None-Match", etag)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("If-None-Match with the ETag: status %d, %d bytes", resp.StatusCode, len(body))
		}
		if resp.Header.Get("ETag") != etag || resp.Header.Get("Cache-Control") == "" {
			t.Errorf("304 without ETag or Cache-Control: %v", resp.Header)
		}
		resp, _ = f.get(t, u, "If-None-Match", `"x", `+etag)
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match with a list holding the ETag: status %d", resp.StatusCode)
		}
		resp, body = f.get(t, u, "If-None-Match", `"x"`)
		if resp.StatusCode != 200 || !bytes.Equal(body, whole) {
			t.Errorf("If-None-Match with another ETag: status %d", resp.StatusCode)
		}
	})
}

func TestHead(t *testing.T) {
	onStores(t, HandlerOptions{}, func(t *testing.T, f *fixture) {
		resp, body := f.do(t, http.MethodHead, f.signer.SignPath("/media/videos/42/video.mp4"))
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Fatalf("status %d, %d bytes of body", resp.StatusCode, len(body))
		}
		if resp.Header.Get("Content-Length") != "5000" || resp.Header.Get("Content-Type") != "video/mp4" ||
			resp.Header.Get("ETag") == "" || resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("headers %v", resp.Header)
		}
	})
}

func TestContentTypesAndCaching(t *testing.T) {
	onStores(t, HandlerOptions{}, func(t *testing.T, f *fixture) {
		for key, want := range map[string][2]string{
			"videos/42/hls/master.m3u8":               {"application/vnd.apple.mpegurl", "no-cache"},
			"videos/42/hls/720p/index.m3u8":           {"application/vnd.apple.mpegurl", "public, max-age=60"},
			"videos/42/hls/manifest.mpd":              {"application/dash+xml", "no-cache"},
			"videos/42/hls/storyboard/storyboard.vtt": {"text/vtt; charset=utf-8", "public, max-age=60"},
			// The early playlists grow while the video is processed.
			"videos/42/hls/live.m3u8":          {"application/vnd.apple.mpegurl", "no-cache"},
			"videos/42/hls/720p/live.m3u8":     {"application/vnd.apple.mpegurl", "no-cache"},
			"videos/42/hls/720p/init.mp4":      {"video/mp4", immutableFor(f)},
			"videos/42/hls/720p/seg_00001.m4s": {"video/iso.segment", immutableFor(f)},
			"videos/42/video.mp4":              {"video/mp4", immutableFor(f)},
			"videos/42/cover.jpg":              {"image/jpeg", immutableFor(f)},
			"videos/42/cover.webp":             {"image/webp", immutableFor(f)},
			"videos/42/data.bin":               {"application/octet-stream", "public, max-age=60"},
		} {
			resp, body := f.get(t, f.signer.SignPath(Mount+key))
			if resp.StatusCode != 200 || !bytes.Equal(body, f.files[key]) {
				t.Errorf("%s: status %d", key, resp.StatusCode)
			}
			if got := [2]string{resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control")}; got != want {
				t.Errorf("%s: %q, want %q", key, got, want)
			}
		}
	})
}

// TestHLSPlayback plays the way a player does: fetch the master with the URL
// the API handed out, then resolve every URI in the playlists against the URL
// of the playlist that holds it.
func TestHLSPlayback(t *testing.T) {
	onStores(t, HandlerOptions{}, func(t *testing.T, f *fixture) {
		master := f.signer.SignPath("/media/videos/42/hls/master.m3u8", WithPrefix("/media/videos/42/hls/"))
		fetched := 0
		var play func(target string)
		play = func(target string) {
			resp, body := f.get(t, target)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: status %d", target, resp.StatusCode)
			}
			fetched++
			if !strings.HasSuffix(target, ".m3u8") {
				return
			}
			for _, uri := range playlistURIs(string(body)) {
				play(resolve(t, target, uri))
			}
		}
		play(master)
		if fetched != 5 { // master, variant, init, two segments
			t.Errorf("fetched %d objects, want 5", fetched)
		}
		for _, escape := range []string{"../cover.jpg", "../../43/hls/720p/seg_00001.m4s", "/media/videos/42/cover.jpg"} {
			resp, _ := f.get(t, resolve(t, master, escape))
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s from the master: status %d, want 403", escape, resp.StatusCode)
			}
		}
	})
}

func playlistURIs(playlist string) []string {
	var uris []string
	sc := bufio.NewScanner(strings.NewReader(playlist))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if _, attr, ok := strings.Cut(line, `URI="`); ok {
			uris = append(uris, strings.TrimSuffix(attr, `"`))
		} else if line != "" && !strings.HasPrefix(line, "#") {
			uris = append(uris, line)
		}
	}
	return uris
}

func resolve(t *testing.T, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return b.ResolveReference(r).String()
}

func TestPreflight(t *testing.T) {
	f := newFixture(t, HandlerOptions{})
	resp, body := f.do(t, http.MethodOptions, "/media/videos/42/hls/720p/seg_00001.m4s",
		"Origin", "https://app.example", "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "range,if-none-match")
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("Allow-Origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"range", "if-range", "if-none-match"} {
		if !strings.Contains(allowed, h) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", allowed, h)
		}
	}
	if m := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "GET") || !strings.Contains(m, "HEAD") {
		t.Errorf("Access-Control-Allow-Methods %q", m)
	}
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeError(t *testing.T, resp *http.Response, body []byte) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("body %q is not the JSON error shape: %v", body, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("error headers %v", resp.Header)
	}
	return e
}

func TestRefusals(t *testing.T) {
	onStores(t, HandlerOptions{}, func(t *testing.T, f *fixture) {
		good := f.signer.SignPath("/media/videos/42/cover.jpg")
		sig := good[strings.Index(good, "sig=")+4:]
		forged := strings.Replace(good, "sig="+sig[:5], "sig=AAAAA", 1)
		for _, tc := range []struct {
			name, target string
			status       int
			code, say    string
		}{
			{"no signature", "/media/videos/42/cover.jpg", 403, "forbidden", "signature"},
			{"forged", forged, 403, "forbidden", "signature"},
			{"other object", strings.Replace(good, "cover.jpg", "video.mp4", 1), 403, "forbidden", "signature"},
			{"missing object", f.signer.SignPath("/media/videos/42/nothing.jpg"), 404, "not_found", "not found"},
			{"directory", f.signer.SignPath("/media/videos/42/hls"), 404, "not_found", "not found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := f.get(t, tc.target)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
				}
				e := decodeError(t, resp, body)
				if e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.say) {
					t.Errorf("error %+v", e.Error)
				}
				if bytes.Contains(body, []byte(sig)) {
					t.Errorf("the answer leaks the signature")
				}
			})
		}

		*f.clock = t0.Add(2 * ttl)
		resp, body := f.get(t, good)
		if e := decodeError(t, resp, body); resp.StatusCode != 403 || e.Error.Code != "forbidden" || !strings.Contains(e.Error.Message, "expired") {
			t.Errorf("expired: status %d %+v", resp.StatusCode, e.Error)
		}

		resp, body = f.do(t, http.MethodPost, f.signer.SignPath("/media/videos/42/cover.jpg"))
		if e := decodeError(t, resp, body); resp.StatusCode != 405 || e.Error.Code != "bad_request" || resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("POST: status %d %+v Allow %q", resp.StatusCode, e.Error, resp.Header.Get("Allow"))
		}
	})
}

func TestAllowed(t *testing.T) {
	var asked []Grant
	opts := HandlerOptions{Allowed: func(ctx context.Context, g Grant) bool {
		asked = append(asked, g)
		return !strings.HasPrefix(g.Key, "videos/42/")
	}}
	onStores(t, opts, func(t *testing.T, f *fixture) {
		asked = nil
		resp, body := f.get(t, f.signer.SignPath("/media/videos/42/cover.jpg"))
		if e := decodeError(t, resp, body); resp.StatusCode != 403 || e.Error.Code != "forbidden" {
			t.Errorf("blocked: status %d %+v", resp.StatusCode, e.Error)
		}
		master := f.signer.SignPath("/media/videos/43/hls/master.m3u8", WithPrefix("/media/videos/43/hls/"), WithGeneration(3))
		resp, _ = f.get(t, strings.Replace(master, "master.m3u8", "720p/seg_00001.m4s", 1))
		if resp.StatusCode != 200 {
			t.Errorf("allowed: status %d", resp.StatusCode)
		}
		if len(asked) != 2 || asked[0].Key != "videos/42/cover.jpg" || asked[0].Generation != 0 ||
			asked[1].Key != "videos/43/hls/720p/seg_00001.m4s" || asked[1].Generation != 3 || asked[1].Expires.IsZero() {
			t.Errorf("Allowed was asked about %+v", asked)
		}
		resp, _ = f.get(t, "/media/videos/42/cover.jpg")
		if resp.StatusCode != 403 || len(asked) != 2 {
			t.Errorf("an unsigned request reached Allowed (status %d, %d calls)", resp.StatusCode, len(asked))
		}
	})
}

// An upload that starts like a web page is never served as one: its type
// comes from its key, never from its bytes, and media carries a sandboxing
// CSP.
func TestNoSniffing(t *testing.T) {
	files := map[string][]byte{"videos/7/original": []byte("<html><script>alert(document.domain)</script></html>\n\x47\x40\x00")}
	store, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for k, b := range files {
		if _, err := store.Put(t.Context(), k, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	f := newFixtureOn(t, store, files, HandlerOptions{})
	resp, _ := f.get(t, f.signer.SignPath("/media/videos/7/original"))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q for an original that begins with HTML", ct)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

// immutableFor is the Cache-Control of never-changing media on f: cached
// only as long as the signed URL still works.
func immutableFor(f *fixture) string {
	return fmt.Sprintf("public, max-age=%d, immutable", f.signer.expiry()-f.signer.now().Unix())
}
