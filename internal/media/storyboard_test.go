package media

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The plan of a storyboard: a thumbnail every second up to 100 seconds,
// then every few whole seconds so that there are at most 100; thumbnails
// 160 pixels on their long side at the display aspect ratio; a sheet no
// larger than its thumbnails need, 10x10 at most.
func TestPlanStoryboard(t *testing.T) {
	for _, tt := range []struct {
		w, h         int
		ms           int64
		interval     time.Duration
		count        int
		thumb, sheet string // thumbnail size, sheet layout
	}{
		{640, 360, 3000, time.Second, 3, "160x90", "3x1"},
		{640, 360, 3021, time.Second, 4, "160x90", "4x1"},
		{360, 640, 10_000, time.Second, 10, "90x160", "10x1"},
		{640, 360, 15_500, time.Second, 16, "160x90", "10x2"},
		{1920, 1080, 100_000, time.Second, 100, "160x90", "10x10"},
		{1920, 1080, 100_001, 2 * time.Second, 51, "160x90", "10x6"},
		{1920, 1080, 600_000, 6 * time.Second, 100, "160x90", "10x10"},
		{1920, 1080, 3_600_000, 36 * time.Second, 100, "160x90", "10x10"},
		{321, 241, 3000, time.Second, 3, "160x120", "3x1"},
		{64, 48, 500, time.Second, 1, "64x48", "1x1"}, // never upscaled
	} {
		s := planStoryboard(&Info{Width: tt.w, Height: tt.h, DurationMS: tt.ms})
		got := fmt.Sprintf("%v %d %dx%d %dx%d", s.interval, s.count, s.width, s.height, s.columns, s.rows)
		if want := fmt.Sprintf("%v %d %s %s", tt.interval, tt.count, tt.thumb, tt.sheet); got != want {
			t.Errorf("%dx%d %d ms: %s, want %s", tt.w, tt.h, tt.ms, got, want)
		}
		if s.sheets() != 1 {
			t.Errorf("%d ms: %d sheets, want 1", tt.ms, s.sheets())
		}
		cues := parseStoryboard(t, s.vtt())
		checkCues(t, cues, time.Duration(tt.ms)*time.Millisecond, map[string]image.Point{"sprite_000.jpg": {s.columns * s.width, s.rows * s.height}})
	}
}

// A storyboard made with the ladder: cues back to back over the whole
// duration the file states, each naming a sheet that exists and a
// rectangle inside it, showing the video at the cue's start; the sheets
// and the cues agree. The last clip's video stops at 2 s while its audio
// runs to 3.5 s: its last cues show the last frame.
func TestLadderStoryboard(t *testing.T) {
	for _, kind := range []string{"portrait", "long", "short-video"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			src, videoEnd := storyboardClip(t, kind)
			info, err := Probe(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			outDir := t.TempDir()
			res, err := Ladder(ctx, src, outDir, info, LadderOptions{Rungs: []Rung{{240, 300}}, Storyboard: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Storyboard != "storyboard/storyboard.vtt" {
				t.Fatalf("Storyboard = %q", res.Storyboard)
			}
			vtt, err := os.ReadFile(filepath.Join(outDir, res.Storyboard))
			if err != nil {
				t.Fatal(err)
			}
			cues := parseStoryboard(t, vtt)
			dir := filepath.Join(outDir, "storyboard")
			sheets := map[string]image.Image{}
			sizes := map[string]image.Point{}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".jpg") {
					sheets[e.Name()] = decodeJPEG(t, filepath.Join(dir, e.Name()))
					sizes[e.Name()] = sheets[e.Name()].Bounds().Size()
				}
			}
			duration := time.Duration(info.DurationMS) * time.Millisecond
			checkCues(t, cues, duration, sizes)

			// Every thumbnail is 160 on its long side, in the video's shape.
			w, h := cues[0].rect.Dx(), cues[0].rect.Dy()
			if max(w, h) != 160 {
				t.Errorf("thumbnails of %dx%d, want 160 on the long side", w, h)
			}
			wantAspect(t, "a thumbnail", w, h, info.Width, info.Height)
			// Each thumbnail is the frame at its cue's start (the last
			// frame past the video's end): of the frames at every cue's
			// start, that one looks the most like it.
			frames := map[time.Duration][]byte{}
			at := func(start time.Duration) time.Duration { return min(start, videoEnd) }
			for _, c := range cues {
				if _, ok := frames[at(c.start)]; !ok {
					frames[at(c.start)] = sourceFrame(t, src, at(c.start), w, h)
				}
			}
			for i, c := range cues {
				best, bestDiff := time.Duration(-1), math.Inf(1)
				for when, frame := range frames {
					if d := difference(sheets[c.sprite], c.rect, frame); d < bestDiff {
						best, bestDiff = when, d
					}
				}
				if best != at(c.start) {
					t.Errorf("cue %d (%v): its thumbnail looks most like the frame at %v, want %v", i, c.start, best, at(c.start))
				}
			}
		})
	}
}

// storyboardClip is a shared test clip, or "short-video": video for 2 s
// and audio for 3.5 s. It returns the clip and the time of its last frame.
func storyboardClip(t *testing.T, kind string) (string, time.Duration) {
	t.Helper()
	if kind != "short-video" {
		return clip(t, kind), time.Hour
	}
	src := filepath.Join(t.TempDir(), "short-video.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3.5",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", src)
	return src, 1900 * time.Millisecond
}

// cue is one cue of a storyboard: from start to end, the rectangle rect of
// the sheet named sprite.
type cue struct {
	start, end time.Duration
	sprite     string
	rect       image.Rectangle
}

var (
	cueTiming = regexp.MustCompile(`^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)$`)
	cueText   = regexp.MustCompile(`^(sprite_\d\d\d\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)$`)
)

// parseStoryboard reads a storyboard's WebVTT file, failing the test on
// anything that is not a timing line followed by a sprite reference.
func parseStoryboard(t *testing.T, vtt []byte) []cue {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(vtt))
	if !sc.Scan() || sc.Text() != "WEBVTT" {
		t.Fatalf("the storyboard does not start with WEBVTT:\n%s", vtt)
	}
	var cues []cue
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		m := cueTiming.FindStringSubmatch(line)
		if m == nil || !sc.Scan() {
			t.Fatalf("storyboard: %q is not a cue timing followed by its text", line)
		}
		n := make([]int, 9)
		for i := 1; i <= 8; i++ {
			n[i], _ = strconv.Atoi(m[i])
		}
		ts := func(h, m, s, ms int) time.Duration {
			return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(ms)*time.Millisecond
		}
		text := cueText.FindStringSubmatch(sc.Text())
		if text == nil {
			t.Fatalf("storyboard: cue text %q is not sprite_NNN.jpg#xywh=x,y,w,h", sc.Text())
		}
		x, _ := strconv.Atoi(text[2])
		y, _ := strconv.Atoi(text[3])
		w, _ := strconv.Atoi(text[4])
		h, _ := strconv.Atoi(text[5])
		cues = append(cues, cue{start: ts(n[1], n[2], n[3], n[4]), end: ts(n[5], n[6], n[7], n[8]),
			sprite: text[1], rect: image.Rect(x, y, x+w, y+h)})
	}
	return cues
}

// checkCues checks that cues run back to back from 0 to duration, at most
// 100 of them, each lasting the same whole number of seconds (the last
// one may be shorter), each inside a sheet of sizes; and that every sheet
// is named by a cue.
func checkCues(t *testing.T, cues []cue, duration time.Duration, sizes map[string]image.Point) {
	t.Helper()
	if len(cues) == 0 || len(cues) > 100 {
		t.Fatalf("%d cues, want 1 to 100", len(cues))
	}
	interval := time.Second // what a single cue, shorter, may last at most
	if len(cues) > 1 {
		interval = cues[0].end - cues[0].start
	}
	if interval < time.Second || interval%time.Second != 0 {
		t.Errorf("cues last %v, want a whole number of seconds, at least one", interval)
	}
	named := map[string]bool{}
	var at time.Duration
	for i, c := range cues {
		last := i == len(cues)-1
		if c.start != at || c.end <= c.start || (!last && c.end-c.start != interval) || (last && c.end-c.start > interval) {
			t.Errorf("cue %d runs %v to %v, want from %v for %v", i, c.start, c.end, at, interval)
		}
		at = c.end
		size, ok := sizes[c.sprite]
		if !ok {
			t.Errorf("cue %d names %s, which does not exist", i, c.sprite)
		} else if c.rect.Empty() || !c.rect.In(image.Rectangle{Max: size}) {
			t.Errorf("cue %d: %v is not inside %s (%v)", i, c.rect, c.sprite, size)
		}
		named[c.sprite] = true
	}
	if at != duration {
		t.Errorf("the cues end at %v, want the duration %v", at, duration)
	}
	for name := range sizes {
		if !named[name] {
			t.Errorf("no cue names %s", name)
		}
	}
}

// sourceFrame is the frame of src at (or just after) at, upright and scaled
// to w x h, as RGB bytes.
func sourceFrame(t *testing.T, src string, at time.Duration, w, h int) []byte {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-ss", fmt.Sprintf("%.3f", at.Seconds()), "-i", src,
		"-frames:v", "1", "-vf", fmt.Sprintf("scale=%d:%d", w, h), "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil || len(out) != w*h*3 {
		t.Fatalf("frame of %s at %v: %v (%d bytes)", filepath.Base(src), at, err, len(out))
	}
	return out
}

// difference is the mean absolute difference of the pixels of img in rect
// and an RGB frame of rect's size.
func difference(img image.Image, rect image.Rectangle, frame []byte) float64 {
	var sum float64
	i := 0
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			for _, c := range []uint32{r >> 8, g >> 8, b >> 8} {
				sum += math.Abs(float64(c) - float64(frame[i]))
				i++
			}
		}
	}
	return sum / float64(len(frame))
}
