package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reel-video/reel"
)

// Containers lie: a header may state 3 seconds over timestamps that run for
// hours, or a small frame size before frames far larger; a playlist or a
// concat script names other files for ffmpeg to read. So no ffmpeg or
// ffprobe run trusts the header. Every run starts with inputArgs (what it
// may open, and the largest frame it may decode), and every output of every
// run gets outputArgs (how long and how large it may grow); both come from
// one bounds value. What comes out is then checked against the same bounds
// (checkDuration, checkFrame), so a file whose header lied fails with a
// reason instead of costing hours of encoding or a stored file beyond the
// limits.

// containers are the demuxers ffmpeg may use on an upload, by demuxer name,
// with the format_name ffprobe reports for each. It is an allow-list
// (ffmpeg's -format_whitelist) because some demuxers open other files named
// inside the input (hls, concat, dash, imf, the image sequence demuxer...):
// an upload that is really such a playlist would make ffmpeg read the
// server's own files into a video. -protocol_whitelist file alone does not
// stop that (ffmpeg 5.1's hls and concat demuxers read a named local file
// through the file protocol, and their errors differ when it is missing);
// the format whitelist refuses them right after detection, before they
// read anything they name. Phones write MP4/MOV/3GP, browsers'
// MediaRecorder writes WebM (Chrome, Firefox) or MP4 (Safari); MPEG-TS is
// what camcorders (.mts, .m2ts) and screen recorders write, AVI what older
// cameras do. None of these demuxers opens another file as reel runs them
// (the MOV demuxer follows external data references only when its
// enable_drefs option is set, and reel never sets it).
var containers = map[string]string{
	"mov":      "mov,mp4,m4a,3gp,3g2,mj2",
	"matroska": "matroska,webm",
	"mpegts":   "mpegts",
	"avi":      "avi",
}

// formatWhitelist is containers as ffmpeg's -format_whitelist.
var formatWhitelist = strings.Join(slices.Sorted(maps.Keys(containers)), ",")

// acceptedFormat reports whether ffprobe's format_name is one of containers.
func acceptedFormat(formatName string) bool {
	for _, name := range containers {
		if name == formatName {
			return true
		}
	}
	return false
}

// probeMaxPixels bounds the frames Probe decodes (ffprobe decodes a few to
// learn the stream's parameters) before any limit is known: 8192x8192, far
// above any REEL_MAX_PIXELS a short-video service sets, and still a bounded
// amount of memory. The size a header states is reported whatever it is, so
// Limits.Check still sees, and refuses, a larger one.
const probeMaxPixels = 8192 * 8192

// decoderPadding is what decoders add to a frame's sides before checking it
// against -max_pixels: they allocate widths rounded up to their alignment
// (up to 64), so a 160x120 frame is checked as 192x120.
const decoderPadding = 64

// bounds are what one ffmpeg or ffprobe run may decode and write.
type bounds struct {
	limits    Limits
	maxPixels int64 // the largest frame a decoder may allocate (-max_pixels)
	// declared is the duration the source states (its Probe result), and
	// duration the longest output a run may write (-t): declared plus
	// durationSlack, never beyond limits.MaxDuration.
	declared, duration time.Duration
}

// boundsFor are the bounds of every run over a source Probe described as
// info: its limits are those info passed Limits.Check with (DefaultLimits
// when it was never checked).
func boundsFor(info *Info) bounds {
	l := DefaultLimits
	if info.checked != nil {
		l = *info.checked
	}
	declared := time.Duration(info.DurationMS) * time.Millisecond
	duration := declared + durationSlack(declared)
	if l.MaxDuration > 0 {
		duration = min(duration, l.MaxDuration)
	}
	return bounds{limits: l, maxPixels: l.maxPixels(), declared: declared, duration: duration}
}

// probeBounds are the bounds of Probe's own runs: it writes nothing, and no
// limit is known yet.
var probeBounds = bounds{maxPixels: probeMaxPixels}

// durationSlack is how much longer than its stated duration a source may
// play: containers round, and an audio track may outlast the video by a
// frame or two. Past half of it, the file is taken to lie.
func durationSlack(declared time.Duration) time.Duration {
	return 2*time.Second + declared/50
}

// maxPixels is the -max_pixels that lets through every frame within l,
// whichever way it is turned, with the decoders' padding.
func (l Limits) maxPixels() int64 {
	if l.MaxLong <= 0 || l.MaxShort <= 0 {
		return probeMaxPixels
	}
	return int64(l.MaxLong+decoderPadding) * int64(l.MaxShort+decoderPadding)
}

// inputArgs open src, an absolute path, as the only input of a run: only
// the file protocol (no network, no pipes), only the containers reel
// accepts (so no playlist or concat script can name another file), and no
// decoded frame above the pixel bound. ffmpeg and ffprobe both take them.
func inputArgs(b bounds, src string) []string {
	return sourceArgs(b, "file", nil, src)
}

// urlProtocols are what ffmpeg 5.1 opens to read an http(s) URL: http and
// https themselves, tcp beneath both and tls beneath https. Nothing else:
// not file, so that a redirect cannot make ffmpeg read the server's files,
// and none of the protocols that nest others (concat, subfile, crypto).
const urlProtocols = "http,https,tcp,tls"

// urlCAFile, when set, is the only authority whose certificates https
// URLs are checked against, instead of the system's: for tests.
var urlCAFile string

// urlReadTimeout bounds how long ffmpeg waits on a URL that stopped
// answering (-rw_timeout, in microseconds): a stalled store fails the probe
// instead of holding its turn.
const urlReadTimeout = 30 * time.Second

func sourceArgs(b bounds, protocols string, extra []string, src string) []string {
	args := append([]string{
		"-protocol_whitelist", protocols,
		"-format_whitelist", formatWhitelist,
		"-max_pixels", strconv.FormatInt(b.maxPixels, 10),
	}, extra...)
	return append(args, "-i", src)
}

// input is what a probe reads: a local file or an http(s) URL.
type input struct {
	src    string
	url    string   // src when it is a URL
	redact []string // directories cut from errors
}

func fileInput(abs string) input { return input{src: abs, redact: dirsOf(abs)} }

func urlInput(rawURL string) (input, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return input{}, errors.New("media: probe: not an http(s) URL")
	}
	return input{src: rawURL, url: rawURL}, nil
}

func (in input) args(b bounds) []string {
	if in.url == "" {
		return inputArgs(b, in.src)
	}
	extra := []string{"-rw_timeout", strconv.FormatInt(urlReadTimeout.Microseconds(), 10)}
	if strings.HasPrefix(in.src, "https:") {
		// ffmpeg's tls protocol checks no certificate unless told to:
		// a presigned URL's credential must go only to the store.
		extra = append(extra, "-tls_verify", "1")
		if urlCAFile != "" {
			extra = append(extra, "-ca_file", urlCAFile)
		}
	}
	return sourceArgs(b, urlProtocols, extra, in.src)
}

// hide cuts the URL out of a tool's stderr: its query is a credential.
func (in input) hide(stderr string) string {
	if in.url == "" {
		return stderr
	}
	stderr = strings.ReplaceAll(stderr, in.url, "the upload")
	if base, _, ok := strings.Cut(in.url, "?"); ok {
		stderr = strings.ReplaceAll(stderr, base, "the upload")
	}
	return stderr
}

// outputArgs bound one output of an ffmpeg run: it stops at b.duration,
// and a file muxer stops writing at maxBytes (the HLS and tee muxers write
// through files of their own, which -fs does not see: Ladder checks their
// sizes afterwards).
func outputArgs(b bounds, maxBytes int64) []string {
	args := []string{"-t", strconv.FormatFloat(b.duration.Seconds(), 'f', 3, 64)}
	if maxBytes > 0 {
		args = append(args, "-fs", strconv.FormatInt(maxBytes, 10))
	}
	return args
}

// checkDuration fails an output that played for got: longer than the
// source declared (beyond half the slack), the source's timestamps lie, and
// longer than the bound, the bound failed.
func (b bounds) checkDuration(got time.Duration) error {
	if got > b.declared+durationSlack(b.declared)/2 {
		return reel.Errorf(reel.EINVALID, "the video plays for more than %s although the file states %s: its timestamps run past its stated duration",
			formatDuration(got.Truncate(100*time.Millisecond)), formatDuration(b.declared.Round(100*time.Millisecond)))
	}
	if got > b.duration+time.Second {
		return reel.Errorf(reel.EINVALID, "the output plays for %s, beyond the %s bound",
			formatDuration(got.Round(100*time.Millisecond)), formatDuration(b.duration.Round(100*time.Millisecond)))
	}
	return nil
}

// checkFrame fails a frame of w x h pixels beyond the limits.
func (b bounds) checkFrame(w, h int) error {
	l := b.limits
	long, short := max(w, h), min(w, h)
	if (l.MaxLong > 0 && long > l.MaxLong) || (l.MaxShort > 0 && short > l.MaxShort) {
		return frameTooLarge(w, h, l)
	}
	return nil
}

func frameTooLarge(w, h int, l Limits) error {
	if l.MaxLong <= 0 || l.MaxShort <= 0 {
		return reel.Errorf(reel.EINVALID, "a frame of %dx%d is too large to decode (the frame size changes mid-stream)", w, h)
	}
	return reel.Errorf(reel.EINVALID, "a frame of %dx%d exceeds %dx%d (the frame size changes mid-stream)", w, h, l.MaxLong, l.MaxShort)
}

// pixelWatch reads a run's stderr for the decoders' complaint that a frame
// is above -max_pixels. The first one ends the run (ffmpeg would go on,
// dropping such frames one by one) and becomes its error: the file has
// frames beyond the limits that its header did not state.
type pixelWatch struct {
	limits Limits
	stop   context.CancelCauseFunc
	mu     sync.Mutex
	err    error
}

var pixelComplaint = regexp.MustCompile(`Picture size (\d+)x(\d+) exceeds specified max pixel count`)

func (p *pixelWatch) line(line string) {
	m := pixelComplaint.FindStringSubmatch(line)
	if m == nil {
		return
	}
	w, _ := strconv.Atoi(m[1])
	h, _ := strconv.Atoi(m[2])
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = frameTooLarge(w, h, p.limits)
		p.stop(p.err)
	}
}

func (p *pixelWatch) result() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// bounded runs tool like run, watching its stderr for frames above the
// pixel bound: such a frame ends the run with an EINVALID error that says
// so, whatever the tool would have done next.
func bounded(ctx context.Context, b bounds, dir string, stdout io.Writer, redact []string, tool string, args ...string) error {
	return boundedLog(ctx, b, dir, stdout, nil, redact, tool, args...)
}

// boundedLog is bounded that also hands each line the tool prints on stderr
// to logLine (when not nil): some filters (loudnorm) report their result
// only in the log.
func boundedLog(ctx context.Context, b bounds, dir string, stdout io.Writer, logLine func(string), redact []string, tool string, args ...string) error {
	if !slices.Contains(args, "-format_whitelist") || !slices.Contains(args, "-max_pixels") {
		// A run whose input did not come from inputArgs: a bug, never run it.
		return fmt.Errorf("media: %s run without input bounds", tool)
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watch := &pixelWatch{limits: b.limits, stop: cancel}
	onLine := watch.line
	if logLine != nil {
		onLine = func(line string) { watch.line(line); logLine(line) }
	}
	err := runWatched(runCtx, dir, stdout, &lineWriter{fn: onLine}, redact, tool, args...)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if werr := watch.result(); werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	return nil
}

// String shows the bounds for logs and test failures.
func (b bounds) String() string {
	return fmt.Sprintf("max_pixels=%d t=%s", b.maxPixels, b.duration)
}

// checkVideo checks a video file a run wrote at path (an absolute path)
// against b: smaller than maxBytes (a file that reached it was cut short by
// -fs), playing no longer than checkDuration allows, and no frame beyond
// the limits. Frame sizes are read from the keyframes, which ffprobe
// decodes on their own: H.264, the only codec Remux copies, can change its
// frame size only at a keyframe (an IDR picture activating a new SPS).
func checkVideo(ctx context.Context, b bounds, path string, maxBytes int64) error {
	if fi, err := os.Stat(path); err != nil {
		return fmt.Errorf("media: checking output: %w", err)
	} else if maxBytes > 0 && fi.Size() >= maxBytes {
		return reel.Errorf(reel.EINVALID, "the output grew to its %d-byte bound", maxBytes)
	}
	var (
		seconds  = -1.0
		frameErr error
	)
	out := &lineWriter{fn: func(line string) {
		fields := strings.Split(strings.TrimSpace(line), ",")
		switch {
		case len(fields) >= 3 && fields[0] == "frame":
			w, errW := strconv.Atoi(fields[1])
			h, errH := strconv.Atoi(fields[2])
			if errW == nil && errH == nil && frameErr == nil {
				frameErr = b.checkFrame(w, h)
			}
		case len(fields) == 2 && fields[0] == "format":
			seconds = parseFloat(fields[1])
		}
	}}
	args := []string{"-v", "error", "-skip_frame", "nokey", "-select_streams", "v:0",
		"-show_entries", "frame=width,height:format=duration", "-of", "csv=p=1"}
	args = append(args, inputArgs(b, path)...)
	if err := bounded(ctx, b, "", out, dirsOf(path), "ffprobe", args...); err != nil {
		return err
	}
	if frameErr != nil {
		return frameErr
	}
	if seconds < 0 {
		return fmt.Errorf("media: checking output: ffprobe reported no duration for %s", filepath.Base(path))
	}
	return b.checkDuration(time.Duration(seconds * float64(time.Second)))
}

// checkInit checks the frame size an HLS rendition's init segment (at
// path) declares: the size the ladder scaled to, w x h, and within the
// limits.
func checkInit(ctx context.Context, b bounds, path string, w, h int) error {
	var got string
	out := &lineWriter{fn: func(line string) {
		if line = strings.TrimSpace(line); line != "" && got == "" {
			got = line
		}
	}}
	args := append([]string{"-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0"}, inputArgs(b, path)...)
	if err := bounded(ctx, b, "", out, dirsOf(path), "ffprobe", args...); err != nil {
		return err
	}
	var gw, gh int
	if _, err := fmt.Sscanf(got, "%d,%d", &gw, &gh); err != nil {
		return fmt.Errorf("media: checking %s: no frame size in %q", filepath.Base(path), got)
	}
	if gw != w || gh != h {
		return fmt.Errorf("media: ladder: a rendition is %dx%d, not the %dx%d it was scaled to", gw, gh, w, h)
	}
	return b.checkFrame(gw, gh)
}
