package media

import "context"

// remuxContainers are the containers whose H.264 and AAC ffmpeg copies into
// MP4 without fixing anything up by hand. AVI is left out: its H.264 often
// lacks usable timestamps.
var remuxContainers = map[string]bool{
	"mov,mp4,m4a,3gp,3g2,mj2": true,
	"matroska,webm":           true,
	"mpegts":                  true,
	"flv":                     true,
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
// the location phones record are dropped.
func Remux(ctx context.Context, src, dst string) error {
	paths, err := absPaths(src, dst)
	if err != nil {
		return err
	}
	args := ffmpegArgs(
		"-i", paths[0],
		"-map", "0:V:0", "-map", "0:a:0?",
		"-c", "copy",
		"-map_metadata", "-1", "-map_chapters", "-1",
		"-movflags", "+faststart",
		"-f", "mp4", paths[1],
	)
	return run(ctx, "", nil, dirsOf(paths...), "ffmpeg", args...)
}
