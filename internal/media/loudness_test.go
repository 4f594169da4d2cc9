package media

import (
	"context"
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Clips of very different loudness all come out of the ladder's audio
// encode at TargetLUFS within 1 LU, as ffmpeg's own ebur128 meter reads
// them, by a plain gain, not by compressing them: the signals are chosen
// so that the gain keeps their true peak below -1.5 dBTP (past that,
// Filter hands over to loudnorm, see TestLoudnessFilterChoice).
func TestLoudnessNormalised(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, audio string
		around      float64 // the source's own loudness, roughly
	}{
		// Mono, as lavfi makes it: measured and played as stereo.
		{"quiet-sine", "aevalsrc=0.01*sin(2*PI*1000*t):s=48000", -43},
		{"loud-stereo", "aevalsrc=0.95*sin(2*PI*440*t)|0.95*sin(2*PI*550*t):s=48000", -1},
		{"pink-noise", "anoisesrc=color=pink:amplitude=0.1:r=48000:seed=1", -35},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			src := filepath.Join(dir, "src.mp4")
			ffmpeg(t, "-f", "lavfi", "-i", "color=c=gray:s=64x48:r=10:d=4", "-f", "lavfi", "-i", c.audio,
				"-t", "4", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", src)
			info, err := Probe(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			l, err := MeasureLoudness(ctx, src, info)
			if err != nil {
				t.Fatal(err)
			}
			if l == nil || math.Abs(l.I-c.around) > 3 {
				t.Fatalf("measured %+v, want about %v LUFS", l, c.around)
			}
			filter := l.Filter()
			// Each of these has the headroom for a plain gain.
			if !strings.Contains(filter, "volume=") || strings.Contains(filter, "loudnorm") {
				t.Fatalf("Filter() = %q, want a plain gain", filter)
			}
			// What the ladder does: the filter, then stereo 48 kHz AAC.
			out := filepath.Join(dir, "out.m4a")
			runFFmpegLog(t, "-i", src, "-map", "0:a:0", "-af", filter,
				"-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000", out)
			if got := integratedLoudness(t, out); math.Abs(got-TargetLUFS) > 1 {
				t.Errorf("normalised to %.1f LUFS, want %d ± 1 (source %.1f)", got, TargetLUFS, l.I)
			}
		})
	}
}

// Silence stays silence, and a video without audio has nothing to measure.
func TestLoudnessSilenceAndNoAudio(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "silent.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "color=c=gray:s=64x48:r=10:d=2", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo",
		"-t", "2", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", src)
	info, err := Probe(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	l, err := MeasureLoudness(ctx, src, info)
	if err != nil {
		t.Fatal(err)
	}
	if l == nil || l.I > silentLUFS || l.Filter() != "" {
		t.Errorf("silence measured %+v, filter %q: want below %d LUFS and no filter", l, l.Filter(), silentLUFS)
	}
	if f := (*Loudness)(nil).Filter(); f != "" {
		t.Errorf("nil Filter() = %q", f)
	}

	noAudio := clip(t, "noaudio")
	info, err = Probe(ctx, noAudio)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := MeasureLoudness(ctx, noAudio, info); l != nil || err != nil {
		t.Errorf("MeasureLoudness(no audio) = %+v, %v; want nil, nil", l, err)
	}
}

// ebur128's summary is found among whatever else ffmpeg logs, including
// the values it writes for silence, and only the summary's own values are
// taken (the loudness range has a threshold of its own).
func TestLoudnessReport(t *testing.T) {
	var r ebur128Report
	for _, line := range strings.Split(`Input #0, lavfi, from 'anullsrc':
  Duration: N/A, start: 0.000000, bitrate: 768 kb/s
[Parsed_ebur128_1 @ 0x55a0] t: 0.1  TARGET:-23 LUFS  M:-120.7 S:-120.7  I: -70.0 LUFS  LRA: 0.0 LU
size=N/A time=00:00:03.00 bitrate=N/A speed= 174x
[Parsed_ebur128_1 @ 0x55cba013f980] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   -80.0 LUFS

  Loudness range:
    LRA:         0.0 LU
    Threshold:   0.0 LUFS
    LRA low:     0.0 LUFS
    LRA high:    0.0 LUFS

  True peak:
    Peak:       -inf dBFS
[aac @ 0x55] Qavg: 65536.000`, "\n") {
		r.line(line)
	}
	l, err := r.result()
	if err != nil {
		t.Fatal(err)
	}
	if l.I != -70 || l.Thresh != -80 || l.LRA != 0 || !math.IsInf(l.TP, -1) || l.Filter() != "" {
		t.Errorf("read %+v", l)
	}
	var empty ebur128Report
	empty.line("[Parsed_ebur128_0 @ 0x1] Summary:")
	if _, err := empty.result(); err == nil {
		t.Error("a summary without its values was read")
	}
}

// A measurement whose gain keeps the true peak under the limit gets the
// gain alone; one whose peak would pass it gets loudnorm.
func TestLoudnessFilterChoice(t *testing.T) {
	quiet := &Loudness{I: -40, TP: -30, LRA: 1, Thresh: -50}
	if f := quiet.Filter(); !strings.Contains(f, "volume=26.00dB") || strings.Contains(f, "loudnorm") {
		t.Errorf("quiet source: %q, want a plain 26 dB gain", f)
	}
	peaky := &Loudness{I: -30, TP: -3, LRA: 8, Thresh: -40}
	if f := peaky.Filter(); !strings.Contains(f, "loudnorm=") || !strings.Contains(f, "measured_I=-30.00") {
		t.Errorf("peaky source: %q, want loudnorm with the measurement", f)
	}
}

// runFFmpegLog runs ffmpeg at the info log level and returns its log.
func runFFmpegLog(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-nostdin", "-nostats", "-v", "info", "-y"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var ebur128Integrated = regexp.MustCompile(`(?s)Integrated loudness:\s*I:\s*(-?[0-9.]+|-inf) LUFS`)

// integratedLoudness is the integrated loudness of path's audio, from the
// summary ffmpeg's ebur128 filter prints at the end.
func integratedLoudness(t *testing.T, path string) float64 {
	t.Helper()
	log := runFFmpegLog(t, "-i", path, "-map", "0:a:0", "-af", "ebur128", "-f", "null", "-")
	m := ebur128Integrated.FindAllStringSubmatch(log, -1)
	if m == nil {
		t.Fatalf("no ebur128 summary in:\n%s", log)
	}
	v, err := strconv.ParseFloat(m[len(m)-1][1], 64)
	if err != nil {
		t.Fatalf("ebur128 integrated loudness %q", m[len(m)-1][1])
	}
	return v
}
