package media

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// An animated preview: a few seconds of the video, small, silent and
// looping, for grids of videos (what PeerTube, Mux and others show on
// hover). It is cut from the lowest rendition of the ladder, already
// decoded and encoded once, so making it decodes a few seconds of a small
// rendition instead of the source.
const (
	previewSeconds = 3
	previewFPS     = 12
	previewLong    = 320 // pixels on the long side, at most
	// previewSkip: the first second of a clip is often a fade in or a
	// title; a clip long enough to have its window elsewhere skips it.
	previewSkip     = time.Second
	previewMaxBytes = 4 << 20
)

// Preview writes an animated WebP of the most representative seconds of
// a video to dst: about 3 s (the whole video when shorter) at 12 frames a
// second, the rendition's size with the long side at most 320 pixels,
// looping forever, no audio.
// playlist is the local path of the lowest rendition's HLS playlist (as
// Ladder writes it: an init segment and CMAF segments beside it), info the
// source's Probe result, whose limits bound the run.
//
// The window is the one with the most bytes per second in that rendition:
// under the ladder's rate control an encoder spends its bits where the
// picture changes and has detail, so the densest seconds are those with
// the most to see, and a static title card or a black stretch is passed
// over. Windows start at keyframes (every 2 s in the ladder), so every
// window holds the same number of the large keyframes and none is favoured
// for it, and ffmpeg decodes nothing before the window.
func Preview(ctx context.Context, playlist, dst string, info *Info) error {
	if info == nil {
		return errors.New("media: preview: no Probe result for the source")
	}
	paths, err := absPaths(playlist, dst)
	if err != nil {
		return err
	}
	playlist, dst = paths[0], paths[1]
	dir := filepath.Dir(playlist)
	v, err := readVariantPlaylist(playlist)
	if err != nil {
		return err
	}
	init, err := readInit(filepath.Join(dir, v.init))
	if err != nil {
		return err
	}
	var segments [][]sample
	for _, s := range v.segments {
		samples, _, err := readSamples(filepath.Join(dir, s), init)
		if err != nil {
			return err
		}
		segments = append(segments, samples)
	}
	start, length, err := previewWindow(slices.Concat(segments...), int64(init.timescale))
	if err != nil {
		return err
	}

	// The window's segments, after the init segment, make a fragmented MP4
	// that ffmpeg reads like any upload (the same container whitelist, no
	// playlist demuxer).
	first, last := -1, -1
	for i, samples := range segments {
		if len(samples) > 0 && samples[0].pts() < start+length && segmentEnd(samples) > start {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return errors.New("media: preview: no segment holds the chosen window")
	}
	// The joined file goes beside dst, in the job's scratch directory
	// rather than the shared temporary one: should the process die, it
	// goes with the scratch. It is under no directory the job stores.
	src, err := os.CreateTemp(filepath.Dir(dst), ".preview-*.mp4")
	if err != nil {
		return fmt.Errorf("media: preview: %w", err)
	}
	defer os.Remove(src.Name())
	err = concatFiles(src, filepath.Join(dir, v.init), v.segments[first:last+1], dir)
	if cerr := src.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("media: preview: %w", cerr)
	}
	if err != nil {
		return err
	}

	// ffmpeg starts the file's timeline at its first frame.
	ts := float64(init.timescale)
	offset := float64(start-segmentStart(segments[first])) / ts
	seconds := float64(length) / ts
	// The rendition's own size, never scaled up.
	w, h := init.width, init.height
	if w <= 0 || h <= 0 {
		w, h = info.Width, info.Height
	}
	w, h = fitEven(w, h, previewLong)
	b := boundsFor(info)
	out := b
	out.duration = min(b.duration, time.Duration(seconds*float64(time.Second))+time.Second)
	args := ffmpegArgs(inputArgs(b, src.Name())...)
	args = append(args, "-filter_complex",
		fmt.Sprintf("[0:V:0]trim=start=%.3f:duration=%.3f,setpts=PTS-STARTPTS,fps=%d,scale=%d:%d:flags=lanczos,setsar=1[p]",
			offset, seconds, previewFPS, w, h),
		"-map", "[p]", "-an", "-c:v", "libwebp_anim", "-quality", "60", "-compression_level", "4",
		"-frames:v", fmt.Sprint(int(seconds*previewFPS)+1), "-loop", "0")
	args = append(append(args, outputArgs(out, previewMaxBytes)...), "-f", "webp", dst)
	if err := bounded(ctx, b, "", nil, dirsOf(src.Name(), dst, playlist), "ffmpeg", args...); err != nil {
		os.Remove(dst)
		return err
	}
	return nil
}

// previewWindow picks the preview's window over samples (in decode order,
// times in timescale units): its start and length. See Preview for why.
func previewWindow(samples []sample, timescale int64) (start, length int64, err error) {
	if len(samples) == 0 || timescale <= 0 {
		return 0, 0, errors.New("media: preview: the rendition has no samples")
	}
	byTime := slices.Clone(samples)
	slices.SortStableFunc(byTime, func(a, b sample) int { return cmp.Compare(a.pts(), b.pts()) })
	first, end := byTime[0].pts(), segmentEnd(samples)
	length = min(previewSeconds*timescale, end-first)
	skip := int64(previewSkip.Seconds() * float64(timescale))

	var candidates []int // indexes into byTime of keyframes whose window fits
	for i, s := range byTime {
		if s.sync && s.pts()+length <= end {
			candidates = append(candidates, i)
		}
	}
	if late := slices.DeleteFunc(slices.Clone(candidates), func(i int) bool { return byTime[i].pts()-first < skip }); len(late) > 0 && end-first >= length+skip {
		candidates = late
	}
	if len(candidates) == 0 {
		return first, length, nil
	}
	best, bestBytes := candidates[0], int64(-1)
	for _, c := range candidates {
		var bytes int64
		for _, s := range byTime[c:] {
			if s.pts() >= byTime[c].pts()+length {
				break
			}
			bytes += int64(s.size)
		}
		if bytes > bestBytes {
			best, bestBytes = c, bytes
		}
	}
	return byTime[best].pts(), length, nil
}

// segmentStart is the earliest presentation time of samples, segmentEnd
// the time after the last of them.
func segmentStart(samples []sample) int64 {
	start := samples[0].pts()
	for _, s := range samples {
		start = min(start, s.pts())
	}
	return start
}

func segmentEnd(samples []sample) int64 {
	var end int64
	for _, s := range samples {
		end = max(end, s.pts()+int64(s.duration))
	}
	return end
}

// concatFiles writes the file named first, then each of names (in dir), to w.
func concatFiles(w io.Writer, first string, names []string, dir string) error {
	for _, name := range append([]string{first}, names...) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("media: preview: %w", err)
		}
		_, err = io.Copy(w, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("media: preview: %w", err)
		}
	}
	return nil
}
