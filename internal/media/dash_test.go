package media

import (
	"context"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hlsFixture encodes src the way the ladder does (one ffmpeg process,
// video-only CMAF HLS renditions 240p/ and 160p/ with keyframes every 2 s,
// the audio once in audio/) and writes the master playlist in the
// ladder's shape. It returns the output directory.
func hlsFixture(t *testing.T, src string, info *Info) string {
	t.Helper()
	out := t.TempDir()
	rungs := []struct {
		dir  string
		w, h int
	}{{"240p", 0, 240}, {"160p", 0, 160}}
	var graph strings.Builder
	fmt.Fprintf(&graph, "[0:V:0]fps=30,split=%d", len(rungs))
	for i := range rungs {
		fmt.Fprintf(&graph, "[s%d]", i)
	}
	for i := range rungs {
		rungs[i].w, rungs[i].h = rungSize(info, rungs[i].h)
		fmt.Fprintf(&graph, ";[s%d]scale=%d:%d,setsar=1,format=yuv420p[v%d]", i, rungs[i].w, rungs[i].h, i)
	}
	hls := func(dir string) []string {
		if err := os.MkdirAll(filepath.Join(out, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		return []string{"-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
			"-hls_segment_options", "movflags=+cmaf", "-hls_fmp4_init_filename", "init.mp4",
			"-hls_segment_filename", filepath.Join(out, dir, "seg_%03d.m4s"), filepath.Join(out, dir, "index.m3u8")}
	}
	args := []string{"-i", src, "-filter_complex", graph.String()}
	for i, r := range rungs {
		args = append(args, "-map", fmt.Sprintf("[v%d]", i), "-c:v", "libx264", "-preset", "veryfast", "-b:v", "300k",
			"-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*2)")
		args = append(args, hls(r.dir)...)
	}
	if info.HasAudio {
		args = append(args, "-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000")
		args = append(args, hls("audio")...)
	}
	ffmpeg(t, args...)

	var master strings.Builder
	master.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	audioCodec, audioGroup := "", ""
	if info.HasAudio {
		master.WriteString(`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"` + "\n")
		audioCodec, audioGroup = ",mp4a.40.2", `,AUDIO="audio"`
	}
	for _, r := range rungs {
		fmt.Fprintf(&master, "\n#EXT-X-STREAM-INF:BANDWIDTH=500000,AVERAGE-BANDWIDTH=400000,RESOLUTION=%dx%d,CODECS=\"%s%s\",FRAME-RATE=30.000%s\n%s/index.m3u8\n",
			r.w, r.h, avcCodec(t, filepath.Join(out, r.dir, "init.mp4")), audioCodec, audioGroup, r.dir)
	}
	if err := os.WriteFile(filepath.Join(out, "master.m3u8"), []byte(master.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// The MPD describes the HLS renditions' own segments: ffprobe reads the
// video renditions and the audio from it, over the right duration; each
// SegmentTimeline adds up to its playlist's duration within a frame and
// names the very files the playlist names.
func TestMPD(t *testing.T) {
	for _, kind := range []string{"long", "noaudio"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			info, err := Probe(ctx, clip(t, kind))
			if err != nil {
				t.Fatal(err)
			}
			out := hlsFixture(t, clip(t, kind), info)
			if err := WriteMPD(out, info.DurationMS); err != nil {
				t.Fatal(err)
			}
			mpdPath := filepath.Join(out, "manifest.mpd")
			data, err := os.ReadFile(mpdPath)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", data)
			if !slices.Contains(strings.Split(string(data), "\n"), "  </Period>") {
				t.Errorf("no line of its own closes the Period")
			}

			var probed struct {
				Streams []stream
				Format  struct {
					Duration string `json:"duration"`
				}
			}
			ffprobeJSON(t, &probed, "-protocol_whitelist", "file", "-show_streams", "-show_format", "-i", mpdPath)
			var sizes []string
			audios := 0
			for _, s := range probed.Streams {
				switch s.CodecType {
				case "video":
					sizes = append(sizes, fmt.Sprintf("%dx%d", s.Width, s.Height))
				case "audio":
					audios++
					if s.CodecName != "aac" || s.Channels != 2 || s.SampleRate != "48000" {
						t.Errorf("audio stream %+v, want AAC stereo 48 kHz", s)
					}
				}
			}
			if want := []string{"426x240", "284x160"}; !slices.Equal(sizes, want) {
				t.Errorf("ffprobe reads video streams %v from the MPD, want %v", sizes, want)
			}
			if wantAudio := map[bool]int{true: 1, false: 0}[info.HasAudio]; audios != wantAudio {
				t.Errorf("ffprobe reads %d audio streams, want %d", audios, wantAudio)
			}
			if got := parseFloat(probed.Format.Duration); math.Abs(got-float64(info.DurationMS)/1000) > 0.001 {
				t.Errorf("ffprobe reads a duration of %s s from the MPD, want %.3f", probed.Format.Duration, float64(info.DurationMS)/1000)
			}

			var m mpd
			if err := xml.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			if m.Type != "static" || m.Profiles != mpdProfiles || m.XMLNS != "urn:mpeg:dash:schema:mpd:2011" {
				t.Errorf("MPD %q %q %q", m.Type, m.Profiles, m.XMLNS)
			}
			sets := m.Period.AdaptationSets
			if len(sets) != 1+len(map[bool][]int{true: {1}}[info.HasAudio]) {
				t.Fatalf("%d adaptation sets", len(sets))
			}
			for _, set := range sets {
				for _, rep := range set.Representations {
					checkRepresentation(t, out, set, rep)
				}
			}
			video := sets[0].Representations
			if sets[0].ContentType != "video" || len(video) != 2 || video[0].ID != "240p" || video[1].ID != "160p" ||
				video[0].Codecs != avcCodec(t, filepath.Join(out, "240p", "init.mp4")) || video[0].FrameRate != "30" {
				t.Errorf("video adaptation set %+v", sets[0])
			}
			if info.HasAudio {
				a := sets[1]
				if a.ContentType != "audio" || a.Lang != "und" || len(a.Representations) != 1 ||
					a.Representations[0].Codecs != "mp4a.40.2" || a.Representations[0].AudioSamplingRate != 48000 ||
					a.Representations[0].AudioChannels == nil || a.Representations[0].AudioChannels.Value != "2" {
					t.Errorf("audio adaptation set %+v", a)
				}
			}
		})
	}
}

// checkRepresentation compares a representation's template and timeline
// with its HLS playlist and files.
func checkRepresentation(t *testing.T, out string, set mpdAdaptationSet, rep mpdRepresentation) {
	t.Helper()
	st := rep.SegmentTemplate
	playlist := readMedia(t, filepath.Join(out, rep.ID, "index.m3u8"))
	if st.Initialization != path.Join(rep.ID, playlist.Map.URI) || st.Media != rep.ID+"/seg_$Number%03d$.m4s" || st.StartNumber != 0 || st.Timescale == 0 {
		t.Errorf("%s: template %+v", rep.ID, st)
	}
	var hlsTotal float64
	var names []string
	for _, s := range playlist.Segments {
		if s != nil {
			hlsTotal += s.Duration
			names = append(names, path.Join(rep.ID, s.URI))
		}
	}
	var total int64
	var templated []string
	at := int64(-1)
	for _, s := range st.Timeline {
		if s.T != nil {
			if at >= 0 && *s.T != at {
				t.Errorf("%s: the timeline jumps from %d to %d", rep.ID, at, *s.T)
			}
			at = *s.T
		}
		for range s.R + 1 {
			templated = append(templated, path.Join(rep.ID, fmt.Sprintf("seg_%03d.m4s", st.StartNumber+len(templated))))
			total += s.D
			at += s.D
		}
	}
	if !slices.Equal(templated, names) {
		t.Errorf("%s: the MPD names %v, the playlist %v", rep.ID, templated, names)
	}
	frame := 1.0 / 30
	if set.ContentType == "audio" {
		frame = 1024.0 / 48000
	}
	if got := float64(total) / float64(st.Timescale); math.Abs(got-hlsTotal) > frame {
		t.Errorf("%s: the timeline lasts %.6fs, the playlist %.6fs", rep.ID, got, hlsTotal)
	}
	if rep.Bandwidth <= 0 {
		t.Errorf("%s: bandwidth %d", rep.ID, rep.Bandwidth)
	}
	for _, name := range append(templated, st.Initialization) {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s: %v", rep.ID, err)
		}
	}
}

// The MPD decodes end to end, as a player reads it.
func TestMPDDecodes(t *testing.T) {
	t.Parallel()
	info, err := Probe(context.Background(), clip(t, "landscape"))
	if err != nil {
		t.Fatal(err)
	}
	out := hlsFixture(t, clip(t, "landscape"), info)
	if err := WriteMPD(out, info.DurationMS); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-protocol_whitelist", "file",
		"-i", filepath.Join(out, "manifest.mpd"), "-map", "0", "-f", "null", "-")
	if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
		t.Errorf("decoding the MPD: %v\n%s", err, b)
	}

	// A source that states more than its segments hold: the MPD promises
	// only what is there (3 s of video, the audio a frame longer).
	if err := WriteMPD(out, info.DurationMS+5000); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, "manifest.mpd"))
	if err != nil {
		t.Fatal(err)
	}
	var m mpd
	if err := xml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if d := m.MediaPresentationDuration; d < "PT3.000S" || d > "PT3.050S" {
		t.Errorf("mediaPresentationDuration %s, want the 3 s the segments hold", d)
	}
}

// A master playlist naming files outside its directory, or segments not
// named as the template names them, is refused.
func TestMPDRefuses(t *testing.T) {
	t.Parallel()
	for name, master := range map[string]string{
		"outside": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=2x2\n../x/index.m3u8\n",
		"deep":    "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=2x2\na/b/index.m3u8\n",
		"url":     "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=2x2\nhttp://x/index.m3u8\n",
		"none":    "#EXTM3U\n",
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "master.m3u8"), []byte(master), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := WriteMPD(dir, 1000); err == nil {
			t.Errorf("%s: WriteMPD accepted %q", name, master)
		}
	}
	if got := hlsAttributes(`TYPE=AUDIO,GROUP-ID="a,b",NAME="x",DEFAULT=YES`); got["GROUP-ID"] != "a,b" || got["DEFAULT"] != "YES" || got["NAME"] != "x" {
		t.Errorf("hlsAttributes = %v", got)
	}
}
