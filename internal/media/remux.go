package media

import (
	"context"
	"fmt"
	"os"
)

// remuxContainers are the containers whose H.264 and AAC ffmpeg copies into
// MP4 without fixing anything up by hand. AVI is left out: its H.264 often
// lacks usable timestamps.
var remuxContainers = map[string]bool{
	"mov,mp4,m4a,3gp,3g2,mj2": true,
	"matroska,webm":           true,
	"mpegts":                  true,
}

// CanRemux reports whether Remux can turn the probed source into an MP4 that
// every browser and phone plays: 8-bit 4:2:0 H.264 with AAC or no audio.
func CanRemux(info *Info) bool {
	return info.VideoCodec == "h264" &&
		(info.PixFmt == "yuv420p" || info.PixFmt == "yuvj420p") &&
		(!info.HasAudio || info.AudioCodec == "aac") &&
		remuxContainers[info.FormatName]
}

// Remux copies the first video and audio streams of src, without
// re-encoding, into a progressive MP4 at dst with the moov box before the
// media data, so playback starts before the download ends. Rotation is kept
// (players apply it); subtitles, data streams, chapters and metadata such as
// the location phones record are dropped. info is src's Probe result (nil
// probes it).
//
// A copy decodes nothing, so nothing stops a frame size change inside the
// H.264 stream on its way through: the MP4 written is checked afterwards
// (checkVideo), and one that plays longer than src declared or holds a
// frame beyond the limits is an EINVALID error (dst is then removed).
func Remux(ctx context.Context, src, dst string, info *Info) error {
	if info == nil {
		var err error
		if info, err = Probe(ctx, src); err != nil {
			return err
		}
	}
	paths, err := absPaths(src, dst)
	if err != nil {
		return err
	}
	fi, err := os.Stat(paths[0])
	if err != nil {
		return fmt.Errorf("media: remux: %w", err)
	}
	b := boundsFor(info)
	args := ffmpegArgs(inputArgs(b, paths[0])...)
	args = append(args,
		"-map", "0:V:0", "-map", "0:a:0?",
		"-c", "copy",
		"-map_metadata", "-1", "-map_chapters", "-1",
		"-movflags", "+faststart",
	)
	// A copy is never much larger than its source: only the container changes.
	maxBytes := fi.Size() + fi.Size()/8 + 1<<20
	args = append(append(args, outputArgs(b, maxBytes)...), "-f", "mp4", paths[1])
	if err := bounded(ctx, b, "", nil, dirsOf(paths...), "ffmpeg", args...); err != nil {
		return err
	}
	if err := checkVideo(ctx, b, paths[1], maxBytes); err != nil {
		os.Remove(paths[1])
		return err
	}
	return nil
}
