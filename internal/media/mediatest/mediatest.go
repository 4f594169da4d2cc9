// Package mediatest makes test clips with ffmpeg at test time (lavfi
// sources), so no binary fixture lives in the repository. Tests of every
// package share it.
package mediatest

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Args are the ffmpeg arguments that make each clip kind (the output file
// name is appended). Sources use -preset veryfast; only the clips are made
// here, the code under test uses its real settings.
var Args = map[string][]string{
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
	// Noise does not compress: 4 s at 480p weigh about 35 MB, an upload
	// that spans several S3 parts and is still under way when a test cuts it.
	"heavy": {"-f", "lavfi", "-i", "testsrc2=size=640x480:rate=30:duration=4",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4",
		"-vf", "noise=alls=60:allf=t", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv420p", "-c:a", "aac"},
	"image": {"-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1"},
	// 720p and 30 s: its ladder takes long enough to be interrupted.
	"slow": {"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=30",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"},
}

// Names are the file names of kinds whose container is not MP4.
var Names = map[string]string{
	"vp9": "clip.webm", "webm-live": "recorded.webm", "image": "image.png", "random": "random.mp4", "text": "notes.txt",
	"truncated": "truncated.mp4", "subtitled": "subtitled.mp4",
	"gap": "gap.mkv", "gap-ts": "gap.ts", "resize": "resize.ts",
}

// Hostile clips: files whose header says less than what ffmpeg decodes.
// They are 160x120 and H.264 with no audio, so that every step (cover,
// remux, ladder) takes them, and a test's limits can sit just above what
// the header states.
const (
	// HostileWidth and HostileHeight are what the hostile clips' headers
	// state; HostileSeconds is the duration the gap clip states.
	HostileWidth, HostileHeight = 160, 120
	HostileSeconds              = 2
	// GapSeconds is how far the second half of the gap clips is shifted.
	GapSeconds = 3600
	// ResizeWidth and ResizeHeight are the frame size the resize clip
	// switches to after its first second.
	ResizeWidth, ResizeHeight = 320, 240
)

var clips struct {
	mu   sync.Mutex
	dir  string
	made map[string]*made
}

type made struct {
	once sync.Once
	path string
	err  error
}

// Clip returns the path of a clip of kind, making it on first use; tests
// share clips and must not modify them. Besides the kinds of Args: "random"
// (random bytes named .mp4), "text" (a text file) and "truncated" (the first
// half of the landscape clip), and "portrait" (the landscape clip with a
// phone's rotation). Without ffmpeg the test fails, saying how to
// install it.
func Clip(t testing.TB, kind string) string {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatalf("ffmpeg is needed to make test clips: install it (apt-get install -y ffmpeg) or run make test, which does")
	}
	clips.mu.Lock()
	if clips.made == nil {
		clips.made = map[string]*made{}
	}
	if clips.dir == "" {
		dir, err := os.MkdirTemp("", "reel-clips-")
		if err != nil {
			clips.mu.Unlock()
			t.Fatal(err)
		}
		clips.dir = dir
	}
	m := clips.made[kind]
	if m == nil {
		m = &made{}
		clips.made[kind] = m
	}
	dir := clips.dir
	clips.mu.Unlock()

	m.once.Do(func() { m.path, m.err = makeClip(t, dir, kind) })
	if m.err != nil {
		t.Fatalf("making the %s clip: %v", kind, m.err)
	}
	return m.path
}

// RemoveAll deletes the clips made so far; call it from TestMain.
func RemoveAll() {
	clips.mu.Lock()
	defer clips.mu.Unlock()
	if clips.dir != "" {
		os.RemoveAll(clips.dir)
		clips.dir, clips.made = "", nil
	}
}

func makeClip(t testing.TB, dir, kind string) (string, error) {
	name := Names[kind]
	if name == "" {
		name = kind + ".mp4"
	}
	path := filepath.Join(dir, name)
	switch kind {
	case "random":
		b := make([]byte, 64<<10)
		_, _ = rand.Read(b)
		return path, os.WriteFile(path, b, 0o600)
	case "text":
		return path, os.WriteFile(path, []byte(strings.Repeat("This is a text file, not a video.\n", 100)), 0o600)
	case "portrait":
		// A phone held upright stores landscape pixels and a display matrix
		// turning them 90° clockwise. ffmpeg 5.1 has no -display_rotation,
		// ignores "-metadata:s:v rotate" when it encodes, and on a stream
		// copy turns rotate=N into a matrix of N degrees counter-clockwise:
		// rotate=270 writes what a phone writes.
		return path, ffmpeg("-i", Clip(t, "landscape"), "-c", "copy", "-metadata:s:v:0", "rotate=270", path)
	case "subtitled":
		srt := filepath.Join(dir, "subs.srt")
		if err := os.WriteFile(srt, []byte("1\n00:00:00,000 --> 00:00:02,000\nhello\n"), 0o600); err != nil {
			return "", err
		}
		return path, ffmpeg("-i", Clip(t, "landscape"), "-i", srt, "-map", "0", "-map", "1", "-c", "copy", "-c:s", "mov_text", path)
	case "gap", "gap-ts":
		// Two seconds whose second half is stamped an hour later: a gap in
		// the timestamps, which a constant-frame-rate encode fills with an
		// hour of copies. The MPEG-TS header is honest about the hour; the
		// Matroska one gets its Duration element rewritten to two seconds.
		gapped := fmt.Sprintf("setpts='if(gte(T,1),PTS+%d/TB,PTS)'", GapSeconds)
		err := ffmpeg("-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=30:duration=%d", HostileWidth, HostileHeight, HostileSeconds),
			"-vf", gapped, "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path)
		if err != nil || kind == "gap-ts" {
			return path, err
		}
		return path, rewriteMatroskaDuration(path, HostileSeconds*1000)
	case "resize":
		// One second at the stated size, then one at a larger size, as two
		// MPEG-TS files put end to end: the header (the first SPS) states
		// only the first.
		var parts []byte
		for i, size := range [][2]int{{HostileWidth, HostileHeight}, {ResizeWidth, ResizeHeight}} {
			part := filepath.Join(dir, fmt.Sprintf("resize-%d.ts", i))
			if err := ffmpeg("-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=30:duration=1", size[0], size[1]),
				"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-output_ts_offset", fmt.Sprint(i), part); err != nil {
				return "", err
			}
			b, err := os.ReadFile(part)
			if err != nil {
				return "", err
			}
			parts = append(parts, b...)
		}
		return path, os.WriteFile(path, parts, 0o600)
	case "truncated":
		b, err := os.ReadFile(Clip(t, "landscape"))
		if err != nil {
			return "", err
		}
		return path, os.WriteFile(path, b[:len(b)/2], 0o600)
	}
	args, ok := Args[kind]
	if !ok {
		return "", fmt.Errorf("unknown clip kind %q", kind)
	}
	return path, ffmpeg(append(args, path)...)
}

// rewriteMatroskaDuration overwrites the Duration element of the Matroska
// file at path (ID 0x4489, an 8-byte float of milliseconds, as ffmpeg
// writes it) with ms.
func rewriteMatroskaDuration(path string, ms float64) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i := bytes.Index(b, []byte{0x44, 0x89, 0x88})
	if i < 0 {
		return fmt.Errorf("%s has no 8-byte Duration element", path)
	}
	binary.BigEndian.PutUint64(b[i+3:], math.Float64bits(ms))
	return os.WriteFile(path, b, 0o600)
}

// Reference writes at path a file in a container that names another file,
// target: kind "hls" is an HLS playlist, "ffconcat" an ffconcat script.
// ffmpeg reads the named file in its place unless it is told not to.
func Reference(t testing.TB, path, kind, target string) {
	t.Helper()
	var text string
	switch kind {
	case "hls":
		text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:3.0,\n" + target + "\n#EXT-X-ENDLIST\n"
	case "ffconcat":
		text = "ffconcat version 1.0\nfile " + target + "\n"
	default:
		t.Fatalf("unknown reference kind %q", kind)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func ffmpeg(args ...string) error {
	cmd := exec.Command("ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	return nil
}
