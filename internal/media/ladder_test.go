package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/abema/go-mp4"
	"github.com/grafov/m3u8"
)

// TestLadder checks what a player and a user would: the master playlist and
// its attributes, decodable renditions of the right size and shape, segments
// that each start with a keyframe at the same instants in every rendition,
// and a progressive MP4 that starts playing before it is downloaded.
func TestLadder(t *testing.T) {
	for _, c := range goodClips {
		for _, fast := range []bool{false, true} {
			name := c.kind
			if fast {
				// The same outputs, from two processes (see splitFirstRung).
				name += "/fast-first-rung"
			}
			t.Run(name, func(t *testing.T) { testLadder(t, c, fast) })
		}
	}
}

func testLadder(t *testing.T, c goodClip, fast bool) {
	t.Parallel()
	ctx := context.Background()
	info, err := Probe(ctx, clip(t, c.kind))
	if err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	var progress []int
	res, err := Ladder(ctx, clip(t, c.kind), outDir, info, LadderOptions{
		ProgressiveMP4: true,
		FastFirstRung:  fast,
		// The storyboard's one sheet once made ffmpeg's out_time jump to
		// the end: progress must still advance with the renditions.
		Storyboard: true,
		Progress:   func(p int) { progress = append(progress, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	// ffmpeg reports twice a second: the 10 s clip gets several.
	if !increasing(progress) || progress[0] < 0 || progress[len(progress)-1] > 99 ||
		(info.DurationMS >= 10000 && (len(progress) < 3 || progress[0] >= 50)) {
		t.Errorf("progress reports %v for %d ms, want increasing values in 0..99 (from a clip of 10 s or more, three from below 50)", progress, info.DurationMS)
	}

	master := readMaster(t, filepath.Join(outDir, res.Master))
	if res.Master != "master.m3u8" || len(master.Variants) != len(c.renditions) || len(res.Renditions) != len(c.renditions) {
		t.Fatalf("master %q with %d variants (result: %d), want master.m3u8 with %d",
			res.Master, len(master.Variants), len(res.Renditions), len(c.renditions))
	}
	audio := checkAudio(t, outDir, res, c.audio != "")
	var keyframes [][]float64
	for i, v := range master.Variants {
		r := res.Renditions[i]
		if v.Resolution != c.renditions[i] || v.Resolution != fmt.Sprintf("%dx%d", r.Width, r.Height) || v.URI != r.Playlist {
			t.Errorf("variant %d: %s %s, result %+v, want %s", i, v.Resolution, v.URI, r, c.renditions[i])
		}
		// The variant's BANDWIDTH is its video's peak plus the audio's.
		peak, average, _, _, err := measureVariant(outDir, v.URI)
		if err != nil {
			t.Fatal(err)
		}
		if audio != nil {
			peak, average = peak+audio.Bandwidth, average+audio.AverageBandwidth
		}
		if v.AverageBandwidth == 0 || v.Bandwidth < v.AverageBandwidth || int(v.Bandwidth) != peak || int(v.AverageBandwidth) != average ||
			int(v.Bandwidth) != r.Bandwidth || int(v.AverageBandwidth) != r.AverageBandwidth {
			t.Errorf("variant %d: BANDWIDTH %d AVERAGE-BANDWIDTH %d, want %d and %d; result %+v", i, v.Bandwidth, v.AverageBandwidth, peak, average, r)
		}
		if v.FrameRate != 30 {
			t.Errorf("variant %d: FRAME-RATE %v, want 30", i, v.FrameRate)
		}
		if wantGroup := map[bool]string{true: "audio"}[audio != nil]; v.Audio != wantGroup {
			t.Errorf("variant %d: AUDIO=%q, want %q", i, v.Audio, wantGroup)
		}
		keyframes = append(keyframes, checkVariant(t, outDir, v, r, c))
	}
	checkMasterText(t, outDir, res)
	checkLiveMaster(t, outDir, res, info)
	for i := 1; i < len(keyframes); i++ {
		if !slices.Equal(keyframes[i], keyframes[0]) {
			t.Errorf("keyframes of %s at %v, of %s at %v: want them aligned",
				master.Variants[i].URI, keyframes[i], master.Variants[0].URI, keyframes[0])
		}
	}

	// A player given the master's path reads every rendition, and
	// the audio.
	var probed struct{ Streams []stream }
	ffprobeJSON(t, &probed, "-show_streams", filepath.Join(outDir, res.Master))
	kinds := map[string]int{}
	for _, s := range probed.Streams {
		kinds[s.CodecType]++
	}
	if kinds["video"] < len(c.renditions) || (kinds["audio"] > 0) != (c.audio != "") {
		t.Errorf("ffprobe reads %v streams from the master playlist, want %d video and audio=%v", kinds, len(c.renditions), c.audio != "")
	}

	if res.ProgressiveMP4 != "play.mp4" {
		t.Fatalf("ProgressiveMP4 = %q, want play.mp4", res.ProgressiveMP4)
	}
	mp4Path := filepath.Join(outDir, res.ProgressiveMP4)
	faststart(t, mp4Path)
	decodes(t, mp4Path)
	checkStreams(t, mp4Path, c.renditions[0], c.audio != "") // every test clip is at most 720
}

// With FastFirstRung the lowest rung and the audio rendition are one
// ffmpeg process, the other rungs, the MP4 (with its own audio) and the
// storyboard the other; without it, or with a single rung, one process
// writes everything.
func TestSplitFirstRung(t *testing.T) {
	info := &Info{Width: 1280, Height: 720, FrameRate: 30, HasAudio: true, DurationMS: 10000}
	p := planLadder(info, LadderOptions{ProgressiveMP4: true, Storyboard: true, AudioFilter: "volume=2"})
	if _, _, ok := p.splitFirstRung(false); ok {
		t.Error("split without FastFirstRung")
	}
	first, rest, ok := p.splitFirstRung(true)
	if !ok {
		t.Fatal("no split of a ladder of several rungs")
	}
	b := boundsFor(info)
	firstArgs, restArgs := strings.Join(ladderArgs("/src", b, first), " "), strings.Join(ladderArgs("/src", b, rest), " ")
	for _, c := range []struct {
		args, has string
		want      bool
	}{
		{firstArgs, "240p/index.m3u8", true}, {firstArgs, "audio/index.m3u8", true}, {firstArgs, "volume=2", true},
		{firstArgs, "360p/", false}, {firstArgs, "play.mp4", false}, {firstArgs, "storyboard", false},
		{restArgs, "720p/index.m3u8", true}, {restArgs, "360p/index.m3u8", true}, {restArgs, "play.mp4", true},
		{restArgs, "storyboard", true}, {restArgs, "volume=2", true},
		{restArgs, "240p/", false}, {restArgs, "audio/index.m3u8", false},
	} {
		if strings.Contains(c.args, c.has) != c.want {
			t.Errorf("%q in %s: %v, want %v", c.has, c.args, !c.want, c.want)
		}
	}
	single := planLadder(&Info{Width: 426, Height: 240, FrameRate: 30, DurationMS: 5000}, LadderOptions{})
	if _, _, ok := single.splitFirstRung(true); ok {
		t.Error("a ladder of one rung was split")
	}
	if r, ok := FirstRung(info, nil); !ok || r.Short != 240 {
		t.Errorf("FirstRung = %+v, %v; want the 240 rung", r, ok)
	}
}

// With a custom ladder whose every rung is above 720, the progressive MP4
// gets an encode of its own, at 720, which carries the one audio encode
// for the audio rendition too.
func TestLadderProgressiveOnItsOwn(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "square.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=730x730:rate=30:duration=1",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1",
		"-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", src)
	outDir := filepath.Join(dir, "out")
	res, err := Ladder(context.Background(), src, outDir, nil,
		LadderOptions{Rungs: []Rung{{730, 800}}, ProgressiveMP4: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Renditions) != 1 || res.Renditions[0].Width != 730 || res.ProgressiveMP4 != "play.mp4" {
		t.Fatalf("result %+v, want one 730x730 rendition and play.mp4", res)
	}
	checkAudio(t, outDir, res, true)
	checkStreams(t, filepath.Join(outDir, res.Renditions[0].Playlist), "730x730", false)
	checkMasterText(t, outDir, res)
	mp4Path := filepath.Join(outDir, res.ProgressiveMP4)
	faststart(t, mp4Path)
	decodes(t, mp4Path)
	checkStreams(t, mp4Path, "720x720", true)
}

// checkVariant checks one video rendition and returns the times of its
// keyframes, relative to its first frame.
func checkVariant(t *testing.T, outDir string, v *m3u8.Variant, r Rendition, c goodClip) []float64 {
	t.Helper()
	playlistPath := filepath.Join(outDir, v.URI)
	dir := filepath.Dir(playlistPath)
	playlist := checkPlaylist(t, playlistPath)
	init, err := os.ReadFile(filepath.Join(dir, playlist.Map.URI))
	if err != nil {
		t.Fatal(err)
	}

	video := avcCodec(t, filepath.Join(dir, playlist.Map.URI))
	wantCodecs := video
	if c.audio != "" {
		wantCodecs += ",mp4a.40.2"
	}
	if v.Codecs != wantCodecs || r.Codecs != video {
		t.Errorf("%s: CODECS %q, result %q, want %q and %q (from the encoded stream)", v.URI, v.Codecs, r.Codecs, wantCodecs, video)
	}

	var starts []float64
	at := 0.0
	for _, seg := range playlist.Segments {
		if seg == nil {
			break
		}
		// RFC 8216: each EXTINF, rounded, is at most the target duration.
		if math.Round(seg.Duration) > playlist.TargetDuration || playlist.TargetDuration > segmentSeconds {
			t.Errorf("%s: segment %s lasts %.3fs, target duration %v", v.URI, seg.URI, seg.Duration, playlist.TargetDuration)
		}
		starts = append(starts, at)
		at += seg.Duration
		if !startsWithKeyframe(t, init, filepath.Join(dir, seg.URI)) {
			t.Errorf("%s: segment %s does not start with a keyframe", v.URI, seg.URI)
		}
	}

	checkStreams(t, playlistPath, v.Resolution, false) // the audio is a rendition of its own
	decodes(t, playlistPath)

	times, keyframes := packetTimes(t, playlistPath)
	last := times[len(times)-1]
	var want []float64
	for k := 0.0; k <= last; k += keyframeSeconds {
		want = append(want, k)
	}
	if !slices.Equal(keyframes, want) {
		t.Errorf("%s: keyframes at %v, want every 2s: %v", v.URI, keyframes, want)
	}
	for _, s := range starts {
		if !slices.Contains(keyframes, math.Round(s*100)/100) {
			t.Errorf("%s: a segment starts at %.3fs, not at a keyframe (%v)", v.URI, s, keyframes)
		}
	}
	return keyframes
}

// checkPlaylist checks what every rendition's playlist must be once Ladder
// returns: a complete VOD playlist (no longer the EVENT playlist ffmpeg
// grew), with no temporary file left beside it, whose init segment carries
// the CMAF brand.
func checkPlaylist(t *testing.T, path string) *m3u8.MediaPlaylist {
	t.Helper()
	playlist := readMedia(t, path)
	if playlist.MediaType != m3u8.VOD || !playlist.Closed {
		t.Errorf("%s: playlist type %v, ENDLIST %v; want VOD (%v) with ENDLIST", filepath.Base(path), playlist.MediaType, playlist.Closed, m3u8.VOD)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.tmp left behind (%v)", filepath.Base(path), err)
	}
	if playlist.Map == nil || playlist.Map.URI != "init.mp4" {
		t.Fatalf("%s: EXT-X-MAP %+v, want init.mp4", path, playlist.Map)
	}
	if brands := ftypBrands(t, filepath.Join(filepath.Dir(path), playlist.Map.URI)); !slices.Contains(brands, "cmfc") {
		t.Errorf("%s: init.mp4 lists the brands %v, want cmfc among them", filepath.Base(filepath.Dir(path)), brands)
	}
	return playlist
}

// ftypBrands lists the major and compatible brands of an MP4 file.
func ftypBrands(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	boxes, err := mp4.ExtractBoxWithPayload(f, nil, mp4.BoxPath{mp4.BoxTypeFtyp()})
	if err != nil || len(boxes) != 1 {
		t.Fatalf("%s: ftyp: %v (%d found)", path, err, len(boxes))
	}
	ftyp := boxes[0].Payload.(*mp4.Ftyp)
	brands := []string{string(ftyp.MajorBrand[:])}
	for _, b := range ftyp.CompatibleBrands {
		brands = append(brands, string(b.CompatibleBrand[:]))
	}
	return brands
}

// checkAudio checks the audio rendition, which must exist exactly when the
// source has audio: AAC stereo 48 kHz alone in its files, about 128 kbit/s,
// and the bitrates the result states. It returns the result's rendition.
func checkAudio(t *testing.T, outDir string, res *LadderResult, want bool) *AudioRendition {
	t.Helper()
	if !want {
		if res.Audio != nil {
			t.Errorf("an audio rendition %+v for a source without audio", res.Audio)
		}
		if _, err := os.Stat(filepath.Join(outDir, "audio")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("audio/ exists for a source without audio (%v)", err)
		}
		return nil
	}
	a := res.Audio
	if a == nil || a.Playlist != "audio/index.m3u8" || a.Codecs != "mp4a.40.2" {
		t.Fatalf("audio rendition %+v, want audio/index.m3u8 with mp4a.40.2", a)
	}
	playlistPath := filepath.Join(outDir, a.Playlist)
	checkPlaylist(t, playlistPath)
	var audios int
	for _, s := range streams(t, playlistPath) {
		if s.CodecType != "audio" || s.CodecName != "aac" || s.Channels != 2 || s.SampleRate != "48000" {
			t.Errorf("audio rendition: a %s stream %s %d channels %s Hz, want only aac stereo 48000", s.CodecType, s.CodecName, s.Channels, s.SampleRate)
		}
		audios++
	}
	if audios != 1 {
		t.Errorf("audio rendition: %d streams, want 1", audios)
	}
	decodes(t, playlistPath)
	peak, average, _, _, err := measureVariant(outDir, a.Playlist)
	if err != nil {
		t.Fatal(err)
	}
	if a.Bandwidth != peak || a.AverageBandwidth != average || average < 100_000 || average > 200_000 {
		t.Errorf("audio rendition: %+v, want the measured %d and %d, about 128 kbit/s", a, peak, average)
	}
	return a
}

// checkMasterText checks the master playlist byte for byte against the
// shape other parts of reel read and edit.
func checkMasterText(t *testing.T, outDir string, res *LadderResult) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(outDir, res.Master))
	if err != nil {
		t.Fatal(err)
	}
	want := "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
	codecs, group := "", ""
	if res.Audio != nil {
		want += `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"` + "\n"
		codecs, group = ",mp4a.40.2", `,AUDIO="audio"`
	}
	for _, r := range res.Renditions {
		want += fmt.Sprintf("\n#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,RESOLUTION=%dx%d,CODECS=\"%s%s\",FRAME-RATE=30.000%s\n%s\n",
			r.Bandwidth, r.AverageBandwidth, r.Width, r.Height, r.Codecs, codecs, group, r.Playlist)
	}
	if string(data) != want {
		t.Errorf("master playlist:\n%s\nwant:\n%s", data, want)
	}
}

// checkLiveMaster checks that LiveMaster is Ladder's master over the live
// playlists, with the rungs' nominal bitrates.
func checkLiveMaster(t *testing.T, outDir string, res *LadderResult, info *Info) {
	t.Helper()
	live := string(LiveMaster(info, nil))
	final, err := os.ReadFile(filepath.Join(outDir, res.Master))
	if err != nil {
		t.Fatal(err)
	}
	bandwidths := regexp.MustCompile(`BANDWIDTH=\d+`)
	same := func(s string) string { return bandwidths.ReplaceAllString(s, "BANDWIDTH=?") }
	if want := strings.ReplaceAll(same(string(final)), "/index.m3u8", "/live.m3u8"); same(live) != want {
		t.Errorf("LiveMaster:\n%s\nwant Ladder's master over the live playlists:\n%s", live, want)
	}
	audio := 0
	if res.Audio != nil {
		audio = 128_000
	}
	for i, r := range PlanRungs(info, nil) {
		want := fmt.Sprintf("BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,", maxrateKbps(r.VideoKbps)*1000+audio, r.VideoKbps*1000+audio)
		if i >= len(res.Renditions) || !strings.Contains(live, want+"RESOLUTION="+fmt.Sprintf("%dx%d", res.Renditions[i].Width, res.Renditions[i].Height)) {
			t.Errorf("LiveMaster: rung %v should state %s", r, want)
		}
	}
}

// checkStreams checks that a rendition is upright H.264 High of the given
// size with no rotation left to apply, and stereo 48 kHz AAC when the source
// has audio.
func checkStreams(t *testing.T, path, resolution string, audio bool) {
	t.Helper()
	var video, audios int
	for _, s := range streams(t, path) {
		switch s.CodecType {
		case "video":
			video++
			if got := fmt.Sprintf("%dx%d", s.Width, s.Height); s.CodecName != "h264" || s.Profile != "High" || got != resolution || s.rotated() {
				t.Errorf("%s: video %s %s %s rotated=%v, want h264 High %s with no rotation",
					filepath.Base(path), s.CodecName, s.Profile, got, s.rotated(), resolution)
			}
		case "audio":
			audios++
			if s.CodecName != "aac" || s.Channels != 2 || s.SampleRate != "48000" {
				t.Errorf("%s: audio %s %d channels %s Hz, want aac stereo 48000", filepath.Base(path), s.CodecName, s.Channels, s.SampleRate)
			}
		}
	}
	if video != 1 || (audios == 1) != audio || audios > 1 {
		t.Errorf("%s: %d video and %d audio streams, want 1 video and audio=%v", filepath.Base(path), video, audios, audio)
	}
}

// startsWithKeyframe reports whether a media segment, played after its init
// segment as a player does, begins with a keyframe.
func startsWithKeyframe(t *testing.T, init []byte, segment string) bool {
	t.Helper()
	data, err := os.ReadFile(segment)
	if err != nil {
		t.Fatal(err)
	}
	joined := filepath.Join(t.TempDir(), "joined.mp4")
	if err := os.WriteFile(joined, append(slices.Clone(init), data...), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=flags", "-read_intervals", "%+#1", "-of", "csv=p=0", joined).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", filepath.Base(segment), err)
	}
	return strings.HasPrefix(strings.TrimSpace(string(out)), "K")
}

// packetTimes returns the times of a rendition's video packets and of its
// keyframes, relative to the first and rounded to 10 ms.
func packetTimes(t *testing.T, playlist string) (times, keyframes []float64) {
	t.Helper()
	var out struct {
		Packets []struct {
			PTSTime string `json:"pts_time"`
			Flags   string `json:"flags"`
		}
	}
	ffprobeJSON(t, &out, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", playlist)
	if len(out.Packets) == 0 {
		t.Fatalf("%s: no video packets", playlist)
	}
	var pts []float64
	for _, p := range out.Packets {
		f, err := strconv.ParseFloat(p.PTSTime, 64)
		if err != nil {
			t.Fatalf("%s: packet time %q", playlist, p.PTSTime)
		}
		pts = append(pts, f)
	}
	first := slices.Min(pts)
	for i, p := range out.Packets {
		rel := math.Round((pts[i]-first)*100) / 100
		times = append(times, rel)
		if strings.Contains(p.Flags, "K") {
			keyframes = append(keyframes, rel)
		}
	}
	slices.Sort(times)
	slices.Sort(keyframes)
	return times, keyframes
}

// avcCodec is the RFC 6381 name of the H.264 stream an init segment
// describes, read from its avcC box.
func avcCodec(t *testing.T, initPath string) string {
	t.Helper()
	f, err := os.Open(initPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	boxes, err := mp4.ExtractBoxWithPayload(f, nil, mp4.BoxPath{
		mp4.BoxTypeMoov(), mp4.BoxTypeTrak(), mp4.BoxTypeMdia(), mp4.BoxTypeMinf(),
		mp4.BoxTypeStbl(), mp4.BoxTypeStsd(), mp4.BoxTypeAvc1(), mp4.BoxTypeAvcC(),
	})
	if err != nil || len(boxes) != 1 {
		t.Fatalf("%s: avcC: %v (%d found)", initPath, err, len(boxes))
	}
	avcC := boxes[0].Payload.(*mp4.AVCDecoderConfiguration)
	return fmt.Sprintf("avc1.%02x%02x%02x", avcC.Profile, avcC.ProfileCompatibility, avcC.Level)
}

func readMaster(t *testing.T, path string) *m3u8.MasterPlaylist {
	t.Helper()
	playlist, kind := readPlaylist(t, path)
	if kind != m3u8.MASTER {
		t.Fatalf("%s is not a master playlist", path)
	}
	return playlist.(*m3u8.MasterPlaylist)
}

func readMedia(t *testing.T, path string) *m3u8.MediaPlaylist {
	t.Helper()
	playlist, kind := readPlaylist(t, path)
	if kind != m3u8.MEDIA {
		t.Fatalf("%s is not a media playlist", path)
	}
	return playlist.(*m3u8.MediaPlaylist)
}

func readPlaylist(t *testing.T, path string) (m3u8.Playlist, m3u8.ListType) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	playlist, kind, err := m3u8.DecodeFrom(f, true)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return playlist, kind
}

// The audio filter runs on the source's audio before the one AAC encode,
// for the audio rendition and the MP4 alike: volume=0.25 makes both 12 dB
// quieter than the source, as ffmpeg's volumedetect measures them. (The
// source is stereo: a mono one comes out 3 dB lower per channel, the
// upmix keeping its loudness.)
func TestLadderAudioFilter(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "stereo.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", src)
	info, err := Probe(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	source := meanVolume(t, src)
	want := source + 20*math.Log10(0.25)
	for _, mp4 := range []bool{true, false} {
		t.Run(fmt.Sprintf("mp4=%v", mp4), func(t *testing.T) {
			t.Parallel()
			outDir := t.TempDir()
			res, err := Ladder(ctx, src, outDir, info, LadderOptions{Rungs: []Rung{{240, 300}}, ProgressiveMP4: mp4, AudioFilter: "volume=0.25"})
			if err != nil {
				t.Fatal(err)
			}
			outputs := []string{res.Audio.Playlist}
			if mp4 {
				outputs = append(outputs, res.ProgressiveMP4)
			}
			for _, out := range outputs {
				if got := meanVolume(t, filepath.Join(outDir, out)); math.Abs(got-want) > 1 {
					t.Errorf("%s: mean volume %.1f dB, want %.1f (the source's %.1f, 12 dB down)", out, got, want, source)
				}
			}
		})
	}
}

var meanVolumeLine = regexp.MustCompile(`mean_volume: (-?[0-9.]+) dB`)

// meanVolume is the mean volume of a file's audio, in dBFS, as ffmpeg's
// volumedetect filter measures it.
func meanVolume(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-i", path, "-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	m := meanVolumeLine.FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("volumedetect of %s: %v\n%s", filepath.Base(path), err, out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// While ffmpeg runs, each rendition's playlist is an EVENT playlist that a
// watcher may publish as it grows: valid, without ENDLIST, listing only
// whole segments; the master comes last. The source reaches ffmpeg through
// a pipe, so the test holds ffmpeg at 7 s of a 10 s clip for as long as it
// looks, then lets it finish, and the playlists are VOD.
func TestLadderPlaylistsGrow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	ts := filepath.Join(dir, "source.ts")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=10",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=10",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts", ts)
	info, err := Probe(ctx, ts)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	cut := len(data) * 7 / 10 / 188 * 188 // whole MPEG-TS packets
	pipe := filepath.Join(dir, "pipe.ts")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Fatal(err)
	}
	resume := make(chan struct{})
	fed := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(pipe, os.O_WRONLY, 0)
		if err != nil {
			fed <- err
			return
		}
		defer f.Close()
		if _, err := f.Write(data[:cut]); err != nil {
			fed <- err
			return
		}
		<-resume
		_, err = f.Write(data[cut:])
		fed <- err
	}()
	type ladderResult struct {
		res *LadderResult
		err error
	}
	done := make(chan ladderResult, 1)
	outDir := filepath.Join(dir, "out")
	go func() {
		res, err := Ladder(ctx, pipe, outDir, info, LadderOptions{Rungs: []Rung{{240, 300}}})
		done <- ladderResult{res, err}
	}()

	playlists := []string{"240p/index.m3u8", "audio/index.m3u8"}
	deadline := time.After(2 * time.Minute)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for slices.ContainsFunc(playlists, func(p string) bool { return !hasSegment(filepath.Join(outDir, p)) }) {
		select {
		case r := <-done:
			t.Fatalf("Ladder returned (%v) with the source cut at 7 s", r.err)
		case <-deadline:
			t.Fatal("no segment listed after 2 minutes")
		case <-tick.C:
		}
	}
	for _, p := range playlists {
		growing := readMedia(t, filepath.Join(outDir, p))
		if growing.MediaType != m3u8.EVENT || growing.Closed || growing.Count() != 1 {
			t.Errorf("%s while ffmpeg runs: type %v, ENDLIST %v, %d segments; want EVENT (%v), no ENDLIST, the first segment",
				p, growing.MediaType, growing.Closed, growing.Count(), m3u8.EVENT)
		}
		// The segment listed is whole: it decodes after its init segment.
		segDir := filepath.Join(outDir, filepath.Dir(p))
		init, err := os.ReadFile(filepath.Join(segDir, "init.mp4"))
		if err != nil {
			t.Fatal(err)
		}
		seg, err := os.ReadFile(filepath.Join(segDir, growing.Segments[0].URI))
		if err != nil {
			t.Fatal(err)
		}
		joined := filepath.Join(dir, filepath.Dir(p)+".mp4")
		if err := os.WriteFile(joined, append(init, seg...), 0o644); err != nil {
			t.Fatal(err)
		}
		decodes(t, joined)
	}
	if _, err := os.Stat(filepath.Join(outDir, "master.m3u8")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("master.m3u8 exists before the renditions are complete (%v)", err)
	}

	close(resume)
	if err := <-fed; err != nil {
		t.Fatalf("feeding ffmpeg: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, p := range playlists {
		if final := checkPlaylist(t, filepath.Join(outDir, p)); final.Count() != 3 {
			t.Errorf("%s: %d segments, want 3", p, final.Count())
		}
	}
}

// hasSegment reports whether the playlist at path exists and lists a
// segment.
func hasSegment(path string) bool {
	data, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(data), "#EXTINF:")
}

// Cancelling the context while ffmpeg runs kills it: Ladder returns the
// context's error at once and no ffmpeg process is left. The cancel comes as
// soon as the process shows up, which also covers a kill during start-up,
// and cannot miss the run however fast the machine encodes.
func TestLadderCancel(t *testing.T) {
	dir := t.TempDir()
	// A copy in this test's directory, so its ffmpeg is told apart from
	// other tests' by the command line.
	src := filepath.Join(dir, "source.mp4")
	copyFile(t, clip(t, "long"), src)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type sighting struct {
		pid int
		at  time.Time
	}
	seen := make(chan sighting, 1)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if pid := findFFmpeg(t, dir); pid != 0 {
				seen <- sighting{pid, time.Now()}
				cancel()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	_, err := Ladder(ctx, src, filepath.Join(dir, "out"), nil, LadderOptions{ProgressiveMP4: true})
	returned := time.Now()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Ladder = %v, want context.Canceled (did ffmpeg finish before it was seen?)", err)
	}
	s := <-seen
	if d := returned.Sub(s.at); d > 2*time.Second {
		t.Errorf("Ladder returned %v after the cancel, want at once", d)
	}
	// Ladder has waited for ffmpeg, so it should be gone already; the
	// deadline only keeps a failure from hanging the test.
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for findFFmpeg(t, dir) != 0 || processExists(s.pid) {
		select {
		case <-deadline:
			t.Fatalf("ffmpeg (pid %d) still running after the cancel", s.pid)
		case <-tick.C:
		}
	}
}

// A context that is already done runs nothing.
func TestCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	src := clip(t, "landscape")
	info, err := Probe(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Ladder(ctx, src, dir, info, LadderOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Ladder = %v", err)
	}
	if err := Cover(ctx, src, info, filepath.Join(dir, "c.jpg"), filepath.Join(dir, "c.webp")); !errors.Is(err, context.Canceled) {
		t.Errorf("Cover = %v", err)
	}
	if err := Remux(ctx, src, filepath.Join(dir, "r.mp4"), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Remux = %v", err)
	}
}

func TestPlanRungs(t *testing.T) {
	tests := []struct {
		w, h  int
		rungs []Rung
		want  []Rung
	}{
		{1920, 1080, nil, DefaultRungs},
		{1080, 1920, nil, DefaultRungs},
		{3840, 2160, nil, DefaultRungs},
		{1280, 720, nil, DefaultRungs[1:]},
		{640, 360, nil, []Rung{{360, 600}, {240, 300}}},
		{321, 241, nil, []Rung{{240, 300}}},
		{240, 426, nil, []Rung{{240, 300}}},
		{201, 151, nil, []Rung{{150, 117}}}, // smaller than every rung: its own size
		{64, 48, nil, []Rung{{48, minVideoKbps}}},
		{1920, 1080, []Rung{{360, 600}, {720, 2500}, {360, 700}}, []Rung{{720, 2500}, {360, 600}}},
	}
	for _, tt := range tests {
		if got := PlanRungs(&Info{Width: tt.w, Height: tt.h}, tt.rungs); !slices.Equal(got, tt.want) {
			t.Errorf("PlanRungs(%dx%d, %v) = %v, want %v", tt.w, tt.h, tt.rungs, got, tt.want)
		}
	}
}

// The ladder's command line for a 1080p source: one input decoded once,
// one encode per rung with aligned keyframes, video-only CMAF renditions,
// the MP4 riding on the 720p encode with the one audio encode, the audio
// filter applied once, and the storyboard from the same decode. Run with -v
// to see it.
func TestLadderArgs(t *testing.T) {
	info := &Info{Width: 1920, Height: 1080, FrameRate: 30, HasAudio: true, DurationMS: 60_000}
	opts := LadderOptions{ProgressiveMP4: true, AudioFilter: "volume=0.5", Storyboard: true}
	p := planLadder(info, opts)
	args := ladderArgs("/data/originals/42.mp4", boundsFor(info), p)
	t.Logf("ffmpeg %s", shellQuote(args))

	count := func(s string) int {
		n := 0
		for _, a := range args {
			if a == s {
				n++
			}
		}
		return n
	}
	if count("-i") != 1 || count("-force_key_frames") != 5 || count("-sc_threshold") != 5 || count("[a]") != 1 || count("0:a:0") != 0 || count("aac") != 1 {
		t.Errorf("want one input, five encodes with forced keyframes and one audio encode of the filtered audio: %v", args)
	}
	// One input, opened through the whitelists with the pixel bound, and
	// every output (five encodes and the storyboard) stopped at the
	// duration bound.
	if i := slices.Index(args, "-i"); i < 6 || !slices.Equal(args[i-6:i], []string{"-protocol_whitelist", "file", "-format_whitelist", "avi,matroska,mov,mpegts", "-max_pixels", "9251840"}) {
		t.Errorf("input options %v", args[:i+2])
	}
	if count("-t") != 6 || !slices.Contains(args, "63.200") {
		t.Errorf("want every output bounded at 63.2s (-t): %v", args)
	}
	graph := args[slices.Index(args, "-filter_complex")+1]
	if !strings.HasPrefix(graph, "[0:V:0]fps=30,split=6[s0][s1][s2][s3][s4][s5];") ||
		!strings.Contains(graph, ";[s5]tpad=stop_mode=clone:stop_duration=60,fps=fps=1/1:start_time=0:round=up,trim=end_frame=60,scale=160:90,setsar=1[sb]") ||
		!strings.HasSuffix(graph, ";[0:a:0]volume=0.5[a]") {
		t.Errorf("filter graph %q", graph)
	}
	var sizes, levels []string
	for _, e := range p.encodings {
		sizes = append(sizes, fmt.Sprintf("%dx%d", e.width, e.height))
		levels = append(levels, e.level.String())
	}
	if want := []string{"1920x1080", "1280x720", "854x480", "640x360", "426x240"}; !slices.Equal(sizes, want) {
		t.Errorf("sizes %v, want %v", sizes, want)
	}
	if want := []string{"4.0", "3.1", "3.1", "3.0", "2.1"}; !slices.Equal(levels, want) {
		t.Errorf("levels %v, want %v", levels, want)
	}
	// The 720p encode writes its rendition (video only), the audio
	// rendition (audio only) and the MP4 (both) through tee.
	tee := args[slices.Index(args, "tee")+1]
	slaves := strings.Split(tee, "|")
	if p.encodings[1].mp4 != "play.mp4" || len(slaves) != 3 ||
		!strings.HasPrefix(slaves[0], "[f=hls:select=v:") || !strings.HasSuffix(slaves[0], "]720p/index.m3u8") ||
		!strings.HasPrefix(slaves[1], "[f=hls:select=a:") || !strings.HasSuffix(slaves[1], "]audio/index.m3u8") ||
		slaves[2] != "[f=mp4:movflags=+faststart:onfail=abort]play.mp4" {
		t.Errorf("the 720p encode should write 720p/, audio/ and play.mp4 through tee: %q", tee)
	}
	// Every HLS output is CMAF, and an EVENT playlist while it grows.
	if n := strings.Count(strings.Join(args, " "), "hls_segment_options"); n != 6 || count("movflags=+cmaf") != 4 || count("event") != 4 {
		t.Errorf("%d HLS outputs with segment options, want 6 (5 video, 1 audio), each CMAF and EVENT: %v", n, args)
	}
	if i := slices.Index(args, "[sb]"); i < 0 || !slices.Contains(args[i:], "storyboard/thumb_%03d.jpg") || !slices.Contains(args[i:], "-frames:v") {
		t.Errorf("want the storyboard thumbnails written, bounded in number: %v", args)
	}

	// LadderCommand is the same command, with the directories it needs.
	cmd, dirs := LadderCommand("/data/originals/42.mp4", info, opts)
	if !slices.Equal(cmd, args) || !slices.Equal(dirs, []string{"1080p", "720p", "480p", "360p", "240p", "audio", "storyboard"}) {
		t.Errorf("LadderCommand = %v, %v", cmd, dirs)
	}

	// Without the MP4 the audio rendition is an output of its own, of the
	// source's audio when there is no filter; without a storyboard there
	// is no sixth branch.
	p = planLadder(info, LadderOptions{})
	args = ladderArgs("/data/originals/42.mp4", boundsFor(info), p)
	if count("tee") != 0 || count("0:a:0") != 1 || count("aac") != 1 || count("audio/index.m3u8") != 1 || count("-t") != 6 {
		t.Errorf("want the audio as an output of its own: %v", args)
	}
	if graph := args[slices.Index(args, "-filter_complex")+1]; strings.Contains(graph, "[sb]") || strings.Contains(graph, "0:a") {
		t.Errorf("filter graph %q, want neither storyboard nor audio filter", graph)
	}
}

func TestOutputFrameRate(t *testing.T) {
	for _, tt := range []struct {
		fps  float64
		want string
	}{
		{30, "30"}, {29.97002997, "30000/1001"}, {29.87, "30000/1001"}, {25, "25"},
		{120, "60"}, {59.94, "60000/1001"}, {15, "15"}, {12.5, "25/2"}, {0, "30"},
	} {
		if got := outputFrameRate(tt.fps).String(); got != tt.want {
			t.Errorf("outputFrameRate(%v) = %s, want %s", tt.fps, got, tt.want)
		}
	}
}

func TestLevelFor(t *testing.T) {
	for _, tt := range []struct {
		w, h int
		fps  float64
		kbps int
		want string
	}{
		{1920, 1080, 30, 4500, "4.0"},
		{1920, 1080, 60, 4500, "4.2"},
		{1080, 1920, 30, 4500, "4.0"},
		{1280, 720, 30, 2500, "3.1"},
		{1280, 720, 60, 2500, "3.2"},
		{640, 360, 30, 600, "3.0"},
		{3840, 2160, 30, 16000, "5.1"},
	} {
		l := levelFor(tt.w, tt.h, tt.fps, maxrateKbps(tt.kbps), bufsizeKbps(tt.kbps))
		if l.String() != tt.want {
			t.Errorf("levelFor(%dx%d@%v, %dk) = %s, want %s", tt.w, tt.h, tt.fps, tt.kbps, l, tt.want)
		}
	}
}

// increasing reports whether values is non-empty and strictly increasing.
func increasing(values []int) bool {
	for i := 1; i < len(values); i++ {
		if values[i] <= values[i-1] {
			return false
		}
	}
	return len(values) > 0
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// findFFmpeg returns the pid of a running ffmpeg whose command line
// mentions dir, or 0.
func findFFmpeg(t *testing.T, dir string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Errorf("scanning processes: %v", err)
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // exited while we looked
		}
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) == "ffmpeg" && strings.Contains(string(cmdline), dir) {
			return pid
		}
	}
	return 0
}

func processExists(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}

func shellQuote(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " []()|;*'\"$&<>") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		quoted[i] = a
	}
	return strings.Join(quoted, " ")
}
