package media

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// The preview is an animated, endlessly looping WebP of about 3 s at 12
// fps, the long side at most 320 pixels, cut from the lowest rendition;
// a clip shorter than 3 s gives all of itself.
func TestPreview(t *testing.T) {
	short := filepath.Join(t.TempDir(), "short.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=240x320:rate=30:duration=2",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", short)
	for _, c := range []struct {
		name, src string
		rung      string
		w, h      int
		minFrames int
		maxFrames int
	}{
		{"long", clip(t, "long"), "240p", 320, 180, 35, 37}, // 426x240 made smaller
		{"short-portrait", short, "160p", 160, 214, 23, 25}, // 2 s: all of it, at the rendition's size
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			info, err := Probe(ctx, c.src)
			if err != nil {
				t.Fatal(err)
			}
			out := hlsFixture(t, c.src, info)
			dst := filepath.Join(t.TempDir(), "preview.webp")
			if err := Preview(ctx, filepath.Join(out, c.rung, "index.m3u8"), dst, info); err != nil {
				t.Fatal(err)
			}
			w, h, loops, frames := readAnimatedWebP(t, dst)
			if w != c.w || h != c.h || loops != 0 || frames < c.minFrames || frames > c.maxFrames {
				t.Errorf("preview %dx%d looping %d times with %d frames, want %dx%d looping forever with %d..%d frames",
					w, h, loops, frames, c.w, c.h, c.minFrames, c.maxFrames)
			}
			if fi, err := os.Stat(dst); err != nil || fi.Size() > previewMaxBytes {
				t.Errorf("preview: %v, %d bytes", err, fi.Size())
			}
		})
	}
}

// The preview shows where something happens: a clip that holds a still
// picture for 5 s, then 3 s of motion, gets its preview from the motion.
func TestPreviewWindow(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "still-then-motion.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "color=c=navy:size=320x240:rate=30:duration=5",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=3",
		"-filter_complex", "[1:v]noise=alls=40:allf=t[m];[0:v][m]concat=n=2:v=1[v]", "-map", "[v]",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", src)
	info, err := Probe(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	out := hlsFixture(t, src, info)
	playlist := filepath.Join(out, "160p", "index.m3u8")
	v, err := readVariantPlaylist(playlist)
	if err != nil {
		t.Fatal(err)
	}
	init, err := readInit(filepath.Join(out, "160p", v.init))
	if err != nil {
		t.Fatal(err)
	}
	var samples []sample
	for _, s := range v.segments {
		got, _, err := readSamples(filepath.Join(out, "160p", s), init)
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, got...)
	}
	start, length, err := previewWindow(samples, int64(init.timescale))
	if err != nil {
		t.Fatal(err)
	}
	// Keyframes every 2 s; of the windows that fit in 8 s, the one from
	// 4 s holds 2 s of motion, the one from 2 s none.
	ts := float64(init.timescale)
	if got, l := float64(start)/ts, float64(length)/ts; got != 4 || l != 3 {
		t.Errorf("window from %.3fs for %.3fs, want from 4s for 3s", got, l)
	}
	if err := Preview(context.Background(), playlist, filepath.Join(out, "preview.webp"), info); err != nil {
		t.Fatal(err)
	}
}

// readAnimatedWebP reads the canvas size, loop count and number of frames
// of an animated WebP (RIFF "WEBP" with VP8X, ANIM and ANMF chunks), and
// fails the test if path is anything else.
func readAnimatedWebP(t *testing.T, path string) (w, h, loops, frames int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WEBP" ||
		int(binary.LittleEndian.Uint32(data[4:8])) != len(data)-8 {
		t.Fatalf("%s is not a RIFF WebP file", path)
	}
	loops = -1
	var animated bool
	for rest := data[12:]; len(rest) >= 8; {
		id, size := string(rest[:4]), int(binary.LittleEndian.Uint32(rest[4:8]))
		if 8+size > len(rest) {
			t.Fatalf("%s: chunk %s overruns the file", path, id)
		}
		body := rest[8 : 8+size]
		switch id {
		case "VP8X":
			animated = body[0]&0x02 != 0
			w = 1 + int(body[4]) | int(body[5])<<8 | int(body[6])<<16
			h = 1 + int(body[7]) | int(body[8])<<8 | int(body[9])<<16
		case "ANIM":
			loops = int(binary.LittleEndian.Uint16(body[4:6]))
		case "ANMF":
			frames++
		}
		rest = rest[8+size+size%2:]
	}
	if !animated || loops < 0 {
		t.Fatalf("%s: not an animated WebP (VP8X animation flag %v, ANIM chunk %v)", path, animated, loops >= 0)
	}
	return w, h, loops, frames
}
