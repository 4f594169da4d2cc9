package media

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
)

// Loudness normalisation (EBU R128). Swiping through a feed should not
// jump in volume, so every clip's audio is brought to one integrated
// loudness, as short-video apps do, in two passes of ffmpeg's loudnorm:
// MeasureLoudness reads the source's loudness once (an audio-only decode),
// and the ladder applies Filter, a linear gain computed from that
// measurement, while it encodes. A linear gain keeps the clip's dynamics
// untouched, but it cannot raise a clip whose true peak would then pass
// TargetTP: loudnorm then falls back to its dynamic mode, which compresses
// the loud moments to reach the target anyway.

// TargetLUFS is the integrated loudness every clip is brought to: what
// the major short-video and streaming apps play at.
const TargetLUFS = -14

const (
	// targetTP is the highest true peak allowed after the gain, in dBTP:
	// headroom for the AAC encode, which overshoots peaks a little.
	targetTP = -1.5
	// targetLRA is the loudness range loudnorm may leave as it is, in LU.
	targetLRA = 11
	// silentLUFS: below this integrated loudness the source is taken as
	// silence (or room noise) and left alone, not amplified into hiss.
	silentLUFS = -60
)

// Loudness is an EBU R128 measurement of a source's audio, as loudnorm's
// first pass reports it: integrated loudness I (LUFS), true peak TP
// (dBTP), loudness range LRA (LU), the gating threshold Thresh (LUFS) and
// the Offset loudnorm would add after its gain (LU).
type Loudness struct{ I, TP, LRA, Thresh, Offset float64 }

// MeasureLoudness measures the loudness of src's first audio track, as
// the ladder hears it (downmixed or upmixed to stereo, since that is what
// it encodes: a mono track played on two channels is 3 LU louder than
// measured alone). info is src's Probe result; without audio it returns
// nil, nil. The run is bounded like every other: only the audio is
// decoded, and for no longer than the source may play.
func MeasureLoudness(ctx context.Context, src string, info *Info) (*Loudness, error) {
	if info == nil || !info.HasAudio {
		return nil, nil
	}
	src, err := absPath(src)
	if err != nil {
		return nil, err
	}
	b := boundsFor(info)
	// loudnorm prints its measurement at the info level only.
	args := ffmpegArgs("-loglevel", "info")
	args = append(args, inputArgs(b, src)...)
	args = append(args, "-map", "0:a:0", "-vn", "-sn", "-dn",
		"-af", loudnormStereo+fmt.Sprintf("loudnorm=I=%d:TP=%g:LRA=%d:print_format=json", TargetLUFS, targetTP, targetLRA))
	args = append(append(args, outputArgs(b, 0)...), "-f", "null", "-")
	var report loudnormReport
	if err := boundedLog(ctx, b, "", nil, report.line, dirsOf(src), "ffmpeg", args...); err != nil {
		return nil, err
	}
	return report.result()
}

// loudnormStereo starts both passes: the measurement and the gain apply to
// the stereo signal the ladder encodes (-ac 2 would convert after the
// filter, unmeasured).
const loudnormStereo = "aformat=channel_layouts=stereo,"

// Filter is the ffmpeg audio filter chain that brings the measured source
// to TargetLUFS: loudnorm's second pass, linear, with the measured values,
// then back to 48 kHz (loudnorm works, and outputs, at 192 kHz to see true
// peaks). It is "" for a nil measurement and for a (near) silent source,
// whose silence is left alone.
func (l *Loudness) Filter() string {
	if l == nil || !(l.I >= silentLUFS) { // also NaN and -Inf
		return ""
	}
	for _, v := range []float64{l.TP, l.LRA, l.Thresh, l.Offset} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
	}
	// loudnorm refuses measured values outside these ranges (a clipped
	// square wave can measure above 0 LUFS), and takes a measured range of
	// exactly 0 for "not measured" and then leaves linear mode: a steady
	// tone, or a clip shorter than the 3 s loudness range window, measures
	// 0. The gain depends on I and TP alone, so 0.01 LU changes nothing else.
	clamp := func(v, lo, hi float64) float64 { return math.Min(hi, math.Max(lo, v)) }
	return fmt.Sprintf("%sloudnorm=I=%d:TP=%g:LRA=%d:measured_I=%.2f:measured_TP=%.2f:measured_LRA=%.2f:measured_thresh=%.2f:offset=%.2f:linear=true,aresample=48000",
		loudnormStereo, TargetLUFS, targetTP, targetLRA,
		clamp(l.I, -99, 0), clamp(l.TP, -99, 99), clamp(l.LRA, 0.01, 99), clamp(l.Thresh, -99, 0), clamp(l.Offset, -99, 99))
}

// loudnormReport collects the JSON object loudnorm prints at the end of
// its run: a "[Parsed_loudnorm_0 @ 0x...]" line, then the object over
// several lines. Anything else ffmpeg logs around it is ignored.
type loudnormReport struct {
	mu      sync.Mutex
	inside  bool
	started bool
	text    strings.Builder
	done    bool
}

func (r *loudnormReport) line(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	line = strings.TrimSpace(line)
	switch {
	case r.done:
	case strings.Contains(line, "Parsed_loudnorm"):
		r.inside, r.started = true, false
		r.text.Reset()
		// The object may start on the marker's own line.
		if i := strings.IndexByte(line, '{'); i >= 0 {
			r.add(line[i:])
		}
	case r.inside:
		r.add(line)
	}
}

func (r *loudnormReport) add(line string) {
	if !r.started {
		if !strings.HasPrefix(line, "{") {
			return
		}
		r.started = true
	}
	if r.text.Len() < 4096 { // the object is a dozen short lines
		r.text.WriteString(line)
		r.text.WriteByte('\n')
	}
	if strings.HasSuffix(line, "}") {
		r.inside, r.done = false, true
	}
}

func (r *loudnormReport) result() (*Loudness, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		return nil, fmt.Errorf("media: loudness: ffmpeg's loudnorm printed no measurement")
	}
	// Every value is a string, and may be "-inf" (silence) or "inf".
	var raw struct {
		I      string `json:"input_i"`
		TP     string `json:"input_tp"`
		LRA    string `json:"input_lra"`
		Thresh string `json:"input_thresh"`
		Offset string `json:"target_offset"`
	}
	if err := json.Unmarshal([]byte(r.text.String()), &raw); err != nil {
		return nil, fmt.Errorf("media: loudness: reading loudnorm's measurement: %w", err)
	}
	var l Loudness
	for _, f := range []struct {
		name string
		s    string
		v    *float64
	}{{"input_i", raw.I, &l.I}, {"input_tp", raw.TP, &l.TP}, {"input_lra", raw.LRA, &l.LRA},
		{"input_thresh", raw.Thresh, &l.Thresh}, {"target_offset", raw.Offset, &l.Offset}} {
		v, err := strconv.ParseFloat(strings.TrimSpace(f.s), 64)
		if err != nil {
			return nil, fmt.Errorf("media: loudness: loudnorm's %s is %q", f.name, f.s)
		}
		*f.v = v
	}
	return &l, nil
}
