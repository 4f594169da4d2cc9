package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/reel-video/reel"
)

// A storyboard is what a player shows above its seek bar: thumbnails at a
// regular interval, packed into sprite sheets (one image fetch for many
// thumbnails), and a WebVTT file whose cues say which part of which sheet
// stands for each stretch of time (`sprite_000.jpg#xywh=x,y,w,h`, the
// media-fragment form Plyr, JW Player and Video.js's thumbnail plugins
// read). Ladder makes the thumbnails from a branch of its own decode, so a
// storyboard costs no second decode of the source. ffmpeg writes each
// thumbnail as it comes (a sheet made by ffmpeg's tile filter is one frame
// that waits for all its thumbnails, and ffmpeg's scheduler, which serves
// the output furthest behind, then decodes the whole source for it before
// the other outputs' frames are reaped and progress is reported); finish
// packs them into the sheets.

// Names and sizes of the storyboard under Ladder's outDir.
const (
	storyboardDir   = "storyboard"
	storyboardVTT   = "storyboard.vtt"
	spritePattern   = "sprite_%03d.jpg"
	thumbPattern    = "thumb_%03d.jpg" // ffmpeg's, packed into sheets and removed
	storyboardLabel = "sb"             // the filter graph's output for the sheets

	thumbLong = 160 // the long side of a thumbnail, in pixels
	// maxThumbs bounds the thumbnails: one every second, or fewer over a
	// long video, so that the storyboard stays one small fetch.
	maxThumbs  = 100
	sheetSide  = 10      // thumbnails per row and per column of a sheet, at most
	thumbBytes = 1 << 20 // the bound of one thumbnail's JPEG (one is a few KB)
)

// storyboard is the plan of one: count thumbnails of width x height, one
// per interval from 0, the last one's stretch cut at the duration, laid
// out columns x rows per sheet.
type storyboard struct {
	duration, interval time.Duration
	count              int
	width, height      int
	columns, rows      int
}

// planStoryboard plans the storyboard of a video as info describes it: a
// thumbnail every second, or every few whole seconds so that there are at
// most maxThumbs, each at most thumbLong on its long side at the video's
// display aspect ratio; sheets no larger than the thumbnails need.
func planStoryboard(info *Info) *storyboard {
	duration := max(time.Duration(info.DurationMS)*time.Millisecond, time.Millisecond)
	seconds := max(1, ceilDiv(int64(duration), int64(maxThumbs)*int64(time.Second)))
	interval := time.Duration(seconds) * time.Second
	count := int(ceilDiv(int64(duration), int64(interval)))
	w, h := fitEven(info.Width, info.Height, thumbLong)
	columns := min(count, sheetSide)
	rows := min(sheetSide, int(ceilDiv(int64(count), int64(columns))))
	return &storyboard{duration: duration, interval: interval, count: count, width: w, height: h, columns: columns, rows: rows}
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func (s *storyboard) perSheet() int { return s.columns * s.rows }
func (s *storyboard) sheets() int   { return int(ceilDiv(int64(s.count), int64(s.perSheet()))) }

// filter takes the thumbnails out of the ladder's constant-rate video:
// the frame at (or just before) each multiple of the interval, counted from
// 0 whatever the source's first timestamp (start_time), exactly count of
// them. A video stream that ends before the duration the file states (its
// audio runs longer) has its last frame repeated (tpad) up to the last cue,
// as a player shows it; the repeats cost nothing when the video lasts,
// since trim ends the branch at the last thumbnail.
func (s *storyboard) filter() string {
	return fmt.Sprintf("tpad=stop_mode=clone:stop_duration=%d,fps=fps=1/%d:start_time=0:round=up,trim=end_frame=%d,scale=%d:%d,setsar=1",
		int(time.Duration(s.count)*s.interval/time.Second), int(s.interval/time.Second), s.count, s.width, s.height)
}

// outputArgs write the thumbnails as JPEGs, bounded like every output: no
// more than planned, and no later than the duration bound (finish checks
// their sizes: the image muxer writes files -fs does not see).
func (s *storyboard) outputArgs(b bounds) []string {
	args := []string{"-map", "[" + storyboardLabel + "]", "-c:v", "mjpeg", "-q:v", "3",
		"-fps_mode", "passthrough", "-frames:v", fmt.Sprint(s.count)}
	args = append(args, outputArgs(b, 0)...)
	return append(args, "-f", "image2", "-start_number", "0", path.Join(storyboardDir, thumbPattern))
}

// finish packs the thumbnails ffmpeg wrote under outDir/storyboard into
// the sheets (each thumbnail checked: a JPEG of the planned size, within
// its bound), removes the thumbnails, and writes the WebVTT file beside the
// sheets. It returns the file's path relative to outDir.
func (s *storyboard) finish(outDir string) (string, error) {
	dir := filepath.Join(outDir, storyboardDir)
	for sheet := range s.sheets() {
		img := image.NewRGBA(image.Rect(0, 0, s.columns*s.width, s.rows*s.height))
		for at := range s.perSheet() {
			i := sheet*s.perSheet() + at
			if i >= s.count {
				break
			}
			thumb, err := s.thumb(filepath.Join(dir, fmt.Sprintf(thumbPattern, i)))
			if err != nil {
				return "", err
			}
			x, y := at%s.columns*s.width, at/s.columns*s.height
			draw.Draw(img, image.Rect(x, y, x+s.width, y+s.height), thumb, thumb.Bounds().Min, draw.Src)
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
			return "", fmt.Errorf("media: storyboard: %w", err)
		}
		if err := writeAtomic(filepath.Join(dir, fmt.Sprintf(spritePattern, sheet)), b.Bytes()); err != nil {
			return "", fmt.Errorf("media: storyboard: %w", err)
		}
	}
	// Only the sheets are stored; a thumbnail beyond the plan is an error.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("media: storyboard: %w", err)
	}
	for _, e := range entries {
		if thumbName.MatchString(e.Name()) {
			if n, _ := strconv.Atoi(e.Name()[len("thumb_") : len(e.Name())-len(".jpg")]); n >= s.count {
				return "", fmt.Errorf("media: storyboard: ffmpeg wrote %s beyond the %d planned", e.Name(), s.count)
			}
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return "", fmt.Errorf("media: storyboard: %w", err)
			}
		}
	}
	if err := writeAtomic(filepath.Join(dir, storyboardVTT), s.vtt()); err != nil {
		return "", fmt.Errorf("media: storyboard: %w", err)
	}
	return path.Join(storyboardDir, storyboardVTT), nil
}

var thumbName = regexp.MustCompile(`^thumb_\d{3,}\.jpg$`)

// thumb reads one thumbnail: a JPEG of the planned size within its bound.
func (s *storyboard) thumb(name string) (image.Image, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("media: storyboard: ffmpeg wrote no %s of the %d planned thumbnails", filepath.Base(name), s.count)
	}
	if err != nil {
		return nil, fmt.Errorf("media: storyboard: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("media: storyboard: %w", err)
	} else if fi.Size() >= thumbBytes {
		return nil, reel.Errorf(reel.EINVALID, "a storyboard thumbnail grew to %d bytes, beyond its %d-byte bound", fi.Size(), thumbBytes)
	}
	img, err := jpeg.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("media: storyboard: %s: %w", filepath.Base(name), err)
	}
	if b := img.Bounds(); b.Dx() != s.width || b.Dy() != s.height {
		return nil, fmt.Errorf("media: storyboard: %s is %dx%d, not the planned %dx%d", filepath.Base(name), b.Dx(), b.Dy(), s.width, s.height)
	}
	return img, nil
}

// vtt is the WebVTT file: one cue per thumbnail, back to back from 0 to
// the duration, each naming its sheet and its rectangle in it.
func (s *storyboard) vtt() []byte {
	var b bytes.Buffer
	b.WriteString("WEBVTT\n")
	for i := range s.count {
		start := time.Duration(i) * s.interval
		end := min(start+s.interval, s.duration)
		at := i % s.perSheet()
		x, y := at%s.columns*s.width, at/s.columns*s.height
		fmt.Fprintf(&b, "\n%s --> %s\n%s#xywh=%d,%d,%d,%d\n", vttTime(start), vttTime(end),
			fmt.Sprintf(spritePattern, i/s.perSheet()), x, y, s.width, s.height)
	}
	return b.Bytes()
}

// vttTime formats a WebVTT timestamp, hh:mm:ss.ttt.
func vttTime(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}
