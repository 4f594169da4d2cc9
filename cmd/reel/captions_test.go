package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafov/m3u8"

	"github.com/reel-video/reel/internal/media"
	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/shared/redistest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

type captionJSON struct {
	Lang  string `json:"lang"`
	Label string `json:"label"`
	URL   string `json:"url"`
}

// TestCaptions: an owner uploads SRT and WebVTT captions to a ready video;
// the Video JSON lists them with signed WebVTT URLs, the HLS master lists
// them as subtitle renditions that ffprobe reads over HTTP, DELETE takes
// them away again, and what is not the owner's or not captions is refused.
func TestCaptions(t *testing.T) {
	srv := startServer(t, nil)
	owner := signUp(t, srv, "captioner")
	other := signUp(t, srv, "stranger")
	r := uploadMultipart(t, srv, owner, mediatest.Clip(t, "landscape"), map[string]string{"title": "with captions"}, false)
	expect(t, r, http.StatusAccepted, "")
	var v videoJSON
	r.json(t, &v)
	if v = waitVideo(t, srv, owner, v.ID); v.Status != "ready" {
		t.Fatalf("video ended %+v", v)
	}
	path := fmt.Sprintf("/api/v1/videos/%d/captions/", v.ID)

	srt := "1\r\n00:00:01,000 --> 00:00:02,000\r\nOlá <i>mundo</i>\r\n\r\n2\r\n00:00:02,000 --> 00:00:02,900\r\n<script>alert(1)</script>\r\n"
	r = srv.do("PUT", path+"pt-br", owner, srt, "Content-Type", "application/x-subrip")
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT SRT: %d %s", r.StatusCode, r.Body)
	}
	vtt := "WEBVTT\n\n00:00.500 --> 00:01.500 align:start\nHello\n"
	r = srv.do("PUT", path+"en?label=English+CC", owner, vtt, "Content-Type", "text/vtt")
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT WebVTT: %d %s", r.StatusCode, r.Body)
	}

	// Everyone who sees the video sees its captions, with signed URLs.
	caps := videoCaptions(t, srv, "", v.ID)
	if len(caps) != 2 || caps[0].Lang != "en" || caps[0].Label != "English CC" || caps[1].Lang != "pt-BR" || caps[1].Label != "Português (Brasil)" {
		t.Fatalf("captions %+v", caps)
	}
	body, ct := get(t, caps[1].URL)
	want := "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n00:00:01.000 --> 00:00:02.000\nOlá <i>mundo</i>\n\n" +
		"00:00:02.000 --> 00:00:02.900\n&lt;script&gt;alert(1)&lt;/script&gt;\n"
	if body != want || !strings.HasPrefix(ct, "text/vtt") {
		t.Errorf("pt-BR file (%s):\n%s\nwant\n%s", ct, body, want)
	}
	unsigned, err := http.Get(strings.Split(caps[1].URL, "?")[0])
	if err != nil {
		t.Fatal(err)
	}
	unsigned.Body.Close()
	if unsigned.StatusCode != http.StatusForbidden {
		t.Errorf("the WebVTT file without its signature: %d", unsigned.StatusCode)
	}

	// The master lists both as subtitle renditions; their playlists are
	// one segment lasting the video, and ffprobe reads them.
	master := fetchMaster(t, v.HLSURL)
	if len(master.Variants) == 0 {
		t.Fatal("no variants")
	}
	subs := subtitleRenditions(master)
	if len(subs) != 2 || subs["en"] == nil || subs["pt-BR"] == nil || subs["en"].Name != "English CC" {
		t.Fatalf("subtitle renditions %v", subs)
	}
	for _, variant := range master.Variants {
		if variant.Subtitles != "subs" {
			t.Errorf("variant %s has SUBTITLES=%q", variant.URI, variant.Subtitles)
		}
	}
	playlistURL := resolve(t, v.HLSURL, subs["pt-BR"].URI)
	text, _ := get(t, playlistURL)
	p, listType, err := m3u8.DecodeFrom(strings.NewReader(text), true)
	if err != nil || listType != m3u8.MEDIA {
		t.Fatalf("subtitle playlist: %v\n%s", err, text)
	}
	subPlaylist := p.(*m3u8.MediaPlaylist)
	seconds := float64(v.DurationMS) / 1000
	if subPlaylist.Count() != 1 || subPlaylist.TargetDuration != math.Ceil(seconds) || math.Abs(subPlaylist.Segments[0].Duration-seconds) > 0.001 || !subPlaylist.Closed {
		t.Errorf("subtitle playlist for a %d ms video:\n%s", v.DurationMS, text)
	}
	if segment, _ := get(t, resolve(t, playlistURL, subPlaylist.Segments[0].URI)); segment != want {
		t.Errorf("the playlist's segment is not the caption file:\n%s", segment)
	}
	if hls := probe(t, v.HLSURL); hls.count("video") != len(v.Renditions) || hls.count("audio") == 0 {
		t.Errorf("ffprobe of the master with captions: %+v", hls)
	}
	if sub := probe(t, playlistURL); sub.count("subtitle") != 1 || sub.Streams[0].CodecName != "webvtt" {
		t.Errorf("ffprobe of the subtitle playlist: %+v", sub)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "packet=pts_time", "-of", "csv=p=0", playlistURL).Output()
	if err != nil || strings.Fields(string(out))[0] != "1.000000" {
		t.Errorf("ffprobe's first cue of pt-BR: %q, %v; want it at 1 s", out, err)
	}

	// What a viewer's player makes of it: hls.js in Chromium lists both
	// languages and shows pt-BR's cues at their times.
	got := hlsjsCaptions(t, srv.URL, v.HLSURL, "pt-BR")
	names := map[string]string{}
	for _, tr := range got.Tracks {
		names[tr.Lang] = tr.Name
	}
	if len(got.Tracks) != 2 || names["en"] != "English CC" || names["pt-BR"] != "Português (Brasil)" || got.Shown != "pt-BR" {
		t.Errorf("hls.js lists %+v and shows %q", got.Tracks, got.Shown)
	}
	if len(got.Cues) != 2 || got.Cues[0].Start != 1 || got.Cues[0].End != 2 || got.Cues[0].Text != "Olá <i>mundo</i>" ||
		got.Cues[1].Text != "&lt;script&gt;alert(1)&lt;/script&gt;" {
		t.Errorf("hls.js shows the cues %+v", got.Cues)
	}

	// The MPD beside the master (media.WriteMPD, as the job writes it; here
	// straight into the disk store) gets the captions as text adaptation
	// sets at the next change, and ffprobe still reads it.
	hlsDir := filepath.Join(srv.env["REEL_DATA_DIR"], "blobs", "videos", strconv.FormatInt(v.ID, 10), "hls")
	if err := media.WriteMPD(hlsDir, v.DurationMS); err != nil {
		t.Fatalf("WriteMPD over a master with captions: %v", err)
	}
	r = srv.do("PUT", path+"en?label=English+CC", owner, vtt, "Content-Type", "text/vtt")
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT WebVTT again: %d %s", r.StatusCode, r.Body)
	}
	mpd, err := os.ReadFile(filepath.Join(hlsDir, "manifest.mpd"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Sets []struct {
			MimeType string `xml:"mimeType,attr"`
			Lang     string `xml:"lang,attr"`
			BaseURL  string `xml:"Representation>BaseURL"`
		} `xml:"Period>AdaptationSet"`
	}
	if err := xml.Unmarshal(mpd, &doc); err != nil {
		t.Fatalf("the MPD with captions is not XML: %v\n%s", err, mpd)
	}
	texts := map[string]string{}
	for _, set := range doc.Sets {
		if set.MimeType == "text/vtt" {
			texts[set.Lang] = set.BaseURL
		}
	}
	if len(texts) != 2 || len(doc.Sets) != 4 {
		t.Errorf("MPD adaptation sets %+v", doc.Sets)
	}
	for lang, ref := range texts {
		if b, err := os.ReadFile(filepath.Join(hlsDir, filepath.FromSlash(ref))); err != nil || !strings.HasPrefix(string(b), "WEBVTT\n") {
			t.Errorf("the MPD's %s captions %s: %v", lang, ref, err)
		}
	}
	// ffmpeg's DASH reader opens only fragments with a media extension
	// unless told otherwise (a sidecar .vtt is none): with it, it reads
	// every track, the captions as WebVTT subtitles.
	out, err = exec.Command("ffprobe", "-v", "error", "-allowed_extensions", "ALL", "-show_entries", "stream=index,codec_name,codec_type",
		"-of", "csv=p=0", filepath.Join(hlsDir, "manifest.mpd")).Output()
	streams := map[string]int{}
	seen := map[string]bool{}
	for _, line := range strings.Fields(string(out)) { // each stream is listed in its program too
		if !seen[line] {
			seen[line] = true
			streams[line[strings.IndexByte(line, ',')+1:]]++
		}
	}
	if err != nil || streams["h264,video"] != len(v.Renditions) || streams["aac,audio"] != 1 || streams["webvtt,subtitle"] != 2 {
		t.Errorf("ffprobe of the MPD with captions: %v\n%s", err, out)
	}

	// Refusals, in the error shape.
	for _, c := range []struct {
		name, token, lang, body, contentType string
		status                               int
		code                                 string
	}{
		{"anonymous", "", "fr", vtt, "text/vtt", 401, "unauthorized"},
		{"not the owner", other, "fr", vtt, "text/vtt", 403, "forbidden"},
		{"bad tag", owner, "french", vtt, "text/vtt", 400, "bad_request"},
		{"private use tag", owner, "en-x-mine", vtt, "text/vtt", 400, "bad_request"},
		{"not captions", owner, "fr", "<html><body>hi</body></html>", "text/plain", 400, "bad_request"},
		{"binary", owner, "fr", "\x89PNG\r\n\x1a\n\x00\x00", "text/plain", 400, "bad_request"},
		{"bad timestamp", owner, "fr", "1\n00:00:01.000 --> 00:00:00,500\nx\n", "application/x-subrip", 400, "bad_request"},
		{"too large", owner, "fr", "WEBVTT\n\n00:01.000 --> 00:02.000\n" + strings.Repeat("a", 600<<10) + "\n", "text/vtt", 413, "too_large"},
		{"a form", owner, "fr", vtt, "multipart/form-data; boundary=x", 415, "unsupported_media"},
		{"Latin-1", owner, "fr", vtt, "text/vtt; charset=iso-8859-1", 415, "unsupported_media"},
	} {
		r := srv.do("PUT", path+c.lang, c.token, c.body, "Content-Type", c.contentType)
		if r.StatusCode != c.status || r.errorCode(t) != c.code {
			t.Errorf("%s: %d %s; want %d %s", c.name, r.StatusCode, r.Body, c.status, c.code)
		}
	}
	expect(t, srv.do("DELETE", path+"en", other, nil), 403, "forbidden")
	expect(t, srv.do("PUT", "/api/v1/videos/999999/captions/en", owner, vtt, "Content-Type", "text/vtt"), 404, "not_found")

	// DELETE takes a language out of the JSON, the master and the store.
	if r := srv.do("DELETE", path+"pt-BR", owner, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.StatusCode, r.Body)
	}
	if after := videoCaptions(t, srv, owner, v.ID); len(after) != 1 || after[0].Lang != "en" {
		t.Errorf("captions after the deletion: %+v", after)
	}
	if subs := subtitleRenditions(fetchMaster(t, v.HLSURL)); len(subs) != 1 || subs["en"] == nil {
		t.Errorf("subtitle renditions after the deletion: %v", subs)
	}
	if resp, err := http.Get(caps[1].URL); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("the deleted file: %v %v; want 404", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	if r := srv.do("DELETE", path+"pt-BR", owner, nil); r.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE again: %d %s", r.StatusCode, r.Body)
	}

	// A private video's captions are nobody else's business: 404.
	expect(t, srv.do("PATCH", fmt.Sprintf("/api/v1/videos/%d", v.ID), owner, map[string]string{"visibility": "private"}), 200, "")
	expect(t, srv.do("PUT", path+"fr", other, vtt, "Content-Type", "text/vtt"), 404, "not_found")
	expect(t, srv.do("DELETE", path+"en", other, nil), 404, "not_found")
}

// TestCaptionsReachEveryNode: a caption put or deleted through one node
// is in the other node's answer (whose card cache held the video) in the
// very next request, as a PATCH is: the store reports the change to the
// caches, and Redis carries it to every node.
func TestCaptionsReachEveryNode(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		redis := redistest.Start(t)
		env := map[string]string{"REEL_DATABASE_URL": dbURL, "REEL_DATA_DIR": t.TempDir(),
			"REEL_SECRET": strings.Repeat("k", 40), "REEL_REDIS_URL": redis.URL}
		a := startServer(t, env)
		b := startServer(t, with(env, map[string]string{"REEL_WORKERS": "0"}))
		owner := signUp(t, a, "owner")
		v := readyVideo(t, a, owner, "public")
		path := fmt.Sprintf("/api/v1/videos/%d/captions/", v.ID)
		for _, token := range []string{"", owner} {
			if caps := videoCaptions(t, b, token, v.ID); len(caps) != 0 { // b caches the card now
				t.Fatalf("captions before any: %+v", caps)
			}
		}
		r := a.do("PUT", path+"de", owner, "WEBVTT\n\n00:00.000 --> 00:01.000\nHallo\n", "Content-Type", "text/vtt")
		if r.StatusCode != http.StatusNoContent {
			t.Fatalf("PUT: %d %s", r.StatusCode, r.Body)
		}
		for _, token := range []string{"", owner} {
			caps := videoCaptions(t, b, token, v.ID)
			if len(caps) != 1 || caps[0].Lang != "de" || caps[0].Label != "Deutsch" {
				t.Fatalf("b right after the PUT on a: %+v", caps)
			}
			if body, _ := get(t, caps[0].URL); !strings.Contains(body, "Hallo") {
				t.Errorf("b's caption URL serves %q", body)
			}
		}
		if r := a.do("DELETE", path+"de", owner, nil); r.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", r.StatusCode, r.Body)
		}
		if caps := videoCaptions(t, b, "", v.ID); len(caps) != 0 {
			t.Errorf("b right after the DELETE on a: %+v", caps)
		}
	})
}

// hlsCaptions is what web/test/captions.mjs prints.
type hlsCaptions struct {
	Tracks []struct{ Lang, Name string }
	Shown  string
	Cues   []struct {
		Start, End float64
		Text       string
	}
}

// hlsjsCaptions plays hlsURL with hls.js in Debian's Chromium, shows the
// captions of lang, and returns what the player lists and shows.
func hlsjsCaptions(t *testing.T, base, hlsURL, lang string) hlsCaptions {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, need := range []struct{ path, fix string }{
		{filepath.Join(root, "web", "node_modules", "hls.js"), "run scripts/web.sh (npm ci in web/), or make test, which does"},
		{filepath.Join(root, "web", "node_modules", "playwright-core"), "run scripts/web.sh (npm ci in web/), or make test, which does"},
		{"/usr/bin/chromium", "run scripts/deps.sh chromium (apt-get install -y chromium)"},
	} {
		if _, err := os.Stat(need.path); err != nil {
			t.Fatalf("%s: %s", need.path, need.fix)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "web", "test", "captions.mjs"))
	cmd.Env = append(os.Environ(), "REEL_URL="+base, "HLS_URL="+hlsURL, "LANG_SHOWN="+lang, "CHROMIUM=/usr/bin/chromium")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("web/test/captions.mjs: %v\n%s%s", err, stderr.String(), out)
	}
	var got hlsCaptions
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("web/test/captions.mjs printed %q: %v", out, err)
	}
	return got
}

func videoCaptions(t *testing.T, srv *instance, token string, id int64) []captionJSON {
	t.Helper()
	r := srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", id), token, nil)
	expect(t, r, 200, "")
	var v struct {
		Captions []captionJSON `json:"captions"`
	}
	r.json(t, &v)
	if v.Captions == nil {
		t.Fatalf("no captions array in %s", r.Body)
	}
	return v.Captions
}

func get(t *testing.T, u string) (body, contentType string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v %s", u, resp.StatusCode, err, b)
	}
	return string(b), resp.Header.Get("Content-Type")
}

func fetchMaster(t *testing.T, u string) *m3u8.MasterPlaylist {
	t.Helper()
	text, _ := get(t, u)
	p, listType, err := m3u8.DecodeFrom(bytes.NewReader([]byte(text)), true)
	if err != nil || listType != m3u8.MASTER {
		t.Fatalf("master: %v\n%s", err, text)
	}
	return p.(*m3u8.MasterPlaylist)
}

// subtitleRenditions are the master's SUBTITLES renditions by language.
func subtitleRenditions(master *m3u8.MasterPlaylist) map[string]*m3u8.Alternative {
	subs := map[string]*m3u8.Alternative{}
	for _, variant := range master.Variants {
		for _, a := range variant.Alternatives {
			if a.Type == "SUBTITLES" {
				subs[a.Language] = a
			}
		}
	}
	return subs
}

// resolve resolves a playlist's relative URI the way players do.
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
