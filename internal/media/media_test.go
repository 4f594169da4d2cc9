package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/abema/go-mp4"
	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/media/mediatest"
)

// The tests run the real ffmpeg on clips they generate with ffmpeg's lavfi
// sources, so there are no binary fixtures; without ffmpeg they fail.
func TestMain(m *testing.M) {
	if err := Available(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the media tests need ffmpeg and ffprobe: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	mediatest.RemoveAll()
	os.Exit(code)
}

// goodClip is a clip reel accepts, with what a user would expect of it.
type goodClip struct {
	kind          string
	width, height int // display size
	rotation      int
	video, audio  string
	pixFmt        string
	durationMS    int64
	canRemux      bool
	renditions    []string // RESOLUTION of each rendition, highest first
}

var (
	landscapeRungs = []string{"640x360", "426x240"}
	portraitRungs  = []string{"360x640", "240x426"}
)

var goodClips = []goodClip{
	{"landscape", 640, 360, 0, "h264", "aac", "yuv420p", 3000, true, landscapeRungs},
	{"portrait", 360, 640, 90, "h264", "aac", "yuv420p", 3000, true, portraitRungs},
	{"noaudio", 640, 360, 0, "h264", "", "yuv420p", 3000, true, landscapeRungs},
	{"odd", 321, 241, 0, "h264", "aac", "yuv444p", 3000, false, []string{"320x240"}},
	{"anamorphic", 640, 360, 0, "h264", "aac", "yuv420p", 3000, true, landscapeRungs},
	{"vp9", 640, 360, 0, "vp9", "opus", "yuv420p", 3000, false, landscapeRungs},
	{"webm-live", 640, 360, 0, "vp8", "opus", "yuv420p", 3000, false, landscapeRungs},
	{"long", 640, 360, 0, "h264", "aac", "yuv420p", 10000, true, landscapeRungs},
}

// clip returns the path of a shared test clip (see mediatest).
func clip(t *testing.T, kind string) string {
	t.Helper()
	return mediatest.Clip(t, kind)
}

// ffmpeg runs ffmpeg for a test's setup or checks and fails the test if it
// fails.
func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	if err := runFFmpeg(args...); err != nil {
		t.Fatal(err)
	}
}

func runFFmpeg(args ...string) error {
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-nostdin", "-v", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// ffprobeJSON runs ffprobe with JSON output on args and decodes it into v.
func ffprobeJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	cmd := exec.Command("ffprobe", append([]string{"-v", "error", "-print_format", "json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("ffprobe %s: %v", strings.Join(args, " "), err)
	}
}

// stream is what the tests read of an ffprobe stream.
type stream struct {
	CodecType    string `json:"codec_type"`
	CodecName    string `json:"codec_name"`
	Profile      string `json:"profile"`
	Level        int    `json:"level"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	Channels     int    `json:"channels"`
	SampleRate   string `json:"sample_rate"`
	SideDataList []struct {
		SideDataType string  `json:"side_data_type"`
		Rotation     float64 `json:"rotation"`
	} `json:"side_data_list"`
}

func streams(t *testing.T, path string) []stream {
	t.Helper()
	var out struct{ Streams []stream }
	ffprobeJSON(t, &out, "-show_streams", path)
	return out.Streams
}

// rotated reports whether a stream carries a display matrix that turns it.
func (s stream) rotated() bool {
	for _, sd := range s.SideDataList {
		if sd.SideDataType == "Display Matrix" && sd.Rotation != 0 {
			return true
		}
	}
	return false
}

// decodes fails the test unless ffmpeg decodes the whole file without error.
func decodes(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-")
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("decoding %s: %v\n%s", filepath.Base(path), err, out)
	}
}

// topLevelBoxes lists the top-level MP4 boxes of a file, in order.
func topLevelBoxes(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var boxes []string
	_, err = mp4.ReadBoxStructure(f, func(h *mp4.ReadHandle) (any, error) {
		boxes = append(boxes, h.BoxInfo.Type.String())
		return nil, nil
	})
	if err != nil {
		t.Fatalf("reading MP4 boxes of %s: %v", filepath.Base(path), err)
	}
	return boxes
}

// faststart fails the test unless the MP4's moov box comes before its mdat.
func faststart(t *testing.T, path string) {
	t.Helper()
	boxes := topLevelBoxes(t, path)
	moov, mdat := indexOf(boxes, "moov"), indexOf(boxes, "mdat")
	if moov < 0 || mdat < 0 || moov > mdat {
		t.Errorf("%s: top-level boxes %v, want moov before mdat", filepath.Base(path), boxes)
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func wantCode(t *testing.T, err error, code string) *reel.Error {
	t.Helper()
	var e *reel.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error = %v, want a *reel.Error with code %s", err, code)
	}
	return e
}

func TestAvailable(t *testing.T) {
	if err := Available(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	err := Available()
	if err == nil {
		t.Fatal("Available() = nil with an empty PATH")
	}
	for _, want := range []string{"ffmpeg and ffprobe", "apt-get install -y ffmpeg"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Available() = %q, want it to mention %q", err, want)
		}
	}
}

// An ffmpeg failure is a *ToolError whose stderr says why, without the
// server's paths.
func TestToolError(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "out.mp4")
	src := clip(t, "truncated")
	dir := filepath.Dir(src)
	err := Remux(context.Background(), src, dst, &Info{Width: 640, Height: 360, DurationMS: 3000})
	var toolErr *ToolError
	if !errors.As(err, &toolErr) {
		t.Fatalf("Remux(truncated) = %v, want a *ToolError", err)
	}
	if toolErr.Tool != "ffmpeg" || !strings.Contains(toolErr.Stderr, "moov atom not found") {
		t.Errorf("ToolError = %+v, want ffmpeg saying moov atom not found", toolErr)
	}
	if strings.Contains(toolErr.Stderr, dir) || strings.Contains(err.Error(), dir) {
		t.Errorf("error reveals the server path %s: %v\n%s", dir, err, toolErr.Stderr)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("Error() = %q, want one line", err.Error())
	}
}

func TestCleanStderr(t *testing.T) {
	var raw strings.Builder
	raw.WriteString("\x1b[1;31m/srv/reel/tmp/src.mp4: warning\x1b[0m\r\n")
	for i := range 30 {
		fmt.Fprintf(&raw, "line %d\n\n", i)
	}
	raw.WriteString("frame=1 fps=0\rframe=2 fps=0\r")
	raw.WriteString("title: bad\x00bytes\xff here\n")
	raw.WriteString(strings.Repeat("repeated\n", 5))
	raw.WriteString("Error opening output /srv/reel/tmp/out.mp4\nConversion failed!\n")

	got := cleanStderr(raw.String(), []string{"/srv/reel/tmp"})
	lines := strings.Split(got, "\n")
	if len(lines) != stderrMaxLines {
		t.Errorf("%d lines, want %d:\n%s", len(lines), stderrMaxLines, got)
	}
	if strings.ContainsAny(got, "\x1b\r\x00") || !utf8.ValidString(got) || strings.Contains(got, "/srv/") {
		t.Errorf("escape codes, carriage returns or paths left in:\n%q", got)
	}
	if strings.Count(got, "repeated") != 1 {
		t.Errorf("repeated lines not collapsed:\n%s", got)
	}
	if line := tellingLine(got); line != "Error opening output out.mp4" {
		t.Errorf("tellingLine = %q", line)
	}

	long := cleanStderr(strings.Repeat(strings.Repeat("x", 500)+"\n", 10), nil)
	if len(long) > stderrMaxBytes {
		t.Errorf("cleaned stderr is %d bytes, want at most %d", len(long), stderrMaxBytes)
	}
}
