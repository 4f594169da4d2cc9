package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/abema/go-mp4"
	"github.com/reel-video/reel"
)

// The tests run the real ffmpeg on clips they generate with ffmpeg's lavfi
// sources, so there are no binary fixtures; without ffmpeg they fail.
func TestMain(m *testing.M) {
	if err := Available(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the media tests need ffmpeg and ffprobe: %v\n", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "reel-media-clips-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	clips.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
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

// clipArgs are the ffmpeg arguments that make each clip kind (the output
// file name is appended). Sources use -preset veryfast; only the clips
// themselves are made here, the code under test uses its real settings.
var clipArgs = map[string][]string{
	// Fades in from black, so a cover of the first frame would be black.
	"landscape": {"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=3",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
		"-vf", "fade=in:st=0:d=1", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"},
	"noaudio": {"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=3",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"},
	// x264 cannot make odd-sized 4:2:0, so this one is 4:4:4: not
	// remuxable. testsrc2 rounds its size to even, hence the crop.
	"odd": {"-f", "lavfi", "-i", "testsrc2=size=322x242:rate=30:duration=3",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
		"-vf", "format=yuv444p,crop=321:241:0:0", "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac"},
	// 480x360 stored, pixels 4:3 wide: shown as 640x360. Mono 44.1 kHz audio.
	"anamorphic": {"-f", "lavfi", "-i", "testsrc2=size=480x360:rate=30:duration=3",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=3",
		"-vf", "setsar=4/3", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"},
	"vp9": {"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=3",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
		"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k", "-c:a", "libopus"},
	// What a browser's MediaRecorder uploads: WebM with no duration.
	"webm-live": {"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=3",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k", "-c:a", "libopus", "-live", "1"},
	// Long enough for several segments and keyframe intervals.
	"long": {"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=10",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=10",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"},
	"image": {"-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1"},
}

var clipNames = map[string]string{
	"vp9": "clip.webm", "webm-live": "recorded.webm", "image": "image.png", "random": "random.mp4", "text": "notes.txt",
	"truncated": "truncated.mp4", "subtitled": "subtitled.mp4",
}

var clips struct {
	dir  string
	mu   sync.Mutex
	made map[string]*madeClip
}

type madeClip struct {
	once sync.Once
	path string
	err  error
}

// clip returns the path of a clip of the given kind, making it on first use.
// Tests share clips and must not modify them.
func clip(t *testing.T, kind string) string {
	t.Helper()
	p, err := clipPath(kind)
	if err != nil {
		t.Fatalf("making the %s clip: %v", kind, err)
	}
	return p
}

func clipPath(kind string) (string, error) {
	clips.mu.Lock()
	if clips.made == nil {
		clips.made = map[string]*madeClip{}
	}
	c := clips.made[kind]
	if c == nil {
		c = &madeClip{}
		clips.made[kind] = c
	}
	clips.mu.Unlock()
	c.once.Do(func() { c.path, c.err = makeClip(kind) })
	return c.path, c.err
}

func makeClip(kind string) (string, error) {
	name := clipNames[kind]
	if name == "" {
		name = kind + ".mp4"
	}
	p := filepath.Join(clips.dir, name)
	switch kind {
	case "random":
		b := make([]byte, 64<<10)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return p, os.WriteFile(p, b, 0o644)
	case "text":
		return p, os.WriteFile(p, []byte(strings.Repeat("This is a text file, not a video.\n", 100)), 0o644)
	case "truncated":
		src, err := clipPath("landscape")
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		return p, os.WriteFile(p, b[:len(b)/2], 0o644)
	case "portrait":
		// A phone held upright stores landscape pixels and a display matrix
		// turning them 90° clockwise (ffprobe "rotation": -90). ffmpeg 5.1
		// has no -display_rotation, ignores "-metadata:s:v rotate" when it
		// encodes, and on a stream copy turns rotate=N into a matrix of N
		// degrees counter-clockwise, the opposite of the legacy tag's
		// meaning: rotate=270 writes what a phone writes.
		src, err := clipPath("landscape")
		if err != nil {
			return "", err
		}
		return p, runFFmpeg("-i", src, "-c", "copy", "-metadata:s:v:0", "rotate=270", p)
	case "subtitled":
		src, err := clipPath("landscape")
		if err != nil {
			return "", err
		}
		srt := filepath.Join(clips.dir, "subs.srt")
		if err := os.WriteFile(srt, []byte("1\n00:00:00,000 --> 00:00:02,000\nhello\n"), 0o644); err != nil {
			return "", err
		}
		return p, runFFmpeg("-i", src, "-i", srt, "-map", "0", "-map", "1", "-c", "copy", "-c:s", "mov_text", p)
	}
	args, ok := clipArgs[kind]
	if !ok {
		return "", fmt.Errorf("no clip kind %q", kind)
	}
	return p, runFFmpeg(append(args, p)...)
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
	err := Remux(context.Background(), clip(t, "truncated"), dst)
	var toolErr *ToolError
	if !errors.As(err, &toolErr) {
		t.Fatalf("Remux(truncated) = %v, want a *ToolError", err)
	}
	if toolErr.Tool != "ffmpeg" || !strings.Contains(toolErr.Stderr, "moov atom not found") {
		t.Errorf("ToolError = %+v, want ffmpeg saying moov atom not found", toolErr)
	}
	if strings.Contains(toolErr.Stderr, clips.dir) || strings.Contains(err.Error(), clips.dir) {
		t.Errorf("error reveals the server path %s: %v\n%s", clips.dir, err, toolErr.Stderr)
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
	raw.WriteString(strings.Repeat("repeated\n", 5))
	raw.WriteString("Error opening output /srv/reel/tmp/out.mp4\nConversion failed!\n")

	got := cleanStderr(raw.String(), []string{"/srv/reel/tmp"})
	lines := strings.Split(got, "\n")
	if len(lines) != stderrMaxLines {
		t.Errorf("%d lines, want %d:\n%s", len(lines), stderrMaxLines, got)
	}
	if strings.Contains(got, "\x1b") || strings.Contains(got, "\r") || strings.Contains(got, "/srv/") {
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
