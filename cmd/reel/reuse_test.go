package main

import (
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reel-video/reel/internal/blob/s3test"
	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// TestIdenticalUploads uploads the same bytes twice: the second video is
// ready without a ladder run (no second set of segments is stored; the job
// says it reused the first's outputs), plays through its own signed URLs,
// and keeps playing when the other is deleted, in either order; once both
// are gone nothing of either is left. A different file is transcoded. On
// disk with SQLite, and on S3 with PostgreSQL.
func TestIdenticalUploads(t *testing.T) {
	onEachStore(t, nil, func(t *testing.T, env map[string]string, s *s3test.Server) {
		dataDir := t.TempDir()
		env = with(env, map[string]string{"REEL_DATA_DIR": dataDir})
		if s != nil {
			env["REEL_DATABASE_URL"] = sqltest.PostgresURL(t)
		}
		srv := startServer(t, env)
		alice, bob := signUp(t, srv, "alice"), signUp(t, srv, "bob")
		// stored lists the keys of the blob store under prefix.
		stored := func(prefix string) []string {
			if s != nil {
				var keys []string
				for _, k := range s.Keys(t, "reel/"+prefix) {
					keys = append(keys, strings.TrimPrefix(k, "reel/"))
				}
				return keys
			}
			var keys []string
			root := filepath.Join(dataDir, "blobs")
			filepath.WalkDir(filepath.Join(root, filepath.FromSlash(prefix)), func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(root, path)
					keys = append(keys, filepath.ToSlash(rel))
				}
				return nil
			})
			return keys
		}
		segments := func() int {
			n := 0
			for _, k := range stored("videos/") {
				if strings.HasSuffix(k, ".m4s") {
					n++
				}
			}
			return n
		}
		reusedLogged := func(id int64) bool {
			for _, l := range srv.stderr.logLines() {
				if l["msg"] == "video reused the outputs of an identical upload" && l["video_id"] == float64(id) {
					return true
				}
			}
			return false
		}
		upload := func(token, kind string) videoJSON {
			t.Helper()
			r := uploadMultipart(t, srv, token, mediatest.Clip(t, kind), nil, false)
			expect(t, r, http.StatusAccepted, "")
			var v videoJSON
			r.json(t, &v)
			if v = waitVideo(t, srv, token, v.ID); v.Status != "ready" {
				t.Fatalf("video ended %+v", v)
			}
			return v
		}
		prefix := func(v videoJSON) string { return fmt.Sprintf("videos/%d/", v.ID) }
		gone := func(vs ...videoJSON) func() bool {
			return func() bool {
				for _, v := range vs {
					if len(stored(prefix(v))) > 0 {
						return false
					}
				}
				return true
			}
		}

		// Each order of deletion, with its own pair of identical uploads.
		for _, originFirst := range []bool{true, false} {
			kind := map[bool]string{true: "noaudio", false: "landscape"}[originFirst]
			origin := upload(alice, kind)
			before := segments()
			reuser := upload(bob, kind)
			if reuser.SHA256 != origin.SHA256 {
				t.Fatalf("the same file hashed %s and %s", origin.SHA256, reuser.SHA256)
			}
			t.Logf("the identical upload's job took %v ms, the origin's %v ms", tookMS(srv, reuser.ID), tookMS(srv, origin.ID))
			if !reusedLogged(reuser.ID) || reusedLogged(origin.ID) {
				t.Errorf("the job did not say video %d reused video %d's outputs", reuser.ID, origin.ID)
			}
			if n := segments(); n != before {
				t.Errorf("%d segments stored for the identical upload", n-before)
			}
			for _, k := range stored(prefix(reuser)) {
				// Its own files only: the original, the covers and the manifests (per-video: its captions go in them).
				if !strings.Contains(k, "/original") && !strings.Contains(k, "/cover.") && !strings.HasSuffix(k, "/hls/master.m3u8") &&
					!strings.HasSuffix(k, "/hls/manifest.mpd") {
					t.Errorf("the reusing video stored %s", k)
				}
			}
			if reuser.DurationMS != origin.DurationMS || reuser.Width != origin.Width || !slices.Equal(reuser.Renditions, origin.Renditions) {
				t.Errorf("the reusing video's facts %+v differ from the origin's %+v", reuser, origin)
			}
			if !strings.Contains(reuser.HLSURL, "/"+prefix(reuser)) || !strings.Contains(reuser.PlayURL, "/"+prefix(reuser)) {
				t.Errorf("the reusing video's URLs are not its own: %s %s", reuser.HLSURL, reuser.PlayURL)
			}
			plays(t, reuser)
			plays(t, origin)

			first, second := origin, reuser
			if !originFirst {
				first, second = reuser, origin
			}
			expect(t, srv.do("DELETE", fmt.Sprintf("/api/v1/videos/%d", first.ID), map[bool]string{true: alice, false: bob}[originFirst], nil), http.StatusNoContent, "")
			// The deleted video's own files go; what the other uses stays.
			waitFor(t, "the deleted video's own files to be removed", func() bool {
				for _, k := range stored(prefix(first)) {
					if strings.Contains(k, "/original") || strings.Contains(k, "/cover.") || strings.HasSuffix(k, "/master.m3u8") {
						return false
					}
				}
				return true
			})
			plays(t, second)
			expect(t, srv.do("DELETE", fmt.Sprintf("/api/v1/videos/%d", second.ID), map[bool]string{true: bob, false: alice}[originFirst], nil), http.StatusNoContent, "")
			waitFor(t, "every file of both videos to be removed", gone(origin, reuser))
		}

		// A different file is transcoded.
		before := segments()
		other := upload(bob, "portrait")
		if reusedLogged(other.ID) || segments() == before {
			t.Errorf("a different file reused outputs (%d segments stored)", segments()-before)
		}
		plays(t, other)
	})
}

// plays fetches, through v's signed URLs, its master playlist, every
// variant playlist, init segment and segment it names, the MP4 and the
// cover, and decodes the HLS and the MP4 with ffprobe.
func plays(t *testing.T, v videoJSON) {
	t.Helper()
	resp, master := fetch(t, "GET", v.HLSURL)
	if resp.StatusCode != 200 {
		t.Fatalf("video %d: master %d", v.ID, resp.StatusCode)
	}
	base := v.HLSURL[:strings.LastIndex(v.HLSURL, "/")+1]
	fetched := 0
	for _, variant := range uris(string(master)) {
		// Signed by prefix: relative URLs resolve under the same signature.
		vURL := base + variant
		resp, playlist := fetch(t, "GET", vURL)
		if resp.StatusCode != 200 {
			t.Fatalf("video %d: %s answered %d", v.ID, variant, resp.StatusCode)
		}
		vBase := vURL[:strings.LastIndex(vURL, "/")+1]
		for _, seg := range uris(string(playlist)) {
			if resp, body := fetch(t, "GET", vBase+seg); resp.StatusCode != 200 || len(body) == 0 {
				t.Fatalf("video %d: %s%s answered %d", v.ID, variant, seg, resp.StatusCode)
			}
			fetched++
		}
	}
	if fetched == 0 {
		t.Fatalf("video %d: no segment in its playlists", v.ID)
	}
	if hls := probe(t, v.HLSURL); hls.count("video") != len(v.Renditions) {
		t.Errorf("video %d: HLS has %d video streams for %d renditions", v.ID, hls.count("video"), len(v.Renditions))
	}
	if mp4 := probe(t, v.PlayURL); mp4.count("video") != 1 {
		t.Errorf("video %d: play_url has %d video streams", v.ID, mp4.count("video"))
	}
	if status(t, v.CoverURL) != 200 {
		t.Errorf("video %d: cover %d", v.ID, status(t, v.CoverURL))
	}
}

// uris returns the URIs a playlist names: its lines that are not tags, and
// the URI attributes of its tags (EXT-X-MAP, EXT-X-MEDIA).
func uris(playlist string) []string {
	var out []string
	for _, l := range strings.Split(playlist, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "":
		case strings.HasPrefix(l, "#"):
			if _, after, ok := strings.Cut(l, `URI="`); ok {
				if uri, _, ok := strings.Cut(after, `"`); ok {
					out = append(out, uri)
				}
			}
		default:
			out = append(out, l)
		}
	}
	return out
}

// tookMS is how long the job of video id took, from its log line.
func tookMS(srv *instance, id int64) any {
	for _, l := range srv.stderr.logLines() {
		if l["msg"] == "video ready" && l["video_id"] == float64(id) {
			return l["took_ms"]
		}
	}
	return nil
}
