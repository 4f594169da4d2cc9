package media

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
)

// Loudness normalisation (EBU R128). Swiping through a feed should not
// jump in volume, so every clip's audio is brought to one integrated
// loudness, as short-video apps do, in two passes: MeasureLoudness reads
// the source's loudness once (an audio-only decode through ffmpeg's ebur128
// scanner, about twice as fast as loudnorm's own first pass, which
// oversamples to 192 kHz: the measurement delays the ladder's start), and
// the ladder applies Filter while it encodes. Filter is a plain linear
// gain when the true peak allows it, which keeps the clip's dynamics
// untouched and costs nothing; when the gain would push the true peak past
// targetTP, loudnorm with the measured values takes over, in its dynamic
// mode, which compresses the loud moments to reach the target anyway.

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

// Loudness is an EBU R128 measurement of a source's audio, as ebur128
// reports it: integrated loudness I (LUFS), true peak TP (dBTP), loudness
// range LRA (LU) and the relative gating threshold Thresh (LUFS).
type Loudness struct{ I, TP, LRA, Thresh float64 }

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
	// ebur128 prints its summary at the info level only.
	args := ffmpegArgs("-loglevel", "info")
	args = append(args, inputArgs(b, src)...)
	args = append(args, "-map", "0:a:0", "-vn", "-sn", "-dn",
		"-af", loudnormStereo+"ebur128=peak=true")
	args = append(append(args, outputArgs(b, 0)...), "-f", "null", "-")
	var report ebur128Report
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
// to TargetLUFS: the gain itself when the true peak stays under targetTP,
// else loudnorm's second pass with the measured values, then back to
// 48 kHz (loudnorm works, and outputs, at 192 kHz to see true peaks). It is "" for a nil measurement and for a (near) silent source,
// whose silence is left alone.
func (l *Loudness) Filter() string {
	if l == nil || !(l.I >= silentLUFS) { // also NaN and -Inf
		return ""
	}
	for _, v := range []float64{l.TP, l.LRA, l.Thresh} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
	}
	// loudnorm refuses measured values outside these ranges (a clipped
	// square wave can measure above 0 LUFS), and takes a measured range of
	// exactly 0 for "not measured" and then leaves linear mode: a steady
	// tone, or a clip shorter than the 3 s loudness range window, measures
	// 0. The gain depends on I and TP alone, so 0.01 LU changes nothing else.
	if gain := TargetLUFS - l.I; l.TP+gain <= targetTP {
		return fmt.Sprintf("%svolume=%.2fdB", loudnormStereo, gain)
	}
	clamp := func(v, lo, hi float64) float64 { return math.Min(hi, math.Max(lo, v)) }
	return fmt.Sprintf("%sloudnorm=I=%d:TP=%g:LRA=%d:measured_I=%.2f:measured_TP=%.2f:measured_LRA=%.2f:measured_thresh=%.2f:linear=true,aresample=48000",
		loudnormStereo, TargetLUFS, targetTP, targetLRA,
		clamp(l.I, -99, 0), clamp(l.TP, -99, 99), clamp(l.LRA, 0.01, 99), clamp(l.Thresh, -99, 0))
}

// ebur128Report collects the summary ebur128 prints at the end of its run:
//
//	[Parsed_ebur128_1 @ 0x...] Summary:
//	  Integrated loudness:
//	    I:         -21.8 LUFS
//	    Threshold: -31.8 LUFS
//	  Loudness range:
//	    LRA:         0.0 LU
//	    ...
//	  True peak:
//	    Peak:      -16.1 dBFS
//
// Anything else ffmpeg logs around it is ignored. A silent source reports
// "-inf" or -70 (the absolute gate), which Filter leaves alone.
type ebur128Report struct {
	mu      sync.Mutex
	section string // the summary's current heading; "" before the summary
	l       Loudness
	seen    map[string]bool
}

func (r *ebur128Report) line(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	line = strings.TrimSpace(line)
	if strings.Contains(line, "Parsed_ebur128") && strings.HasSuffix(line, "Summary:") {
		r.section, r.seen = "summary", map[string]bool{}
		return
	}
	if r.section == "" {
		return
	}
	if strings.HasSuffix(line, ":") {
		r.section = strings.TrimSuffix(line, ":")
		return
	}
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return
	}
	fields := strings.Fields(value)
	if len(fields) == 0 {
		return
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return
	}
	var into *float64
	switch key := r.section + "/" + name; key {
	case "Integrated loudness/I":
		into = &r.l.I
	case "Integrated loudness/Threshold":
		into = &r.l.Thresh
	case "Loudness range/LRA":
		into = &r.l.LRA
	case "True peak/Peak":
		into = &r.l.TP
	default:
		return
	}
	*into = v
	r.seen[r.section+"/"+name] = true
}

func (r *ebur128Report) result() (*Loudness, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range []string{"Integrated loudness/I", "Integrated loudness/Threshold", "Loudness range/LRA", "True peak/Peak"} {
		if !r.seen[k] {
			return nil, fmt.Errorf("media: loudness: ffmpeg's ebur128 summary has no %s", k)
		}
	}
	l := r.l
	return &l, nil
}
