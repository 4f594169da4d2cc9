package media

import (
	"context"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestCover(t *testing.T) {
	for _, c := range goodClips {
		t.Run(c.kind, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			jpgPath, webpPath := filepath.Join(dir, "cover.jpg"), filepath.Join(dir, "cover.webp")
			if err := Cover(context.Background(), clip(t, c.kind), nil, jpgPath, webpPath); err != nil {
				t.Fatal(err)
			}

			img := decodeJPEG(t, jpgPath)
			w, h := img.Bounds().Dx(), img.Bounds().Dy()
			wantAspect(t, "JPEG", w, h, c.width, c.height)
			if luma := meanLuma(img); luma < 40 {
				t.Errorf("JPEG cover is nearly black (mean luma %.0f): not a representative frame", luma)
			}

			s := streams(t, webpPath)
			if len(s) != 1 || s[0].CodecName != "webp" {
				t.Fatalf("WebP cover streams: %+v", s)
			}
			if s[0].Width != w || s[0].Height != h {
				t.Errorf("WebP %dx%d, JPEG %dx%d: want the same size", s[0].Width, s[0].Height, w, h)
			}
			decodes(t, webpPath)
		})
	}
}

// A large source gets a cover no longer than 1280 on its long side.
func TestCoverSize(t *testing.T) {
	for _, tt := range []struct{ w, h, wantW, wantH int }{
		{3840, 2160, 1280, 720},
		{1080, 1920, 720, 1280},
		{640, 360, 640, 360},
		{321, 241, 322, 242},
		{853, 480, 854, 480},
	} {
		if w, h := fitEven(tt.w, tt.h, coverLong); w != tt.wantW || h != tt.wantH {
			t.Errorf("fitEven(%d, %d) = %dx%d, want %dx%d", tt.w, tt.h, w, h, tt.wantW, tt.wantH)
		}
	}
}

func decodeJPEG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatalf("decoding %s: %v", filepath.Base(path), err)
	}
	return img
}

// wantAspect checks that w x h shows the same shape as the display size,
// to within the rounding to even sizes.
func wantAspect(t *testing.T, what string, w, h, displayW, displayH int) {
	t.Helper()
	if (w > h) != (displayW > displayH) {
		t.Errorf("%s is %dx%d, but the video shows %dx%d", what, w, h, displayW, displayH)
	}
	got, want := float64(w)/float64(h), float64(displayW)/float64(displayH)
	if math.Abs(got-want)/want > 0.01 {
		t.Errorf("%s is %dx%d (aspect %.3f), want the video's aspect %.3f", what, w, h, got, want)
	}
}

func meanLuma(img image.Image) float64 {
	b := img.Bounds()
	var sum float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			sum += (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
		}
	}
	return sum / float64(b.Dx()*b.Dy())
}
