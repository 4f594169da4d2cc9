package media

// STAND-IN, deleted at merge: minimal versions of the functions the ladder
// and extras branches write (PLAN12.md), so that the job compiles and its
// tests run before they land. Nothing here is the real thing.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// AudioRendition stands in for the ladder's demuxed audio rendition.
type AudioRendition struct {
	Playlist                    string
	Bandwidth, AverageBandwidth int
	Codecs                      string
}

// LiveMaster stands in: the master of the live playlists (video rungs only,
// as today's ladder muxes the audio into them).
func LiveMaster(info *Info, rungs []Rung) []byte {
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	rate := outputFrameRate(info.FrameRate)
	for _, e := range planEncodings(info, rate, PlanRungs(info, rungs), false) {
		fmt.Fprintf(&b, "\n#EXT-X-STREAM-INF:BANDWIDTH=%d,RESOLUTION=%dx%d,CODECS=\"%s\"\n%s/live.m3u8\n",
			maxrateKbps(e.VideoKbps)*1000, e.width, e.height, e.level.codecs(info.HasAudio), e.dir)
	}
	return b.Bytes()
}

// Loudness stands in for the EBU R128 measurement.
type Loudness struct{ I, TP, LRA, Thresh, Offset float64 }

// TargetLUFS stands in.
const TargetLUFS = -14

// MeasureLoudness stands in: it measures nothing.
func MeasureLoudness(ctx context.Context, src string, info *Info) (*Loudness, error) { return nil, nil }

// Filter stands in: no filter.
func (l *Loudness) Filter() string { return "" }

// WriteMPD stands in: a placeholder MPD so that the key exists.
func WriteMPD(outDir string, durationMS int64) error {
	return os.WriteFile(filepath.Join(outDir, "manifest.mpd"), []byte("<?xml version=\"1.0\"?>\n<MPD>\n<Period>\n</Period>\n</MPD>\n"), 0o644)
}

// Preview stands in: the first 3 s of the playlist as an animated WebP.
func Preview(ctx context.Context, playlist, dst string, info *Info) error {
	out, err := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", playlist, "-t", "3",
		"-vf", "fps=12,scale=-2:120", "-an", "-loop", "0", "-c:v", "libwebp", "-f", "webp", dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("stand-in preview: %v: %s", err, out)
	}
	return nil
}

// standInStoryboard writes one sprite and a VTT naming it.
func standInStoryboard(ctx context.Context, src, outDir string, durationMS int64) (string, error) {
	dir := filepath.Join(outDir, "storyboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", src, "-frames:v", "1",
		"-vf", "scale=160:-2", filepath.Join(dir, "sprite_000.jpg")).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("stand-in storyboard: %v: %s", err, out)
	}
	end := float64(durationMS) / 1000
	vtt := fmt.Sprintf("WEBVTT\n\n00:00:00.000 --> 00:%02d:%06.3f\nsprite_000.jpg#xywh=0,0,160,90\n", int(end)/60, end-float64(int(end)/60*60))
	return "storyboard/storyboard.vtt", os.WriteFile(filepath.Join(dir, "storyboard.vtt"), []byte(vtt), 0o644)
}
