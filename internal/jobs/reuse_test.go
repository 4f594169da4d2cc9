package jobs

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
)

// A reusing video's manifests list its own captions, not its origin's.
func TestStripCaptions(t *testing.T) {
	master := "#EXTM3U\n#EXT-X-VERSION:7\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Audio\",URI=\"audio/index.m3u8\"\n" +
		"#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"English\",LANGUAGE=\"en\",URI=\"captions/en.m3u8\"\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=426x240,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"audio\",SUBTITLES=\"subs\"\n240p/index.m3u8\n"
	want := "#EXTM3U\n#EXT-X-VERSION:7\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Audio\",URI=\"audio/index.m3u8\"\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=426x240,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"audio\"\n240p/index.m3u8\n"
	if got := string(stripHLSCaptions([]byte(master))); got != want {
		t.Errorf("stripped master:\n%s\nwant:\n%s", got, want)
	}
	if got := string(stripHLSCaptions([]byte(want))); got != want {
		t.Errorf("a master without captions changed:\n%s", got)
	}
	video := "  <Period>\n    <AdaptationSet contentType=\"video\" segmentAlignment=\"true\">\n      <Representation id=\"240p\"/>\n    </AdaptationSet>\n"
	mpd := "<MPD>\n" + video +
		"    <AdaptationSet contentType=\"text\" mimeType=\"text/vtt\" lang=\"en\">\n      <Representation id=\"en\"><BaseURL>captions/en.vtt</BaseURL></Representation>\n    </AdaptationSet>\n" +
		"    <AdaptationSet contentType=\"text\" mimeType=\"text/vtt\" lang=\"fr\">\n      <Representation id=\"fr\"/>\n    </AdaptationSet>\n" +
		"  </Period>\n</MPD>\n"
	wantMPD := "<MPD>\n" + video + "  </Period>\n</MPD>\n"
	if got := string(stripMPDCaptions([]byte(mpd))); got != wantMPD {
		t.Errorf("stripped MPD:\n%s\nwant:\n%s", got, wantMPD)
	}
}

// reuseStore is a fakeStore with an origin for every video: reuse says
// whether ReuseMedia finds it still there (false: deleted meanwhile).
type reuseStore struct {
	*fakeStore
	origin  *reel.Video
	reuse   bool
	claimed []int64
	listed  map[int64]bool // origins; deleted ones have no video
	users   map[int64]int  // origin → videos using it
}

func (s *reuseStore) FindMediaOrigin(_ context.Context, id int64) (*reel.Video, error) {
	if s.origin == nil {
		return nil, reel.Errorf(reel.ENOTFOUND, "none")
	}
	return s.origin, nil
}

func (s *reuseStore) ReuseMedia(ctx context.Context, id, origin int64) (bool, error) {
	s.claimed = append(s.claimed, id)
	if !s.reuse {
		return false, nil
	}
	o := s.origin
	return true, s.SetProcessed(ctx, id, reel.Processed{Status: reel.StatusReady, Progress: ptr(100), DurationMS: o.DurationMS,
		Width: o.Width, Height: o.Height, Renditions: o.Renditions, HLSKey: strings.Replace(o.HLSKey, reel.VideoKeyPrefix(origin), reel.VideoKeyPrefix(id), 1)})
}

func (s *reuseStore) IsMediaOrigin(_ context.Context, id int64) (bool, error) {
	return s.listed[id], nil
}

func (s *reuseStore) UnusedMediaOrigins(context.Context) ([]int64, error) {
	var ids []int64
	for id := range s.listed {
		if _, exists := s.videos[id]; !exists && s.users[id] == 0 {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (s *reuseStore) ForgetMediaOrigin(_ context.Context, id int64) error {
	delete(s.listed, id)
	return nil
}

const originID = 3

// putOrigin stores what the origin's job left: manifests with captions, a
// cover and segments.
func putOrigin(t *testing.T, blobs blob.Store) map[string]string {
	t.Helper()
	p := reel.VideoKeyPrefix(originID)
	files := map[string]string{
		p + "original":                  "bytes",
		p + "cover.jpg":                 "jpg",
		p + "play.mp4":                  "mp4",
		p + "hls/master.m3u8":           "#EXTM3U\n#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",URI=\"captions/en.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,SUBTITLES=\"subs\"\n240p/index.m3u8\n",
		p + "hls/captions/en.vtt":       "WEBVTT\n",
		p + "hls/240p/index.m3u8":       "#EXTM3U\n",
		p + "hls/240p/seg_000.m4s":      "seg",
		p + "hls/storyboard/sprite.jpg": "sprite",
	}
	for k, b := range files {
		if _, err := blobs.Put(t.Context(), k, strings.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// The job of an identical upload copies its own manifests and cover and is
// ready without a ladder; when the origin is deleted before the store
// records the reuse, the job transcodes instead.
func TestProcessReusesIdenticalUpload(t *testing.T) {
	for _, tc := range []struct {
		name     string
		won      bool
		duration int64 // the origin's
		claims   int
		gone     bool // the origin's files are being deleted
	}{
		{"reused", true, 3000, 1, false},
		{"origin deleted meanwhile", false, 3000, 1, false},
		{"origin's files deleted meanwhile", true, 3000, 0, true},
		// Processed before the limits were lowered: the job refuses or
		// transcodes as it would any upload.
		{"origin over today's limits", true, 2 * testLimits.MaxDuration.Milliseconds(), 0, false},
	} {
		won := tc.won && tc.claims > 0
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "landscape", testLimits)
			putOrigin(t, h.blobs)
			if tc.gone {
				if err := h.blobs.Delete(t.Context(), reel.HLSKeyPrefix(originID)+"master.m3u8"); err != nil {
					t.Fatal(err)
				}
			}
			rs := &reuseStore{fakeStore: h.store, reuse: tc.won, origin: &reel.Video{ID: originID, Status: reel.StatusReady,
				HLSKey: reel.HLSKeyPrefix(originID) + "master.m3u8", DurationMS: tc.duration, Width: 640, Height: 360,
				Renditions: []reel.Rendition{{Width: 426, Height: 240, Bandwidth: 1}}}}
			h.worker.store = rs
			published := 0
			h.worker.cfg.PublishManifests = func(_ context.Context, id int64) error {
				if id != videoID {
					t.Errorf("published the manifests of video %d", id)
				}
				published++
				return nil
			}
			if err := h.run(t, 1); err != nil {
				t.Fatal(err)
			}
			v := h.store.video(videoID)
			if v.Status != reel.StatusReady || len(rs.claimed) != tc.claims {
				t.Fatalf("video %+v, claims %v", v, rs.claimed)
			}
			laddered := h.stored(t, reel.HLSKeyPrefix(videoID)+"240p/index.m3u8")
			if won {
				if laddered || h.stored(t, reel.PlayKey(videoID)) {
					t.Error("a reusing video ran the ladder")
				}
				obj, err := h.blobs.Open(t.Context(), reel.HLSKeyPrefix(videoID)+"master.m3u8")
				if err != nil {
					t.Fatal(err)
				}
				defer obj.Close()
				master, _ := io.ReadAll(obj)
				if want := "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n240p/index.m3u8\n"; string(master) != want {
					t.Errorf("own master:\n%s\nwant:\n%s", master, want)
				}
				if !h.stored(t, reel.CoverKey(videoID, "jpg")) || h.stored(t, reel.HLSKeyPrefix(videoID)+"captions/en.vtt") {
					t.Error("the reusing video did not get its own cover, or got the origin's captions")
				}
				if published != 2 {
					t.Errorf("manifests published %d times, want before and after ready", published)
				}
			} else if !laddered || len(v.Renditions) != 2 {
				t.Errorf("the video whose origin went away was not transcoded: %+v", v)
			}
		})
	}
}

// Deleting an origin keeps its shared outputs while a video uses them;
// deleting its last user deletes them, whichever goes first.
func TestDeleteFilesSharedOutputs(t *testing.T) {
	for _, originFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "origin first", false: "user first"}[originFirst], func(t *testing.T) {
			blobs, err := blob.NewDisk(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			files := putOrigin(t, blobs)
			const userID = 9
			user := reel.VideoKeyPrefix(userID)
			for _, k := range []string{user + "original", user + "cover.jpg", user + "hls/master.m3u8"} {
				blobs.Put(t.Context(), k, bytes.NewReader([]byte("x")))
			}
			store := &reuseStore{fakeStore: &fakeStore{videos: map[int64]*reel.Video{originID: {ID: originID}, userID: {ID: userID}}},
				listed: map[int64]bool{originID: true}, users: map[int64]int{originID: 1}}
			w := &deleteFilesWorker{store: store, blobs: blobs, log: slog.New(slog.DiscardHandler)}
			deleteVideo := func(id int64) {
				t.Helper()
				delete(store.videos, id) // the deletion commits, then its job runs
				if id == userID {
					store.users[originID] = 0
				}
				if err := w.Work(t.Context(), &river.Job[DeleteFilesArgs]{JobRow: &rivertype.JobRow{}, Args: DeleteFilesArgs{VideoID: id}}); err != nil {
					t.Fatal(err)
				}
			}
			keys := func(prefix string) []string {
				infos, err := blobs.List(t.Context(), prefix)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, i := range infos {
					out = append(out, i.Key)
				}
				return out
			}
			var shared []string
			for k := range files {
				if _, rest, _ := reel.SplitVideoKey(k); reel.SharedOutput(rest) {
					shared = append(shared, k)
				}
			}
			slices.Sort(shared)
			if originFirst {
				deleteVideo(originID)
				if got := keys(reel.VideoKeyPrefix(originID)); !slices.Equal(got, shared) {
					t.Errorf("after deleting the origin, its prefix holds %v; want its shared outputs %v", got, shared)
				}
				deleteVideo(userID)
			} else {
				deleteVideo(userID)
				if got := keys(reel.VideoKeyPrefix(originID)); len(got) != len(files) {
					t.Errorf("deleting the user took files of the origin: %v left", got)
				}
				deleteVideo(originID)
			}
			if left := keys(reel.VideosKeyPrefix); len(left) != 0 || len(store.listed) != 0 {
				t.Errorf("after both deletions: %v left, origins listed %v", left, store.listed)
			}
		})
	}
}
