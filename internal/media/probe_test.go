package media

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel"
)

func TestProbe(t *testing.T) {
	for _, c := range goodClips {
		t.Run(c.kind, func(t *testing.T) {
			info, err := Probe(context.Background(), clip(t, c.kind))
			if err != nil {
				t.Fatal(err)
			}
			if info.Width != c.width || info.Height != c.height || info.Rotation != c.rotation {
				t.Errorf("display %dx%d rotation %d, want %dx%d rotation %d",
					info.Width, info.Height, info.Rotation, c.width, c.height, c.rotation)
			}
			if info.VideoCodec != c.video || info.AudioCodec != c.audio || info.HasAudio != (c.audio != "") {
				t.Errorf("codecs %q/%q HasAudio %v, want %q/%q", info.VideoCodec, info.AudioCodec, info.HasAudio, c.video, c.audio)
			}
			if info.PixFmt != c.pixFmt {
				t.Errorf("PixFmt %q, want %q", info.PixFmt, c.pixFmt)
			}
			if d := info.DurationMS - c.durationMS; d < -100 || d > 100 {
				t.Errorf("DurationMS %d, want about %d", info.DurationMS, c.durationMS)
			}
			if info.FrameRate != 30 {
				t.Errorf("FrameRate %v, want 30", info.FrameRate)
			}
			if info.FormatName == "" || info.Bitrate <= 0 {
				t.Errorf("FormatName %q Bitrate %d, want both set", info.FormatName, info.Bitrate)
			}
			if CanRemux(info) != c.canRemux {
				t.Errorf("CanRemux = %v, want %v", CanRemux(info), c.canRemux)
			}
		})
	}
}

// Whatever is not a video is refused as unsupported media, with a reason.
func TestProbeRejects(t *testing.T) {
	tests := []struct{ kind, reason string }{
		{"random", "not a media file ffprobe can read (Invalid data found when processing input)"},
		{"text", "a text file, not a video"}, // ffprobe reads .txt as "tty" (ANSI art)
		{"image", "an image, not a video"},
		{"truncated", "not a media file ffprobe can read"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			src := clip(t, tt.kind)
			_, err := Probe(context.Background(), src)
			e := wantCode(t, err, reel.EUNSUPPORTED)
			if !strings.Contains(e.Message, tt.reason) {
				t.Errorf("reason %q, want it to contain %q", e.Message, tt.reason)
			}
			if strings.Contains(e.Message, filepath.Dir(src)) {
				t.Errorf("reason %q reveals the server path", e.Message)
			}
		})
	}
}

func TestProbeRejectsAudioOnly(t *testing.T) {
	src := filepath.Join(t.TempDir(), "song.m4a")
	ffmpeg(t, "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", src)
	_, err := Probe(context.Background(), src)
	if e := wantCode(t, err, reel.EUNSUPPORTED); e.Message != "no video stream" {
		t.Errorf("reason %q, want %q", e.Message, "no video stream")
	}
}

// A playlist would make ffmpeg read the files it names: it is refused even
// though ffprobe reads it as a video.
func TestProbeRejectsPlaylists(t *testing.T) {
	dir := t.TempDir()
	if _, err := Ladder(context.Background(), clip(t, "noaudio"), dir, nil, LadderOptions{Rungs: []Rung{{240, 300}}}); err != nil {
		t.Fatal(err)
	}
	_, err := Probe(context.Background(), filepath.Join(dir, "master.m3u8"))
	if e := wantCode(t, err, reel.EUNSUPPORTED); !strings.Contains(e.Message, `unsupported container format "hls"`) {
		t.Errorf("reason %q", e.Message)
	}
}

func TestProbeErrors(t *testing.T) {
	_, err := Probe(context.Background(), filepath.Join(t.TempDir(), "missing.mp4"))
	if !errors.Is(err, fs.ErrNotExist) || reel.ErrorCode(err) != reel.EINTERNAL {
		t.Errorf("missing file: %v, want a not-exist error that is not shown to users", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Probe(ctx, clip(t, "landscape")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v, want context.Canceled", err)
	}
}

func TestLimitsCheck(t *testing.T) {
	landscape, err := Probe(context.Background(), clip(t, "landscape"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		limits Limits
		info   Info
		reason string // "" when accepted
	}{
		{"default accepts the clip", DefaultLimits, *landscape, ""},
		{"4K landscape", DefaultLimits, Info{Width: 3840, Height: 2160, DurationMS: 1000}, ""},
		{"4K portrait", DefaultLimits, Info{Width: 2160, Height: 3840, DurationMS: 1000}, ""},
		{"too tall", DefaultLimits, Info{Width: 3840, Height: 4096, DurationMS: 1000}, "3840x4096 exceeds 4096x2160"},
		{"too long", DefaultLimits, Info{Width: 640, Height: 360, DurationMS: 723_000}, "duration 12m3s exceeds the 10m limit"},
		{"just over", Limits{MaxDuration: 3 * time.Second}, Info{DurationMS: 3_200}, "duration 3.2s exceeds the 3s limit"},
		{"tiny duration limit", Limits{MaxDuration: time.Second, MaxLong: 4096, MaxShort: 2160}, *landscape, "duration 3s exceeds the 1s limit"},
		{"tiny size limit", Limits{MaxDuration: time.Hour, MaxLong: 320, MaxShort: 240}, *landscape, "640x360 exceeds 320x240"},
		{"zero is no limit", Limits{}, Info{Width: 10000, Height: 10000, DurationMS: 1e9}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.limits.Check(&tt.info)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if e := wantCode(t, err, reel.EINVALID); e.Message != tt.reason {
				t.Errorf("reason %q, want %q", e.Message, tt.reason)
			}
		})
	}
}
