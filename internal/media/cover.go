package media

import (
	"context"
	"fmt"
)

// coverLong is the longest side of a cover: enough for a full-screen poster
// on a phone, small enough to load in a feed.
const coverLong = 1280

// Cover writes a representative frame of src as a JPEG at jpgPath and a WebP
// at webpPath, upright and at the video's display aspect ratio, the long side
// at most 1280 pixels. info is src's Probe result; nil probes it.
func Cover(ctx context.Context, src string, info *Info, jpgPath, webpPath string) error {
	if info == nil {
		var err error
		if info, err = Probe(ctx, src); err != nil {
			return err
		}
	}
	paths, err := absPaths(src, jpgPath, webpPath)
	if err != nil {
		return err
	}
	src, jpgPath, webpPath = paths[0], paths[1], paths[2]

	b := boundsFor(info)
	w, h := fitEven(info.Width, info.Height, coverLong)
	// The thumbnail filter keeps every frame of its batch in memory, so it
	// sees two frames a second, already scaled down, over the first ten
	// seconds: a 4K source then costs tens of megabytes, not gigabytes, and a
	// fade in from black is passed over.
	graph := fmt.Sprintf("[0:V:0]fps=2,scale=%d:%d,setsar=1,thumbnail=n=20,split=2[jpg][webp]", w, h)
	args := ffmpegArgs(inputArgs(b, src)...)
	args = append(args, "-filter_complex", graph)
	args = append(append(args, "-map", "[jpg]", "-frames:v", "1", "-q:v", "3"), outputArgs(b, coverMaxBytes)...)
	args = append(args, "-f", "mjpeg", jpgPath)
	args = append(append(args, "-map", "[webp]", "-frames:v", "1", "-c:v", "libwebp", "-quality", "80"), outputArgs(b, coverMaxBytes)...)
	args = append(args, "-f", "webp", webpPath)
	return bounded(ctx, b, "", nil, dirsOf(paths...), "ffmpeg", args...)
}

// coverMaxBytes bounds each cover file: a 1280-pixel JPEG or WebP is a few
// hundred kilobytes.
const coverMaxBytes = 8 << 20

// fitEven scales w x h down so that its long side is at most long, keeping
// the aspect ratio, and rounds both sides to even numbers, which yuv420p
// encoders need.
func fitEven(w, h, long int) (int, int) {
	if w <= 0 || h <= 0 {
		return 2, 2
	}
	scale := min(1, float64(long)/float64(max(w, h)))
	return even(float64(w) * scale), even(float64(h) * scale)
}

// even rounds x to the nearest even integer, at least 2.
func even(x float64) int {
	return max(2, 2*int(x/2+0.5))
}

func absPaths(paths ...string) ([]string, error) {
	out := make([]string, len(paths))
	for i, p := range paths {
		abs, err := absPath(p)
		if err != nil {
			return nil, err
		}
		out[i] = abs
	}
	return out, nil
}
