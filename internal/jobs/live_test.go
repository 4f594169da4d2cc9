package jobs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
	"github.com/reel-video/reel/internal/media"
)

// A playlist read while ffmpeg rewrites it counts only its complete lines;
// whatever type ffmpeg's copy declares, the live copy is an EVENT playlist
// that only ever grows, and ends with ENDLIST once the ladder is done.
func TestParseLivePlaylist(t *testing.T) {
	const header = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n"
	full := header + "#EXTINF:4.000000,\nseg_000.m4s\n#EXTINF:4.000000,\nseg_001.m4s\n#EXTINF:1.500000,\nseg_002.m4s\n#EXT-X-ENDLIST\n"
	var previous string
	for _, cut := range []int{len(header) - 5, len(header), len(header) + 10, strings.Index(full, "seg_001") + 4, strings.Index(full, "seg_001") + 12, len(full) - 1, len(full)} {
		pl, err := parseLivePlaylist([]byte(full[:cut]))
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		want := strings.Count(full[:cut], ".m4s\n")
		if len(pl.entries) != want {
			t.Errorf("cut at %d: %d segments, want %d", cut, len(pl.entries), want)
		}
		if want == 0 {
			continue
		}
		if pl.init != "init.mp4" {
			t.Errorf("init %q", pl.init)
		}
		text := string(pl.render(false))
		if !strings.HasPrefix(text, "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n") || strings.Contains(text, "VOD") || strings.Contains(text, "ENDLIST") {
			t.Errorf("cut at %d: live playlist\n%s", cut, text)
		}
		if !strings.HasPrefix(text, previous) {
			t.Errorf("the live playlist changed instead of growing:\n%s\nthen\n%s", previous, text)
		}
		previous = text
	}
	pl, _ := parseLivePlaylist([]byte(full))
	if text := string(pl.render(true)); !strings.HasPrefix(text, previous) || !strings.HasSuffix(text, "seg_002.m4s\n#EXT-X-ENDLIST\n") {
		t.Errorf("complete live playlist\n%s", text)
	}
	for _, bad := range []string{"../../cover.jpg\n", "/etc/passwd\n", "sub/seg.m4s\n"} {
		if _, err := parseLivePlaylist([]byte(header + "#EXTINF:4,\n" + bad)); err == nil {
			t.Errorf("a playlist naming %q was accepted", bad)
		}
	}
	if _, err := parseLivePlaylist([]byte("#EXTM3U\n#EXT-X-MAP:URI=\"../x\"\n")); err == nil {
		t.Error("an init segment outside the directory was accepted")
	}
}

// recordingStore records the order of the objects stored and every
// version of the live playlists.
type recordingStore struct {
	blob.Store
	mu       sync.Mutex
	order    []string
	versions map[string][]string
}

func (s *recordingStore) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	n, err := s.Store.Put(ctx, key, bytes.NewReader(b))
	if err == nil {
		s.record(key, string(b))
	}
	return n, err
}

func (s *recordingStore) PutFile(ctx context.Context, key, path string) error {
	err := s.Store.PutFile(ctx, key, path)
	if err == nil {
		s.record(key, "")
	}
	return err
}

func (s *recordingStore) record(key, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order = append(s.order, key)
	if strings.HasSuffix(key, "/"+liveName) {
		s.versions[key] = append(s.versions[key], body)
	}
}

func (s *recordingStore) stored() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// The watcher publishes the ladder's output as ffmpeg writes it, faked
// here step by step: each segment once its playlist lists it (the init
// segment first, the playlist after what it names), the early master only
// once every rendition (the video rung and the audio) has a segment, and
// recorded as the video's HLS master while it is still processing. finish
// stores the rest and ENDLIST; the files stay where ffmpeg wrote them.
func TestLiveWatcherPublishesWhileTheLadderRuns(t *testing.T) {
	disk, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &recordingStore{Store: disk, versions: map[string][]string{}}
	videos := &fakeStore{videos: map[int64]*reel.Video{videoID: {ID: videoID, Status: reel.StatusProcessing}}}
	lived := make(chan struct{})
	w := &processWorker{store: videos, blobs: store, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		cfg: Config{OnLive: func(context.Context, int64) { close(lived) }}}

	dir := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const head = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI=\"init.mp4\"\n"
	master := []byte("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Audio\",URI=\"audio/live.m3u8\"\n\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=426x240,AUDIO=\"audio\"\n240p/live.m3u8\n")
	out, err := w.newOutputs(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gone := make(chan error, 1)
	live, err := w.newLiveWatcher(videoID, out, master, func(err error) { gone <- err })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	live.start(ctx)
	defer live.stop()

	prefix := reel.HLSKeyPrefix(videoID)
	waitStored := func(key, contains string) string {
		t.Helper()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if obj, err := store.Open(ctx, key); err == nil {
				b, _ := io.ReadAll(obj)
				obj.Close()
				if strings.Contains(string(b), contains) {
					return string(b)
				}
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s never held %q; stored %v", key, contains, store.stored())
			case <-tick.C:
			}
		}
	}

	// The video rung has a segment, and a second one half listed; the
	// audio has nothing yet.
	write("240p/init.mp4", "video init")
	write("240p/seg_000.m4s", "video 0")
	write("240p/seg_001.m4s", "video 1, being written")
	write("240p/index.m3u8", head+"#EXTINF:4.000000,\nseg_000.m4s\n#EXTINF:4.000000,\nseg_00")
	text := waitStored(prefix+"240p/live.m3u8", "seg_000.m4s")
	if strings.Contains(text, "seg_001") || strings.Contains(text, "ENDLIST") {
		t.Errorf("first live playlist\n%s", text)
	}
	if _, err := store.Stat(ctx, prefix+"240p/seg_001.m4s"); err == nil {
		t.Error("a segment not listed yet was stored")
	}
	if _, err := store.Stat(ctx, LiveKey(videoID)); err == nil {
		t.Error("the early master was stored before the audio had a segment")
	}
	if v := videos.video(videoID); v.HLSKey != "" {
		t.Errorf("HLS master %q recorded before every rendition plays", v.HLSKey)
	}

	// The audio's first segment: the early master goes up.
	write("audio/init.mp4", "audio init")
	write("audio/seg_000.m4s", "audio 0")
	write("audio/index.m3u8", head+"#EXTINF:4.000000,\nseg_000.m4s\n")
	select {
	case <-lived:
	case <-ctx.Done():
		t.Fatalf("the early master was never published; stored %v", store.stored())
	}
	if v := videos.video(videoID); v.HLSKey != LiveKey(videoID) || v.Status != reel.StatusProcessing {
		t.Errorf("video %s with HLS master %q, want processing with %q", v.Status, v.HLSKey, LiveKey(videoID))
	}
	if got := waitStored(LiveKey(videoID), "240p/live.m3u8"); got != string(master) {
		t.Errorf("early master\n%s", got)
	}

	// The second video segment is complete.
	write("240p/index.m3u8", head+"#EXTINF:4.000000,\nseg_000.m4s\n#EXTINF:4.000000,\nseg_001.m4s\n")
	waitStored(prefix+"240p/live.m3u8", "seg_001.m4s")

	// ffmpeg is done: the ladder rewrote the playlists as VOD.
	write("240p/seg_002.m4s", "video 2")
	write("240p/index.m3u8", strings.Replace(head, "EVENT", "VOD", 1)+
		"#EXTINF:4.000000,\nseg_000.m4s\n#EXTINF:4.000000,\nseg_001.m4s\n#EXTINF:2.000000,\nseg_002.m4s\n#EXT-X-ENDLIST\n")
	write("audio/index.m3u8", strings.Replace(head, "EVENT", "VOD", 1)+"#EXTINF:4.000000,\nseg_000.m4s\n#EXT-X-ENDLIST\n")
	if err := live.finish(ctx); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"240p/live.m3u8", "audio/live.m3u8"} {
		versions := store.versions[prefix+rel]
		last := versions[len(versions)-1]
		if !strings.HasSuffix(last, "#EXT-X-ENDLIST\n") || !strings.Contains(last, "#EXT-X-PLAYLIST-TYPE:EVENT\n") {
			t.Errorf("%s at the end\n%s", rel, last)
		}
		for i := 1; i < len(versions); i++ {
			if !strings.HasPrefix(versions[i], versions[i-1]) {
				t.Errorf("%s changed instead of growing:\n%s\nthen\n%s", rel, versions[i-1], versions[i])
			}
		}
	}

	// Each object after what it needs; each stored once; ffmpeg's files
	// still in place, and known as stored.
	order := store.stored()
	at := map[string]int{}
	for i, key := range order {
		if _, twice := at[key]; twice && !strings.HasSuffix(key, liveName) {
			t.Errorf("%s stored twice", key)
		}
		at[key] = i
	}
	for _, before := range [][2]string{
		{"240p/init.mp4", "240p/seg_000.m4s"}, {"240p/seg_000.m4s", "240p/live.m3u8"},
		{"audio/init.mp4", "audio/seg_000.m4s"}, {"audio/seg_000.m4s", "live.m3u8"}, {"240p/seg_000.m4s", "live.m3u8"},
	} {
		if at[prefix+before[0]] > at[prefix+before[1]] {
			t.Errorf("%s stored after %s", before[0], before[1])
		}
	}
	for _, rel := range []string{"240p/init.mp4", "240p/seg_000.m4s", "240p/seg_002.m4s", "audio/seg_000.m4s"} {
		if _, err := os.Stat(filepath.Join(dir, rel)); err != nil || !out.isStored(rel) {
			t.Errorf("%s: left in place %v, known as stored %v", rel, err == nil, out.isStored(rel))
		}
	}
	if out.isStored("240p/index.m3u8") {
		t.Error("ffmpeg's own playlist was stored: the job stores it (VOD) with the rest")
	}
	select {
	case err := <-gone:
		t.Errorf("the watcher took the video for deleted: %v", err)
	default:
	}
}

// A video deleted while the ladder runs stops it: the watcher's record
// of the early master finds the video gone and says so.
func TestLiveWatcherStopsADeletedVideo(t *testing.T) {
	disk, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &processWorker{store: &fakeStore{videos: map[int64]*reel.Video{}}, blobs: disk, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "240p"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"init.mp4": "i", "seg_000.m4s": "s", "index.m3u8": "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4,\nseg_000.m4s\n"} {
		if err := os.WriteFile(filepath.Join(dir, "240p", name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := w.newOutputs(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gone := make(chan error, 1)
	live, err := w.newLiveWatcher(videoID, out, []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n240p/live.m3u8\n"), func(err error) {
		select {
		case gone <- err:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	live.start(ctx)
	defer live.stop()
	select {
	case err := <-gone:
		if reel.ErrorCode(err) != reel.ENOTFOUND {
			t.Errorf("gone with %v, want ENOTFOUND", err)
		}
	case <-ctx.Done():
		t.Fatal("the watcher never noticed the video was deleted")
	}
}

// The early master must name the live playlists, each in its directory.
func TestLiveWatcherRefusesOtherMasters(t *testing.T) {
	w := &processWorker{}
	out := &outputs{}
	for _, master := range []string{"#EXTM3U\n", "#EXTM3U\n240p/index.m3u8\n", "#EXTM3U\n../x/live.m3u8\n", "#EXTM3U\nlive.m3u8\n"} {
		if _, err := w.newLiveWatcher(videoID, out, []byte(master), func(error) {}); err == nil {
			t.Errorf("master %q accepted", master)
		}
	}
}

// Through a whole job on a clip that cannot be remuxed: the early master
// is recorded while the video still processes, and the job does not
// become ready while OnLive holds it. What the early master names is
// stored: each live playlist and the segments it lists.
func TestProcessPlaysBeforeReady(t *testing.T) {
	h := newHarness(t, "vp9", testLimits)
	held, release := make(chan reel.Video, 1), make(chan struct{})
	h.worker.cfg.OnLive = func(ctx context.Context, id int64) {
		held <- h.store.video(id)
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
	done := make(chan error, 1)
	go func() { done <- h.run(t, 1) }()
	var v reel.Video
	select {
	case v = <-held:
	case err := <-done:
		t.Fatalf("the job ended (%v) without publishing its early master", err)
	}
	if v.Status != reel.StatusProcessing || v.HLSKey != LiveKey(videoID) {
		t.Fatalf("at the early master: video %s with HLS master %q", v.Status, v.HLSKey)
	}
	prefix := reel.HLSKeyPrefix(videoID)
	for _, uri := range media.MasterURIs([]byte(h.read(t, LiveKey(videoID)))) {
		pl, err := parseLivePlaylist([]byte(h.read(t, prefix+uri)))
		if err != nil || len(pl.entries) == 0 {
			t.Fatalf("%s: %v, %d segments", uri, err, len(pl.entries))
		}
		for _, name := range []string{pl.init, pl.entries[0].uri} {
			if !h.stored(t, prefix+path.Join(path.Dir(uri), name)) {
				t.Errorf("%s names %s, which is not stored", uri, name)
			}
		}
	}
	// Held: the job waits, whatever the ladder did meanwhile.
	if v := h.store.video(videoID); v.Status != reel.StatusProcessing {
		t.Fatalf("video %s while OnLive holds the job", v.Status)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := h.store.video(videoID); v.Status != reel.StatusReady || v.HLSKey != prefix+"master.m3u8" {
		t.Errorf("video %s with HLS master %q, want ready with the final one", v.Status, v.HLSKey)
	}
}

// PublishManifests runs once the final master and the MPD are stored, the
// video not ready yet, and again once it is ready; a failure of the first
// call fails the attempt (the manifests would lack the video's captions).
func TestProcessPublishesManifests(t *testing.T) {
	h := newHarness(t, "noaudio", testLimits)
	prefix := reel.HLSKeyPrefix(videoID)
	var calls []string
	h.worker.cfg.PublishManifests = func(ctx context.Context, id int64) error {
		v := h.store.video(id)
		calls = append(calls, v.Status)
		for _, key := range []string{prefix + "master.m3u8", prefix + "manifest.mpd"} {
			if !h.stored(t, key) {
				t.Errorf("PublishManifests called (video %s) before %s is stored", v.Status, key)
			}
		}
		return nil
	}
	if err := h.run(t, 1); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(calls, " "); got != "processing ready" {
		t.Errorf("PublishManifests saw the video %q, want \"processing ready\"", got)
	}

	h = newHarness(t, "noaudio", testLimits)
	h.worker.cfg.PublishManifests = func(context.Context, int64) error { return errors.New("captions store away") }
	if err := h.run(t, 1); err == nil || !strings.Contains(err.Error(), "captions store away") {
		t.Errorf("Work = %v, want the failure of PublishManifests", err)
	}
	if v := h.store.video(videoID); v.Status == reel.StatusReady {
		t.Error("the video is ready although its manifests were not published")
	}
}
